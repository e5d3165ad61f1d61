//! The frame of every page but the embed card: skip link, header, main, footer.

use catalog::SITE_NAME;
use leptos::prelude::*;

use crate::use_site;

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let site = use_site();
    view! {
        <a class="skip-link" href="#main" on:click=skip_to_main>"Skip to content"</a>
        <header class="site-header">
            <div class="wrap header-row">
                <a class="brand" href=site.href("")>
                    <span class="brand-mark" aria-hidden="true">"S"</span>
                    {SITE_NAME}
                </a>
                <nav aria-label="Site">
                    <ul class="nav-list">
                        <li><a href=site.href("#comparisons")>"Comparisons"</a></li>
                        <li><a href=site.href("#tools")>"Tools"</a></li>
                        <li><a href=site.href("#reviewers")>"Reviewers"</a></li>
                        <li><a href=site.href("ocr/")>"Private OCR"</a></li>
                    </ul>
                </nav>
            </div>
        </header>
        <main id="main" class="wrap" tabindex="-1">{children()}</main>
        <footer class="site-footer">
            <div class="wrap">
                <p>
                    "Verdicts, scores and reviews as the expert panel published them. "
                    "Badges and embeds are static files: no tracking, no cookies."
                </p>
                <p>
                    // rel=external: a file, not a route, so the client-side router leaves it alone.
                    <a href=site.href("sitemap.xml") rel="external">"Sitemap"</a>
                </p>
            </div>
        </footer>
    }
}

/// Without the app the skip link is a plain fragment link. With it, the router would take
/// the click and only scroll, so move the focus (the point where Tab continues) ourselves.
#[cfg(feature = "hydrate")]
fn skip_to_main(ev: leptos::ev::MouseEvent) {
    use leptos::wasm_bindgen::JsCast;
    let main = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("main"))
        .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(main) = main {
        ev.prevent_default();
        let _ = main.focus();
        main.scroll_into_view();
    }
}

#[cfg(not(feature = "hydrate"))]
fn skip_to_main(_ev: leptos::ev::MouseEvent) {}
