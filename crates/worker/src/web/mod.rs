//! The worker in the browser: the message loop; loads (`load`), runs (`run`), the
//! benchmark (`bench`).
//!
//! One request at a time of each kind: a new load cancels the one in progress, a run
//! while another runs is refused (the page never sends one). Long work yields to the
//! event loop between steps (between downloaded chunks, encoded frames and tokens) so a
//! Stop or Cancel message is read at once; the one step that cannot yield is encoding a
//! single frame, which is why the page terminates the worker when a Stop is not answered
//! quickly.

mod bench;
mod fetch;
mod gpu;
mod load;
mod opfs;
#[cfg(target_feature = "atomics")]
mod pool;
mod run;

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use js_sys::{Array, ArrayBuffer, Promise, Reflect, Uint8Array};
use ocr_protocol::{from_json, to_json, Build, Event, Failure, FailureKind, Request, Scope};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, DedicatedWorkerGlobalScope, File, MessageChannel, MessageEvent};

use opfs::Cache;
use smolvlm_runtime::{document, picture, Engine};

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

/// Sends an event and `bytes` with it (transferred, not copied: a rendered page).
pub(crate) fn post_with_bytes(event: &Event, bytes: &[u8]) {
    let obj = js_sys::Object::new();
    let _ = Reflect::set(&obj, &"msg".into(), &to_json(event).into());
    let buffer = Uint8Array::from(bytes).buffer();
    let _ = Reflect::set(&obj, &"bytes".into(), &buffer);
    if let Err(e) = scope().post_message_with_transfer(&obj, &Array::of1(&buffer)) {
        web_sys::console::error_1(&e);
    }
}

/// Lets the event loop run (messages from the page) and comes back at once: a message to
/// ourselves through a MessageChannel, which unlike `setTimeout(0)` is never clamped.
pub(crate) async fn yield_now() {
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
                let result = load::load_model(load, source, backend, files, cancel, abort).await;
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
            let info = if document::is_pdf(&bytes) {
                document::inspect(&bytes, cfg.as_ref())
                    .map(|(pages, w, h, plan)| (w, h, plan, Some(pages)))
            } else {
                picture::inspect(&bytes, cfg.as_ref()).map(|(w, h, plan)| (w, h, plan, None))
            };
            match info {
                Ok((width, height, plan, pages)) => post(&Event::ImageInfo {
                    image,
                    width,
                    height,
                    plan,
                    pages,
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
                if let Err(failure) = run::run(req, bytes, stop).await {
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
            match bench::bench(&req).await {
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
