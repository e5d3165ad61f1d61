//! `bench --backend wgpu` and `/bench?backend=webgpu`: the contract's benchmark (a
//! 512-token prefill, decoding after it and from an empty context, one 512×512 tile) on our
//! WGSL kernels, with `smolvlm::bench`'s random weights and token sequence (the CPU's
//! benchmark is `smolvlm::bench::run`). A browser waits for the GPU only by reading
//! something back, so each timed step ends with a read: the prefill with a logit, each
//! decoded token with its id (as a run does), the tile with a value of its features.
//! Pipelines are compiled by a short warm-up first, as a long session would have them.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use smolvlm::bench::{token, BenchConfig, RandomSource};
use smolvlm::{Config, GenerationParams, Weights};
use smolvlm_gpu::{Gpu, GpuModel, GpuSession};

/// What [`gpu`] measured.
#[derive(Debug, Clone)]
pub struct GpuBench {
    pub load_ms: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub decode_empty_tokens_per_s: f64,
    pub vision_ms_per_tile: Option<f64>,
    pub weight_bytes: u64,
    /// Bytes of weights read per decoded token (the bandwidth bound).
    pub text_bytes_per_token: u64,
    pub adapter: String,
    /// A software adapter (lavapipe, SwiftShader): its numbers say nothing of real GPUs.
    pub software: bool,
}

/// Runs the benchmark `cfg` on `gpu`; `clock` gives milliseconds, `log` takes progress lines.
pub async fn gpu(
    gpu: &Gpu,
    cfg: &BenchConfig,
    clock: &dyn Fn() -> f64,
    log: &mut dyn FnMut(&str),
) -> smolvlm_gpu::Result<GpuBench> {
    log(&format!("GPU: {}", gpu.describe()));
    let config = Config::preset(cfg.size);
    let start = clock();
    let source = Arc::new(RandomSource::new(&config, cfg.dtype));
    let model = GpuModel::new(gpu, &config, &Weights::new(source.clone(), &Device::Cpu))?;
    let load_ms = clock() - start;
    log(&format!(
        "built and uploaded random {} weights in {load_ms:.0} ms ({} MB on the GPU)",
        cfg.dtype.name(),
        model.weight_bytes() / 1_000_000
    ));
    let vocab = config.text.vocab_size;
    // Prefill `prompt_len` tokens (read back), then time `decode` greedy steps.
    let run = |prompt_len: usize, decode: usize| {
        let model = &model;
        async move {
            let prompt: Vec<u32> = (0..prompt_len).map(|i| token(i, vocab)).collect();
            let mut s = GpuSession::new(model, GenerationParams::greedy(decode + 1, vec![]))?;
            let t = clock();
            s.prefill(&prompt, None)?;
            s.wait().await?;
            let prefill_ms = clock() - t;
            let t = clock();
            for _ in 0..decode {
                s.next_token().await?;
            }
            Ok::<_, smolvlm_gpu::Error>((prefill_ms, clock() - t))
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
                let t = clock();
                let mut encoding = model.begin_images(&px, None)?;
                encoding.encode_next()?;
                encoding.wait().await?;
                Ok::<_, smolvlm_gpu::Error>(clock() - t)
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
    Ok(GpuBench {
        load_ms,
        prefill_tokens_per_s,
        decode_tokens_per_s,
        decode_empty_tokens_per_s,
        vision_ms_per_tile,
        weight_bytes: model.weight_bytes(),
        text_bytes_per_token: source.text_bytes_per_token() as u64,
        adapter: gpu.describe(),
        software: gpu.adapter_info().device_type == smolvlm_gpu::wgpu::DeviceType::Cpu,
    })
}
