//! Every page of the site and what its `<head>` says: the pre-renderer writes one file per
//! entry, and the app uses the titles after client-side navigation. Paths here are relative
//! to the site's base and end in `/` (`""` is the home page, `compare/a-vs-b/` a compare page).

use catalog::{Catalog, SITE_NAME};

/// How a pre-rendered page is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// Loads the wasm app, which hydrates the page.
    App,
    /// Static HTML only (no wasm): the embed card, small enough for any iframe, and 404.
    Static,
}

/// One page: its path and its `<head>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageMeta {
    /// Relative to the site's base, ending in `/` (`""` for home).
    pub path: String,
    pub title: String,
    pub description: String,
    /// Relative path of its OpenGraph image (`og/<page>.png`), for compare and tool pages.
    pub og_image: Option<String>,
    /// Relative path of its oEmbed JSON (tool pages).
    pub oembed: Option<String>,
    pub kind: PageKind,
    /// Whether search engines should index it (embeds and 404 should not).
    pub index: bool,
}

/// The OG image name of a compare page (`og/compare-<slug>.png`).
pub fn og_compare(slug: &str) -> String {
    format!("og/compare-{slug}.png")
}

/// The OG image name of a tool page (`og/tool-<slug>.png`).
pub fn og_tool(slug: &str) -> String {
    format!("og/tool-{slug}.png")
}

/// Every page with its own HTML file, in a stable order (home, compares, tools, reviewers,
/// embeds). `404.html` is not among them: see [`not_found`].
pub fn all_pages(c: &Catalog) -> Vec<PageMeta> {
    let mut pages = vec![home()];
    pages.extend(OCR_PAGES.iter().filter_map(|p| ocr_page(p)));
    pages.extend(
        c.comparisons
            .iter()
            .filter_map(|cmp| page_for_path(c, &format!("compare/{}/", cmp.slug))),
    );
    pages.extend(
        c.tools
            .iter()
            .filter_map(|t| page_for_path(c, &format!("tool/{}/", t.slug))),
    );
    pages.extend(
        c.personas
            .iter()
            .filter_map(|p| page_for_path(c, &format!("reviewer/{}/", p.slug))),
    );
    pages.extend(
        c.tools
            .iter()
            .filter_map(|t| page_for_path(c, &format!("embed/{}/", t.slug))),
    );
    pages
}

/// The reverse-order compare paths and where they redirect: (`compare/b-vs-a/`,
/// `compare/a-vs-b/`).
pub fn redirects(c: &Catalog) -> Vec<(String, String)> {
    c.comparisons
        .iter()
        .map(|cmp| {
            (
                format!("compare/{}/", cmp.reversed_slug()),
                format!("compare/{}/", cmp.slug),
            )
        })
        .collect()
}

/// The 404 page (`404.html` at the site's root).
pub fn not_found() -> PageMeta {
    PageMeta {
        path: "404.html".into(),
        title: format!("Page not found — {SITE_NAME}"),
        description: "This page does not exist.".into(),
        og_image: None,
        oembed: None,
        kind: PageKind::Static,
        index: false,
    }
}

fn home() -> PageMeta {
    PageMeta {
        path: String::new(),
        title: format!("{SITE_NAME} — AI tool comparisons and panel verdicts"),
        description: "Side-by-side comparisons of AI tools: the expert panel's ship or skip \
                      verdicts, reviewer scorecards, pricing and badges."
            .into(),
        og_image: None,
        oembed: None,
        kind: PageKind::App,
        index: true,
    }
}

/// The page at a relative path (with or without its trailing `/`), if there is one.
pub fn page_for_path(c: &Catalog, path: &str) -> Option<PageMeta> {
    let path = path.trim_start_matches('/');
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Some(home());
    }
    if let Some(page) = ocr_page(trimmed) {
        return Some(page);
    }
    let (section, slug) = trimmed.split_once('/')?;
    if slug.contains('/') {
        return None;
    }
    let meta = |title: String, description: String| PageMeta {
        path: format!("{section}/{slug}/"),
        title,
        description,
        og_image: None,
        oembed: None,
        kind: PageKind::App,
        index: true,
    };
    match section {
        "compare" => {
            let page = c.compare_page(slug)?;
            let [a, b] = &page.tools;
            Some(PageMeta {
                og_image: Some(og_compare(slug)),
                ..meta(
                    format!(
                        "{}: Which AI Tool Should You Ship? — {SITE_NAME}",
                        page.title
                    ),
                    format!(
                        "{} vs {}: panel verdict {} ({}% panel ship) vs {} ({}% panel ship), \
                         reviewer scorecard, pricing and community votes side by side.",
                        a.name,
                        b.name,
                        a.panel.verdict,
                        a.panel.ship_percent,
                        b.panel.verdict,
                        b.panel.ship_percent
                    ),
                )
            })
        }
        "tool" => {
            let t = c.tool(slug)?;
            Some(PageMeta {
                og_image: Some(og_tool(slug)),
                oembed: Some(format!("oembed/{slug}.json")),
                ..meta(
                    format!("{}: {} verdict — {SITE_NAME}", t.name, t.panel.verdict),
                    format!(
                        "{} — {}. Expert panel: {}.",
                        t.name,
                        t.tagline,
                        t.panel.summary()
                    ),
                )
            })
        }
        "reviewer" => {
            let p = c.persona(slug)?;
            Some(meta(
                format!("The {}'s verdicts — {SITE_NAME}", p.name),
                format!(
                    "Every ship or skip verdict of the {} on the panel: {}",
                    p.name, p.focus
                ),
            ))
        }
        "embed" => {
            let t = c.tool(slug)?;
            Some(PageMeta {
                kind: PageKind::Static,
                index: false,
                ..meta(
                    format!("{} {} verdict — {SITE_NAME}", t.name, t.panel.verdict),
                    format!("{}: {}", t.name, t.panel.summary()),
                )
            })
        }
        _ => None,
    }
}

/// The private OCR demo's pages (paths without their trailing `/`).
pub const OCR_PAGES: [&str; 4] = ["ocr", "embed/ocr", "kiosk", "bench"];

/// `ocr/`, `embed/ocr/`, `kiosk/`, `bench/`: the in-browser SmolVLM2 pages.
fn ocr_page(path: &str) -> Option<PageMeta> {
    let (title, description, index) = match path {
        "ocr" => (
            format!("Private OCR: read the text in a picture, in your browser — {SITE_NAME}"),
            "SmolVLM2 reads receipts, screenshots and photos of pages right in your browser: \
             the picture never leaves your device.",
            true,
        ),
        "embed/ocr" => (
            format!("Private OCR widget — {SITE_NAME}"),
            "SmolVLM2 in your browser: the picture never leaves your device.",
            false,
        ),
        "kiosk" => (
            format!("Private OCR kiosk — {SITE_NAME}"),
            "Hold a page up to the camera: SmolVLM2 reads it on this computer.",
            false,
        ),
        "bench" => (
            format!("SmolVLM2 speed in your browser — {SITE_NAME}"),
            "Tokens per second and milliseconds per image tile of SmolVLM2 running in this \
             browser (WebAssembly with SIMD, on every core where the page may use threads), measured \
             with random weights at the real dimensions.",
            true,
        ),
        _ => return None,
    };
    Some(PageMeta {
        path: format!("{path}/"),
        title,
        description: description.into(),
        og_image: None,
        oembed: None,
        kind: PageKind::App,
        index,
    })
}
