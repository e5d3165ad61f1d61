//! The threaded build's thread pool: rayon's global pool over Web Workers that share this
//! module's memory, so the kernels' `rayon` splits (matmul rows, attention heads,
//! element-wise chunks: `smolvlm::kernels::cpu`) run on every core as they do natively.
//!
//! Written here instead of taking wasm-bindgen-rayon: that crate starts its workers from
//! an ES-module snippet (`import.meta.url`), which needs wasm-bindgen's `web` target, and
//! this worker is built for `no-modules` (a classic worker script, as Trunk builds it and
//! as `ocr-worker-loader.js` starts it). The protocol is the same small one:
//!
//! 1. `ocr-worker-loader.js` starts N - 1 workers (`ocr-worker-thread.js`) and hands each
//!    this module and its shared memory ([`pool_module`], [`pool_memory`]); each
//!    instantiates it and says it is ready.
//! 2. The loader makes the channel the threads will come through ([`pool_channel`]) and
//!    posts its address to the pool workers, which wait on it in [`pool_thread_run`].
//! 3. The loader calls [`pool_start`] with the number that started: rayon's global pool is
//!    built with this thread as one of its members (`use_current_thread`: the worker that
//!    runs the model computes too, instead of blocking while the others do), one
//!    [`rayon::ThreadBuilder`] per pool worker goes into the channel, and each pool worker
//!    runs rayon's thread loop on the one it takes, for good. `pool_start` returns when
//!    every thread runs (rayon waits for that).
//!
//! Pool workers block in `Atomics.wait` while idle, which workers may do (the page's main
//! thread may not: the model never runs there).

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

use rayon::ThreadBuilder;
use wasm_bindgen::prelude::*;

/// The channel the pool workers take their rayon threads from.
pub struct PoolReceiver(Mutex<Receiver<ThreadBuilder>>);

/// Its other end, for [`pool_start`].
static SENDER: Mutex<Option<Sender<ThreadBuilder>>> = Mutex::new(None);

/// This module, for the pool workers to instantiate.
#[wasm_bindgen]
pub fn pool_module() -> JsValue {
    wasm_bindgen::module()
}

/// The shared memory, for the pool workers to instantiate the module on.
#[wasm_bindgen]
pub fn pool_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Makes the channel of the pool's threads; returns the address of its receiving end for
/// the pool workers' [`pool_thread_run`].
#[wasm_bindgen]
pub fn pool_channel() -> usize {
    let (tx, rx) = channel();
    if let Ok(mut sender) = SENDER.lock() {
        *sender = Some(tx);
    }
    // Leaked on purpose: the pool lives as long as the worker, and every pool worker reads
    // the channel through this address.
    Box::into_raw(Box::new(PoolReceiver(Mutex::new(rx)))) as usize
}

/// Builds rayon's global pool from this thread and `workers` pool workers, which must be
/// waiting in [`pool_thread_run`] (else this waits for them). Called once, before the model
/// runs; `workers` may be 0 (none could start: one thread).
#[wasm_bindgen]
pub fn pool_start(workers: usize) -> Result<(), JsError> {
    let tx = SENDER
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| JsError::new("pool_start before pool_channel"))?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers + 1)
        .use_current_thread()
        .spawn_handler(move |thread| {
            tx.send(thread)
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .build_global()
        .map_err(|e| JsError::new(&format!("the thread pool could not start: {e}")))
}

/// Runs one rayon thread on a pool worker, until the worker is terminated.
#[wasm_bindgen]
pub fn pool_thread_run(receiver: usize) -> Result<(), JsError> {
    // SAFETY: `receiver` is the address `pool_channel` returned, leaked there, never freed.
    let receiver = unsafe { &*(receiver as *const PoolReceiver) };
    let thread = receiver
        .0
        .lock()
        .map_err(|_| JsError::new("the thread pool's channel is poisoned"))?
        .recv()
        .map_err(|_| JsError::new("the thread pool has no thread left to run"))?;
    thread.run();
    Ok(())
}

/// Threads the kernels split work over (this one and the pool workers).
pub fn threads() -> usize {
    rayon::current_num_threads()
}
