//! The small per-token ops of the decoder, in place over f32 slices: RMSNorm, rotate-half
//! RoPE, the SiLU-gated product, residual adds, softmax. Written as plain loops that the
//! compiler vectorizes (SIMD128 on wasm32; natively each public op is compiled a second
//! time with AVX2/FMA enabled and chosen at run time, see [`multiversion`]).

/// Defines a function twice: as written (portable; SIMD128 on wasm32 where the crate is
/// built with it) and compiled with AVX2+FMA, chosen by `cpu::isa()` at run time. The body
/// is inlined into both, so its loops vectorize for each target.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])* $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn generic($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    generic($($arg),*)
                }
                if $crate::kernels::cpu::isa().has_avx2() {
                    // SAFETY: isa() checked that this CPU has AVX2 and FMA.
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}
pub(crate) use multiversion;

use super::cpu;

/// e^x in f32 for |x| < 87, within 2 ulp: Cephes' `expf` (range reduction by ln 2 in two
/// parts, degree-6 polynomial), written without branches or libm calls so that loops over
/// it vectorize. Softmax and SiLU call it ~10^5 times per decoded token; libm's `expf` is
/// a call per element.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that n * C1 is exact for |n| < 2^9.
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // Round to nearest without `round()` (a libm call before SSE4.1): adding 1.5 * 2^23
    // leaves the integer part in the mantissa.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + MAGIC) - MAGIC;
    let r = x - n * C1 - n * C2;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    // 2^n by building the exponent bits; n is in -126..=127 after the clamp.
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

multiversion! {
    /// RMSNorm of each row of `x` (rows of `weight.len()`) into `out`:
    /// `weight * x / sqrt(mean(x^2) + eps)`.
    pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
        let d = weight.len();
        for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            let mut acc = [0f32; 16];
            let mut chunks = xr.chunks_exact(16);
            for c in &mut chunks {
                for i in 0..16 {
                    acc[i] += c[i] * c[i];
                }
            }
            let mut ss: f32 = acc.iter().sum();
            for &v in chunks.remainder() {
                ss += v * v;
            }
            let scale = 1.0 / (ss / d as f32 + eps).sqrt();
            for ((o, &v), &w) in or.iter_mut().zip(xr).zip(weight) {
                *o = v * scale * w;
            }
        }
    }
}

multiversion! {
    /// LayerNorm of each row of `x` (rows of `weight.len()`) into `out`, two-pass as
    /// PyTorch's moments are exact-ish: the mean, then the variance of the centred values
    /// (not `E[x^2] - E[x]^2`, which loses digits when activations have a large mean);
    /// `out = (x - mean) / sqrt(var + eps) * weight + bias`.
    pub fn layer_norm(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
        let d = weight.len();
        for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            let mean = sum(xr) / d as f32;
            for (o, &v) in or.iter_mut().zip(xr) {
                *o = v - mean;
            }
            let var = dot(or, or) / d as f32;
            let rstd = 1.0 / (var + eps).sqrt();
            for ((o, &w), &b) in or.iter_mut().zip(weight).zip(bias) {
                *o = *o * rstd * w + b;
            }
        }
    }
}

multiversion! {
    /// `x += y`.
    pub fn add_inplace(x: &mut [f32], y: &[f32]) {
        for (a, &b) in x.iter_mut().zip(y) {
            *a += b;
        }
    }
}

multiversion! {
    /// `x += y * scale`: Granite's scaled residual add, rounded as transformers'
    /// `residual + hidden * multiplier` (product, then sum; no fused multiply-add).
    pub fn add_scaled_inplace(x: &mut [f32], y: &[f32], scale: f32) {
        for (a, &b) in x.iter_mut().zip(y) {
            *a += b * scale;
        }
    }
}

multiversion! {
    /// `gate = silu(gate) * up`, SwiGLU's product (silu(g) = g / (1 + e^-g)).
    pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
        for (g, &u) in gate.iter_mut().zip(up) {
            *g = *g / (1.0 + exp(-*g)) * u;
        }
    }
}

multiversion! {
    /// Rotate-half RoPE in place on `x`, rows of `heads` heads of `cos.len() * 2` values;
    /// `cos`/`sin` hold one angle per pair (i, i + half) for this row's position.
    pub fn rope(x: &mut [f32], cos: &[f32], sin: &[f32]) {
        let half = cos.len();
        for head in x.chunks_exact_mut(2 * half) {
            let (a, b) = head.split_at_mut(half);
            for i in 0..half {
                let (x1, x2) = (a[i], b[i]);
                a[i] = x1 * cos[i] - x2 * sin[i];
                b[i] = x2 * cos[i] + x1 * sin[i];
            }
        }
    }
}

multiversion! {
    /// Softmax of `s` in place (max subtracted first).
    pub fn softmax(s: &mut [f32]) {
        let max = s.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        for v in s.iter_mut() {
            *v = exp(*v - max);
        }
        let inv = 1.0 / sum(s);
        for v in s.iter_mut() {
            *v *= inv;
        }
    }
}

multiversion! {
    /// PyTorch's tanh-approximated GELU in place:
    /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, with tanh(u) = 1 - 2 / (e^2u + 1)
    /// through [`exp`] so that the loop vectorizes (libm's `tanhf` is a call per element, and
    /// the vision tower's MLP takes 38M of them per 512x512 tile).
    pub fn gelu_tanh(x: &mut [f32]) {
        const SQRT_2_OVER_PI: f32 = 0.797_884_6;
        for v in x.iter_mut() {
            let u = SQRT_2_OVER_PI * (*v + 0.044_715 * *v * *v * *v);
            let tanh = 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
            *v = 0.5 * *v * (1.0 + tanh);
        }
    }
}

/// Elements per task when an element-wise op is spread over threads (64 KiB of f32): a
/// decode step's vectors stay on their thread, a vision tile's split into hundreds.
const CHUNK: usize = 1 << 14;

/// Whole rows of `d` per task, about [`CHUNK`] elements.
fn rows_per_task(d: usize) -> usize {
    (CHUNK / d.max(1)).max(1)
}

/// [`add_inplace`] spread over the kernel threads.
pub fn add_spread(x: &mut [f32], y: &[f32]) {
    assert_eq!(x.len(), y.len(), "add_spread: lengths differ");
    cpu::for_each_chunk_mut(x, CHUNK, |i, c| add_inplace(c, &y[i * CHUNK..][..c.len()]));
}

/// `b` added to every row of `x` (rows of `b.len()`), spread over the kernel threads: a
/// linear layer's bias.
pub fn add_rows_spread(x: &mut [f32], b: &[f32]) {
    let d = b.len();
    cpu::for_each_chunk_mut(x, rows_per_task(d) * d, |_, c| {
        for row in c.chunks_exact_mut(d) {
            add_inplace(row, b);
        }
    });
}

/// [`gelu_tanh`] spread over the kernel threads.
pub fn gelu_tanh_spread(x: &mut [f32]) {
    cpu::for_each_chunk_mut(x, CHUNK, |_, c| gelu_tanh(c));
}

/// [`layer_norm`] spread over the kernel threads, by rows.
pub fn layer_norm_spread(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    let d = weight.len();
    assert_eq!(x.len(), out.len(), "layer_norm_spread: lengths differ");
    let chunk = rows_per_task(d) * d;
    cpu::for_each_chunk_mut(out, chunk, |i, o| {
        layer_norm(&x[i * chunk..][..o.len()], weight, bias, eps, o)
    });
}

/// Dot product with 16 partial sums (vectorizes; a single running sum would not, since
/// float addition is not reassociated).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// Sum with 16 partial sums (vectorizes, like [`dot`]).
#[inline(always)]
pub fn sum(a: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let mut c = a.chunks_exact(16);
    for x in &mut c {
        for i in 0..16 {
            acc[i] += x[i];
        }
    }
    acc.iter().sum::<f32>() + c.remainder().iter().sum::<f32>()
}

/// `y += alpha * x`.
#[inline(always)]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o += alpha * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Awkward values: a wide range, signs, and lengths not a multiple of any vector width.
    fn values(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 % 2003) as f32 - 1001.0) / 97.0)
            .collect()
    }

    #[test]
    fn softmax_matches_the_f64_formula() {
        let mut s = values(1027);
        let want: Vec<f64> = {
            let max = s.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let e: Vec<f64> = s.iter().map(|&v| (v as f64 - max).exp()).collect();
            let total: f64 = e.iter().sum();
            e.iter().map(|v| v / total).collect()
        };
        softmax(&mut s);
        for (&g, &w) in s.iter().zip(&want) {
            assert!((g as f64 - w).abs() <= 1e-6 * w + 1e-12, "{g} vs {w}");
        }
    }

    #[test]
    fn gelu_tanh_matches_the_f64_formula() {
        let xs = values(20011);
        let mut got = xs.clone();
        gelu_tanh_spread(&mut got);
        for (&v, &g) in xs.iter().zip(&got) {
            let v = v as f64;
            let want = 0.5
                * v
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh());
            // A few f32 ulps of the result, or of 1 in tanh for values near zero.
            let tol = 4.0 * f32::EPSILON as f64 * (want.abs() + 0.5 * v.abs());
            assert!(
                (g as f64 - want).abs() <= tol,
                "gelu({v}) = {g}, want {want}"
            );
        }
    }

    #[test]
    fn layer_norm_matches_the_f64_formula_with_a_large_mean() {
        // Rows of 77 values around 1000: E[x^2] - E[x]^2 in f32 would lose most digits.
        let d = 77;
        let x: Vec<f32> = values(d * 300).iter().map(|v| 1000.0 + v).collect();
        let weight: Vec<f32> = (0..d).map(|i| 0.5 + i as f32 / 50.0).collect();
        let bias: Vec<f32> = (0..d).map(|i| i as f32 / 10.0 - 3.0).collect();
        let mut got = vec![0f32; x.len()];
        layer_norm_spread(&x, &weight, &bias, 1e-6, &mut got);
        for (xr, gr) in x.chunks_exact(d).zip(got.chunks_exact(d)) {
            let mean = xr.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
            let var = xr.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / d as f64;
            for i in 0..d {
                let want =
                    (xr[i] as f64 - mean) / (var + 1e-6).sqrt() * weight[i] as f64 + bias[i] as f64;
                assert!((gr[i] as f64 - want).abs() < 2e-4, "{} vs {want}", gr[i]);
            }
        }
    }

    #[test]
    fn spread_adds_match_serial_ones() {
        let y = values(70_001);
        let mut x = values(70_001).iter().map(|v| v * 3.0).collect::<Vec<_>>();
        let mut want = x.clone();
        add_inplace(&mut want, &y);
        add_spread(&mut x, &y);
        assert_eq!(x, want);
        let b = &y[..96];
        let mut rows = values(96 * 700);
        let mut want = rows.clone();
        for r in want.chunks_exact_mut(96) {
            add_inplace(r, b);
        }
        add_rows_spread(&mut rows, b);
        assert_eq!(rows, want);
    }
}
