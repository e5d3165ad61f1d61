//! How much memory a model needs in the worker, said before the download starts.
//!
//! Loading holds the file bytes while the weights are copied out of them. GGUF blocks,
//! f32 and f16 stay in their type, so the model is about as large as its files and the
//! peak is about twice the files; bf16 (a Hub folder's usual type) is widened to f32, so
//! the model is twice its files and the peak three times (measured natively on
//! SmolDocling-256M's dimensions: 476 MB of bf16 safetensors, 1.58 GB peak RSS through a
//! page). Running adds the KV cache and one image frame's activations (the worker encodes
//! frame by frame), a small share next to the weights: a quarter of the files with a
//! floor, plus the worker's own code and heap. WebAssembly memory never shrinks, so the
//! peak is what the tab keeps.

/// wasm32 addresses 4 GiB; browsers give a worker at most that.
pub const WASM32_MAX_BYTES: u64 = 4 << 30;

/// What the worker needs beside the model (code, tokenizer, buffers).
const BASE_BYTES: u64 = 96 << 20;
/// The least a run needs on top of the weights (KV cache, one frame's activations).
const MIN_RUN_BYTES: u64 = 64 << 20;

/// How large the loaded weights are next to their files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// GGUF blocks, f32 and f16 stay as stored: about the files' size.
    AsStored,
    /// bf16 is widened to f32 (there is no bf16 kernel): twice the files.
    Widened,
}

impl Loaded {
    /// For a Hub folder, from its `config.json` (`torch_dtype`, or transformers 5's
    /// `dtype`): the type its weights were saved in. Anything unreadable counts as stored.
    pub fn of_config(config_json: &[u8]) -> Self {
        let Ok(config) = serde_json::from_slice::<serde_json::Value>(config_json) else {
            return Self::AsStored;
        };
        let dtype = config.get("torch_dtype").or_else(|| config.get("dtype"));
        if dtype.and_then(|d| d.as_str()) == Some("bfloat16") {
            Self::Widened
        } else {
            Self::AsStored
        }
    }
}

/// The peak memory of loading and running a model whose files total `files_bytes`.
pub fn need_bytes(files_bytes: u64, loaded: Loaded) -> u64 {
    let model = match loaded {
        Loaded::AsStored => files_bytes,
        Loaded::Widened => 2 * files_bytes,
    };
    files_bytes + model + (files_bytes / 4).max(MIN_RUN_BYTES) + BASE_BYTES
}

/// [`need_bytes`] when the model also goes to the GPU: the worker copies the weight files
/// for the upload before the CPU model takes them, and frees the copy once the weights are
/// on the GPU, so for a moment it holds them a third time (the CPU model stays, as the
/// fallback).
pub fn need_bytes_with_gpu(files_bytes: u64, loaded: Loaded) -> u64 {
    need_bytes(files_bytes, loaded) + files_bytes
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
        let small = need_bytes(default_choice().files_bytes(), Loaded::AsStored);
        assert!(fits_wasm32(small), "{}", human_bytes(small));
        assert!(small < 1_000_000_000, "{}", human_bytes(small));
        let big = need_bytes(choice("2.2b-f16").unwrap().files_bytes(), Loaded::AsStored);
        assert!(!fits_wasm32(big), "{}", human_bytes(big));
    }

    #[test]
    fn bf16_weights_count_twice_once_widened() {
        // SmolDocling's measured case: 476 MB of bf16 files peaked at 1.58 GB natively.
        let files = 475_574_920;
        let need = need_bytes(files, Loaded::Widened);
        assert!(
            (1_580_000_000..1_800_000_000).contains(&need),
            "{}",
            human_bytes(need)
        );
        assert_eq!(need, need_bytes(files, Loaded::AsStored) + files);
        let m = choice("smoldocling-256m-bf16").unwrap();
        assert_eq!(m.loaded(), Loaded::Widened);
        assert_eq!(default_choice().loaded(), Loaded::AsStored);
    }

    #[test]
    fn a_folders_config_says_whether_it_widens() {
        let widened = Loaded::of_config(br#"{"torch_dtype": "bfloat16"}"#);
        assert_eq!(widened, Loaded::Widened);
        assert_eq!(
            Loaded::of_config(br#"{"dtype": "bfloat16"}"#),
            Loaded::Widened
        );
        assert_eq!(
            Loaded::of_config(br#"{"torch_dtype": "float32"}"#),
            Loaded::AsStored
        );
        assert_eq!(Loaded::of_config(b"{}"), Loaded::AsStored);
        assert_eq!(Loaded::of_config(b"not json"), Loaded::AsStored);
        let tiny = include_bytes!("../../smolvlm/tests/fixtures/tiny-smoldocling/config.json");
        assert_eq!(Loaded::of_config(tiny), Loaded::Widened);
    }

    #[test]
    fn the_gpus_copy_of_the_weights_is_counted() {
        let files = default_choice().files_bytes();
        for loaded in [Loaded::AsStored, Loaded::Widened] {
            let need = need_bytes_with_gpu(files, loaded);
            assert_eq!(need, need_bytes(files, loaded) + files);
        }
    }

    #[test]
    fn sizes_read_like_download_sizes() {
        assert_eq!(human_bytes(278_828_032), "279 MB");
        assert_eq!(human_bytes(1_705_125_856), "1.7 GB");
        assert_eq!(human_bytes(69_408), "69 KB");
        assert_eq!(human_bytes(12), "12 bytes");
    }
}
