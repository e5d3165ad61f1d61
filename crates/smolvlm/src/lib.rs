//! SmolVLM2 on candle: the vision tower, the connector, the Llama text decoder and
//! generation, loaded from bytes. The same code runs natively and in wasm32: no file
//! system, no threads and no clocks are needed here.
//!
//! Reference: transformers `models/smolvlm/` (see each module's header).

pub mod bench;
pub mod bundle;
pub mod config;
pub mod connector;
pub mod error;
pub mod generation;
pub mod gguf;
pub mod kernels;
pub mod model;
pub mod processor;
pub mod prompt;
pub mod text;
pub mod tokenizer;
pub mod vision;
pub mod weight_type;
pub mod weights;

pub use config::{Config, GenerationConfig, ModelSize};
pub use error::{Error, Result};
pub use generation::{
    generate, Decoding, Generated, GenerationParams, Session, StopReason, TurnState,
};
pub use model::SmolVlm;
pub use weights::{QEmbedding, QLinear, SafetensorsSource, Weight, WeightSource, Weights};
