//! The connector's pixel shuffle (pixel_shuffle.wgsl).

use super::{f32_len, u32_of};
use crate::error::{invalid, Result};
use crate::gpu::Access::{Read, ReadWrite};
use crate::recorder::Recorder;
use crate::tensor::Tensor;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ShuffleParams {
    total: u32,
    side: u32,
    e: u32,
    s: u32,
}

impl Recorder<'_> {
    /// `x [side * side, e] -> y [(side / s)^2, e * s^2]` as `Idefics3Connector.pixel_shuffle`.
    pub fn pixel_shuffle(
        &mut self,
        x: &Tensor,
        side: usize,
        e: usize,
        s: usize,
        y: &Tensor,
    ) -> Result<()> {
        if s == 0 || !side.is_multiple_of(s) {
            invalid!("pixel shuffle: a side of {side} patches does not split by {s}");
        }
        let n = side * side * e;
        f32_len("pixel shuffle input", x, n)?;
        f32_len("pixel shuffle output", y, n)?;
        let kernel = self.gpu.kernel(
            "pixel_shuffle",
            || include_str!("pixel_shuffle.wgsl").to_string(),
            "main",
            &[Read, ReadWrite],
        );
        let p = ShuffleParams {
            total: u32_of("size", n)?,
            side: side as u32,
            e: u32_of("e", e)?,
            s: s as u32,
        };
        self.dispatch_linear(&kernel, &p, &[x.bref(), y.bref()], p.total.div_ceil(256))
    }
}
