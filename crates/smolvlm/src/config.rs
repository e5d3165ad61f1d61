//! `config.json` and `generation_config.json` of a SmolVLM / Idefics3 checkpoint.
//!
//! Reference: transformers `models/smolvlm/configuration_smolvlm.py`,
//! `models/idefics3/configuration_idefics3.py` and `models/llama/configuration_llama.py`
//! (v5.24). Every default below is the default of those classes, used when a checkpoint's
//! config.json leaves the key out (the real SmolVLM2 configs omit the vision tower's
//! `num_hidden_layers`, `intermediate_size`, `hidden_act` and `layer_norm_eps`, and the
//! text model's `hidden_act`).
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/smolvlm/configuration_smolvlm.py>

use candle_nn::Activation;
use serde::Deserialize;

use crate::error::{Error, Result};

/// File name used in errors about the model config.
pub const CONFIG_FILE: &str = "config.json";
/// File name used in errors about the generation config.
pub const GENERATION_CONFIG_FILE: &str = "generation_config.json";

// Defaults of `SmolVLMVisionConfig` / `Idefics3VisionConfig` (identical in both classes).
fn vision_hidden_size() -> usize {
    1152
}
fn vision_intermediate_size() -> usize {
    // Omitted by SmolVLM2-256M/500M; 3072 is also the real value there (SigLIP-B/16).
    3072
}
fn vision_num_hidden_layers() -> usize {
    // Omitted by SmolVLM2-256M/500M; 12 is also the real value there (SigLIP-B/16).
    12
}
fn vision_num_attention_heads() -> usize {
    16
}
fn num_channels() -> usize {
    3
}
fn vision_image_size() -> usize {
    224
}
fn vision_patch_size() -> usize {
    32
}
fn vision_hidden_act() -> Activation {
    // Omitted by the real configs; transformers' default is the tanh approximation.
    Activation::GeluPytorchTanh
}
fn vision_layer_norm_eps() -> f64 {
    // Omitted by the real configs; transformers uses 1e-6 (llama.cpp's converter writes
    // 1e-5 into the mmproj GGUF when it is missing, see DESIGN.md).
    1e-6
}

/// The SigLIP vision tower (`vision_config`).
#[derive(Debug, Clone, Deserialize)]
pub struct VisionConfig {
    #[serde(default = "vision_hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "vision_intermediate_size")]
    pub intermediate_size: usize,
    #[serde(default = "vision_num_hidden_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "vision_num_attention_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "num_channels")]
    pub num_channels: usize,
    #[serde(default = "vision_image_size")]
    pub image_size: usize,
    #[serde(default = "vision_patch_size")]
    pub patch_size: usize,
    #[serde(default = "vision_hidden_act")]
    pub hidden_act: Activation,
    #[serde(default = "vision_layer_norm_eps")]
    pub layer_norm_eps: f64,
}

impl VisionConfig {
    /// Patches along one side of the (square) encoder input: `image_size / patch_size`.
    pub fn num_patches_per_side(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Learned position embeddings: one per patch of a full `image_size` square.
    pub fn num_positions(&self) -> usize {
        self.num_patches_per_side() * self.num_patches_per_side()
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

// Defaults of `LlamaConfig`.
fn text_vocab_size() -> usize {
    32000
}
fn text_hidden_size() -> usize {
    4096
}
fn text_intermediate_size() -> usize {
    11008
}
fn text_num_hidden_layers() -> usize {
    32
}
fn text_num_attention_heads() -> usize {
    // llama.cpp notes that SmolVLM2 configs may omit it and falls back to this same default.
    32
}
fn text_hidden_act() -> Activation {
    Activation::Silu
}
fn text_max_position_embeddings() -> usize {
    2048
}
fn text_rms_norm_eps() -> f64 {
    1e-6
}

/// `eos_token_id` is an int or a list of ints in Hugging Face configs.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum TokenIds {
    One(u32),
    Many(Vec<u32>),
}

impl TokenIds {
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            Self::One(id) => vec![*id],
            Self::Many(ids) => ids.clone(),
        }
    }
}

/// `rope_parameters` (transformers 5) or the legacy `rope_scaling`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RopeParameters {
    pub rope_type: Option<String>,
    /// The pre-v5 spelling of `rope_type`.
    #[serde(rename = "type")]
    pub legacy_type: Option<String>,
    pub rope_theta: Option<f64>,
}

/// The Llama (SmolLM2) text decoder (`text_config`).
#[derive(Debug, Clone, Deserialize)]
pub struct TextConfig {
    /// Absent means `llama` (transformers fills it in the same way).
    pub model_type: Option<String>,
    #[serde(default = "text_vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "text_hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "text_intermediate_size")]
    pub intermediate_size: usize,
    #[serde(default = "text_num_hidden_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "text_num_attention_heads")]
    pub num_attention_heads: usize,
    /// `None` means as many as `num_attention_heads` (no grouping).
    pub num_key_value_heads: Option<usize>,
    /// `None` means `hidden_size / num_attention_heads`.
    pub head_dim: Option<usize>,
    #[serde(default = "text_hidden_act")]
    pub hidden_act: Activation,
    #[serde(default = "text_max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "text_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// The pre-v5 spelling; v5 moves it into `rope_parameters`.
    pub rope_theta: Option<f64>,
    pub rope_parameters: Option<RopeParameters>,
    /// The legacy name of `rope_parameters`.
    pub rope_scaling: Option<RopeParameters>,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    #[serde(default = "text_bos_token_id")]
    pub bos_token_id: Option<u32>,
    #[serde(default = "text_eos_token_id")]
    pub eos_token_id: Option<TokenIds>,
    pub pad_token_id: Option<u32>,
    /// Granite only (`GraniteConfig`; ignored for Llama, as transformers does): the
    /// embeddings, image features included, are multiplied by it before the first layer.
    pub embedding_multiplier: Option<f64>,
    /// Granite only: the attention score scale, in place of `1/sqrt(head_dim)`.
    pub attention_multiplier: Option<f64>,
    /// Granite only: each residual branch (attention, MLP) is scaled by it before the add.
    pub residual_multiplier: Option<f64>,
    /// Granite only: `GraniteForCausalLM` divides its logits by it, but SmolVLM's and
    /// Idefics3's own `lm_head` (granite-docling's) does not, so the model never applies it;
    /// it is kept to round-trip through GGUF (`{arch}.logit_scale`).
    pub logits_scaling: Option<f64>,
}

// `LlamaConfig` defaults; the eos id is what generation stops on when a checkpoint has no
// generation_config.json (transformers' `GenerationConfig.from_model_config`).
fn text_bos_token_id() -> Option<u32> {
    Some(1)
}
fn text_eos_token_id() -> Option<TokenIds> {
    Some(TokenIds::One(2))
}

impl TextConfig {
    pub fn num_key_value_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// True for a Granite decoder (`model_type: "granite"`), which reads the multipliers.
    pub fn is_granite(&self) -> bool {
        self.model_type.as_deref() == Some(MODEL_TYPE_GRANITE)
    }

    /// A Granite multiplier; 1.0 for Llama and where a Granite config leaves the key out
    /// (`GraniteConfig`'s defaults are all 1.0).
    fn granite(&self, value: Option<f64>) -> f64 {
        match value {
            Some(v) if self.is_granite() => v,
            _ => 1.0,
        }
    }

    /// What the embeddings are multiplied by (1.0 for Llama).
    pub fn embedding_multiplier(&self) -> f64 {
        self.granite(self.embedding_multiplier)
    }

    /// The attention score scale: `1/sqrt(head_dim)` for Llama, `attention_multiplier` for
    /// Granite (1.0 where its config leaves it out, as `GraniteConfig`).
    pub fn attention_scale(&self) -> f64 {
        if self.is_granite() {
            self.attention_multiplier.unwrap_or(1.0)
        } else {
            (self.head_dim() as f64).powf(-0.5)
        }
    }

    /// What each residual branch is multiplied by before it is added (1.0 for Llama).
    pub fn residual_multiplier(&self) -> f64 {
        self.granite(self.residual_multiplier)
    }

    /// `logits_scaling` (1.0 for Llama); see the field for why the model does not apply it.
    pub fn logits_scaling(&self) -> f64 {
        self.granite(self.logits_scaling)
    }

    /// The RoPE base, with transformers' priority: `rope_parameters.rope_theta`, then the
    /// legacy `rope_scaling.rope_theta`, then a top-level `rope_theta`, then 10000.
    pub fn rope_theta(&self) -> f64 {
        let params = self.rope_parameters.as_ref().or(self.rope_scaling.as_ref());
        params
            .and_then(|p| p.rope_theta)
            .or(self.rope_theta)
            .unwrap_or(10_000.0)
    }

    /// `default` unless the config asks for a scaled RoPE.
    pub fn rope_type(&self) -> String {
        let params = self.rope_parameters.as_ref().or(self.rope_scaling.as_ref());
        params
            .and_then(|p| p.rope_type.clone().or_else(|| p.legacy_type.clone()))
            .unwrap_or_else(|| "default".to_string())
    }

    /// The `text_config` transformers builds when a config has none: `LlamaConfig` with
    /// `rms_norm_eps=1e-5` (`sub_configs_defaults` of `SmolVLMConfig`).
    fn absent() -> Self {
        let mut cfg: Self = serde_json::from_str("{}").unwrap_or_else(|_| unreachable!());
        cfg.rms_norm_eps = 1e-5;
        cfg
    }
}

/// `text_config.model_type` of the plain Llama decoder (also what an absent one means).
pub const MODEL_TYPE_LLAMA: &str = "llama";
/// `text_config.model_type` of IBM's Granite decoder: Llama plus four multipliers.
pub const MODEL_TYPE_GRANITE: &str = "granite";

fn image_token_id() -> u32 {
    128257
}
fn scale_factor() -> usize {
    2
}

#[derive(Debug, Clone, Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    #[serde(default = "image_token_id")]
    image_token_id: u32,
    #[serde(default = "scale_factor")]
    scale_factor: usize,
    #[serde(default)]
    tie_word_embeddings: bool,
    vision_config: Option<VisionConfig>,
    text_config: Option<TextConfig>,
}

/// Which of the two (identical in structure) architectures the config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelType {
    SmolVlm,
    Idefics3,
}

/// A whole SmolVLM2 config: vision tower, connector and text decoder.
#[derive(Debug, Clone)]
pub struct Config {
    pub model_type: ModelType,
    /// The id of `<image>`: these tokens are replaced by image features, in order.
    pub image_token_id: u32,
    /// Pixel-shuffle factor of the connector (4 for 256M/500M, 3 for 2.2B).
    pub scale_factor: usize,
    /// When true and the weights have no `lm_head.weight`, the output projection reuses
    /// the token embeddings (transformers' `_tied_weights_keys`).
    pub tie_word_embeddings: bool,
    pub vision: VisionConfig,
    pub text: TextConfig,
}

impl Config {
    /// Parse `config.json` from its bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let raw: RawConfig = serde_json::from_slice(bytes).map_err(|source| Error::Json {
            file: CONFIG_FILE.into(),
            source,
        })?;
        let model_type = match raw.model_type.as_deref() {
            Some("smolvlm") => ModelType::SmolVlm,
            Some("idefics3") => ModelType::Idefics3,
            Some(other) => {
                return Err(invalid(
                    "model_type",
                    format!(
                        "`{other}` is not a SmolVLM checkpoint (expected `smolvlm` or `idefics3`)"
                    ),
                ))
            }
            None => return Err(invalid("model_type", "missing".into())),
        };
        let vision = match raw.vision_config {
            Some(v) => v,
            None => serde_json::from_str("{}").map_err(|source| Error::Json {
                file: CONFIG_FILE.into(),
                source,
            })?,
        };
        let cfg = Self {
            model_type,
            image_token_id: raw.image_token_id,
            scale_factor: raw.scale_factor,
            tie_word_embeddings: raw.tie_word_embeddings,
            vision,
            text: raw.text_config.unwrap_or_else(TextConfig::absent),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks that the numbers fit together, so that building the model cannot hit a
    /// division by zero or a reshape that does not divide.
    pub fn validate(&self) -> Result<()> {
        let v = &self.vision;
        let t = &self.text;
        let positive = [
            ("vision_config.hidden_size", v.hidden_size),
            ("vision_config.intermediate_size", v.intermediate_size),
            ("vision_config.num_attention_heads", v.num_attention_heads),
            ("vision_config.num_channels", v.num_channels),
            ("vision_config.patch_size", v.patch_size),
            ("vision_config.num_hidden_layers", v.num_hidden_layers),
            ("text_config.num_hidden_layers", t.num_hidden_layers),
            ("vision_config.image_size", v.image_size),
            ("scale_factor", self.scale_factor),
            ("text_config.vocab_size", t.vocab_size),
            ("text_config.hidden_size", t.hidden_size),
            ("text_config.intermediate_size", t.intermediate_size),
            ("text_config.num_attention_heads", t.num_attention_heads),
            ("text_config.num_key_value_heads", t.num_key_value_heads()),
            ("text_config.head_dim", t.head_dim()),
            (
                "text_config.max_position_embeddings",
                t.max_position_embeddings,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(invalid(key, "must be positive".into()));
            }
        }
        let positive_finite = [
            ("vision_config.layer_norm_eps", v.layer_norm_eps),
            ("text_config.rms_norm_eps", t.rms_norm_eps),
            ("text_config.rope_theta", t.rope_theta()),
            ("text_config.embedding_multiplier", t.embedding_multiplier()),
            ("text_config.attention_multiplier", t.attention_scale()),
            ("text_config.residual_multiplier", t.residual_multiplier()),
            ("text_config.logits_scaling", t.logits_scaling()),
        ];
        for (key, value) in positive_finite {
            if !(value.is_finite() && value > 0.0) {
                return Err(invalid(
                    key,
                    format!("{value} must be a finite positive number"),
                ));
            }
        }
        if v.hidden_size % v.num_attention_heads != 0 {
            return Err(invalid(
                "vision_config.num_attention_heads",
                format!(
                    "{} does not divide hidden_size {}",
                    v.num_attention_heads, v.hidden_size
                ),
            ));
        }
        if v.num_patches_per_side() == 0 {
            return Err(invalid(
                "vision_config.patch_size",
                format!(
                    "{} is larger than image_size {}",
                    v.patch_size, v.image_size
                ),
            ));
        }
        if v.num_patches_per_side() % self.scale_factor != 0 {
            return Err(invalid(
                "scale_factor",
                format!(
                    "{} does not divide the {} patches per side",
                    self.scale_factor,
                    v.num_patches_per_side()
                ),
            ));
        }
        if t.num_attention_heads % t.num_key_value_heads() != 0 {
            return Err(invalid(
                "text_config.num_key_value_heads",
                format!(
                    "{} does not divide num_attention_heads {}",
                    t.num_key_value_heads(),
                    t.num_attention_heads
                ),
            ));
        }
        if t.head_dim() % 2 != 0 {
            return Err(invalid(
                "text_config.head_dim",
                format!(
                    "{} is odd; rotary embeddings need an even head size",
                    t.head_dim()
                ),
            ));
        }
        let model_type = t.model_type.as_deref().unwrap_or(MODEL_TYPE_LLAMA);
        if model_type != MODEL_TYPE_LLAMA && model_type != MODEL_TYPE_GRANITE {
            return Err(Error::Unsupported(format!(
                "{CONFIG_FILE}: text_config.model_type `{model_type}` (only `llama` and `granite` are implemented)"
            )));
        }
        let rope_type = t.rope_type();
        if rope_type != "default" {
            return Err(Error::Unsupported(format!(
                "{CONFIG_FILE}: text_config rope type `{rope_type}` (only `default` is implemented)"
            )));
        }
        if (self.image_token_id as usize) >= t.vocab_size {
            return Err(invalid(
                "image_token_id",
                format!(
                    "{} is outside the vocabulary of {}",
                    self.image_token_id, t.vocab_size
                ),
            ));
        }
        Ok(())
    }

    /// Image features per encoder image after the pixel shuffle:
    /// `(image_size / patch_size)^2 / scale_factor^2` (64 for SmolVLM2-256M/500M).
    pub fn image_seq_len(&self) -> usize {
        self.vision.num_positions() / (self.scale_factor * self.scale_factor)
    }

    /// The longest sequence (prompt plus generated tokens) the text model takes.
    pub fn max_context(&self) -> usize {
        self.text.max_position_embeddings
    }

    /// The dimensions of a released model, for benchmarks with random weights.
    pub fn preset(size: ModelSize) -> Self {
        let json = match size {
            ModelSize::Smolvlm2_256m => PRESET_256M,
            ModelSize::Smolvlm2_500m => PRESET_500M,
            ModelSize::GraniteDocling258m => PRESET_GRANITE_DOCLING_258M,
        };
        match Self::from_json(json.as_bytes()) {
            Ok(cfg) => cfg,
            // The presets are constants of this file, checked by a unit test.
            Err(e) => unreachable!("preset config does not parse: {e}"),
        }
    }
}

fn invalid(key: &str, msg: String) -> Error {
    Error::InvalidConfig {
        file: CONFIG_FILE.into(),
        key: key.into(),
        msg,
    }
}

/// The released SmolVLM2 sizes whose dimensions we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSize {
    /// HuggingFaceTB/SmolVLM2-256M-Video-Instruct.
    Smolvlm2_256m,
    /// HuggingFaceTB/SmolVLM2-500M-Video-Instruct.
    Smolvlm2_500m,
    /// ibm-granite/granite-docling-258M (the document-conversion model).
    GraniteDocling258m,
}

impl ModelSize {
    /// The sizes by the names the CLI's `--size` and `/bench`'s `size=` take.
    pub const NAMES: &[(&str, ModelSize)] = &[
        ("256m", ModelSize::Smolvlm2_256m),
        ("500m", ModelSize::Smolvlm2_500m),
        ("granite-docling-258m", ModelSize::GraniteDocling258m),
    ];

    /// The size named `name` (case-insensitive), one of [`Self::NAMES`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .map(|(_, s)| *s)
    }

    /// `256m, 500m or granite-docling-258m`, for error messages.
    pub fn choices() -> String {
        let names: Vec<&str> = Self::NAMES.iter().map(|(n, _)| *n).collect();
        let (last, rest) = names.split_last().expect("sizes exist");
        format!("{} or {last}", rest.join(", "))
    }
}

/// SmolVLM2-256M: SigLIP-B/16 at 512 px (hidden 768, 12 heads; depth and MLP width left
/// to the defaults, as the released config does) and SmolLM2-135M (hidden 576, 30 layers,
/// 9 heads, 3 KV heads, MLP 1536, RoPE base 1e5, untied head) with the SmolVLM vocabulary
/// of 49280 and an 8192 context; pixel shuffle 4 gives 64 tokens per image. Sources: the
/// SmolVLM paper (arXiv 2504.05299: SigLIP-B/16 + SmolLM2-135M), SmolLM2-135M's public
/// config.json, and ggml-org's Q8_0 text GGUF of this model, whose 175,056,352 bytes match
/// these dimensions (163M weights at 34 bytes per 32, plus norms and vocabulary).
const PRESET_256M: &str = r#"{
  "model_type": "smolvlm", "image_token_id": 49190, "scale_factor": 4, "tie_word_embeddings": false,
  "text_config": {
    "model_type": "llama", "vocab_size": 49280, "hidden_size": 576, "intermediate_size": 1536,
    "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
    "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 100000
  },
  "vision_config": {"hidden_size": 768, "image_size": 512, "num_attention_heads": 12, "patch_size": 16}
}"#;

/// SmolVLM2-500M: the same vision tower, SmolLM2-360M (hidden 960, 32 layers, 15 heads,
/// 5 KV heads, MLP 2560). Source: the released config.json, as copied verbatim in public
/// repositories (offline caches of HuggingFaceTB/SmolVLM2-500M-Video-Instruct).
const PRESET_500M: &str = r#"{
  "model_type": "smolvlm", "image_token_id": 49190, "scale_factor": 4, "tie_word_embeddings": false,
  "text_config": {
    "model_type": "llama", "vocab_size": 49280, "hidden_size": 960, "intermediate_size": 2560,
    "num_hidden_layers": 32, "num_attention_heads": 15, "num_key_value_heads": 5, "head_dim": 64,
    "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 100000
  },
  "vision_config": {"hidden_size": 768, "image_size": 512, "num_attention_heads": 12, "patch_size": 16}
}"#;

/// granite-docling-258M: the 256M's shapes (SigLIP2-B/16 at 512 px, a 576-wide 30-layer
/// Llama decoder) with Granite's vocabulary of 100,352 tied to the embeddings. Source: the
/// model's config.json (a public copy of ibm-granite/granite-docling-258M, and the
/// `real-configs/granite-docling-258M` test fixture).
const PRESET_GRANITE_DOCLING_258M: &str = r#"{
  "model_type": "idefics3", "image_token_id": 100270, "scale_factor": 4, "tie_word_embeddings": true,
  "text_config": {
    "model_type": "llama", "vocab_size": 100352, "hidden_size": 576, "intermediate_size": 1536,
    "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
    "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 100000,
    "tie_word_embeddings": true
  },
  "vision_config": {"hidden_size": 768, "image_size": 512, "num_attention_heads": 12, "patch_size": 16,
    "intermediate_size": 3072, "num_hidden_layers": 12}
}"#;

/// The parts of `generation_config.json` that decoding uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GenerationConfig {
    pub eos_token_id: Option<TokenIds>,
    pub bos_token_id: Option<u32>,
    pub pad_token_id: Option<u32>,
}

impl GenerationConfig {
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|source| Error::Json {
            file: GENERATION_CONFIG_FILE.into(),
            source,
        })
    }

    /// The ids that end generation: `generation_config.json`'s `eos_token_id`, or the text
    /// config's when the file has none (transformers' `GenerationConfig.from_model_config`).
    pub fn eos_token_ids(&self, config: &Config) -> Vec<u32> {
        self.eos_token_id
            .as_ref()
            .or(config.text.eos_token_id.as_ref())
            .map(TokenIds::to_vec)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_text(text: &str) -> Result<Config> {
        Config::from_json(
            format!(
                r#"{{"model_type": "idefics3", "image_token_id": 5,
                "vision_config": {{"hidden_size": 32, "num_attention_heads": 2, "image_size": 32, "patch_size": 4}},
                "text_config": {{"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
                  "num_hidden_layers": 1, "num_attention_heads": 4 {text}}}}}"#
            )
            .as_bytes(),
        )
    }

    #[test]
    fn granite_reads_its_multipliers_and_llama_keeps_neutral_ones() {
        let c = with_text(
            r#", "model_type": "granite", "embedding_multiplier": 12.0, "attention_multiplier": 0.0156,
               "residual_multiplier": 0.22, "logits_scaling": 8.0"#,
        )
        .unwrap();
        let t = &c.text;
        assert!(t.is_granite());
        assert_eq!(t.embedding_multiplier(), 12.0);
        assert_eq!(t.attention_scale(), 0.0156);
        assert_eq!(t.residual_multiplier(), 0.22);
        assert_eq!(t.logits_scaling(), 8.0);
        // GraniteConfig's defaults are all 1.0, the attention scale included.
        let t = with_text(r#", "model_type": "granite""#).unwrap().text;
        assert_eq!((t.embedding_multiplier(), t.attention_scale()), (1.0, 1.0));
        assert_eq!((t.residual_multiplier(), t.logits_scaling()), (1.0, 1.0));
        // LlamaModel has no multipliers: the keys are ignored, as transformers does.
        let t = with_text(r#", "model_type": "llama", "embedding_multiplier": 12.0"#)
            .unwrap()
            .text;
        assert_eq!(t.embedding_multiplier(), 1.0);
        assert_eq!(t.attention_scale(), 8f64.powf(-0.5));
    }

    #[test]
    fn a_granite_multiplier_that_is_not_positive_is_an_error_naming_the_key() {
        for key in [
            "embedding_multiplier",
            "attention_multiplier",
            "residual_multiplier",
            "logits_scaling",
        ] {
            for bad in ["0", "-0.5"] {
                let err = with_text(&format!(r#", "model_type": "granite", "{key}": {bad}"#))
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains(&format!("text_config.{key}"))
                        && err.contains("must be a finite positive number"),
                    "{key} = {bad}: {err}"
                );
            }
        }
        let err = with_text(r#", "model_type": "granite", "residual_multiplier": "x""#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.json"), "{err}");
    }

    #[test]
    fn another_text_model_type_is_unsupported() {
        let err = with_text(r#", "model_type": "mistral""#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`mistral`") && err.contains("`granite`"),
            "{err}"
        );
    }

    #[test]
    fn presets_parse_and_fill_defaults() {
        let c = Config::preset(ModelSize::Smolvlm2_256m);
        assert_eq!(c.vision.num_hidden_layers, 12);
        assert_eq!(c.vision.intermediate_size, 3072);
        assert_eq!(c.vision.layer_norm_eps, 1e-6);
        assert_eq!(c.vision.hidden_act, Activation::GeluPytorchTanh);
        assert_eq!(c.text.hidden_act, Activation::Silu);
        assert_eq!(c.image_seq_len(), 64);
        assert_eq!(c.text.rope_theta(), 100000.0);
        let d = Config::preset(ModelSize::GraniteDocling258m);
        assert_eq!((d.text.vocab_size, d.tie_word_embeddings), (100352, true));
        assert_eq!(d.image_seq_len(), c.image_seq_len());
        assert_eq!(
            ModelSize::parse("Granite-Docling-258M"),
            Some(ModelSize::GraniteDocling258m)
        );
        assert_eq!(ModelSize::choices(), "256m, 500m or granite-docling-258m");
        let c = Config::preset(ModelSize::Smolvlm2_500m);
        assert_eq!(c.text.num_key_value_heads(), 5);
        assert_eq!(c.text.head_dim(), 64);
        // Not in the config: LlamaConfig's default, which generation falls back to.
        assert_eq!(
            GenerationConfig::default().eos_token_ids(&c),
            vec![2],
            "eos falls back to the text config"
        );
    }
}
