//! Activations as the matmul kernels take them: f32 for float weights, and quantized once
//! per matmul to 8-bit blocks for quantized weights, as llama.cpp does (its `vec_dot_type`:
//! Q8_0 blocks for Q8_0/Q4_0/Q5_0 weights, Q8_K super-blocks for the k-quants), so the
//! inner loops are integer dot products of one weight block with one activation block.
//!
//! These layouts are ours (struct-of-arrays, scales in f32), not ggml's: they never leave
//! memory, and separate arrays keep the quantized values 32-byte strided for SIMD loads.

use std::cell::OnceCell;

use super::cpu;
use super::formats::{QK, QK_K};
use super::ops::multiversion;

/// Q8_0-style blocks: for each token and each 32 elements, one f32 scale `d` and 32 i8
/// with x ≈ d * q (d = max|x| / 127, round to nearest).
#[derive(Debug, Clone, Default)]
pub struct Q8Blocks {
    /// Elements per token.
    pub cols: usize,
    /// t * cols values, token after token.
    pub qs: Vec<i8>,
    /// t * cols / 32 scales.
    pub d: Vec<f32>,
}

impl Q8Blocks {
    /// Quantizes `x` (t rows of `cols`, cols a multiple of 32), tokens spread over the
    /// kernel threads (the vision encoder quantizes a thousand tokens per matmul).
    pub fn quantize(x: &[f32], cols: usize) -> Self {
        debug_assert!(cols % QK == 0 && x.len() % cols == 0);
        let mut qs = vec![0i8; x.len()];
        let mut d = vec![0f32; x.len() / QK];
        let tokens = tokens_per_task(cols);
        cpu::for_each_chunk_pair_mut(
            &mut qs,
            tokens * cols,
            &mut d,
            tokens * cols / QK,
            |i, qs, d| quantize_q8_0(&x[i * tokens * cols..][..qs.len()], qs, d),
        );
        Self { cols, qs, d }
    }

    pub fn tokens(&self) -> usize {
        self.qs.len() / self.cols.max(1)
    }
}

/// Q8_K-style super-blocks for the k-quants: per token and 256 elements, one f32 scale
/// `d`, 256 i8, and the sums of each 16 consecutive values (the k-quant kernels need
/// them for the weights' offsets and mins).
#[derive(Debug, Clone, Default)]
pub struct Q8KBlocks {
    pub cols: usize,
    pub qs: Vec<i8>,
    /// t * cols / 256 scales.
    pub d: Vec<f32>,
    /// t * cols / 16 sums.
    pub bsums: Vec<i16>,
}

impl Q8KBlocks {
    /// Quantizes `x` (t rows of `cols`, cols a multiple of 256) as ggml's
    /// `quantize_row_q8_K`: the element of largest magnitude maps to -127.
    pub fn quantize(x: &[f32], cols: usize) -> Self {
        debug_assert!(cols % QK_K == 0 && x.len() % cols == 0);
        let nb = x.len() / QK_K;
        let mut qs = vec![0i8; x.len()];
        let mut d = vec![0f32; nb];
        let mut bsums = vec![0i16; x.len() / 16];
        for (((xb, qb), db), sb) in x
            .chunks_exact(QK_K)
            .zip(qs.chunks_exact_mut(QK_K))
            .zip(&mut d)
            .zip(bsums.chunks_exact_mut(QK_K / 16))
        {
            let (mut amax, mut max) = (0f32, 0f32);
            for &v in xb {
                if amax < v.abs() {
                    amax = v.abs();
                    max = v;
                }
            }
            if amax == 0.0 {
                continue;
            }
            let iscale = -127.0 / max;
            for (q, &v) in qb.iter_mut().zip(xb) {
                *q = round_half_away(iscale * v).clamp(-128, 127) as i8;
            }
            for (s, q16) in sb.iter_mut().zip(qb.chunks_exact(16)) {
                *s = q16.iter().map(|&q| q as i16).sum();
            }
            *db = 1.0 / iscale;
        }
        Self { cols, qs, d, bsums }
    }
}

/// Whole tokens per quantization task: about 64 KiB of input, so a decode step (one
/// token) stays on its thread and a vision tile splits into tens of tasks.
fn tokens_per_task(cols: usize) -> usize {
    ((1 << 14) / cols.max(1)).max(1)
}

/// `x.round()` (halves away from zero, as C's `roundf` and ggml) for |x| < 2^31, without
/// the libm call `round()` compiles to on x86_64 before SSE4.1 and on wasm32: truncation
/// is one instruction and `x - trunc(x)` is exact, so the result is too. Loops over it
/// vectorize.
#[inline(always)]
pub(crate) fn round_half_away(x: f32) -> i32 {
    let t = x as i32;
    let f = x - t as f32;
    t + (f >= 0.5) as i32 - (f <= -0.5) as i32
}

multiversion! {
    /// ggml's `quantize_row_q8_0` over whole blocks: `x` into 32-value blocks `qs` with
    /// scales `d` (d = max|x| / 127, values rounded to nearest).
    fn quantize_q8_0(x: &[f32], qs: &mut [i8], d: &mut [f32]) {
        for ((xb, qb), db) in x.chunks_exact(QK).zip(qs.chunks_exact_mut(QK)).zip(d) {
            // Eight running maxima: one would be a serial chain the compiler keeps scalar.
            let mut m = [0f32; 8];
            for c in xb.chunks_exact(8) {
                for i in 0..8 {
                    m[i] = m[i].max(c[i].abs());
                }
            }
            let amax = m.iter().fold(0f32, |a, &v| a.max(v));
            let scale = amax / 127.0;
            let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
            for (q, &v) in qb.iter_mut().zip(xb) {
                *q = round_half_away(v * inv) as i8;
            }
            *db = scale;
        }
    }
}

/// One matmul input, `t` tokens of `cols` f32, with its quantized forms made on first
/// use and kept, so q/k/v (or gate/up) projections of the same input quantize it once.
pub struct Acts<'a> {
    x: &'a [f32],
    cols: usize,
    q8: OnceCell<Q8Blocks>,
    q8k: OnceCell<Q8KBlocks>,
}

impl<'a> Acts<'a> {
    /// `x` holds whole tokens of `cols` values.
    pub fn new(x: &'a [f32], cols: usize) -> Self {
        debug_assert!(cols > 0 && x.len() % cols == 0);
        Self {
            x,
            cols,
            q8: OnceCell::new(),
            q8k: OnceCell::new(),
        }
    }

    pub fn f32(&self) -> &'a [f32] {
        self.x
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn tokens(&self) -> usize {
        self.x.len() / self.cols
    }

    pub fn q8(&self) -> &Q8Blocks {
        self.q8
            .get_or_init(|| Q8Blocks::quantize(self.x, self.cols))
    }

    pub fn q8k(&self) -> &Q8KBlocks {
        self.q8k
            .get_or_init(|| Q8KBlocks::quantize(self.x, self.cols))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_half_away_is_roundf() {
        let mut xs = vec![
            0.5f32,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999997,
            -0.49999997,
            126.5,
            -127.5,
        ];
        xs.extend((-20000..20000).map(|i| i as f32 / 157.0));
        xs.extend((0..100).map(|i| f32::from_bits(0x3eff_ff00 + i)));
        for x in xs {
            assert_eq!(round_half_away(x), x.round() as i32, "{x}");
        }
    }

    #[test]
    fn q8_0_quantization_is_ggmls_on_every_split() {
        // 300 tokens: several tasks when the kernels have threads, one otherwise.
        let cols = 64;
        let x: Vec<f32> = (0..300 * cols)
            .map(|i| ((i * 7919 % 2003) as f32 - 1001.0) / 97.0)
            .collect();
        let q = Q8Blocks::quantize(&x, cols);
        for ((xb, qb), &d) in x.chunks_exact(QK).zip(q.qs.chunks_exact(QK)).zip(&q.d) {
            let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_eq!(d, amax / 127.0);
            for (&v, &g) in xb.iter().zip(qb) {
                assert_eq!(g, (v * (1.0 / d)).round() as i8);
            }
        }
    }
}
