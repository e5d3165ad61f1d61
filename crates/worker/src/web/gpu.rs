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

use std::cell::Cell;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use ocr_protocol::{BackendChoice, Event, Failure, FailureKind};
use smolvlm::bench::{BenchConfig, RandomSource};
use smolvlm::gguf::{GgufFile, GgufKind, GgufSource};
use smolvlm::{Config, GenerationParams, SafetensorsSource, Session, WeightSource, Weights};
use smolvlm_gpu::{Gpu, GpuModel, GpuOptions, GpuSession, ImageFeatures};

use crate::bundle::{self, Files, Layout, SAFETENSORS, SAFETENSORS_INDEX};
use crate::engine::{self, Prepared};

use super::{post, yield_now};

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
        Layout::Gguf { text, mmproj, .. } => Some(WeightBytes::Gguf(
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

/// Encodes the picture's frames on the GPU one at a time, each waited for (by a read-back,
/// which is how a browser waits, and which surfaces a lost device here), telling the page
/// how far it is and stopping between frames when `stop` is set: `Ok(None)` when there is
/// no picture or the run was stopped.
pub async fn encode(
    model: &GpuModel,
    prepared: &Prepared,
    run: u32,
    stop: &Cell<bool>,
) -> smolvlm_gpu::Result<Option<ImageFeatures>> {
    let Some((pixels, mask)) = prepared.pixels() else {
        return Ok(None);
    };
    let mut encoding = model.begin_images(pixels, Some(mask))?;
    let frames = encoding.frames();
    while encoding.encoded() < frames {
        // A picture has at most a few dozen frames.
        post(&Event::Encoding {
            run,
            done: encoding.encoded() as u32,
            frames: frames as u32,
        });
        yield_now().await;
        if stop.get() {
            return Ok(None);
        }
        encoding.encode_next()?;
        encoding.wait().await?;
    }
    Ok(Some(encoding.finish()?))
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

/// `/bench` with `backend=webgpu`: what `smolvlm bench --backend wgpu` measures (the
/// contract's prefill, decoding after it and from empty, one 512×512 tile) on our WGSL
/// kernels in this browser, with the same random weights. A browser cannot wait for the
/// GPU except by reading something back, so each timed step ends with a read: the prefill
/// with its logits, each decoded token with its id (as a run does), the tile with its
/// features. Pipelines are compiled by a short warm-up first, as in the CLI.
pub async fn bench(
    gpu: &Gpu,
    cfg: &BenchConfig,
    now: &dyn Fn() -> f64,
    log: &mut dyn FnMut(&str),
) -> smolvlm_gpu::Result<BenchNumbers> {
    log(&format!("GPU: {}", gpu.describe()));
    let config = Config::preset(cfg.size);
    let start = now();
    let source = Arc::new(RandomSource::new(&config, cfg.dtype));
    let model = GpuModel::new(gpu, &config, &Weights::new(source, &Device::Cpu))?;
    let load_ms = now() - start;
    log(&format!(
        "built and uploaded random {} weights in {load_ms:.0} ms ({} MB on the GPU)",
        cfg.dtype.name(),
        model.weight_bytes() / 1_000_000
    ));
    let vocab = config.text.vocab_size as u64;
    // The CPU bench's token sequence.
    let id = |i: usize| ((i as u64 * 2654435761) % vocab) as u32;
    let run = |prompt_len: usize, decode: usize| {
        let model = &model;
        async move {
            let prompt: Vec<u32> = (0..prompt_len).map(id).collect();
            let mut s = GpuSession::new(model, GenerationParams::greedy(decode + 1, vec![]))?;
            let t = now();
            s.prefill(&prompt, None)?;
            s.logits().await?;
            let prefill_ms = now() - t;
            let t = now();
            for _ in 0..decode {
                s.next_token().await?;
            }
            Ok::<_, smolvlm_gpu::Error>((prefill_ms, now() - t))
        }
    };
    run(8, 2).await?;
    log("warm-up done");
    let (prefill_ms, decode_ms) = run(cfg.prompt_tokens, cfg.decode_tokens).await?;
    let prefill_tokens_per_s = cfg.prompt_tokens as f64 / (prefill_ms / 1000.0);
    let decode_tokens_per_s = cfg.decode_tokens as f64 / (decode_ms / 1000.0);
    log(&format!(
        "prefill {} tokens: {prefill_ms:.0} ms; decode at {}..{}: {decode_tokens_per_s:.1} tokens/s",
        cfg.prompt_tokens,
        cfg.prompt_tokens,
        cfg.prompt_tokens + cfg.decode_tokens
    ));
    let (_, empty_ms) = run(1, cfg.decode_tokens).await?;
    let decode_empty_tokens_per_s = cfg.decode_tokens as f64 / (empty_ms / 1000.0);
    log(&format!(
        "decode from an empty context: {decode_empty_tokens_per_s:.1} tokens/s"
    ));
    let vision_ms_per_tile = if cfg.vision {
        let tile = |side: usize| {
            let model = &model;
            async move {
                // Values do not matter for speed; a fixed pattern in [-1, 1).
                let px: Vec<f32> = (0..3 * side * side)
                    .map(|i| ((i * 7919) % 2000) as f32 / 1000.0 - 1.0)
                    .collect();
                let px = Tensor::from_vec(px, (1, 3, side, side), &Device::Cpu)?;
                let t = now();
                let features = model.encode_images(&px, None)?;
                features.read(model.gpu()).await?;
                Ok::<_, smolvlm_gpu::Error>(now() - t)
            }
        };
        // The smallest frame the connector takes compiles the same pipelines.
        tile(config.vision.patch_size * config.scale_factor).await?;
        let side = config.vision.image_size;
        let ms = tile(side).await?;
        log(&format!("vision: one {side}x{side} tile in {ms:.0} ms"));
        Some(ms)
    } else {
        None
    };
    Ok(BenchNumbers {
        load_ms,
        prefill_tokens_per_s,
        decode_tokens_per_s,
        decode_empty_tokens_per_s,
        vision_ms_per_tile,
        weight_bytes: model.weight_bytes(),
        adapter: gpu.describe(),
        software: gpu.adapter_info().device_type == smolvlm_gpu::wgpu::DeviceType::Cpu,
    })
}

/// What [`bench`] measured.
pub struct BenchNumbers {
    pub load_ms: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub decode_empty_tokens_per_s: f64,
    pub vision_ms_per_tile: Option<f64>,
    pub weight_bytes: u64,
    pub adapter: String,
    /// A software adapter (SwiftShader): its numbers say nothing about real GPUs.
    pub software: bool,
}
