//! One run of SmolVLM2, whichever backend runs it: the layer under the `smolvlm` CLI and
//! the browser's OCR worker, which are adapters over it (the CLI reads files and prints;
//! the worker fetches, caches and posts messages).
//!
//! - [`Engine`]: the model on the CPU, and on the GPU beside it when one was asked for
//!   ([`open_gpu`], [`upload`]: the `auto`/`webgpu` policy).
//! - [`Run`]: one run in steps (frames, prompt, tokens), Stop between any two, progress
//!   and notices through [`Events`], timings, and the GPU→CPU hand-over as one policy.
//! - [`picture`]: a picture's size and tiling before a run, and the page's image settings;
//!   [`document`]: a PDF's pages, rendered one at a time as a run's picture.
//! - [`bench`]: the contract's benchmark on the GPU (the CPU one is `smolvlm::bench`).
//!
//! Async where wgpu needs it (a browser waits for the GPU only by reading back); natively
//! the steps are waited on with `pollster`. Failures are `ocr_protocol::Failure`s: a kind
//! and a message for people, the same on the page and in the terminal.

pub mod bench;
pub mod document;
mod engine;
mod failure;
pub mod picture;
mod run;

pub use engine::{open_gpu, upload, Backend, Engine};
pub use failure::{internal, prompt_failure};
pub use ocr_protocol::{
    BackendChoice, Failure, FailureKind, StopKind, Timings, MAX_PICTURE_FILE_BYTES,
};
pub use picture::Picture;
pub use run::{Events, Outcome, Run, RunSpec, Step};
