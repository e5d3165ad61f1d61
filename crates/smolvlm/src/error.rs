//! The crate's error type: every failure names the file, tensor or key that was wrong.

/// Errors of the smolvlm crate. Bad input (a file, a prompt, an image) always ends here,
/// never in a panic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A JSON file (config.json, generation_config.json, ...) did not parse.
    #[error("{file}: {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },

    /// A config value parsed but makes no sense (zero heads, a size that does not divide, ...).
    #[error("{file}: key `{key}`: {msg}")]
    InvalidConfig {
        file: String,
        key: String,
        msg: String,
    },

    /// The model asks for something this crate does not implement (a rope type, an activation).
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// A weights file is truncated, corrupt or otherwise unreadable.
    #[error("{file}: cannot read weights: {msg}")]
    BadWeights { file: String, msg: String },

    /// A GGUF file is unreadable, of the wrong kind or architecture, or its metadata is
    /// missing or inconsistent (see `gguf/`).
    #[error("{file}: {msg}")]
    Gguf { file: String, msg: String },

    /// A tensor the model needs is not in the weights.
    #[error("{file}: missing tensor `{name}`")]
    MissingTensor { file: String, name: String },

    /// A tensor is present but has the wrong shape for the config.
    #[error("{file}: tensor `{name}` has shape {got:?}, the config expects {expected:?}")]
    TensorShape {
        file: String,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },

    /// A tensor is stored in a type this crate cannot compute with.
    #[error("{file}: tensor `{name}` has unsupported dtype {dtype}")]
    TensorDtype {
        file: String,
        name: String,
        dtype: String,
    },

    /// The prompt (plus the tokens asked for) does not fit the model's context.
    #[error(
        "prompt of {prompt_tokens} tokens plus {max_new_tokens} new tokens exceeds the model's \
         context of {max_context} tokens{hint}"
    )]
    ContextOverflow {
        prompt_tokens: usize,
        max_new_tokens: usize,
        max_context: usize,
        hint: &'static str,
    },

    /// The model's numbers broke: the logits hold NaN or +infinity (weights or a config
    /// that make no sense), so no token can be chosen.
    #[error("the model's numbers broke: {0}")]
    BrokenNumbers(String),

    /// A token id outside the vocabulary.
    #[error("token id {id} is outside the vocabulary of {vocab_size} tokens")]
    TokenOutOfRange { id: u32, vocab_size: usize },

    /// The number of `<image>` tokens in the prompt does not match the image features.
    #[error(
        "the prompt has {image_tokens} image tokens but the images give {image_features} \
         feature vectors ({images} images x {per_image} each)"
    )]
    ImageTokenMismatch {
        image_tokens: usize,
        image_features: usize,
        images: usize,
        per_image: usize,
    },

    /// Any other bad argument (shapes of pixel values, an empty prompt, sampling values).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// An image could not be decoded or is unusable (preprocessing).
    #[error("image: {0}")]
    Image(String),

    /// The tokenizer could not be loaded or failed on the text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// A weight's size does not fit its shape and type, or a matmul's operands do not
    /// fit together (see `kernels`).
    #[error("kernel: {0}")]
    Kernel(#[from] crate::kernels::KernelError),

    /// An error inside candle's tensor code (a bug of ours, or out of memory).
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
