//! candle custom ops that run our kernels (`kernels::ops`) on whole CPU tensors: the
//! vision tower's softmax over attention scores and its tanh-GELU. candle's own versions
//! call libm's `expf`/`tanhf` per element, which took about a fifth of a 512x512 tile's
//! encoding natively and more in wasm32, where libm has no vector path at all.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use crate::kernels::{cpu, ops};

/// Elements per task when an elementwise op is spread over threads.
const ELEMENTWISE_CHUNK: usize = 1 << 14;

/// Softmax over the last dimension.
pub fn softmax_last_dim(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&SoftmaxLastDim)
}

/// PyTorch's tanh-approximated GELU (`gelu_pytorch_tanh`).
pub fn gelu_tanh(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&GeluTanh)
}

/// A copy of the f32 values of a contiguous tensor (the op's output buffer).
fn f32_values(op: &str, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<Vec<f32>> {
    let CpuStorage::F32(all) = storage else {
        candle_core::bail!("{op}: f32 tensors only");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: the input must be contiguous");
    };
    Ok(all[start..end].to_vec())
}

struct SoftmaxLastDim;

impl CustomOp1 for SoftmaxLastDim {
    fn name(&self) -> &'static str {
        "smolvlm-softmax-last-dim"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let mut out = f32_values(self.name(), s, l)?;
        let row = l.dims().last().copied().unwrap_or(1).max(1);
        cpu::for_each_chunk_mut(&mut out, row, |_, r| ops::softmax(r));
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

struct GeluTanh;

impl CustomOp1 for GeluTanh {
    fn name(&self) -> &'static str {
        "smolvlm-gelu-tanh"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let mut out = f32_values(self.name(), s, l)?;
        cpu::for_each_chunk_mut(&mut out, ELEMENTWISE_CHUNK, |_, c| ops::gelu_tanh(c));
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, D};

    fn tensor(shape: (usize, usize, usize)) -> Tensor {
        let n = shape.0 * shape.1 * shape.2;
        // Awkward values: a wide range, signs, and rows not a multiple of any vector width.
        let v: Vec<f32> = (0..n)
            .map(|i| ((i * 7919 % 2003) as f32 - 1001.0) / 97.0)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    #[test]
    fn softmax_matches_candles() {
        let x = tensor((3, 5, 1027));
        let want = candle_nn::ops::softmax(&x, D::Minus1).unwrap();
        let got = softmax_last_dim(&x).unwrap();
        assert!(max_diff(&got, &want) < 1e-7, "{}", max_diff(&got, &want));
        // Strided input (a transpose) is made contiguous first.
        let t = x.transpose(1, 2).unwrap();
        let want = candle_nn::ops::softmax(&t, D::Minus1).unwrap();
        assert!(max_diff(&softmax_last_dim(&t).unwrap(), &want) < 1e-7);
    }

    #[test]
    fn gelu_tanh_matches_the_f64_formula() {
        let x = tensor((2, 3, 20011));
        let got: Vec<f32> = gelu_tanh(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let xs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
        for (&v, &g) in xs.iter().zip(&got) {
            let v = v as f64;
            let want = 0.5
                * v
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh());
            // A few f32 ulps of the result, or of 1 in tanh for values near zero.
            let tol = 4.0 * f32::EPSILON as f64 * (want.abs() + 0.5 * v.abs());
            assert!(
                (g as f64 - want).abs() <= tol,
                "gelu({v}) = {g}, want {want}"
            );
        }
    }
}
