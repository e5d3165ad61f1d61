//! `cargo xtask dist`: the static site in `dist/`.
//!
//! 1. Trunk builds the wasm app (`crates/web-app`, release, offline) and `index.html`,
//!    which becomes the template of every page (its `<head>` carries the hashed script and
//!    stylesheet links under the site's path).
//! 2. The OCR worker's other builds (relaxed SIMD, threads: `workers.rs`), `public/`
//!    copied as-is, and `_headers` (cross-origin isolation, for static hosts that read it).
//! 3. `prerender` (native, release) renders every route with the same components into its
//!    own `index.html` and writes badges, oEmbed JSON, OG images, sitemap.xml and 404.html.

use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};

use crate::{cargo, run, timed};

/// The public URL of the site, e.g. `https://example.org/tools/`.
#[derive(Clone, Debug)]
pub struct SiteUrl {
    /// The whole URL, always ending in `/`.
    pub url: String,
    /// Its path, always starting and ending in `/` (`/` or `/tools/`).
    pub path: String,
}

impl SiteUrl {
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("https://"))
            .with_context(|| format!("--site-url {s:?}: must start with http:// or https://"))?;
        if s.contains(['?', '#', ' ', '"', '\'', '<', '>']) {
            bail!(
                "--site-url {s:?}: must be a plain URL without query, fragment, spaces or quotes"
            );
        }
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if host.is_empty() {
            bail!("--site-url {s:?}: has no host");
        }
        let mut path = path.to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        let url = format!("{}{host}{path}", &s[..s.len() - rest.len()]);
        Ok(Self { url, path })
    }
}

pub fn build(root: &Path, site: &SiteUrl) -> Result<()> {
    let dist = root.join("dist");
    // Trunk runs cargo --offline: first make sure every crate of Cargo.lock (the wasm-only
    // ones included) is in cargo's cache. A no-op when they are.
    run(cargo().args(["fetch", "--quiet"]).current_dir(root))?;
    timed("trunk build (wasm app)", || {
        run(Command::new("trunk")
            .env("PATH", path_with_wasm_opt(root)?)
            .args(["build", "--release", "--offline", "--dist"])
            .arg(&dist)
            .args(["--public-url", &site.path])
            .current_dir(root))
    })?;
    crate::workers::build(root, &dist)?;
    timed("copy public/", || copy_dir(&root.join("public"), &dist))?;
    std::fs::write(dist.join("_headers"), headers_file(&site.path)).context("writing _headers")?;
    timed("prerender", || {
        run(cargo()
            .args([
                "run",
                "--release",
                "--quiet",
                "--package",
                "prerender",
                "--",
            ])
            .arg("--dist")
            .arg(&dist)
            .args(["--site-url", &site.url]))
    })?;
    Ok(())
}

/// `_headers` (Netlify's and Cloudflare Pages' format) with what `xtask serve` sends:
/// cross-origin isolation on every page (SharedArrayBuffer, so the OCR worker's threads),
/// CORP so other sites may embed our badges and cards, and Document-Isolation-Policy on
/// the OCR widget, which isolates it inside a third-party page where the browser has it.
fn headers_file(base: &str) -> String {
    let mut out = format!("{base}*\n");
    for (name, value) in crate::serve::ISOLATION {
        out.push_str(&format!("  {name}: {value}\n"));
    }
    out.push_str(&format!("{base}embed/ocr/*\n"));
    let (name, value) = crate::serve::EMBED_ISOLATION;
    out.push_str(&format!("  {name}: {value}\n"));
    out
}

/// PATH with npm's wasm-opt first (see `tools::WASM_OPT_DIR`), for Trunk.
pub fn path_with_wasm_opt(root: &Path) -> Result<std::ffi::OsString> {
    let bin = root
        .join(crate::tools::WASM_OPT_DIR)
        .join("node_modules/.bin");
    let rest = std::env::var_os("PATH").unwrap_or_default();
    Ok(std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&rest)),
    )?)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    if !from.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| {
                format!("copying {} to {}", entry.path().display(), target.display())
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::SiteUrl;

    #[test]
    fn site_url_under_a_sub_path_keeps_its_path() {
        let s = SiteUrl::parse("https://example.org/tools").unwrap();
        assert_eq!(s.url, "https://example.org/tools/");
        assert_eq!(s.path, "/tools/");
    }

    #[test]
    fn site_url_without_path_is_the_root() {
        let s = SiteUrl::parse("http://localhost:8080").unwrap();
        assert_eq!(s.url, "http://localhost:8080/");
        assert_eq!(s.path, "/");
    }

    #[test]
    fn site_url_without_scheme_is_refused() {
        let e = SiteUrl::parse("example.org/").unwrap_err().to_string();
        assert!(e.contains("must start with http:// or https://"), "{e}");
    }

    #[test]
    fn site_url_with_a_quote_is_refused() {
        let e = SiteUrl::parse("http://x/\"a").unwrap_err().to_string();
        assert!(e.contains("plain URL"), "{e}");
    }
}
