//! What the OCR page does in the browser: reads the link's parameters, takes pictures
//! (file, drop, paste, camera, samples), asks the worker to load and run, shows its
//! events, stops, copies and downloads the answer.
//!
//! The picture goes to the worker with `postMessage` only (transferred bytes); nothing
//! here sends it anywhere else, and the preview is a local `blob:` URL.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos::wasm_bindgen::{closure::Closure, JsCast, JsValue};
use ocr_protocol::{BackendChoice, Failure, FailureKind, OcrParams, Request};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, BlobPropertyBag, File, HtmlVideoElement, MediaStream, MediaStreamConstraints, Url,
};

use super::client::{Client, Incoming};
use super::machine::{self, Input, Machine, Page, AUTO_BACKEND_KEY};
use super::{document, DocPage, ModelPick, Ocr, Phase, Picture, Task, TilesMode};
use crate::use_site;

/// How long a Stop may wait for the worker to finish its step (one image frame can take
/// seconds on the CPU) before the worker is terminated and restarted.
const STOP_GRACE_MS: i32 = 1500;
/// Kiosk: the pause between two readings of the camera.
const KIOSK_PAUSE_MS: i32 = 2500;
/// How soon the kiosk asks a camera that had no frame yet again.
const KIOSK_RETRY_MS: i32 = 250;

/// Browser-only state of the page (not shown directly).
#[derive(Default)]
pub struct Inner {
    client: Option<Rc<RefCell<Client>>>,
    image: Option<Rc<Vec<u8>>>,
    picked_model: Vec<File>,
    /// The page's state and decisions (pure: see [`machine`]).
    machine: Machine,
    stop_timer: Option<i32>,
    stream: Option<MediaStream>,
    paste_listener: Option<Closure<dyn FnMut(web_sys::ClipboardEvent)>>,
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// What this device measured for one encoder frame of a model on a backend (`wasm` or
/// `webgpu`: the GPU may be a hundred times faster), in ms, kept between visits.
pub fn measured_ms_per_frame(pick: &ModelPick, backend: &str) -> Option<f64> {
    storage()?
        .get_item(&frames_key(pick, backend))
        .ok()??
        .parse()
        .ok()
}

thread_local! {
    /// The worker build's name and threads (`relaxed-simd-threads/8`), from its Ready
    /// message: a frame's time on the CPU depends on them as much as on the model.
    static WORKER_BUILD: RefCell<String> = const { RefCell::new(String::new()) };
}

fn frames_key(pick: &ModelPick, backend: &str) -> String {
    WORKER_BUILD.with(|b| machine::frames_key(pick, backend, &b.borrow()))
}

/// The backend the next run is expected on: the loaded model's, else the link's choice
/// (`auto`: where it ran last time here, else the CPU). Reactive.
pub fn expected_backend(ocr: &Ocr) -> String {
    if let Some(b) = ocr.loaded.with(|l| l.as_ref().map(|i| i.backend.clone())) {
        return b;
    }
    match ocr.backend.get() {
        BackendChoice::Wasm => "wasm".into(),
        BackendChoice::Webgpu => "webgpu".into(),
        BackendChoice::Auto => storage()
            .and_then(|s| s.get_item(AUTO_BACKEND_KEY).ok().flatten())
            .unwrap_or_else(|| "wasm".into()),
    }
}

fn js_err(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

impl Ocr {
    fn with_inner<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> Option<R> {
        self.inner.try_update_value(f)
    }

    fn client(&self) -> Option<Rc<RefCell<Client>>> {
        self.with_inner(|i| i.client.clone()).flatten()
    }

    fn send(&self, req: &Request, bytes: Option<js_sys::ArrayBuffer>, files: Option<Array>) {
        if let Some(c) = self.client() {
            Client::send(&c, req, bytes, files);
        }
    }

    /// After hydration: the link's parameters, the worker, paste; cleaned up when the
    /// page goes away.
    pub(super) fn start(self) {
        let ocr = self;
        let site = use_site();
        Effect::new(move |_| {
            let (threads, build) = ocr.apply_params();
            let url = ocr_protocol::params::worker_url(
                &format!("{}ocr-worker-loader.js", site.base),
                threads,
                build.as_deref(),
            );
            let client = Client::start(url, move |incoming| ocr.on_incoming(incoming));
            let paste = Closure::<dyn FnMut(web_sys::ClipboardEvent)>::new(
                move |ev: web_sys::ClipboardEvent| {
                    let file = ev
                        .clipboard_data()
                        .and_then(|d| d.files())
                        .and_then(|f| f.get(0));
                    if let Some(file) = file {
                        ev.prevent_default();
                        ocr.picture_file(file);
                    }
                },
            );
            if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
                let _ =
                    doc.add_event_listener_with_callback("paste", paste.as_ref().unchecked_ref());
            }
            ocr.with_inner(|i| {
                i.client = Some(client);
                i.paste_listener = Some(paste);
            });
        });
        on_cleanup(move || {
            ocr.with_inner(|i| {
                if let Some(c) = i.client.take() {
                    Client::terminate(&c);
                }
                if let (Some(p), Some(doc)) = (
                    i.paste_listener.take(),
                    web_sys::window().and_then(|w| w.document()),
                ) {
                    let _ = doc
                        .remove_event_listener_with_callback("paste", p.as_ref().unchecked_ref());
                }
                if let Some(s) = i.stream.take() {
                    stop_stream(&s);
                }
            });
        });
        // Kiosk: once a reading ends, take the next picture after a pause.
        Effect::new(move |_| {
            let phase = ocr.phase.get();
            if ocr.looping.get()
                && matches!(
                    phase,
                    Phase::Done | Phase::Error | Phase::Stopped | Phase::Idle
                )
            {
                set_timeout(KIOSK_PAUSE_MS, move || ocr.kiosk_tick());
            }
        });
    }

    /// Applies the link's parameters; returns the worker's (`threads=`, `build=`).
    fn apply_params(&self) -> (Option<u32>, Option<String>) {
        let Some(window) = web_sys::window() else {
            return (None, None);
        };
        let location = window.location();
        let search = location.search().unwrap_or_default();
        let href = location.href().unwrap_or_default();
        let p = OcrParams::from_query(&search);
        if let Some(t) = p.tiles {
            self.tiles.set(TilesMode::from_tiles(t));
        }
        if let Some(n) = p.max_new_tokens {
            self.max_new_tokens.set(n);
        }
        if let Some(n) = p.min_new_tokens {
            self.min_new_tokens.set(n);
        }
        self.backend.set(p.backend);
        if let Some(prompt) = &p.prompt {
            self.task.set(Task::Ask);
            self.question.set(prompt.clone());
        }
        if let Some(range) = &p.pages {
            self.pages.set(range.to_string());
        }
        if p.kiosk {
            self.kiosk.set(true);
        }
        let resolve = |u: &str| {
            Url::new_with_base(u, &href)
                .map(|u| u.href())
                .map_err(|_| format!("model address {u:?} is not a URL"))
        };
        match p.model_source(resolve) {
            Ok(Some(src)) => self.model.set(ModelPick::Link(src)),
            Ok(None) => {}
            Err(msg) => self.dispatch(Input::Fail(Failure::new(FailureKind::ModelAddress, msg))),
        }
        self.notices.set(p.problems);
        (p.threads, p.build)
    }

    fn on_incoming(&self, incoming: Incoming) {
        match incoming {
            Incoming::Crash { message, oom } => self.dispatch(Input::Crash { message, oom }),
            Incoming::Event(e, bytes) => {
                if let (
                    ocr_protocol::Event::PageImage {
                        page,
                        width,
                        height,
                        ..
                    },
                    Some(bytes),
                ) = (&e, bytes)
                {
                    // The page as the model saw it, shown under its answer's boxes.
                    let png = Uint8Array::new(&bytes).to_vec();
                    if let Some(url) = blob_url(&png, "image/png") {
                        let (number, size) = (page + 1, (*width, *height));
                        self.doc.update(|doc| {
                            if let Some(p) = doc.iter_mut().find(|p| p.number == number) {
                                if let Some((old, ..)) = p.image.replace((url, size.0, size.1)) {
                                    let _ = Url::revoke_object_url(&old);
                                }
                            }
                        });
                    }
                }
                self.dispatch(Input::Event(e))
            }
        }
    }

    /// What the visitor set, for the machine (read without tracking: this may run inside
    /// an effect, which must not come to depend on the form).
    fn page(&self) -> Page {
        untrack(|| Page {
            model: self.model.get(),
            backend: self.backend.get(),
            prompt: self.prompt(),
            tiles: self.tiles.get().tiles(),
            max_new_tokens: self.max_new_tokens.get(),
            min_new_tokens: self.min_new_tokens.get(),
            now: now(),
            pages: self.pages.get(),
            doctags: self.doctags(),
            foreign_hosts: match self.model.get() {
                ModelPick::Link(src) => {
                    let origin = web_sys::window()
                        .and_then(|w| w.location().origin().ok())
                        .unwrap_or_default();
                    super::foreign_hosts(&src, &origin)
                }
                _ => Vec::new(),
            },
        })
    }

    /// Lets the machine decide what `input` changes, then does it.
    fn dispatch(&self, input: Input) {
        let page = self.page();
        let Some(effects) = self.with_inner(|i| i.machine.apply(&page, input)) else {
            return;
        };
        for effect in effects {
            self.perform(effect);
        }
    }

    fn perform(&self, effect: machine::Effect) {
        match effect {
            machine::Effect::Post {
                request,
                picture,
                files,
            } => {
                // A copy of the picture for the worker (transferred: the page keeps its
                // own for the next run).
                let bytes = picture
                    .then(|| self.with_inner(|i| i.image.clone()).flatten())
                    .flatten()
                    .map(|b| Uint8Array::from(b.as_slice()).buffer());
                let files = files.then(|| {
                    let array = Array::new();
                    if let Some(picked) = self.with_inner(|i| i.picked_model.clone()) {
                        for f in picked {
                            array.push(&f);
                        }
                    }
                    array
                });
                self.send(&request, bytes, files);
            }
            machine::Effect::Remember { key, value } => {
                if let Some(s) = storage() {
                    let _ = s.set_item(&key, &value);
                }
            }
            machine::Effect::RestartWorker => {
                let ocr = *self;
                // Not from inside the worker's own event handler, which a restart drops.
                spawn_local(async move {
                    if let Some(c) = ocr.client() {
                        Client::restart(&c);
                    }
                });
            }
            machine::Effect::StartStopTimer { run } => {
                let ocr = *self;
                let timer = set_timeout(STOP_GRACE_MS, move || {
                    ocr.dispatch(Input::StopGrace { run })
                });
                self.with_inner(|i| i.stop_timer = Some(timer));
            }
            machine::Effect::ClearStopTimer => {
                if let Some(t) = self.with_inner(|i| i.stop_timer.take()).flatten() {
                    clear_timeout(t);
                }
            }
            machine::Effect::Build(build) => {
                WORKER_BUILD.with(|b| *b.borrow_mut() = machine::build_name(&build));
                self.build.set(Some(build));
            }
            machine::Effect::Phase(p) => self.phase.set(p),
            machine::Effect::Status(s) => self.status.set(s),
            machine::Effect::Error(e) => self.error.set(e),
            machine::Effect::Progress(p) => self.progress.set(p),
            machine::Effect::Memory(m) => self.memory.set(m),
            machine::Effect::Loaded(l) => self.loaded.set(l),
            machine::Effect::Stats(s) => self.stats.set(s),
            machine::Effect::RunNotice(n) => self.run_notice.set(n),
            machine::Effect::AskConsent(hosts) => self.consent.set(hosts),
            machine::Effect::Output(o) => self.output.set(o),
            machine::Effect::Ids(ids) => self.ids.set(ids),
            machine::Effect::PushId(id) => self.ids.update(|ids| ids.push(id)),
            machine::Effect::PictureInfo { size, plan, pages } => self.picture.update(|p| {
                if let Some(p) = p {
                    p.size = Some(size);
                    p.plan = plan;
                    p.pages = pages;
                }
            }),
            machine::Effect::DocStart(numbers) => {
                let picture = self.picture.get_untracked();
                let old = self.doc.get_untracked();
                let pages = numbers
                    .unwrap_or_default()
                    .into_iter()
                    .map(|number| DocPage {
                        number,
                        // A picture is its own page; a PDF's pages come from the worker.
                        image: picture
                            .as_ref()
                            .filter(|p| !p.pdf)
                            .and_then(|p| p.size.map(|(w, h)| (p.preview.clone(), w, h))),
                        ..Default::default()
                    })
                    .collect();
                for p in old {
                    if let Some((url, ..)) = p.image {
                        if picture.as_ref().is_none_or(|pic| pic.preview != url) {
                            let _ = Url::revoke_object_url(&url);
                        }
                    }
                }
                self.hovered.set(None);
                self.doc.set(pages);
            }
            machine::Effect::DocPage {
                index,
                text,
                done,
                ids,
            } => self.doc.update(|doc| {
                if let Some(p) = doc.get_mut(index) {
                    p.doctags = text;
                    p.done = done;
                    p.ids = ids;
                }
            }),
        }
    }

    /// Run: load the model if it is not the one loaded, then answer.
    pub fn run(&self) {
        self.dispatch(Input::Run);
    }

    /// The visitor's answer to "download the model from that other site?".
    pub fn answer_consent(&self, yes: bool) {
        self.dispatch(Input::Consent(yes));
    }

    /// Stop: cancel the download, or end the run at once (the worker is restarted if it
    /// does not stop within a moment).
    pub fn stop(&self) {
        self.dispatch(Input::Stop);
    }

    /// A picture from a file (picker, drop, paste).
    pub fn picture_file(&self, file: File) {
        let ocr = *self;
        let name = file.name();
        // Judged by the size the browser knows, before any byte is read into memory.
        if file.size() > ocr_protocol::MAX_PICTURE_FILE_BYTES as f64 {
            self.dispatch(Input::Fail(Failure::new(
                FailureKind::ImageTooLarge,
                format!(
                    "The file {name} is {}: pictures up to {} are read. Pick a smaller file, or a photo of the page.",
                    ocr_protocol::memory::human_bytes(file.size() as u64),
                    ocr_protocol::memory::human_bytes(ocr_protocol::MAX_PICTURE_FILE_BYTES),
                ),
            )));
            return;
        }
        self.dispatch(Input::PictureReading);
        spawn_local(async move {
            match JsFuture::from(file.array_buffer()).await {
                Ok(buf) => ocr.picture_bytes(name, Uint8Array::new(&buf).to_vec(), &file.type_()),
                Err(e) => ocr.dispatch(Input::Fail(Failure::new(
                    FailureKind::ImageUnsupported,
                    format!("The file {name} could not be read: {}", js_err(e)),
                ))),
            }
        });
    }

    /// A picture from its bytes: previewed locally and checked by the worker.
    pub fn picture_bytes(&self, name: String, bytes: Vec<u8>, mime: &str) {
        // A PDF has no preview here: the worker renders its pages when it reads them.
        let pdf = bytes.starts_with(b"%PDF-");
        let preview = if pdf {
            String::new()
        } else {
            blob_url(&bytes, mime).unwrap_or_default()
        };
        if let Some(old) = self.picture.get_untracked() {
            let _ = Url::revoke_object_url(&old.preview);
        }
        let len = bytes.len();
        self.with_inner(|i| i.image = Some(Rc::new(bytes)));
        self.picture.set(Some(Picture {
            name,
            preview,
            bytes: len,
            size: None,
            plan: None,
            pages: None,
            pdf,
        }));
        self.dispatch(Input::Picture);
    }

    /// One of the site's sample pictures (a same-origin file of the site).
    pub fn sample(&self, path: String, name: &'static str) {
        let ocr = *self;
        spawn_local(async move {
            let result = async {
                let window = web_sys::window().ok_or("no window")?;
                let resp: web_sys::Response = JsFuture::from(window.fetch_with_str(&path))
                    .await
                    .map_err(|e| js_err(e))?
                    .unchecked_into();
                if !resp.ok() {
                    return Err(format!("{path} answered {}", resp.status()));
                }
                let buf = JsFuture::from(resp.array_buffer().map_err(|e| js_err(e))?)
                    .await
                    .map_err(|e| js_err(e))?;
                Ok::<_, String>(Uint8Array::new(&buf).to_vec())
            }
            .await;
            match result {
                Ok(bytes) => ocr.picture_bytes(name.to_string(), bytes, "image/png"),
                Err(e) => ocr.dispatch(Input::Fail(Failure::new(
                    FailureKind::ImageUnsupported,
                    format!("The sample could not be loaded: {e}"),
                ))),
            }
        });
    }

    /// Model files picked from this device.
    pub fn model_files(&self, files: Vec<File>) {
        if files.is_empty() {
            return;
        }
        let names: Vec<String> = files.iter().map(|f| f.name()).collect();
        self.with_inner(|i| i.picked_model = files);
        self.model.set(ModelPick::Files(names));
    }

    pub fn clear_cache(&self) {
        self.dispatch(Input::ClearCache);
    }

    /// Starts the camera into `video`.
    pub fn start_camera(&self, video: HtmlVideoElement) {
        let ocr = *self;
        spawn_local(async move {
            let result = async {
                let devices = web_sys::window()
                    .ok_or("no window")?
                    .navigator()
                    .media_devices()
                    .map_err(|_| "this browser has no camera access".to_string())?;
                let constraints = MediaStreamConstraints::new();
                let video_c = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&video_c, &"facingMode".into(), &"environment".into());
                let _ = js_sys::Reflect::set(&video_c, &"width".into(), &JsValue::from(1920));
                constraints.set_video(&video_c);
                let stream: MediaStream = JsFuture::from(
                    devices
                        .get_user_media_with_constraints(&constraints)
                        .map_err(|e| js_err(e))?,
                )
                .await
                .map_err(|e| js_err(e))?
                .unchecked_into();
                video.set_src_object(Some(&stream));
                let _ = video.play();
                Ok::<_, String>(stream)
            }
            .await;
            match result {
                Ok(stream) => {
                    ocr.with_inner(|i| {
                        if let Some(old) = i.stream.replace(stream) {
                            stop_stream(&old);
                        }
                    });
                    ocr.camera.set(true);
                }
                Err(e) => ocr.dispatch(Input::Fail(Failure::new(
                    FailureKind::ImageUnsupported,
                    format!("The camera could not be opened: {e}"),
                ))),
            }
        });
    }

    pub fn stop_camera(&self) {
        self.looping.set(false);
        self.with_inner(|i| {
            if let Some(s) = i.stream.take() {
                stop_stream(&s);
            }
        });
        self.camera.set(false);
    }

    /// Takes a picture from the camera's video (a PNG made in this page). False when the
    /// camera has no frame to give yet.
    pub fn capture(&self, then_run: bool) -> bool {
        let Some(video) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector("video.ocr-camera").ok().flatten())
            .and_then(|v| v.dyn_into::<HtmlVideoElement>().ok())
        else {
            return false;
        };
        let (w, h) = (video.video_width(), video.video_height());
        if w == 0 || h == 0 {
            return false;
        }
        let ocr = *self;
        let result = (|| {
            let doc = web_sys::window()?.document()?;
            let canvas: web_sys::HtmlCanvasElement =
                doc.create_element("canvas").ok()?.dyn_into().ok()?;
            canvas.set_width(w);
            canvas.set_height(h);
            let ctx: web_sys::CanvasRenderingContext2d =
                canvas.get_context("2d").ok()??.dyn_into().ok()?;
            ctx.draw_image_with_html_video_element(&video, 0.0, 0.0)
                .ok()?;
            let done = Closure::once_into_js(move |blob: Option<Blob>| {
                let Some(blob) = blob else {
                    return;
                };
                spawn_local(async move {
                    if let Ok(buf) = JsFuture::from(blob.array_buffer()).await {
                        ocr.picture_bytes(
                            "camera.png".into(),
                            Uint8Array::new(&buf).to_vec(),
                            "image/png",
                        );
                        if then_run {
                            ocr.run();
                        }
                    }
                });
            });
            canvas.to_blob(done.unchecked_ref()).ok()
        })();
        if result.is_none() {
            self.dispatch(Input::Fail(Failure::new(
                FailureKind::ImageUnsupported,
                "The camera picture could not be taken.",
            )));
        }
        true
    }

    /// The kiosk's next reading: a picture from the camera, then Run. A camera whose
    /// video has no frame yet (just started) is asked again shortly, or the loop would
    /// wait forever for a phase change that never comes.
    fn kiosk_tick(&self) {
        if !self.looping.get_untracked() || self.phase.get_untracked().busy() {
            return;
        }
        if !self.capture(true) {
            let ocr = *self;
            set_timeout(KIOSK_RETRY_MS, move || ocr.kiosk_tick());
        }
    }

    pub fn copy(&self) {
        self.write_clipboard(self.output.get_untracked());
    }

    fn write_clipboard(&self, text: String) {
        let copied = self.copied;
        if let Some(w) = web_sys::window() {
            let promise = w.navigator().clipboard().write_text(&text);
            spawn_local(async move {
                let ok = JsFuture::from(promise).await.is_ok();
                copied.set(if ok {
                    "Copied"
                } else {
                    "Copy failed: select the text instead"
                });
            });
        }
    }

    /// Copies the document read so far, as Markdown.
    pub fn copy_document(&self) {
        let text = document::export(&self.doc.get_untracked(), document::Export::Markdown);
        self.write_clipboard(text);
    }

    /// Downloads the document read so far as `.md`, `.html` or `.json` (made here).
    pub fn download_document(&self, format: document::Export) {
        let body = document::export(&self.doc.get_untracked(), format);
        let name = self
            .picture
            .get_untracked()
            .map(|p| p.name)
            .unwrap_or_default();
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        let stem = if stem.is_empty() { "document" } else { stem };
        save(
            body.as_bytes(),
            &format!("{}; charset=utf-8", format.mime()),
            &format!("{stem}.{}", format.extension()),
        );
    }

    /// Downloads the answer as `.txt` or `.md` (made here, from a local blob).
    pub fn download(&self, markdown: bool) {
        let text = self.output.get_untracked();
        let picture = self
            .picture
            .get_untracked()
            .map(|p| p.name)
            .unwrap_or_default();
        let stem = picture
            .rsplit_once('.')
            .map_or(picture.as_str(), |(s, _)| s)
            .to_string();
        let stem = if stem.is_empty() {
            "answer".to_string()
        } else {
            stem
        };
        let (body, name, mime) = if markdown {
            let model = self.model.get_untracked().label();
            (
                format!(
                    "# {}\n\n{}\n\n---\n\nRead on this device by {model}. Prompt: “{}”.\n",
                    if picture.is_empty() {
                        "Answer".to_string()
                    } else {
                        picture.clone()
                    },
                    text,
                    self.prompt()
                ),
                format!("{stem}.md"),
                "text/markdown",
            )
        } else {
            (text, format!("{stem}.txt"), "text/plain")
        };
        save(body.as_bytes(), &format!("{mime};charset=utf-8"), &name);
    }
}

/// Offers `bytes` as a download named `name` (a local blob: nothing is sent anywhere).
fn save(bytes: &[u8], mime: &str, name: &str) {
    let Some(url) = blob_url(bytes, mime) else {
        return;
    };
    if let Some(a) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    set_timeout(1000, move || {
        let _ = Url::revoke_object_url(&url);
    });
}

fn blob_url(bytes: &[u8], mime: &str) -> Option<String> {
    let parts = Array::new();
    parts.push(&Uint8Array::from(bytes));
    let opts = BlobPropertyBag::new();
    if !mime.is_empty() {
        opts.set_type(mime);
    }
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &opts).ok()?;
    Url::create_object_url_with_blob(&blob).ok()
}

fn stop_stream(s: &MediaStream) {
    for track in s.get_tracks().iter() {
        if let Ok(t) = track.dyn_into::<web_sys::MediaStreamTrack>() {
            t.stop();
        }
    }
}

fn set_timeout(ms: i32, f: impl FnOnce() + 'static) -> i32 {
    let cb = Closure::once_into_js(f);
    web_sys::window()
        .and_then(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), ms)
                .ok()
        })
        .unwrap_or(0)
}

fn clear_timeout(id: i32) {
    if let Some(w) = web_sys::window() {
        w.clear_timeout_with_handle(id);
    }
}

/// Adapters from DOM events to the actions above.
impl Ocr {
    pub fn on_picture_input(&self, ev: leptos::ev::Event) {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            self.picture_file(file);
        }
        // Choosing the same file again must fire `change` again.
        input.set_value("");
    }

    pub fn on_drop(&self, ev: leptos::ev::DragEvent) {
        ev.prevent_default();
        if let Some(file) = ev
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0))
        {
            self.picture_file(file);
        }
    }

    pub fn on_model_input(&self, ev: leptos::ev::Event) {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let files: Vec<File> = input
            .files()
            .map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect())
            .unwrap_or_default();
        self.model_files(files);
    }

    pub fn select_model(&self, id: String) {
        if let Some(m) = ocr_protocol::models::choice(&id) {
            self.model.set(ModelPick::Menu(m.id));
        }
    }

    pub fn open_camera(&self, video: NodeRef<leptos::html::Video>) {
        if let Some(v) = video.get_untracked() {
            self.start_camera(v);
        }
    }

    /// Kiosk: full screen, camera on, read again and again.
    pub fn start_kiosk(&self) {
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        if let Some(el) = doc.document_element() {
            let _ = el.request_fullscreen();
        }
        if !self.camera.get_untracked() {
            if let Some(v) = doc
                .query_selector("video.ocr-camera")
                .ok()
                .flatten()
                .and_then(|v| v.dyn_into::<HtmlVideoElement>().ok())
            {
                self.start_camera(v);
            }
        }
        self.looping.set(true);
    }
}
