//! Weight-times-activation products: matvec.wgsl for one vector (decode), matmul.wgsl for
//! many rows (prefill, vision encoder). Both read the weight in its GGUF layout.

use super::{f32_len, u32_of};
use crate::error::{invalid, Result};
use crate::gpu::Access::{Read, ReadWrite};
use crate::recorder::Recorder;
use crate::tensor::Tensor;
use crate::weights::Weight;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatvecParams {
    rows: u32,
    cols: u32,
    row_bytes: u32,
    y_offset: u32,
    flags: u32,
    x_offset: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    row_bytes: u32,
    n_offset: u32,
    ldy: u32,
    flags: u32,
}

/// Rows of W one matvec workgroup handles (ROWS in matvec.wgsl).
const MATVEC_ROWS: usize = 8;
/// Tile edge of matmul.wgsl.
const TILE: usize = 64;

impl Recorder<'_> {
    /// `y[0..m, 0..N] = x[0..m, 0..K] W^T (+ bias) (+ res)` for a `N x K` weight: the
    /// matvec kernel when `m == 1`, the tiled matmul otherwise. `res` is added elementwise
    /// (a fused residual) and must not be `y`.
    pub fn linear(
        &mut self,
        w: &Weight,
        x: &Tensor,
        m: usize,
        y: &Tensor,
        bias: Option<&Tensor>,
        res: Option<&Tensor>,
    ) -> Result<()> {
        if m == 1 {
            self.matvec(w, x, y, bias, res)
        } else {
            self.matmul(w, x, m, y, bias, res)
        }
    }

    /// `y = W x (+ bias) (+ res)` for one vector.
    pub fn matvec(
        &mut self,
        w: &Weight,
        x: &Tensor,
        y: &Tensor,
        bias: Option<&Tensor>,
        res: Option<&Tensor>,
    ) -> Result<()> {
        self.matvec_at(w, x, 0, y, bias, res)
    }

    /// [`Recorder::matvec`] on the vector starting at value `x_offset` of `x` (a multiple of 4).
    pub fn matvec_at(
        &mut self,
        w: &Weight,
        x: &Tensor,
        x_offset: usize,
        y: &Tensor,
        bias: Option<&Tensor>,
        res: Option<&Tensor>,
    ) -> Result<()> {
        if !x_offset.is_multiple_of(4) {
            invalid!("matvec: x offset {x_offset} is not a multiple of 4");
        }
        f32_len("matvec x", x, x_offset + w.cols())?;
        f32_len("matvec y", y, w.rows())?;
        check_extras(bias, res, w.rows())?;
        let ty = w.ty();
        let kernel = self.gpu.kernel(
            &format!("matvec/{ty}"),
            || crate::weights::wgsl_prelude(ty) + include_str!("matvec.wgsl"),
            "main",
            &[Read, Read, ReadWrite, Read, Read],
        );
        let flags = bias.is_some() as u32 | (res.is_some() as u32) << 1;
        let dummy = &self.gpu.inner.dummy.clone();
        for c in &w.chunks {
            let p = MatvecParams {
                rows: u32_of("rows", c.rows)?,
                cols: u32_of("cols", w.cols())?,
                row_bytes: u32_of("row bytes", w.row_bytes())?,
                y_offset: u32_of("row", c.row0)?,
                flags,
                x_offset: u32_of("x offset", x_offset / 4)?,
            };
            let bufs = [
                c.bref(),
                x.bref(),
                y.bref(),
                bias.unwrap_or(dummy).bref(),
                res.unwrap_or(dummy).bref(),
            ];
            self.dispatch_linear(
                &kernel,
                &p,
                &bufs,
                u32_of("workgroups", c.rows.div_ceil(MATVEC_ROWS))?,
            )?;
        }
        Ok(())
    }

    /// `y[m, N] = x[m, K] W^T (+ bias[N]) (+ res[m, N])`, tiled.
    pub fn matmul(
        &mut self,
        w: &Weight,
        x: &Tensor,
        m: usize,
        y: &Tensor,
        bias: Option<&Tensor>,
        res: Option<&Tensor>,
    ) -> Result<()> {
        let (n, k) = (w.rows(), w.cols());
        f32_len("matmul x", x, m * k)?;
        f32_len("matmul y", y, m * n)?;
        check_extras(bias, None, n)?;
        if let Some(r) = res {
            f32_len("matmul residual", r, m * n)?;
        }
        u32_of("matmul output size", m * n)?;
        let ty = w.ty();
        let kernel = self.gpu.kernel(
            &format!("matmul/{ty}"),
            || crate::weights::wgsl_prelude(ty) + include_str!("matmul.wgsl"),
            "main",
            &[Read, Read, ReadWrite, Read, Read],
        );
        let flags = bias.is_some() as u32 | (res.is_some() as u32) << 1;
        let dummy = &self.gpu.inner.dummy.clone();
        for c in &w.chunks {
            let p = MatmulParams {
                m: u32_of("m", m)?,
                n: u32_of("rows", c.rows)?,
                k: u32_of("cols", k)?,
                row_bytes: u32_of("row bytes", w.row_bytes())?,
                n_offset: u32_of("row", c.row0)?,
                ldy: u32_of("n", n)?,
                flags,
            };
            let bufs = [
                c.bref(),
                x.bref(),
                y.bref(),
                bias.unwrap_or(dummy).bref(),
                res.unwrap_or(dummy).bref(),
            ];
            let groups = [
                u32_of("tiles", c.rows.div_ceil(TILE))?,
                u32_of("tiles", m.div_ceil(TILE))?,
                1,
            ];
            self.dispatch(&kernel, &p, &bufs, groups)?;
        }
        Ok(())
    }
}

fn check_extras(bias: Option<&Tensor>, res: Option<&Tensor>, n: usize) -> Result<()> {
    if let Some(b) = bias {
        f32_len("bias", b, n)?;
    }
    if let Some(r) = res {
        f32_len("residual", r, n)?;
    }
    Ok(())
}
