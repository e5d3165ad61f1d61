//! The Content-Security-Policy of every page, as a `<meta http-equiv>` tag: a static host
//! may send no headers of ours, and a policy in the page goes wherever the page goes.
//!
//! What the pages need and nothing more: the site's own scripts, styles, pictures, workers
//! and frames; WebAssembly compilation (`'wasm-unsafe-eval'`); the inline scripts the
//! page carries (Trunk's loader, the cross-origin-isolation helper, the embed card's), each
//! allowed by its SHA-256 rather than by `'unsafe-inline'`; inline `style` attributes
//! (the score bars' widths) but no inline style sheets; `blob:` and `data:` pictures (the
//! visitor's picture is previewed from a `blob:` URL); and the votes service's origin where
//! it is another. Model downloads happen in the OCR worker, whose policy is its own script's
//! (a meta tag does not reach workers), so a `model=` link on another site still loads.
//! `frame-ancestors` cannot be set from a meta tag: the embeds are meant to be framed.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The policy for `html` (every inline script of it allowed by its hash).
pub fn policy(html: &str, votes_api: Option<&str>) -> String {
    let hashes: Vec<String> = inline_scripts(html)
        .map(|body| {
            let digest = Sha256::digest(body.as_bytes());
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    let votes = votes_api
        .and_then(origin_of)
        .map_or(String::new(), |o| format!(" {o}"));
    let mut script = String::from("'self' 'wasm-unsafe-eval'");
    for h in &hashes {
        script.push(' ');
        script.push_str(h);
    }
    [
        "default-src 'self'".to_string(),
        format!("script-src {script}"),
        "style-src 'self'".to_string(),
        "style-src-attr 'unsafe-inline'".to_string(),
        format!("img-src 'self' data: blob:{votes}"),
        "media-src 'self' blob:".to_string(),
        format!("connect-src 'self'{votes}"),
        "worker-src 'self'".to_string(),
        "frame-src 'self'".to_string(),
        "object-src 'none'".to_string(),
        "base-uri 'none'".to_string(),
        "form-action 'self'".to_string(),
    ]
    .join("; ")
}

/// `html` with its policy as the first tag after `<meta charset>` (before any script).
pub fn with_policy(html: &str, votes_api: Option<&str>) -> String {
    let tag = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        policy(html, votes_api)
    );
    let at = match html.find("<meta charset=\"utf-8\">") {
        Some(i) => i + "<meta charset=\"utf-8\">".len(),
        None => html.find("<head>").map_or(0, |i| i + "<head>".len()),
    };
    let mut out = String::with_capacity(html.len() + tag.len() + 1);
    out.push_str(&html[..at]);
    out.push('\n');
    out.push_str(&tag);
    out.push_str(html[at..].trim_start_matches('\n'));
    out
}

/// The text of each `<script>` without a `src`. A small scan, not an HTML parser: the
/// input is our own documents, whose scripts are plain `<script …>…</script>` elements.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || loop {
        let open = rest.find("<script")?;
        let tag_end = open + rest[open..].find('>')?;
        let tag = &rest[open..tag_end];
        let body_start = tag_end + 1;
        let close = body_start + rest[body_start..].find("</script>")?;
        let body = &rest[body_start..close];
        rest = &rest[close + "</script>".len()..];
        if !tag.contains(" src=") {
            return Some(body);
        }
    })
}

/// `scheme://host[:port]` of an absolute URL; None for a path on the site's own origin.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(s: &str) -> String {
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
        )
    }

    #[test]
    fn each_inline_script_is_allowed_by_its_hash_and_nothing_else_inline() {
        let html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<script>a()</script>\
                    <script type=\"module\">import x from '/x.js';</script>\
                    <script src=\"/y.js\"></script></head><body><script>b()</script></body></html>";
        let p = policy(html, None);
        for body in ["a()", "import x from '/x.js';", "b()"] {
            assert!(p.contains(&hash(body)), "{body}: {p}");
        }
        assert!(
            !p.contains(&hash("")),
            "the external script is not hashed: {p}"
        );
        assert!(!p.contains("script-src 'self' 'unsafe-inline'"));
        assert!(p.contains("'wasm-unsafe-eval'") && p.contains("object-src 'none'"));
    }

    #[test]
    fn the_policy_comes_before_the_first_script() {
        let html = "<html>\n<head><meta charset=\"utf-8\">\n<script>a()</script></head></html>";
        let out = with_policy(html, None);
        let meta = out.find("Content-Security-Policy").unwrap();
        assert!(out.find(r#"<meta charset="utf-8">"#).unwrap() < meta);
        assert!(meta < out.find("<script>").unwrap());
    }

    #[test]
    fn a_votes_service_on_another_origin_may_be_reached() {
        let p = policy("", Some("https://votes.example.org/api/"));
        assert!(
            p.contains("connect-src 'self' https://votes.example.org;"),
            "{p}"
        );
        assert!(
            p.contains("img-src 'self' data: blob: https://votes.example.org;"),
            "{p}"
        );
        let p = policy("", Some("/"));
        assert!(p.contains("connect-src 'self';"), "{p}");
    }
}
