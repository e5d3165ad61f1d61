//! Elementwise kernels (elementwise.wgsl): add and mul with a broadcast right operand,
//! SwiGLU's `silu(gate) * up`, and tanh-GELU.

use super::{f32_len, u32_of};
use crate::error::{invalid, Result};
use crate::gpu::Access::{Read, ReadWrite};
use crate::recorder::Recorder;
use crate::tensor::Tensor;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct EwParams {
    n: u32,
    b_len: u32,
}

impl Recorder<'_> {
    /// `y[i] = a[i] + b[i % b_len]` for `i < n` (`b_len = n`: a plain sum; the row
    /// length: a bias or position embedding added to every row).
    pub fn add(
        &mut self,
        a: &Tensor,
        b: &Tensor,
        b_len: usize,
        n: usize,
        y: &Tensor,
    ) -> Result<()> {
        self.binary("add", a, b, b_len, n, y)
    }

    /// `y[i] = a[i] * b[i % b_len]` for `i < n`.
    pub fn mul(
        &mut self,
        a: &Tensor,
        b: &Tensor,
        b_len: usize,
        n: usize,
        y: &Tensor,
    ) -> Result<()> {
        self.binary("mul", a, b, b_len, n, y)
    }

    /// `y = silu(gate) * up` over `n` values: the gate of a SwiGLU MLP.
    pub fn silu_mul(&mut self, gate: &Tensor, up: &Tensor, n: usize, y: &Tensor) -> Result<()> {
        self.binary("silu_mul", gate, up, n, n, y)
    }

    /// `y = gelu_pytorch_tanh(x)` over `n` values.
    pub fn gelu_tanh(&mut self, x: &Tensor, n: usize, y: &Tensor) -> Result<()> {
        let dummy = self.gpu.inner.dummy.clone();
        self.elementwise("gelu_tanh", x, &dummy, 1, n, y)
    }

    fn binary(
        &mut self,
        entry: &str,
        a: &Tensor,
        b: &Tensor,
        b_len: usize,
        n: usize,
        y: &Tensor,
    ) -> Result<()> {
        if b_len == 0 || !n.is_multiple_of(b_len) {
            invalid!("{entry}: {n} values do not repeat a right operand of {b_len}");
        }
        f32_len(entry, b, b_len)?;
        self.elementwise(entry, a, b, b_len, n, y)
    }

    fn elementwise(
        &mut self,
        entry: &str,
        a: &Tensor,
        b: &Tensor,
        b_len: usize,
        n: usize,
        y: &Tensor,
    ) -> Result<()> {
        f32_len(entry, a, n)?;
        f32_len(entry, y, n)?;
        let kernel = self.gpu.kernel(
            &format!("elementwise/{entry}"),
            || include_str!("elementwise.wgsl").to_string(),
            entry,
            &[Read, Read, ReadWrite],
        );
        let p = EwParams {
            n: u32_of("n", n)?,
            b_len: u32_of("b_len", b_len)?,
        };
        self.dispatch_linear(
            &kernel,
            &p,
            &[a.bref(), b.bref(), y.bref()],
            p.n.div_ceil(256),
        )
    }
}
