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
//! [`QEmbedding`]; both hold candle's `QMatMul`, which is a float tensor or a `QTensor`, so
//! a faster kernel can replace the matmul in one place.
//!
//! Loading works from bytes only: the browser hands us what it fetched.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::safetensors::BufferedSafetensors;
use candle_core::{DType, Device, Module, Shape, Tensor};

use crate::error::{Error, Result};

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

/// A store of named weights: safetensors here, GGUF later.
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

/// A linear layer `y = x W^T + b` over a possibly quantized `W` of shape (out, in).
#[derive(Debug, Clone)]
pub struct QLinear {
    weight: QMatMul,
    bias: Option<Tensor>,
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

    /// Builds the layer from a weight of shape (out, in) and an optional bias.
    pub fn from_weight(weight: Weight, bias: Option<Tensor>) -> Result<Self> {
        let weight = match weight {
            // f16/bf16 checkpoints are computed in f32, like transformers loads them for the
            // f32 reference; a reduced-precision path is the kernel work's business.
            Weight::Dense(t) => QMatMul::Tensor(t.to_dtype(DType::F32)?),
            Weight::Quantized(q) => QMatMul::from_arc(q)?,
        };
        Ok(Self { weight, bias })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.weight.forward(x)?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }

    /// The underlying matmul, for a kernel that wants to replace it.
    pub fn matmul(&self) -> &QMatMul {
        &self.weight
    }
}

/// A lookup table (vocab, dim) whose rows are gathered without dequantizing the whole
/// table when it is quantized.
#[derive(Debug, Clone)]
pub struct QEmbedding {
    table: QMatMul,
    rows: usize,
    dim: usize,
}

impl QEmbedding {
    /// Reads `weight` (rows, dim) under `w`.
    pub fn new(rows: usize, dim: usize, w: &Weights) -> Result<Self> {
        let weight = w.weight("weight", (rows, dim))?;
        Self::from_weight(weight)
    }

    pub fn from_weight(weight: Weight) -> Result<Self> {
        let (rows, dim) = weight.shape().dims2()?;
        let table = match weight {
            Weight::Dense(t) => QMatMul::Tensor(t.to_dtype(DType::F32)?),
            Weight::Quantized(q) => QMatMul::from_arc(q)?,
        };
        Ok(Self { table, rows, dim })
    }

    /// Rows `ids` as a (ids.len(), dim) f32 tensor. Ids outside the table are an error,
    /// not a panic (candle's quantized gather does not check them).
    pub fn forward(&self, ids: &[u32]) -> Result<Tensor> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.rows) {
            return Err(Error::TokenOutOfRange {
                id,
                vocab_size: self.rows,
            });
        }
        let device = match &self.table {
            QMatMul::QTensor(q) => q.device(),
            QMatMul::Tensor(t) | QMatMul::TensorF16(t) => t.device().clone(),
        };
        let ids = Tensor::from_slice(ids, ids.len(), &device)?;
        Ok(self.table.embedding(&ids)?.to_dtype(DType::F32)?)
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
