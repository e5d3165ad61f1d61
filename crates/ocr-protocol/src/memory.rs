//! How much memory a model needs in the worker, said before the download starts.
//!
//! Loading holds the file bytes while the weights are copied out of them (GGUF blocks stay
//! in their type, so the model is about as large as its files), so the peak is about
//! twice the files. Running adds the KV cache and one image frame's activations (the
//! worker encodes frame by frame), a small share next to the weights: a quarter of the
//! files with a floor, plus the worker's own code and heap. WebAssembly memory never
//! shrinks, so the peak is what the tab keeps.

/// wasm32 addresses 4 GiB; browsers give a worker at most that.
pub const WASM32_MAX_BYTES: u64 = 4 << 30;

/// What the worker needs beside the model (code, tokenizer, buffers).
const BASE_BYTES: u64 = 96 << 20;
/// The least a run needs on top of the weights (KV cache, one frame's activations).
const MIN_RUN_BYTES: u64 = 64 << 20;

/// The peak memory of loading and running a model whose files total `files_bytes`.
pub fn need_bytes(files_bytes: u64) -> u64 {
    2 * files_bytes + (files_bytes / 4).max(MIN_RUN_BYTES) + BASE_BYTES
}

/// [`need_bytes`] when the model also goes to the GPU: the worker copies the weight files
/// for the upload before the CPU model takes them, and frees the copy once the weights are
/// on the GPU, so for a moment it holds them a third time (the CPU model stays, as the
/// fallback).
pub fn need_bytes_with_gpu(files_bytes: u64) -> u64 {
    need_bytes(files_bytes) + files_bytes
}

/// Whether that can ever fit a browser's WebAssembly (the worker then also asks the
/// browser for it, which may still refuse on a small device).
pub fn fits_wasm32(need: u64) -> bool {
    need <= WASM32_MAX_BYTES
}

/// `1.2 GB`, `340 MB`, `12 KB` (decimal units, as download sizes are shown).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} KB", b / 1e3)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{choice, default_choice};

    #[test]
    fn the_default_model_fits_and_the_biggest_does_not() {
        let small = need_bytes(default_choice().files_bytes());
        assert!(fits_wasm32(small), "{}", human_bytes(small));
        assert!(small < 1_000_000_000, "{}", human_bytes(small));
        let big = need_bytes(choice("2.2b-f16").unwrap().files_bytes());
        assert!(!fits_wasm32(big), "{}", human_bytes(big));
    }

    #[test]
    fn the_gpus_copy_of_the_weights_is_counted() {
        let files = default_choice().files_bytes();
        assert_eq!(need_bytes_with_gpu(files), need_bytes(files) + files);
    }

    #[test]
    fn sizes_read_like_download_sizes() {
        assert_eq!(human_bytes(278_828_032), "279 MB");
        assert_eq!(human_bytes(1_705_125_856), "1.7 GB");
        assert_eq!(human_bytes(69_408), "69 KB");
        assert_eq!(human_bytes(12), "12 bytes");
    }
}
