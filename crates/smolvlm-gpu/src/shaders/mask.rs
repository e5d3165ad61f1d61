//! Setting chosen entries of a vector (mask.wgsl): stop tokens masked before a GPU argmax.

use super::{f32_len, u32_of};
use crate::error::Result;
use crate::gpu::Access::{Read, ReadWrite};
use crate::recorder::Recorder;
use crate::tensor::{DType, Tensor};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MaskParams {
    n: u32,
    len: u32,
    value: f32,
}

impl Recorder<'_> {
    /// `x[ids[i]] = value` for `i < n`, skipping ids at or past `len` (the length of `x`
    /// that counts).
    pub fn set_at(
        &mut self,
        x: &Tensor,
        len: usize,
        ids: &Tensor,
        n: usize,
        value: f32,
    ) -> Result<()> {
        f32_len("set_at target", x, len)?;
        ids.expect("set_at ids", DType::U32, n)?;
        let kernel = self.gpu.kernel(
            "mask",
            || include_str!("mask.wgsl").to_string(),
            "main",
            &[Read, ReadWrite],
        );
        let p = MaskParams {
            n: u32_of("ids", n)?,
            len: u32_of("len", len)?,
            value,
        };
        self.dispatch(
            &kernel,
            &p,
            &[ids.bref(), x.bref()],
            [p.n.div_ceil(64), 1, 1],
        )
    }
}
