//! What the OCR page (`crates/web`, in the browser's main thread) and its inference Web
//! Worker (`crates/worker`) say to each other: one definition of every message, used by
//! both sides, plus what both need to agree on: the model menu ([`models`]), the page's
//! query parameters ([`params`]) and the memory a model needs ([`memory`]).
//!
//! On the wire a message is a JavaScript object `{msg, bytes?, files?}`: `msg` is the JSON
//! of a [`Request`] or an [`Event`]; `bytes` an `ArrayBuffer` transferred with it (the
//! picture or PDF to the worker, see [`Request::Run`]; a rendered PDF page back, see
//! [`Event::PageImage`]); `files` the `File`s a visitor picked
//! as a model ([`ModelSource::Picked`]). JSON keeps the types in one Rust definition with
//! no code generation, and these messages are small (the one big payload, the picture,
//! travels as raw bytes).
//!
//! No dependency on the model or the UI: both sides build it, natively and for wasm32.

pub mod memory;
pub mod models;
pub mod pages;
pub mod params;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use models::{ImageSettings, KnownFile, ModelChoice, ModelFile, ModelSource, MODELS};
pub use params::{BackendChoice, OcrParams};

/// Page → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Get a model ready: from the browser's cache, else downloaded (and cached), then
    /// loaded. `load` numbers the attempt; every event about it carries the number.
    Load {
        load: u32,
        source: ModelSource,
        backend: BackendChoice,
    },
    /// Give up the load in progress. A partial download stays cached, so the next load
    /// resumes it.
    CancelLoad,
    /// Decode the picture that comes with this message (`bytes`) and say its size and how
    /// it would be tiled. Works before a model is loaded (then `settings` gives the tiling).
    Inspect {
        image: u32,
        settings: Option<ImageSettings>,
    },
    /// Answer `prompt` about the picture that comes with this message (`bytes`; none for
    /// a text-only prompt). The picture reaches the worker this way only: no URL, no
    /// storage.
    Run(RunRequest),
    /// End run `run` at the next token (or the next image tile).
    Stop { run: u32 },
    /// The speed benchmark at real dimensions with random weights (`/bench`).
    Bench(BenchRequest),
    /// Forget every cached model file.
    ClearCache,
}

/// One question about one picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    pub run: u32,
    pub prompt: String,
    pub tiles: Tiles,
    pub max_new_tokens: u32,
    /// End-of-utterance is masked until this many tokens exist (transformers'
    /// `min_new_tokens`; the CLI's `--min-new-tokens`).
    pub min_new_tokens: u32,
    /// The bytes are a PDF: answer about this page of it (counted from 0), rendered at
    /// the model's `longest_edge` as `smolvlm convert` renders it. The page sends one
    /// run per page, so Stop and progress work between pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
}

/// How many image tiles to encode: `all` follows the checkpoint's processor, `0` the
/// global image only (fast), `N` at most N tiles. Same meaning as the CLI's `--tiles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tiles {
    #[default]
    All,
    Max(u32),
}

impl FromStr for Tiles {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "all" => Ok(Self::All),
            n => n.parse().map(Self::Max).map_err(|_| {
                format!(
                    "tiles must be `all` or a number of tiles (0 = global image only), got {s:?}"
                )
            }),
        }
    }
}

impl fmt::Display for Tiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Max(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for Tiles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Tiles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `/bench`: what to measure (see `smolvlm::bench`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRequest {
    /// `256m` or `500m`.
    pub size: String,
    /// `wasm` (candle on wasm32 SIMD128, one thread) or `webgpu` (our WGSL kernels on
    /// whatever adapter the browser gives, software ones included: the report says which);
    /// `auto` as on the OCR page. Absent: `wasm`, what `/bench` measured before it had a
    /// choice.
    #[serde(default = "wasm")]
    pub backend: BackendChoice,
    /// `f32`, `f16`, `q8_0`, `q4_0` or `q4_k`.
    pub dtype: String,
    pub prompt_tokens: u32,
    pub decode_tokens: u32,
    pub vision: bool,
    /// Frames of a full-detail picture to time to its first token (0: none; a square
    /// picture at the default splitting is 17). On the CPU only.
    #[serde(default)]
    pub picture_frames: u32,
}

impl Default for BenchRequest {
    /// The CLI contract's benchmark: 512-token prefill, 128 decoded tokens, one tile.
    fn default() -> Self {
        Self {
            size: "256m".into(),
            backend: BackendChoice::Wasm,
            dtype: "q8_0".into(),
            prompt_tokens: 512,
            decode_tokens: 128,
            vision: true,
            picture_frames: 0,
        }
    }
}

fn wasm() -> BackendChoice {
    BackendChoice::Wasm
}

/// What the benchmark measured, named as `smolvlm bench --json` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BenchReport {
    pub size: String,
    pub dtype: String,
    /// `wasm` or `webgpu`: where it ran.
    #[serde(default)]
    pub backend: String,
    /// On WebGPU: the adapter, and whether it is a software one (SwiftShader: its numbers
    /// say nothing about real GPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_adapter: Option<bool>,
    pub load_ms: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub decode_empty_tokens_per_s: f64,
    pub vision_ms_per_tile: Option<f64>,
    /// A full-detail picture of `picture_frames` frames: milliseconds from its pixels to
    /// its first token (every frame encoded, the prompt prefilled, one token decoded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_ms: Option<f64>,
    #[serde(default)]
    pub picture_frames: u32,
    pub weight_bytes: u64,
    /// The size of the worker's WebAssembly memory at the end (its peak: it never shrinks).
    pub wasm_memory_bytes: u64,
    /// The CPU threads the worker module runs on, and its name (see [`Build`]).
    #[serde(default)]
    pub threads: u32,
    #[serde(default)]
    pub build: String,
}

/// Which of the site's worker modules runs (chosen by `ocr-worker-loader.js` from what the
/// browser offers: SIMD128, relaxed SIMD, threads when the page is cross-origin isolated)
/// and on how many threads. The page shows it beside the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Build {
    /// `simd128`, `relaxed-simd`, `simd128-threads` or `relaxed-simd-threads`.
    pub name: String,
    pub threads: u32,
    /// Why this is not the fastest build the site has, in words for people (e.g. "one
    /// thread: this page is not cross-origin isolated"); None when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Build {
    /// "relaxed-simd-threads, 8 threads" / "simd128, 1 thread".
    pub fn summary(&self) -> String {
        let s = if self.threads == 1 { "" } else { "s" };
        format!("{}, {} thread{s}", self.name, self.threads)
    }
}

/// Worker → page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The worker has started and takes requests.
    Ready {
        simd128: bool,
        /// The worker module that runs, on how many threads, and why not a faster one.
        #[serde(default)]
        build: Build,
    },
    /// What load `load` will need, known before any large download starts.
    Memory {
        load: u32,
        files_bytes: u64,
        need_bytes: u64,
    },
    /// Bytes of one model file so far (downloaded, or read from the cache).
    Progress {
        load: u32,
        file: String,
        loaded: u64,
        total: Option<u64>,
        from_cache: bool,
    },
    /// What load `load` is doing now, for people ("Reading the weights…").
    Stage {
        load: u32,
        text: String,
    },
    /// The model is ready to run.
    Loaded {
        load: u32,
        info: ModelInfo,
    },
    /// The picture was decoded. For a PDF, `pages` is its page count, and the size and
    /// plan are its first page's, rendered as a run renders it.
    ImageInfo {
        image: u32,
        width: u32,
        height: u32,
        plan: Option<TilePlan>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pages: Option<u32>,
    },
    /// A PDF page run `run` reads, as the model sees it (a PNG comes with the message as
    /// `bytes`): the page shows it under the boxes of the answer's blocks.
    PageImage {
        run: u32,
        page: u32,
        width: u32,
        height: u32,
    },
    /// The vision encoder is at frame `done` of `frames` (tiles and the global image).
    Encoding {
        run: u32,
        done: u32,
        frames: u32,
    },
    /// Something about run `run` the visitor must be told, though it goes on: the GPU
    /// was lost and the run finishes on the CPU. `backend` is the backend that runs it
    /// from now on (`wasm`).
    Notice {
        run: u32,
        backend: String,
        text: String,
    },
    /// One more token; `text` is everything generated so far, decoded.
    Token {
        run: u32,
        id: u32,
        text: String,
    },
    /// The run ended (all tokens, or stopped: `stop` says which).
    Done {
        run: u32,
        result: RunResult,
    },
    /// Something went wrong; `scope` says with what.
    Failed {
        scope: Scope,
        failure: Failure,
    },
    /// A line of the benchmark's progress.
    BenchLog {
        line: String,
    },
    BenchDone {
        report: BenchReport,
    },
    /// Every cached model file was deleted.
    CacheCleared,
}

/// What a failure was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "of", content = "id", rename_all = "snake_case")]
pub enum Scope {
    Load(u32),
    Image(u32),
    Run(u32),
    Bench,
    Worker,
}

/// An error a person can act on: `kind` for code (and tests), `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Not a PNG, JPEG or WebP, or empty.
    ImageUnsupported,
    /// A known format, but damaged or truncated.
    ImageCorrupt,
    /// More pixels than the decoder accepts (the limit is in the message).
    ImageTooLarge,
    /// `model=` / `mmproj=` make no sense (not a folder URL, no mmproj, ...).
    ModelAddress,
    /// The server could not be reached (network, CORS).
    ModelUnreachable,
    /// The server answered with an error status (404, ...).
    ModelHttp,
    /// A file arrived but is not what a SmolVLM2 model needs (wrong kind, damaged).
    ModelCorrupt,
    /// The download stopped before the end; the part received is kept to resume.
    DownloadInterrupted,
    /// The visitor cancelled the download.
    Cancelled,
    /// More memory than this browser tab can give.
    OutOfMemory,
    /// The backend asked for is not available here.
    BackendUnavailable,
    /// The browser's storage refused (OPFS missing, quota).
    Storage,
    /// Asked to run before a model was loaded, or with bad values.
    BadRequest,
    /// The worker died (a trap: panic, out of memory) and was restarted.
    Crashed,
    /// A bug of ours: the message says what failed.
    Internal,
}

/// What the page shows about a loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// e.g. `SmolVLM2-256M-Video-Instruct-Q8_0.gguf + mmproj-…` or a folder URL.
    pub label: String,
    /// `wasm` (candle on wasm32 SIMD128) or `webgpu`.
    pub backend: String,
    pub files_bytes: u64,
    /// Whether every file came from the browser's cache (no model request made).
    pub from_cache: bool,
    pub load_ms: f64,
    /// None when the model has no image settings (text only).
    pub image: Option<ImageSettings>,
    /// Text tokens the model takes (prompt plus answer).
    pub max_context: u32,
    /// Tokens one encoder image becomes.
    pub image_seq_len: u32,
    /// The model answers in DocTags (granite-docling, SmolDocling): the page offers the
    /// document instructions and shows answers as Markdown over the page.
    #[serde(default)]
    pub doctags: bool,
}

/// How a picture will be cut, for the two tiling choices the page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TilePlan {
    /// Tile grid with the checkpoint's full tiling (0 x 0 when it does not split).
    pub rows: u32,
    pub cols: u32,
    /// Encoder images with full tiling: rows x cols tiles plus the global image (or 1).
    pub frames_full: u32,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    StopToken,
    MaxNewTokens,
    Stopped,
}

/// A finished (or stopped) run, with the same fields as `smolvlm generate --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub prompt_ids: Vec<u32>,
    pub generated_ids: Vec<u32>,
    pub text: String,
    pub stop: StopKind,
    /// The backend that finished the run: `wasm` or `webgpu` (`wasm` after the GPU was
    /// lost, even when the run began on it).
    pub backend: String,
    pub timings: Timings,
}

/// Milliseconds, as the page shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Timings {
    /// Decoding and resizing the picture, building the prompt.
    pub preprocess_ms: f64,
    /// The vision encoder and connector, all frames.
    pub vision_ms: f64,
    pub frames: u32,
    pub prefill_ms: f64,
    /// From the run request to the first token.
    pub first_token_ms: f64,
    /// Tokens after the first, per second of decoding (None with fewer than 2 tokens).
    pub decode_tokens_per_s: Option<f64>,
}

/// The largest picture file read (the page's picker, drop and paste, and the CLI's
/// `--image`): a 48-megapixel photo is well under it, and a file past it is refused before
/// any of it is read.
pub const MAX_PICTURE_FILE_BYTES: u64 = 256 << 20;

/// A message as JSON (the `msg` field of the wire object).
pub fn to_json<T: Serialize>(msg: &T) -> String {
    // Serializing these plain structs cannot fail (no maps with non-string keys, no
    // non-finite floats reach here: timings are finite or None).
    serde_json::to_string(msg).unwrap_or_else(|e| {
        format!(r#"{{"type":"failed","scope":{{"of":"worker"}},"failure":{{"kind":"internal","message":"could not encode a message: {e}"}}}}"#)
    })
}

/// A message from its JSON; the error names what did not parse.
pub fn from_json<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("bad message {json:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_json() {
        let r = Request::Run(RunRequest {
            run: 3,
            prompt: "Read the text".into(),
            tiles: Tiles::Max(0),
            max_new_tokens: 64,
            min_new_tokens: 2,
            page: None,
        });
        let json = to_json(&r);
        assert!(json.contains(r#""type":"run""#), "{json}");
        assert!(json.contains(r#""tiles":"0""#), "{json}");
        // A picture's run says nothing of pages.
        assert!(!json.contains("page"), "{json}");
        assert_eq!(from_json::<Request>(&json).unwrap(), r);
        let Request::Run(mut run) = r else {
            unreachable!()
        };
        run.page = Some(2);
        let r = Request::Run(run);
        let json = to_json(&r);
        assert!(json.contains(r#""page":2"#), "{json}");
        assert_eq!(from_json::<Request>(&json).unwrap(), r);
    }

    #[test]
    fn a_lost_gpu_is_a_notice_naming_the_backend_that_carries_on() {
        let e = Event::Notice {
            run: 4,
            backend: "wasm".into(),
            text: "The GPU was lost; finished on the CPU.".into(),
        };
        let json = to_json(&e);
        assert_eq!(
            json,
            r#"{"type":"notice","run":4,"backend":"wasm","text":"The GPU was lost; finished on the CPU."}"#
        );
        assert_eq!(from_json::<Event>(&json).unwrap(), e);
    }

    #[test]
    fn a_bench_request_without_a_backend_is_the_cpus() {
        let r: BenchRequest = from_json(
            r#"{"size":"256m","dtype":"q8_0","prompt_tokens":8,"decode_tokens":4,"vision":false}"#,
        )
        .unwrap();
        assert_eq!(r.backend, BackendChoice::Wasm);
    }

    #[test]
    fn events_round_trip_through_json() {
        let e = Event::Failed {
            scope: Scope::Run(2),
            failure: Failure::new(FailureKind::ImageCorrupt, "corrupt PNG"),
        };
        let json = to_json(&e);
        assert_eq!(
            json,
            r#"{"type":"failed","scope":{"of":"run","id":2},"failure":{"kind":"image_corrupt","message":"corrupt PNG"}}"#
        );
        assert_eq!(from_json::<Event>(&json).unwrap(), e);
    }

    #[test]
    fn tiles_parse_like_the_cli() {
        assert_eq!("all".parse::<Tiles>(), Ok(Tiles::All));
        assert_eq!("0".parse::<Tiles>(), Ok(Tiles::Max(0)));
        assert_eq!(" 4 ".parse::<Tiles>(), Ok(Tiles::Max(4)));
        let e = "many".parse::<Tiles>().unwrap_err();
        assert!(e.contains("`all` or a number"), "{e}");
    }

    #[test]
    fn a_bad_message_names_itself() {
        let e = from_json::<Request>(r#"{"type":"fly"}"#).unwrap_err();
        assert!(e.contains("fly"), "{e}");
    }
}
