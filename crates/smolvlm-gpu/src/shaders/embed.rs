//! Embedding rows gathered from a GGUF table, quantized or not (embed.wgsl).

use super::{f32_len, u32_of};
use crate::error::Result;
use crate::gpu::Access::{Read, ReadWrite};
use crate::recorder::Recorder;
use crate::tensor::{DType, Tensor};
use crate::weights::Weight;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct EmbedParams {
    tokens: u32,
    cols: u32,
    row_bytes: u32,
    row0: u32,
    rows: u32,
    vocab: u32,
    ids_off: u32,
}

impl Recorder<'_> {
    /// `y[t, :] = table[ids[ids_off + t], :]` for `t < tokens`, dequantized to f32. Ids past
    /// the table give zero rows (ids from the host are checked by the caller; ids made on
    /// the GPU come from argmax over the same vocabulary).
    pub fn embed(
        &mut self,
        table: &Weight,
        ids: &Tensor,
        ids_off: usize,
        tokens: usize,
        y: &Tensor,
    ) -> Result<()> {
        ids.expect("embedding ids", DType::U32, ids_off + tokens)?;
        f32_len("embedding output", y, tokens * table.cols())?;
        let ty = table.ty();
        let kernel = self.gpu.kernel(
            &format!("embed/{ty}"),
            || crate::weights::wgsl_prelude(ty) + include_str!("embed.wgsl"),
            "main",
            &[Read, Read, ReadWrite],
        );
        let groups = u32_of("embedding size", tokens * table.cols() / 4)?;
        for c in &table.chunks {
            let p = EmbedParams {
                tokens: u32_of("tokens", tokens)?,
                cols: u32_of("cols", table.cols())?,
                row_bytes: u32_of("row bytes", table.row_bytes())?,
                row0: u32_of("row", c.row0)?,
                rows: u32_of("rows", c.rows)?,
                vocab: u32_of("vocab", table.rows())?,
                ids_off: u32_of("ids offset", ids_off)?,
            };
            self.dispatch_linear(
                &kernel,
                &p,
                &[c.bref(), ids.bref(), y.bref()],
                groups.div_ceil(64),
            )?;
        }
        Ok(())
    }
}
