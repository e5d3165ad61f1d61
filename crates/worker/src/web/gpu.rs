//! `backend=webgpu|auto`: the model on our WGSL kernels (`smolvlm-gpu`) through the
//! browser's WebGPU, with the CPU model as the fallback (the CLI's `--backend wgpu|auto`).
//!
//! - `auto` takes a hardware adapter whose limits suffice, never a fallback (software)
//!   one; with none, or when the model does not fit it, the CPU runs and the console says
//!   why.
//! - `webgpu` takes whatever adapter the browser gives, software ones included
//!   (SwiftShader in headless Chromium), and fails the load when there is none.
//! - A device lost in the middle of a run hands the run to the CPU
//!   ([`smolvlm::Session::resume`]), with a notice on the console; later runs stay on the
//!   CPU.
//!
//! The GPU model is built from a copy of the weight files' bytes made before the CPU model
//! takes them; the copy is freed once the weights are on the GPU.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use ocr_protocol::{BackendChoice, Failure, FailureKind};
use smolvlm::gguf::{GgufFile, GgufKind, GgufSource};
use smolvlm::{Config, GenerationParams, SafetensorsSource, Session, WeightSource, Weights};
use smolvlm_gpu::{Gpu, GpuModel, GpuOptions, GpuSession, ImageFeatures};

use crate::bundle::{self, Files, Layout, SAFETENSORS, SAFETENSORS_INDEX};
use crate::engine::{self, Prepared};

/// A line on the worker's console (what the CLI writes to stderr).
pub fn note(msg: &str) {
    web_sys::console::warn_1(&format!("ocr-worker: {msg}").into());
}

/// The device `choice` asks for: `None` for the CPU (`wasm`, or `auto` without a usable
/// hardware adapter).
pub async fn open(choice: BackendChoice) -> Result<Option<Gpu>, Failure> {
    let opts = match choice {
        BackendChoice::Wasm => return Ok(None),
        BackendChoice::Auto => GpuOptions::auto(),
        BackendChoice::Webgpu => GpuOptions::forced(),
    };
    match Gpu::new(&opts).await {
        Ok(gpu) => Ok(Some(gpu)),
        Err(e) if choice == BackendChoice::Auto => {
            note(&format!("backend=auto runs on the CPU: {e}"));
            Ok(None)
        }
        Err(e) => Err(Failure::new(
            FailureKind::BackendUnavailable,
            format!(
                "WebGPU is not available in this browser ({e}). Use backend=wasm or backend=auto to run on the CPU."
            ),
        )),
    }
}

/// The weight files' bytes, copied for the GPU model before the CPU model takes them.
pub enum WeightBytes {
    Gguf(Vec<u8>, Vec<u8>),
    Safetensors(Vec<(String, Vec<u8>)>),
}

fn copy(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(bytes.len()).ok()?;
    v.extend_from_slice(bytes);
    Some(v)
}

/// A copy of the weights in `files` (None: a file is missing, which the CPU load reports,
/// or there is not memory enough for the copy).
pub fn copy_weights(layout: &Layout, files: &Files) -> Option<WeightBytes> {
    match layout {
        Layout::Gguf { text, mmproj } => Some(WeightBytes::Gguf(
            copy(files.get(text)?)?,
            copy(files.get(mmproj)?)?,
        )),
        Layout::HubFolder => {
            let names = if files.get(SAFETENSORS).is_some() {
                vec![SAFETENSORS.to_string()]
            } else {
                bundle::shard_names(files.get(SAFETENSORS_INDEX)?).ok()?
            };
            names
                .into_iter()
                .map(|n| {
                    let bytes = copy(files.get(&n)?)?;
                    Some((n, bytes))
                })
                .collect::<Option<Vec<_>>>()
                .map(WeightBytes::Safetensors)
        }
    }
}

fn source(bytes: WeightBytes, config: &Config) -> smolvlm::Result<Arc<dyn WeightSource>> {
    Ok(match bytes {
        WeightBytes::Safetensors(shards) => Arc::new(SafetensorsSource::from_shards(shards)?),
        WeightBytes::Gguf(a, b) => {
            let a = GgufFile::from_bytes("text", a)?;
            let b = GgufFile::from_bytes("mmproj", b)?;
            // Picked files may come in either order (as `bundle` reads them).
            let (text, mmproj) = match (a.kind(), b.kind()) {
                (Ok(GgufKind::Mmproj), Ok(GgufKind::Text)) => (b, a),
                _ => (a, b),
            };
            Arc::new(GgufSource::new(
                text,
                mmproj,
                config.text.num_attention_heads,
                config.text.num_key_value_heads(),
            ))
        }
    })
}

/// Uploads the model to `gpu`. `None` when `auto` should run on the CPU instead (the model
/// does not fit the device, the device went away).
pub fn upload(
    gpu: &Gpu,
    choice: BackendChoice,
    bytes: WeightBytes,
    config: &Config,
) -> Result<Option<GpuModel>, Failure> {
    let weights = source(bytes, config).map_err(|e| {
        Failure::new(
            FailureKind::ModelCorrupt,
            format!("The model's weights could not be read for the GPU: {e}"),
        )
    })?;
    match GpuModel::new(gpu, config, &Weights::new(weights, &Device::Cpu)) {
        Ok(model) => {
            note(&format!(
                "running on the GPU: {} ({:.1} MB of weights)",
                gpu.describe(),
                model.weight_bytes() as f64 / 1e6
            ));
            Ok(Some(model))
        }
        Err(e) if choice == BackendChoice::Auto && e.wants_cpu_fallback() => {
            note(&format!("backend=auto runs on the CPU: {e}"));
            Ok(None)
        }
        Err(e) if e.wants_cpu_fallback() => Err(Failure::new(
            FailureKind::BackendUnavailable,
            format!("The model could not be put on the GPU ({e}). Use backend=wasm or backend=auto to run on the CPU."),
        )),
        Err(e) => Err(engine::internal("uploading the model to the GPU", e)),
    }
}

/// Encodes every frame of the picture on the GPU, waited for (the features are read back,
/// which is how a browser waits, and which surfaces a lost device here).
pub async fn encode(
    model: &GpuModel,
    prepared: &Prepared,
) -> smolvlm_gpu::Result<Option<ImageFeatures>> {
    let Some((pixels, mask)) = prepared.pixels() else {
        return Ok(None);
    };
    let features = model.encode_images(pixels, Some(mask))?;
    features.read(model.gpu()).await?;
    Ok(Some(features))
}

/// One run's generation: on the GPU until it fails, then on the CPU.
pub enum Turn<'a> {
    Gpu(GpuSession<'a>),
    Cpu(Session<'a>),
}

impl<'a> Turn<'a> {
    /// Starts generation on the GPU: the prompt with the features (submitted; GPU errors
    /// show at the first token).
    pub fn start_gpu(
        model: &'a GpuModel,
        params: GenerationParams,
        prompt_ids: &[u32],
        features: Option<&ImageFeatures>,
    ) -> Result<Self, smolvlm_gpu::Error> {
        let mut session = GpuSession::new(model, params)?;
        session.prefill(prompt_ids, features)?;
        Ok(Self::Gpu(session))
    }

    pub fn generated(&self) -> &[u32] {
        match self {
            Self::Gpu(s) => s.generated(),
            Self::Cpu(s) => s.generated(),
        }
    }

    pub fn cancel(&mut self) {
        match self {
            Self::Gpu(s) => s.cancel(),
            Self::Cpu(s) => s.cancel(),
        }
    }

    pub fn stop_reason(&self) -> Option<smolvlm::StopReason> {
        match self {
            Self::Gpu(s) => s.stop_reason(),
            Self::Cpu(s) => s.stop_reason(),
        }
    }
}

/// The failure a GPU error that is not a lost device becomes.
pub fn failure(what: &str, e: smolvlm_gpu::Error) -> Failure {
    match e {
        smolvlm_gpu::Error::Model(e) => engine::prompt_failure(e),
        e => engine::internal(what, e),
    }
}

/// The CPU session that carries on `gpu`'s turn (the prompt, the features `features` (CPU
/// ones) and the tokens generated so far run again on the CPU model).
pub fn resume_on_cpu<'a>(
    cpu: &'a smolvlm::SmolVlm,
    gpu: &GpuSession<'_>,
    prompt_ids: &[u32],
    features: Option<&Tensor>,
) -> Result<Session<'a>, Failure> {
    Session::resume(
        cpu,
        gpu.params().clone(),
        gpu.processor().clone(),
        prompt_ids,
        features,
        gpu.generated(),
    )
    .map_err(engine::prompt_failure)
}
