//! The CPU kernels (`smolvlm::kernels`) against straightforward references on random
//! inputs of awkward sizes: the SIMD kernels against the scalar ones (same integer sums,
//! so only f32 summation order differs), and every kernel against dequantize + f32 dot
//! (which differs by the activations' 8-bit quantization, bounded exactly below).
//! Weights are quantized by candle, an implementation independent of ours.
//!
//! Runs natively (AVX2 where present) and compiled to wasm32 with SIMD128 in Node:
//!
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!   cargo test --release --target wasm32-unknown-unknown -p smolvlm --test kernels

use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use smolvlm::kernels::{self, Acts, Isa, KernelError, QMatrix, WeightType};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn random(n: usize, rng: &mut StdRng) -> Vec<f32> {
    // Mostly small values with a few large ones, as in real activations and weights.
    (0..n)
        .map(|i| {
            let v: f32 = rng.random_range(-1.0..1.0);
            if i % 37 == 5 {
                v * 8.0
            } else {
                v
            }
        })
        .collect()
}

/// A matrix quantized by candle, and candle's own dequantization of it.
fn quantized(ty: WeightType, rows: usize, cols: usize, rng: &mut StdRng) -> (QMatrix, Vec<f32>) {
    let w = random(rows * cols, rng);
    let t = Tensor::from_vec(w, (rows, cols), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&t, ty.ggml_dtype()).unwrap();
    let deq: Vec<f32> = q
        .dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let m = QMatrix::new(ty, rows, cols, &q.data().unwrap()).unwrap();
    (m, deq)
}

/// Column counts that are whole blocks but not round numbers.
fn col_cases(ty: WeightType) -> Vec<usize> {
    match ty.block_elems() {
        1 => vec![1, 7, 8, 33, 96, 200],
        32 => vec![32, 96, 160, 576],
        _ => vec![256, 768],
    }
}

const ROW_CASES: [usize; 4] = [1, 3, 6, 67];
// 9 and 17: past the token count where SIMD128 widens rows to f32 first.
const TOKEN_CASES: [usize; 7] = [1, 2, 3, 5, 7, 9, 17];

/// Whether `isa` multiplies `t` tokens by widened `ty` rows with f32 activations where the
/// scalar kernel would round them to 8 bits.
fn widens(isa: Isa, ty: WeightType, t: usize) -> bool {
    act_block(ty) != 0 && kernels::matmul::widen(isa, ty, t).is_some()
}

/// |sum w (x - x_hat)| <= sum over blocks of (scale / 2) * sum |w| when x_hat rounds x to
/// multiples of the block scale; `block` is 32 (Q8_0) or 256 (Q8_K), scale amax / 127.
fn quantization_bound(w: &[f32], x: &[f32], block: usize) -> f32 {
    w.chunks(block)
        .zip(x.chunks(block))
        .map(|(wb, xb)| {
            let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
            amax / 127.0 / 2.0 * wb.iter().map(|v| v.abs()).sum::<f32>()
        })
        .sum()
}

fn act_block(ty: WeightType) -> usize {
    match ty {
        WeightType::F32 | WeightType::F16 => 0,
        WeightType::Q4K | WeightType::Q6K => 256,
        _ => 32,
    }
}

#[test]
fn dequantized_rows_equal_candles() {
    let mut rng = StdRng::seed_from_u64(1);
    for ty in WeightType::ALL {
        for &cols in &col_cases(ty) {
            let (m, want) = quantized(ty, 5, cols, &mut rng);
            let got = m.to_f32();
            assert_eq!(got, want, "{ty} {cols} columns");
        }
    }
}

#[test]
fn matmul_matches_dequantized_reference_for_every_type_and_shape() {
    let mut rng = StdRng::seed_from_u64(2);
    for ty in WeightType::ALL {
        for &cols in &col_cases(ty) {
            for &rows in &ROW_CASES {
                let (m, w) = quantized(ty, rows, cols, &mut rng);
                for &t in &TOKEN_CASES {
                    let x = random(t * cols, &mut rng);
                    let acts = Acts::new(&x, cols);
                    let mut portable = vec![0f32; t * rows];
                    m.matmul_with(Isa::Scalar, &acts, &mut portable).unwrap();
                    for isa in Isa::available() {
                        let mut best = vec![0f32; t * rows];
                        m.matmul_with(isa, &acts, &mut best).unwrap();
                        for tok in 0..t {
                            let xt = &x[tok * cols..(tok + 1) * cols];
                            for r in 0..rows {
                                let wr = &w[r * cols..(r + 1) * cols];
                                let exact: f64 =
                                    wr.iter().zip(xt).map(|(&a, &b)| a as f64 * b as f64).sum();
                                let magnitude: f32 =
                                    wr.iter().zip(xt).map(|(a, b)| (a * b).abs()).sum();
                                // f32 accumulation: a few ulps of the sum of magnitudes.
                                let rounding = 1e-5 * magnitude + 1e-6;
                                let quant = match act_block(ty) {
                                    0 => 0.0,
                                    b => quantization_bound(wr, xt, b),
                                };
                                let (got, port) = (best[tok * rows + r], portable[tok * rows + r]);
                                let ctx =
                                    format!("{ty} {rows}x{cols}, {t} tokens, row {r} token {tok}");
                                // A kernel on widened rows keeps the activations f32, so it
                                // computes the dequantized f32 dot (the scalar kernel
                                // rounds the activations to 8 bits first).
                                let (want, what) = if widens(isa, ty, t) {
                                    (exact as f32, "dequantized f32 dot")
                                } else {
                                    (port, "scalar")
                                };
                                assert!(
                                    (got - want).abs() <= rounding,
                                    "{ctx}: {isa:?} kernel {got} vs {what} {want}"
                                );
                                assert!(
                                    (got as f64 - exact).abs() <= (quant + rounding) as f64,
                                    "{ctx}: {got} vs dequantized f32 dot {exact} (bound {})",
                                    quant + rounding
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn threads_split_rows_without_changing_results() {
    let mut rng = StdRng::seed_from_u64(3);
    for ty in [WeightType::Q8_0, WeightType::Q4K, WeightType::F16] {
        let cols = col_cases(ty)[1];
        let (m, _) = quantized(ty, 67, cols, &mut rng);
        let x = random(3 * cols, &mut rng);
        let mut one = vec![0f32; 3 * 67];
        let mut three = vec![0f32; 3 * 67];
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        pool(1).install(|| m.matmul(&Acts::new(&x, cols), &mut one).unwrap());
        pool(3).install(|| m.matmul(&Acts::new(&x, cols), &mut three).unwrap());
        assert_eq!(one, three, "{ty}");
    }
}

#[test]
fn bad_shapes_are_errors() {
    assert_eq!(
        QMatrix::new(WeightType::Q8_0, 2, 40, &[0; 68]).unwrap_err(),
        KernelError::RowLength {
            ty: WeightType::Q8_0,
            cols: 40,
            block: 32
        }
    );
    assert_eq!(
        QMatrix::new(WeightType::Q8_0, 2, 32, &[0; 67]).unwrap_err(),
        KernelError::DataSize {
            ty: WeightType::Q8_0,
            rows: 2,
            cols: 32,
            expected: 68,
            got: 67
        }
    );
    let m = QMatrix::from_f32(2, 3, &[0.0; 6]).unwrap();
    let x = [0f32; 4];
    let err = m.matmul(&Acts::new(&x, 4), &mut [0.0; 2]).unwrap_err();
    assert!(matches!(err, KernelError::MatmulShape { .. }), "{err}");
}

#[test]
fn the_simd_kernels_are_the_ones_tested() {
    // Where SIMD exists, the comparisons above are SIMD against scalar, not scalar twice.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    assert_eq!(kernels::isa(), Isa::Simd128);
    #[cfg(target_arch = "x86_64")]
    if std::env::var("SMOLVLM_KERNELS").is_err()
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
    {
        assert!(kernels::isa().has_avx2(), "{:?}", kernels::isa());
    }
}
