//! The GGUF pair as a [`WeightSource`]: the model asks for Hub names, this answers from
//! the text or mmproj file under llama.cpp's names, with the Q/K rows put back in the
//! Hub's order. Tensors keep their GGML type (F32, F16, Q8_0, Q4_0, Q4_K, Q5_0, Q6_K, ...).

use candle_core::Device;

use super::file::{qtensor_from_bytes, GgufFile};
use super::names::{self, Part, Rope};
use crate::error::{Error, Result};
use crate::weights::{Weight, WeightSource};

/// The text and mmproj files of a pair, read as one store of Hub-named tensors.
pub struct GgufSource {
    text: GgufFile,
    mmproj: GgufFile,
    /// Attention heads and key/value heads of the text model (for the Q/K permutation).
    heads: usize,
    kv_heads: usize,
}

impl GgufSource {
    /// `heads` and `kv_heads` are the text model's `llama.attention.head_count(_kv)`.
    pub fn new(text: GgufFile, mmproj: GgufFile, heads: usize, kv_heads: usize) -> Self {
        Self {
            text,
            mmproj,
            heads,
            kv_heads,
        }
    }

    fn file(&self, part: Part) -> &GgufFile {
        match part {
            Part::Text => &self.text,
            Part::Mmproj => &self.mmproj,
        }
    }
}

impl WeightSource for GgufSource {
    fn label(&self) -> String {
        format!("{} + {}", self.text.label(), self.mmproj.label())
    }

    fn contains(&self, name: &str) -> bool {
        names::to_gguf(name).is_some_and(|g| self.file(g.part).has_tensor(&g.name))
    }

    fn load(&self, name: &str, device: &Device) -> Result<Weight> {
        let Some(g) = names::to_gguf(name) else {
            return Err(Error::MissingTensor {
                file: self.label(),
                name: format!("{name} (no llama.cpp name is known for it)"),
            });
        };
        let file = self.file(g.part);
        let Some(info) = file.tensor_info(&g.name) else {
            return Err(Error::MissingTensor {
                file: file.label().to_string(),
                name: format!("{} (the model's {name})", g.name),
            });
        };
        let Some(rope) = g.rope else {
            return Ok(Weight::Quantized(file.qtensor(&g.name, device)?.into()));
        };
        // Undo the converter's per-head interleaving, moving whole rows (whole blocks).
        let heads = match rope {
            Rope::Query => self.heads,
            Rope::Key => self.kv_heads,
        };
        let rows = info.dims()[0];
        let order = names::rope_row_order(rows, heads, false).ok_or_else(|| {
            file.gguf_error(format!(
                "tensor `{}` has {rows} rows, which {heads} heads of an even size cannot split",
                g.name
            ))
        })?;
        let row_bytes = if info.ne.len() == 1 {
            info.dtype.type_size() // a bias: every element is a row
        } else {
            info.row_bytes()
        };
        let data = file
            .tensor_data(&g.name)
            .ok_or_else(|| file.gguf_error(format!("tensor `{}` vanished", g.name)))?;
        if info.ne.len() > 2 || (info.ne.len() == 1 && info.dtype.block_size() != 1) {
            return Err(file.gguf_error(format!(
                "tensor `{}` has shape {:?} in {:?}, not a projection the permutation applies to",
                g.name, info.ne, info.dtype
            )));
        }
        let data = names::reorder_rows(data, row_bytes, &order);
        let q = qtensor_from_bytes(file.label(), info, &data, device)?;
        Ok(Weight::Quantized(q.into()))
    }
}
