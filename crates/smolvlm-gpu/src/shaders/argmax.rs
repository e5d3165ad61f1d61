//! Greedy sampling on the GPU (argmax.wgsl).

use super::{f32_len, u32_of};
use crate::error::{invalid, Result};
use crate::gpu::Access::{Read, ReadWrite};
use crate::recorder::Recorder;
use crate::tensor::{DType, Tensor};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ArgmaxParams {
    n: u32,
    out_off: u32,
}

impl Recorder<'_> {
    /// `out[out_off] = argmax(x[0..n])`, the first index on ties.
    pub fn argmax(&mut self, x: &Tensor, n: usize, out: &Tensor, out_off: usize) -> Result<()> {
        if n == 0 {
            invalid!("argmax over no values");
        }
        f32_len("argmax input", x, n)?;
        out.expect("argmax output", DType::U32, out_off + 1)?;
        let kernel = self.gpu.kernel(
            "argmax",
            || include_str!("argmax.wgsl").to_string(),
            "main",
            &[Read, ReadWrite],
        );
        let p = ArgmaxParams {
            n: u32_of("n", n)?,
            out_off: u32_of("offset", out_off)?,
        };
        self.dispatch(&kernel, &p, &[x.bref(), out.bref()], [1, 1, 1])
    }
}
