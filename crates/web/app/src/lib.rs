//! The browser entry, built by Trunk: hydrates the page the pre-renderer wrote.
//!
//! The pre-rendered `<head>` says where the site lives (`<meta name="site-url">`), so links
//! built in the browser match the ones in the HTML, under any sub-path.

use catalog::Catalog;
use wasm_bindgen::prelude::wasm_bindgen;
use web::{App, Site};

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    let catalog = match Catalog::builtin_static() {
        Ok(c) => c,
        Err(e) => {
            // Content is validated at build time, so this means a broken build: keep the
            // pre-rendered page as it is and say why.
            leptos::logging::error!("content failed to load, the page stays static: {e}");
            return;
        }
    };
    let url = site_url().unwrap_or_else(|| "/".to_string());
    let base = url_path(&url);
    let site = Site {
        catalog,
        url: Box::leak(url.into_boxed_str()),
        base: Box::leak(base.into_boxed_str()),
    };
    leptos::mount::hydrate_body(move || leptos::view! { <App site /> });
    // Tests (and curious people) can tell that the app has taken over the page.
    if let Some(html) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = html.set_attribute("data-hydrated", "true");
    }
}

/// `<meta name="site-url" content="…">`, written by the pre-renderer.
fn site_url() -> Option<String> {
    let doc = web_sys::window()?.document()?;
    let meta = doc.query_selector("meta[name=site-url]").ok()??;
    meta.get_attribute("content")
}

/// The path of an absolute URL ("https://x.org/sub/" → "/sub/"), always ending in `/`.
fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let mut path = after_scheme
        .find('/')
        .map_or("/", |i| &after_scheme[i..])
        .to_string();
    if !path.ends_with('/') {
        path.push('/');
    }
    path
}
