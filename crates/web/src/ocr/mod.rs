//! The private OCR demo's state, shared by `/ocr`, `/embed/ocr` and `/kiosk/`: one
//! [`Ocr`] holds the signals the components show; in the browser ([`browser`]) it talks
//! to the inference Web Worker ([`client`]) with `ocr-protocol`'s messages. What each
//! event and click changes is decided by a pure function ([`machine`]), tested natively.
//!
//! Everything here renders the same natively (pre-rendering) and in the browser: the
//! query parameters and the worker only come in after hydration (an effect), so the
//! pre-rendered page and the hydrated one start identical.

#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
pub(crate) mod client;
// Pure, so built and tested natively too; only the browser performs its effects.
pub mod document;
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod machine;

use leptos::prelude::*;
use ocr_protocol::models::{self, MODELS};
use ocr_protocol::params::DEFAULT_MAX_NEW_TOKENS;
use ocr_protocol::{BackendChoice, Failure, FailureKind, ModelInfo, ModelSource, TilePlan, Tiles};

/// Which page the demo is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `/ocr`: the full page.
    Page,
    /// `/embed/ocr`: compact, in an iframe on another site.
    Embed,
    /// `/kiosk/` (or `/ocr?kiosk=1`): full screen, large type, camera loop.
    Kiosk,
}

/// `status[data-state]` (DESIGN.md's contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Idle,
    Loading,
    Encoding,
    Generating,
    Done,
    Error,
    Stopped,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Loading => "loading",
            Self::Encoding => "encoding",
            Self::Generating => "generating",
            Self::Done => "done",
            Self::Error => "error",
            Self::Stopped => "stopped",
        }
    }

    /// Whether the worker is busy for the visitor (Run disabled, Stop enabled).
    pub fn busy(self) -> bool {
        matches!(self, Self::Loading | Self::Encoding | Self::Generating)
    }
}

/// The three tasks of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Extract,
    Describe,
    Ask,
}

impl Task {
    pub const ALL: [Task; 3] = [Task::Extract, Task::Describe, Task::Ask];

    pub fn label(self) -> &'static str {
        match self {
            Self::Extract => "Extract text",
            Self::Describe => "Describe",
            Self::Ask => "Ask a question",
        }
    }

    /// The prompt a task sends (Ask sends the visitor's question).
    pub fn prompt(self) -> &'static str {
        match self {
            Self::Extract => "Extract all the text in this image.",
            Self::Describe => "Describe this image.",
            Self::Ask => "",
        }
    }
}

/// How much of the picture the vision encoder sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilesMode {
    /// The global image only: one encoder image (the CPU's fast choice, and the default).
    Fast,
    /// The checkpoint's full tiling.
    Full,
    /// At most N tiles (from `tiles=N` in the link).
    Max(u32),
}

impl TilesMode {
    pub fn tiles(self) -> Tiles {
        match self {
            Self::Fast => Tiles::Max(0),
            Self::Full => Tiles::All,
            Self::Max(n) => Tiles::Max(n),
        }
    }

    pub fn from_tiles(t: Tiles) -> Self {
        match t {
            Tiles::All => Self::Full,
            Tiles::Max(0) => Self::Fast,
            Tiles::Max(n) => Self::Max(n),
        }
    }

    /// Encoder images this choice gives a picture of this plan.
    pub fn frames(self, plan: &TilePlan) -> u32 {
        match self {
            Self::Fast => 1,
            Self::Full => plan.frames_full,
            // Capped tiling never gives more than the full grid.
            Self::Max(n) => (n + 1).min(plan.frames_full),
        }
    }
}

/// Which model a run uses.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelPick {
    /// An entry of the menu, by id.
    Menu(&'static str),
    /// The model of the link's `model=` (and `mmproj=`).
    Link(ModelSource),
    /// Files picked from this device, by name.
    Files(Vec<String>),
}

impl ModelPick {
    pub fn label(&self) -> String {
        match self {
            Self::Menu(id) => models::choice(id).map_or_else(|| id.to_string(), |m| m.label()),
            Self::Link(src) => src.label(),
            Self::Files(names) => names.join(" + "),
        }
    }

    /// The menu entry, for known sizes and estimates.
    pub fn choice(&self) -> Option<&'static models::ModelChoice> {
        match self {
            Self::Menu(id) => models::choice(id),
            _ => None,
        }
    }
}

/// The picture the visitor chose.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Picture {
    pub name: String,
    /// A `blob:` URL of the bytes, for the preview (local: nothing is fetched).
    pub preview: String,
    pub bytes: usize,
    /// Known once the worker decoded it (a PDF's: its first page's).
    pub size: Option<(u32, u32)>,
    pub plan: Option<TilePlan>,
    /// A PDF: its page count, once the worker has opened it.
    pub pages: Option<u32>,
    /// The bytes are a PDF (no preview: the worker renders its pages).
    pub pdf: bool,
}

/// One page of a document being read (a PDF's, or the picture's for a DocTags model):
/// the page as the model saw it and its answer so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocPage {
    /// Counted from 1.
    pub number: u32,
    /// A `blob:` URL of the page as the model saw it, and its size in pixels.
    pub image: Option<(String, u32, u32)>,
    /// The DocTags answer so far.
    pub doctags: String,
    pub done: bool,
    /// The answer's token ids, once done.
    pub ids: Vec<u32>,
}

/// The download/read progress of a load.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadProgress {
    pub file: String,
    pub loaded: u64,
    pub total: Option<u64>,
    pub from_cache: bool,
    /// Bytes per second over the last seconds (downloads only).
    pub rate: Option<f64>,
    /// What the load does when not moving bytes ("Reading the weights…").
    pub stage: Option<String>,
}

/// What the stats panel shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    pub backend: Option<String>,
    pub load_ms: Option<f64>,
    pub from_cache: bool,
    pub vision_ms: Option<f64>,
    pub frames: u32,
    pub first_token_ms: Option<f64>,
    pub tokens_per_s: Option<f64>,
    pub tokens: usize,
}

/// Everything the OCR components show, as signals; `Copy`, passed to each component.
#[derive(Clone, Copy)]
pub struct Ocr {
    pub mode: Mode,
    pub phase: RwSignal<Phase>,
    /// The status line.
    pub status: RwSignal<String>,
    pub error: RwSignal<Option<Failure>>,
    pub progress: RwSignal<Option<LoadProgress>>,
    /// Files bytes and peak memory of the load going on (from the worker).
    pub memory: RwSignal<Option<(u64, u64)>>,
    pub output: RwSignal<String>,
    pub ids: RwSignal<Vec<u32>>,
    pub stats: RwSignal<Stats>,
    pub picture: RwSignal<Option<Picture>>,
    pub task: RwSignal<Task>,
    pub question: RwSignal<String>,
    pub tiles: RwSignal<TilesMode>,
    pub model: RwSignal<ModelPick>,
    pub loaded: RwSignal<Option<ModelInfo>>,
    pub backend: RwSignal<BackendChoice>,
    /// The worker module that runs and on how many threads (from the worker).
    pub build: RwSignal<Option<ocr_protocol::Build>>,
    pub max_new_tokens: RwSignal<u32>,
    pub min_new_tokens: RwSignal<u32>,
    /// Problems with the link's parameters, shown above the form.
    pub notices: RwSignal<Vec<String>>,
    /// What the worker said about the current run that changes it (the GPU was lost and
    /// the CPU runs on), shown beside the status until the next run.
    pub run_notice: RwSignal<Option<String>>,
    pub camera: RwSignal<bool>,
    /// Full screen, large type, camera loop (`/kiosk/`, or `kiosk=1` in the link).
    pub kiosk: RwSignal<bool>,
    /// Kiosk: read the camera again and again.
    pub looping: RwSignal<bool>,
    /// "Copied" after the copy button.
    pub copied: RwSignal<&'static str>,
    /// The other sites the link's model would come from, while the page asks whether to
    /// download from them.
    pub consent: RwSignal<Option<Vec<String>>>,
    /// The document being read, page by page (empty for a plain picture's answer).
    pub doc: RwSignal<Vec<DocPage>>,
    /// The PDF pages to read, as written (`1-3,7`; blank: all).
    pub pages: RwSignal<String>,
    /// Which of [`models::DOCTAGS_PROMPTS`] a DocTags model is asked.
    pub doc_task: RwSignal<usize>,
    /// The block under the pointer: (page index, block index), its box lit.
    pub hovered: RwSignal<Option<(usize, usize)>>,
    #[cfg(feature = "hydrate")]
    inner: StoredValue<browser::Inner, LocalStorage>,
}

impl Ocr {
    pub fn new(mode: Mode) -> Self {
        let ocr = Self {
            mode,
            phase: RwSignal::new(Phase::Idle),
            status: RwSignal::new(String::from("Choose a picture to start.")),
            error: RwSignal::new(None),
            progress: RwSignal::new(None),
            memory: RwSignal::new(None),
            output: RwSignal::new(String::new()),
            ids: RwSignal::new(Vec::new()),
            stats: RwSignal::new(Stats::default()),
            picture: RwSignal::new(None),
            task: RwSignal::new(Task::Extract),
            question: RwSignal::new(String::new()),
            tiles: RwSignal::new(TilesMode::Fast),
            model: RwSignal::new(ModelPick::Menu(models::default_choice().id)),
            loaded: RwSignal::new(None),
            backend: RwSignal::new(BackendChoice::Auto),
            build: RwSignal::new(None),
            max_new_tokens: RwSignal::new(DEFAULT_MAX_NEW_TOKENS),
            min_new_tokens: RwSignal::new(0),
            notices: RwSignal::new(Vec::new()),
            run_notice: RwSignal::new(None),
            camera: RwSignal::new(false),
            kiosk: RwSignal::new(mode == Mode::Kiosk),
            looping: RwSignal::new(false),
            copied: RwSignal::new(""),
            consent: RwSignal::new(None),
            doc: RwSignal::new(Vec::new()),
            pages: RwSignal::new(String::new()),
            doc_task: RwSignal::new(0),
            hovered: RwSignal::new(None),
            #[cfg(feature = "hydrate")]
            inner: StoredValue::new_local(browser::Inner::default()),
        };
        #[cfg(feature = "hydrate")]
        ocr.start();
        ocr
    }

    /// Whether the chosen model answers in DocTags (a menu entry says so; another model
    /// once loaded).
    pub fn doctags(&self) -> bool {
        match self.model.get() {
            ModelPick::Menu(id) => models::choice(id).is_some_and(|m| m.doctags),
            _ => self.loaded.with(|l| l.as_ref().is_some_and(|l| l.doctags)),
        }
    }

    /// The prompt a run sends.
    pub fn prompt(&self) -> String {
        // A question of the visitor's (or the link's `prompt=`) is asked as it is.
        if self.doctags() && self.task.get() != Task::Ask {
            let i = self.doc_task.get().min(models::DOCTAGS_PROMPTS.len() - 1);
            return models::DOCTAGS_PROMPTS[i].1.to_string();
        }
        match self.task.get() {
            Task::Ask => self.question.get().trim().to_string(),
            t => t.prompt().to_string(),
        }
    }
}

/// Where the menu's models come from: trusted as the site itself is.
const HUB_ORIGIN: &str = "https://huggingface.co";

/// The hosts (with their port, as a person reads them) that `src`'s files come from and
/// that are neither the site (`site_origin`, e.g. `https://example.org`) nor the Hub.
/// Picked files come from this device: none.
pub fn foreign_hosts(src: &ModelSource, site_origin: &str) -> Vec<String> {
    let urls: Vec<&str> = match src {
        ModelSource::HubFolder { url } => vec![url],
        ModelSource::Gguf { model, mmproj } => vec![&model.url, &mmproj.url],
        ModelSource::Picked { .. } => Vec::new(),
    };
    let mut hosts: Vec<String> = Vec::new();
    for url in urls {
        let origin = origin_of(url);
        let trusted = origin.is_some_and(|o| {
            o.eq_ignore_ascii_case(site_origin.trim_end_matches('/'))
                || o.eq_ignore_ascii_case(HUB_ORIGIN)
        });
        if trusted {
            continue;
        }
        // A URL without an origin (it should not come here: the page resolves links
        // first) is named whole rather than trusted.
        let host = origin.map_or(url, |o| o.split_once("://").map_or(o, |(_, h)| h));
        let host = host.to_ascii_lowercase();
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // Credentials in a URL (`user@host`) are not part of the origin, and would let a
    // link show a trusted-looking name: such a URL is named whole.
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(&url[..scheme.len() + 3 + end])
}

/// The status line for a failure.
pub fn status_of_failure(f: &Failure) -> &'static str {
    match f.kind {
        // A picture or a PDF (the error says which, and why).
        FailureKind::ImageUnsupported | FailureKind::ImageCorrupt | FailureKind::ImageTooLarge => {
            "This file cannot be used."
        }
        FailureKind::Cancelled => "Download cancelled.",
        FailureKind::DownloadInterrupted => "The download was interrupted.",
        FailureKind::OutOfMemory => "Not enough memory for this model.",
        FailureKind::Crashed => "The model stopped unexpectedly.",
        FailureKind::BadRequest => "Something is missing.",
        _ => "The model could not be used.",
    }
}

/// `about 9 s`, `about 2 min`.
pub fn duration_text(ms: f64) -> String {
    let s = ms / 1000.0;
    if s < 1.5 {
        "about 1 s".into()
    } else if s < 90.0 {
        format!("about {:.0} s", s)
    } else {
        format!("about {:.0} min", s / 60.0)
    }
}

/// `120 ms`, `3.4 s`.
pub fn ms_text(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// The line under the progress bar.
pub fn progress_text(p: &LoadProgress, files_total: Option<u64>) -> String {
    use ocr_protocol::memory::human_bytes;
    if let Some(stage) = &p.stage {
        return stage.clone();
    }
    let verb = if p.from_cache {
        "Reading from this browser’s storage"
    } else {
        "Downloading"
    };
    let mut s = format!("{verb} {}: {}", p.file, human_bytes(p.loaded));
    if let Some(total) = p.total.filter(|&t| t > 0) {
        s.push_str(&format!(
            " of {} ({:.0}%)",
            human_bytes(total),
            p.loaded as f64 * 100.0 / total as f64
        ));
        if let Some(rate) = p.rate.filter(|r| *r > 0.0) {
            let left = total.saturating_sub(p.loaded) as f64 / rate;
            s.push_str(&format!(
                " · {}/s · {} left",
                human_bytes(rate as u64),
                duration_text(left * 1000.0)
            ));
        }
    }
    if let Some(all) = files_total {
        s.push_str(&format!(" · model {} in all", human_bytes(all)));
    }
    s
}

/// The download and memory the chosen model needs, said before Run.
pub fn model_need_text(pick: &ModelPick) -> Option<String> {
    use ocr_protocol::memory::{fits_wasm32, human_bytes, need_bytes, WASM32_MAX_BYTES};
    let m = pick.choice()?;
    let files = m.files_bytes();
    let need = need_bytes(files, m.loaded());
    let about = if m.sizes_exact() { "" } else { "about " };
    let mut s = format!(
        "Downloads {about}{} once (then kept in this browser) and needs about {} of memory.",
        human_bytes(files),
        human_bytes(need)
    );
    if !fits_wasm32(need) {
        s.push_str(&format!(
            " That is more than a browser gives a web page ({}): this choice cannot run here.",
            human_bytes(WASM32_MAX_BYTES)
        ));
    }
    Some(s)
}

/// The menu's entries as (id, label).
pub fn menu() -> impl Iterator<Item = (&'static str, String)> {
    MODELS.iter().map(|m| (m.id, m.label()))
}

/// Expected encode time of `frames` for the picked model on `backend` with `threads` CPU
/// threads (the menu's
/// estimate, which is the CPU's; the page replaces it with what this device measured on
/// that backend once a picture has run). None on WebGPU before a measurement: GPUs differ
/// too much to guess.
pub fn expected_ms(
    pick: &ModelPick,
    backend: &str,
    measured_ms_per_frame: Option<f64>,
    frames: u32,
    threads: u32,
) -> Option<f64> {
    let per = match measured_ms_per_frame {
        Some(ms) => ms,
        // The menu's figure is one thread's; threads split the encoder's products by rows,
        // which scale nearly linearly (`cargo xtask bench`): a rough guess until measured.
        None if backend == "wasm" => pick.choice()?.est_ms_per_frame as f64 / threads.max(1) as f64,
        None => return None,
    };
    Some(per * frames as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_the_contracts_words() {
        let all = [
            Phase::Idle,
            Phase::Loading,
            Phase::Encoding,
            Phase::Generating,
            Phase::Done,
            Phase::Error,
            Phase::Stopped,
        ];
        let words: Vec<_> = all.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            words,
            [
                "idle",
                "loading",
                "encoding",
                "generating",
                "done",
                "error",
                "stopped"
            ]
        );
    }

    #[test]
    fn progress_says_bytes_percent_rate_and_time_left() {
        let p = LoadProgress {
            file: "m.gguf".into(),
            loaded: 50_000_000,
            total: Some(200_000_000),
            rate: Some(10_000_000.0),
            ..Default::default()
        };
        assert_eq!(
            progress_text(&p, None),
            "Downloading m.gguf: 50 MB of 200 MB (25%) · 10 MB/s · about 15 s left"
        );
    }

    #[test]
    fn the_default_models_need_is_said_exactly() {
        let s = model_need_text(&ModelPick::Menu("256m-q8_0")).unwrap();
        assert!(s.starts_with("Downloads 279 MB once"), "{s}");
        let s = model_need_text(&ModelPick::Menu("2.2b-f16")).unwrap();
        assert!(s.contains("cannot run here"), "{s}");
        // A folder whose size no public source gives: an estimate, said as one.
        let s = model_need_text(&ModelPick::Menu("smoldocling-256m-bf16")).unwrap();
        assert!(s.starts_with("Downloads about 513 MB once"), "{s}");
        assert!(!s.contains("cannot run here"), "{s}");
    }

    #[test]
    fn only_other_sites_than_this_one_and_the_hub_need_the_visitors_yes() {
        let site = "http://127.0.0.1:8080";
        let gguf = |a: &str, b: &str| ModelSource::Gguf {
            model: ocr_protocol::ModelFile::url(a),
            mmproj: ocr_protocol::ModelFile::url(b),
        };
        let folder = |u: &str| ModelSource::HubFolder { url: u.into() };
        assert!(foreign_hosts(&folder("http://127.0.0.1:8080/models/m/"), site).is_empty());
        // Every menu entry, GGUF pair or Hub folder, comes from the Hub: no question.
        for m in MODELS {
            assert!(foreign_hosts(&m.source(), site).is_empty(), "{}", m.id);
        }
        assert!(foreign_hosts(
            &ModelSource::Picked {
                names: vec!["a.gguf".into()]
            },
            site
        )
        .is_empty());
        // Another port is another site; each host is named once.
        assert_eq!(
            foreign_hosts(&folder("http://127.0.0.1:9000/m/"), site),
            ["127.0.0.1:9000"]
        );
        assert_eq!(
            foreign_hosts(
                &gguf(
                    "https://Evil.example/a.gguf",
                    "https://evil.example/mmproj.gguf"
                ),
                site
            ),
            ["evil.example"]
        );
        assert_eq!(
            foreign_hosts(
                &gguf(
                    "https://huggingface.co/x/a.gguf",
                    "https://cdn.example/b.gguf"
                ),
                site
            ),
            ["cdn.example"]
        );
        // A look-alike of the Hub is not the Hub, and credentials hide nothing.
        assert_eq!(
            foreign_hosts(&folder("https://huggingface.co.evil.example/m/"), site),
            ["huggingface.co.evil.example"]
        );
        assert_eq!(
            foreign_hosts(&folder("https://huggingface.co@evil.example/m/"), site),
            ["https://huggingface.co@evil.example/m/"]
        );
    }

    #[test]
    fn the_time_estimate_is_per_backend() {
        let pick = ModelPick::Menu("256m-q8_0");
        let menu = pick.choice().unwrap().est_ms_per_frame as f64;
        assert_eq!(expected_ms(&pick, "wasm", None, 2, 1), Some(2.0 * menu));
        assert_eq!(expected_ms(&pick, "wasm", None, 2, 4), Some(0.5 * menu));
        assert_eq!(expected_ms(&pick, "wasm", Some(100.0), 3, 4), Some(300.0));
        // The menu's estimate is the CPU's: no guess for a GPU not yet measured.
        assert_eq!(expected_ms(&pick, "webgpu", None, 1, 4), None);
        assert_eq!(expected_ms(&pick, "webgpu", Some(40.0), 2, 4), Some(80.0));
    }

    #[test]
    fn tiles_choices_map_to_the_contracts_values() {
        assert_eq!(TilesMode::Fast.tiles(), Tiles::Max(0));
        assert_eq!(TilesMode::Full.tiles(), Tiles::All);
        assert_eq!(TilesMode::from_tiles(Tiles::Max(3)), TilesMode::Max(3));
        let plan = TilePlan {
            rows: 3,
            cols: 4,
            frames_full: 13,
        };
        assert_eq!(TilesMode::Fast.frames(&plan), 1);
        assert_eq!(TilesMode::Full.frames(&plan), 13);
        assert_eq!(TilesMode::Max(30).frames(&plan), 13);
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{expected_backend, measured_ms_per_frame};

/// Pre-rendering: the same methods, doing nothing (no browser, no worker).
#[cfg(not(feature = "hydrate"))]
impl Ocr {
    pub fn run(&self) {}
    pub fn stop(&self) {}
    pub fn sample(&self, _path: String, _name: &'static str) {}
    pub fn clear_cache(&self) {}
    pub fn copy(&self) {}
    pub fn download(&self, _markdown: bool) {}
    pub fn copy_document(&self) {}
    pub fn download_document(&self, _format: document::Export) {}
    pub fn capture(&self, _then_run: bool) -> bool {
        false
    }
    pub fn stop_camera(&self) {}
    pub fn select_model(&self, _id: String) {}
    pub fn on_picture_input(&self, _ev: leptos::ev::Event) {}
    pub fn on_drop(&self, _ev: leptos::ev::DragEvent) {}
    pub fn on_model_input(&self, _ev: leptos::ev::Event) {}
    pub fn open_camera(&self, _video: NodeRef<leptos::html::Video>) {}
    pub fn start_kiosk(&self) {}
    pub fn answer_consent(&self, _yes: bool) {}
}
