//! RMSNorm and LayerNorm over rows (norm.wgsl).

use super::{f32_len, u32_of};
use crate::error::Result;
use crate::gpu::Access::{Read, ReadWrite};
use crate::recorder::Recorder;
use crate::tensor::Tensor;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NormParams {
    rows: u32,
    dim: u32,
    eps: f32,
}

impl Recorder<'_> {
    /// `y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w` for `rows` rows of `dim`.
    pub fn rms_norm(
        &mut self,
        x: &Tensor,
        w: &Tensor,
        rows: usize,
        dim: usize,
        eps: f32,
        y: &Tensor,
    ) -> Result<()> {
        let dummy = self.gpu.inner.dummy.clone();
        self.norm("rms_norm", x, w, &dummy, rows, dim, eps, y)
    }

    /// `y[r] = (x[r] - mean) / sqrt(var + eps) * w + b` for `rows` rows of `dim`.
    #[allow(clippy::too_many_arguments)]
    pub fn layer_norm(
        &mut self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        rows: usize,
        dim: usize,
        eps: f32,
        y: &Tensor,
    ) -> Result<()> {
        f32_len("layer_norm bias", b, dim)?;
        self.norm("layer_norm", x, w, b, rows, dim, eps, y)
    }

    #[allow(clippy::too_many_arguments)]
    fn norm(
        &mut self,
        entry: &str,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        rows: usize,
        dim: usize,
        eps: f32,
        y: &Tensor,
    ) -> Result<()> {
        f32_len("norm input", x, rows * dim)?;
        f32_len("norm output", y, rows * dim)?;
        f32_len("norm weight", w, dim)?;
        let kernel = self.gpu.kernel(
            &format!("norm/{entry}"),
            || include_str!("norm.wgsl").to_string(),
            entry,
            &[Read, Read, Read, ReadWrite],
        );
        u32_of("norm size", rows * dim)?;
        let p = NormParams {
            rows: u32_of("rows", rows)?,
            dim: u32_of("dim", dim)?,
            eps,
        };
        self.dispatch_linear(
            &kernel,
            &p,
            &[x.bref(), w.bref(), b.bref(), y.bref()],
            p.rows,
        )
    }
}
