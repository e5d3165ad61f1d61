//! `/ocr` (the private OCR demo), `/embed/ocr` (the same as a widget for other sites'
//! iframes) and `/kiosk/` (full screen with a camera loop, for a conference stand).

use catalog::SITE_NAME;
use leptos::prelude::*;

use crate::components::{OcrApp, Shell};
use crate::ocr::{Mode, Ocr};

#[component]
pub fn OcrPage() -> impl IntoView {
    let ocr = Ocr::new(Mode::Page);
    view! {
        <Shell>
            <header class="page-head">
                <p class="eyebrow">"Private OCR · SmolVLM2 in your browser"</p>
                <h1>"Read the text in a picture, on your own device"</h1>
                <p class="lede">
                    "Pick a receipt, a screenshot or a photo of a page: SmolVLM2 reads it right here in your browser. "
                    "The picture never leaves this device."
                </p>
            </header>
            <KioskBar ocr />
            <OcrApp ocr />
        </Shell>
    }
}

/// The widget for other sites: no header or footer; posts its height to the parent page.
#[component]
pub fn EmbedOcr() -> impl IntoView {
    let ocr = Ocr::new(Mode::Embed);
    view! {
        <div class="ocr-embed">
            <OcrApp ocr />
        </div>
        <script inner_html=OCR_EMBED_HEIGHT_SCRIPT></script>
    }
}

/// Full screen with large type: the camera reads whatever is held up to it, again and again.
#[component]
pub fn KioskPage() -> impl IntoView {
    let ocr = Ocr::new(Mode::Kiosk);
    view! {
        <main class="kiosk-page" id="main">
            <header class="kiosk-head">
                <h1>"Read any text, privately"</h1>
                <p>{format!("Hold a page up to the camera. SmolVLM2 runs on this computer: nothing is uploaded. — {SITE_NAME}")}</p>
            </header>
            <KioskBar ocr />
            <OcrApp ocr />
        </main>
    }
}

/// Kiosk controls (shown only in kiosk mode).
#[component]
fn KioskBar(ocr: Ocr) -> impl IntoView {
    view! {
        <div class="kiosk-bar" hidden=move || !ocr.kiosk.get()>
            <button type="button" class="button" disabled=move || ocr.looping.get() on:click=move |_| ocr.start_kiosk()>
                "Start: full screen and camera"
            </button>
            <button type="button" class="chip" disabled=move || !ocr.looping.get() on:click=move |_| ocr.stop_camera()>
                "Pause"
            </button>
        </div>
    }
}

/// Posts the widget's height to the parent page whenever it changes, as the verdict card
/// does (`{"type": "embed-height", "height": N}`).
pub const OCR_EMBED_HEIGHT_SCRIPT: &str = r#"(function(){var last=-1;var el=document.querySelector(".ocr-embed");if(!el)return;function post(){var h=Math.ceil(el.getBoundingClientRect().height);if(h!==last){last=h;if(window.parent!==window){window.parent.postMessage({type:"embed-height",height:h},"*");}}}if(window.ResizeObserver){new ResizeObserver(post).observe(el);}window.addEventListener("load",post);post();})();"#;
