//! Reading ggml's block layouts (the table of types and layouts is
//! [`crate::weight_type`]), byte for byte as ggml writes them (`ggml-common.h`), so the
//! bytes of a GGUF tensor (or of candle's `QTensor::data`) are used as they are. Scalar
//! dequantization here is the reference every SIMD kernel is tested against, and the path
//! for row gathers (embeddings).
//!
//! Reference: ggml `ggml-common.h` (block structs) and `ggml-quants.c`
//! (`dequantize_row_*`, `quantize_row_q8_0`, `quantize_row_q8_K`).
//! <https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml-common.h>

use half::f16;

pub use crate::weight_type::{blocks, WeightType, QK, QK_K};

use blocks::{Q4K, Q4_0, Q5_0, Q6K, Q8_0};

/// The `KIND` parameter of the SIMD kernels over the 32-element formats (const generics
/// take integers, not enums): which format a monomorphized kernel reads.
#[allow(dead_code)] // only the SIMD kernels (x86_64, wasm32 with simd128) use them
pub(crate) const KIND_Q8_0: u8 = 0;
#[allow(dead_code)]
pub(crate) const KIND_Q4_0: u8 = 1;
#[allow(dead_code)]
pub(crate) const KIND_Q5_0: u8 = 2;

// The kernels over the 32-element formats read the scale at the block's start.
const _: () = assert!(Q8_0::D == 0 && Q4_0::D == 0 && Q5_0::D == 0);

/// Bytes of one block of the 32-element format `kind` (a constant in each kernel).
#[allow(dead_code)]
pub(crate) const fn block32_bytes(kind: u8) -> usize {
    match kind {
        KIND_Q8_0 => Q8_0::BYTES,
        KIND_Q4_0 => Q4_0::BYTES,
        _ => Q5_0::BYTES,
    }
}

#[inline]
pub(crate) fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

/// An f16 widened to f32, exactly and without branches: the magnitude bits shifted into
/// place and multiplied by 2^112 (which rebias normals and scales subnormals right),
/// infinities and NaNs given the f32 all-ones exponent. Written by hand because `half`'s
/// portable conversion (wasm32 has no f16 instruction) branches on zero, subnormals and
/// infinities, and the block formats convert one scale per 32 weights.
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let em = h & 0x7FFF;
    let finite = f32::from_bits(em << 13) * f32::from_bits(0x7780_0000);
    let bits = if em >= 0x7C00 {
        (em << 13) | 0x7F80_0000
    } else {
        finite.to_bits()
    };
    f32::from_bits(bits | (h & 0x8000) << 16)
}

/// The 6-bit scale and min of sub-block `j` (0..8) of a Q4_K block (`get_scale_min_k4`).
#[inline]
pub(crate) fn q4k_scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// Dequantizes one row stored as `ty` into `out` (its length is the row's element count).
/// `bytes` must hold exactly `ty.row_bytes(out.len())` bytes.
pub fn dequantize_row(ty: WeightType, bytes: &[u8], out: &mut [f32]) {
    debug_assert_eq!(Some(bytes.len()), ty.row_bytes(out.len()));
    let bb = ty.block_bytes();
    match ty {
        WeightType::F32 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        WeightType::F16 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32();
            }
        }
        WeightType::Q8_0 => {
            for (y, b) in out.chunks_exact_mut(QK).zip(bytes.chunks_exact(bb)) {
                let d = f16_at(b, Q8_0::D);
                for (y, &q) in y.iter_mut().zip(&b[Q8_0::QS..Q8_0::BYTES]) {
                    *y = d * (q as i8) as f32;
                }
            }
        }
        WeightType::Q4_0 => {
            for (y, b) in out.chunks_exact_mut(QK).zip(bytes.chunks_exact(bb)) {
                let d = f16_at(b, Q4_0::D);
                for j in 0..16 {
                    y[j] = d * ((b[Q4_0::QS + j] & 0xF) as i32 - 8) as f32;
                    y[j + 16] = d * ((b[Q4_0::QS + j] >> 4) as i32 - 8) as f32;
                }
            }
        }
        WeightType::Q5_0 => {
            for (y, b) in out.chunks_exact_mut(QK).zip(bytes.chunks_exact(bb)) {
                let d = f16_at(b, Q5_0::D);
                let h = Q5_0::QH;
                let qh = u32::from_le_bytes([b[h], b[h + 1], b[h + 2], b[h + 3]]);
                for j in 0..16 {
                    let h0 = ((qh >> j) << 4) & 0x10;
                    let h1 = (qh >> (j + 12)) & 0x10;
                    y[j] = d * (((b[Q5_0::QS + j] as u32 & 0xF) | h0) as i32 - 16) as f32;
                    y[j + 16] = d * (((b[Q5_0::QS + j] as u32 >> 4) | h1) as i32 - 16) as f32;
                }
            }
        }
        WeightType::Q4K => {
            for (y, b) in out.chunks_exact_mut(QK_K).zip(bytes.chunks_exact(bb)) {
                let d = f16_at(b, Q4K::D);
                let dmin = f16_at(b, Q4K::DMIN);
                let scales = &b[Q4K::SCALES..Q4K::QS];
                let qs = &b[Q4K::QS..Q4K::BYTES];
                for j in 0..4 {
                    let (s1, m1) = q4k_scale_min(2 * j, scales);
                    let (s2, m2) = q4k_scale_min(2 * j + 1, scales);
                    let (d1, m1) = (d * s1 as f32, dmin * m1 as f32);
                    let (d2, m2) = (d * s2 as f32, dmin * m2 as f32);
                    let q = &qs[32 * j..32 * j + 32];
                    let y = &mut y[64 * j..64 * j + 64];
                    for l in 0..32 {
                        y[l] = d1 * (q[l] & 0xF) as f32 - m1;
                        y[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
                    }
                }
            }
        }
        WeightType::Q6K => {
            for (y, b) in out.chunks_exact_mut(QK_K).zip(bytes.chunks_exact(bb)) {
                let d = f16_at(b, Q6K::D);
                for half in 0..2 {
                    let (ql, qh, sc) = (
                        Q6K::QL + 64 * half,
                        Q6K::QH + 32 * half,
                        Q6K::SCALES + 8 * half,
                    );
                    let ql = &b[ql..ql + 64];
                    let qh = &b[qh..qh + 32];
                    let sc = &b[sc..sc + 8];
                    let y = &mut y[128 * half..128 * half + 128];
                    for l in 0..32 {
                        let is = l / 16;
                        let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                        let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                        let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                        let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                        y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                        y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                        y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                        y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_widening_is_exact_for_every_value() {
        for h in 0..=u16::MAX {
            let (got, want) = (f16_to_f32(h), f16::from_bits(h).to_f32());
            if want.is_nan() {
                assert!(got.is_nan(), "{h:#06x}: {got}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{h:#06x}: {got} vs {want}");
            }
        }
    }
}
