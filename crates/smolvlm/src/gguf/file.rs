//! One GGUF file held in memory: what kind it is (a `llama` text model or an `idefics3`
//! mmproj), typed access to its metadata with errors that name the key, and its tensors
//! as candle `QTensor`s that keep their GGML type.

use std::borrow::Cow;
use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{QStorage, QTensor};
use candle_core::Device;

use super::format::{self, Parsed, TensorInfo};
use super::keys;
use crate::error::{Error, Result};

/// The two halves of a SmolVLM2 GGUF pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgufKind {
    /// `general.architecture = llama`: the text decoder and the tokenizer.
    Text,
    /// `general.architecture = clip` with `clip.projector_type = idefics3`: the vision
    /// tower and the connector.
    Mmproj,
}

/// A parsed GGUF file and its bytes.
pub struct GgufFile {
    label: String,
    bytes: Vec<u8>,
    parsed: Parsed,
    tensor_index: HashMap<String, usize>,
    meta_index: HashMap<String, usize>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("label", &self.label)
            .field("bytes", &self.bytes.len())
            .field("tensors", &self.parsed.tensors.len())
            .finish_non_exhaustive()
    }
}

impl GgufFile {
    /// Parses `bytes`; `label` (a file name) names the file in errors. A truncated or
    /// corrupt file is an error here, before any tensor is read.
    pub fn from_bytes(label: impl Into<String>, bytes: Vec<u8>) -> Result<Self> {
        let label = label.into();
        let parsed = format::parse(&bytes).map_err(|msg| Error::Gguf {
            file: label.clone(),
            msg,
        })?;
        let tensor_index = parsed
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let meta_index = parsed
            .metadata
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        Ok(Self {
            label,
            bytes,
            parsed,
            tensor_index,
            meta_index,
        })
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.parsed.version
    }

    /// Every metadata key and value, in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.parsed.metadata
    }

    /// Every tensor description, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.parsed.tensors
    }

    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index
            .get(name)
            .map(|&i| &self.parsed.tensors[i])
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.tensor_index.contains_key(name)
    }

    /// The raw bytes of a tensor's data (whole GGML blocks, row after row).
    pub fn tensor_data(&self, name: &str) -> Option<&[u8]> {
        self.tensor_info(name)
            .map(|t| &self.bytes[t.start..t.start + t.size])
    }

    /// The tensor `name` in its stored GGML type, shaped outermost first (a GGUF
    /// `[in, out]` matrix becomes `(out, in)`, as PyTorch stores it).
    pub fn qtensor(&self, name: &str, device: &Device) -> Result<QTensor> {
        let info = self.tensor_info(name).ok_or_else(|| Error::MissingTensor {
            file: self.label.clone(),
            name: name.into(),
        })?;
        let data = &self.bytes[info.start..info.start + info.size];
        qtensor_from_bytes(&self.label, info, data, device)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.meta_index
            .get(key)
            .map(|&i| &self.parsed.metadata[i].1)
    }

    fn error(&self, msg: String) -> Error {
        Error::Gguf {
            file: self.label.clone(),
            msg,
        }
    }

    fn missing(&self, key: &str) -> Error {
        self.error(format!("metadata `{key}` is missing"))
    }

    fn wrong_type(&self, key: &str, want: &str, got: &Value) -> Error {
        self.error(format!("metadata `{key}` should be {want}, got {got:?}"))
    }

    /// An unsigned integer (any width, or a non-negative signed one).
    pub fn u32_opt(&self, key: &str) -> Result<Option<u32>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n: i128 = match v {
            Value::U8(x) => *x as i128,
            Value::U16(x) => *x as i128,
            Value::U32(x) => *x as i128,
            Value::U64(x) => *x as i128,
            Value::I8(x) => *x as i128,
            Value::I16(x) => *x as i128,
            Value::I32(x) => *x as i128,
            Value::I64(x) => *x as i128,
            other => return Err(self.wrong_type(key, "an integer", other)),
        };
        u32::try_from(n)
            .map(Some)
            .map_err(|_| self.error(format!("metadata `{key}` = {n} is out of range")))
    }

    pub fn u32(&self, key: &str) -> Result<u32> {
        self.u32_opt(key)?.ok_or_else(|| self.missing(key))
    }

    /// A positive integer as usize (sizes and counts).
    pub fn size(&self, key: &str) -> Result<usize> {
        match self.u32(key)? {
            0 => Err(self.error(format!("metadata `{key}` is 0, it must be positive"))),
            n => Ok(n as usize),
        }
    }

    pub fn size_opt(&self, key: &str) -> Result<Option<usize>> {
        match self.u32_opt(key)? {
            Some(0) => Err(self.error(format!("metadata `{key}` is 0, it must be positive"))),
            n => Ok(n.map(|n| n as usize)),
        }
    }

    pub fn f32_opt(&self, key: &str) -> Result<Option<f32>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::F32(x)) if x.is_finite() => Ok(Some(*x)),
            Some(Value::F64(x)) if x.is_finite() => Ok(Some(*x as f32)),
            Some(other) => Err(self.wrong_type(key, "a finite float", other)),
        }
    }

    pub fn f32(&self, key: &str) -> Result<f32> {
        self.f32_opt(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn bool_opt(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(key, "a boolean", other)),
        }
    }

    pub fn str_opt(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    pub fn str(&self, key: &str) -> Result<&str> {
        self.str_opt(key)?.ok_or_else(|| self.missing(key))
    }

    fn array(&self, key: &str) -> Result<Option<&[Value]>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong_type(key, "an array", other)),
        }
    }

    pub fn strings_opt(&self, key: &str) -> Result<Option<Vec<&str>>> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(self.wrong_type(key, "an array of strings", other)),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        self.strings_opt(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn i32s_opt(&self, key: &str) -> Result<Option<Vec<i32>>> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| match v {
                Value::I32(x) => Ok(*x),
                Value::U32(x) => i32::try_from(*x).map_err(|_| self.wrong_type(key, "i32", v)),
                Value::U8(x) => Ok(*x as i32),
                Value::I8(x) => Ok(*x as i32),
                other => Err(self.wrong_type(key, "an array of integers", other)),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub fn f32s_opt(&self, key: &str) -> Result<Option<Vec<f32>>> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| match v {
                Value::F32(x) => Ok(*x),
                Value::F64(x) => Ok(*x as f32),
                other => Err(self.wrong_type(key, "an array of floats", other)),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> Result<&str> {
        self.str(keys::GENERAL_ARCHITECTURE)
    }

    /// Which half of a SmolVLM2 pair this is; any other GGUF is an error that says what
    /// it is instead.
    pub fn kind(&self) -> Result<GgufKind> {
        match self.architecture()? {
            keys::ARCH_TEXT | keys::ARCH_GRANITE => Ok(GgufKind::Text),
            keys::ARCH_MMPROJ => {
                let projector = self.str_opt(keys::CLIP_PROJECTOR_TYPE)?.ok_or_else(|| {
                    self.error(
                        "an mmproj without `clip.projector_type` (an old llava-style file?): \
                         only idefics3 (SmolVLM) projectors are supported"
                            .into(),
                    )
                })?;
                if projector != keys::PROJECTOR_IDEFICS3 {
                    return Err(self.error(format!(
                        "mmproj projector type `{projector}` is not SmolVLM's: only `idefics3` is supported"
                    )));
                }
                if self.bool_opt(keys::CLIP_HAS_VISION_ENCODER)? != Some(true) {
                    return Err(self.error(
                        "the mmproj has no vision encoder (`clip.has_vision_encoder` is not true)"
                            .into(),
                    ));
                }
                Ok(GgufKind::Mmproj)
            }
            other => Err(self.error(format!(
                "architecture `{other}` is not SmolVLM2's: the text GGUF must be `llama` and the \
                 vision GGUF a `clip` mmproj with the idefics3 projector"
            ))),
        }
    }

    /// Errors unless the file is of `kind`, saying which half it is when it is the other.
    pub fn expect_kind(&self, kind: GgufKind) -> Result<()> {
        let got = self.kind()?;
        if got == kind {
            return Ok(());
        }
        Err(self.error(match got {
            GgufKind::Mmproj => "this is the vision half of a pair (an idefics3 mmproj), \
                                 given where the text model GGUF (architecture llama) belongs"
                .into(),
            GgufKind::Text => "this is a text model GGUF (architecture llama), given where \
                               the vision half (an idefics3 mmproj) belongs"
                .into(),
        }))
    }

    pub(crate) fn gguf_error(&self, msg: String) -> Error {
        self.error(msg)
    }
}

/// Builds a candle `QTensor` from a tensor's raw GGML blocks.
pub(crate) fn qtensor_from_bytes(
    label: &str,
    info: &TensorInfo,
    data: &[u8],
    device: &Device,
) -> Result<QTensor> {
    // candle reinterprets the bytes as blocks in place and insists on their alignment
    // (at most 4: f32 scales); the data of a well-formed file is 32-byte aligned within
    // it, but the buffer we were handed need not be, so copy into aligned storage then.
    let aligned: Vec<u32>;
    let data: &[u8] = if (data.as_ptr() as usize).is_multiple_of(4) {
        data
    } else {
        aligned = data
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_ne_bytes(w)
            })
            .collect();
        &bytemuck::cast_slice::<u32, u8>(&aligned)[..data.len()]
    };
    let storage = QStorage::from_data(Cow::Borrowed(data), device, info.dtype)?;
    QTensor::new(storage, info.dims()).map_err(|e| Error::Gguf {
        file: label.into(),
        msg: format!("tensor `{}`: {e}", info.name),
    })
}
