//! Uploading weights from the `WeightSource` the CPU model reads: every tensor is asked for
//! by the same Hub name and shape as `smolvlm` asks for it, so a missing or misshapen
//! tensor gives the CPU model's error. Quantized blocks go up as they are stored; types the
//! kernels do not read (Q4_1, Q5_K, BF16, ...) are dequantized to f32 on the host first,
//! which is exact.

use std::borrow::Cow;

use candle_core::{DType, Shape};
use smolvlm::weights::Weight as SourceWeight;
use smolvlm::Weights;

use crate::error::Result;
use crate::gpu::Gpu;
use crate::tensor::Tensor;
use crate::weights::{Weight, WeightType};

/// Uploads weights and counts the bytes they take on the GPU.
pub(crate) struct Loader<'g> {
    pub gpu: &'g Gpu,
    pub bytes: u64,
}

impl<'g> Loader<'g> {
    pub fn new(gpu: &'g Gpu) -> Self {
        Self { gpu, bytes: 0 }
    }

    /// `weight` (rows = out, cols = in) under `w`, as a matrix the linear kernels read.
    pub fn matrix(&mut self, w: &Weights, rows: usize, cols: usize) -> Result<Weight> {
        self.matrix_named(w, "weight", rows, cols)
    }

    /// The matrix `name` under `w`, of shape `shape` (flattened to `rows x cols`: the
    /// patch convolution's `(d, c, p, p)` kernel is a `d x c*p*p` matrix).
    pub fn matrix_shaped<S: Into<Shape>>(
        &mut self,
        w: &Weights,
        name: &str,
        shape: S,
        rows: usize,
        cols: usize,
    ) -> Result<Weight> {
        let source = w.weight(name, shape)?;
        self.upload(&source, rows, cols)
    }

    pub fn matrix_named(
        &mut self,
        w: &Weights,
        name: &str,
        rows: usize,
        cols: usize,
    ) -> Result<Weight> {
        self.matrix_shaped(w, name, (rows, cols), rows, cols)
    }

    fn upload(&mut self, source: &SourceWeight, rows: usize, cols: usize) -> Result<Weight> {
        let (ty, bytes) = gpu_layout(source)?;
        let weight = self.gpu.upload_weight(ty, rows, cols, &bytes)?;
        self.bytes += weight.size_bytes() as u64;
        Ok(weight)
    }

    /// A vector (norm weight, bias) of `len` values, as f32.
    pub fn vector(&mut self, w: &Weights, name: &str, len: usize) -> Result<Tensor> {
        let t = w.tensor(name, len)?;
        let data: Vec<f32> = t.to_vec1()?;
        self.bytes += len as u64 * 4;
        self.gpu.upload(&data)
    }

    /// `bias` under `w` when `present`.
    pub fn bias(&mut self, w: &Weights, present: bool, len: usize) -> Result<Option<Tensor>> {
        if present {
            Ok(Some(self.vector(w, "bias", len)?))
        } else {
            Ok(None)
        }
    }
}

/// The type and bytes the kernels read for `w`: GGUF blocks as stored where the kernels
/// know the type, f16 safetensors as f16, everything else as f32.
fn gpu_layout(w: &SourceWeight) -> Result<(WeightType, Cow<'_, [u8]>)> {
    match w {
        SourceWeight::Quantized(q) => {
            let ty = WeightType::from_ggml_dtype(q.dtype());
            match ty {
                Some(ty) => Ok((ty, q.data()?)),
                None => f32_bytes(w),
            }
        }
        SourceWeight::Dense(t) if t.dtype() == DType::F16 => {
            let v: Vec<half::f16> = t.flatten_all()?.to_vec1()?;
            let bytes: Vec<u8> = v.iter().flat_map(|h| h.to_bits().to_le_bytes()).collect();
            Ok((WeightType::F16, Cow::Owned(bytes)))
        }
        SourceWeight::Dense(_) => f32_bytes(w),
    }
}

fn f32_bytes(w: &SourceWeight) -> Result<(WeightType, Cow<'static, [u8]>)> {
    let v: Vec<f32> = w.to_f32()?.flatten_all()?.to_vec1()?;
    Ok((
        WeightType::F32,
        Cow::Owned(bytemuck::cast_slice(&v).to_vec()),
    ))
}
