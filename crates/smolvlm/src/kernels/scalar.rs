//! Portable kernels: one weight row against one token, integer dot products per block as
//! the SIMD kernels compute them. They run where no SIMD kernel exists, and they are the
//! exact reference the SIMD kernels are tested against (same integer sums, so only the
//! order of the f32 additions differs).

use super::acts::{Q8Blocks, Q8KBlocks};
use super::formats::{f16_at, q4k_scale_min, WeightType, QK, QK_K};
use crate::weight_type::blocks::{Q4K, Q4_0, Q5_0, Q6K, Q8_0};

/// Dot product of one weight row (`row`, stored as `ty`) with token `t` of the
/// activations: `x` for float weights, `q8` for Q8_0/Q4_0/Q5_0, `q8k` for the k-quants.
pub fn dot_row(
    ty: WeightType,
    row: &[u8],
    x: &[f32],
    q8: Option<&Q8Blocks>,
    q8k: Option<&Q8KBlocks>,
    t: usize,
) -> f32 {
    match ty {
        WeightType::F32 => {
            let cols = row.len() / 4;
            let x = &x[t * cols..(t + 1) * cols];
            row.chunks_exact(4)
                .zip(x)
                .map(|(b, &v)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * v)
                .sum()
        }
        WeightType::F16 => {
            let cols = row.len() / 2;
            let x = &x[t * cols..(t + 1) * cols];
            row.chunks_exact(2)
                .enumerate()
                .map(|(i, _)| f16_at(row, 2 * i) * x[i])
                .sum()
        }
        WeightType::Q8_0 | WeightType::Q4_0 | WeightType::Q5_0 => {
            let Some(a) = q8 else {
                unreachable!("32-block weights take Q8 activations")
            };
            let nb = a.cols / QK;
            let mut sum = 0f32;
            for (b, blk) in row.chunks_exact(ty.block_bytes()).enumerate() {
                let xq = &a.qs[(t * nb + b) * QK..][..QK];
                let mut w = [0i32; QK];
                decode_block32(ty, blk, &mut w);
                let s: i32 = w.iter().zip(xq).map(|(&w, &x)| w * x as i32).sum();
                // The scale leads all three formats (checked in formats.rs).
                sum += f16_at(blk, 0) * a.d[t * nb + b] * s as f32;
            }
            sum
        }
        WeightType::Q4K => {
            let Some(a) = q8k else {
                unreachable!("k-quants take Q8_K activations")
            };
            let nb = a.cols / QK_K;
            let mut sum = 0f32;
            for (b, blk) in row.chunks_exact(ty.block_bytes()).enumerate() {
                let xq = &a.qs[(t * nb + b) * QK_K..][..QK_K];
                let bs = &a.bsums[(t * nb + b) * 16..][..16];
                let (d, dmin) = (f16_at(blk, Q4K::D), f16_at(blk, Q4K::DMIN));
                let (scales, qs) = (&blk[Q4K::SCALES..Q4K::QS], &blk[Q4K::QS..Q4K::BYTES]);
                let (mut si, mut mi) = (0i32, 0i32);
                for j in 0..8 {
                    let (sc, m) = q4k_scale_min(j, scales);
                    let q = &qs[32 * (j / 2)..32 * (j / 2) + 32];
                    let shift = 4 * (j % 2);
                    let s: i32 = (0..32)
                        .map(|l| ((q[l] >> shift) & 0xF) as i32 * xq[32 * j + l] as i32)
                        .sum();
                    si += sc as i32 * s;
                    mi += m as i32 * (bs[2 * j] as i32 + bs[2 * j + 1] as i32);
                }
                let dx = a.d[t * nb + b];
                sum += d * dx * si as f32 - dmin * dx * mi as f32;
            }
            sum
        }
        WeightType::Q6K => {
            let Some(a) = q8k else {
                unreachable!("k-quants take Q8_K activations")
            };
            let nb = a.cols / QK_K;
            let mut sum = 0f32;
            for (b, blk) in row.chunks_exact(ty.block_bytes()).enumerate() {
                let xq = &a.qs[(t * nb + b) * QK_K..][..QK_K];
                let mut w = [0i32; QK_K];
                decode_q6k(blk, &mut w);
                let mut si = 0i32;
                for j in 0..16 {
                    let s: i32 = (16 * j..16 * j + 16).map(|l| w[l] * xq[l] as i32).sum();
                    si += (blk[Q6K::SCALES + j] as i8) as i32 * s;
                }
                sum += f16_at(blk, Q6K::D) * a.d[t * nb + b] * si as f32;
            }
            sum
        }
    }
}

/// The signed integer values of a Q8_0/Q4_0/Q5_0 block.
fn decode_block32(ty: WeightType, blk: &[u8], w: &mut [i32; QK]) {
    match ty {
        WeightType::Q8_0 => {
            for (w, &q) in w.iter_mut().zip(&blk[Q8_0::QS..Q8_0::BYTES]) {
                *w = (q as i8) as i32;
            }
        }
        WeightType::Q4_0 => {
            for j in 0..16 {
                w[j] = (blk[Q4_0::QS + j] & 0xF) as i32 - 8;
                w[j + 16] = (blk[Q4_0::QS + j] >> 4) as i32 - 8;
            }
        }
        WeightType::Q5_0 => {
            let h = Q5_0::QH;
            let qh = u32::from_le_bytes([blk[h], blk[h + 1], blk[h + 2], blk[h + 3]]);
            for j in 0..16 {
                let h0 = ((qh >> j) & 1) << 4;
                let h1 = ((qh >> (j + 16)) & 1) << 4;
                w[j] = ((blk[Q5_0::QS + j] as u32 & 0xF) | h0) as i32 - 16;
                w[j + 16] = ((blk[Q5_0::QS + j] as u32 >> 4) | h1) as i32 - 16;
            }
        }
        _ => unreachable!("not a 32-element block type"),
    }
}

/// The 6-bit values minus 32 of a Q6_K block, in element order.
fn decode_q6k(blk: &[u8], w: &mut [i32; QK_K]) {
    for half in 0..2 {
        let ql = &blk[Q6K::QL + 64 * half..];
        let qh = &blk[Q6K::QH + 32 * half..];
        let w = &mut w[128 * half..];
        for l in 0..32 {
            w[l] = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
            w[l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            w[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            w[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
        }
    }
}
