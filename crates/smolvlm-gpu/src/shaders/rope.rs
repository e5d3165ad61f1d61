//! Rotate-half RoPE (rope.wgsl) and its cos/sin table.

use super::{f32_len, u32_of};
use crate::error::{invalid, Result};
use crate::gpu::Access::{Read, ReadWrite};
use crate::gpu::Gpu;
use crate::recorder::Recorder;
use crate::tensor::Tensor;

/// cos/sin of `pos * inv_freq[i]` for positions `0..max_pos`, on the GPU.
pub struct RopeTable {
    table: Tensor,
    head_dim: usize,
    max_pos: usize,
}

impl RopeTable {
    /// The table transformers' `LlamaRotaryEmbedding` (default rope type) computes:
    /// `inv_freq = 1 / theta^(2i / head_dim)` in f32, angle = `f32(pos) * inv_freq` in f32,
    /// then cos and sin of that f32 angle.
    pub fn new(gpu: &Gpu, theta: f32, head_dim: usize, max_pos: usize) -> Result<RopeTable> {
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            invalid!("RoPE head_dim must be even and positive, got {head_dim}");
        }
        let data = Self::host_table(theta, head_dim, max_pos);
        Ok(RopeTable {
            table: gpu.upload(&data)?,
            head_dim,
            max_pos,
        })
    }

    /// The table as interleaved (cos, sin) pairs, `[max_pos][head_dim / 2]`.
    pub fn host_table(theta: f32, head_dim: usize, max_pos: usize) -> Vec<f32> {
        let half = head_dim / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0 / theta.powf((2 * i) as f32 / head_dim as f32))
            .collect();
        let mut data = Vec::with_capacity(max_pos * half * 2);
        for pos in 0..max_pos {
            for f in &inv_freq {
                let a = pos as f32 * f;
                // Through f64 so the f32 result is correctly rounded.
                data.push((a as f64).cos() as f32);
                data.push((a as f64).sin() as f32);
            }
        }
        data
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    pub fn max_pos(&self) -> usize {
        self.max_pos
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RopeParams {
    total: u32,
    heads: u32,
    half: u32,
    pos0: u32,
    in_off: u32,
    out_off: u32,
}

impl Recorder<'_> {
    /// RoPE over `x` = `[tokens, heads, head_dim]`, token `t` at position `pos0 + t`,
    /// written to `y` from value `y_off` on (same layout): `y` may be a KV cache.
    #[allow(clippy::too_many_arguments)]
    pub fn rope(
        &mut self,
        x: &Tensor,
        tokens: usize,
        heads: usize,
        pos0: usize,
        table: &RopeTable,
        y: &Tensor,
        y_off: usize,
    ) -> Result<()> {
        let d = table.head_dim;
        let n = tokens * heads * d;
        f32_len("rope input", x, n)?;
        f32_len("rope output", y, y_off + n)?;
        if pos0 + tokens > table.max_pos {
            invalid!(
                "RoPE positions up to {} exceed the table of {}",
                pos0 + tokens,
                table.max_pos
            );
        }
        u32_of("rope output end", y_off + n)?;
        let kernel = self.gpu.kernel(
            "rope",
            || include_str!("rope.wgsl").to_string(),
            "main",
            &[Read, Read, ReadWrite],
        );
        let p = RopeParams {
            total: u32_of("rope size", n / 2)?,
            heads: u32_of("heads", heads)?,
            half: u32_of("head_dim", d / 2)?,
            pos0: u32_of("position", pos0)?,
            in_off: 0,
            out_off: y_off as u32,
        };
        self.dispatch_linear(
            &kernel,
            &p,
            &[x.bref(), table.table.bref(), y.bref()],
            p.total.div_ceil(64),
        )
    }
}
