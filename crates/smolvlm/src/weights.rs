//! Where weights come from, and the two layer types every weight goes through.
//!
//! The model asks for tensors by their canonical name, the name in the Hub checkpoint's
//! `model.safetensors` (`model.text_model.layers.0.self_attn.q_proj.weight`, ...). A
//! [`WeightSource`] answers with a [`Weight`]: a dense tensor, or a GGML-quantized one that
//! stays quantized in memory. Safetensors is the backend here; a GGUF backend maps the
//! canonical names to llama.cpp's (`blk.0.attn_q.weight`, ...) and undoes the converter's
//! Q/K row permutation (rows are whole quantization blocks, so that works on quantized
//! data too).
//!
//! Every matrix multiply by a weight goes through [`QLinear`], every table lookup through
//! [`QEmbedding`]; both keep the weight as stored (f32, f16 or a GGML block type) and run
//! it through the kernels of [`crate::kernels`] (candle's `QMatMul` only for GGML types
//! those have no kernel for).
//!
//! Loading works from bytes only: the browser hands us what it fetched.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::safetensors::BufferedSafetensors;
use candle_core::{DType, Device, Module, Shape, Tensor};

use crate::error::{Error, Result};
use crate::kernels::{self, Acts, QMatrix, WeightType};

/// A weight as its backend stores it.
#[derive(Debug, Clone)]
pub enum Weight {
    /// A float tensor (f32, f16 or bf16 as stored).
    Dense(Tensor),
    /// A GGML-quantized tensor (F32/F16 QTensors are dequantized when a layer is built).
    Quantized(Arc<QTensor>),
}

impl Weight {
    pub fn shape(&self) -> &Shape {
        match self {
            Self::Dense(t) => t.shape(),
            Self::Quantized(q) => q.shape(),
        }
    }

    /// The weight as an f32 tensor (dequantizing if needed).
    pub fn to_f32(&self) -> Result<Tensor> {
        Ok(match self {
            Self::Dense(t) => t.to_dtype(DType::F32)?,
            Self::Quantized(q) => q.dequantize(&q.device())?,
        })
    }

    /// Bytes this weight holds in memory.
    pub fn size_in_bytes(&self) -> usize {
        match self {
            Self::Dense(t) => t.elem_count() * t.dtype().size_in_bytes(),
            Self::Quantized(q) => q.storage_size_in_bytes(),
        }
    }
}

/// A store of named weights: a safetensors checkpoint or a GGUF pair.
pub trait WeightSource {
    /// What to call this source in errors (a file name).
    fn label(&self) -> String;
    /// Whether the source holds a tensor of this canonical name.
    fn contains(&self, name: &str) -> bool;
    /// Loads the tensor of this canonical name onto `device`.
    /// Returns [`Error::MissingTensor`] when it is absent.
    fn load(&self, name: &str, device: &Device) -> Result<Weight>;
}

/// Safetensors files held in memory (one, or the shards of a sharded checkpoint).
pub struct SafetensorsSource {
    files: Vec<(String, BufferedSafetensors)>,
    /// Tensor name -> index in `files`.
    index: HashMap<String, usize>,
}

impl SafetensorsSource {
    /// Parses one safetensors file from its bytes. `label` names it in errors.
    pub fn from_bytes(label: impl Into<String>, bytes: Vec<u8>) -> Result<Self> {
        Self::from_shards(vec![(label.into(), bytes)])
    }

    /// Parses the shards of a checkpoint (`model-00001-of-00002.safetensors`, ...).
    pub fn from_shards(shards: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let mut files = Vec::with_capacity(shards.len());
        let mut index = HashMap::new();
        for (i, (label, bytes)) in shards.into_iter().enumerate() {
            let st = BufferedSafetensors::new(bytes).map_err(|e| Error::BadWeights {
                file: label.clone(),
                msg: e.to_string(),
            })?;
            for (name, _) in st.tensors() {
                index.insert(name, i);
            }
            files.push((label, st));
        }
        Ok(Self { files, index })
    }

    /// The shape of a tensor, without loading it.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        let &i = self.index.get(name)?;
        self.files[i]
            .1
            .get(name)
            .ok()
            .map(|view| view.shape().to_vec())
    }

    /// Names of all tensors, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.index.keys().cloned().collect();
        names.sort();
        names
    }
}

impl WeightSource for SafetensorsSource {
    fn label(&self) -> String {
        match self.files.as_slice() {
            [(label, _)] => label.clone(),
            files => files
                .iter()
                .map(|(l, _)| l.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    fn load(&self, name: &str, device: &Device) -> Result<Weight> {
        let Some(&i) = self.index.get(name) else {
            return Err(Error::MissingTensor {
                file: self.label(),
                name: name.into(),
            });
        };
        let (label, st) = &self.files[i];
        let t = st.load(name, device).map_err(|e| Error::BadWeights {
            file: label.clone(),
            msg: format!("tensor `{name}`: {e}"),
        })?;
        if !matches!(t.dtype(), DType::F32 | DType::F16 | DType::BF16) {
            return Err(Error::TensorDtype {
                file: label.clone(),
                name: name.into(),
                dtype: format!("{:?}", t.dtype()),
            });
        }
        Ok(Weight::Dense(t))
    }
}

/// A view of a [`WeightSource`] under a name prefix, like candle's `VarBuilder`:
/// `w.pp("layers").pp(0).linear(...)` reads `layers.0.weight` and `layers.0.bias`.
#[derive(Clone)]
pub struct Weights {
    source: Arc<dyn WeightSource>,
    prefix: Vec<String>,
    device: Device,
}

impl Weights {
    pub fn new(source: Arc<dyn WeightSource>, device: &Device) -> Self {
        Self {
            source,
            prefix: Vec::new(),
            device: device.clone(),
        }
    }

    /// The same source, one name segment deeper.
    pub fn pp<S: ToString>(&self, segment: S) -> Self {
        let mut prefix = self.prefix.clone();
        prefix.push(segment.to_string());
        Self {
            source: self.source.clone(),
            prefix,
            device: self.device.clone(),
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The full canonical name of `name` under this prefix.
    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix.join("."))
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.source.contains(&self.path(name))
    }

    /// The weight `name`, checked against the expected shape; quantized stays quantized.
    pub fn weight<S: Into<Shape>>(&self, name: &str, shape: S) -> Result<Weight> {
        let path = self.path(name);
        let w = self.source.load(&path, &self.device)?;
        let expected: Shape = shape.into();
        if w.shape() != &expected {
            return Err(Error::TensorShape {
                file: self.source.label(),
                name: path,
                expected: expected.dims().to_vec(),
                got: w.shape().dims().to_vec(),
            });
        }
        Ok(w)
    }

    /// The weight `name` as a dense f32 tensor of the expected shape (biases, norms).
    pub fn tensor<S: Into<Shape>>(&self, name: &str, shape: S) -> Result<Tensor> {
        self.weight(name, shape)?.to_f32()
    }
}

/// A weight matrix as the kernels hold it: ours for every type we have kernels for, or
/// candle's quantized matmul for GGML types we do not (Q4_1, Q5_1, Q2_K, Q3_K, Q5_K:
/// none of the published SmolVLM2 files use them), kept quantized either way.
#[derive(Debug)]
enum Matrix {
    Ours(QMatrix),
    Candle(QMatMul),
}

impl Matrix {
    /// `weight` (rows, cols) as a matrix. Dense f16 stays f16 (its f32 products are the
    /// same numbers as after an upcast); bf16 is upcast to f32 (no bf16 kernel).
    fn new(weight: Weight) -> Result<Self> {
        let (rows, cols) = weight.shape().dims2()?;
        let kernel = |ty, bytes: &[u8]| -> Result<Self> {
            Ok(Self::Ours(QMatrix::new(ty, rows, cols, bytes)?))
        };
        match weight {
            Weight::Dense(t) => match t.dtype() {
                DType::F16 => {
                    let v: Vec<half::f16> = t.flatten_all()?.to_vec1()?;
                    kernel(WeightType::F16, bytemuck::cast_slice(&v))
                }
                _ => {
                    let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                    kernel(WeightType::F32, bytemuck::cast_slice(&v))
                }
            },
            Weight::Quantized(q) => {
                let ty = match WeightType::from_ggml_dtype(q.dtype()) {
                    Some(ty) => ty,
                    None if q.dtype() == GgmlDType::BF16 => {
                        let v: Vec<f32> = q.dequantize(&q.device())?.flatten_all()?.to_vec1()?;
                        return kernel(WeightType::F32, bytemuck::cast_slice(&v));
                    }
                    None => return Ok(Self::Candle(QMatMul::from_arc(q)?)),
                };
                kernel(ty, &q.data()?)
            }
        }
    }

    fn rows(&self) -> usize {
        match self {
            Self::Ours(m) => m.rows(),
            Self::Candle(QMatMul::QTensor(q)) => q.shape().dims()[0],
            Self::Candle(QMatMul::Tensor(t) | QMatMul::TensorF16(t)) => t.dims()[0],
        }
    }

    fn cols(&self) -> usize {
        match self {
            Self::Ours(m) => m.cols(),
            Self::Candle(QMatMul::QTensor(q)) => q.shape().dims()[1],
            Self::Candle(QMatMul::Tensor(t) | QMatMul::TensorF16(t)) => t.dims()[1],
        }
    }

    /// `y` (t × rows) = `x` (t × cols) W^T.
    fn matmul(&self, x: &Acts, y: &mut [f32]) -> Result<()> {
        match self {
            Self::Ours(m) => Ok(m.matmul(x, y)?),
            Self::Candle(m) => {
                let xt = Tensor::from_slice(x.f32(), (x.tokens(), x.cols()), &Device::Cpu)?;
                let out: Vec<f32> = m.forward(&xt)?.flatten_all()?.to_vec1()?;
                y.copy_from_slice(&out);
                Ok(())
            }
        }
    }

    /// Rows `ids` into `out` (ids.len() × cols); ids already checked.
    fn gather(&self, ids: &[u32], out: &mut [f32]) -> Result<()> {
        match self {
            Self::Ours(m) => {
                for (&id, o) in ids.iter().zip(out.chunks_exact_mut(m.cols())) {
                    m.dequantize_row(id as usize, o);
                }
                Ok(())
            }
            Self::Candle(m) => {
                let ids = Tensor::from_slice(ids, ids.len(), &Device::Cpu)?;
                let rows: Vec<f32> = m
                    .embedding(&ids)?
                    .to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1()?;
                out.copy_from_slice(&rows);
                Ok(())
            }
        }
    }

    fn size_in_bytes(&self) -> usize {
        match self {
            Self::Ours(m) => m.size_in_bytes(),
            Self::Candle(QMatMul::QTensor(q)) => q.storage_size_in_bytes(),
            Self::Candle(QMatMul::Tensor(t) | QMatMul::TensorF16(t)) => {
                t.elem_count() * t.dtype().size_in_bytes()
            }
        }
    }
}

/// A linear layer `y = x W^T + b` over a possibly quantized `W` of shape (out, in), run by
/// the kernels of [`crate::kernels`].
#[derive(Debug, Clone)]
pub struct QLinear {
    weight: Arc<Matrix>,
    bias: Option<Arc<[f32]>>,
}

impl QLinear {
    /// Reads `weight` (out, in) and, if `bias`, `bias` (out) under `w`.
    pub fn new(in_dim: usize, out_dim: usize, bias: bool, w: &Weights) -> Result<Self> {
        let weight = w.weight("weight", (out_dim, in_dim))?;
        let bias = if bias {
            Some(w.tensor("bias", out_dim)?)
        } else {
            None
        };
        Self::from_weight(weight, bias)
    }

    /// Builds the layer from a weight of shape (out, in) and an optional bias (out).
    pub fn from_weight(weight: Weight, bias: Option<Tensor>) -> Result<Self> {
        let weight = Matrix::new(weight)?;
        let bias = match bias {
            Some(b) => {
                let b: Vec<f32> = b.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                if b.len() != weight.rows() {
                    return Err(Error::InvalidInput(format!(
                        "a bias of {} values for a layer of {} outputs",
                        b.len(),
                        weight.rows()
                    )));
                }
                Some(b.into())
            }
            None => None,
        };
        Ok(Self {
            weight: Arc::new(weight),
            bias,
        })
    }

    /// Input features.
    pub fn in_dim(&self) -> usize {
        self.weight.cols()
    }

    /// Output features.
    pub fn out_dim(&self) -> usize {
        self.weight.rows()
    }

    /// Bytes of the weight in memory.
    pub fn size_in_bytes(&self) -> usize {
        self.weight.size_in_bytes()
    }

    /// `x` (..., in) -> (..., out).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let (in_dim, out_dim) = (self.in_dim(), self.out_dim());
        if dims.last() != Some(&in_dim) {
            return Err(Error::InvalidInput(format!(
                "a linear layer of {in_dim} inputs got a tensor of shape {dims:?}"
            )));
        }
        let xv: Vec<f32> = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let mut y = vec![0f32; xv.len() / in_dim * out_dim];
        self.forward_f32(&Acts::new(&xv, in_dim), &mut y)?;
        let mut out_dims = dims;
        if let Some(last) = out_dims.last_mut() {
            *last = out_dim;
        }
        Ok(Tensor::from_vec(y, out_dims, x.device())?)
    }

    /// `y` (t × out) = `x` (t × in) W^T + b, on slices (the decoder's path). Pass the
    /// same `Acts` to layers that share an input: it is quantized once.
    pub fn forward_f32(&self, x: &Acts, y: &mut [f32]) -> Result<()> {
        self.weight.matmul(x, y)?;
        if let Some(b) = &self.bias {
            kernels::ops::add_rows_spread(y, b);
        }
        Ok(())
    }
}

/// A lookup table (vocab, dim) whose rows are gathered without dequantizing the whole
/// table when it is quantized.
#[derive(Debug, Clone)]
pub struct QEmbedding {
    table: Arc<Matrix>,
    rows: usize,
    dim: usize,
}

impl QEmbedding {
    /// Reads `weight` (rows, dim) under `w`.
    pub fn new(rows: usize, dim: usize, w: &Weights) -> Result<Self> {
        let weight = w.weight("weight", (rows, dim))?;
        Self::from_weight(weight)
    }

    /// Any type stays as stored (F16 too): a lookup dequantizes its rows only.
    pub fn from_weight(weight: Weight) -> Result<Self> {
        let (rows, dim) = weight.shape().dims2()?;
        Ok(Self {
            table: Arc::new(Matrix::new(weight)?),
            rows,
            dim,
        })
    }

    /// Rows `ids` as a (ids.len(), dim) f32 tensor. Ids outside the table are an error,
    /// not a panic.
    pub fn forward(&self, ids: &[u32]) -> Result<Tensor> {
        let mut out = vec![0f32; ids.len() * self.dim];
        self.forward_f32(ids, &mut out)?;
        Ok(Tensor::from_vec(out, (ids.len(), self.dim), &Device::Cpu)?)
    }

    /// Rows `ids` into `out` (ids.len() × dim).
    pub fn forward_f32(&self, ids: &[u32], out: &mut [f32]) -> Result<()> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.rows) {
            return Err(Error::TokenOutOfRange {
                id,
                vocab_size: self.rows,
            });
        }
        self.table.gather(ids, out)
    }

    /// The same table used as an output projection (tied `lm_head`).
    pub fn as_linear(&self) -> QLinear {
        QLinear {
            weight: self.table.clone(),
            bias: None,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn dim(&self) -> usize {
        self.dim
    }
}
