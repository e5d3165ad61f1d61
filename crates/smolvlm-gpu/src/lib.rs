//! WGSL kernels for SmolVLM2, run through `wgpu`: Vulkan, Metal or DX12 natively, WebGPU in
//! the browser (wasm32 with wgpu's `webgpu` backend). The same kernels are tested natively
//! against CPU references (`tests/`), on lavapipe where there is no GPU.
//!
//! - [`Gpu`]: adapter choice ([`AdapterChoice::Auto`] never takes a software adapter),
//!   the device with the adapter's own limits, cached pipelines and bind groups, pooled
//!   buffers, and wgpu errors / device loss surfaced as [`Error`]s so callers can fall back
//!   to the CPU.
//! - [`Weight`]: a matrix uploaded once in its GGUF block layout (F32, F16, Q8_0, Q4_0,
//!   Q5_0, Q4_K, Q6_K), split into row chunks where it exceeds one binding.
//! - [`Recorder`]: kernels recorded into one command encoder and one submit; a greedy
//!   decode step ends in [`Recorder::submit_read_u32`], which reads back only the token id.
//!
//! Kernels (methods of [`Recorder`]): `linear` / `matvec` / `matmul`, `rms_norm`,
//! `layer_norm`, `rope`, `attention` (GQA, causal or key-masked), `softmax`, `silu_mul`,
//! `gelu_tanh`, `add`, `mul`, `pixel_shuffle`, `embed`, `argmax`, `copy`. Every kernel
//! accumulates in f32.
//!
//! [`GpuModel`] assembles the whole SmolVLM2 from these kernels (weights read from the
//! CPU model's `WeightSource`), and [`GpuSession`] generates with it.
//!
//! Everything is async where WebGPU is (`Gpu::new`, reads); native code can use the
//! `*_blocking` variants.

mod error;
mod gpu;
pub mod model;
mod recorder;
mod shaders;
mod tensor;
mod weights;

pub use error::{Error, Result};
pub use gpu::{AdapterChoice, Gpu, GpuOptions};
pub use model::{GpuCache, GpuModel, GpuSession, ImageEncoding, ImageFeatures};
pub use recorder::Recorder;
pub use shaders::{AttentionArgs, KvCache, RopeTable};
pub use tensor::{DType, Tensor};
pub use weights::{row_bytes, Weight, WeightType};
pub use wgpu;
