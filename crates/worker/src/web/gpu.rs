//! `backend=webgpu|auto`: the model on our WGSL kernels (`smolvlm-gpu`) through the
//! browser's WebGPU beside the CPU model (the fallback), by `smolvlm_runtime`'s policy (the
//! CLI's `--backend wgpu|auto`): `auto` takes a hardware adapter whose limits suffice,
//! never a fallback (software) one, else the CPU runs and the console says why; `webgpu`
//! takes whatever adapter the browser gives (SwiftShader in headless Chromium) and fails
//! the load when there is none. A device lost in a run hands it to the CPU, with a notice.
//!
//! The GPU model is built from a copy of the weight files' bytes made before the CPU model
//! takes them; the copy is freed once the weights are on the GPU.

use ocr_protocol::{BackendChoice, Failure, FailureKind};
use smolvlm::bundle::{self, Files, Layout, Loaded};
use smolvlm_gpu::{Gpu, GpuModel};
use smolvlm_runtime::{internal, Events};

/// A line on the worker's console (what the CLI writes to stderr).
pub fn note(msg: &str) {
    web_sys::console::warn_1(&format!("ocr-worker: {msg}").into());
}

/// The runtime's lines on the console, when no run is going on.
pub struct Console;

impl Events for Console {
    fn encoding(&mut self, _done: u32, _frames: u32) {}
    fn notice(&mut self, text: &str) {
        note(text)
    }
    fn note(&mut self, text: &str) {
        note(text)
    }
}

/// The device `choice` asks for: `None` for the CPU (`wasm`, or `auto` without a usable
/// hardware adapter).
pub async fn open(choice: BackendChoice) -> Result<Option<Gpu>, Failure> {
    smolvlm_runtime::open_gpu(choice, &mut Console)
        .await
        .map_err(|e| {
            Failure::new(
                FailureKind::BackendUnavailable,
                format!(
                    "WebGPU is not available in this browser ({e}). Use backend=wasm or backend=auto to run on the CPU."
                ),
            )
        })
}

/// A copy of the weight files of `files` (None: a file is missing, which the CPU load
/// reports, or there is not memory enough for the copy).
pub fn copy_weights(layout: &Layout, files: &Files) -> Option<Files> {
    let mut copy = Files::new();
    for name in bundle::weight_names(layout, files).ok()? {
        let bytes = files.get(&name)?;
        let mut v = Vec::new();
        v.try_reserve_exact(bytes.len()).ok()?;
        v.extend_from_slice(bytes);
        copy.insert(name, v);
    }
    Some(copy)
}

/// Uploads the model to `gpu`. `None` when `auto` should run on the CPU instead (the model
/// does not fit the device, the device went away).
pub fn upload(
    gpu: &Gpu,
    choice: BackendChoice,
    layout: &Layout,
    weights: Files,
    loaded: &Loaded,
) -> Result<Option<GpuModel>, Failure> {
    let source = bundle::weight_source(layout, weights, loaded.model.config()).map_err(|e| {
        Failure::new(
            FailureKind::ModelCorrupt,
            format!("The model's weights could not be read for the GPU: {e}"),
        )
    })?;
    smolvlm_runtime::upload(gpu, choice, source, loaded, &mut Console).map_err(|e| {
        if e.wants_cpu_fallback() {
            Failure::new(
                FailureKind::BackendUnavailable,
                format!("The model could not be put on the GPU ({e}). Use backend=wasm or backend=auto to run on the CPU."),
            )
        } else {
            internal("uploading the model to the GPU", e)
        }
    })
}
