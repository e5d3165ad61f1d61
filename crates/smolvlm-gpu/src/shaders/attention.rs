//! Attention over keys and values kept on the GPU. Many queries (causal prefill over a KV
//! cache, the vision encoder with a key mask): scores by the strided batched matmul
//! (bmm.wgsl), masked softmax (softmax.wgsl), then values by bmm again. One query
//! (decode): attn_decode.wgsl, split over the keys.

use super::{f32_len, u32_of};
use crate::error::{invalid, Error, Result};
use crate::gpu::Access::{Read, ReadWrite};
use crate::gpu::Gpu;
use crate::recorder::Recorder;
use crate::tensor::{DType, Tensor};

/// One layer's keys and values, `[capacity, kv_heads, head_dim]` each. Position `p`
/// occupies values `p * kv_heads * head_dim ..` of both; fill K with
/// [`Recorder::rope`] (`y_off = p * row()`) and V with [`Recorder::copy`].
pub struct KvCache {
    pub k: Tensor,
    pub v: Tensor,
    pub capacity: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl KvCache {
    pub fn new(gpu: &Gpu, capacity: usize, kv_heads: usize, head_dim: usize) -> Result<KvCache> {
        let n = capacity * kv_heads * head_dim;
        Ok(KvCache {
            k: gpu.tensor(n)?,
            v: gpu.tensor(n)?,
            capacity,
            kv_heads,
            head_dim,
        })
    }

    /// Values per position.
    pub fn row(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

/// The operands of [`Recorder::attention`].
pub struct AttentionArgs<'a> {
    /// `[q_len, heads, head_dim]`
    pub q: &'a Tensor,
    /// `[>= kv_len, kv_heads, head_dim]` (a KV cache or a layer's fresh keys)
    pub k: &'a Tensor,
    pub v: &'a Tensor,
    /// `[q_len, heads, head_dim]`
    pub out: &'a Tensor,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub q_len: usize,
    pub kv_len: usize,
    /// Causal: query `m` sees keys `0..=q_pos0 + m`.
    pub causal: bool,
    pub q_pos0: usize,
    /// u32 `[kv_len]`, 0 where a key is padding.
    pub key_mask: Option<&'a Tensor>,
    /// Usually `1 / sqrt(head_dim)`.
    pub scale: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BmmParams {
    m: u32,
    n: u32,
    k: u32,
    b_div: u32,
    a_off: u32,
    a_sb: u32,
    a_sm: u32,
    a_sk: u32,
    b_off: u32,
    b_sb: u32,
    b_sn: u32,
    b_sk: u32,
    c_off: u32,
    c_sb: u32,
    c_sm: u32,
    c_sn: u32,
    alpha: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SoftmaxParams {
    rows: u32,
    len: u32,
    stride: u32,
    q_len: u32,
    q_pos0: u32,
    causal: u32,
    has_mask: u32,
}

const TILE: usize = 64;
/// Keys per workgroup of the decode kernel, and the largest head_dim it takes (one
/// invocation per key, and per value of the query: 256 of each).
const DECODE_CHUNK: usize = 256;
const DECODE_MAX_D: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DecodeParams {
    heads: u32,
    d: u32,
    kv_len: u32,
    kv_row: u32,
    group: u32,
    causal: u32,
    q_pos: u32,
    has_mask: u32,
    chunks: u32,
    scale: f32,
}

impl Recorder<'_> {
    /// `softmax(QK^T * scale + masks) V` per head, grouped-query: head `h` reads kv head
    /// `h / (heads / kv_heads)`. Scores go through a scratch buffer of
    /// `heads x q_len x kv_len` values, made in passes over groups of heads where that
    /// exceeds one storage binding.
    pub fn attention(&mut self, a: &AttentionArgs<'_>) -> Result<()> {
        let (h, kvh, d) = (a.heads, a.kv_heads, a.head_dim);
        if h == 0 || kvh == 0 || d == 0 || h % kvh != 0 {
            invalid!("attention: {h} heads cannot share {kvh} kv heads");
        }
        if a.q_len == 0 || a.kv_len == 0 {
            invalid!("attention over {} queries and {} keys", a.q_len, a.kv_len);
        }
        if a.causal && a.q_pos0 + a.q_len > a.kv_len {
            invalid!(
                "causal attention: queries up to position {} see past the {} keys",
                a.q_pos0 + a.q_len,
                a.kv_len
            );
        }
        let group = h / kvh;
        f32_len("attention q", a.q, a.q_len * h * d)?;
        f32_len("attention out", a.out, a.q_len * h * d)?;
        f32_len("attention k", a.k, a.kv_len * kvh * d)?;
        f32_len("attention v", a.v, a.kv_len * kvh * d)?;
        if let Some(m) = a.key_mask {
            m.expect("attention key mask", DType::U32, a.kv_len)?;
        }
        u32_of("attention q size", a.q_len * h * d)?;
        u32_of("attention kv size", a.kv_len * kvh * d)?;
        if a.q_len == 1 && d <= DECODE_MAX_D {
            return self.attention_decode(a);
        }

        // Heads per pass: as many as the scratch binding holds, in whole kv-head groups.
        let per_head = (a.q_len * a.kv_len) as u64 * 4;
        let fit = (self.gpu.max_binding() / per_head) as usize;
        let hp = (fit / group * group).min(h);
        if hp == 0 {
            return Err(Error::TooLarge {
                what: format!(
                    "attention scores for {group} heads of {} x {}",
                    a.q_len, a.kv_len
                ),
                bytes: per_head * group as u64,
                limit: self.gpu.max_binding(),
            });
        }
        let scores = self.gpu.tensor(hp * a.q_len * a.kv_len)?;
        let bmm = self.gpu.kernel(
            "bmm",
            || include_str!("bmm.wgsl").to_string(),
            "main",
            &[Read, Read, ReadWrite],
        );
        let softmax = self.softmax_kernel();
        let dummy = self.gpu.inner.dummy.clone();
        let mask = a.key_mask.unwrap_or(&dummy);
        let (q_len, kv_len) = (a.q_len as u32, a.kv_len as u32);
        let (h32, kvh32, d32, g32) = (h as u32, kvh as u32, d as u32, group as u32);

        let mut h0 = 0;
        while h0 < h {
            let nh = hp.min(h - h0);
            let h0_32 = h0 as u32;
            let sp = BmmParams {
                m: q_len,
                n: kv_len,
                k: d32,
                b_div: g32,
                a_off: h0_32 * d32,
                a_sb: d32,
                a_sm: h32 * d32,
                a_sk: 1,
                b_off: h0_32 / g32 * d32,
                b_sb: d32,
                b_sn: kvh32 * d32,
                b_sk: 1,
                c_off: 0,
                c_sb: q_len * kv_len,
                c_sm: kv_len,
                c_sn: 1,
                alpha: a.scale,
            };
            let groups = [
                u32_of("tiles", a.kv_len.div_ceil(TILE))?,
                u32_of("tiles", a.q_len.div_ceil(TILE))?,
                nh as u32,
            ];
            self.dispatch(&bmm, &sp, &[a.q.bref(), a.k.bref(), scores.bref()], groups)?;

            let pp = SoftmaxParams {
                rows: u32_of("rows", nh * a.q_len)?,
                len: kv_len,
                stride: kv_len,
                q_len,
                q_pos0: u32_of("position", a.q_pos0)?,
                causal: a.causal as u32,
                has_mask: a.key_mask.is_some() as u32,
            };
            self.dispatch_linear(&softmax, &pp, &[scores.bref(), mask.bref()], pp.rows)?;

            let vp = BmmParams {
                m: q_len,
                n: d32,
                k: kv_len,
                b_div: g32,
                a_off: 0,
                a_sb: q_len * kv_len,
                a_sm: kv_len,
                a_sk: 1,
                b_off: h0_32 / g32 * d32,
                b_sb: d32,
                b_sn: 1,
                b_sk: kvh32 * d32,
                c_off: h0_32 * d32,
                c_sb: d32,
                c_sm: h32 * d32,
                c_sn: 1,
                alpha: 1.0,
            };
            let groups = [
                u32_of("tiles", d.div_ceil(TILE))?,
                u32_of("tiles", a.q_len.div_ceil(TILE))?,
                nh as u32,
            ];
            self.dispatch(
                &bmm,
                &vp,
                &[scores.bref(), a.v.bref(), a.out.bref()],
                groups,
            )?;
            h0 += nh;
        }
        self.keep(scores);
        Ok(())
    }

    /// One query per head (decode): keys split in chunks of 256 over many workgroups, then
    /// the chunks merged (attn_decode.wgsl), instead of the tiled path's one workgroup per
    /// head walking the whole cache.
    fn attention_decode(&mut self, a: &AttentionArgs<'_>) -> Result<()> {
        let (h, d) = (a.heads, a.head_dim);
        let chunks = a.kv_len.div_ceil(DECODE_CHUNK);
        let part = self.gpu.tensor(h * chunks * (d + 2))?;
        let rw = [Read, Read, Read, Read, ReadWrite, ReadWrite];
        let src = || include_str!("attn_decode.wgsl").to_string();
        let partial = self.gpu.kernel("attn_decode/partial", src, "partial", &rw);
        let combine = self.gpu.kernel("attn_decode/combine", src, "combine", &rw);
        let p = DecodeParams {
            heads: u32_of("heads", h)?,
            d: d as u32,
            kv_len: a.kv_len as u32,
            kv_row: u32_of("kv row", a.kv_heads * d)?,
            group: (h / a.kv_heads) as u32,
            causal: a.causal as u32,
            q_pos: u32_of("position", a.q_pos0)?,
            has_mask: a.key_mask.is_some() as u32,
            chunks: u32_of("chunks", chunks)?,
            scale: a.scale,
        };
        let dummy = self.gpu.inner.dummy.clone();
        let mask = a.key_mask.unwrap_or(&dummy);
        let bufs = [
            a.q.bref(),
            a.k.bref(),
            a.v.bref(),
            mask.bref(),
            part.bref(),
            a.out.bref(),
        ];
        self.dispatch(&partial, &p, &bufs, [p.chunks, p.heads, 1])?;
        self.dispatch(&combine, &p, &bufs, [p.heads, 1, 1])?;
        self.keep(part);
        Ok(())
    }

    /// Softmax of each of `rows` rows of `len` values of `x`, in place.
    pub fn softmax(&mut self, x: &Tensor, rows: usize, len: usize) -> Result<()> {
        f32_len("softmax input", x, rows * len)?;
        u32_of("softmax size", rows * len)?;
        let kernel = self.softmax_kernel();
        let p = SoftmaxParams {
            rows: rows as u32,
            len: len as u32,
            stride: len as u32,
            q_len: 1,
            q_pos0: 0,
            causal: 0,
            has_mask: 0,
        };
        let dummy = self.gpu.inner.dummy.clone();
        self.dispatch_linear(&kernel, &p, &[x.bref(), dummy.bref()], p.rows)
    }

    fn softmax_kernel(&self) -> std::sync::Arc<crate::gpu::Kernel> {
        self.gpu.kernel(
            "softmax",
            || include_str!("softmax.wgsl").to_string(),
            "main",
            &[ReadWrite, Read],
        )
    }
}
