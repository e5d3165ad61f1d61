//! Norms, RoPE, activations, elementwise ops, pixel shuffle, softmax and argmax against
//! plain-Rust f64 references.

mod common;

use common::{assert_close, gpu, rng, uniform, U};
use smolvlm_gpu::RopeTable;

#[test]
fn rms_norm_matches_reference() {
    let g = gpu();
    let (rows, dim, eps) = (13, 300, 1e-5f32);
    let mut r = rng(1);
    let x = uniform(&mut r, rows * dim, 3.0);
    let w = uniform(&mut r, dim, 2.0);
    let (xt, wt, yt) = (
        g.upload(&x).unwrap(),
        g.upload(&w).unwrap(),
        g.tensor(rows * dim).unwrap(),
    );
    let mut rec = g.recorder();
    rec.rms_norm(&xt, &wt, rows, dim, eps, &yt).unwrap();
    let got = rec.submit_read_blocking(&yt).unwrap();
    let mut want = vec![0.0; rows * dim];
    for i in 0..rows {
        let row = &x[i * dim..(i + 1) * dim];
        let ms = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / dim as f64;
        let inv = 1.0 / (ms + eps as f64).sqrt();
        for j in 0..dim {
            want[i * dim + j] = w[j] as f64 * row[j] as f64 * inv;
        }
    }
    // Sum of squares: dim / 256 sequential adds per invocation + 8 tree levels; then
    // inverseSqrt (2 ULP in WGSL, i.e. up to 4u) and two products: ~(dim/256 + 16) u.
    assert_close("rms_norm", &got[..rows * dim], &want, |i| {
        (dim as f64 / 256.0 + 16.0) * U * want[i].abs() + 1e-30
    });
}

#[test]
fn layer_norm_matches_reference() {
    let g = gpu();
    let (rows, dim, eps) = (13, 300, 1e-6f32);
    let mut r = rng(2);
    // An offset mean, to exercise the two-pass variance.
    let x: Vec<f32> = uniform(&mut r, rows * dim, 3.0)
        .iter()
        .map(|v| v + 5.0)
        .collect();
    let w = uniform(&mut r, dim, 2.0);
    let b = uniform(&mut r, dim, 1.0);
    let (xt, wt, bt, yt) = (
        g.upload(&x).unwrap(),
        g.upload(&w).unwrap(),
        g.upload(&b).unwrap(),
        g.tensor(rows * dim).unwrap(),
    );
    let mut rec = g.recorder();
    rec.layer_norm(&xt, &wt, &bt, rows, dim, eps, &yt).unwrap();
    let got = rec.submit_read_blocking(&yt).unwrap();
    let mut want = vec![0.0; rows * dim];
    let mut scale = vec![0.0; rows * dim];
    for i in 0..rows {
        let row: Vec<f64> = x[i * dim..(i + 1) * dim]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let mean = row.iter().sum::<f64>() / dim as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / dim as f64;
        let inv = 1.0 / (var + eps as f64).sqrt();
        for j in 0..dim {
            want[i * dim + j] = (row[j] - mean) * inv * w[j] as f64 + b[j] as f64;
            // x - mean carries the rounding of the mean (relative to |x|, not |x - mean|).
            scale[i * dim + j] =
                (row[j].abs() + mean.abs()) * inv * (w[j] as f64).abs() + (b[j] as f64).abs();
        }
    }
    assert_close("layer_norm", &got[..rows * dim], &want, |i| {
        (dim as f64 / 256.0 + 16.0) * U * scale[i] + 1e-30
    });
}

#[test]
fn rope_table_follows_transformers() {
    let (theta, d, max_pos) = (100000.0f32, 64, 300);
    let t = RopeTable::host_table(theta, d, max_pos);
    for pos in [0usize, 1, 17, 299] {
        for i in 0..d / 2 {
            let angle = pos as f64 * (theta as f64).powf(-(2.0 * i as f64) / d as f64);
            let (c, s) = (
                t[(pos * d / 2 + i) * 2] as f64,
                t[(pos * d / 2 + i) * 2 + 1] as f64,
            );
            // transformers rounds inv_freq and the angle to f32: an angle error of about
            // 3 u |angle| (powf, the division and the product), which moves cos and sin by
            // as much, plus their own rounding.
            let tol = 4.0 * U * angle.abs() + 2.0 * U;
            assert!(
                (c - angle.cos()).abs() <= tol,
                "cos at pos {pos}, i {i}: {c} vs {}",
                angle.cos()
            );
            assert!(
                (s - angle.sin()).abs() <= tol,
                "sin at pos {pos}, i {i}: {s} vs {}",
                angle.sin()
            );
        }
    }
}

#[test]
fn rope_rotates_half_into_an_offset() {
    let g = gpu();
    let (tokens, heads, d, pos0) = (13, 3, 64, 5);
    let table = RopeTable::new(g, 10000.0, d, 64).unwrap();
    let host = RopeTable::host_table(10000.0, d, 64);
    let mut r = rng(3);
    let x = uniform(&mut r, tokens * heads * d, 2.0);
    let xt = g.upload(&x).unwrap();
    // Into a "cache" of 40 positions at position pos0, as K goes into a KV cache.
    let cache = g.upload(&vec![7.0; 40 * heads * d]).unwrap();
    let mut rec = g.recorder();
    rec.rope(&xt, tokens, heads, pos0, &table, &cache, pos0 * heads * d)
        .unwrap();
    let got = rec.submit_read_blocking(&cache).unwrap();
    let mut want = vec![7.0f64; 40 * heads * d];
    let half = d / 2;
    for t in 0..tokens {
        for h in 0..heads {
            let base = (t * heads + h) * d;
            for i in 0..half {
                let k = ((pos0 + t) * half + i) * 2;
                let (c, s) = (host[k] as f64, host[k + 1] as f64);
                let (x1, x2) = (x[base + i] as f64, x[base + i + half] as f64);
                want[pos0 * heads * d + base + i] = x1 * c - x2 * s;
                want[pos0 * heads * d + base + i + half] = x2 * c + x1 * s;
            }
        }
    }
    // Two products and a difference: 3 roundings of terms bounded by |x1| + |x2| <= 4.
    assert_close("rope", &got, &want, |_| 3.0 * U * 4.0 + 1e-30);
}

#[test]
fn elementwise_ops_match_reference() {
    let g = gpu();
    let n = 1000 + 37;
    let mut r = rng(4);
    let a = uniform(&mut r, n, 4.0);
    let b = uniform(&mut r, n, 4.0);
    let row = uniform(&mut r, 61, 1.0);
    let n_rows = 61 * 17;
    let (at, bt, rowt) = (
        g.upload(&a).unwrap(),
        g.upload(&b).unwrap(),
        g.upload(&row).unwrap(),
    );
    let (add, mul, bias, silu, gelu) = (
        g.tensor(n).unwrap(),
        g.tensor(n).unwrap(),
        g.tensor(n_rows).unwrap(),
        g.tensor(n).unwrap(),
        g.tensor(n).unwrap(),
    );
    // Wide inputs for tanh-GELU: its clamp must not show, nor NaNs appear, at |x| = 30.
    let wide: Vec<f32> = (0..n)
        .map(|i| -30.0 + 60.0 * i as f32 / (n - 1) as f32)
        .collect();
    let widet = g.upload(&wide).unwrap();
    let mut rec = g.recorder();
    rec.add(&at, &bt, n, n, &add).unwrap();
    rec.mul(&at, &bt, n, n, &mul).unwrap();
    rec.add(&at, &rowt, 61, n_rows, &bias).unwrap();
    rec.silu_mul(&at, &bt, n, &silu).unwrap();
    rec.gelu_tanh(&widet, n, &gelu).unwrap();
    rec.submit().unwrap();

    let exact = |v: f64| U * v.abs() + 1e-30;
    let got = g.read_blocking(&add).unwrap();
    let want: Vec<f64> = (0..n).map(|i| a[i] as f64 + b[i] as f64).collect();
    assert_close("add", &got, &want, |i| exact(want[i]));
    let got = g.read_blocking(&mul).unwrap();
    let want: Vec<f64> = (0..n).map(|i| a[i] as f64 * b[i] as f64).collect();
    assert_close("mul", &got, &want, |i| exact(want[i]));
    let got = g.read_blocking(&bias).unwrap();
    let want: Vec<f64> = (0..n_rows)
        .map(|i| a[i] as f64 + row[i % 61] as f64)
        .collect();
    assert_close("add broadcast", &got, &want, |i| exact(want[i]));

    let got = g.read_blocking(&silu).unwrap();
    let want: Vec<f64> = (0..n)
        .map(|i| a[i] as f64 / (1.0 + (-a[i] as f64).exp()) * b[i] as f64)
        .collect();
    // WGSL exp is good to 3 + 2|x| ULP (one ULP <= 2u relative); then an add, a division
    // and a product, 1 ULP each at most.
    assert_close("silu_mul", &got, &want, |i| {
        (3.0 + 2.0 * (a[i] as f64).abs() + 3.0) * 2.0 * U * want[i].abs() + 1e-30
    });

    let got = g.read_blocking(&gelu).unwrap();
    let want: Vec<f64> = wide
        .iter()
        .map(|&v| {
            let v = v as f64;
            0.5 * v * (1.0 + (0.7978845608028654 * (v + 0.044715 * v * v * v)).tanh())
        })
        .collect();
    // WGSL tanh inherits the error of sinh/cosh, i.e. of exp (3 + 2|u| ULP, |u| <= 10
    // after the clamp), twice: at most 2 (3 + 2|u|) + 2 ULP of 1 (one ULP of 1 is 2u) in
    // absolute terms, which 0.5 |x| scales; the clamp itself changes tanh by under 5e-9
    // (1 - tanh(10)); u carries 4 roundings (moving tanh by at most as much, relative to
    // u), and the remaining products and sums round 3 times.
    assert_close("gelu_tanh", &got, &want, |i| {
        let x = wide[i] as f64;
        let u = (0.7978845608028654 * (x + 0.044715 * x * x * x))
            .abs()
            .min(10.0);
        let tanh_err = (2.0 * (3.0 + 2.0 * u) + 2.0) * 2.0 * U + 4.0 * U * u + 5e-9;
        0.5 * x.abs() * tanh_err + 3.0 * U * want[i].abs()
    });
}

/// transformers' pixel shuffle written out as its view/permute chain on a strided array.
fn pixel_shuffle_ref(x: &[f32], seq: usize, e: usize, s: usize) -> Vec<f32> {
    fn permute_0213(x: &[f32], d: [usize; 4]) -> Vec<f32> {
        let mut out = vec![0.0; x.len()];
        let mut o = 0;
        for a in 0..d[0] {
            for c in 0..d[2] {
                for b in 0..d[1] {
                    for k in 0..d[3] {
                        out[o] = x[((a * d[1] + b) * d[2] + c) * d[3] + k];
                        o += 1;
                    }
                }
            }
        }
        out
    }
    let side = (seq as f64).sqrt() as usize;
    // x.view(1, h, w, e).view(1, h, w / s, e * s).permute(0, 2, 1, 3)
    let x = permute_0213(x, [1, side, side / s, e * s]);
    // .reshape(1, w / s, h / s, e * s * s).permute(0, 2, 1, 3)
    permute_0213(&x, [1, side / s, side / s, e * s * s])
}

#[test]
fn pixel_shuffle_matches_transformers_permutes() {
    let g = gpu();
    for (side, e, s) in [(8, 12, 4), (6, 7, 3), (10, 5, 2)] {
        let n = side * side * e;
        let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let (xt, yt) = (g.upload(&x).unwrap(), g.tensor(n).unwrap());
        let mut rec = g.recorder();
        rec.pixel_shuffle(&xt, side, e, s, &yt).unwrap();
        let got = rec.submit_read_blocking(&yt).unwrap();
        // A permutation: exact.
        assert_eq!(
            got,
            pixel_shuffle_ref(&x, side * side, e, s),
            "pixel shuffle side {side}, e {e}, s {s}"
        );
    }
}

#[test]
fn softmax_rows_sum_to_one_and_match_reference() {
    let g = gpu();
    let (rows, len) = (5, 1000 + 3);
    let mut r = rng(5);
    let x = uniform(&mut r, rows * len, 20.0);
    let xt = g.upload(&x).unwrap();
    let mut rec = g.recorder();
    rec.softmax(&xt, rows, len).unwrap();
    let got = rec.submit_read_blocking(&xt).unwrap();
    let mut want = vec![0.0; rows * len];
    for i in 0..rows {
        let row = &x[i * len..(i + 1) * len];
        let mx = row.iter().fold(f32::MIN, |m, &v| m.max(v)) as f64;
        let sum: f64 = row.iter().map(|&v| (v as f64 - mx).exp()).sum();
        for j in 0..len {
            want[i * len + j] = (row[j] as f64 - mx).exp() / sum;
        }
    }
    // exp is good to 3 + 2|x| ULP (one ULP <= 2u relative), |x| <= 40 here: 166u per
    // term. The sum's relative error is at most its terms' plus len / 256 + 8 roundings;
    // then a reciprocal (1 ULP) and a product: (2 * 166 + len / 256 + 12) u in all.
    assert_close("softmax", &got[..rows * len], &want, |i| {
        (2.0 * 166.0 + len as f64 / 256.0 + 12.0) * U * want[i] + 1e-30
    });
}

#[test]
fn argmax_finds_the_first_maximum() {
    let g = gpu();
    let n = 49280;
    let mut r = rng(6);
    let mut x = uniform(&mut r, n, 10.0);
    x[31_000] = 11.0;
    x[40_000] = 11.0;
    x[7] = 10.5;
    let xt = g.upload(&x).unwrap();
    let out = g.upload_u32(&[99, 99, 99]).unwrap();
    let mut rec = g.recorder();
    rec.argmax(&xt, n, &out, 1).unwrap();
    let got = rec.submit_read_u32_blocking(&out, 1).unwrap();
    assert_eq!(got, 31_000);
    // Only the asked slot changed.
    assert_eq!(g.read_u32_blocking(&out).unwrap(), vec![99, 31_000, 99]);
    // A short, awkward length, maximum at the very end.
    let x: Vec<f32> = (0..13).map(|i| i as f32).collect();
    let xt = g.upload(&x).unwrap();
    let mut rec = g.recorder();
    rec.argmax(&xt, 13, &out, 0).unwrap();
    assert_eq!(rec.submit_read_u32_blocking(&out, 0).unwrap(), 12);
}

#[test]
fn set_at_masks_the_listed_entries_and_skips_ids_past_the_length() {
    let g = gpu();
    // 70 ids: more than one 64-wide workgroup. Duplicates are harmless (same value).
    let n = 1000;
    let mut r = rng(7);
    let x = uniform(&mut r, n, 10.0);
    let mut ids: Vec<u32> = (0..70).map(|i| (i * 13 + 5) % 997).collect();
    ids[3] = ids[2];
    // Past `len` (the logits that count): skipped, although the buffer is long enough.
    ids.push(990);
    ids.push(5000);
    let len = 980;
    let xt = g.upload(&x).unwrap();
    let it = g.upload_u32(&ids).unwrap();
    let mut rec = g.recorder();
    rec.set_at(&xt, len, &it, ids.len(), f32::MIN).unwrap();
    let got = rec.submit_read_blocking(&xt).unwrap();
    let mut want = x.clone();
    for &id in &ids {
        if (id as usize) < len {
            want[id as usize] = f32::MIN;
        }
    }
    assert_eq!(got, want);
    // Then argmax never picks a masked entry.
    let out = g.tensor_u32(1).unwrap();
    let mut rec = g.recorder();
    rec.argmax(&xt, len, &out, 0).unwrap();
    let best = rec.submit_read_u32_blocking(&out, 0).unwrap();
    assert!(!ids.contains(&best), "argmax chose masked id {best}");
    // More ids than the tensor holds is refused, not read out of bounds.
    let mut rec = g.recorder();
    assert!(rec.set_at(&xt, len, &it, ids.len() + 1, 0.0).is_err());
}
