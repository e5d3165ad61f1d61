//! The model config, image settings and generation ids of a GGUF pair, read from the
//! metadata that llama.cpp's converter writes (`LlamaModel.set_gguf_parameters`,
//! `MmprojModel.set_gguf_parameters`, `SmolVLMModel.set_gguf_parameters`) and that
//! llama.cpp's `tools/mtmd/clip.cpp` reads back for `PROJECTOR_TYPE_IDEFICS3`.

use candle_nn::Activation;

use super::file::GgufFile;
use super::keys;
use crate::config::{
    Config, ModelType, TextConfig, TokenIds, VisionConfig, MODEL_TYPE_GRANITE, MODEL_TYPE_LLAMA,
};
use crate::error::{Error, Result};
use crate::processor::ImageProcessorConfig;
use crate::GenerationConfig;

/// The text decoder's config from `llama.*` (or `granite.*`) metadata.
fn text_config(text: &GgufFile) -> Result<TextConfig> {
    let arch = text.architecture()?.to_string();
    let granite = arch == keys::ARCH_GRANITE;
    let k = |key: &str| keys::text_key(&arch, key);
    let heads = text.size(&k(keys::llm::HEAD_COUNT))?;
    let kv_heads = text
        .size_opt(&k(keys::llm::HEAD_COUNT_KV))?
        .unwrap_or(heads);
    let hidden = text.size(&k(keys::llm::EMBEDDING_LENGTH))?;
    let key_length = text.size_opt(&k(keys::llm::KEY_LENGTH))?;
    let value_length = text.size_opt(&k(keys::llm::VALUE_LENGTH))?;
    let head_dim = key_length.unwrap_or(hidden / heads);
    if value_length.is_some_and(|v| v != head_dim) {
        return Err(text.gguf_error(format!(
            "`{}` ({value_length:?}) differs from the key length {head_dim}: not a Llama layout",
            k(keys::llm::VALUE_LENGTH)
        )));
    }
    if let Some(rope_dim) = text.size_opt(&k(keys::llm::ROPE_DIMENSION_COUNT))? {
        if rope_dim != head_dim {
            return Err(Error::Unsupported(format!(
                "{}: partial rotary embeddings ({rope_dim} of {head_dim} head dimensions)",
                text.label()
            )));
        }
    }
    if let Some(scaling) = text.str_opt(&k(keys::llm::ROPE_SCALING_TYPE))? {
        if scaling != "none" {
            return Err(Error::Unsupported(format!(
                "{}: RoPE scaling `{scaling}` (only unscaled RoPE is implemented)",
                text.label()
            )));
        }
    }
    let tokens = text.strings(keys::TOKENIZER_TOKENS)?.len();
    let vocab_size = text.size_opt(&k(keys::llm::VOCAB_SIZE))?.unwrap_or(tokens);
    let eos = text.u32_opt(keys::TOKENIZER_EOS_ID)?;
    let scale = |key: &str| -> Result<Option<f64>> {
        Ok(if granite {
            text.f32_opt(&k(key))?.map(f64::from)
        } else {
            None
        })
    };
    // llama.cpp's Granite graph takes an absent or zero attention scale as 1/sqrt(head_dim).
    let attention_multiplier = match scale(keys::llm::ATTENTION_SCALE)? {
        Some(s) if s != 0.0 => Some(s),
        _ => Some((head_dim as f64).powf(-0.5)),
    };
    Ok(TextConfig {
        model_type: Some(
            if granite {
                MODEL_TYPE_GRANITE
            } else {
                MODEL_TYPE_LLAMA
            }
            .into(),
        ),
        vocab_size,
        hidden_size: hidden,
        intermediate_size: text.size(&k(keys::llm::FEED_FORWARD_LENGTH))?,
        num_hidden_layers: text.size(&k(keys::llm::BLOCK_COUNT))?,
        num_attention_heads: heads,
        num_key_value_heads: Some(kv_heads),
        head_dim: Some(head_dim),
        // llama.cpp's Llama is SwiGLU with SiLU; GGUF has no key for it.
        hidden_act: Activation::Silu,
        max_position_embeddings: text.size(&k(keys::llm::CONTEXT_LENGTH))?,
        rms_norm_eps: text.f32(&k(keys::llm::LAYER_NORM_RMS_EPSILON))? as f64,
        // llama.cpp's default base when the key is absent (llama-model.cpp), as Llama's.
        rope_theta: Some(
            text.f32_opt(&k(keys::llm::ROPE_FREQ_BASE))?
                .unwrap_or(10_000.0) as f64,
        ),
        rope_parameters: None,
        rope_scaling: None,
        attention_bias: text.has_tensor("blk.0.attn_q.bias"),
        mlp_bias: text.has_tensor("blk.0.ffn_up.bias"),
        bos_token_id: text.u32_opt(keys::TOKENIZER_BOS_ID)?,
        eos_token_id: eos.map(TokenIds::One),
        pad_token_id: text.u32_opt(keys::TOKENIZER_PAD_ID)?,
        embedding_multiplier: scale(keys::llm::EMBEDDING_SCALE)?,
        attention_multiplier: attention_multiplier.filter(|_| granite),
        residual_multiplier: scale(keys::llm::RESIDUAL_SCALE)?,
        logits_scaling: scale(keys::llm::LOGIT_SCALE)?,
    })
}

/// The vision tower's config from `clip.vision.*` metadata.
fn vision_config(mmproj: &GgufFile) -> Result<VisionConfig> {
    let use_gelu = mmproj.bool_opt(keys::CLIP_USE_GELU)?.unwrap_or(false);
    let use_silu = mmproj.bool_opt(keys::CLIP_USE_SILU)?.unwrap_or(false);
    // clip.cpp: gelu is ggml's tanh approximation (transformers' gelu_pytorch_tanh, what
    // SigLIP uses); neither key means quick-gelu, which SmolVLM does not use.
    let hidden_act = match (use_gelu, use_silu) {
        (true, true) => {
            return Err(mmproj.gguf_error("both `clip.use_gelu` and `clip.use_silu` are set".into()))
        }
        (true, false) => Activation::GeluPytorchTanh,
        (false, true) => Activation::Silu,
        (false, false) => {
            return Err(Error::Unsupported(format!(
                "{}: the vision MLP's quick-gelu (neither `clip.use_gelu` nor `clip.use_silu`)",
                mmproj.label()
            )))
        }
    };
    Ok(VisionConfig {
        hidden_size: mmproj.size(keys::CLIP_EMBEDDING_LENGTH)?,
        intermediate_size: mmproj.size(keys::CLIP_FEED_FORWARD_LENGTH)?,
        num_hidden_layers: mmproj.size(keys::CLIP_BLOCK_COUNT)?,
        num_attention_heads: mmproj.size(keys::CLIP_HEAD_COUNT)?,
        num_channels: 3,
        image_size: mmproj.size(keys::CLIP_IMAGE_SIZE)?,
        patch_size: mmproj.size(keys::CLIP_PATCH_SIZE)?,
        hidden_act,
        layer_norm_eps: mmproj.f32(keys::CLIP_LAYER_NORM_EPSILON)? as f64,
    })
}

/// The whole model config of a pair. `image_token_id` comes from the tokenizer (GGUF has
/// no key for it: llama.cpp's mtmd splices image embeddings by position instead).
pub fn model_config(text: &GgufFile, mmproj: &GgufFile, image_token_id: u32) -> Result<Config> {
    // The converter leaves `output.weight` out when the checkpoint ties it to the
    // embeddings (llama.cpp then reuses `token_embd.weight`).
    let tied = !text.has_tensor("output.weight");
    let text_cfg = text_config(text)?;
    let vision = vision_config(mmproj)?;
    // `SmolVLMModel.set_gguf_parameters` writes it; 2 is the converter's and
    // transformers' Idefics3 default when a config leaves it out.
    let scale_factor = mmproj.size_opt(keys::CLIP_SCALE_FACTOR)?.unwrap_or(2);
    if let Some(dim) = mmproj.size_opt(keys::CLIP_PROJECTION_DIM)? {
        if dim != text_cfg.hidden_size {
            return Err(mmproj.gguf_error(format!(
                "the mmproj projects to width {dim}, but the text model `{}` has width {}: \
                 these two files are not a pair",
                text.label(),
                text_cfg.hidden_size
            )));
        }
    }
    let config = Config {
        model_type: ModelType::SmolVlm,
        image_token_id,
        scale_factor,
        tie_word_embeddings: tied,
        vision,
        text: text_cfg,
    };
    config.validate().map_err(|e| match e {
        Error::InvalidConfig { key, msg, .. } => Error::Gguf {
            file: format!("{} + {}", text.label(), mmproj.label()),
            msg: format!("inconsistent metadata ({key}: {msg})"),
        },
        other => other,
    })?;
    Ok(config)
}

/// Image settings from the mmproj: the encoder size, the longest-edge resize and the
/// normalization. What GGUF has no key for keeps `SmolVLMImageProcessor`'s values, which
/// are also the released SmolVLM2 checkpoints' (splitting on, LANCZOS, rescale 1/255,
/// RGB conversion, padding).
pub fn image_processor_config(mmproj: &GgufFile) -> Result<ImageProcessorConfig> {
    let image_size = mmproj.size(keys::CLIP_IMAGE_SIZE)?;
    let image_size = u32::try_from(image_size)
        .map_err(|_| mmproj.gguf_error("`clip.vision.image_size` is too large".into()))?;
    // `preproc_image_size` is the preprocessor's `size.longest_edge`; older converters did
    // not write it. Every SmolVLM2/Idefics3 checkpoint resizes to 4 tiles' width first
    // (256M/500M: 2048 for 512 tiles, 2.2B: 1536 for 384, Idefics3: 1456 for 364).
    let longest_edge = mmproj
        .u32_opt(keys::CLIP_PREPROC_IMAGE_SIZE)?
        .unwrap_or(4 * image_size);
    if longest_edge == 0 {
        return Err(mmproj.gguf_error("`clip.vision.preproc_image_size` is 0".into()));
    }
    let channels = |key: &str| -> Result<Option<[f32; 3]>> {
        match mmproj.f32s_opt(key)? {
            None => Ok(None),
            Some(v) if v.len() == 3 => Ok(Some([v[0], v[1], v[2]])),
            Some(v) => {
                Err(mmproj.gguf_error(format!("`{key}` has {} values, expected 3 (RGB)", v.len())))
            }
        }
    };
    let defaults = ImageProcessorConfig::default();
    let image_std = channels(keys::CLIP_IMAGE_STD)?.unwrap_or(defaults.image_std);
    if image_std.contains(&0.0) {
        return Err(mmproj.gguf_error("`clip.vision.image_std` has a 0: division by zero".into()));
    }
    Ok(ImageProcessorConfig {
        longest_edge,
        max_image_longest_edge: image_size,
        image_mean: channels(keys::CLIP_IMAGE_MEAN)?.unwrap_or(defaults.image_mean),
        image_std,
        ..defaults
    })
}

/// The ids that stop generation: `tokenizer.ggml.eos_token_id`.
pub fn generation_config(text: &GgufFile) -> Result<GenerationConfig> {
    Ok(GenerationConfig {
        eos_token_id: text.u32_opt(keys::TOKENIZER_EOS_ID)?.map(TokenIds::One),
        bos_token_id: text.u32_opt(keys::TOKENIZER_BOS_ID)?,
        pad_token_id: text.u32_opt(keys::TOKENIZER_PAD_ID)?,
    })
}
