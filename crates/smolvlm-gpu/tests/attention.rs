//! Attention over GPU-resident keys and values: decode (one query against a KV cache),
//! causal prefill continuing a cache, and the vision encoder's non-causal attention with
//! a key mask, all grouped-query where the model is.

mod common;

use common::{assert_close, gpu, rng, uniform, U};
use smolvlm_gpu::{AttentionArgs, Gpu, GpuOptions, KvCache, RopeTable};

struct Case {
    heads: usize,
    kv_heads: usize,
    d: usize,
    q_len: usize,
    kv_len: usize,
    causal: bool,
    q_pos0: usize,
    mask: Option<Vec<u32>>,
}

/// softmax(q k^T / sqrt(d) + masks) v per head, in f64.
fn attention_ref(c: &Case, q: &[f32], k: &[f32], v: &[f32]) -> Vec<f64> {
    let (h, kvh, d) = (c.heads, c.kv_heads, c.d);
    let scale = 1.0 / (d as f64).sqrt();
    let mut out = vec![0.0; c.q_len * h * d];
    for m in 0..c.q_len {
        for hh in 0..h {
            let g = hh / (h / kvh);
            let mut s = vec![f64::NEG_INFINITY; c.kv_len];
            for (j, sj) in s.iter_mut().enumerate() {
                let keep =
                    (!c.causal || j <= c.q_pos0 + m) && c.mask.as_ref().is_none_or(|mk| mk[j] != 0);
                if keep {
                    *sj = (0..d)
                        .map(|i| q[(m * h + hh) * d + i] as f64 * k[(j * kvh + g) * d + i] as f64)
                        .sum::<f64>()
                        * scale;
                }
            }
            let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let p: Vec<f64> = s
                .iter()
                .map(|&x| {
                    if x == f64::NEG_INFINITY {
                        0.0
                    } else {
                        (x - mx).exp()
                    }
                })
                .collect();
            let sum: f64 = p.iter().sum();
            for i in 0..d {
                out[(m * h + hh) * d + i] = (0..c.kv_len)
                    .map(|j| p[j] * v[(j * kvh + g) * d + i] as f64)
                    .sum::<f64>()
                    / sum;
            }
        }
    }
    out
}

/// Worst-case error of the GPU attention, relative to max |v| (= 1 here), when every score
/// is at most `s_max` in magnitude: a score carries d + 2 roundings of its terms (error
/// (d + 2) u s_max), the max it is shifted by as much again; each exp on a weight's path
/// is good to 3 + 2|x| ULP (2u each) with |x| <= 2 s_max (one exp in the tiled path; two in
/// the decode path, which also scales each chunk by exp(m_c - M)). A relative error e in
/// the weights moves the weighted mean by at most 2e; then the value sum (at most kv_len + 1
/// roundings) and the normalisation (kv_len / 256 + 12).
fn attention_tol(d: usize, kv_len: usize, s_max: f64, exps: usize) -> f64 {
    let e = 2.0 * (d as f64 + 2.0) * s_max + exps as f64 * 2.0 * (3.0 + 4.0 * s_max);
    (2.0 * e + kv_len as f64 * (1.0 + 1.0 / 256.0) + 13.0) * U
}

/// Exps on a weight's path: the decode kernel (one query) has two.
fn exps(q_len: usize) -> usize {
    if q_len == 1 {
        2
    } else {
        1
    }
}

fn run(c: &Case, seed: u64) {
    run_on(gpu(), c, seed)
}

fn run_on(g: &Gpu, c: &Case, seed: u64) {
    let mut r = rng(seed);
    let q = uniform(&mut r, c.q_len * c.heads * c.d, 1.0);
    let k = uniform(&mut r, c.kv_len * c.kv_heads * c.d, 1.0);
    let v = uniform(&mut r, c.kv_len * c.kv_heads * c.d, 1.0);
    let (qt, kt, vt) = (
        g.upload(&q).unwrap(),
        g.upload(&k).unwrap(),
        g.upload(&v).unwrap(),
    );
    let out = g.tensor(q.len()).unwrap();
    let mask = c.mask.as_ref().map(|m| g.upload_u32(m).unwrap());
    let mut rec = g.recorder();
    rec.attention(&AttentionArgs {
        q: &qt,
        k: &kt,
        v: &vt,
        out: &out,
        heads: c.heads,
        kv_heads: c.kv_heads,
        head_dim: c.d,
        q_len: c.q_len,
        kv_len: c.kv_len,
        causal: c.causal,
        q_pos0: c.q_pos0,
        key_mask: mask.as_ref(),
        scale: 1.0 / (c.d as f32).sqrt(),
    })
    .unwrap();
    let got = rec.submit_read_blocking(&out).unwrap();
    let want = attention_ref(c, &q, &k, &v);
    let tol = attention_tol(c.d, c.kv_len, (c.d as f64).sqrt(), exps(c.q_len));
    assert_close(
        &format!(
            "attention h{} kv{} d{} q{} k{} causal {}",
            c.heads, c.kv_heads, c.d, c.q_len, c.kv_len, c.causal
        ),
        &got,
        &want,
        |_| tol,
    );
}

#[test]
fn decode_attends_one_query_to_the_whole_cache() {
    // SmolVLM2-256M's text attention: 9 heads over 3 kv heads of 64.
    run(
        &Case {
            heads: 9,
            kv_heads: 3,
            d: 64,
            q_len: 1,
            kv_len: 37,
            causal: true,
            q_pos0: 36,
            mask: None,
        },
        1,
    );
}

#[test]
fn decode_over_a_long_cache_merges_its_chunks() {
    // 600 keys: three chunks of the decode kernel, the last one partial; causal from
    // position 599, and with a key mask that empties one whole chunk.
    run(
        &Case {
            heads: 9,
            kv_heads: 3,
            d: 64,
            q_len: 1,
            kv_len: 600,
            causal: true,
            q_pos0: 599,
            mask: None,
        },
        7,
    );
    let mask: Vec<u32> = (0..600)
        .map(|j| u32::from(!(256..512).contains(&j) && j % 5 != 1))
        .collect();
    run(
        &Case {
            heads: 4,
            kv_heads: 1,
            d: 72,
            q_len: 1,
            kv_len: 600,
            causal: false,
            q_pos0: 0,
            mask: Some(mask),
        },
        8,
    );
    // Causal with the query behind the end of what is stored (keys after it ignored).
    run(
        &Case {
            heads: 2,
            kv_heads: 2,
            d: 64,
            q_len: 1,
            kv_len: 300,
            causal: true,
            q_pos0: 270,
            mask: None,
        },
        9,
    );
}

#[test]
fn prefill_is_causal_from_its_start_position() {
    // 13 new tokens after 24 cached ones.
    run(
        &Case {
            heads: 9,
            kv_heads: 3,
            d: 64,
            q_len: 13,
            kv_len: 37,
            causal: true,
            q_pos0: 24,
            mask: None,
        },
        2,
    );
    // A first prefill longer than one 64-query tile.
    run(
        &Case {
            heads: 4,
            kv_heads: 2,
            d: 32,
            q_len: 70,
            kv_len: 70,
            causal: true,
            q_pos0: 0,
            mask: None,
        },
        3,
    );
}

#[test]
fn vision_attention_is_bidirectional_with_a_key_mask() {
    let kv_len = 70;
    let mask: Vec<u32> = (0..kv_len)
        .map(|j| u32::from(j % 7 != 3 && j < 66))
        .collect();
    // SigLIP's 12 heads of 64, no GQA; and so400m's head_dim 72 (not a multiple of 16).
    run(
        &Case {
            heads: 12,
            kv_heads: 12,
            d: 64,
            q_len: kv_len,
            kv_len,
            causal: false,
            q_pos0: 0,
            mask: Some(mask.clone()),
        },
        4,
    );
    run(
        &Case {
            heads: 2,
            kv_heads: 2,
            d: 72,
            q_len: kv_len,
            kv_len,
            causal: false,
            q_pos0: 0,
            mask: Some(mask),
        },
        5,
    );
}

#[test]
fn scores_larger_than_a_binding_are_made_in_passes_over_head_groups() {
    // Bindings capped at 4 heads' worth of scores: 9 heads in 3 kv groups go in three
    // passes of 3 (whole groups), which must give the same result as one pass.
    let per_head = 13 * 37 * 4;
    let opts = GpuOptions {
        binding_limit: Some(4 * per_head as u64),
        ..GpuOptions::forced()
    };
    let small = Gpu::new_blocking(&opts).expect("an adapter (see common::gpu)");
    let c = Case {
        heads: 9,
        kv_heads: 3,
        d: 8,
        q_len: 13,
        kv_len: 37,
        causal: true,
        q_pos0: 24,
        mask: None,
    };
    run_on(&small, &c, 6);
    // Not even one kv group fits: a clear error.
    let opts = GpuOptions {
        binding_limit: Some(2 * per_head as u64),
        ..GpuOptions::forced()
    };
    let tiny = Gpu::new_blocking(&opts).expect("an adapter (see common::gpu)");
    let q = tiny.tensor(13 * 9 * 8).unwrap();
    let kv = tiny.tensor(37 * 3 * 8).unwrap();
    let out = tiny.tensor(13 * 9 * 8).unwrap();
    let err = tiny
        .recorder()
        .attention(&AttentionArgs {
            q: &q,
            k: &kv,
            v: &kv,
            out: &out,
            heads: 9,
            kv_heads: 3,
            head_dim: 8,
            q_len: 13,
            kv_len: 37,
            causal: true,
            q_pos0: 24,
            key_mask: None,
            scale: 1.0,
        })
        .unwrap_err();
    assert!(err.to_string().contains("over the device limit"), "{err}");
}

#[test]
fn a_decode_layer_appends_to_the_kv_cache_and_attends() {
    // K through RoPE into the cache, V copied, then attention over everything cached: the
    // way the decoder uses these kernels, checked against a reference built from scratch.
    let g = gpu();
    let (heads, kvh, d, cached) = (4, 2, 32, 9);
    let table = RopeTable::new(g, 10000.0, d, 64).unwrap();
    let host = RopeTable::host_table(10000.0, d, 64);
    let cache = KvCache::new(g, 16, kvh, d).unwrap();
    let mut r = rng(9);
    let prev_k = uniform(&mut r, cached * kvh * d, 1.0);
    let prev_v = uniform(&mut r, cached * kvh * d, 1.0);
    g.write(&cache.k, &prev_k).unwrap();
    g.write(&cache.v, &prev_v).unwrap();
    let q = uniform(&mut r, heads * d, 1.0);
    let k = uniform(&mut r, kvh * d, 1.0);
    let v = uniform(&mut r, kvh * d, 1.0);
    let (qt, kt, vt) = (
        g.upload(&q).unwrap(),
        g.upload(&k).unwrap(),
        g.upload(&v).unwrap(),
    );
    let (q_rot, out) = (g.tensor(heads * d).unwrap(), g.tensor(heads * d).unwrap());
    let pos = cached;
    let mut rec = g.recorder();
    rec.rope(&qt, 1, heads, pos, &table, &q_rot, 0).unwrap();
    rec.rope(&kt, 1, kvh, pos, &table, &cache.k, pos * cache.row())
        .unwrap();
    rec.copy(&vt, 0, &cache.v, pos * cache.row(), cache.row())
        .unwrap();
    rec.attention(&AttentionArgs {
        q: &q_rot,
        k: &cache.k,
        v: &cache.v,
        out: &out,
        heads,
        kv_heads: kvh,
        head_dim: d,
        q_len: 1,
        kv_len: pos + 1,
        causal: true,
        q_pos0: pos,
        key_mask: None,
        scale: 1.0 / (d as f32).sqrt(),
    })
    .unwrap();
    let got = rec.submit_read_blocking(&out).unwrap();

    let rot = |x: &[f32], n_heads: usize| -> Vec<f32> {
        let mut y = vec![0.0; x.len()];
        for h in 0..n_heads {
            for i in 0..d / 2 {
                let (c, s) = (host[(pos * d / 2 + i) * 2], host[(pos * d / 2 + i) * 2 + 1]);
                let (x1, x2) = (x[h * d + i], x[h * d + i + d / 2]);
                y[h * d + i] = x1 * c - x2 * s;
                y[h * d + i + d / 2] = x2 * c + x1 * s;
            }
        }
        y
    };
    let all_k: Vec<f32> = prev_k.iter().cloned().chain(rot(&k, kvh)).collect();
    let all_v: Vec<f32> = prev_v.iter().cloned().chain(v.iter().cloned()).collect();
    let c = Case {
        heads,
        kv_heads: kvh,
        d,
        q_len: 1,
        kv_len: pos + 1,
        causal: true,
        q_pos0: pos,
        mask: None,
    };
    let want = attention_ref(&c, &rot(&q, heads), &all_k, &all_v);
    // Rotated q and k have |x| <= |x1| + |x2| <= 2, so scores are bounded by 4 sqrt(d)
    // (and the rotation itself, reproduced in f32 by the reference, adds 3 roundings per
    // value, well inside the score term's d + 2).
    let tol = attention_tol(d, pos + 1, 4.0 * (d as f64).sqrt(), exps(1));
    assert_close("decode layer", &got, &want, |_| tol);
}
