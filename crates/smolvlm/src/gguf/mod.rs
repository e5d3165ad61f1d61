//! SmolVLM2 as llama.cpp publishes it: a `llama` text GGUF (decoder, tokenizer, chat
//! template) and an `mmproj` GGUF (`clip.projector_type = idefics3`: vision tower and
//! connector), loaded from bytes, and the same pair written from a Hub checkpoint
//! ([`quantize`]).
//!
//! References: llama.cpp's `convert_hf_to_gguf.py` (`LlamaModel` with its Q/K `permute`,
//! `SmolVLMModel`, `MmprojModel`), gguf-py (`constants.py`, `tensor_mapping.py`,
//! `vocab.py`), `tools/mtmd/clip.cpp` (what the idefics3 mmproj metadata means) and
//! `src/llama-quant.cpp` (per-tensor types of the k-quant mixtures).
//!
//! A pair is self-sufficient: the tokenizer is rebuilt from the text file's metadata, the
//! image settings come from the mmproj's, and weights keep their GGML type in memory
//! (F32, F16, Q8_0, Q4_0, Q4_K, Q5_0, Q6_K, ...), multiplied by our own kernels
//! (`kernels/`) in that type; the token embeddings gather rows without dequantizing the
//! table.
//!
//! ```no_run
//! # fn main() -> smolvlm::Result<()> {
//! # let (text, mmproj) = (Vec::new(), Vec::new());
//! use smolvlm::gguf::GgufPair;
//! let pair = GgufPair::from_bytes("model.gguf", text, "mmproj.gguf", mmproj)?;
//! let tokenizer = pair.tokenizer()?;
//! let model = pair.load_model(&candle_core::Device::Cpu)?;
//! # Ok(()) }
//! ```

mod config;
mod file;
pub mod format;
pub mod keys;
mod names;
pub mod quantize;
mod source;
mod tokenizer;

use std::sync::Arc;

use candle_core::Device;

pub use config::{generation_config, image_processor_config, model_config};
pub use file::{GgufFile, GgufKind};
pub use names::{rope_row_order, to_gguf, to_hub, GgufName, Part, Rope};
pub use quantize::{quantize_checkpoint, Checkpoint, GgufPairBytes, QuantType};
pub use source::GgufSource;
pub use tokenizer::{chat_template_from_gguf, tokenizer_from_gguf, SMOLVLM2_CHAT_TEMPLATE};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::processor::ImageProcessorConfig;
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;
use crate::{GenerationConfig, SmolVlm};

/// A text GGUF and its mmproj, checked to be the two halves of one SmolVLM2.
#[derive(Debug)]
pub struct GgufPair {
    text: GgufFile,
    mmproj: GgufFile,
}

impl GgufPair {
    /// Checks that `text` is a `llama` text model and `mmproj` an idefics3 mmproj (either
    /// one given in the other's place is an error that says so).
    pub fn new(text: GgufFile, mmproj: GgufFile) -> Result<Self> {
        text.expect_kind(GgufKind::Text)?;
        mmproj.expect_kind(GgufKind::Mmproj)?;
        Ok(Self { text, mmproj })
    }

    /// Parses both files from their bytes; labels (file names) name them in errors.
    pub fn from_bytes(
        text_label: impl Into<String>,
        text: Vec<u8>,
        mmproj_label: impl Into<String>,
        mmproj: Vec<u8>,
    ) -> Result<Self> {
        Self::new(
            GgufFile::from_bytes(text_label, text)?,
            GgufFile::from_bytes(mmproj_label, mmproj)?,
        )
    }

    pub fn text(&self) -> &GgufFile {
        &self.text
    }

    pub fn mmproj(&self) -> &GgufFile {
        &self.mmproj
    }

    /// The tokenizer rebuilt from the text file's metadata.
    pub fn tokenizer(&self) -> Result<Tokenizer> {
        tokenizer_from_gguf(&self.text)
    }

    /// The Jinja chat template (`tokenizer.chat_template`, or SmolVLM2's).
    pub fn chat_template(&self) -> Result<String> {
        chat_template_from_gguf(&self.text)
    }

    /// The model config; `<image>`'s id is looked up in the vocabulary.
    pub fn config(&self) -> Result<Config> {
        let tokens = self.text.strings(keys::TOKENIZER_TOKENS)?;
        let image = crate::tokenizer::SpecialTokenNames::default().image;
        let id = tokens.iter().position(|t| *t == image).ok_or_else(|| {
            self.text.gguf_error(format!(
                "the vocabulary has no `{image}` token: not SmolVLM's"
            ))
        })?;
        model_config(&self.text, &self.mmproj, id as u32)
    }

    /// Image preprocessing settings from the mmproj's metadata.
    pub fn image_processor_config(&self) -> Result<ImageProcessorConfig> {
        image_processor_config(&self.mmproj)
    }

    /// The end-of-sequence ids from the text file's metadata.
    pub fn generation_config(&self) -> Result<GenerationConfig> {
        generation_config(&self.text)
    }

    /// Builds the model, consuming the pair: its bytes are freed once every tensor has
    /// been copied into the model.
    pub fn load_model(self, device: &Device) -> Result<SmolVlm> {
        let config = self.config()?;
        self.load_model_with(&config, device)
    }

    /// [`Self::load_model`] with a config already read (it must be this pair's).
    pub fn load_model_with(self, config: &Config, device: &Device) -> Result<SmolVlm> {
        let source = GgufSource::new(
            self.text,
            self.mmproj,
            config.text.num_attention_heads,
            config.text.num_key_value_heads(),
        );
        let weights = Weights::new(Arc::new(source), device);
        SmolVlm::new(config, &weights)
    }
}

/// Everything a GGUF pair gives: the model and what it needs to take a prompt and images.
pub struct GgufModel {
    pub model: SmolVlm,
    pub config: Config,
    pub tokenizer: Tokenizer,
    pub chat_template: String,
    pub image_processor: ImageProcessorConfig,
    pub generation: GenerationConfig,
}

impl GgufModel {
    /// Loads a pair from the bytes of both files.
    pub fn from_bytes(
        text_label: impl Into<String>,
        text: Vec<u8>,
        mmproj_label: impl Into<String>,
        mmproj: Vec<u8>,
        device: &Device,
    ) -> Result<Self> {
        let pair = GgufPair::from_bytes(text_label, text, mmproj_label, mmproj)?;
        let config = pair.config()?;
        let tokenizer = pair.tokenizer()?;
        if tokenizer.special().image.id != config.image_token_id {
            return Err(Error::Gguf {
                file: pair.text.label().to_string(),
                msg: "the tokenizer's `<image>` id differs from the vocabulary's".into(),
            });
        }
        let chat_template = pair.chat_template()?;
        let image_processor = pair.image_processor_config()?;
        let generation = pair.generation_config()?;
        let model = pair.load_model_with(&config, device)?;
        Ok(Self {
            model,
            config,
            tokenizer,
            chat_template,
            image_processor,
            generation,
        })
    }
}
