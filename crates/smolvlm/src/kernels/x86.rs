//! x86_64 kernels with AVX2, FMA and F16C (chosen at run time, see `cpu.rs`).
//!
//! Each kernel computes a tile of `R` weight rows by `T` tokens: a weight block is loaded
//! and unpacked once and used for `T` tokens, an activation block once for `R` rows. Decode
//! uses `T = 1`; prefill and the vision tower use wider tiles.
//!
//! The integer products follow ggml's AVX2 kernels (`ggml-cpu/arch/x86/quants.c`):
//! `maddubs` needs one unsigned operand, so a signed weight is made unsigned with `sign`
//! (|w| times sign(w)·x), and unsigned formats (Q4_K, Q6_K nibbles) go in directly with
//! their offsets or mins taken from the activations' block sums.

#![allow(clippy::missing_safety_doc)]

use std::arch::x86_64::*;

use super::formats::{block32_bytes, KIND_Q4_0, KIND_Q5_0, KIND_Q8_0, QK, QK_K};
use super::matmul::Args;
use crate::weight_type::blocks::{Q4K, Q4_0, Q5_0, Q6K, Q8_0};

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_at(p: *const u8) -> f32 {
    let bits = std::ptr::read_unaligned(p as *const u16);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn load(p: *const u8) -> __m256i {
    _mm256_loadu_si256(p as *const __m256i)
}

/// Sum of `w * x` over pairs as eight f32, for signed `w` given as (|w|, w) and signed `x`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_i8(aw: __m256i, w: __m256i, x: __m256i) -> __m256 {
    let p16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));
    _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)))
}

/// 32 nibbles of 16 bytes: low nibbles are elements 0..16, high nibbles 16..32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn nibbles32(p: *const u8) -> __m256i {
    let v = _mm_loadu_si128(p as *const __m128i);
    let both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
    _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
}

/// Byte i is 0xFF where bit i of the 32-bit word at `p` is set.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn bits32(p: *const u8) -> __m256i {
    let word = std::ptr::read_unaligned(p as *const u32);
    let shuf = _mm256_set_epi64x(
        0x0303030303030303,
        0x0202020202020202,
        0x0101010101010101,
        0x0000000000000000,
    );
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(word as i32), shuf);
    let bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn store<const R: usize, const T: usize>(
    a: &Args,
    r0: usize,
    t0: usize,
    acc: &[[__m256; T]; R],
) {
    for (r, row) in acc.iter().enumerate() {
        for (t, v) in row.iter().enumerate() {
            *a.y.add((t0 + t) * a.ldy + r0 + r) = hsum(*v);
        }
    }
}

/// Decode (T = 1) reads every weight once, from memory: while a tile computes, ask for
/// the same `len` bytes of the next tile's rows (R rows on). The hardware prefetcher
/// alone follows R interleaved row streams poorly; this took Q8_0 decode over 150 MB of
/// weights from about 4.3 to 6.4 GB/s on one thread here. Prefetches never fault, and the
/// address is only computed (`wrapping_add`), so running past the last row is harmless.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn prefetch_next_tile<const R: usize, const T: usize>(a: &Args, at: *const u8, len: usize) {
    if T == 1 {
        let ahead = at.wrapping_add(R * a.row_bytes);
        let mut off = 0;
        while off < len {
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(off) as *const i8);
            off += 64;
        }
    }
}

/// Signed 32-element blocks (Q8_0, Q4_0, Q5_0) against Q8 activations.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block32<const R: usize, const T: usize, const KIND: u8>(a: &Args, r0: usize, t0: usize) {
    // Block sizes and offsets are constants of the table: as fast as literals.
    let nb = a.cols / QK;
    let bb = block32_bytes(KIND);
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    for b in 0..nb {
        let mut xv = [_mm256_setzero_si256(); T];
        let mut dx = [0f32; T];
        for t in 0..T {
            let tok = t0 + t;
            xv[t] = load(a.xq.add(tok * a.cols + b * QK) as *const u8);
            dx[t] = *a.xd.add(tok * nb + b);
        }
        for r in 0..R {
            let blk = a.w.add((r0 + r) * a.row_bytes + b * bb);
            prefetch_next_tile::<R, T>(a, blk, bb);
            let dw = f16_at(blk); // the scale leads all three formats
            let w = match KIND {
                KIND_Q8_0 => load(blk.add(Q8_0::QS)),
                KIND_Q4_0 => _mm256_sub_epi8(nibbles32(blk.add(Q4_0::QS)), _mm256_set1_epi8(8)),
                _ => {
                    // (nibble | bit << 4) - 16: where the bit is clear, nibble | 0xF0 is
                    // nibble - 16 as i8; where set, the nibble itself.
                    let hi = _mm256_andnot_si256(bits32(blk.add(Q5_0::QH)), _mm256_set1_epi8(-16));
                    _mm256_or_si256(nibbles32(blk.add(Q5_0::QS)), hi)
                }
            };
            let aw = _mm256_sign_epi8(w, w);
            for t in 0..T {
                let p = dot_i8(aw, w, xv[t]);
                acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * dx[t]), p, acc[r][t]);
            }
        }
    }
    store(a, r0, t0, &acc);
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q8_0<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    block32::<R, T, KIND_Q8_0>(a, r0, t0)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q4_0<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    block32::<R, T, KIND_Q4_0>(a, r0, t0)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q5_0<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    block32::<R, T, KIND_Q5_0>(a, r0, t0)
}

/// [`block32`] with AVX512-VNNI's `vpdpbusd` (unsigned × signed bytes, four products
/// summed into each i32 lane, exactly). One operand must be unsigned:
/// - Q8_0: the activations, as x + 128 (they stay within ±127); the excess, 128 times
///   each lane's sum of weights, is subtracted by starting that row's sums at its negative.
/// - Q4_0 / Q5_0: the weights' unsigned codes (w + 8, w + 16); the excess, 8 or 16 times
///   each lane's sum of activations, is the starting value of that token's sums.
///
/// So a (row, token) pair costs one `vpdpbusd`, a conversion and an FMA per block, against
/// `sign`, `maddubs`, `madd`, conversion and FMA in [`block32`].
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
unsafe fn block32_vnni<const R: usize, const T: usize, const KIND: u8>(
    a: &Args,
    r0: usize,
    t0: usize,
) {
    let nb = a.cols / QK;
    let bb = block32_bytes(KIND);
    let zero = _mm256_setzero_si256();
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    for b in 0..nb {
        // Per token: its bytes in the form `vpdpbusd` takes, and (Q4_0/Q5_0) its start.
        let mut xv = [zero; T];
        let mut start_t = [zero; T];
        let mut dx = [0f32; T];
        for t in 0..T {
            let tok = t0 + t;
            let x = load(a.xq.add(tok * a.cols + b * QK) as *const u8);
            dx[t] = *a.xd.add(tok * nb + b);
            if KIND == KIND_Q8_0 {
                xv[t] = _mm256_xor_si256(x, _mm256_set1_epi8(-128));
            } else {
                xv[t] = x;
                let offset = _mm256_set1_epi8(if KIND == KIND_Q4_0 { 8 } else { 16 });
                start_t[t] = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, offset, x));
            }
        }
        for r in 0..R {
            let blk = a.w.add((r0 + r) * a.row_bytes + b * bb);
            prefetch_next_tile::<R, T>(a, blk, bb);
            let dw = f16_at(blk);
            let w = match KIND {
                KIND_Q8_0 => load(blk.add(Q8_0::QS)),
                KIND_Q4_0 => nibbles32(blk.add(Q4_0::QS)),
                _ => {
                    let hi = _mm256_and_si256(bits32(blk.add(Q5_0::QH)), _mm256_set1_epi8(16));
                    _mm256_or_si256(nibbles32(blk.add(Q5_0::QS)), hi)
                }
            };
            let start_r = if KIND == KIND_Q8_0 {
                _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(-128), w))
            } else {
                zero
            };
            for t in 0..T {
                let s = if KIND == KIND_Q8_0 {
                    _mm256_dpbusd_epi32(start_r, xv[t], w)
                } else {
                    _mm256_dpbusd_epi32(start_t[t], w, xv[t])
                };
                acc[r][t] =
                    _mm256_fmadd_ps(_mm256_set1_ps(dw * dx[t]), _mm256_cvtepi32_ps(s), acc[r][t]);
            }
        }
    }
    store(a, r0, t0, &acc);
}

#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
pub unsafe fn q8_0_vnni<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    block32_vnni::<R, T, KIND_Q8_0>(a, r0, t0)
}

#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
pub unsafe fn q4_0_vnni<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    block32_vnni::<R, T, KIND_Q4_0>(a, r0, t0)
}

#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
pub unsafe fn q5_0_vnni<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    block32_vnni::<R, T, KIND_Q5_0>(a, r0, t0)
}

/// Shuffle masks that broadcast 16-bit lane `k` of a 128-bit half to all 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn lane_mask(lo: i8, hi: i8) -> __m256i {
    let (l0, l1, h0, h1) = (2 * lo, 2 * lo + 1, 2 * hi, 2 * hi + 1);
    _mm256_setr_epi8(
        l0, l1, l0, l1, l0, l1, l0, l1, l0, l1, l0, l1, l0, l1, l0, l1, h0, h1, h0, h1, h0, h1, h0,
        h1, h0, h1, h0, h1, h0, h1, h0, h1,
    )
}

/// Q4_K rows against Q8_K activations.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q4_k<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    let nb = a.cols / QK_K;
    let m4 = _mm256_set1_epi8(0x0F);
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    // Scalar min corrections, subtracted at the end.
    let mut mins_acc = [[0f32; T]; R];
    for b in 0..nb {
        let mut dx = [0f32; T];
        let mut q8s = [_mm_setzero_si128(); T];
        for t in 0..T {
            let i = (t0 + t) * nb + b;
            dx[t] = *a.xd.add(i);
            // Sums of each 32 activations (pairs of the 16-element sums).
            let bs = a.bsums.add(i * 16) as *const __m128i;
            q8s[t] = _mm_hadd_epi16(_mm_loadu_si128(bs), _mm_loadu_si128(bs.add(1)));
        }
        for r in 0..R {
            let blk = a.w.add((r0 + r) * a.row_bytes + b * Q4K::BYTES);
            prefetch_next_tile::<R, T>(a, blk, Q4K::BYTES);
            let d = f16_at(blk.add(Q4K::D));
            let dmin = f16_at(blk.add(Q4K::DMIN));
            // Unpack the 6-bit scales and mins (ggml's kmask trick on three words).
            let w0 = std::ptr::read_unaligned(blk.add(Q4K::SCALES) as *const u32);
            let w1 = std::ptr::read_unaligned(blk.add(Q4K::SCALES + 4) as *const u32);
            let w2 = std::ptr::read_unaligned(blk.add(Q4K::SCALES + 8) as *const u32);
            let sc_lo = w0 & 0x3f3f3f3f;
            let sc_hi = (w2 & 0x0f0f0f0f) | (((w0 >> 6) & 0x03030303) << 4);
            let mn_lo = w1 & 0x3f3f3f3f;
            let mn_hi = ((w2 >> 4) & 0x0f0f0f0f) | (((w1 >> 6) & 0x03030303) << 4);
            let sm = _mm_set_epi32(mn_hi as i32, mn_lo as i32, sc_hi as i32, sc_lo as i32);
            let scales = _mm256_cvtepu8_epi16(sm); // 8 scales, then 8 mins, as i16
            let mins = _mm256_extracti128_si256(scales, 1);
            let sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(scales));
            let mut sumi = [_mm256_setzero_si256(); T];
            let qs = blk.add(Q4K::QS);
            for j in 0..4 {
                let bits = load(qs.add(32 * j));
                let ql = _mm256_and_si256(bits, m4);
                let qh = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
                let s_l = _mm256_shuffle_epi8(sc, lane_mask(2 * j as i8, 2 * j as i8));
                let s_h = _mm256_shuffle_epi8(sc, lane_mask(2 * j as i8 + 1, 2 * j as i8 + 1));
                for t in 0..T {
                    let x = a.xq.add((t0 + t) * a.cols + b * QK_K + 64 * j) as *const u8;
                    let pl = _mm256_madd_epi16(s_l, _mm256_maddubs_epi16(ql, load(x)));
                    let ph = _mm256_madd_epi16(s_h, _mm256_maddubs_epi16(qh, load(x.add(32))));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(pl, ph));
                }
            }
            for t in 0..T {
                acc[r][t] = _mm256_fmadd_ps(
                    _mm256_set1_ps(d * dx[t]),
                    _mm256_cvtepi32_ps(sumi[t]),
                    acc[r][t],
                );
                let m = _mm_madd_epi16(mins, q8s[t]);
                let m = _mm_add_epi32(m, _mm_unpackhi_epi64(m, m));
                let m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0b01));
                mins_acc[r][t] += dmin * dx[t] * _mm_cvtsi128_si32(m) as f32;
            }
        }
    }
    for r in 0..R {
        for t in 0..T {
            *a.y.add((t0 + t) * a.ldy + r0 + r) = hsum(acc[r][t]) - mins_acc[r][t];
        }
    }
}

/// Q6_K rows against Q8_K activations: the 6-bit values go into `maddubs` unsigned and
/// the offset of 32 comes off through the activations' 16-element sums.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q6_k<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    let nb = a.cols / QK_K;
    let m4 = _mm256_set1_epi8(0x0F);
    let m3 = _mm256_set1_epi8(0x03);
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    for b in 0..nb {
        let mut dx = [0f32; T];
        let mut bsums = [_mm256_setzero_si256(); T];
        for t in 0..T {
            let i = (t0 + t) * nb + b;
            dx[t] = *a.xd.add(i);
            bsums[t] = _mm256_loadu_si256(a.bsums.add(i * 16) as *const __m256i);
        }
        for r in 0..R {
            let blk = a.w.add((r0 + r) * a.row_bytes + b * Q6K::BYTES);
            prefetch_next_tile::<R, T>(a, blk, Q6K::BYTES);
            let d = f16_at(blk.add(Q6K::D));
            let sc16 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(blk.add(Q6K::SCALES) as *const __m128i));
            let mut sumi = [_mm256_setzero_si256(); T];
            for t in 0..T {
                // 32 * sum over sub-blocks of scale * (sum of its 16 activations).
                let off = _mm256_madd_epi16(sc16, bsums[t]);
                sumi[t] = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(off, 5));
            }
            for half in 0..2 {
                let ql = blk.add(Q6K::QL + 64 * half);
                let qh = load(blk.add(Q6K::QH + 32 * half));
                let lo = load(ql);
                let hi = load(ql.add(32));
                let q = [
                    _mm256_or_si256(
                        _mm256_and_si256(lo, m4),
                        _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(hi, m4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(lo, 4), m4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(hi, 4), m4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4),
                    ),
                ];
                // Scales of this half: chunk i (32 elements) uses sub-blocks 2i and 2i+1.
                let s8 = _mm256_castsi256_si128(if half == 0 {
                    sc16
                } else {
                    _mm256_permute2x128_si256(sc16, sc16, 0x11)
                });
                let s8 = _mm256_broadcastsi128_si256(s8);
                for (i, qi) in q.iter().enumerate() {
                    let s = _mm256_shuffle_epi8(s8, lane_mask(2 * i as i8, 2 * i as i8 + 1));
                    for t in 0..T {
                        let x = a.xq.add((t0 + t) * a.cols + b * QK_K + 128 * half + 32 * i);
                        let p = _mm256_maddubs_epi16(*qi, load(x as *const u8));
                        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(s, p));
                    }
                }
            }
            for t in 0..T {
                acc[r][t] = _mm256_fmadd_ps(
                    _mm256_set1_ps(d * dx[t]),
                    _mm256_cvtepi32_ps(sumi[t]),
                    acc[r][t],
                );
            }
        }
    }
    store(a, r0, t0, &acc);
}

/// f32 or f16 rows against f32 activations; the tail past a multiple of 8 is scalar.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn float<const R: usize, const T: usize, const F16: bool>(a: &Args, r0: usize, t0: usize) {
    let n8 = a.cols / 8 * 8;
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    let mut i = 0;
    while i < n8 {
        let mut xv = [_mm256_setzero_ps(); T];
        for t in 0..T {
            xv[t] = _mm256_loadu_ps(a.x.add((t0 + t) * a.cols + i));
        }
        for r in 0..R {
            let row = a.w.add((r0 + r) * a.row_bytes);
            prefetch_next_tile::<R, T>(a, row.add(if F16 { 2 * i } else { 4 * i }), 1);
            let w = if F16 {
                _mm256_cvtph_ps(_mm_loadu_si128(row.add(2 * i) as *const __m128i))
            } else {
                _mm256_loadu_ps(row.add(4 * i) as *const f32)
            };
            for t in 0..T {
                acc[r][t] = _mm256_fmadd_ps(w, xv[t], acc[r][t]);
            }
        }
        i += 8;
    }
    for r in 0..R {
        let row = a.w.add((r0 + r) * a.row_bytes);
        for t in 0..T {
            let mut s = hsum(acc[r][t]);
            for k in n8..a.cols {
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

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn f32<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    float::<R, T, false>(a, r0, t0)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn f16<const R: usize, const T: usize>(a: &Args, r0: usize, t0: usize) {
    float::<R, T, true>(a, r0, t0)
}

/// `true` when this CPU runs the kernels above.
pub fn available() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// `true` when this CPU also runs the `_vnni` kernels.
pub fn vnni_available() -> bool {
    available() && is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512vl")
}
