//! "Try it here": on the pages of SmolVLM2 listings, the private OCR widget. The widget
//! (an iframe of `/embed/ocr`) loads only when asked, so the page stays light; without
//! the app the button is a plain link to `/ocr`.

use catalog::Tool;
use leptos::prelude::*;

use crate::use_site;

/// Whether a listing is SmolVLM2, which this site runs in the browser.
pub fn runs_here(tool: &Tool) -> bool {
    let key = |s: &str| s.to_ascii_lowercase().replace([' ', '-', '_'], "");
    key(&tool.slug).starts_with("smolvlm2")
        || tool
            .product
            .as_deref()
            .is_some_and(|p| key(p).starts_with("smolvlm2"))
}

#[component]
pub fn TryIt() -> impl IntoView {
    let site = use_site();
    let open = RwSignal::new(false);
    let src = site.href("embed/ocr/");
    view! {
        <section class="section try-it" aria-labelledby="try-it-h">
            <h2 id="try-it-h">"Try it here"</h2>
            <p class="muted">
                "SmolVLM2 runs in your browser on this site: give it a receipt or a screenshot and it reads the text. "
                "The picture never leaves your device; the model (279 MB) is downloaded once and kept by your browser."
            </p>
            <p hidden=move || open.get()>
                <a
                    class="button"
                    href=site.href("ocr/")
                    on:click=move |ev| {
                        ev.prevent_default();
                        open.set(true);
                    }
                >
                    "Try SmolVLM2 here"
                </a>
            </p>
            {move || open.get().then(|| view! {
                <iframe class="try-frame" src=src.clone() title="SmolVLM2 private OCR" data-testid="try-it-frame"></iframe>
            })}
        </section>
    }
}
