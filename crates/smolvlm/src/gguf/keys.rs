//! GGUF metadata keys (and the few values that name architectures), written once here
//! and used by the reader (`config.rs`, `file.rs`, `tokenizer.rs`, `format.rs`) and the
//! writer (`quantize.rs`). Names as gguf-py's `constants.py` (`Keys`) spells them.

// `general.*`.
pub const GENERAL_ARCHITECTURE: &str = "general.architecture";
pub const GENERAL_TYPE: &str = "general.type";
pub const GENERAL_NAME: &str = "general.name";
pub const GENERAL_SIZE_LABEL: &str = "general.size_label";
pub const GENERAL_FILE_TYPE: &str = "general.file_type";
pub const GENERAL_QUANTIZATION_VERSION: &str = "general.quantization_version";
pub const GENERAL_ALIGNMENT: &str = "general.alignment";

/// `general.architecture` of the text GGUF; its decoder keys are `llama.*` ([`text_key`]).
pub const ARCH_TEXT: &str = "llama";
/// `general.architecture` of a Granite text GGUF (llama.cpp's `GraniteModel` converter):
/// Llama's keys under `granite.*`, plus the four [`llm`] scales.
pub const ARCH_GRANITE: &str = "granite";
/// `general.architecture` of the mmproj GGUF; its keys are `clip.*`.
pub const ARCH_MMPROJ: &str = "clip";
/// `clip.projector_type` of SmolVLM's mmproj.
pub const PROJECTOR_IDEFICS3: &str = "idefics3";

/// The text decoder's key `{arch}.{key}`, for a `key` of [`llm`] and `arch`
/// [`ARCH_TEXT`] or [`ARCH_GRANITE`].
pub fn text_key(arch: &str, key: &str) -> String {
    format!("{arch}.{key}")
}

/// The per-architecture keys of a decoder, without the architecture (see [`text_key`]).
pub mod llm {
    pub const VOCAB_SIZE: &str = "vocab_size";
    pub const CONTEXT_LENGTH: &str = "context_length";
    pub const EMBEDDING_LENGTH: &str = "embedding_length";
    pub const BLOCK_COUNT: &str = "block_count";
    pub const FEED_FORWARD_LENGTH: &str = "feed_forward_length";
    pub const HEAD_COUNT: &str = "attention.head_count";
    pub const HEAD_COUNT_KV: &str = "attention.head_count_kv";
    pub const KEY_LENGTH: &str = "attention.key_length";
    pub const VALUE_LENGTH: &str = "attention.value_length";
    pub const LAYER_NORM_RMS_EPSILON: &str = "attention.layer_norm_rms_epsilon";
    pub const ROPE_DIMENSION_COUNT: &str = "rope.dimension_count";
    pub const ROPE_FREQ_BASE: &str = "rope.freq_base";
    pub const ROPE_SCALING_TYPE: &str = "rope.scaling.type";
    /// Granite's `embedding_multiplier`.
    pub const EMBEDDING_SCALE: &str = "embedding_scale";
    /// Granite's `residual_multiplier`.
    pub const RESIDUAL_SCALE: &str = "residual_scale";
    /// Granite's `attention_multiplier` (llama.cpp: absent or 0 means `1/sqrt(head_dim)`).
    pub const ATTENTION_SCALE: &str = "attention.scale";
    /// Granite's `logits_scaling`.
    pub const LOGIT_SCALE: &str = "logit_scale";
}

// `tokenizer.*`.
pub const TOKENIZER_MODEL: &str = "tokenizer.ggml.model";
pub const TOKENIZER_PRE: &str = "tokenizer.ggml.pre";
pub const TOKENIZER_TOKENS: &str = "tokenizer.ggml.tokens";
pub const TOKENIZER_TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
pub const TOKENIZER_MERGES: &str = "tokenizer.ggml.merges";
pub const TOKENIZER_BOS_ID: &str = "tokenizer.ggml.bos_token_id";
pub const TOKENIZER_EOS_ID: &str = "tokenizer.ggml.eos_token_id";
pub const TOKENIZER_UNK_ID: &str = "tokenizer.ggml.unknown_token_id";
/// Sic: gguf-py's spelling.
pub const TOKENIZER_SEP_ID: &str = "tokenizer.ggml.seperator_token_id";
pub const TOKENIZER_PAD_ID: &str = "tokenizer.ggml.padding_token_id";
pub const TOKENIZER_CLS_ID: &str = "tokenizer.ggml.cls_token_id";
pub const TOKENIZER_MASK_ID: &str = "tokenizer.ggml.mask_token_id";
pub const TOKENIZER_ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
pub const TOKENIZER_ADD_EOS: &str = "tokenizer.ggml.add_eos_token";
pub const TOKENIZER_ADD_SEP: &str = "tokenizer.ggml.add_sep_token";
pub const TOKENIZER_ADD_SPACE_PREFIX: &str = "tokenizer.ggml.add_space_prefix";
pub const TOKENIZER_CHAT_TEMPLATE: &str = "tokenizer.chat_template";
/// `tokenizer.ggml.model` of byte-level BPE (the only model we read and write).
pub const TOKENIZER_MODEL_GPT2: &str = "gpt2";
/// `tokenizer.ggml.pre` of SmolLM2's pre-tokenizer (digits split, then byte-level).
pub const TOKENIZER_PRE_SMOLLM: &str = "smollm";
/// `tokenizer.ggml.pre` of granite-docling's tokenizer: GPT-2's regex, then byte-level
/// (llama.cpp's `LLAMA_VOCAB_PRE_TYPE_GRANITE_DOCLING`).
pub const TOKENIZER_PRE_GRANITE_DOCLING: &str = "granite-docling";

// `clip.*` (the mmproj).
pub const CLIP_HAS_VISION_ENCODER: &str = "clip.has_vision_encoder";
pub const CLIP_PROJECTOR_TYPE: &str = "clip.projector_type";
pub const CLIP_USE_GELU: &str = "clip.use_gelu";
pub const CLIP_USE_SILU: &str = "clip.use_silu";
pub const CLIP_PROJECTION_DIM: &str = "clip.vision.projection_dim";
pub const CLIP_IMAGE_SIZE: &str = "clip.vision.image_size";
pub const CLIP_PREPROC_IMAGE_SIZE: &str = "clip.vision.preproc_image_size";
pub const CLIP_PATCH_SIZE: &str = "clip.vision.patch_size";
pub const CLIP_EMBEDDING_LENGTH: &str = "clip.vision.embedding_length";
pub const CLIP_FEED_FORWARD_LENGTH: &str = "clip.vision.feed_forward_length";
pub const CLIP_BLOCK_COUNT: &str = "clip.vision.block_count";
pub const CLIP_HEAD_COUNT: &str = "clip.vision.attention.head_count";
pub const CLIP_LAYER_NORM_EPSILON: &str = "clip.vision.attention.layer_norm_epsilon";
pub const CLIP_IMAGE_MEAN: &str = "clip.vision.image_mean";
pub const CLIP_IMAGE_STD: &str = "clip.vision.image_std";
pub const CLIP_SCALE_FACTOR: &str = "clip.vision.projector.scale_factor";
