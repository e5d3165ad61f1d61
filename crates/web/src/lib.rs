//! The leptos app: routes, pages and components of the comparison site.
//!
//! The same components run in two places, chosen by a feature of this crate:
//! - `ssr` (the native `prerender` package): every route is rendered to HTML at build time;
//! - `hydrate` (the wasm32 `web-app` package): the browser hydrates that HTML, so nothing
//!   visibly changes when the wasm starts, then navigates client-side.
//!
//! Data comes from `catalog` as plain values ([`Site::catalog`]); nothing is parsed here.
//! Every link goes through [`Site::href`] so the site works under a sub-path.

pub mod components;
pub mod ocr;
pub mod pages;
pub mod routes;

use catalog::Catalog;
use leptos::prelude::*;
use leptos_router::{
    components::{Route, Router, Routes},
    path, StaticSegment,
};

/// What every page needs: the content and where the site lives.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    pub catalog: &'static Catalog,
    /// The public URL of the site, ending in `/` (for snippets pasted on other sites).
    pub url: &'static str,
    /// The path the site is served under: `/` or e.g. `/tools/` (always ends in `/`).
    pub base: &'static str,
}

impl Site {
    /// The absolute path of a page of the site: `href("tool/x/")` is `/tool/x/` at the root,
    /// `/tools/tool/x/` under `/tools/`.
    pub fn href(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }
}

/// The [`Site`] given to [`App`].
pub fn use_site() -> Site {
    expect_context::<Site>()
}

/// The whole app. Rendered natively by the pre-renderer (with a `RequestUrl` in context)
/// and hydrated over that HTML in the browser.
#[component]
pub fn App(site: Site) -> impl IntoView {
    provide_context(site);
    // leptos_router's base has no trailing slash ("" at the root).
    let base = site.base.trim_end_matches('/');
    view! {
        <Router base=base>
            <TitleSync />
            <Routes fallback=|| view! { <pages::NotFound /> }>
                <Route path=StaticSegment("") view=pages::Home />
                <Route path=path!("/compare/:pair") view=pages::Compare />
                <Route path=path!("/tool/:slug") view=pages::ToolPage />
                <Route path=path!("/reviewer/:persona") view=pages::Reviewer />
                <Route path=path!("/ocr") view=pages::OcrPage />
                <Route path=path!("/kiosk") view=pages::KioskPage />
                <Route path=path!("/bench") view=pages::BenchPage />
                // Before `/embed/:slug`: the first route that matches wins.
                <Route path=path!("/embed/ocr") view=pages::EmbedOcr />
                <Route path=path!("/embed/:slug") view=pages::Embed />
            </Routes>
        </Router>
    }
}

/// After a client-side navigation, `<title>` follows the page (the pre-rendered HTML already
/// has the right one for the first page). Renders nothing.
#[component]
fn TitleSync() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let site = use_site();
        let location = leptos_router::hooks::use_location();
        Effect::new(move |_| {
            let path = location.pathname.get();
            let rel = path.strip_prefix(site.base).unwrap_or(&path);
            if let (Some(meta), Some(doc)) = (
                routes::page_for_path(site.catalog, rel),
                web_sys::window().and_then(|w| w.document()),
            ) {
                doc.set_title(&meta.title);
            }
        });
    }
}
