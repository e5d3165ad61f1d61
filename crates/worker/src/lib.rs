//! The OCR page's inference Web Worker: it gets the model (from the browser's cache, or
//! downloaded with progress and resume, then cached), loads it, and answers prompts about
//! pictures the page posts to it, one token at a time. Messages are `ocr-protocol`'s.
//!
//! - [`bundle`]: `smolvlm`'s loader of a model from its files' bytes (the CLI's too).
//! - `smolvlm_runtime`: one run in steps (picture, frames, prefill, tokens, the GPU→CPU
//!   hand-over), the CLI's too, tested natively there.
//! - `web` (wasm32 only): the worker itself, an adapter over the runtime: message loop,
//!   downloads, OPFS cache, messages to the page.
//!
//! Built by Trunk as a worker (`index.html`: `data-type="worker"`); the page starts it
//! with `ocr-worker-loader.js`.

pub use smolvlm::bundle;

#[cfg(target_arch = "wasm32")]
mod web;
