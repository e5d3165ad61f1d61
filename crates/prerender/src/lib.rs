//! The pre-renderer: every route of the app rendered natively (leptos `ssr`) into its own
//! HTML file, plus the files a static host serves beside them (badges, oEmbed, OG images,
//! sitemap, redirects, 404). Run by `cargo xtask dist` after Trunk has built the wasm app.
//!
//! Trunk's `dist/index.html` is the template: its `<head>` carries the hashed stylesheet and
//! the wasm loader under the site's path. Each page gets that head plus its own title,
//! description, canonical link and OpenGraph/Twitter tags, and the app's HTML as `<body>`;
//! the wasm app then hydrates it. Static pages (the embed card, 404) keep the stylesheet
//! but drop the wasm loader.

pub mod assets;
pub mod csp;
pub mod document;

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use catalog::Catalog;
use leptos::prelude::*;
use leptos_router::location::RequestUrl;
use web::{
    routes::{self, PageMeta},
    App, Site,
};

pub use document::Template;

/// Where the site lives: its full URL and its path, both ending in `/`; and where its votes
/// service is, if it has one.
#[derive(Clone, Debug)]
pub struct SiteUrl {
    pub url: String,
    pub path: String,
    /// The votes service's root (`/` on the site's origin, or an absolute URL), written on
    /// every page as `<meta name="votes-api">`; `None`: the pages are fully static.
    pub votes_api: Option<String>,
}

impl SiteUrl {
    /// From an absolute `http(s)://host/path/` URL (the trailing `/` is added if missing).
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .with_context(|| format!("site URL {url:?} must start with http:// or https://"))?;
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        let mut path = path.to_string();
        if !path.ends_with('/') {
            path.push('/');
        }
        let host = rest.split('/').next().unwrap_or_default();
        anyhow::ensure!(!host.is_empty(), "site URL {url:?} has no host");
        let scheme = &url[..url.len() - rest.len()];
        Ok(Self {
            url: format!("{scheme}{host}{path}"),
            path,
            votes_api: None,
        })
    }

    /// The [`Site`] the app renders with (leaks two small strings: the app wants `'static`).
    pub fn site(&self, catalog: &'static Catalog) -> Site {
        Site {
            catalog,
            url: Box::leak(self.url.clone().into_boxed_str()),
            base: Box::leak(self.path.clone().into_boxed_str()),
        }
    }
}

/// The app's HTML for one path (relative to the site's base), as the browser will hydrate it.
pub fn render_body(site: Site, path: &str) -> String {
    let owner = Owner::new();
    let html = owner.with(|| {
        provide_context(RequestUrl::new(&format!("{}{}", site.base, path)));
        view! { <App site /> }.to_html()
    });
    owner.unset();
    html
}

/// One output file: its path under `dist/` and its bytes.
pub struct Output {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl Output {
    fn text(path: impl Into<PathBuf>, s: String) -> Self {
        Self {
            path: path.into(),
            bytes: s.into_bytes(),
        }
    }
}

/// Every page of the site as HTML files: the app's pages, the reverse-order compare
/// redirects and `404.html`.
pub fn pages(site: Site, url: &SiteUrl, template: &Template) -> Vec<Output> {
    let mut out = Vec::new();
    for page in routes::all_pages(site.catalog) {
        let body = render_body(site, &page.path);
        let html = template.document(&page, url, &body);
        out.push(Output::text(format!("{}index.html", page.path), html));
    }
    for (from, to) in routes::redirects(site.catalog) {
        out.push(Output::text(
            format!("{from}index.html"),
            document::redirect(&format!("{}{to}", url.path), &format!("{}{to}", url.url)),
        ));
    }
    let nf: PageMeta = routes::not_found();
    let body = render_body(site, "404.html");
    out.push(Output::text("404.html", template.document(&nf, url, &body)));
    out
}

/// `sitemap.xml`: the absolute URL of every indexable page.
pub fn sitemap(catalog: &Catalog, url: &SiteUrl) -> Output {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for page in routes::all_pages(catalog).iter().filter(|p| p.index) {
        xml.push_str("  <url><loc>");
        xml.push_str(&document::escape(&format!("{}{}", url.url, page.path)));
        xml.push_str("</loc></url>\n");
    }
    xml.push_str("</urlset>\n");
    Output::text("sitemap.xml", xml)
}

/// Writes every output under `dist`, creating folders as needed.
pub fn write_all(dist: &Path, outputs: &[Output]) -> Result<()> {
    for o in outputs {
        let path = dist.join(&o.path);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(&path, &o.bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Everything `dist/` needs besides Trunk's output.
pub fn build(dist: &Path, url: &SiteUrl) -> Result<Vec<Output>> {
    let catalog =
        Catalog::builtin_static().map_err(|e| anyhow::anyhow!("content/ does not load:\n{e}"))?;
    let template_path = dist.join("index.html");
    let template_html = fs::read_to_string(&template_path).with_context(|| {
        format!(
            "reading {} (run Trunk first: `cargo xtask dist` does)",
            template_path.display()
        )
    })?;
    let template = Template::parse(&template_html).with_context(|| {
        format!(
            "{} is not the page template Trunk writes",
            template_path.display()
        )
    })?;
    let site = url.site(catalog);
    let mut out = pages(site, url, &template);
    out.push(sitemap(catalog, url));
    out.extend(assets::all(catalog, url)?);
    Ok(out)
}
