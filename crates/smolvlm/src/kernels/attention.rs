//! The text decoder's attention: a KV cache written in place (no concatenation per token)
//! and causal grouped-query attention of new queries over it, without allocations beyond
//! one score buffer per task.

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
