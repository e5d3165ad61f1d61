//! `--backend wgpu|auto`: the model on our WGSL kernels (crates/smolvlm-gpu) beside the CPU
//! model (the fallback), through `smolvlm_runtime`'s policy:
//!
//! - `auto` takes a hardware adapter whose limits suffice and never a software one
//!   (lavapipe, SwiftShader, WARP: there the CPU path is faster); with none, or when the
//!   model does not fit it, the CPU runs and stderr says why.
//! - `wgpu` takes whatever adapter exists, software ones included, and fails when there
//!   is none.
//! - A device lost in the middle of a run hands it to the CPU (the runtime's
//!   [`smolvlm_runtime::Run`]), with a message on stderr.

use std::time::Instant;

use anyhow::{Context, Result};
use smolvlm::bench::BenchConfig;
use smolvlm::bundle::{self, Loaded};
use smolvlm_gpu::{Gpu, GpuOptions};
use smolvlm_runtime::{open_gpu, upload, BackendChoice, Engine, Events};

use crate::generate::Backend;
use crate::load::{read_files, ModelFiles};

/// The runtime's events on stderr.
pub struct Stderr;

impl Events for Stderr {
    fn encoding(&mut self, _done: u32, _frames: u32) {}

    fn notice(&mut self, _text: &str) {
        // The note that comes with it says the same, with the error.
    }

    fn note(&mut self, text: &str) {
        eprintln!("smolvlm: {text}");
    }
}

/// The engine `backend` asks for, for the model in `files` (loaded on the CPU as `loaded`).
pub fn engine(backend: Backend, files: &ModelFiles, loaded: Loaded) -> Result<Engine> {
    let choice = match backend {
        Backend::Cpu => BackendChoice::Wasm,
        Backend::Auto => BackendChoice::Auto,
        Backend::Wgpu => BackendChoice::Webgpu,
    };
    let gpu = pollster::block_on(open_gpu(choice, &mut Stderr))
        .context("--backend wgpu (--backend auto or cpu run without a GPU)")?;
    let Some(gpu) = gpu else {
        return Ok(Engine::new(loaded, None));
    };
    // The files are read again: the CPU model keeps its own copy, converted for its kernels.
    let (layout, bytes) = read_files(files)?;
    let model = bundle::weight_source(&layout, bytes, loaded.model.config())
        .map_err(anyhow::Error::from)
        .and_then(|source| {
            upload(&gpu, choice, source, &loaded, &mut Stderr).map_err(anyhow::Error::from)
        })
        .context("uploading the model to the GPU")?;
    Ok(Engine::new(loaded, model))
}

/// `smolvlm bench --backend wgpu`: the runtime's GPU benchmark on any adapter (software
/// ones too: the JSON says which).
pub fn bench(cfg: &BenchConfig, size: &str, json: bool) -> Result<()> {
    let gpu = Gpu::new_blocking(&GpuOptions::forced()).context("--backend wgpu")?;
    let start = Instant::now();
    let clock = || start.elapsed().as_secs_f64() * 1000.0;
    let r = pollster::block_on(smolvlm_runtime::bench::gpu(
        &gpu,
        cfg,
        &clock,
        &mut |line| eprintln!("{line}"),
    ))?;
    let peak_rss_mb = crate::bench::peak_rss_mb();
    if json {
        let out = serde_json::json!({
            "size": size.to_ascii_lowercase(),
            "dtype": cfg.dtype.name(),
            "backend": "wgpu",
            "adapter": r.adapter,
            "software_adapter": r.software,
            "decode_tokens_per_s": r.decode_tokens_per_s,
            "decode_empty_tokens_per_s": r.decode_empty_tokens_per_s,
            "prefill_tokens_per_s": r.prefill_tokens_per_s,
            "vision_ms_per_tile": r.vision_ms_per_tile,
            "peak_rss_mb": peak_rss_mb,
            "load_ms": r.load_ms,
            "weight_bytes": r.weight_bytes,
            "text_bytes_per_token": r.text_bytes_per_token,
        });
        println!("{out}");
    } else {
        println!(
            "SmolVLM2-{size} {} on {}{}",
            cfg.dtype.name(),
            r.adapter,
            if r.software {
                " (a software adapter: says nothing of real GPUs)"
            } else {
                ""
            }
        );
        crate::bench::print_speeds(
            cfg.prompt_tokens,
            [
                r.decode_tokens_per_s,
                r.decode_empty_tokens_per_s,
                r.prefill_tokens_per_s,
            ],
            r.vision_ms_per_tile,
        );
        if let Some(mb) = peak_rss_mb {
            println!("peak RSS {mb:.0} MB");
        }
    }
    Ok(())
}
