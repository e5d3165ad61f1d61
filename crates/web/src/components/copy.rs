//! A code snippet with a copy button (iframe, badge HTML, badge Markdown).

use leptos::prelude::*;

/// The snippet is a plain `<pre>` (selectable without JavaScript); the button copies it with
/// the Clipboard API once the app has hydrated and says whether that worked.
#[component]
pub fn CopySnippet(
    /// e.g. "Badge (HTML)".
    label: &'static str,
    /// An id unique on the page, for the label.
    id: String,
    code: String,
) -> impl IntoView {
    let status = RwSignal::new("");
    let text = code.clone();
    let copy = move |_| copy_to_clipboard(text.clone(), status);
    view! {
        <div class="snippet">
            <div class="snippet-head">
                <span class="snippet-label" id=id.clone()>{label}</span>
                <span class="snippet-status" role="status">{move || status.get()}</span>
                <button type="button" class="button copy" aria-describedby=id.clone() on:click=copy>
                    "Copy"
                </button>
            </div>
            <pre aria-labelledby=id><code>{code}</code></pre>
        </div>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: String, status: RwSignal<&'static str>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let promise = window.navigator().clipboard().write_text(&text);
    leptos::task::spawn_local(async move {
        let ok = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
        status.set(if ok {
            "Copied"
        } else {
            "Copy failed: select the text instead"
        });
    });
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: String, _status: RwSignal<&'static str>) {}
