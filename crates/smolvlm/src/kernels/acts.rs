//! Activations as the matmul kernels take them: f32 for float weights, and quantized once
//! per matmul to 8-bit blocks for quantized weights, as llama.cpp does (its `vec_dot_type`:
//! Q8_0 blocks for Q8_0/Q4_0/Q5_0 weights, Q8_K super-blocks for the k-quants), so the
//! inner loops are integer dot products of one weight block with one activation block.
//!
//! These layouts are ours (struct-of-arrays, scales in f32), not ggml's: they never leave
//! memory, and separate arrays keep the quantized values 32-byte strided for SIMD loads.

use std::cell::OnceCell;

use super::formats::{QK, QK_K};

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
    /// Quantizes `x` (t rows of `cols`, cols a multiple of 32).
    pub fn quantize(x: &[f32], cols: usize) -> Self {
        debug_assert!(cols % QK == 0 && x.len() % cols == 0);
        let nb = x.len() / QK;
        let mut qs = vec![0i8; x.len()];
        let mut d = vec![0f32; nb];
        for ((xb, qb), db) in x.chunks_exact(QK).zip(qs.chunks_exact_mut(QK)).zip(&mut d) {
            let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = amax / 127.0;
            let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
            for (q, &v) in qb.iter_mut().zip(xb) {
                *q = (v * inv).round() as i8;
            }
            *db = scale;
        }
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
                *q = (iscale * v).round().clamp(-128.0, 127.0) as i8;
            }
            for (s, q16) in sb.iter_mut().zip(qb.chunks_exact(16)) {
                *s = q16.iter().map(|&q| q as i16).sum();
            }
            *db = 1.0 / iscale;
        }
        Self { cols, qs, d, bsums }
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
