//! `/bench`: the CLI's benchmarks in this worker.

use ocr_protocol::{BenchReport, BenchRequest, Event, Failure, FailureKind};

use super::load::wasm_memory_bytes;
use super::run::{WASM, WEBGPU};
use super::{build, gpu, now, post};

/// `/bench`: on the CPU (`smolvlm::bench`, what `smolvlm bench` runs), or on WebGPU
/// (`backend=webgpu`: any adapter, the report says which; `auto`: a hardware one, else
/// the CPU).
pub(super) async fn bench(req: &BenchRequest) -> Result<BenchReport, Failure> {
    let cfg = bench_config(req)?;
    let mut log = |line: &str| {
        post(&Event::BenchLog {
            line: line.to_string(),
        })
    };
    let Some(device) = gpu::open(req.backend).await? else {
        let r = smolvlm::bench::run(&cfg, &now, &mut log).map_err(|e| {
            Failure::new(FailureKind::Internal, format!("The benchmark failed: {e}"))
        })?;
        return Ok(BenchReport {
            size: req.size.clone(),
            dtype: cfg.dtype.name().to_string(),
            backend: WASM.into(),
            adapter: None,
            software_adapter: None,
            load_ms: r.load_ms,
            prefill_tokens_per_s: r.prefill_tokens_per_s,
            decode_tokens_per_s: r.decode_tokens_per_s,
            decode_empty_tokens_per_s: r.decode_empty_tokens_per_s,
            vision_ms_per_tile: r.vision_ms_per_tile,
            picture_ms: r.picture.as_ref().map(|p| p.total_ms),
            picture_frames: r.picture.as_ref().map_or(0, |p| p.frames as u32),
            weight_bytes: r.weight_bytes as u64,
            wasm_memory_bytes: wasm_memory_bytes(),
            threads: build().threads,
            build: build().name,
        });
    };
    let r = smolvlm_runtime::bench::gpu(&device, &cfg, &now, &mut log)
        .await
        .map_err(|e| {
            Failure::new(
                FailureKind::Internal,
                format!("The benchmark failed on the GPU: {e}"),
            )
        })?;
    Ok(BenchReport {
        size: req.size.clone(),
        dtype: cfg.dtype.name().to_string(),
        backend: WEBGPU.into(),
        adapter: Some(r.adapter),
        software_adapter: Some(r.software),
        load_ms: r.load_ms,
        prefill_tokens_per_s: r.prefill_tokens_per_s,
        decode_tokens_per_s: r.decode_tokens_per_s,
        decode_empty_tokens_per_s: r.decode_empty_tokens_per_s,
        vision_ms_per_tile: r.vision_ms_per_tile,
        picture_ms: None,
        picture_frames: 0,
        weight_bytes: r.weight_bytes,
        wasm_memory_bytes: wasm_memory_bytes(),
        threads: build().threads,
        build: build().name,
    })
}

/// The benchmark's settings from the page's request.
fn bench_config(req: &BenchRequest) -> Result<smolvlm::bench::BenchConfig, Failure> {
    use smolvlm::bench::{BenchConfig, BenchDtype};
    use smolvlm::ModelSize;
    let bad = |m: String| Failure::new(FailureKind::BadRequest, m);
    let size = ModelSize::parse(&req.size)
        .ok_or_else(|| bad(format!("size {:?}: use {}", req.size, ModelSize::choices())))?;
    let dtype = BenchDtype::parse(&req.dtype).ok_or_else(|| {
        bad(format!(
            "dtype {:?}: use f32, f16, q8_0, q4_0 or q4_k",
            req.dtype
        ))
    })?;
    Ok(BenchConfig {
        size,
        dtype,
        prompt_tokens: req.prompt_tokens as usize,
        decode_tokens: req.decode_tokens as usize,
        vision: req.vision,
        picture_frames: req.picture_frames as usize,
    })
}
