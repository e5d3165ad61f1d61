//! Attention. The text decoder's: a KV cache written in place (no concatenation per token)
//! and causal grouped-query attention of new queries over it, without allocations beyond
//! one score buffer per task. The vision encoder's: every patch over every patch of its
//! image, on the projections' own layout.

use super::cpu;
use super::ops::{self, multiversion};

/// Keys and values of one layer, per KV head and position: `[kv_head][position][head_dim]`,
/// so one head's keys are contiguous. Capacity grows geometrically (a rare copy), never
/// per token.
#[derive(Debug, Clone)]
pub struct KvCache {
    kv_heads: usize,
    head_dim: usize,
    len: usize,
    cap: usize,
    k: Vec<f32>,
    v: Vec<f32>,
}

impl KvCache {
    pub fn new(kv_heads: usize, head_dim: usize) -> Self {
        Self {
            kv_heads,
            head_dim,
            len: 0,
            cap: 0,
            k: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held (capacity included).
    pub fn size_in_bytes(&self) -> usize {
        (self.k.capacity() + self.v.capacity()) * 4
    }

    /// Makes room for `total` positions in all.
    pub fn reserve(&mut self, total: usize) {
        if total <= self.cap {
            return;
        }
        let cap = total.max(2 * self.cap).max(64);
        let (h, d) = (self.kv_heads, self.head_dim);
        let regrow = |old: &[f32]| {
            let mut new = vec![0f32; h * cap * d];
            for head in 0..h {
                let src = &old[head * self.cap * d..][..self.len * d];
                new[head * cap * d..][..self.len * d].copy_from_slice(src);
            }
            new
        };
        self.k = regrow(&self.k);
        self.v = regrow(&self.v);
        self.cap = cap;
    }

    /// Appends `t` positions; `k` and `v` are `t` rows of `kv_heads * head_dim` (the
    /// projections' output layout), keys already rotated.
    pub fn append(&mut self, k: &[f32], v: &[f32]) {
        let row = self.kv_heads * self.head_dim;
        debug_assert!(k.len() == v.len() && k.len() % row == 0);
        let t = k.len() / row;
        self.reserve(self.len + t);
        let d = self.head_dim;
        for (i, (kr, vr)) in k.chunks_exact(row).zip(v.chunks_exact(row)).enumerate() {
            for head in 0..self.kv_heads {
                let at = (head * self.cap + self.len + i) * d;
                self.k[at..at + d].copy_from_slice(&kr[head * d..(head + 1) * d]);
                self.v[at..at + d].copy_from_slice(&vr[head * d..(head + 1) * d]);
            }
        }
        self.len += t;
    }

    /// Forgets everything (keeps the memory).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    fn keys(&self, head: usize) -> &[f32] {
        &self.k[head * self.cap * self.head_dim..][..self.len * self.head_dim]
    }

    fn values(&self, head: usize) -> &[f32] {
        &self.v[head * self.cap * self.head_dim..][..self.len * self.head_dim]
    }
}

multiversion! {
    /// One query head over the first `n` positions of one KV head: `out = softmax(q K^T *
    /// scale) V`. `scores` is scratch of at least `n`.
    fn attend_head(q: &[f32], keys: &[f32], values: &[f32], n: usize, scale: f32, scores: &mut [f32], out: &mut [f32]) {
        let d = q.len();
        let scores = &mut scores[..n];
        for (s, k) in scores.iter_mut().zip(keys.chunks_exact(d)) {
            *s = ops::dot(q, k) * scale;
        }
        ops::softmax(scores);
        out.fill(0.0);
        for (&p, v) in scores.iter().zip(values.chunks_exact(d)) {
            ops::axpy(p, v, out);
        }
    }
}

/// Causal attention of the last `t` positions of `cache` (their keys and values already
/// appended): `q` and `out` are `t` rows of `heads * head_dim`. Query head `h` reads KV head
/// `h / (heads / kv_heads)`, as transformers' `repeat_kv`; query `i` sees positions up to
/// its own, `len - t + i`.
pub fn attention(q: &[f32], cache: &KvCache, heads: usize, scale: f32, out: &mut [f32]) {
    let d = cache.head_dim;
    let row = heads * d;
    debug_assert!(q.len() == out.len() && q.len() % row == 0);
    let t = q.len() / row;
    let len = cache.len;
    let n_rep = heads / cache.kv_heads;
    // One task per (token, head): `out` in chunks of head_dim is exactly that order.
    cpu::for_each_chunk_mut(out, d, |i, o| {
        let (tok, h) = (i / heads, i % heads);
        let n = len - t + tok + 1;
        let g = h / n_rep;
        let mut scores = vec![0f32; n];
        attend_head(
            &q[tok * row + h * d..][..d],
            cache.keys(g),
            cache.values(g),
            n,
            scale,
            &mut scores,
            o,
        );
    });
}

/// Query rows per task of [`bidirectional`]: a block's scores (64 × 1024 f32 for a
/// 512×512 tile, 256 KiB) stay in L2 between the two products, and a tile's 12 heads give
/// 192 tasks, enough to keep every thread busy to the end.
const QUERY_BLOCK: usize = 64;

/// The vision encoder's attention, `softmax(q k^T * scale + mask) v` per head, every
/// query over every key: `q`, `k`, `v` and `out` are `tokens` rows (patches) of
/// `heads * head_dim` as the projections write them, so no head is ever transposed or
/// copied. `mask`, one value per key (0, or `f32::MIN` for a padding patch), is added to
/// every row of scores.
///
/// One task per (head, block of query rows), spread over the kernel threads; the two
/// products run through `gemm` (the crate under candle's own CPU matmul) on strided views,
/// single-threaded inside each task. The whole score matrix (48 MiB for a tile) is never
/// allocated.
#[allow(clippy::too_many_arguments)]
pub fn bidirectional(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    tokens: usize,
    heads: usize,
    scale: f32,
    mask: Option<&[f32]>,
    out: &mut [f32],
) {
    let len = q.len();
    let row = len.checked_div(tokens).unwrap_or(0);
    let hd = row.checked_div(heads).unwrap_or(0);
    assert!(
        tokens > 0
            && hd > 0
            && row == heads * hd
            && len == tokens * row
            && k.len() == len
            && v.len() == len
            && out.len() == len
            && mask.is_none_or(|m| m.len() == tokens),
        "bidirectional attention: q, k, v, out must be {tokens} rows of {heads} heads, the mask {tokens} long"
    );
    let blocks = tokens.div_ceil(QUERY_BLOCK);
    let dst = cpu::SendPtr(out.as_mut_ptr());
    cpu::for_each(heads * blocks, |task| {
        let (h, b) = (task / blocks, task % blocks);
        let q0 = b * QUERY_BLOCK;
        let rows = QUERY_BLOCK.min(tokens - q0);
        let mut scores = vec![0f32; rows * tokens];
        // SAFETY: every view stays inside its slice: rows q0..q0 + rows < tokens, columns
        // h * hd..(h + 1) * hd <= row, all checked above. This task alone writes the
        // output block (rows q0.., head h), and `out` outlives the call.
        unsafe {
            // scores (rows × tokens) = q block (rows × hd) · k_h^T (hd × tokens), scaled.
            gemm::gemm(
                rows,
                tokens,
                hd,
                scores.as_mut_ptr(),
                1,
                tokens as isize,
                false,
                q.as_ptr().add(q0 * row + h * hd),
                1,
                row as isize,
                k.as_ptr().add(h * hd),
                row as isize,
                1,
                0.0,
                scale,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        for s in scores.chunks_exact_mut(tokens) {
            if let Some(m) = mask {
                ops::add_inplace(s, m);
            }
            ops::softmax(s);
        }
        let dst = &dst;
        // SAFETY: as above.
        unsafe {
            // out block (rows × hd) = probabilities (rows × tokens) · v_h (tokens × hd).
            gemm::gemm(
                rows,
                hd,
                tokens,
                dst.0.add(q0 * row + h * hd),
                1,
                row as isize,
                false,
                scores.as_ptr(),
                1,
                tokens as isize,
                v.as_ptr().add(h * hd),
                1,
                row as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i + seed) * 7919 % 2003) as f32 - 1001.0) / 701.0)
            .collect()
    }

    #[test]
    fn bidirectional_matches_the_f64_formula_with_a_mask_and_a_partial_block() {
        // 70 tokens: one whole query block and a partial one; the last 5 keys masked.
        let (tokens, heads, hd) = (70, 3, 8);
        let row = heads * hd;
        let (q, k, v) = (
            values(tokens * row, 1),
            values(tokens * row, 2),
            values(tokens * row, 3),
        );
        let mask: Vec<f32> = (0..tokens)
            .map(|j| if j < tokens - 5 { 0.0 } else { f32::MIN })
            .collect();
        let scale = (hd as f32).powf(-0.5);
        let mut out = vec![0f32; tokens * row];
        bidirectional(&q, &k, &v, tokens, heads, scale, Some(&mask), &mut out);
        for h in 0..heads {
            for i in 0..tokens {
                let at = |x: &[f32], t: usize, c: usize| x[t * row + h * hd + c] as f64;
                let s: Vec<f64> = (0..tokens - 5)
                    .map(|j| {
                        (0..hd).map(|c| at(&q, i, c) * at(&k, j, c)).sum::<f64>() * scale as f64
                    })
                    .collect();
                let max = s.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
                let e: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
                let total: f64 = e.iter().sum();
                for c in 0..hd {
                    let want: f64 = e
                        .iter()
                        .enumerate()
                        .map(|(j, p)| p / total * at(&v, j, c))
                        .sum();
                    let got = out[i * row + h * hd + c] as f64;
                    assert!(
                        (got - want).abs() < 1e-5,
                        "head {h} token {i} col {c}: {got} vs {want}"
                    );
                }
            }
        }
        // Without a mask every key counts: the output moves.
        let mut all = vec![0f32; tokens * row];
        bidirectional(&q, &k, &v, tokens, heads, scale, None, &mut all);
        assert_ne!(all, out);
    }
}
