//! Shared by the kernel tests: one forced GPU per test binary, random data, candle's
//! quantizer as the source of GGUF blocks, and tolerance checks.
#![allow(dead_code)]

use std::sync::OnceLock;

use candle_core::quantized::QTensor;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use smolvlm_gpu::{Gpu, GpuOptions, WeightType};

/// Unit roundoff of f32.
pub const U: f64 = f32::EPSILON as f64 / 2.0;

/// The GPU the tests run on: any adapter, software ones included (lavapipe in CI). With no
/// adapter at all the tests fail, loudly, rather than pass without having run.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new_blocking(&GpuOptions::forced()) {
        Ok(g) => {
            eprintln!("GPU tests run on: {}", g.describe());
            g
        }
        Err(e) => panic!(
            "the GPU kernel tests need a wgpu adapter and found none ({e}). \
             Install a Vulkan driver: `apt-get install mesa-vulkan-drivers` gives lavapipe."
        ),
    })
}

pub fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

/// `n` values uniform in [-a, a).
pub fn uniform(rng: &mut SmallRng, n: usize, a: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-a..a)).collect()
}

/// A random `rows x cols` weight quantized by candle to `ty`: its GGUF bytes and candle's
/// dequantization of them (the reference the GPU must reproduce).
pub fn random_weight(
    rng: &mut SmallRng,
    ty: WeightType,
    rows: usize,
    cols: usize,
) -> (Vec<u8>, Vec<f32>) {
    let data = uniform(rng, rows * cols, 1.0);
    let t = candle_core::Tensor::from_vec(data, (rows, cols), &candle_core::Device::Cpu)
        .expect("tensor");
    let q = QTensor::quantize(&t, ty.ggml_dtype()).expect("quantize");
    let bytes = q.data().expect("bytes").to_vec();
    assert_eq!(
        bytes.len(),
        rows * ty.row_bytes(cols).expect("row bytes"),
        "candle's {ty} layout differs from ours"
    );
    let deq = q
        .dequantize(&candle_core::Device::Cpu)
        .expect("dequantize")
        .flatten_all()
        .expect("flatten")
        .to_vec1::<f32>()
        .expect("vec");
    (bytes, deq)
}

/// Row lengths to test per type: awkward ones (not multiples of the 32-wide lane loop or
/// of a whole tile) but whole blocks.
pub fn awkward_cols(ty: WeightType) -> usize {
    match ty {
        WeightType::F32 | WeightType::F16 => 100,
        WeightType::Q8_0 | WeightType::Q4_0 | WeightType::Q5_0 => 96 + 32 * 4,
        WeightType::Q4K | WeightType::Q6K => 512,
    }
}

/// Asserts |got - want| <= tol[i] everywhere, reporting the worst offender.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], tol: impl Fn(usize) -> f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst: Option<(usize, f64, f64)> = None;
    for i in 0..got.len() {
        let err = (got[i] as f64 - want[i]).abs();
        let t = tol(i);
        if err.is_nan() || err > t {
            let ratio = err / t;
            if worst.is_none_or(|(_, r, _)| ratio > r || ratio.is_nan()) {
                worst = Some((i, ratio, err));
            }
        }
    }
    if let Some((i, _, err)) = worst {
        panic!(
            "{what}: value {i} is {} but the reference is {} (error {err:e} > tolerance {:e})",
            got[i],
            want[i],
            tol(i)
        );
    }
}
