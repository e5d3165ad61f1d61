//! wasm32 SIMD128 kernels, the same tiles as `x86.rs` (R weight rows × T tokens).
//!
//! SIMD128 has no `maddubs`; 8-bit products go through `i16x8_extmul_{low,high}_i8x16`
//! (exact in i16) and are widened with `i32x4_extadd_pairwise_i16x8`. Two products of
//! values within ±128 · ±127 still fit an i16 lane, so pairs are added before widening;
//! activations never reach -128 (they are rounded from x / (max|x| / 127)).

#![allow(clippy::missing_safety_doc)]

use core::arch::wasm32::*;

use super::formats::{block32_bytes, KIND_Q4_0, KIND_Q5_0, KIND_Q8_0, QK, QK_K};
use super::matmul::Args;
use crate::weight_type::blocks::{Q4K, Q4_0, Q5_0, Q6K, Q8_0};

#[inline(always)]
unsafe fn load(p: *const u8) -> v128 {
    v128_load(p as *const v128)
}

/// `acc + a * b`. The relaxed-SIMD build (`+relaxed-simd`, a separate worker module: it
/// does not load in browsers without it) fuses it into one multiply-add (x86's FMA, Arm's
/// FMLA), rounding once instead of twice; plain SIMD128 has no fused form.
#[inline(always)]
fn madd(a: v128, b: v128, acc: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    return f32x4_relaxed_madd(a, b, acc);
    #[cfg(not(target_feature = "relaxed-simd"))]
    return f32x4_add(acc, f32x4_mul(a, b));
}

#[inline(always)]
fn hsum(v: v128) -> f32 {
    f32x4_extract_lane::<0>(v)
        + f32x4_extract_lane::<1>(v)
        + f32x4_extract_lane::<2>(v)
        + f32x4_extract_lane::<3>(v)
}

#[inline(always)]
fn hsum_i32(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v)
        .wrapping_add(i32x4_extract_lane::<1>(v))
        .wrapping_add(i32x4_extract_lane::<2>(v))
        .wrapping_add(i32x4_extract_lane::<3>(v))
}

#[inline(always)]
unsafe fn f16_at(p: *const u8) -> f32 {
    super::formats::f16_to_f32(std::ptr::read_unaligned(p as *const u16))
}

/// Sum of the 16 products of signed bytes `w` and `x`, as four i32 lanes.
#[inline(always)]
fn dot16(w: v128, x: v128) -> v128 {
    let p = i16x8_add(i16x8_extmul_low_i8x16(w, x), i16x8_extmul_high_i8x16(w, x));
    i32x4_extadd_pairwise_i16x8(p)
}

#[inline(always)]
unsafe fn store<const R: usize, const T: usize>(
    a: &Args,
    r0: usize,
    t0: usize,
    acc: &[[v128; T]; R],
) {
    for (r, row) in acc.iter().enumerate() {
        for (t, v) in row.iter().enumerate() {
            *a.y.add((t0 + t) * a.ldy + r0 + r) = hsum(*v);
        }
    }
}

/// Byte i of the result is 0xFF where bit i of the 16-bit `bits` is set.
#[inline(always)]
fn bits16(bits: u32) -> v128 {
    let rep = i8x16_swizzle(
        u32x4_splat(bits),
        i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
    );
    let sel = u8x16(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
    i8x16_eq(v128_and(rep, sel), sel)
}

/// Decode (T = 1) reads every weight once, from memory, and wasm32 has no prefetch: load
/// one byte of each 64-byte line of the same `len` bytes in the next tile's rows (R rows
/// on) while this tile computes, so their misses overlap this tile's work. Volatile, so the
/// unused load stays; bounded by the matrix's end. 256M Q8_0 decode in Chromium: 27.0 to
/// 28.8 tokens/s (`cargo xtask bench`).
#[inline(always)]
unsafe fn touch_next_tile<const R: usize, const T: usize>(a: &Args, at: *const u8, len: usize) {
    if T == 1 {
        let ahead = at.wrapping_add(R * a.row_bytes);
        let mut off = 0;
        while off < len {
            let p = ahead.wrapping_add(off);
            if p >= a.w_end {
                break;
            }
            std::ptr::read_volatile(p);
            off += 64;
        }
    }
}

/// Signed 32-element blocks (Q8_0, Q4_0, Q5_0) against Q8 activations.
#[inline(always)]
unsafe fn block32<const R: usize, const T: usize, const KIND: u8>(a: &Args, r0: usize, t0: usize) {
    // Block sizes and offsets are constants of the table: as fast as literals.
    let nb = a.cols / QK;
    let bb = block32_bytes(KIND);
    let mut acc = [[f32x4_splat(0.0); T]; R];
    for b in 0..nb {
        let mut x0 = [i8x16_splat(0); T];
        let mut x1 = [i8x16_splat(0); T];
        let mut dx = [0f32; T];
        for t in 0..T {
            let tok = t0 + t;
            let p = a.xq.add(tok * a.cols + b * QK) as *const u8;
            x0[t] = load(p);
            x1[t] = load(p.add(16));
            dx[t] = *a.xd.add(tok * nb + b);
        }
        for r in 0..R {
            let blk = a.w.add((r0 + r) * a.row_bytes + b * bb);
            touch_next_tile::<R, T>(a, blk, bb);
            let dw = f16_at(blk); // the scale leads all three formats
            let (w0, w1) = match KIND {
                KIND_Q8_0 => (load(blk.add(Q8_0::QS)), load(blk.add(Q8_0::QS + 16))),
                KIND_Q4_0 => {
                    let v = load(blk.add(Q4_0::QS));
                    let lo = v128_and(v, u8x16_splat(0x0F));
                    let hi = u8x16_shr(v, 4);
                    (i8x16_sub(lo, i8x16_splat(8)), i8x16_sub(hi, i8x16_splat(8)))
                }
                _ => {
                    let qh = std::ptr::read_unaligned(blk.add(Q5_0::QH) as *const u32);
                    let v = load(blk.add(Q5_0::QS));
                    let lo = v128_and(v, u8x16_splat(0x0F));
                    let hi = u8x16_shr(v, 4);
                    // (nibble | bit << 4) - 16: nibble | 0xF0 where the bit is clear.
                    let f0 = u8x16_splat(0xF0);
                    (
                        v128_or(lo, v128_andnot(f0, bits16(qh & 0xFFFF))),
                        v128_or(hi, v128_andnot(f0, bits16(qh >> 16))),
                    )
                }
            };
            for t in 0..T {
                let s = i32x4_add(dot16(w0, x0[t]), dot16(w1, x1[t]));
                let p = f32x4_convert_i32x4(s);
                acc[r][t] = madd(p, f32x4_splat(dw * dx[t]), acc[r][t]);
            }
        }
    }
    store(a, r0, t0, &acc);
}

pub unsafe fn q8_0<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    block32::<R, T, KIND_Q8_0>(a, r0, t0)
}

pub unsafe fn q4_0<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    block32::<R, T, KIND_Q4_0>(a, r0, t0)
}

pub unsafe fn q5_0<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    block32::<R, T, KIND_Q5_0>(a, r0, t0)
}

/// Q4_K rows against Q8_K activations.
pub unsafe fn q4_k<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    let nb = a.cols / QK_K;
    let m4 = u8x16_splat(0x0F);
    let mut acc = [[0f32; T]; R];
    for b in 0..nb {
        for r in 0..R {
            let blk = a.w.add((r0 + r) * a.row_bytes + b * Q4K::BYTES);
            touch_next_tile::<R, T>(a, blk, Q4K::BYTES);
            let d = f16_at(blk.add(Q4K::D));
            let dmin = f16_at(blk.add(Q4K::DMIN));
            let s = std::slice::from_raw_parts(blk.add(Q4K::SCALES), Q4K::QS - Q4K::SCALES);
            let mut sc = [0i32; 8];
            let mut mn = [0i32; 8];
            for j in 0..8 {
                let (x, m) = super::formats::q4k_scale_min(j, s);
                sc[j] = x as i32;
                mn[j] = m as i32;
            }
            let qs = blk.add(Q4K::QS);
            let mut sumi = [i32x4_splat(0); T];
            for j in 0..4 {
                let v0 = load(qs.add(32 * j));
                let v1 = load(qs.add(32 * j + 16));
                let (l0, l1) = (v128_and(v0, m4), v128_and(v1, m4));
                let (h0, h1) = (u8x16_shr(v0, 4), u8x16_shr(v1, 4));
                for t in 0..T {
                    let x = a.xq.add((t0 + t) * a.cols + b * QK_K + 64 * j) as *const u8;
                    // Nibbles times bytes stay within ±1905; four pairs fit an i16 lane.
                    let lo = i16x8_add(
                        i16x8_add(
                            i16x8_extmul_low_i8x16(l0, load(x)),
                            i16x8_extmul_high_i8x16(l0, load(x)),
                        ),
                        i16x8_add(
                            i16x8_extmul_low_i8x16(l1, load(x.add(16))),
                            i16x8_extmul_high_i8x16(l1, load(x.add(16))),
                        ),
                    );
                    let hi = i16x8_add(
                        i16x8_add(
                            i16x8_extmul_low_i8x16(h0, load(x.add(32))),
                            i16x8_extmul_high_i8x16(h0, load(x.add(32))),
                        ),
                        i16x8_add(
                            i16x8_extmul_low_i8x16(h1, load(x.add(48))),
                            i16x8_extmul_high_i8x16(h1, load(x.add(48))),
                        ),
                    );
                    let lo = i32x4_mul(i32x4_extadd_pairwise_i16x8(lo), i32x4_splat(sc[2 * j]));
                    let hi = i32x4_mul(i32x4_extadd_pairwise_i16x8(hi), i32x4_splat(sc[2 * j + 1]));
                    sumi[t] = i32x4_add(sumi[t], i32x4_add(lo, hi));
                }
            }
            for t in 0..T {
                let i = (t0 + t) * nb + b;
                let dx = *a.xd.add(i);
                let bs = a.bsums.add(i * 16);
                let mut m = 0i32;
                for j in 0..8 {
                    m += mn[j] * (*bs.add(2 * j) as i32 + *bs.add(2 * j + 1) as i32);
                }
                acc[r][t] += d * dx * hsum_i32(sumi[t]) as f32 - dmin * dx * m as f32;
            }
        }
    }
    for r in 0..R {
        for t in 0..T {
            *a.y.add((t0 + t) * a.ldy + r0 + r) = acc[r][t];
        }
    }
}

/// Q6_K rows against Q8_K activations (6-bit values unsigned; the offset of 32 comes off
/// through the activations' 16-element sums).
pub unsafe fn q6_k<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    let nb = a.cols / QK_K;
    let m4 = u8x16_splat(0x0F);
    let m3 = u8x16_splat(0x03);
    let mut acc = [[0f32; T]; R];
    for b in 0..nb {
        for r in 0..R {
            let blk = a.w.add((r0 + r) * a.row_bytes + b * Q6K::BYTES);
            touch_next_tile::<R, T>(a, blk, Q6K::BYTES);
            let d = f16_at(blk.add(Q6K::D));
            let sc: [i32; 16] =
                std::array::from_fn(|j| *(blk.add(Q6K::SCALES + j) as *const i8) as i32);
            let mut sumi = [i32x4_splat(0); T];
            for half in 0..2 {
                let ql = blk.add(Q6K::QL + 64 * half);
                let qh = blk.add(Q6K::QH + 32 * half);
                // Two 16-byte halves of each 32-element chunk.
                for k in 0..2 {
                    let lo = load(ql.add(16 * k));
                    let hi = load(ql.add(32 + 16 * k));
                    let h = load(qh.add(16 * k));
                    let q = [
                        v128_or(v128_and(lo, m4), u8x16_shl(v128_and(h, m3), 4)),
                        v128_or(
                            v128_and(hi, m4),
                            u8x16_shl(v128_and(u8x16_shr(h, 2), m3), 4),
                        ),
                        v128_or(
                            u8x16_shr(lo, 4),
                            u8x16_shl(v128_and(u8x16_shr(h, 4), m3), 4),
                        ),
                        v128_or(u8x16_shr(hi, 4), u8x16_shl(u8x16_shr(h, 6), 4)),
                    ];
                    for (i, qi) in q.iter().enumerate() {
                        // Elements 128*half + 32*i + 16*k .. +16: sub-block 8*half + 2*i + k.
                        let s = i32x4_splat(sc[8 * half + 2 * i + k]);
                        for t in 0..T {
                            let x = a
                                .xq
                                .add((t0 + t) * a.cols + b * QK_K + 128 * half + 32 * i + 16 * k);
                            sumi[t] =
                                i32x4_add(sumi[t], i32x4_mul(dot16(*qi, load(x as *const u8)), s));
                        }
                    }
                }
            }
            for t in 0..T {
                let i = (t0 + t) * nb + b;
                let bs = a.bsums.add(i * 16);
                let mut off = 0i32;
                for j in 0..16 {
                    off += sc[j] * *bs.add(j) as i32;
                }
                acc[r][t] += d * *a.xd.add(i) * (hsum_i32(sumi[t]) - 32 * off) as f32;
            }
        }
    }
    for r in 0..R {
        for t in 0..T {
            *a.y.add((t0 + t) * a.ldy + r0 + r) = acc[r][t];
        }
    }
}

/// Four f16 (as the low 64 bits of `h`) to f32, exactly: the exponent is rebased by
/// shifting into place and multiplying by 2^112 (which also scales subnormals right);
/// infinities and NaNs get the f32 all-ones exponent.
#[inline(always)]
fn f16x4_to_f32(h: v128) -> v128 {
    let w = u32x4_extend_low_u16x8(h);
    let sign = i32x4_shl(v128_and(w, u32x4_splat(0x8000)), 16);
    let em = v128_and(w, u32x4_splat(0x7FFF));
    let f = f32x4_mul(i32x4_shl(em, 13), f32x4_splat(f32::from_bits(0x7780_0000)));
    let special = u32x4_ge(em, u32x4_splat(0x7C00));
    let inf_nan = v128_or(i32x4_shl(em, 13), u32x4_splat(0x7F80_0000));
    v128_or(v128_bitselect(inf_nan, f, special), sign)
}

/// Little-endian f16 values to f32 (`out.len()` of them), four at a time.
pub fn widen_f16(bytes: &[u8], out: &mut [f32]) {
    assert!(bytes.len() >= 2 * out.len());
    let n4 = out.len() / 4 * 4;
    for i in (0..n4).step_by(4) {
        // SAFETY: i + 4 <= out.len(), so the 8 bytes at 2i and the 4 floats at i are in
        // bounds (asserted above); both accesses are unaligned-safe.
        unsafe {
            let h = v128_load64_zero(bytes.as_ptr().add(2 * i) as *const u64);
            v128_store(out.as_mut_ptr().add(i) as *mut v128, f16x4_to_f32(h));
        }
    }
    for (i, o) in out.iter_mut().enumerate().skip(n4) {
        // SAFETY: 2i + 2 <= bytes.len() (asserted above).
        *o = unsafe { f16_at(bytes.as_ptr().add(2 * i)) };
    }
}

#[inline(always)]
unsafe fn float<const R: usize, const T: usize, const F16: bool>(a: &Args, r0: usize, t0: usize) {
    let n4 = a.cols / 4 * 4;
    let mut acc = [[f32x4_splat(0.0); T]; R];
    let mut i = 0;
    while i < n4 {
        let mut xv = [f32x4_splat(0.0); T];
        for t in 0..T {
            xv[t] = load(a.x.add((t0 + t) * a.cols + i) as *const u8);
        }
        let elem = if F16 { 2 } else { 4 };
        for r in 0..R {
            let row = a.w.add((r0 + r) * a.row_bytes);
            if (elem * i) % 64 == 0 {
                touch_next_tile::<R, T>(a, row.add(elem * i), 1);
            }
            let w = if F16 {
                f16x4_to_f32(v128_load64_zero(row.add(2 * i) as *const u64))
            } else {
                load(row.add(4 * i))
            };
            for t in 0..T {
                acc[r][t] = madd(w, xv[t], acc[r][t]);
            }
        }
        i += 4;
    }
    for r in 0..R {
        let row = a.w.add((r0 + r) * a.row_bytes);
        for t in 0..T {
            let mut s = hsum(acc[r][t]);
            for k in n4..a.cols {
                let w = if F16 {
                    f16_at(row.add(2 * k))
                } else {
                    std::ptr::read_unaligned(row.add(4 * k) as *const f32)
                };
                s += w * *a.x.add((t0 + t) * a.cols + k);
            }
            *a.y.add((t0 + t) * a.ldy + r0 + r) = s;
        }
    }
}

pub unsafe fn f32<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    float::<R, T, false>(a, r0, t0)
}

pub unsafe fn f16<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    float::<R, T, true>(a, r0, t0)
}
