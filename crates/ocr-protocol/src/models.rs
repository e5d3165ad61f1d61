//! Which model files the page offers, and how a model is named to the worker.
//!
//! The default is the GGUF pair ggml-org publishes for SmolVLM2-256M (DESIGN.md); the
//! menu adds 500M and 2.2B and their quantizations, fetched from the Hugging Face Hub
//! (which allows cross-origin downloads). Every file carries the published size and
//! SHA-256 (the Git LFS pointer's `size` and `oid`), so a download, and each later use of
//! the cached copy, is checked against them. They were looked up in public projects that
//! pin these files (December 2026): on-device-ml/llamaratti (`LlamarattiWrapper.mm`:
//! the 256M Q8_0 and 2.2B pairs), yaser0004/QuantLM (`DownloadableModel.kt`: the F16
//! sizes), and model catalogs pinned to the 500M repository at `ccd7aae5` and the 2.2B
//! one at `1bc3c9f7`, whose URLs name those revisions so the hashes stay true. One file is
//! an estimate, shown with "about" and corrected by the download's `Content-Length`: no
//! public source gives the size or hash of `SmolVLM2-2.2B-Instruct-f16.gguf`.
//!
//! The last two entries are document-conversion models ([`ModelChoice::doctags`]): the GGUF
//! pair ggml-org converted from ibm-granite/granite-docling-258M (Apache-2.0), with the
//! sizes and hashes of its LFS pointers as public projects pin them, and
//! SmolDocling-256M-preview (its predecessor, Apache-2.0), which has no published GGUF pair
//! and comes as its Hub folder ([`Packaging::HubFolder`]), its size an estimate.

use crate::memory::Loaded;
use serde::{Deserialize, Serialize};

/// How to get a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSource {
    /// A Hub-layout folder (`config.json`, `model.safetensors`, `tokenizer.json`, ...):
    /// an absolute URL ending in `/`.
    HubFolder { url: String },
    /// A text `.gguf` and its `mmproj` `.gguf` (absolute URLs).
    Gguf { model: ModelFile, mmproj: ModelFile },
    /// Files the visitor picked from disk, sent with the message (`files`), by name: a GGUF
    /// pair, or the files of a Hub-layout folder.
    Picked { names: Vec<String> },
}

impl ModelSource {
    /// A short name for people.
    pub fn label(&self) -> String {
        match self {
            Self::HubFolder { url } => url.clone(),
            Self::Gguf { model, mmproj } => {
                format!("{} + {}", file_name(&model.url), file_name(&mmproj.url))
            }
            Self::Picked { names } => names.join(" + "),
        }
    }
}

/// The last path segment of a URL (without query or fragment).
pub fn file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

/// One file to download, with what is known about it beforehand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFile {
    pub url: String,
    /// The exact size, when known: the download must have it.
    pub size: Option<u64>,
    /// Lowercase hex SHA-256, when known: the download must have it.
    pub sha256: Option<String>,
}

impl ModelFile {
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            size: None,
            sha256: None,
        }
    }
}

/// Image preprocessing settings the page needs to plan tiles before a model is loaded
/// (the checkpoint's `preprocessor_config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSettings {
    /// `size.longest_edge`: the picture is resized to this longest edge first.
    pub longest_edge: u32,
    /// `max_image_size.longest_edge`: the side of a tile (and of the global image).
    pub tile: u32,
    /// `do_image_splitting`.
    pub split: bool,
}

/// A file of the menu: its name in the repository and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFile {
    pub name: &'static str,
    pub bytes: u64,
    /// Whether `bytes` is the published file's size (else an estimate).
    pub exact: bool,
    pub sha256: Option<&'static str>,
}

const fn exact(name: &'static str, bytes: u64) -> KnownFile {
    KnownFile {
        name,
        bytes,
        exact: true,
        sha256: None,
    }
}

/// A published file: its size and SHA-256.
const fn pinned(name: &'static str, bytes: u64, sha256: &'static str) -> KnownFile {
    KnownFile {
        name,
        bytes,
        exact: true,
        sha256: Some(sha256),
    }
}

const fn about(name: &'static str, bytes: u64) -> KnownFile {
    KnownFile {
        name,
        bytes,
        exact: false,
        sha256: None,
    }
}

/// How a menu entry's files are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packaging {
    /// llama.cpp's pair: the text model and its `mmproj`, both `.gguf`.
    GgufPair { text: KnownFile, mmproj: KnownFile },
    /// A Hub-layout folder: `weights` (`model.safetensors`) beside the small JSON files
    /// (config, tokenizer, templates) the worker fetches by name (`bundle::BESIDE`). The
    /// worker checks a folder's files by their `Content-Length` alone: a folder has no
    /// pinned hash to check them against.
    HubFolder {
        weights: KnownFile,
        /// How large the weights are once loaded (bf16 is widened to f32).
        loaded: Loaded,
    },
}

impl Packaging {
    /// The files whose sizes the menu knows.
    pub fn files(&self) -> Vec<&KnownFile> {
        match self {
            Self::GgufPair { text, mmproj } => vec![text, mmproj],
            Self::HubFolder { weights, .. } => vec![weights],
        }
    }
}

/// One entry of the model menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelChoice {
    /// Stable id, e.g. `256m-q8_0`.
    pub id: &'static str,
    /// e.g. `SmolVLM2-256M`.
    pub name: &'static str,
    /// e.g. `Q8_0`.
    pub quant: &'static str,
    /// Hub repository, e.g. `ggml-org/SmolVLM2-256M-Video-Instruct-GGUF`.
    pub repo: &'static str,
    /// The repository's revision the files are fetched at (a commit, or `main`).
    pub revision: &'static str,
    pub files: Packaging,
    pub image: ImageSettings,
    /// A rough time to encode one frame on the CPU in this browser (wasm32 SIMD128, one
    /// thread), for "expected time" before the first run measures the real one.
    pub est_ms_per_frame: u32,
    /// A document-conversion model: it answers in DocTags, takes the instructions of
    /// [`DOCTAGS_PROMPTS`], and the page shows its answer as Markdown over the page.
    pub doctags: bool,
}

/// The instructions granite-docling and SmolDocling were trained on (their model cards),
/// as (menu label, prompt). The first converts a whole page.
pub const DOCTAGS_PROMPTS: &[(&str, &str)] = &[
    ("Whole page", "Convert this page to docling."),
    ("Table", "Convert table to OTSL."),
    ("Formula", "Convert formula to LaTeX."),
    ("Code", "Convert code to text."),
    ("Chart", "Convert chart to table."),
];

/// SigLIP at 512 px in 512-px tiles after resizing to 2048 (256M and 500M).
const SIGLIP_512: ImageSettings = ImageSettings {
    longest_edge: 2048,
    tile: 512,
    split: true,
};
/// SigLIP so400m at 384 px (2.2B): 1536 then 384-px tiles.
const SIGLIP_384: ImageSettings = ImageSettings {
    longest_edge: 1536,
    tile: 384,
    split: true,
};

const HUB: &str = "https://huggingface.co/";

/// The menu, default first.
pub const MODELS: &[ModelChoice] = &[
    ModelChoice {
        id: "256m-q8_0",
        name: "SmolVLM2-256M",
        quant: "Q8_0",
        repo: "ggml-org/SmolVLM2-256M-Video-Instruct-GGUF",
        revision: "main",
        files: Packaging::GgufPair {
            text: pinned(
                "SmolVLM2-256M-Video-Instruct-Q8_0.gguf",
                175_056_352,
                "af7ce9951a2f46c4f6e5def253e5b896ca5e417010e7a9949fdc9e5175c27767",
            ),
            mmproj: pinned(
                "mmproj-SmolVLM2-256M-Video-Instruct-Q8_0.gguf",
                103_771_680,
                "d34913a588464ff7215f086193e0426a4f045eaba74456ee5e2667d8ed6798b1",
            ),
        },
        image: SIGLIP_512,
        est_ms_per_frame: 9_000,
        doctags: false,
    },
    ModelChoice {
        id: "256m-f16",
        name: "SmolVLM2-256M",
        quant: "F16",
        repo: "ggml-org/SmolVLM2-256M-Video-Instruct-GGUF",
        revision: "main",
        // Sizes only: no public source gives these two files' SHA-256.
        files: Packaging::GgufPair {
            text: exact("SmolVLM2-256M-Video-Instruct-f16.gguf", 327_811_552),
            mmproj: exact("mmproj-SmolVLM2-256M-Video-Instruct-f16.gguf", 190_033_440),
        },
        image: SIGLIP_512,
        est_ms_per_frame: 12_000,
        doctags: false,
    },
    ModelChoice {
        id: "500m-q8_0",
        name: "SmolVLM2-500M",
        quant: "Q8_0",
        repo: "ggml-org/SmolVLM2-500M-Video-Instruct-GGUF",
        revision: REV_500M,
        files: Packaging::GgufPair {
            text: pinned(
                "SmolVLM2-500M-Video-Instruct-Q8_0.gguf",
                436_808_704,
                "6f67b8036b2469fcd71728702720c6b51aebd759b78137a8120733b4d66438bc",
            ),
            mmproj: pinned(
                "mmproj-SmolVLM2-500M-Video-Instruct-Q8_0.gguf",
                108_785_184,
                "921dc7e259f308e5b027111fa185efcbf33db13f6e35749ddf7f5cdb60ef520b",
            ),
        },
        image: SIGLIP_512,
        est_ms_per_frame: 9_000,
        doctags: false,
    },
    ModelChoice {
        id: "500m-f16",
        name: "SmolVLM2-500M",
        quant: "F16",
        repo: "ggml-org/SmolVLM2-500M-Video-Instruct-GGUF",
        revision: REV_500M,
        files: Packaging::GgufPair {
            text: pinned(
                "SmolVLM2-500M-Video-Instruct-f16.gguf",
                820_424_704,
                "80f7e3f04bc2d3324ac1a9f52f5776fe13a69912adf74f8e7edacf773d140d77",
            ),
            mmproj: pinned(
                "mmproj-SmolVLM2-500M-Video-Instruct-f16.gguf",
                199_470_624,
                "b5dc8ebe7cbeab66a5369693960a52515d7824f13d4063ceca78431f2a6b59b0",
            ),
        },
        image: SIGLIP_512,
        est_ms_per_frame: 12_000,
        doctags: false,
    },
    ModelChoice {
        id: "2.2b-q4_k_m",
        name: "SmolVLM2-2.2B",
        quant: "Q4_K_M",
        repo: "ggml-org/SmolVLM2-2.2B-Instruct-GGUF",
        revision: REV_2_2B,
        files: Packaging::GgufPair {
            text: pinned(
                "SmolVLM2-2.2B-Instruct-Q4_K_M.gguf",
                1_112_602_656,
                "0cf76814555b8665149075b74ab6b5c1d428ea1d3d01c1918c12012e8d7c9f58",
            ),
            mmproj: MMPROJ_2_2B_Q8_0,
        },
        image: SIGLIP_384,
        est_ms_per_frame: 40_000,
        doctags: false,
    },
    ModelChoice {
        id: "2.2b-q8_0",
        name: "SmolVLM2-2.2B",
        quant: "Q8_0",
        repo: "ggml-org/SmolVLM2-2.2B-Instruct-GGUF",
        revision: REV_2_2B,
        files: Packaging::GgufPair {
            text: pinned(
                "SmolVLM2-2.2B-Instruct-Q8_0.gguf",
                1_927_933_984,
                "c850ffa51b0708be8911766e1d35e8e71365e987c8efb2513a7f237baade074f",
            ),
            mmproj: MMPROJ_2_2B_Q8_0,
        },
        image: SIGLIP_384,
        est_ms_per_frame: 40_000,
        doctags: false,
    },
    ModelChoice {
        id: "2.2b-f16",
        name: "SmolVLM2-2.2B",
        quant: "F16",
        repo: "ggml-org/SmolVLM2-2.2B-Instruct-GGUF",
        revision: REV_2_2B,
        // No public source gives this file's size or hash: an estimate, not enforced.
        files: Packaging::GgufPair {
            text: about("SmolVLM2-2.2B-Instruct-f16.gguf", 3_630_000_000),
            mmproj: pinned(
                "mmproj-SmolVLM2-2.2B-Instruct-f16.gguf",
                872_303_680,
                "db9a3a1648cab1ebc3af4a2b0c8145dd8faebf6f7dd7b16e7dc1842229f14ac4",
            ),
        },
        image: SIGLIP_384,
        est_ms_per_frame: 50_000,
        doctags: false,
    },
    ModelChoice {
        id: "granite-docling-258m-q8_0",
        name: "granite-docling-258M",
        quant: "Q8_0",
        repo: "ggml-org/granite-docling-258M-GGUF",
        revision: "main",
        files: Packaging::GgufPair {
            text: pinned(
                "granite-docling-258M-Q8_0.gguf",
                177_918_144,
                "b687245c212b59da938e411e2d4485596cbaeed1ae52706582ac38ed6a970f76",
            ),
            mmproj: pinned(
                "mmproj-granite-docling-258M-f16.gguf",
                190_031_552,
                "3b284a5869bf904427c3dc18d7af91fd4c9778fcddddb8c2256f02142c1fb58d",
            ),
        },
        // ibm-granite/granite-docling-258M's preprocessor_config.json: 2048, then 512-px
        // tiles of a SigLIP2 base tower (the 256M's size).
        image: SIGLIP_512,
        est_ms_per_frame: 9_000,
        doctags: true,
    },
    ModelChoice {
        id: "smoldocling-256m-bf16",
        name: "SmolDocling-256M-preview",
        quant: "BF16",
        // The repository's current name (it moved from ds4sd/, which the Hub redirects).
        repo: "docling-project/SmolDocling-256M-preview",
        revision: "main",
        // No GGUF pair is published (llama.cpp converts it, nobody uploaded one): the Hub
        // folder, as transformers loads it. No public source gives the weights' exact size
        // or hash; a public inventory of a downloaded copy lists `model.safetensors` at
        // 490 MiB (`du -h`, so 489-490 MiB): about 256M bfloat16 parameters, SmolVLM-256M's,
        // which it fine-tunes. The tokenizer and JSON files beside it add about 4 MB. The
        // download's `Content-Length` gives the real size.
        files: Packaging::HubFolder {
            weights: about("model.safetensors", 513_000_000),
            loaded: Loaded::Widened,
        },
        // SmolVLM-256M's processor, which SmolDocling keeps: 2048, then 512-px tiles.
        image: SIGLIP_512,
        // bf16 weights are widened to f32 on load (there is no bf16 kernel): natively a
        // frame took 1.3x granite-docling's Q8_0 time (4.5 s against 3.3 s, one thread).
        est_ms_per_frame: 12_000,
        doctags: true,
    },
];

/// The revisions the 500M and 2.2B files' hashes were published at.
const REV_500M: &str = "ccd7aae53bcb1997355c2f094959e72b3642ce17";
const REV_2_2B: &str = "1bc3c9f74ceafd4c8d4411cc9cf188bba3798f91";

const MMPROJ_2_2B_Q8_0: KnownFile = pinned(
    "mmproj-SmolVLM2-2.2B-Instruct-Q8_0.gguf",
    592_523_200,
    "ae07ea1facd07dd3230c4483b63e8cda96c6944ad2481f33d531f79e892dd024",
);

/// The default model (the first of the menu).
pub fn default_choice() -> &'static ModelChoice {
    &MODELS[0]
}

/// The menu entry with this id.
pub fn choice(id: &str) -> Option<&'static ModelChoice> {
    MODELS.iter().find(|m| m.id == id)
}

impl ModelChoice {
    /// `SmolVLM2-256M · Q8_0`.
    pub fn label(&self) -> String {
        format!("{} · {}", self.name, self.quant)
    }

    /// The files' bytes (exact or estimated).
    pub fn files_bytes(&self) -> u64 {
        self.files.files().iter().map(|f| f.bytes).sum()
    }

    /// Whether every size is the published one.
    pub fn sizes_exact(&self) -> bool {
        self.files.files().iter().all(|f| f.exact)
    }

    /// How large the loaded weights are next to the files.
    pub fn loaded(&self) -> Loaded {
        match self.files {
            Packaging::HubFolder { loaded, .. } => loaded,
            // The published pairs are quantized or f16, kept as stored.
            Packaging::GgufPair { .. } => Loaded::AsStored,
        }
    }

    /// The download URL of a file of this repository.
    pub fn url(&self, file: &KnownFile) -> String {
        format!("{}{}", self.base_url(), file.name)
    }

    /// The repository's folder at the pinned revision (ends in `/`).
    pub fn base_url(&self) -> String {
        format!("{HUB}{}/resolve/{}/", self.repo, self.revision)
    }

    fn model_file(&self, file: &KnownFile) -> ModelFile {
        ModelFile {
            url: self.url(file),
            size: file.exact.then_some(file.bytes),
            sha256: file.sha256.map(str::to_owned),
        }
    }

    /// The source the worker downloads.
    pub fn source(&self) -> ModelSource {
        match &self.files {
            Packaging::GgufPair { text, mmproj } => ModelSource::Gguf {
                model: self.model_file(text),
                mmproj: self.model_file(mmproj),
            },
            Packaging::HubFolder { .. } => ModelSource::HubFolder {
                url: self.base_url(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_ggml_orgs_256m_q8_0_pair() {
        let m = default_choice();
        let ModelSource::Gguf { model, mmproj } = m.source() else {
            panic!("the default is a GGUF pair");
        };
        assert_eq!(
            model.url,
            "https://huggingface.co/ggml-org/SmolVLM2-256M-Video-Instruct-GGUF/resolve/main/SmolVLM2-256M-Video-Instruct-Q8_0.gguf"
        );
        assert_eq!(model.size, Some(175_056_352));
        assert_eq!(
            mmproj.url,
            "https://huggingface.co/ggml-org/SmolVLM2-256M-Video-Instruct-GGUF/resolve/main/mmproj-SmolVLM2-256M-Video-Instruct-Q8_0.gguf"
        );
        assert_eq!(mmproj.size, Some(103_771_680));
    }

    #[test]
    fn estimated_sizes_are_not_enforced() {
        let m = choice("2.2b-f16").unwrap();
        let ModelSource::Gguf { model, .. } = m.source() else {
            panic!()
        };
        assert_eq!(model.size, None);
        assert!(!m.sizes_exact());
    }

    #[test]
    fn smoldocling_is_its_hub_folder_at_the_repositorys_current_name() {
        let m = choice("smoldocling-256m-bf16").unwrap();
        assert!(m.doctags);
        assert!(!m.sizes_exact(), "no public source gives its exact size");
        assert_eq!(
            m.source(),
            ModelSource::HubFolder {
                url:
                    "https://huggingface.co/docling-project/SmolDocling-256M-preview/resolve/main/"
                        .into()
            }
        );
        // The worker fetches the folder's files by name under that URL.
        let Packaging::HubFolder { weights, .. } = &m.files else {
            panic!("a Hub folder")
        };
        assert_eq!(
            m.url(weights),
            "https://huggingface.co/docling-project/SmolDocling-256M-preview/resolve/main/model.safetensors"
        );
        assert_eq!(m.files_bytes(), weights.bytes);
    }

    #[test]
    fn every_gguf_file_but_one_carries_its_published_size_and_hash() {
        let pairs: Vec<_> = MODELS
            .iter()
            .filter(|m| matches!(m.files, Packaging::GgufPair { .. }))
            .collect();
        let (mut exact, mut hashed) = (0, 0);
        for f in pairs.iter().flat_map(|m| m.files.files()) {
            exact += usize::from(f.exact);
            if let Some(h) = f.sha256 {
                assert!(f.exact, "{}: a hash without the size", f.name);
                assert_eq!(h.len(), 64, "{}", f.name);
                assert!(h
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                hashed += 1;
            }
        }
        assert_eq!(
            exact,
            2 * pairs.len() - 1,
            "only the 2.2B F16 text file is estimated"
        );
        assert_eq!(
            hashed,
            2 * pairs.len() - 3,
            "the 256M F16 pair has sizes only"
        );
        assert_eq!(pairs.len(), MODELS.len() - 1, "one entry is a Hub folder");
        for m in MODELS {
            // A pinned revision is a full commit id; hashes are only trusted at one.
            assert!(m.revision == "main" || m.revision.len() == 40, "{}", m.id);
        }
        let m = choice("2.2b-q8_0").unwrap();
        let Packaging::GgufPair { text, .. } = &m.files else {
            panic!()
        };
        assert_eq!(
            m.url(text),
            "https://huggingface.co/ggml-org/SmolVLM2-2.2B-Instruct-GGUF/resolve/1bc3c9f74ceafd4c8d4411cc9cf188bba3798f91/SmolVLM2-2.2B-Instruct-Q8_0.gguf"
        );
    }

    #[test]
    fn ids_are_unique() {
        for (i, a) in MODELS.iter().enumerate() {
            assert!(MODELS[i + 1..].iter().all(|b| b.id != a.id), "{}", a.id);
        }
    }

    #[test]
    fn file_name_drops_query_and_path() {
        assert_eq!(file_name("https://x.org/a/b.gguf?download=1"), "b.gguf");
        assert_eq!(file_name("/models/m/"), "");
    }
}
