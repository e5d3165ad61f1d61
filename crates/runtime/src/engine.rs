//! The model a run goes to: the CPU model always (it is the fallback), and the GPU model
//! beside it when one was asked for and suits. Also the policy of choosing and opening the
//! GPU, shared by the CLI's `--backend` and the page's `backend=`.

use std::cell::Cell;
use std::sync::Arc;

use candle_core::Device;
use ocr_protocol::{BackendChoice, Failure};
use smolvlm::bundle::Loaded;
use smolvlm::{GenerationParams, WeightSource, Weights};
use smolvlm_gpu::{Gpu, GpuModel, GpuOptions};

use crate::run::{Events, Run, RunSpec};

/// Where a run goes (or went).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Our CPU kernels (wasm32 SIMD in the browser).
    Cpu,
    /// Our WGSL kernels through wgpu (WebGPU in the browser).
    Gpu,
}

/// A loaded model, ready for runs one after the other.
pub struct Engine {
    loaded: Loaded,
    gpu: Option<GpuModel>,
    /// Set once the GPU device was lost: later runs go to the CPU.
    lost: Cell<bool>,
}

impl Engine {
    /// The model on the CPU, and on the GPU too when `gpu` is given.
    pub fn new(loaded: Loaded, gpu: Option<GpuModel>) -> Self {
        Self {
            loaded,
            gpu,
            lost: Cell::new(false),
        }
    }

    /// The CPU model with its tokenizer, template and image settings.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// Where runs go now (the CPU once the GPU was lost).
    pub fn backend(&self) -> Backend {
        match self.gpu {
            Some(_) if !self.lost.get() => Backend::Gpu,
            _ => Backend::Cpu,
        }
    }

    /// The GPU model, if there is one (lost or not).
    pub fn gpu_model(&self) -> Option<&GpuModel> {
        self.gpu.as_ref()
    }

    pub(crate) fn lost(&self) -> &Cell<bool> {
        &self.lost
    }

    /// Greedy generation of `max_new_tokens` (at least `min_new_tokens`), stopping where
    /// `smolvlm generate` stops.
    pub fn greedy(&self, max_new_tokens: usize, min_new_tokens: usize) -> GenerationParams {
        GenerationParams {
            min_new_tokens,
            ..GenerationParams::greedy(max_new_tokens, self.loaded.stop_ids())
        }
    }

    /// Starts a run: the picture is prepared and the prompt built now (a bad picture, a
    /// prompt too long for the context and bad parameters fail here, before any work); the
    /// rest happens in [`Run::step`]. `clock` gives milliseconds.
    pub fn start<'e>(
        &'e self,
        spec: RunSpec<'_>,
        clock: &'e dyn Fn() -> f64,
        events: &mut dyn Events,
    ) -> Result<Run<'e>, Failure> {
        Run::start(self, spec, clock, events)
    }
}

/// Opens the GPU `choice` asks for: `Ok(None)` for the CPU (`wasm`, or `auto` without a
/// hardware adapter whose limits suffice; `auto` never takes a software adapter, where the
/// CPU path is faster). `webgpu` takes any adapter, software ones included, and fails when
/// there is none.
pub async fn open_gpu(
    choice: BackendChoice,
    events: &mut dyn Events,
) -> Result<Option<Gpu>, smolvlm_gpu::Error> {
    let opts = match choice {
        BackendChoice::Wasm => return Ok(None),
        BackendChoice::Auto => GpuOptions::auto(),
        BackendChoice::Webgpu => GpuOptions::forced(),
    };
    match Gpu::new(&opts).await {
        Ok(gpu) => Ok(Some(gpu)),
        Err(e) if choice == BackendChoice::Auto => {
            events.note(&format!("auto runs on the CPU: {e}"));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Puts the model whose weights `weights` holds on `gpu`. `Ok(None)` when `auto` should
/// run on the CPU instead (the model does not fit the device, the device went away).
pub fn upload(
    gpu: &Gpu,
    choice: BackendChoice,
    weights: Arc<dyn WeightSource>,
    loaded: &Loaded,
    events: &mut dyn Events,
) -> Result<Option<GpuModel>, smolvlm_gpu::Error> {
    match GpuModel::new(
        gpu,
        loaded.model.config(),
        &Weights::new(weights, &Device::Cpu),
    ) {
        Ok(model) => {
            events.note(&format!(
                "running on the GPU: {} ({:.1} MB of weights)",
                gpu.describe(),
                model.weight_bytes() as f64 / 1e6
            ));
            Ok(Some(model))
        }
        Err(e) if choice == BackendChoice::Auto && e.wants_cpu_fallback() => {
            events.note(&format!("auto runs on the CPU: {e}"));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
