//! CPU kernels of our own for the hot paths of SmolVLM2: quantized and float matrix
//! products, decode attention over a preallocated KV cache, and the small fused ops
//! (RMSNorm, RoPE, SiLU-gated product) around them.
//!
//! Pure Rust over byte and f32 slices, no candle types: the model code hands slices in.
//! Weights keep ggml's block layouts (see [`formats`]); activations are quantized once per
//! matmul to 8-bit blocks and multiplied with integer dot products, as llama.cpp does.
//! Kernel families, all tested against the scalar one: AVX2/FMA/F16C on x86_64 (detected
//! at run time), the same with AVX512-VNNI dot products for the 32-element block formats
//! where the CPU has them, SIMD128 on wasm32 (compile time), and portable Rust. On SIMD128,
//! which has no 8-bit dot product, products over 8 or more tokens (prefill, the vision
//! encoder) run on rows widened to f32 once per call instead ([`matmul::widen`]).
//!
//! Why our own: candle 0.11's CPU quantized matmul reaches about half of llama.cpp's
//! decode speed on this model (DESIGN.md), its f16 path dequantizes whole weights to f32,
//! and per-op tensor allocations dominate a 576-wide decoder.

pub mod acts;
pub mod attention;
pub mod cpu;
pub mod formats;
pub mod matmul;
pub mod ops;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use acts::{Acts, Q8Blocks, Q8KBlocks};
pub use attention::{attention, KvCache};
pub use cpu::{isa, threads, Isa};
pub use formats::{dequantize_row, WeightType};
pub use matmul::QMatrix;

/// Shapes that do not fit together (a bug of the caller, or a corrupt weight file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    #[error("rows of {cols} elements are not whole {ty} blocks of {block}")]
    RowLength {
        ty: WeightType,
        cols: usize,
        block: usize,
    },
    #[error("a {rows}x{cols} matrix is too large")]
    TooLarge { rows: usize, cols: usize },
    #[error("a {rows}x{cols} {ty} matrix takes {expected} bytes, got {got}")]
    DataSize {
        ty: WeightType,
        rows: usize,
        cols: usize,
        expected: usize,
        got: usize,
    },
    #[error(
        "matmul of a {rows}x{cols} matrix with {tokens} tokens of {x_cols} values into {y_len} \
         outputs"
    )]
    MatmulShape {
        rows: usize,
        cols: usize,
        x_cols: usize,
        tokens: usize,
        y_len: usize,
    },
}
