//! `--backend wgpu|auto`: the model on our WGSL kernels (crates/smolvlm-gpu), with the CPU
//! path as the fallback.
//!
//! - `auto` takes a hardware adapter whose limits suffice and never a software one
//!   (lavapipe, SwiftShader, WARP: there the CPU path is faster); with none, or when the
//!   model does not fit it, the CPU runs and stderr says why.
//! - `wgpu` takes whatever adapter exists, software ones included, and fails when there
//!   is none.
//! - A device lost in the middle of a turn hands the turn to the CPU
//!   ([`smolvlm::Session::resume`]): it re-encodes the images, runs the prompt and the
//!   tokens generated so far, and decodes on, with a message on stderr.
//!
//! The CPU model is loaded either way (it is the fallback); the GPU model is built from
//! the same files. `SMOLVLM_TEST_LOSE_GPU_AFTER=N` destroys the device after N tokens
//! decoded on it, for the test of the hand-over.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use smolvlm::bench::{BenchConfig, RandomSource};
use smolvlm::gguf::{GgufFile, GgufSource};
use smolvlm::{Config, GenerationParams, SafetensorsSource, Session, SmolVlm, StopReason};
use smolvlm::{WeightSource, Weights};
use smolvlm_gpu::{Gpu, GpuModel, GpuOptions, GpuSession, ImageFeatures};

use crate::generate::Backend;
use crate::load::{weight_files, ModelFiles};

/// The backend a `generate` run uses: the CPU model always (the fallback), the GPU model
/// when one was chosen.
pub struct Engine {
    gpu: Option<GpuModel>,
}

/// Image features from whichever backend encoded them; GPU ones keep the pixels, which the
/// CPU re-encodes if it has to take over.
pub enum Features {
    Cpu(Tensor),
    Gpu {
        features: ImageFeatures,
        pixels: Tensor,
        mask: Tensor,
    },
}

fn note(msg: &str) {
    eprintln!("smolvlm: {msg}");
}

impl Engine {
    /// Opens the backend `backend` asks for, for the model in `files` (already loaded on
    /// the CPU as `cpu`).
    pub fn open(backend: Backend, files: &ModelFiles, cpu: &SmolVlm) -> Result<Self> {
        let opts = match backend {
            Backend::Cpu => return Ok(Self { gpu: None }),
            Backend::Auto => GpuOptions::auto(),
            Backend::Wgpu => GpuOptions::forced(),
        };
        let gpu = match Gpu::new_blocking(&opts) {
            Ok(gpu) => gpu,
            Err(e) if backend == Backend::Auto => {
                note(&format!("--backend auto runs on the CPU: {e}"));
                return Ok(Self { gpu: None });
            }
            Err(e) => {
                return Err(e).context("--backend wgpu (--backend auto or cpu run without a GPU)")
            }
        };
        let model = weight_source(files, cpu.config()).and_then(|source| {
            let weights = Weights::new(source, &Device::Cpu);
            GpuModel::new(&gpu, cpu.config(), &weights).context("uploading the model to the GPU")
        });
        match model {
            Ok(model) => {
                note(&format!(
                    "running on the GPU: {} ({:.1} MB of weights)",
                    gpu.describe(),
                    model.weight_bytes() as f64 / 1e6
                ));
                Ok(Self { gpu: Some(model) })
            }
            Err(e) if backend == Backend::Auto && wants_cpu(&e) => {
                note(&format!("--backend auto runs on the CPU: {e:#}"));
                Ok(Self { gpu: None })
            }
            Err(e) => Err(e),
        }
    }

    /// Encodes the images (waited for, so that the caller's clock measures the work). A
    /// GPU that fails here hands the images to the CPU.
    pub fn encode_images(&self, cpu: &SmolVlm, pixels: &Tensor, mask: &Tensor) -> Result<Features> {
        if let Some(model) = &self.gpu {
            let encoded = model
                .encode_images(pixels, Some(mask))
                .and_then(|f| model.gpu().wait().map(|()| f));
            match encoded {
                Ok(features) => {
                    return Ok(Features::Gpu {
                        features,
                        pixels: pixels.clone(),
                        mask: mask.clone(),
                    })
                }
                Err(e) if e.wants_cpu_fallback() => {
                    note(&format!("the GPU failed ({e}); the CPU encodes the images"))
                }
                Err(e) => return Err(e).context("encoding the images on the GPU"),
            }
        }
        Ok(Features::Cpu(cpu.encode_images(pixels, Some(mask))?))
    }

    /// Starts a turn: runs the prompt (waited for) on the backend that encoded the
    /// images (the GPU for a text-only prompt when there is one).
    pub fn start<'a>(
        &'a self,
        cpu: &'a SmolVlm,
        params: GenerationParams,
        prompt_ids: &[u32],
        features: Option<Features>,
    ) -> Result<Turn<'a>> {
        let on_gpu = match (&self.gpu, &features) {
            (Some(_), None | Some(Features::Gpu { .. })) => self.gpu.as_ref(),
            _ => None,
        };
        let mut turn = Turn {
            cpu,
            prompt: prompt_ids.to_vec(),
            features,
            state: None,
            gpu: on_gpu.map(|m| m.gpu().clone()),
            lose_after: std::env::var("SMOLVLM_TEST_LOSE_GPU_AFTER")
                .ok()
                .and_then(|v| v.parse().ok()),
        };
        let Some(model) = on_gpu else {
            turn.run_on_cpu(params, None)?;
            return Ok(turn);
        };
        let mut session = GpuSession::new(model, params.clone())?;
        let gpu_features = match &turn.features {
            Some(Features::Gpu { features, .. }) => Some(features),
            _ => None,
        };
        let started = session
            .prefill(prompt_ids, gpu_features)
            .and_then(|()| model.gpu().wait());
        match started {
            Ok(()) => turn.state = Some(State::Gpu(session)),
            Err(e) if e.wants_cpu_fallback() => {
                note(&format!("the GPU failed ({e}); the CPU runs this turn"));
                turn.run_on_cpu(params, None)?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(turn)
    }
}

/// Whether an error from opening the GPU model means "use the CPU" (no room on the device,
/// a lost device) rather than a broken model.
fn wants_cpu(e: &anyhow::Error) -> bool {
    e.downcast_ref::<smolvlm_gpu::Error>()
        .is_some_and(|e| e.wants_cpu_fallback())
}

/// The weights of `files` as the GPU model reads them (the files are read again: the CPU
/// model keeps its own copy, converted for its kernels).
fn weight_source(files: &ModelFiles, config: &Config) -> Result<Arc<dyn WeightSource>> {
    Ok(match files {
        ModelFiles::HubFolder(dir) => Arc::new(
            SafetensorsSource::from_shards(weight_files(dir)?)
                .with_context(|| format!("reading the weights of {}", dir.display()))?,
        ),
        ModelFiles::Gguf { model, mmproj } => {
            let read = |path: &std::path::Path| -> Result<GgufFile> {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                Ok(GgufFile::from_bytes(path.display().to_string(), bytes)?)
            };
            Arc::new(GgufSource::new(
                read(model)?,
                read(mmproj)?,
                config.text.num_attention_heads,
                config.text.num_key_value_heads(),
            ))
        }
    })
}

enum State<'a> {
    Gpu(GpuSession<'a>),
    Cpu(Session<'a>),
}

/// One turn of generation, on the GPU until it fails, then on the CPU. The same calls as
/// [`smolvlm::Session`].
pub struct Turn<'a> {
    cpu: &'a SmolVlm,
    prompt: Vec<u32>,
    features: Option<Features>,
    /// `None` only while a hand-over is under way.
    state: Option<State<'a>>,
    /// The device of the GPU session, if one runs the turn.
    gpu: Option<Gpu>,
    lose_after: Option<usize>,
}

impl<'a> Turn<'a> {
    /// Runs the turn on the CPU from the start, or from `from` (a GPU session that failed).
    fn run_on_cpu(&mut self, params: GenerationParams, from: Option<GpuSession<'a>>) -> Result<()> {
        let features = match &self.features {
            None => None,
            Some(Features::Cpu(f)) => Some(f.clone()),
            Some(Features::Gpu { pixels, mask, .. }) => {
                let f = self
                    .cpu
                    .encode_images(pixels, Some(mask))
                    .context("encoding the images on the CPU")?;
                self.features = Some(Features::Cpu(f.clone()));
                Some(f)
            }
        };
        let session = match from {
            Some(gpu) => Session::resume(
                self.cpu,
                params,
                gpu.processor().clone(),
                &self.prompt,
                features.as_ref(),
                gpu.generated(),
            )?,
            None => {
                let mut s = Session::new(self.cpu, params)?;
                s.prefill(&self.prompt, features.as_ref())?;
                s
            }
        };
        self.state = Some(State::Cpu(session));
        Ok(())
    }

    /// The next token, or None once the turn has ended.
    pub fn next_token(&mut self) -> Result<Option<u32>> {
        match self.state.as_mut() {
            Some(State::Cpu(s)) => return Ok(s.next_token()?),
            Some(State::Gpu(s)) => {
                if self.lose_after.is_some_and(|n| s.generated().len() >= n) {
                    self.lose_after = None;
                    if let Some(gpu) = &self.gpu {
                        gpu.destroy();
                    }
                }
                match s.next_token_blocking() {
                    Ok(t) => return Ok(t),
                    Err(e) if e.wants_cpu_fallback() => note(&format!(
                        "the GPU failed after {} tokens ({e}); the CPU carries on with this turn",
                        s.generated().len()
                    )),
                    Err(e) => return Err(e.into()),
                }
            }
            None => bail!("a failed hand-over to the CPU left no session"),
        }
        let Some(State::Gpu(gpu)) = self.state.take() else {
            bail!("a failed hand-over to the CPU left no session");
        };
        let params = gpu.params().clone();
        self.run_on_cpu(params, Some(gpu))?;
        self.next_token()
    }

    pub fn generated(&self) -> &[u32] {
        match &self.state {
            Some(State::Gpu(s)) => s.generated(),
            Some(State::Cpu(s)) => s.generated(),
            None => &[],
        }
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        match &self.state {
            Some(State::Gpu(s)) => s.stop_reason(),
            Some(State::Cpu(s)) => s.stop_reason(),
            None => None,
        }
    }

    /// `wgpu` or `cpu`: the backend that runs (or finished) the turn.
    pub fn backend(&self) -> &'static str {
        match &self.state {
            Some(State::Gpu(_)) => "wgpu",
            _ => "cpu",
        }
    }
}

/// `smolvlm bench --backend wgpu`: the contract's benchmark (512-token prefill, decoding at
/// 512.., decoding from empty, one 512x512 tile) on the GPU path, with the same random
/// weights as the CPU bench. Any adapter is used (software ones too: the JSON says which).
/// Pipelines are compiled by a short warm-up run first, as a long session would have them.
pub fn bench(cfg: &BenchConfig, size: &str, json: bool) -> Result<()> {
    let gpu = Gpu::new_blocking(&GpuOptions::forced()).context("--backend wgpu")?;
    let info = gpu.adapter_info().clone();
    eprintln!("GPU: {}", gpu.describe());
    let config = Config::preset(cfg.size);
    let start = Instant::now();
    let source = Arc::new(RandomSource::new(&config, cfg.dtype));
    let model = GpuModel::new(&gpu, &config, &Weights::new(source.clone(), &Device::Cpu))?;
    gpu.wait()?;
    let load_ms = start.elapsed().as_secs_f64() * 1000.0;
    eprintln!(
        "built and uploaded random {} weights in {load_ms:.0} ms ({} MB on the GPU)",
        cfg.dtype.name(),
        model.weight_bytes() / 1_000_000
    );
    let vocab = config.text.vocab_size as u64;
    // The CPU bench's token sequence.
    let id = |i: usize| ((i as u64 * 2654435761) % vocab) as u32;

    // Prefill `prompt_len` tokens (waited for), then time `cfg.decode_tokens` greedy steps
    // (each: argmax, a forward pass, a 4-byte read).
    let run = |prompt_len: usize, decode: usize| -> Result<(f64, f64)> {
        let prompt: Vec<u32> = (0..prompt_len).map(id).collect();
        let mut s = GpuSession::new(&model, GenerationParams::greedy(decode + 1, vec![]))?;
        let t = Instant::now();
        s.prefill(&prompt, None)?;
        gpu.wait()?;
        let prefill_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..decode {
            s.next_token_blocking()?;
        }
        Ok((prefill_s, t.elapsed().as_secs_f64()))
    };
    run(8, 2).context("warm-up")?;
    let (prefill_s, decode_s) = run(cfg.prompt_tokens, cfg.decode_tokens)?;
    let prefill_tokens_per_s = cfg.prompt_tokens as f64 / prefill_s;
    let decode_tokens_per_s = cfg.decode_tokens as f64 / decode_s;
    eprintln!(
        "prefill {} tokens: {:.0} ms; decode at {}..{}: {decode_tokens_per_s:.1} tokens/s",
        cfg.prompt_tokens,
        prefill_s * 1000.0,
        cfg.prompt_tokens,
        cfg.prompt_tokens + cfg.decode_tokens
    );
    let (_, empty_s) = run(1, cfg.decode_tokens)?;
    let decode_empty_tokens_per_s = cfg.decode_tokens as f64 / empty_s;
    eprintln!("decode from an empty context: {decode_empty_tokens_per_s:.1} tokens/s");

    let vision_ms_per_tile = if cfg.vision {
        let side = config.vision.image_size;
        let tile = |side: usize| -> Result<f64> {
            // Values do not matter for speed; a fixed pattern in [-1, 1).
            let px: Vec<f32> = (0..3 * side * side)
                .map(|i| ((i * 7919) % 2000) as f32 / 1000.0 - 1.0)
                .collect();
            let px = Tensor::from_vec(px, (1, 3, side, side), &Device::Cpu)?;
            let t = Instant::now();
            model.encode_images(&px, None)?;
            gpu.wait()?;
            Ok(t.elapsed().as_secs_f64() * 1000.0)
        };
        // The smallest frame the connector takes compiles the same pipelines.
        tile(config.vision.patch_size * config.scale_factor).context("vision warm-up")?;
        let ms = tile(side)?;
        eprintln!("vision: one {side}x{side} tile in {ms:.0} ms");
        Some(ms)
    } else {
        None
    };
    let peak_rss_mb = peak_rss_mb();
    let software = info.device_type == smolvlm_gpu::wgpu::DeviceType::Cpu;
    if json {
        let out = serde_json::json!({
            "size": size.to_ascii_lowercase(),
            "dtype": cfg.dtype.name(),
            "backend": "wgpu",
            "adapter": gpu.describe(),
            "software_adapter": software,
            "decode_tokens_per_s": decode_tokens_per_s,
            "decode_empty_tokens_per_s": decode_empty_tokens_per_s,
            "prefill_tokens_per_s": prefill_tokens_per_s,
            "vision_ms_per_tile": vision_ms_per_tile,
            "peak_rss_mb": peak_rss_mb,
            "load_ms": load_ms,
            "weight_bytes": model.weight_bytes(),
            "text_bytes_per_token": source.text_bytes_per_token(),
        });
        println!("{out}");
    } else {
        println!(
            "SmolVLM2-{size} {} on {}{}",
            cfg.dtype.name(),
            gpu.describe(),
            if software {
                " (a software adapter: says nothing of real GPUs)"
            } else {
                ""
            }
        );
        println!(
            "decode {decode_tokens_per_s:.1} tokens/s at {}+ ({decode_empty_tokens_per_s:.1} from empty); prefill {prefill_tokens_per_s:.1} tokens/s",
            cfg.prompt_tokens
        );
        if let Some(ms) = vision_ms_per_tile {
            println!("vision {ms:.0} ms per tile");
        }
        if let Some(mb) = peak_rss_mb {
            println!("peak RSS {mb:.0} MB");
        }
    }
    Ok(())
}

/// Peak resident set size (Linux `VmHWM`), or None elsewhere.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
