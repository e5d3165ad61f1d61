//! Micro-benchmarks of the weight kernels at SmolVLM2-256M's shapes:
//! matvec GB/s per GGUF type (576x576 attention, 1536x576 gate/up, 576x1536 down,
//! 49280x576 output layer), the 1024x768x3072 matmul of a vision MLP in GFLOP/s, and
//! attention for decode (one query against 1100 / 4096 cached keys) and a 512-token prefill.
//!
//!   cargo run --release -p smolvlm-gpu --example bench [-- --auto] [--quick]
//!
//! `--auto` uses the adapter the model would pick (hardware only); the default forces any
//! adapter, so it also runs on lavapipe, whose numbers say nothing about real GPUs.
//! Times are wall-clock over many dispatches in one submit, after a warm-up.

use std::time::Instant;

use candle_core::quantized::QTensor;
use smolvlm_gpu::{Gpu, GpuOptions, Weight, WeightType};

/// A weight of random values (speed does not depend on them), quantized by candle.
fn random_weight(gpu: &Gpu, ty: WeightType, rows: usize, cols: usize) -> anyhow::Result<Weight> {
    let t = candle_core::Tensor::randn(0f32, 1f32, (rows, cols), &candle_core::Device::Cpu)?;
    let q = QTensor::quantize(&t, ty.ggml_dtype())?;
    Ok(gpu.upload_weight(ty, rows, cols, &q.data()?)?)
}

/// Seconds per run of `record` (which records one operation), over enough runs in one
/// submit to take about `budget` seconds.
fn time_per_op(
    gpu: &Gpu,
    budget: f64,
    mut record: impl FnMut(&mut smolvlm_gpu::Recorder<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    // Warm-up: compiles the pipeline, makes the bind groups, estimates the cost.
    let t0 = Instant::now();
    let mut rec = gpu.recorder();
    record(&mut rec)?;
    rec.submit()?;
    gpu.wait()?;
    let once = t0.elapsed().as_secs_f64().max(1e-6);
    let n = ((budget / once) as usize).clamp(3, 2000);
    let mut rec = gpu.recorder();
    for _ in 0..n {
        record(&mut rec)?;
    }
    let t0 = Instant::now();
    rec.submit()?;
    gpu.wait()?;
    Ok(t0.elapsed().as_secs_f64() / n as f64)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let auto = args.iter().any(|a| a == "--auto");
    let budget = if args.iter().any(|a| a == "--quick") {
        0.3
    } else {
        1.5
    };
    let opts = if auto {
        GpuOptions::auto()
    } else {
        GpuOptions::forced()
    };
    let gpu = Gpu::new_blocking(&opts)?;
    let software = gpu.adapter_info().device_type == wgpu::DeviceType::Cpu;
    println!(
        "adapter: {}{}",
        gpu.describe(),
        if software {
            "  [SOFTWARE: says nothing about real GPUs]"
        } else {
            ""
        }
    );

    println!("\nmatvec (decode), y = W x, weight bytes read per second:");
    println!(
        "{:<6} {:>12} {:>10} {:>10} {:>9}",
        "type", "shape", "MB", "us/op", "GB/s"
    );
    let shapes = [(576, 576), (1536, 576), (576, 1536), (49280, 576)];
    for ty in WeightType::ALL {
        for (rows, cols) in shapes {
            if smolvlm_gpu::row_bytes(ty, cols).is_err() {
                continue; // k-quants need rows of 256k values (llama.cpp stores these as Q5_0/Q8_0)
            }
            let w = random_weight(&gpu, ty, rows, cols)?;
            let x = gpu.upload(&vec![0.5; cols])?;
            let y = gpu.tensor(rows)?;
            let t = time_per_op(&gpu, budget, |rec| Ok(rec.matvec(&w, &x, &y, None, None)?))?;
            let mb = w.size_bytes() as f64 / 1e6;
            println!(
                "{:<6} {:>12} {:>10.2} {:>10.1} {:>9.2}",
                ty.name(),
                format!("{rows}x{cols}"),
                mb,
                t * 1e6,
                mb / 1e3 / t
            );
        }
    }

    let (m, k, n) = (1024, 768, 3072);
    println!("\nmatmul (vision MLP), Y[{m}x{n}] = X[{m}x{k}] W^T:");
    println!("{:<6} {:>10} {:>10}", "type", "ms/op", "GFLOP/s");
    for ty in [
        WeightType::F32,
        WeightType::F16,
        WeightType::Q8_0,
        WeightType::Q4_0,
    ] {
        let w = random_weight(&gpu, ty, n, k)?;
        let x = gpu.upload(&vec![0.5; m * k])?;
        let y = gpu.tensor(m * n)?;
        let t = time_per_op(&gpu, budget, |rec| {
            Ok(rec.matmul(&w, &x, m, &y, None, None)?)
        })?;
        println!(
            "{:<6} {:>10.2} {:>10.1}",
            ty.name(),
            t * 1e3,
            2.0 * (m * n * k) as f64 / t / 1e9
        );
    }

    println!("\nattention, SmolVLM2-256M text (9 heads, 3 kv heads of 64):");
    println!("{:<24} {:>10}", "case", "us/op");
    for (q_len, kv_len) in [(1, 1100), (1, 4096), (512, 512)] {
        let (h, kvh, d) = (9, 3, 64);
        let q = gpu.upload(&vec![0.1; q_len * h * d])?;
        let kv = gpu.upload(&vec![0.1; kv_len * kvh * d])?;
        let out = gpu.tensor(q_len * h * d)?;
        let t = time_per_op(&gpu, budget, |rec| {
            Ok(rec.attention(&smolvlm_gpu::AttentionArgs {
                q: &q,
                k: &kv,
                v: &kv,
                out: &out,
                heads: h,
                kv_heads: kvh,
                head_dim: d,
                q_len,
                kv_len,
                causal: true,
                q_pos0: kv_len - q_len,
                key_mask: None,
                scale: 0.125,
            })?)
        })?;
        println!(
            "{:<24} {:>10.1}",
            format!("{q_len} queries x {kv_len} keys"),
            t * 1e6
        );
    }
    Ok(())
}
