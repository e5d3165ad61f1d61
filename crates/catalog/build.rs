//! Embeds `content/` into the crate (for `Catalog::builtin`) and validates it with the same
//! loader the crate uses, so that a content mistake fails `cargo build` with a message
//! naming the file and field.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::exit;

// The loader's modules, compiled into the build script too. They depend only on each
// other, serde, toml and thiserror.
#[allow(dead_code)]
#[path = "src/error.rs"]
mod error;
#[allow(dead_code)]
#[path = "src/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "src/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "src/raw.rs"]
mod raw;

fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    exit(1);
}

/// Every `.toml` file under `dir`, recursively; registers each directory and file with
/// cargo so that adding, removing or editing one reruns this script.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => fail(format!("cannot read {}: {e}", dir.display())),
    };
    for entry in entries {
        let path = match entry {
            Ok(e) => e.path(),
            Err(e) => fail(format!("cannot read {}: {e}", dir.display())),
        };
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|x| x == "toml") {
            println!("cargo:rerun-if-changed={}", path.display());
            out.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for m in ["error", "load", "model", "raw"] {
        println!("cargo:rerun-if-changed=src/{m}.rs");
    }
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let content = manifest.join("..").join("..").join("content");

    let mut paths = Vec::new();
    if content.is_dir() {
        walk(&content, &mut paths);
    } else {
        println!(
            "cargo:warning=no content/ directory at {}: Catalog::builtin() will be empty",
            content.display()
        );
    }
    paths.sort();

    let mut files: Vec<(String, PathBuf, String)> = Vec::new();
    for p in paths {
        let rel = p
            .strip_prefix(&content)
            .unwrap_or(&p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) => fail(format!("cannot read {}: {e}", p.display())),
        };
        let abs = p.canonicalize().unwrap_or(p);
        files.push((format!("content/{rel}"), abs, text));
    }

    if let Err(e) = load::load(
        files
            .iter()
            .map(|(rel, _, text)| (rel.as_str(), text.as_str())),
    ) {
        fail(e.to_string());
    }

    let mut code = String::from(
        "/// `(path, text)` of every TOML file under content/, sorted by path.\n\
         pub(crate) static FILES: &[(&str, &str)] = &[\n",
    );
    for (rel, abs, _) in &files {
        let abs = abs.to_string_lossy();
        let _ = writeln!(code, "    ({rel:?}, include_str!({abs:?})),");
    }
    code.push_str("];\n");
    if let Err(e) = std::fs::write(out_dir.join("builtin_content.rs"), code) {
        fail(format!("cannot write builtin_content.rs: {e}"));
    }
}
