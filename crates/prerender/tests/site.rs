//! The pre-rendered site as a crawler sees it (no JavaScript), built under a sub-path from
//! the real content with a Trunk-like template.

use std::collections::BTreeSet;

use catalog::Catalog;
use prerender::{Output, SiteUrl, Template};

const TEMPLATE: &str = r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>x</title>
<link rel="stylesheet" href="/sub/site-1.css">
<link rel="modulepreload" href="/sub/web-app-1.js"><link rel="preload" href="/sub/web-app-1_bg.wasm" as="fetch" type="application/wasm">
<script type="module">import init from '/sub/web-app-1.js'; await init({ module_or_path: '/sub/web-app-1_bg.wasm' });</script></head><body></body></html>"#;

fn build() -> (&'static Catalog, Vec<Output>) {
    let catalog = Catalog::builtin_static().expect("content loads");
    let url = SiteUrl::parse("https://example.org/sub/").unwrap();
    let template = Template::parse(TEMPLATE).unwrap();
    let mut out = prerender::pages(url.site(catalog), &url, &template);
    out.push(prerender::sitemap(catalog, &url));
    out.extend(prerender::assets::all(catalog, &url).unwrap());
    (catalog, out)
}

fn text<'a>(out: &'a [Output], path: &str) -> &'a str {
    let o = out
        .iter()
        .find(|o| o.path.to_str() == Some(path))
        .unwrap_or_else(|| panic!("{path} was not written"));
    std::str::from_utf8(&o.bytes).unwrap()
}

/// Every `href="…"` / `src="…"` value in a document.
fn links(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap();
            found.push(rest[..end].replace("&amp;", "&"));
            rest = &rest[end..];
        }
    }
    found
}

#[test]
fn compare_page_html_names_both_tools_and_its_og_image() {
    let (catalog, out) = build();
    for cmp in &catalog.comparisons {
        let html = text(&out, &format!("compare/{}/index.html", cmp.slug));
        for slug in &cmp.tools {
            let name = &catalog.tool(slug).unwrap().name;
            assert!(
                html.contains(&format!("<title>{}", name)) || html.contains(name),
                "{name}"
            );
            // Each name appears in the body, not only in the head.
            let body = &html[html.find("<body>").unwrap()..];
            assert!(
                body.contains(name.as_str()),
                "{} not in the body of {}",
                name,
                cmp.slug
            );
        }
        let og = format!("https://example.org/sub/og/compare-{}.png", cmp.slug);
        assert!(
            html.contains(&format!("<meta property=\"og:image\" content=\"{og}\">")),
            "{}",
            cmp.slug
        );
        assert!(out
            .iter()
            .any(|o| o.path.to_str() == Some(&format!("og/compare-{}.png", cmp.slug))));
    }
}

#[test]
fn every_internal_link_of_every_page_resolves_under_the_sub_path() {
    let (_, out) = build();
    let files: BTreeSet<String> = out
        .iter()
        .map(|o| o.path.to_string_lossy().into_owned())
        .collect();
    // Files Trunk and public/ provide, which this test does not build.
    let outside = ["site-1.css", "web-app-1.js", "web-app-1_bg.wasm"];
    let mut checked = 0;
    for o in out
        .iter()
        .filter(|o| o.path.extension().is_some_and(|e| e == "html"))
    {
        let html = std::str::from_utf8(&o.bytes).unwrap();
        for link in links(html) {
            let path = if let Some(p) = link.strip_prefix("https://example.org/sub/") {
                p.to_string()
            } else if let Some(p) = link.strip_prefix("/sub/") {
                p.to_string()
            } else if link.starts_with('#') {
                continue;
            } else {
                panic!(
                    "{}: link {link:?} leaves the site or ignores its sub-path",
                    o.path.display()
                );
            };
            let path = path.split('#').next().unwrap();
            if outside.contains(&path) {
                continue;
            }
            let file = if path.is_empty() || path.ends_with('/') {
                format!("{path}index.html")
            } else {
                path.to_string()
            };
            assert!(
                files.contains(&file),
                "{}: link {link:?} has no file {file}",
                o.path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} links checked");
}

#[test]
fn sitemap_lists_every_indexable_page_by_absolute_url() {
    let (catalog, out) = build();
    let xml = text(&out, "sitemap.xml");
    assert!(xml.contains("<loc>https://example.org/sub/</loc>"));
    for cmp in &catalog.comparisons {
        assert!(xml.contains(&format!(
            "<loc>https://example.org/sub/compare/{}/</loc>",
            cmp.slug
        )));
    }
    for t in &catalog.tools {
        assert!(xml.contains(&format!(
            "<loc>https://example.org/sub/tool/{}/</loc>",
            t.slug
        )));
        assert!(
            !xml.contains(&format!("embed/{}/", t.slug)),
            "embeds are not pages to index"
        );
    }
    for p in &catalog.personas {
        assert!(xml.contains(&format!(
            "<loc>https://example.org/sub/reviewer/{}/</loc>",
            p.slug
        )));
    }
}

#[test]
fn reverse_order_compare_path_redirects_to_the_alphabetical_one() {
    let (catalog, out) = build();
    let cmp = &catalog.comparisons[0];
    let html = text(&out, &format!("compare/{}/index.html", cmp.reversed_slug()));
    assert!(html.contains(&format!("url=/sub/compare/{}/\"", cmp.slug)));
    assert!(html.contains(&format!(
        "<link rel=\"canonical\" href=\"https://example.org/sub/compare/{}/\">",
        cmp.slug
    )));
}

#[test]
fn embed_card_is_static_links_out_in_a_new_tab_and_reports_its_height() {
    let (catalog, out) = build();
    let t = &catalog.tools[0];
    let html = text(&out, &format!("embed/{}/index.html", t.slug));
    assert!(
        !html.contains("type=\"module\""),
        "no wasm in the embed card"
    );
    assert!(html.contains("embed-height"));
    let body = &html[html.find("<body>").unwrap()..];
    let anchors = body.matches("<a ").count();
    assert!(anchors > 0);
    assert_eq!(
        body.matches("target=\"_blank\" rel=\"noopener\"").count(),
        anchors,
        "{body}"
    );
}

#[test]
fn tool_page_head_has_the_oembed_discovery_link() {
    let (catalog, out) = build();
    for t in &catalog.tools {
        let html = text(&out, &format!("tool/{}/index.html", t.slug));
        let head = &html[..html.find("</head>").unwrap()];
        assert!(
            head.contains(&format!(
                "<link rel=\"alternate\" type=\"application/json+oembed\" href=\"https://example.org/sub/oembed/{}.json\"",
                t.slug
            )),
            "{}",
            t.slug
        );
        let json: serde_json::Value =
            serde_json::from_str(text(&out, &format!("oembed/{}.json", t.slug))).unwrap();
        assert_eq!(json["type"], "rich");
    }
}

#[test]
fn not_found_page_is_static_and_says_so() {
    let (_, out) = build();
    let html = text(&out, "404.html");
    assert!(html.contains("Page not found"));
    assert!(!html.contains("type=\"module\""));
    assert!(html.contains("<meta name=\"robots\" content=\"noindex\">"));
}

#[test]
fn without_javascript_the_community_row_reads_the_catalog_text_and_has_no_buttons() {
    let (catalog, out) = build();
    let cmp = &catalog.comparisons[0];
    let tool = catalog.tool(&cmp.tools[0]).unwrap();
    for path in [
        format!("compare/{}/index.html", cmp.slug),
        format!("tool/{}/index.html", tool.slug),
        format!("embed/{}/index.html", tool.slug),
    ] {
        let html = text(&out, &path);
        let body = &html[html.find("<body>").unwrap()..];
        assert!(
            body.contains(&format!("data-item=\"{}\"", tool.slug)),
            "{path}: no community row for {}",
            tool.slug
        );
        assert!(body.contains("No community votes yet"), "{path}");
        assert!(!body.contains("data-testid=\"vote-ship\""), "{path}");
        assert!(
            !body.contains("<button type=\"button\" class=\"button vote-button"),
            "{path}"
        );
        // Built without --votes-api: no page names a votes service.
        assert!(!html.contains("<meta name=\"votes-api\""), "{path}");
    }
}
