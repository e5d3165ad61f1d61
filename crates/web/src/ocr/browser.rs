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
use ocr_protocol::{
    BackendChoice, Event, Failure, FailureKind, ModelSource, OcrParams, Request, RunRequest, Scope,
    StopKind,
};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, BlobPropertyBag, File, HtmlVideoElement, MediaStream, MediaStreamConstraints, Url,
};

use super::client::{Client, Incoming};
use super::{LoadProgress, ModelPick, Ocr, Phase, Picture, Task, TilesMode};
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
    next_id: u32,
    load_id: Option<u32>,
    run_id: Option<u32>,
    image_id: u32,
    /// Run once the load in progress finishes.
    pending_run: bool,
    /// What the worker has loaded (a crash or a restart forgets it).
    loaded_pick: Option<ModelPick>,
    stop_timer: Option<i32>,
    rate: RateMeter,
    stream: Option<MediaStream>,
    paste_listener: Option<Closure<dyn FnMut(web_sys::ClipboardEvent)>>,
    run_started: f64,
    /// The link's test hook `gpu_lose_after=N`, passed on with every run.
    gpu_lose_after: Option<u32>,
}

/// Download speed over a sliding window of about two seconds.
#[derive(Default)]
struct RateMeter {
    file: String,
    samples: Vec<(f64, u64)>,
}

impl RateMeter {
    fn push(&mut self, file: &str, t: f64, loaded: u64) -> Option<f64> {
        if self.file != file {
            self.file = file.to_string();
            self.samples.clear();
        }
        self.samples.push((t, loaded));
        self.samples.retain(|(s, _)| t - s <= 2500.0);
        let (t0, l0) = *self.samples.first()?;
        (t - t0 >= 400.0).then(|| (loaded.saturating_sub(l0)) as f64 / ((t - t0) / 1000.0))
    }
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
    let build = match backend {
        "wasm" => WORKER_BUILD.with(|b| format!(":{}", b.borrow())),
        _ => String::new(),
    };
    format!("ocr-ms-per-frame:{backend}{build}:{}", pick.label())
}

fn remember_ms_per_frame(pick: &ModelPick, backend: &str, ms: f64) {
    if let Some(s) = storage() {
        let _ = s.set_item(&frames_key(pick, backend), &format!("{ms:.0}"));
    }
}

/// Where `backend=auto` ran last time on this device.
const AUTO_BACKEND_KEY: &str = "ocr-auto-backend";

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

    fn next_id(&self) -> u32 {
        self.with_inner(|i| {
            i.next_id += 1;
            i.next_id
        })
        .unwrap_or(0)
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
        if p.kiosk {
            self.kiosk.set(true);
        }
        self.with_inner(|i| i.gpu_lose_after = p.gpu_lose_after);
        let resolve = |u: &str| {
            Url::new_with_base(u, &href)
                .map(|u| u.href())
                .map_err(|_| format!("model address {u:?} is not a URL"))
        };
        match p.model_source(resolve) {
            Ok(Some(src)) => self.model.set(ModelPick::Link(src)),
            Ok(None) => {}
            Err(msg) => self.fail(Failure::new(FailureKind::ModelAddress, msg)),
        }
        self.notices.set(p.problems);
        (p.threads, p.build)
    }

    fn on_incoming(&self, incoming: Incoming) {
        match incoming {
            Incoming::Crash { message, oom } => self.crashed(&message, oom),
            Incoming::Event(e) => self.on_event(e),
        }
    }

    /// The worker died: say why, and start a fresh one (it will load the model again,
    /// from the browser's storage, at the next run).
    fn crashed(&self, message: &str, oom: u64) {
        let failure = if oom > 0 {
            Failure::new(
                FailureKind::OutOfMemory,
                format!(
                    "The model ran out of memory (it asked for {} more). It was restarted: pick a smaller model or the fast tile choice, and run again.",
                    ocr_protocol::memory::human_bytes(oom)
                ),
            )
        } else {
            Failure::new(
                FailureKind::Crashed,
                format!("The model stopped unexpectedly ({message}). It was restarted: press Run to try again."),
            )
        };
        let was_busy = self.phase.get_untracked().busy();
        self.with_inner(|i| {
            i.loaded_pick = None;
            i.load_id = None;
            i.run_id = None;
            i.pending_run = false;
            if let Some(t) = i.stop_timer.take() {
                clear_timeout(t);
            }
        });
        self.loaded.set(None);
        self.progress.set(None);
        if was_busy || self.phase.get_untracked() != Phase::Error {
            self.fail(failure);
        }
        let ocr = *self;
        // Not from inside the worker's own event handler, which a restart drops.
        spawn_local(async move {
            if let Some(c) = ocr.client() {
                Client::restart(&c);
            }
        });
    }

    fn on_event(&self, e: Event) {
        let (load_id, run_id, image_id) = self
            .with_inner(|i| (i.load_id, i.run_id, i.image_id))
            .unwrap_or((None, None, 0));
        match e {
            Event::Ready { build, .. } => {
                WORKER_BUILD
                    .with(|b| *b.borrow_mut() = format!("{}/{}", build.name, build.threads));
                self.build.set(Some(build));
            }
            Event::Memory {
                load,
                files_bytes,
                need_bytes,
            } if Some(load) == load_id => self.memory.set(Some((files_bytes, need_bytes))),
            Event::Progress {
                load,
                file,
                loaded,
                total,
                from_cache,
            } if Some(load) == load_id => {
                let rate = if from_cache {
                    None
                } else {
                    self.with_inner(|i| i.rate.push(&file, now(), loaded))
                        .flatten()
                };
                self.progress.set(Some(LoadProgress {
                    file,
                    loaded,
                    total,
                    from_cache,
                    rate,
                    stage: None,
                }));
            }
            Event::Stage { load, text } if Some(load) == load_id => {
                self.status.set(text.clone());
                self.progress.update(|p| {
                    if let Some(p) = p {
                        p.stage = Some(text);
                    }
                });
            }
            Event::Loaded { load, info } if Some(load) == load_id => {
                let pick = self.model.get_untracked();
                let run = self
                    .with_inner(|i| {
                        i.load_id = None;
                        i.loaded_pick = Some(pick);
                        std::mem::take(&mut i.pending_run)
                    })
                    .unwrap_or(false);
                self.stats.update(|s| {
                    s.backend = Some(info.backend.clone());
                    s.load_ms = Some(info.load_ms);
                    s.from_cache = info.from_cache;
                });
                if self.backend.get_untracked() == BackendChoice::Auto {
                    if let Some(s) = storage() {
                        let _ = s.set_item(AUTO_BACKEND_KEY, &info.backend);
                    }
                }
                self.progress.set(None);
                self.loaded.set(Some(info));
                // The picture's tiles, now with the model's own settings.
                self.inspect();
                if run {
                    self.send_run();
                } else {
                    self.phase.set(Phase::Idle);
                    self.status.set("The model is ready.".into());
                }
            }
            Event::ImageInfo {
                image,
                width,
                height,
                plan,
            } if image == image_id => {
                self.picture.update(|p| {
                    if let Some(p) = p {
                        p.size = Some((width, height));
                        p.plan = plan;
                    }
                });
                if !self.phase.get_untracked().busy() {
                    self.status
                        .set(format!("Picture ready ({width} × {height}): press Run."));
                }
            }
            Event::Encoding { run, done, frames } if Some(run) == run_id => {
                if self.phase.get_untracked() != Phase::Stopped {
                    self.phase.set(Phase::Encoding);
                    self.status.set(if frames == 1 {
                        "Looking at the picture…".to_string()
                    } else {
                        format!("Looking at the picture: part {} of {frames}…", done + 1)
                    });
                }
            }
            Event::Notice { run, backend, text } if Some(run) == run_id => {
                // The GPU was lost: the CPU runs on. Shown until the next run, never silent.
                self.stats.update(|s| s.backend = Some(backend.clone()));
                self.loaded.update(|l| {
                    if let Some(info) = l {
                        info.backend = backend;
                    }
                });
                self.run_notice.set(Some(text));
            }
            Event::Token { run, id, text } if Some(run) == run_id => {
                if self.phase.get_untracked() != Phase::Stopped {
                    self.phase.set(Phase::Generating);
                    self.status.set("Writing…".into());
                    self.ids.update(|ids| ids.push(id));
                    self.output.set(text);
                }
            }
            Event::Done { run, result } if Some(run) == run_id => {
                self.with_inner(|i| {
                    i.run_id = None;
                    if let Some(t) = i.stop_timer.take() {
                        clear_timeout(t);
                    }
                });
                let t = &result.timings;
                // A run that changed backends on the way says nothing of either's speed.
                let changed = self.run_notice.with_untracked(Option::is_some);
                if t.frames > 0 && t.vision_ms > 0.0 && result.stop != StopKind::Stopped && !changed
                {
                    remember_ms_per_frame(
                        &self.model.get_untracked(),
                        &result.backend,
                        t.vision_ms / t.frames as f64,
                    );
                }
                self.stats.update(|s| {
                    s.backend = Some(result.backend.clone());
                    s.vision_ms = Some(t.vision_ms);
                    s.frames = t.frames;
                    s.first_token_ms = (t.first_token_ms > 0.0).then_some(t.first_token_ms);
                    s.tokens_per_s = t.decode_tokens_per_s;
                    s.tokens = result.generated_ids.len();
                });
                if self.phase.get_untracked() == Phase::Stopped {
                    // Stopped by the visitor: the answer stays as it was at the click.
                    return;
                }
                self.ids.set(result.generated_ids);
                self.output.set(result.text);
                if result.stop == StopKind::Stopped {
                    self.phase.set(Phase::Stopped);
                    self.status.set("Stopped.".into());
                } else {
                    self.phase.set(Phase::Done);
                    self.status.set("Done.".into());
                }
            }
            Event::Failed { scope, failure } => {
                let ours = match scope {
                    Scope::Load(id) => Some(id) == load_id,
                    Scope::Run(id) => Some(id) == run_id,
                    Scope::Image(id) => id == image_id,
                    Scope::Worker => true,
                    Scope::Bench => false,
                };
                if !ours {
                    return;
                }
                if scope == Scope::Worker && failure.kind == FailureKind::Crashed {
                    // A panic: the module traps right after; restart now.
                    self.crashed(&failure.message, 0);
                    self.fail(failure);
                    return;
                }
                self.with_inner(|i| match scope {
                    Scope::Load(_) => {
                        i.load_id = None;
                        i.pending_run = false;
                    }
                    Scope::Run(_) => i.run_id = None,
                    _ => {}
                });
                if matches!(scope, Scope::Image(_)) && self.phase.get_untracked().busy() {
                    // A run reports its own failure.
                    return;
                }
                self.progress.set(None);
                self.fail(failure);
            }
            Event::CacheCleared => {
                self.status
                    .set("The downloaded models were deleted from this browser.".into());
            }
            _ => {}
        }
    }

    /// Run: load the model if it is not the one loaded, then answer.
    pub fn run(&self) {
        if self.phase.get_untracked().busy() {
            return;
        }
        self.error.set(None);
        if self.with_inner(|i| i.image.is_none()).unwrap_or(true) {
            self.refuse("Choose a picture first: a file, a photo, a sample, or paste one.");
            return;
        }
        if self.prompt().is_empty() {
            self.refuse("Type your question about the picture first.");
            return;
        }
        self.output.set(String::new());
        self.ids.set(Vec::new());
        let pick = self.model.get_untracked();
        let loaded = self.with_inner(|i| i.loaded_pick.clone()).flatten();
        if loaded.as_ref() == Some(&pick) {
            self.send_run();
        } else {
            self.load(true);
        }
    }

    fn load(&self, then_run: bool) {
        let pick = self.model.get_untracked();
        let id = self.next_id();
        let (source, files) = match &pick {
            ModelPick::Menu(m) => match ocr_protocol::models::choice(m) {
                Some(c) => (c.source(), None),
                None => return,
            },
            ModelPick::Link(src) => (src.clone(), None),
            ModelPick::Files(names) => {
                let files = Array::new();
                if let Some(picked) = self.with_inner(|i| i.picked_model.clone()) {
                    for f in picked {
                        files.push(&f);
                    }
                }
                (
                    ModelSource::Picked {
                        names: names.clone(),
                    },
                    Some(files),
                )
            }
        };
        self.with_inner(|i| {
            i.load_id = Some(id);
            i.pending_run = then_run;
            i.loaded_pick = None;
            i.rate = RateMeter::default();
        });
        self.loaded.set(None);
        self.memory.set(None);
        self.run_notice.set(None);
        self.phase.set(Phase::Loading);
        self.status.set("Getting the model ready…".into());
        self.progress.set(Some(LoadProgress {
            stage: Some("Looking for the model…".into()),
            ..Default::default()
        }));
        self.send(
            &Request::Load {
                load: id,
                source,
                backend: self.backend.get_untracked(),
            },
            None,
            files,
        );
    }

    fn send_run(&self) {
        let Some(image) = self.with_inner(|i| i.image.clone()).flatten() else {
            return;
        };
        let id = self.next_id();
        self.with_inner(|i| {
            i.run_id = Some(id);
            i.run_started = now();
        });
        self.phase.set(Phase::Encoding);
        self.status.set("Looking at the picture…".into());
        self.run_notice.set(None);
        self.stats.update(|s| {
            s.vision_ms = None;
            s.first_token_ms = None;
            s.tokens_per_s = None;
            s.tokens = 0;
        });
        // A copy for the worker (transferred: the page keeps its own for the next run).
        let bytes = Uint8Array::from(image.as_slice()).buffer();
        self.send(
            &Request::Run(RunRequest {
                run: id,
                prompt: self.prompt(),
                tiles: self.tiles.get_untracked().tiles(),
                max_new_tokens: self.max_new_tokens.get_untracked(),
                min_new_tokens: self.min_new_tokens.get_untracked(),
                gpu_lose_after: self.with_inner(|i| i.gpu_lose_after).flatten(),
            }),
            Some(bytes),
            None,
        );
    }

    /// Stop: cancel the download, or end the run at once (the worker is restarted if it
    /// does not stop within a moment).
    pub fn stop(&self) {
        match self.phase.get_untracked() {
            Phase::Loading => {
                self.send(&Request::CancelLoad, None, None);
                self.with_inner(|i| {
                    i.load_id = None;
                    i.pending_run = false;
                });
                self.progress.set(None);
                self.phase.set(Phase::Stopped);
                self.status
                    .set("Download cancelled. What arrived is kept: Run resumes it.".into());
            }
            Phase::Encoding | Phase::Generating => {
                let Some(run) = self.with_inner(|i| i.run_id).flatten() else {
                    return;
                };
                self.send(&Request::Stop { run }, None, None);
                self.phase.set(Phase::Stopped);
                self.status.set("Stopped.".into());
                let ocr = *self;
                let timer = set_timeout(STOP_GRACE_MS, move || {
                    let still = ocr.with_inner(|i| i.run_id == Some(run)).unwrap_or(false);
                    if still {
                        // One frame of the vision encoder cannot be interrupted.
                        ocr.with_inner(|i| {
                            i.run_id = None;
                            i.loaded_pick = None;
                            i.stop_timer = None;
                        });
                        ocr.loaded.set(None);
                        if let Some(c) = ocr.client() {
                            Client::restart(&c);
                        }
                        ocr.status
                            .set("Stopped. The model was restarted and will load again from this browser’s storage.".into());
                    }
                });
                self.with_inner(|i| i.stop_timer = Some(timer));
            }
            _ => {}
        }
    }

    /// A picture from a file (picker, drop, paste).
    pub fn picture_file(&self, file: File) {
        let ocr = *self;
        let name = file.name();
        spawn_local(async move {
            match JsFuture::from(file.array_buffer()).await {
                Ok(buf) => ocr.picture_bytes(name, Uint8Array::new(&buf).to_vec(), &file.type_()),
                Err(e) => ocr.fail(Failure::new(
                    FailureKind::ImageUnsupported,
                    format!("The file {name} could not be read: {}", js_err(e)),
                )),
            }
        });
    }

    /// A picture from its bytes: previewed locally and checked by the worker.
    pub fn picture_bytes(&self, name: String, bytes: Vec<u8>, mime: &str) {
        let preview = blob_url(&bytes, mime).unwrap_or_default();
        if let Some(old) = self.picture.get_untracked() {
            let _ = Url::revoke_object_url(&old.preview);
        }
        let len = bytes.len();
        let copy = Uint8Array::from(bytes.as_slice()).buffer();
        let id = self
            .with_inner(|i| {
                i.image = Some(Rc::new(bytes));
                i.image_id += 1;
                i.image_id
            })
            .unwrap_or(0);
        self.picture.set(Some(Picture {
            name,
            preview,
            bytes: len,
            size: None,
            plan: None,
        }));
        if !self.phase.get_untracked().busy() {
            self.error.set(None);
            self.phase.set(Phase::Idle);
            self.status.set("Checking the picture…".into());
        }
        let settings = self.settings();
        self.send(
            &Request::Inspect {
                image: id,
                settings,
            },
            Some(copy),
            None,
        );
    }

    /// Asks the worker again about the current picture (after a model load).
    fn inspect(&self) {
        let Some((image, id)) = self
            .with_inner(|i| i.image.clone().map(|b| (b, i.image_id)))
            .flatten()
        else {
            return;
        };
        let copy = Uint8Array::from(image.as_slice()).buffer();
        self.send(
            &Request::Inspect {
                image: id,
                settings: self.settings(),
            },
            Some(copy),
            None,
        );
    }

    /// The image settings to plan tiles with before the model is loaded.
    fn settings(&self) -> Option<ocr_protocol::ImageSettings> {
        self.loaded
            .get_untracked()
            .and_then(|i| i.image)
            .or_else(|| self.model.get_untracked().choice().map(|c| c.image))
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
                Err(e) => ocr.fail(Failure::new(
                    FailureKind::ImageUnsupported,
                    format!("The sample could not be loaded: {e}"),
                )),
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
        self.with_inner(|i| i.loaded_pick = None);
        self.send(&Request::ClearCache, None, None);
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
                Err(e) => ocr.fail(Failure::new(
                    FailureKind::ImageUnsupported,
                    format!("The camera could not be opened: {e}"),
                )),
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
            self.fail(Failure::new(
                FailureKind::ImageUnsupported,
                "The camera picture could not be taken.",
            ));
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
        let text = self.output.get_untracked();
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
        let Some(url) = blob_url(body.as_bytes(), &format!("{mime};charset=utf-8")) else {
            return;
        };
        if let Some(a) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.create_element("a").ok())
            .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        {
            a.set_href(&url);
            a.set_download(&name);
            a.click();
        }
        set_timeout(1000, move || {
            let _ = Url::revoke_object_url(&url);
        });
    }
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
