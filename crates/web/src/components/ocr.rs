//! The OCR demo's pieces: picture, question, model, run controls, answer, privacy note.
//! Used by `/ocr`, `/embed/ocr` and `/kiosk/` (see `crate::ocr` for the state).
//!
//! `data-testid`s and `status[data-state]` follow DESIGN.md's OCR-page contract.

use leptos::prelude::*;
use ocr_protocol::memory::human_bytes;

use crate::ocr::document::{block_html, kind_name, page_of, shown_in_text, BlockBox, Export};
use crate::ocr::{
    duration_text, expected_ms, menu, model_need_text, ms_text, progress_text, DocPage, Mode,
    ModelPick, Ocr, Phase, Task, TilesMode,
};
use crate::use_site;

/// The whole demo.
#[component]
pub fn OcrApp(ocr: Ocr) -> impl IntoView {
    let compact = ocr.mode == Mode::Embed;
    view! {
        <div class="ocr" class:ocr-compact=compact class:ocr-kiosk=move || ocr.kiosk.get()>
            // into_any: each panel's view type is erased, or the whole demo's nested
            // type overflows rustc's query depth when hydrating.
            {view! { <Notices ocr /> }.into_any()}
            <div class="ocr-grid">
                {view! { <PicturePanel ocr /> }.into_any()}
                {view! { <AskPanel ocr /> }.into_any()}
            </div>
            {view! { <AnswerPanel ocr /> }.into_any()}
            {view! { <PrivacyNote ocr /> }.into_any()}
        </div>
    }
}

/// Problems with the link's parameters.
#[component]
fn Notices(ocr: Ocr) -> impl IntoView {
    view! {
        <ul class="ocr-notices" hidden=move || ocr.notices.with(Vec::is_empty)>
            {move || ocr.notices.get().into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
        </ul>
    }
}

#[component]
fn PicturePanel(ocr: Ocr) -> impl IntoView {
    let site = use_site();
    let dragging = RwSignal::new(false);
    let video = NodeRef::<leptos::html::Video>::new();
    let samples = [
        ("samples/receipt.png", "receipt.png", "Receipt"),
        ("samples/screenshot.png", "screenshot.png", "Screenshot"),
    ]
    .into_iter()
    .map(|(path, name, label)| {
        let href = site.href(path);
        view! {
            <button type="button" class="chip" on:click=move |_| ocr.sample(href.clone(), name)>
                {label}
            </button>
        }
    })
    .collect_view();
    let preview = move || {
        ocr.picture.get().map(|p| {
            if p.pdf {
                let pages = p.pages.map(|n| format!(" · {n} page{}", if n == 1 { "" } else { "s" }));
                return view! {
                    <figure class="ocr-preview ocr-preview-pdf" data-testid="pdf-preview">
                        <span class="ocr-pdf-icon" aria-hidden="true">"PDF"</span>
                        <figcaption class="muted">
                            {p.name} {pages} {format!(" · {}", human_bytes(p.bytes as u64))}
                        </figcaption>
                    </figure>
                }
                .into_any();
            }
            let size = p.size.map(|(w, h)| format!("{w} × {h} px"));
            let alt = format!("The picture you chose: {}", p.name);
            view! {
                <figure class="ocr-preview">
                    <img src=p.preview alt=alt />
                    <figcaption class="muted">
                        {p.name} {size.map(|s| format!(" · {s}"))} {format!(" · {}", human_bytes(p.bytes as u64))}
                    </figcaption>
                </figure>
            }
            .into_any()
        })
    };
    let is_pdf = move || ocr.picture.with(|p| p.as_ref().is_some_and(|p| p.pdf));
    view! {
        <section class="card ocr-panel" aria-labelledby="ocr-picture-h">
            <h2 id="ocr-picture-h">"1. Picture"</h2>
            <label
                class="dropzone"
                class:dragging=move || dragging.get()
                on:dragover=move |ev| {
                    ev.prevent_default();
                    dragging.set(true);
                }
                on:dragleave=move |_| dragging.set(false)
                on:drop=move |ev| {
                    dragging.set(false);
                    ocr.on_drop(ev);
                }
            >
                <input
                    type="file"
                    class="visually-hidden"
                    accept="image/png,image/jpeg,image/webp,application/pdf,.pdf"
                    data-testid="image-input"
                    on:change=move |ev| ocr.on_picture_input(ev)
                />
                <span class="dropzone-main">"Choose a picture or a PDF"</span>
                <span class="muted">"or drop it here, or paste it (Ctrl+V). PNG, JPEG, WebP or PDF."</span>
            </label>
            <div class="ocr-row">
                <button
                    type="button"
                    class="chip"
                    hidden=move || ocr.camera.get()
                    on:click=move |_| ocr.open_camera(video)
                >
                    "Use the camera"
                </button>
                <span class="muted">"Samples:"</span>
                {samples}
            </div>
            <div class="ocr-camera-box" hidden=move || !ocr.camera.get()>
                <video class="ocr-camera" node_ref=video autoplay=true playsinline=true muted=true></video>
                <div class="ocr-row">
                    <button type="button" class="button" on:click=move |_| { ocr.capture(false); }>
                        "Take the picture"
                    </button>
                    <button type="button" class="chip" on:click=move |_| ocr.stop_camera()>
                        "Close the camera"
                    </button>
                </div>
            </div>
            {preview}
            <label class="ocr-pages" hidden=move || !is_pdf()>
                <span class="ocr-label">"Pages"</span>
                <input
                    type="text"
                    data-testid="pages"
                    placeholder="all (or 1-3,7)"
                    prop:value=move || ocr.pages.get()
                    on:input=move |ev| ocr.pages.set(event_target_value(&ev))
                />
            </label>
        </section>
    }
}

#[component]
fn AskPanel(ocr: Ocr) -> impl IntoView {
    let tasks = Task::ALL
        .into_iter()
        .map(|t| {
            view! {
                <button
                    type="button"
                    class="chip"
                    aria-pressed=move || if ocr.task.get() == t { "true" } else { "false" }
                    on:click=move |_| ocr.task.set(t)
                >
                    {t.label()}
                </button>
            }
        })
        .collect_view();
    let doc_tasks = ocr_protocol::models::DOCTAGS_PROMPTS
        .iter()
        .enumerate()
        .map(|(i, (label, prompt))| {
            view! {
                <button
                    type="button"
                    class="chip"
                    title=*prompt
                    aria-pressed=move || if ocr.doc_task.get() == i { "true" } else { "false" }
                    on:click=move |_| {
                        ocr.doc_task.set(i);
                        ocr.task.set(Task::Extract);
                    }
                >
                    {*label}
                </button>
            }
        })
        .collect_view();
    let busy = move || ocr.phase.get().busy();
    let doctags = move || ocr.doctags();
    view! {
        <section class="card ocr-panel" aria-labelledby="ocr-ask-h">
            <h2 id="ocr-ask-h">"2. Ask"</h2>
            <div class="ocr-tasks" role="group" aria-label="Task" hidden=doctags>{tasks}</div>
            <div class="ocr-tasks" role="group" aria-label="What to convert" data-testid="doc-task" hidden=move || !doctags()>
                {doc_tasks}
                <p class="muted" data-testid="doc-prompt">{move || format!("The model is asked: “{}”", ocr.prompt())}</p>
            </div>
            <div hidden=doctags>
            <label for="ocr-prompt" class="ocr-label">
                {move || if ocr.task.get() == Task::Ask { "Your question" } else { "The prompt (edit it to ask something else)" }}
            </label>
            <textarea
                id="ocr-prompt"
                class="ocr-prompt"
                data-testid="prompt"
                rows="2"
                placeholder="What would you like to know about the picture?"
                prop:value=move || ocr.prompt()
                on:input=move |ev| {
                    ocr.question.set(event_target_value(&ev));
                    ocr.task.set(Task::Ask);
                }
            ></textarea>
            </div>
            <TilesChoice ocr />
            <ModelChoice ocr />
            <div class="ocr-actions">
                <button type="button" class="button ocr-run" data-testid="run" disabled=busy on:click=move |_| ocr.run()>
                    "Run"
                </button>
                <button type="button" class="chip" data-testid="stop" disabled=move || !busy() on:click=move |_| ocr.stop()>
                    "Stop"
                </button>
            </div>
            <p class="ocr-status" role="status" data-testid="status" data-state=move || ocr.phase.get().as_str()>
                {move || ocr.status.get()}
            </p>
            <div class="ocr-consent" role="alertdialog" aria-labelledby="ocr-consent-q" data-testid="consent" hidden=move || ocr.consent.with(Option::is_none)>
                <p id="ocr-consent-q">
                    "This link’s model comes from "
                    <strong data-testid="consent-host">{move || ocr.consent.get().unwrap_or_default().join(" and ")}</strong>
                    ", not from this site or the Hugging Face Hub. That site learns your address when the model downloads; your picture stays on this device either way."
                </p>
                <button type="button" class="button" data-testid="consent-accept" on:click=move |_| ocr.answer_consent(true)>
                    "Download from there"
                </button>
                <button type="button" class="chip" data-testid="consent-cancel" on:click=move |_| ocr.answer_consent(false)>
                    "Cancel"
                </button>
            </div>
            <p class="ocr-run-notice" role="status" data-testid="notice" hidden=move || ocr.run_notice.with(Option::is_none)>
                {move || ocr.run_notice.get()}
            </p>
            <LoadProgressView ocr />
            <div class="ocr-error" role="alert" data-testid="error" hidden=move || ocr.error.with(Option::is_none)>
                {move || ocr.error.get().map(|e| e.message)}
            </div>
        </section>
    }
}

#[component]
fn TilesChoice(ocr: Ocr) -> impl IntoView {
    // "1 image, about 9 s" for a choice, once the picture's plan is known.
    let detail = move |mode: TilesMode| {
        let pick = ocr.model.get();
        let plan = ocr.picture.get().and_then(|p| p.plan);
        #[cfg(feature = "hydrate")]
        let backend = crate::ocr::expected_backend(&ocr);
        #[cfg(not(feature = "hydrate"))]
        let backend = String::from("wasm");
        // Measurements are kept per worker build and thread count: re-read when it is known.
        let threads = ocr
            .build
            .with(|b| b.as_ref().map_or(1, |b| b.threads.max(1)));
        #[cfg(feature = "hydrate")]
        let measured = crate::ocr::measured_ms_per_frame(&pick, &backend);
        #[cfg(not(feature = "hydrate"))]
        let measured = None;
        let frames = match (mode, plan) {
            (TilesMode::Fast, _) => Some(1),
            (m, Some(plan)) => Some(m.frames(&plan)),
            _ => None,
        }?;
        let grid = match (mode, plan) {
            (TilesMode::Full, Some(p)) if p.rows > 0 => {
                format!("{} × {} tiles + the whole: ", p.rows, p.cols)
            }
            _ => String::new(),
        };
        let images = if frames == 1 {
            "1 image".to_string()
        } else {
            format!("{frames} images")
        };
        let time = expected_ms(&pick, &backend, measured, frames, threads)
            .map(|ms| format!(", {}", duration_text(ms)))
            .unwrap_or_default();
        Some(format!("{grid}{images}{time}"))
    };
    let custom = move || match ocr.tiles.get() {
        TilesMode::Max(n) => Some(n),
        _ => None,
    };
    view! {
        <fieldset class="ocr-tiles">
            <legend class="ocr-label">"Detail"</legend>
            <label>
                <input
                    type="radio"
                    name="ocr-tiles"
                    prop:checked=move || ocr.tiles.get() == TilesMode::Fast
                    on:change=move |_| ocr.tiles.set(TilesMode::Fast)
                />
                " Fast: the whole picture at once "
                <span class="muted">{move || detail(TilesMode::Fast)}</span>
            </label>
            <label>
                <input
                    type="radio"
                    name="ocr-tiles"
                    prop:checked=move || ocr.tiles.get() == TilesMode::Full
                    on:change=move |_| ocr.tiles.set(TilesMode::Full)
                />
                " Full detail: in tiles, for small print "
                <span class="muted">{move || detail(TilesMode::Full)}</span>
            </label>
            {move || custom().map(|n| view! {
                <label>
                    <input type="radio" name="ocr-tiles" checked=true />
                    {format!(" At most {n} tiles (from the link) ")}
                    <span class="muted">{detail(TilesMode::Max(n))}</span>
                </label>
            })}
        </fieldset>
    }
}

#[component]
fn ModelChoice(ocr: Ocr) -> impl IntoView {
    let options = menu()
        .map(|(id, label)| {
            view! {
                <option value=id selected=move || ocr.model.get() == ModelPick::Menu(id)>
                    {label}
                </option>
            }
        })
        .collect_view();
    let extra = move || match ocr.model.get() {
        ModelPick::Menu(_) => None,
        other => Some(view! { <option value="" selected=true>{other.label()}</option> }),
    };
    let loaded = move || {
        ocr.loaded.get().map(|i| {
            format!(
                "Loaded: {} ({}){}",
                i.label,
                human_bytes(i.files_bytes),
                if i.from_cache {
                    ", from this browser’s storage"
                } else {
                    ""
                }
            )
        })
    };
    let memory = move || {
        ocr.memory.get().map(|(files, need)| {
            format!(
                "This model: {} of files, about {} of memory.",
                human_bytes(files),
                human_bytes(need)
            )
        })
    };
    view! {
        <details class="ocr-model">
            <summary>"Model: " {move || ocr.model.get().label()}</summary>
            <label for="ocr-model-select" class="ocr-label">"Model and quantization"</label>
            <select id="ocr-model-select" data-testid="model-menu" on:change=move |ev| ocr.select_model(event_target_value(&ev))>
                {options}
                {extra}
            </select>
            <p class="muted" data-testid="model-need">{move || model_need_text(&ocr.model.get())}</p>
            <p class="muted">{memory}</p>
            <p class="muted">{loaded}</p>
            <label class="chip file-chip">
                "Use model files from this device"
                <input
                    type="file"
                    class="visually-hidden"
                    multiple=true
                    accept=".gguf,.json,.safetensors,.jinja"
                    data-testid="model-files"
                    on:change=move |ev| ocr.on_model_input(ev)
                />
            </label>
            <button type="button" class="chip" on:click=move |_| ocr.clear_cache()>
                "Delete downloaded models"
            </button>
        </details>
    }
}

#[component]
fn LoadProgressView(ocr: Ocr) -> impl IntoView {
    let fraction = move || {
        ocr.progress.get().and_then(|p| {
            let total = p.total.filter(|t| *t > 0)?;
            Some((p.loaded as f64 / total as f64).min(1.0))
        })
    };
    view! {
        <div class="ocr-progress" data-testid="progress" hidden=move || ocr.progress.with(Option::is_none)>
            <progress max="1" value=move || fraction().map(|f| format!("{f:.4}"))></progress>
            <p class="muted">
                {move || ocr.progress.get().map(|p| progress_text(&p, ocr.memory.get().map(|m| m.0)))}
            </p>
            <button
                type="button"
                class="chip"
                hidden=move || ocr.phase.get() != Phase::Loading
                on:click=move |_| ocr.stop()
            >
                "Cancel download"
            </button>
        </div>
    }
}

#[component]
fn AnswerPanel(ocr: Ocr) -> impl IntoView {
    let empty = move || ocr.output.with(String::is_empty);
    let ids = move || {
        ocr.ids
            .with(|ids| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
    };
    let stat = |label: &'static str, value: Signal<String>| {
        view! {
            <div>
                <dt>{label}</dt>
                <dd>{value}</dd>
            </div>
        }
    };
    let s = ocr.stats;
    let load = Signal::derive(move || {
        s.with(|s| {
            s.load_ms
                .map(|ms| {
                    format!(
                        "{}{}",
                        ms_text(ms),
                        if s.from_cache { " (cached)" } else { "" }
                    )
                })
                .unwrap_or_else(|| "—".into())
        })
    });
    let vision = Signal::derive(move || {
        s.with(|s| {
            s.vision_ms
                .map(|ms| {
                    format!(
                        "{} for {} image{}",
                        ms_text(ms),
                        s.frames,
                        if s.frames == 1 { "" } else { "s" }
                    )
                })
                .unwrap_or_else(|| "—".into())
        })
    });
    let first = Signal::derive(move || {
        s.with(|s| s.first_token_ms.map(ms_text).unwrap_or_else(|| "—".into()))
    });
    let speed = Signal::derive(move || {
        s.with(|s| {
            s.tokens_per_s
                .map(|t| format!("{t:.1} tokens/s"))
                .unwrap_or_else(|| "—".into())
        })
    });
    view! {
        <section class="card ocr-answer" aria-labelledby="ocr-answer-h">
            <div class="ocr-answer-head">
                <h2 id="ocr-answer-h">"3. Answer"</h2>
                <span class="snippet-status" role="status">{move || ocr.copied.get()}</span>
                <div class="ocr-row" hidden=move || !ocr.doc.with(Vec::is_empty)>
                    <button type="button" class="chip" disabled=empty on:click=move |_| ocr.copy()>"Copy"</button>
                    <button type="button" class="chip" disabled=empty on:click=move |_| ocr.download(false)>".txt"</button>
                    <button type="button" class="chip" disabled=empty on:click=move |_| ocr.download(true)>".md"</button>
                </div>
            </div>
            {move || (!ocr.doc.with(Vec::is_empty)).then(|| view! { <DocumentView ocr /> }.into_any())}
            <output
                class="ocr-output"
                hidden=move || !ocr.doc.with(Vec::is_empty)
                data-testid="output"
                data-token-ids=ids
                aria-busy=move || if ocr.phase.get().busy() { "true" } else { "false" }
            >
                {move || ocr.output.get()}
            </output>
            <dl class="ocr-stats">
                <div>
                    <dt>"Backend"</dt>
                    <dd data-testid="backend">{move || s.with(|s| s.backend.clone().unwrap_or_else(|| "—".into()))}</dd>
                </div>
                <div>
                    <dt>"CPU build"</dt>
                    <dd
                        data-testid="build"
                        data-build=move || ocr.build.with(|b| b.as_ref().map(|b| b.name.clone()))
                        data-threads=move || ocr.build.with(|b| b.as_ref().map(|b| b.threads))
                    >
                        {move || ocr.build.with(|b| b.as_ref().map_or_else(|| "—".into(), |b| b.summary()))}
                        <span class="muted" data-testid="build-why">
                            {move || ocr.build.with(|b| b.as_ref().and_then(|b| b.why.clone()).map(|w| format!(" ({w})")))}
                        </span>
                    </dd>
                </div>
                {stat("Model load", load)}
                {stat("Picture", vision)}
                {stat("First token", first)}
                {stat("Speed", speed)}
            </dl>
        </section>
    }
}

/// A document's pages: each page as the model saw it with its blocks' boxes over it, and
/// beside it the blocks as text (hovering one lights its box); Copy and downloads of the
/// whole as Markdown, HTML and JSON.
#[component]
fn DocumentView(ocr: Ocr) -> impl IntoView {
    let exports = Export::ALL
        .into_iter()
        .map(|f| {
            view! {
                <button
                    type="button"
                    class="chip"
                    data-testid=format!("doc-download-{}", f.extension())
                    on:click=move |_| ocr.download_document(f)
                >
                    {format!(".{}", f.extension())}
                </button>
            }
        })
        .collect_view();
    let pages = move || {
        ocr.doc
            .get()
            .into_iter()
            .enumerate()
            .map(|(pi, page)| view! { <DocPageView ocr pi page /> })
            .collect_view()
    };
    view! {
        <div class="doc" data-testid="document">
            <div class="ocr-row">
                <button type="button" class="chip" data-testid="doc-copy" on:click=move |_| ocr.copy_document()>
                    "Copy Markdown"
                </button>
                {exports}
            </div>
            {pages}
        </div>
    }
}

#[component]
fn DocPageView(ocr: Ocr, pi: usize, page: DocPage) -> impl IntoView {
    let parsed = page_of(&page);
    let boxes = parsed
        .blocks
        .iter()
        .enumerate()
        .filter_map(|(bi, block)| {
            let b = BlockBox::of(block)?;
            let lit = move || ocr.hovered.get() == Some((pi, bi));
            Some(view! {
                <span
                    class="doc-box"
                    class:lit=lit
                    data-testid="doc-box"
                    data-kind=kind_name(block.kind)
                    style=b.style()
                ></span>
            })
        })
        .collect_view();
    let blocks = parsed
        .blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| shown_in_text(b))
        .map(|(bi, block)| {
            view! {
                <div
                    class="doc-block"
                    data-testid="doc-block"
                    on:mouseenter=move |_| ocr.hovered.set(Some((pi, bi)))
                    on:mouseleave=move |_| ocr.hovered.set(None)
                    inner_html=block_html(block)
                ></div>
            }
        })
        .collect_view();
    let ids = page
        .ids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let image = page.image.clone().map(|(url, w, h)| {
        view! {
            <img src=url width=w height=h alt=format!("Page {} as the model saw it", page.number) />
        }
    });
    view! {
        <section
            class="doc-page"
            data-testid="doc-page"
            data-page=page.number
            data-done=if page.done { "true" } else { "false" }
            data-token-ids=ids
            data-doctags=page.doctags.clone()
        >
            <h3>{format!("Page {}", page.number)}</h3>
            <div class="doc-page-body">
                <div class="doc-image">{image} {boxes}</div>
                <div class="doc-text">{blocks}</div>
            </div>
        </section>
    }
}

#[component]
fn PrivacyNote(ocr: Ocr) -> impl IntoView {
    let site = use_site();
    if ocr.mode == Mode::Embed {
        return view! {
            <p class="ocr-privacy-line">
                "Runs in your browser: the picture is never uploaded. "
                <a href=format!("{}ocr/", site.url) target="_blank" rel="noopener">"Private OCR by Ship or Skip ↗"</a>
            </p>
        }
        .into_any();
    }
    view! {
        <section class="ocr-privacy" aria-labelledby="ocr-privacy-h">
            <h2 id="ocr-privacy-h">"Your picture stays on this device"</h2>
            <p>
                "The picture is read by this page and handed to a worker thread in this same tab. "
                "It is never uploaded: the only downloads are this site’s own files and the model’s files "
                "(from the Hugging Face Hub, or from this site’s " <code>"/models/"</code> " folder), "
                "and the model is then kept in your browser, so the next visit downloads nothing."
            </p>
            <p class="muted">
                "SmolVLM2 runs through candle compiled to WebAssembly (SIMD128) on your processor, "
                "or on your graphics card through WebGPU where this browser has one (" <code>"backend=webgpu"</code> " forces it). "
                "On a CPU it runs on every core this page may use (threads need a cross-origin isolated page) "
                "and full detail still takes a minute or more; the fast choice reads the whole picture as one image."
            </p>
        </section>
    }
    .into_any()
}
