//! The worker in the browser: the message loop, loads, runs, the benchmark.
//!
//! One request at a time of each kind: a new load cancels the one in progress, a run
//! while another runs is refused (the page never sends one). Long work yields to the
//! event loop between steps (between downloaded chunks, encoded frames and tokens) so a
//! Stop or Cancel message is read at once; the one step that cannot yield is encoding a
//! single frame, which is why the page terminates the worker when a Stop is not answered
//! quickly.

mod fetch;
mod gpu;
mod opfs;
#[cfg(target_feature = "atomics")]
mod pool;

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use js_sys::{Array, ArrayBuffer, Promise, Reflect, Uint8Array};
use ocr_protocol::memory::{self, human_bytes};
use ocr_protocol::models::file_name;
use ocr_protocol::{
    from_json, to_json, BackendChoice, BenchReport, BenchRequest, Build, Event, Failure,
    FailureKind, ModelFile, ModelInfo, ModelSource, Request, RunRequest, RunResult, Scope,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, DedicatedWorkerGlobalScope, File, MessageChannel, MessageEvent};

use crate::bundle::{self, Files, Layout, BESIDE, SAFETENSORS, SAFETENSORS_INDEX};
use fetch::LoadCtx;
use opfs::{js_error, Cache};
use smolvlm_runtime::{picture, Backend, Engine, Events, RunSpec, Step};

/// The system allocator, remembering the size of an allocation that failed: running out
/// of memory aborts (a trap) without a panic message, and the worker's loader script asks
/// for this number to tell the page it was memory.
struct Remembering;

static FAILED_ALLOCATION: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Remembering {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            FAILED_ALLOCATION.store(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            FAILED_ALLOCATION.store(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            FAILED_ALLOCATION.store(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Remembering = Remembering;

/// The size of the last allocation that failed (0: none). Read by `ocr-worker-loader.js`
/// after the module trapped.
#[wasm_bindgen]
pub fn last_failed_allocation() -> usize {
    FAILED_ALLOCATION.load(Ordering::Relaxed)
}

#[derive(Default)]
struct State {
    engine: Option<Rc<Engine>>,
    /// The load in progress: its number, its cancel flag, its fetch aborter.
    load: Option<(u32, Rc<Cell<bool>>, AbortController)>,
    /// The run in progress and its stop flag.
    run: Option<(u32, Rc<Cell<bool>>)>,
    /// The module that runs and its threads.
    build: Build,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

pub(crate) fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Milliseconds from the worker's clock.
pub(crate) fn now() -> f64 {
    scope().performance().map(|p| p.now()).unwrap_or(0.0)
}

/// Sends an event to the page.
pub(crate) fn post(event: &Event) {
    let obj = js_sys::Object::new();
    let _ = Reflect::set(&obj, &"msg".into(), &to_json(event).into());
    if let Err(e) = scope().post_message(&obj) {
        web_sys::console::error_1(&e);
    }
}

/// Lets the event loop run (messages from the page) and comes back at once: a message to
/// ourselves through a MessageChannel, which unlike `setTimeout(0)` is never clamped.
async fn yield_now() {
    let p = Promise::new(&mut |resolve, _| match MessageChannel::new() {
        Ok(ch) => {
            ch.port1().set_onmessage(Some(&resolve));
            let _ = ch.port2().post_message(&JsValue::NULL);
        }
        Err(_) => {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(p).await;
}

/// Starts the worker: `ocr-worker-loader.js` calls this once the module is instantiated
/// (and, in a threaded build, its thread pool started), naming the build it chose and why
/// that one when it is not the fastest of the site's (`why`), which the page shows.
#[wasm_bindgen]
pub fn run_worker(build: String, why: Option<String>) {
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        web_sys::console::error_1(&msg.clone().into());
        post(&Event::Failed {
            scope: Scope::Worker,
            failure: Failure::new(
                FailureKind::Crashed,
                format!("The model worker crashed: {msg}"),
            ),
        });
    }));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(on_message);
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let build = Build {
        name: build,
        threads: threads() as u32,
        why,
    };
    STATE.with(|s| s.borrow_mut().build = build.clone());
    post(&Event::Ready {
        simd128: cfg!(target_feature = "simd128"),
        build,
    });
}

/// Threads the model runs on: the pool's in the threaded build, else one.
fn threads() -> usize {
    #[cfg(target_feature = "atomics")]
    return pool::threads();
    #[cfg(not(target_feature = "atomics"))]
    return 1;
}

/// The build that runs, as `run_worker` was told.
fn build() -> Build {
    STATE.with(|s| s.borrow().build.clone())
}

fn on_message(ev: MessageEvent) {
    let data = ev.data();
    let Some(msg) = Reflect::get(&data, &"msg".into())
        .ok()
        .and_then(|m| m.as_string())
    else {
        return;
    };
    let request: Request = match from_json(&msg) {
        Ok(r) => r,
        Err(e) => {
            post(&Event::Failed {
                scope: Scope::Worker,
                failure: Failure::new(FailureKind::Internal, e),
            });
            return;
        }
    };
    let bytes = Reflect::get(&data, &"bytes".into())
        .ok()
        .and_then(|b| b.dyn_into::<ArrayBuffer>().ok())
        .map(|b| Uint8Array::new(&b).to_vec());
    let files: Vec<File> = Reflect::get(&data, &"files".into())
        .ok()
        .and_then(|f| f.dyn_into::<Array>().ok())
        .map(|a| a.iter().filter_map(|f| f.dyn_into::<File>().ok()).collect())
        .unwrap_or_default();
    match request {
        Request::Load {
            load,
            source,
            backend,
        } => {
            cancel_load();
            let cancel = Rc::new(Cell::new(false));
            let Ok(abort) = AbortController::new() else {
                return;
            };
            STATE.with(|s| s.borrow_mut().load = Some((load, cancel.clone(), abort.clone())));
            spawn_local(async move {
                let result = load_model(load, source, backend, files, cancel, abort).await;
                STATE.with(|s| {
                    let mut s = s.borrow_mut();
                    if s.load.as_ref().is_some_and(|(id, _, _)| *id == load) {
                        s.load = None;
                    }
                });
                match result {
                    Ok(info) => post(&Event::Loaded { load, info }),
                    Err(failure) => post(&Event::Failed {
                        scope: Scope::Load(load),
                        failure,
                    }),
                }
            });
        }
        Request::CancelLoad => cancel_load(),
        Request::Inspect { image, settings } => {
            let Some(bytes) = bytes else {
                return;
            };
            let cfg = STATE
                .with(|s| {
                    s.borrow().engine.as_ref().and_then(|b| {
                        b.loaded()
                            .image_processor
                            .as_ref()
                            .map(|p| p.config.clone())
                    })
                })
                .or_else(|| settings.as_ref().map(picture::config_of));
            match picture::inspect(&bytes, cfg.as_ref()) {
                Ok((width, height, plan)) => post(&Event::ImageInfo {
                    image,
                    width,
                    height,
                    plan,
                }),
                Err(failure) => post(&Event::Failed {
                    scope: Scope::Image(image),
                    failure,
                }),
            }
        }
        Request::Run(req) => {
            let busy = STATE.with(|s| s.borrow().run.is_some());
            if busy {
                post(&Event::Failed {
                    scope: Scope::Run(req.run),
                    failure: Failure::new(FailureKind::BadRequest, "A run is already going on."),
                });
                return;
            }
            let stop = Rc::new(Cell::new(false));
            STATE.with(|s| s.borrow_mut().run = Some((req.run, stop.clone())));
            spawn_local(async move {
                let id = req.run;
                if let Err(failure) = run(req, bytes, stop).await {
                    post(&Event::Failed {
                        scope: Scope::Run(id),
                        failure,
                    });
                }
                STATE.with(|s| s.borrow_mut().run = None);
            });
        }
        Request::Stop { run } => STATE.with(|s| {
            if let Some((id, stop)) = &s.borrow().run {
                if *id == run {
                    stop.set(true);
                }
            }
        }),
        Request::Bench(req) => spawn_local(async move {
            // Let the page hear that the worker took the request before it goes quiet.
            yield_now().await;
            match bench(&req).await {
                Ok(report) => post(&Event::BenchDone { report }),
                Err(failure) => post(&Event::Failed {
                    scope: Scope::Bench,
                    failure,
                }),
            }
        }),
        Request::ClearCache => spawn_local(async {
            match Cache::clear().await {
                Ok(()) => post(&Event::CacheCleared),
                Err(e) => post(&Event::Failed {
                    scope: Scope::Worker,
                    failure: Failure::new(
                        FailureKind::Storage,
                        format!("Could not delete the cached models: {e}"),
                    ),
                }),
            }
        }),
    }
}

fn cancel_load() {
    STATE.with(|s| {
        if let Some((_, cancel, abort)) = s.borrow_mut().load.take() {
            cancel.set(true);
            abort.abort();
        }
    });
}

fn stage(load: u32, text: &str) {
    post(&Event::Stage {
        load,
        text: text.to_string(),
    });
}

/// The current size of the worker's WebAssembly memory.
fn wasm_memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| m.buffer().unchecked_into::<ArrayBuffer>().byte_length() as u64)
        .unwrap_or(0)
}

/// Says what the model needs, refuses what cannot fit, and asks the browser for the
/// memory now, so a device that cannot give it is told before anything is downloaded.
///
/// `gpu`: the backend asked for, when a GPU device is open: the model then also goes to
/// the GPU, and a copy of the files is held for the upload. `Ok(false)`: with `auto`, only
/// the CPU path fits, and the load should not try the GPU.
fn check_memory(load: u32, files_bytes: u64, gpu: Option<BackendChoice>) -> Result<bool, Failure> {
    if let Some(choice) = gpu {
        match reserve(load, files_bytes, memory::need_bytes_with_gpu(files_bytes)) {
            Ok(()) => return Ok(true),
            Err(f) if choice == BackendChoice::Auto => {
                gpu::note(&format!(
                    "backend=auto runs on the CPU: no memory for the GPU's copy of the weights ({})",
                    f.message
                ));
            }
            Err(f) => {
                return Err(Failure::new(
                    f.kind,
                    format!(
                        "{} (On WebGPU the weights are held a second time while they go to the GPU: backend=wasm needs less.)",
                        f.message
                    ),
                ))
            }
        }
    }
    reserve(load, files_bytes, memory::need_bytes(files_bytes)).map(|()| false)
}

/// Tells the page that `need` bytes are needed, and asks the browser for them.
fn reserve(load: u32, files_bytes: u64, need: u64) -> Result<(), Failure> {
    post(&Event::Memory {
        load,
        files_bytes,
        need_bytes: need,
    });
    if !memory::fits_wasm32(need) {
        return Err(Failure::new(
            FailureKind::OutOfMemory,
            format!(
                "This model needs about {} of memory, more than a browser gives a web page's WebAssembly ({}). Pick a smaller model or quantization.",
                human_bytes(need),
                human_bytes(memory::WASM32_MAX_BYTES)
            ),
        ));
    }
    let have = wasm_memory_bytes();
    let mut extra = need.saturating_sub(have);
    // One allocation may not exceed isize::MAX (2 GiB) on wasm32: ask in pieces.
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    while extra > 0 {
        let n = extra.min(1 << 30);
        let mut v: Vec<u8> = Vec::new();
        if v.try_reserve_exact(n as usize).is_err() {
            return Err(Failure::new(
                FailureKind::OutOfMemory,
                format!(
                    "This model needs about {} of memory and this browser tab could get only {}. Close other tabs, or pick a smaller model or quantization.",
                    human_bytes(need),
                    human_bytes(wasm_memory_bytes())
                ),
            ));
        }
        pieces.push(v);
        extra -= n;
    }
    Ok(())
}

/// `https://x/a/b.gguf` → `https://x/a/`.
fn folder_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.rfind('/') {
        Some(i) => path[..=i].to_string(),
        None => String::new(),
    }
}

async fn load_model(
    load: u32,
    source: ModelSource,
    backend: BackendChoice,
    picked: Vec<File>,
    cancel: Rc<Cell<bool>>,
    abort: AbortController,
) -> Result<ModelInfo, Failure> {
    // Free the model we have before loading another.
    STATE.with(|s| s.borrow_mut().engine = None);
    let t0 = now();
    // The device first: with backend=webgpu and no WebGPU, nothing is downloaded.
    let mut device = gpu::open(backend).await?;
    let gpu_asked = device.as_ref().map(|_| backend);
    let label = source.label();
    let is_picked = matches!(source, ModelSource::Picked { .. });
    let cache = if is_picked {
        None
    } else {
        match Cache::open().await {
            Ok(c) => Some(c),
            Err(e) => {
                web_sys::console::warn_1(&format!("no model cache (OPFS): {e}").into());
                None
            }
        }
    };
    let ctx = LoadCtx {
        load,
        cancel,
        abort,
        cache,
        downloaded: Cell::new(false),
    };
    let mut urls: Vec<String> = Vec::new();
    let (layout, files) = match &source {
        ModelSource::Gguf { model, mmproj } => {
            let sizes = (ctx.size_of(model).await, ctx.size_of(mmproj).await);
            if let (Some(a), Some(b)) = sizes {
                if !check_memory(load, a + b, gpu_asked)? {
                    // `auto` without memory for the GPU's copy of the weights: the CPU alone.
                    device = None;
                }
            }
            let mut files = Files::new();
            let base = folder_of(&model.url);
            for name in BESIDE {
                let url = format!("{base}{name}");
                if let Some(bytes) = ctx.get(&ModelFile::url(&url), true).await? {
                    files.insert(*name, bytes);
                    urls.push(url);
                }
            }
            let text = file_name(&model.url).to_string();
            let mut vision = file_name(&mmproj.url).to_string();
            if vision == text {
                vision = format!("mmproj-{vision}");
            }
            for (name, file) in [(&text, model), (&vision, mmproj)] {
                let bytes = ctx.get(file, false).await?.unwrap_or_default();
                files.insert(name.clone(), bytes);
                urls.push(file.url.clone());
            }
            (
                Layout::Gguf {
                    text,
                    mmproj: vision,
                    either_order: false,
                },
                files,
            )
        }
        ModelSource::HubFolder { url } => {
            let base = if url.ends_with('/') {
                url.clone()
            } else {
                format!("{url}/")
            };
            let at = |name: &str| ModelFile::url(format!("{base}{name}"));
            let mut files = Files::new();
            let config = ctx
                .get(&at("config.json"), false)
                .await?
                .unwrap_or_default();
            files.insert("config.json", config);
            urls.push(at("config.json").url);
            for name in BESIDE {
                if let Some(bytes) = ctx.get(&at(name), true).await? {
                    files.insert(*name, bytes);
                    urls.push(at(name).url);
                }
            }
            // The weights: one file, or the shards of an index. Sizes first.
            let single = at(SAFETENSORS);
            let shards: Vec<String> = match ctx.size_of(&single).await {
                Some(_) => vec![SAFETENSORS.to_string()],
                None => match ctx.get(&at(SAFETENSORS_INDEX), true).await? {
                    Some(index) => {
                        let names = bundle::shard_names(&index)
                            .map_err(|e| Failure::new(FailureKind::ModelCorrupt, e.to_string()))?;
                        files.insert(SAFETENSORS_INDEX, index);
                        names
                    }
                    None => vec![SAFETENSORS.to_string()],
                },
            };
            let mut total = Some(files.bytes());
            for s in &shards {
                total = match (total, ctx.size_of(&at(s)).await) {
                    (Some(t), Some(n)) => Some(t + n),
                    _ => None,
                };
            }
            if let Some(t) = total {
                if !check_memory(load, t, gpu_asked)? {
                    // `auto` without memory for the GPU's copy of the weights: the CPU alone.
                    device = None;
                }
            }
            for s in &shards {
                let bytes = ctx.get(&at(s), false).await?.unwrap_or_default();
                files.insert(s.clone(), bytes);
                urls.push(at(s).url);
            }
            (Layout::HubFolder, files)
        }
        ModelSource::Picked { .. } => {
            let total: f64 = picked.iter().map(|f| f.size()).sum();
            if !check_memory(load, total as u64, gpu_asked)? {
                // `auto` without memory for the GPU's copy of the weights: the CPU alone.
                device = None;
            }
            let mut files = Files::new();
            for f in &picked {
                let bytes = read_file(&ctx, f).await?;
                files.insert(f.name(), bytes);
            }
            let layout = bundle::layout_of_picked(&files)
                .map_err(|e| Failure::new(FailureKind::ModelCorrupt, e.to_string()))?;
            (layout, files)
        }
    };
    if ctx.cancel.get() {
        return Err(Failure::new(FailureKind::Cancelled, "Loading cancelled."));
    }
    let files_bytes = files.bytes();
    stage(load, "Reading the weights…");
    yield_now().await;
    // The GPU model's copy of the weights, before the CPU model takes the files.
    // (None with a device: a file is missing, which the CPU load reports, or no memory.)
    let gpu_weights = device
        .as_ref()
        .and_then(|_| gpu::copy_weights(&layout, &files));
    let loaded = bundle::load(&layout, files, &candle_core::Device::Cpu).map_err(|e| {
        let (kind, what) = match &e {
            bundle::LoadError::Missing(_) => (FailureKind::ModelCorrupt, "is incomplete"),
            bundle::LoadError::Invalid(_) => (FailureKind::ModelCorrupt, "could not be read"),
        };
        Failure::new(
            kind,
            format!(
                "The model {what}: {e}.{}",
                if is_picked {
                    ""
                } else {
                    " Its cached copy was deleted: loading again downloads it afresh."
                }
            ),
        )
    });
    let loaded = match loaded {
        Ok(l) => l,
        Err(f) => {
            ctx.evict(&urls).await;
            return Err(f);
        }
    };
    let config = loaded.model.config().clone();
    let image = loaded
        .image_processor
        .as_ref()
        .map(|p| picture::settings_of(&p.config));
    let gpu_model = match (&device, gpu_weights) {
        (Some(device), Some(weights)) => {
            stage(load, "Putting the model on the GPU…");
            yield_now().await;
            gpu::upload(device, backend, &layout, weights, &loaded)?
        }
        (Some(_), None) if backend == BackendChoice::Webgpu => {
            return Err(Failure::new(
                FailureKind::OutOfMemory,
                "Not enough memory for a copy of the weights for the GPU. Use backend=wasm or backend=auto, or a smaller model.",
            ))
        }
        (Some(_), None) => {
            gpu::note("backend=auto runs on the CPU: no memory for a copy of the weights");
            None
        }
        (None, _) => None,
    };
    let engine = Engine::new(loaded, gpu_model);
    let info = ModelInfo {
        label,
        backend: backend_name(engine.backend()).to_string(),
        files_bytes,
        from_cache: !ctx.downloaded.get() && !is_picked,
        load_ms: now() - t0,
        image,
        max_context: config.max_context() as u32,
        image_seq_len: config.image_seq_len() as u32,
    };
    STATE.with(|s| s.borrow_mut().engine = Some(Rc::new(engine)));
    Ok(info)
}

/// A picked file's bytes, read in slices (the whole file never sits in JavaScript's
/// memory beside WebAssembly's).
async fn read_file(ctx: &LoadCtx, f: &File) -> Result<Vec<u8>, Failure> {
    const SLICE: f64 = 16.0 * 1024.0 * 1024.0;
    let size = f.size();
    let name = f.name();
    let mut out: Vec<u8> = Vec::new();
    out.try_reserve_exact(size as usize).map_err(|_| {
        Failure::new(
            FailureKind::OutOfMemory,
            format!("Not enough memory to read {name}."),
        )
    })?;
    let mut at = 0.0;
    while at < size {
        if ctx.cancel.get() {
            return Err(Failure::new(FailureKind::Cancelled, "Loading cancelled."));
        }
        let end = (at + SLICE).min(size);
        let blob = f.slice_with_f64_and_f64(at, end).map_err(|e| {
            Failure::new(
                FailureKind::ModelCorrupt,
                format!("{name}: {}", js_error(e)),
            )
        })?;
        let buf = JsFuture::from(blob.array_buffer()).await.map_err(|e| {
            Failure::new(
                FailureKind::ModelCorrupt,
                format!("{name} could not be read: {}", js_error(e)),
            )
        })?;
        let chunk = Uint8Array::new(&buf);
        let start = out.len();
        out.resize(start + chunk.length() as usize, 0);
        chunk.copy_to(&mut out[start..]);
        at = end;
        post(&Event::Progress {
            load: ctx.load,
            file: name.clone(),
            loaded: at as u64,
            total: Some(size as u64),
            from_cache: true,
        });
    }
    Ok(out)
}

/// The runtime's events of run `run`, as messages to the page and lines on the console.
struct Post {
    run: u32,
}

impl Events for Post {
    fn encoding(&mut self, done: u32, frames: u32) {
        post(&Event::Encoding {
            run: self.run,
            done,
            frames,
        });
    }

    fn notice(&mut self, text: &str) {
        // After a notice the CPU runs the run.
        post(&Event::Notice {
            run: self.run,
            backend: WASM.to_string(),
            text: text.to_string(),
        });
    }

    fn note(&mut self, text: &str) {
        gpu::note(text);
    }
}

/// One run, stepped by the runtime; between two steps the event loop runs, so a Stop
/// message is read at once.
async fn run(req: RunRequest, image: Option<Vec<u8>>, stop: Rc<Cell<bool>>) -> Result<(), Failure> {
    let Some(engine) = STATE.with(|s| s.borrow().engine.clone()) else {
        return Err(Failure::new(FailureKind::BadRequest, "Load a model first."));
    };
    let mut events = Post { run: req.run };
    let spec = RunSpec {
        prompt: &req.prompt,
        image: image.as_deref(),
        tiles: picture::tiles(req.tiles),
        params: engine.greedy(req.max_new_tokens as usize, req.min_new_tokens as usize),
    };
    let mut run = engine.start(spec, &now, &mut events)?;
    drop(image);
    if let Some(n) = lose_gpu_after() {
        run.destroy_gpu_after(n);
    }
    let outcome = loop {
        yield_now().await;
        if stop.get() {
            break run.stop()?;
        }
        match run.step(&mut events).await? {
            Step::Token(id) => post(&Event::Token {
                run: req.run,
                id,
                text: run.text()?.trim_end_matches('\u{FFFD}').to_string(),
            }),
            Step::Done(outcome) => break outcome,
            Step::Encoded | Step::Prefilled => {}
        }
    };
    post(&Event::Done {
        run: req.run,
        result: RunResult {
            prompt_ids: outcome.prompt_ids,
            generated_ids: outcome.generated_ids,
            text: outcome.text,
            stop: outcome.stop,
            backend: backend_name(outcome.backend).to_string(),
            timings: outcome.timings,
        },
    });
    Ok(())
}

/// The browser tests' hook for the GPU hand-over: a test sets `smolvlmTestLoseGpuAfter = N`
/// on this worker's global scope (Playwright's `worker.evaluate`), and the next runs
/// destroy the device once N tokens exist, a real loss as a driver reset makes one.
fn lose_gpu_after() -> Option<usize> {
    Reflect::get(&js_sys::global(), &"smolvlmTestLoseGpuAfter".into())
        .ok()?
        .as_f64()
        .filter(|n| *n >= 0.0)
        .map(|n| n as usize)
}

/// What the page's `backend` element shows for each path.
const WASM: &str = "wasm";
const WEBGPU: &str = "webgpu";

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Cpu => WASM,
        Backend::Gpu => WEBGPU,
    }
}

/// `/bench`: on the CPU (`smolvlm::bench`, what `smolvlm bench` runs), or on WebGPU
/// (`backend=webgpu`: any adapter, the report says which; `auto`: a hardware one, else
/// the CPU).
async fn bench(req: &BenchRequest) -> Result<BenchReport, Failure> {
    let cfg = bench_config(req)?;
    let mut log = |line: &str| {
        post(&Event::BenchLog {
            line: line.to_string(),
        })
    };
    let Some(device) = gpu::open(req.backend).await? else {
        let r = smolvlm::bench::run(&cfg, &now, &mut log).map_err(|e| {
            Failure::new(FailureKind::Internal, format!("The benchmark failed: {e}"))
        })?;
        return Ok(BenchReport {
            size: req.size.clone(),
            dtype: cfg.dtype.name().to_string(),
            backend: WASM.into(),
            adapter: None,
            software_adapter: None,
            load_ms: r.load_ms,
            prefill_tokens_per_s: r.prefill_tokens_per_s,
            decode_tokens_per_s: r.decode_tokens_per_s,
            decode_empty_tokens_per_s: r.decode_empty_tokens_per_s,
            vision_ms_per_tile: r.vision_ms_per_tile,
            picture_ms: r.picture.as_ref().map(|p| p.total_ms),
            picture_frames: r.picture.as_ref().map_or(0, |p| p.frames as u32),
            weight_bytes: r.weight_bytes as u64,
            wasm_memory_bytes: wasm_memory_bytes(),
            threads: build().threads,
            build: build().name,
        });
    };
    let r = smolvlm_runtime::bench::gpu(&device, &cfg, &now, &mut log)
        .await
        .map_err(|e| {
            Failure::new(
                FailureKind::Internal,
                format!("The benchmark failed on the GPU: {e}"),
            )
        })?;
    Ok(BenchReport {
        size: req.size.clone(),
        dtype: cfg.dtype.name().to_string(),
        backend: WEBGPU.into(),
        adapter: Some(r.adapter),
        software_adapter: Some(r.software),
        load_ms: r.load_ms,
        prefill_tokens_per_s: r.prefill_tokens_per_s,
        decode_tokens_per_s: r.decode_tokens_per_s,
        decode_empty_tokens_per_s: r.decode_empty_tokens_per_s,
        vision_ms_per_tile: r.vision_ms_per_tile,
        picture_ms: None,
        picture_frames: 0,
        weight_bytes: r.weight_bytes,
        wasm_memory_bytes: wasm_memory_bytes(),
        threads: build().threads,
        build: build().name,
    })
}

/// The benchmark's settings from the page's request.
fn bench_config(req: &BenchRequest) -> Result<smolvlm::bench::BenchConfig, Failure> {
    use smolvlm::bench::{BenchConfig, BenchDtype};
    use smolvlm::ModelSize;
    let bad = |m: String| Failure::new(FailureKind::BadRequest, m);
    let size = match req.size.as_str() {
        "256m" => ModelSize::Smolvlm2_256m,
        "500m" => ModelSize::Smolvlm2_500m,
        s => return Err(bad(format!("size {s:?}: use 256m or 500m"))),
    };
    let dtype = BenchDtype::parse(&req.dtype).ok_or_else(|| {
        bad(format!(
            "dtype {:?}: use f32, f16, q8_0, q4_0 or q4_k",
            req.dtype
        ))
    })?;
    Ok(BenchConfig {
        size,
        dtype,
        prompt_tokens: req.prompt_tokens as usize,
        decode_tokens: req.decode_tokens as usize,
        vision: req.vision,
        picture_frames: req.picture_frames as usize,
    })
}
