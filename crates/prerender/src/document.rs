//! Whole HTML documents around the app's body: the template's head plus each page's tags.

use anyhow::{bail, Result};
use catalog::SITE_NAME;
use web::routes::{PageKind, PageMeta};

use crate::SiteUrl;

/// Trunk's `index.html`, split into what every page shares.
#[derive(Clone, Debug)]
pub struct Template {
    /// The head's content with the template's `<title>` removed.
    head: String,
    /// The same without the wasm loader (`<script>` and preload links), for static pages.
    head_static: String,
}

impl Template {
    /// Takes the `<head>` of the page Trunk wrote. A small scan rather than an HTML parser:
    /// the input is Trunk's output of our own `index.html`, whose shape we control.
    pub fn parse(html: &str) -> Result<Self> {
        let Some(start) = html.find("<head>") else {
            bail!("no <head>");
        };
        let Some(end) = html.find("</head>") else {
            bail!("no </head>");
        };
        let head = remove_elements(&html[start + "<head>".len()..end], "<title", "</title>");
        let head_static = remove_tags(
            &remove_elements(&head, "<script", "</script>"),
            "<link",
            |tag| tag.contains("rel=\"modulepreload\"") || tag.contains("rel=\"preload\""),
        );
        Ok(Self { head, head_static })
    }

    /// The full document of a page.
    pub fn document(&self, page: &PageMeta, site: &SiteUrl, body: &str) -> String {
        let shared = match page.kind {
            PageKind::App => &self.head,
            PageKind::Static => &self.head_static,
        };
        let mut h = String::with_capacity(shared.len() + body.len() + 2048);
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>");
        h.push_str(shared.trim_end());
        h.push('\n');
        let url = format!("{}{}", site.url, page.path);
        tag(&mut h, "title", &page.title);
        meta(&mut h, "name", "description", &page.description);
        meta(&mut h, "name", "site-url", &site.url);
        if let Some(api) = &site.votes_api {
            meta(&mut h, "name", "votes-api", api);
        }
        if page.path != "404.html" {
            link(&mut h, "canonical", &url, None);
        }
        if !page.index {
            meta(&mut h, "name", "robots", "noindex");
        }
        meta(&mut h, "property", "og:type", "website");
        meta(&mut h, "property", "og:site_name", SITE_NAME);
        meta(&mut h, "property", "og:title", &page.title);
        meta(&mut h, "property", "og:description", &page.description);
        meta(&mut h, "property", "og:url", &url);
        match &page.og_image {
            Some(img) => {
                let img = format!("{}{img}", site.url);
                meta(&mut h, "property", "og:image", &img);
                meta(&mut h, "property", "og:image:width", "1200");
                meta(&mut h, "property", "og:image:height", "630");
                meta(&mut h, "property", "og:image:alt", &page.title);
                meta(&mut h, "name", "twitter:card", "summary_large_image");
                meta(&mut h, "name", "twitter:image", &img);
            }
            None => meta(&mut h, "name", "twitter:card", "summary"),
        }
        meta(&mut h, "name", "twitter:title", &page.title);
        meta(&mut h, "name", "twitter:description", &page.description);
        if let Some(oembed) = &page.oembed {
            link(
                &mut h,
                "alternate",
                &format!("{}{oembed}", site.url),
                Some(("application/json+oembed", &page.title)),
            );
        }
        h.push_str("</head>\n<body>");
        // No whitespace around the body's content: hydration walks these exact nodes.
        h.push_str(body);
        h.push_str("</body>\n</html>\n");
        crate::csp::with_policy(&h, site.votes_api.as_deref())
    }
}

/// A tiny page that sends the visitor to `path` (the site's path, so it works on any host
/// serving the site, e.g. a test server on another port) and tells crawlers the `canonical`
/// URL.
pub fn redirect(path: &str, canonical: &str) -> String {
    let (path, canonical) = (escape(path), escape(canonical));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; base-uri 'none'\">\n\
         <title>Redirecting…</title>\n\
         <link rel=\"canonical\" href=\"{canonical}\">\n<meta name=\"robots\" content=\"noindex\">\n\
         <meta http-equiv=\"refresh\" content=\"0; url={path}\">\n</head>\n\
         <body><p>This comparison lives at <a href=\"{path}\">{canonical}</a>.</p></body>\n</html>\n"
    )
}

/// Escapes text for HTML text and double-quoted attributes (and XML).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn tag(h: &mut String, name: &str, text: &str) {
    h.push_str(&format!("<{name}>{}</{name}>\n", escape(text)));
}

fn meta(h: &mut String, attr: &str, key: &str, content: &str) {
    h.push_str(&format!(
        "<meta {attr}=\"{key}\" content=\"{}\">\n",
        escape(content)
    ));
}

fn link(h: &mut String, rel: &str, href: &str, typed: Option<(&str, &str)>) {
    match typed {
        None => h.push_str(&format!("<link rel=\"{rel}\" href=\"{}\">\n", escape(href))),
        Some((ty, title)) => h.push_str(&format!(
            "<link rel=\"{rel}\" type=\"{ty}\" href=\"{}\" title=\"{}\">\n",
            escape(href),
            escape(title)
        )),
    }
}

/// Removes every `open…close` element (e.g. `<script …>…</script>`).
fn remove_elements(s: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i]);
        match rest[i..].find(close) {
            Some(j) => rest = &rest[i + j + close.len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Removes the void tags starting with `open` (e.g. `<link …>`) for which `drop` says so.
fn remove_tags(s: &str, open: &str, drop: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('>').map_or(rest.len(), |j| i + j + 1);
        let tag = &rest[i..end];
        if !drop(tag) {
            out.push_str(tag);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUNK_LIKE: &str = r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>x</title>
<link rel="stylesheet" href="/site-abc.css" integrity="sha384-1">
<link rel="modulepreload" href="/web-app-1.js" crossorigin="anonymous" integrity="sha384-2"><link rel="preload" href="/web-app-1_bg.wasm" crossorigin="anonymous" integrity="sha384-3" as="fetch" type="application/wasm">
<script type="module">import init from '/web-app-1.js';
const wasm = await init({ module_or_path: '/web-app-1_bg.wasm' });</script></head><body></body></html>"#;

    fn page(kind: PageKind) -> PageMeta {
        PageMeta {
            path: "tool/a/".into(),
            title: "A \"quoted\" <title> & more".into(),
            description: "d".into(),
            og_image: Some("og/tool-a.png".into()),
            oembed: Some("oembed/a.json".into()),
            kind,
            index: true,
        }
    }

    fn site() -> SiteUrl {
        SiteUrl::parse("https://example.org/sub/").unwrap()
    }

    #[test]
    fn pages_name_the_votes_service_only_when_there_is_one() {
        let t = Template::parse(TRUNK_LIKE).unwrap();
        for kind in [PageKind::App, PageKind::Static] {
            let html = t.document(&page(kind), &site(), "");
            assert!(!html.contains("votes-api"), "{html}");
            let mut with = site();
            with.votes_api = Some("https://votes.example.org/".into());
            let html = t.document(&page(kind), &with, "");
            assert!(
                html.contains(r#"<meta name="votes-api" content="https://votes.example.org/">"#)
            );
        }
    }

    #[test]
    fn app_page_keeps_the_wasm_loader_and_the_stylesheet() {
        let t = Template::parse(TRUNK_LIKE).unwrap();
        let html = t.document(&page(PageKind::App), &site(), "<p>body</p>");
        assert!(html.contains("<script type=\"module\">"));
        assert!(html.contains("rel=\"modulepreload\""));
        assert!(html.contains("/site-abc.css"));
        assert!(html.contains("<body><p>body</p></body>"));
        assert_eq!(
            html.matches("<title>").count(),
            1,
            "the template's title is replaced"
        );
    }

    #[test]
    fn static_page_has_no_script_but_keeps_the_stylesheet() {
        let t = Template::parse(TRUNK_LIKE).unwrap();
        let html = t.document(&page(PageKind::Static), &site(), "");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("preload"), "{html}");
        assert!(html.contains("/site-abc.css"));
    }

    #[test]
    fn head_has_absolute_canonical_og_image_and_oembed_links() {
        let t = Template::parse(TRUNK_LIKE).unwrap();
        let html = t.document(&page(PageKind::App), &site(), "");
        assert!(html.contains(r#"<link rel="canonical" href="https://example.org/sub/tool/a/">"#));
        assert!(html.contains(
            r#"<meta property="og:image" content="https://example.org/sub/og/tool-a.png">"#
        ));
        assert!(html.contains(
            r#"type="application/json+oembed" href="https://example.org/sub/oembed/a.json""#
        ));
        assert!(html.contains(r#"<meta name="site-url" content="https://example.org/sub/">"#));
    }

    #[test]
    fn titles_are_escaped_in_text_and_attributes() {
        let t = Template::parse(TRUNK_LIKE).unwrap();
        let html = t.document(&page(PageKind::App), &site(), "");
        assert!(html.contains("<title>A &quot;quoted&quot; &lt;title&gt; &amp; more</title>"));
        assert!(html.contains(r#"content="A &quot;quoted&quot; &lt;title&gt; &amp; more""#));
        assert!(!html.contains("<title> &"));
    }

    #[test]
    fn a_page_without_head_is_refused() {
        assert!(Template::parse("<html><body></body></html>").is_err());
    }

    #[test]
    fn redirect_page_points_at_the_canonical_order() {
        let html = redirect(
            "/sub/compare/a-vs-b/",
            "https://example.org/sub/compare/a-vs-b/",
        );
        assert!(
            html.contains(r#"<meta http-equiv="refresh" content="0; url=/sub/compare/a-vs-b/">"#)
        );
        assert!(html.contains(r#"<a href="/sub/compare/a-vs-b/">"#));
        assert!(html
            .contains(r#"<link rel="canonical" href="https://example.org/sub/compare/a-vs-b/">"#));
    }
}
