//! The OCR page's decisions as a pure function: [`Machine::apply`] takes what happened
//! (a worker [`Event`], a crash, a click on Run or Stop, a new picture, the Stop grace
//! running out) and returns the [`Effect`]s the page performs, in order: requests to
//! post, signals and words to show, values to keep in `localStorage`, a worker restart.
//! No browser API here: it builds for both features and its tests run natively;
//! `browser.rs` only performs the effects.

use ocr_protocol::models::ImageSettings;
use ocr_protocol::{
    BackendChoice, Build, Event, Failure, FailureKind, ModelInfo, ModelSource, Request, RunRequest,
    Scope, StopKind, TilePlan, Tiles,
};

use super::{status_of_failure, LoadProgress, ModelPick, Phase, Stats};

/// Where `backend=auto` ran last time on this device.
pub const AUTO_BACKEND_KEY: &str = "ocr-auto-backend";

/// The `localStorage` key of one encoder frame's time for a model on a backend (`wasm`
/// or `webgpu`); on the CPU it also names the worker build (`relaxed-simd-threads/8`),
/// on which a frame's time depends as much as on the model.
pub fn frames_key(pick: &ModelPick, backend: &str, worker_build: &str) -> String {
    let build = match backend {
        "wasm" => format!(":{worker_build}"),
        _ => String::new(),
    };
    format!("ocr-ms-per-frame:{backend}{build}:{}", pick.label())
}

/// The worker build as [`frames_key`] names it: `relaxed-simd-threads/8`.
pub fn build_name(build: &Build) -> String {
    format!("{}/{}", build.name, build.threads)
}

/// What the visitor set and the page knows outside the machine, read when an input
/// comes.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub model: ModelPick,
    pub backend: BackendChoice,
    /// The prompt a run sends (the task's, or the visitor's question, trimmed).
    pub prompt: String,
    pub tiles: Tiles,
    pub max_new_tokens: u32,
    pub min_new_tokens: u32,
    /// Milliseconds on the page's clock (for the download rate).
    pub now: f64,
    /// The hosts the model's files come from that are neither this site nor the Hugging
    /// Face Hub ([`super::foreign_hosts`]): the visitor is asked before the first
    /// download from them.
    pub foreign_hosts: Vec<String>,
    /// The pages of a PDF to read, as the visitor wrote them (`1-3,7`; blank: all).
    pub pages: String,
    /// The model answers in DocTags: a picture's answer is shown as a one-page document.
    pub doctags: bool,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A message from the worker.
    Event(Event),
    /// The worker died (a trap; `oom`: the bytes an allocation that failed asked for).
    Crash { message: String, oom: u64 },
    /// A file was chosen and the page is reading it ([`Input::Picture`] follows, or a
    /// [`Input::Fail`]): a Run pressed meanwhile runs once it is read.
    PictureReading,
    /// A new picture (its bytes are the page's, sent with [`Effect::Post`]).
    Picture,
    /// The Run button (or the kiosk).
    Run,
    /// The Stop button.
    Stop,
    /// The Stop of run `run` waited its grace period.
    StopGrace { run: u32 },
    /// The button that deletes the downloaded models.
    ClearCache,
    /// A failure found in the page itself (a file that cannot be read, the camera, the
    /// link's model address, no picture or prompt).
    Fail(Failure),
    /// The visitor's answer to [`Effect::AskConsent`]: download from those hosts, or not.
    Consent(bool),
}

/// What the page does, in this order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a request to the worker, with a copy of the current picture's bytes
    /// (`picture`) and the model files picked from this device (`files`).
    Post {
        request: Request,
        picture: bool,
        files: bool,
    },
    /// Keep a value in `localStorage`.
    Remember {
        key: String,
        value: String,
    },
    /// End the worker and start a fresh one.
    RestartWorker,
    /// Start the Stop grace timer of run `run` (it comes back as [`Input::StopGrace`]).
    StartStopTimer {
        run: u32,
    },
    /// Cancel the Stop grace timer.
    ClearStopTimer,
    /// The worker's build: shown, and part of [`frames_key`].
    Build(Build),
    Phase(Phase),
    /// Ask the visitor whether the model may be downloaded from these hosts (None: the
    /// question is answered, hide it).
    AskConsent(Option<Vec<String>>),
    /// The status line.
    Status(String),
    Error(Option<Failure>),
    Progress(Option<LoadProgress>),
    Memory(Option<(u64, u64)>),
    Loaded(Option<ModelInfo>),
    Stats(Stats),
    RunNotice(Option<String>),
    Output(String),
    Ids(Vec<u32>),
    /// One more generated token id.
    PushId(u32),
    /// The picture was decoded: its size and tile plan (a PDF's: its first page's, and
    /// its page count).
    PictureInfo {
        size: (u32, u32),
        plan: Option<TilePlan>,
        pages: Option<u32>,
    },
    /// A PDF's pages are read in this order (numbers from 1): one answer each, empty for
    /// now. None: no document answer (a picture's run).
    DocStart(Option<Vec<u32>>),
    /// The answer of the document's `index`th page read so far (`done`: complete, with
    /// its token ids).
    DocPage {
        index: usize,
        text: String,
        done: bool,
        ids: Vec<u32>,
    },
}

/// A PDF read page after page: each page is one run.
#[derive(Debug, Clone, PartialEq)]
struct DocRun {
    /// The pages to read, counted from 0, in order.
    pages: Vec<u32>,
    /// The page being read (an index of `pages`).
    at: usize,
    /// The pages are a PDF's (else the one page is the picture itself).
    pdf: bool,
    /// The prompt every page is asked, as it was at Run.
    prompt: String,
}

impl DocRun {
    /// "page 3 (2 of 5)"
    fn where_(&self) -> String {
        format!(
            "Page {} ({} of {})",
            self.pages[self.at] + 1,
            self.at + 1,
            self.pages.len()
        )
    }
}

/// Download speed over a sliding window of about two seconds.
#[derive(Debug, Default, Clone, PartialEq)]
struct RateMeter {
    file: String,
    samples: Vec<(f64, u64)>,
}

impl RateMeter {
    fn push(&mut self, file: &str, t: f64, loaded: u64) -> Option<f64> {
        if self.file != file {
            self.file = file.to_string();
            self.samples.clear();
        }
        self.samples.push((t, loaded));
        self.samples.retain(|(s, _)| t - s <= 2500.0);
        let (t0, l0) = *self.samples.first()?;
        (t - t0 >= 400.0).then(|| (loaded.saturating_sub(l0)) as f64 / ((t - t0) / 1000.0))
    }
}

/// The page's state: what it shows (mirrored into its signals by the effects) and what
/// it waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub phase: Phase,
    pub progress: Option<LoadProgress>,
    pub loaded: Option<ModelInfo>,
    pub stats: Stats,
    pub run_notice: Option<String>,
    /// The worker build (`relaxed-simd-threads/8`), from its Ready message.
    pub worker_build: String,
    next_id: u32,
    load_id: Option<u32>,
    run_id: Option<u32>,
    image_id: u32,
    has_image: bool,
    /// The page is reading a chosen file.
    reading: bool,
    /// Run was pressed while the file was being read.
    run_when_read: bool,
    /// The picture is a PDF of this many pages.
    document_pages: Option<u32>,
    /// The PDF being read, page after page.
    doc: Option<DocRun>,
    /// Run once the load in progress finishes.
    pending_run: bool,
    /// What the worker has loaded (a crash or a restart forgets it).
    loaded_pick: Option<ModelPick>,
    stop_timer: bool,
    rate: RateMeter,
    /// Hosts the visitor allowed to download from, on this visit.
    consented: Vec<String>,
    /// The hosts asked about, while the question is shown.
    asking: Option<Vec<String>>,
}

impl Default for Machine {
    fn default() -> Self {
        Self {
            phase: Phase::Idle,
            progress: None,
            loaded: None,
            stats: Stats::default(),
            run_notice: None,
            worker_build: String::new(),
            next_id: 0,
            load_id: None,
            run_id: None,
            image_id: 0,
            has_image: false,
            reading: false,
            run_when_read: false,
            document_pages: None,
            doc: None,
            pending_run: false,
            loaded_pick: None,
            stop_timer: false,
            rate: RateMeter::default(),
            consented: Vec::new(),
            asking: None,
        }
    }
}

impl Machine {
    /// What `input` changes, and what the page must do about it.
    pub fn apply(&mut self, page: &Page, input: Input) -> Vec<Effect> {
        let mut fx = Vec::new();
        match input {
            Input::Event(e) => self.event(page, e, &mut fx),
            Input::Crash { message, oom } => self.crashed(&message, oom, &mut fx),
            Input::PictureReading => {
                self.reading = true;
                if !self.phase.busy() {
                    fx.push(Effect::Status("Reading the file…".into()));
                }
            }
            Input::Picture => self.picture(page, &mut fx),
            Input::Run => self.run(page, &mut fx),
            Input::Stop => self.stop(&mut fx),
            Input::StopGrace { run } => {
                if self.run_id == Some(run) {
                    // One frame of the vision encoder cannot be interrupted.
                    self.run_id = None;
                    self.loaded_pick = None;
                    self.stop_timer = false;
                    self.set_loaded(None, &mut fx);
                    fx.push(Effect::RestartWorker);
                    fx.push(Effect::Status("Stopped. The model was restarted and will load again from this browser’s storage.".into()));
                }
            }
            Input::ClearCache => {
                self.loaded_pick = None;
                fx.push(post(Request::ClearCache));
            }
            Input::Fail(failure) => self.fail(failure, &mut fx),
            Input::Consent(yes) => self.consent(page, yes, &mut fx),
        }
        fx
    }

    fn next_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn set_phase(&mut self, phase: Phase, fx: &mut Vec<Effect>) {
        self.phase = phase;
        fx.push(Effect::Phase(phase));
    }

    fn set_progress(&mut self, p: Option<LoadProgress>, fx: &mut Vec<Effect>) {
        self.progress = p.clone();
        fx.push(Effect::Progress(p));
    }

    fn set_loaded(&mut self, l: Option<ModelInfo>, fx: &mut Vec<Effect>) {
        self.loaded = l.clone();
        fx.push(Effect::Loaded(l));
    }

    fn set_run_notice(&mut self, n: Option<String>, fx: &mut Vec<Effect>) {
        self.run_notice = n.clone();
        fx.push(Effect::RunNotice(n));
    }

    fn update_stats(&mut self, f: impl FnOnce(&mut Stats), fx: &mut Vec<Effect>) {
        f(&mut self.stats);
        fx.push(Effect::Stats(self.stats.clone()));
    }

    /// Shows a failure (the page's `error` element and state).
    fn fail(&mut self, failure: Failure, fx: &mut Vec<Effect>) {
        self.reading = false;
        self.run_when_read = false;
        fx.push(Effect::Status(status_of_failure(&failure).to_string()));
        fx.push(Effect::Error(Some(failure)));
        self.set_phase(Phase::Error, fx);
    }

    /// A problem of the visitor's input that needs no worker (no picture, empty question).
    fn refuse(&mut self, message: &str, fx: &mut Vec<Effect>) {
        self.fail(Failure::new(FailureKind::BadRequest, message), fx);
    }

    /// The image settings to plan tiles with before the model is loaded.
    fn settings(&self, page: &Page) -> Option<ImageSettings> {
        self.loaded
            .as_ref()
            .and_then(|i| i.image)
            .or_else(|| page.model.choice().map(|c| c.image))
    }

    /// Asks the worker about the current picture (after a model load).
    fn inspect(&self, page: &Page, fx: &mut Vec<Effect>) {
        if !self.has_image {
            return;
        }
        fx.push(Effect::Post {
            request: Request::Inspect {
                image: self.image_id,
                settings: self.settings(page),
            },
            picture: true,
            files: false,
        });
    }

    fn picture(&mut self, page: &Page, fx: &mut Vec<Effect>) {
        self.reading = false;
        self.has_image = true;
        self.image_id += 1;
        // Known again once the worker has looked at it.
        self.document_pages = None;
        if !self.phase.busy() {
            fx.push(Effect::Error(None));
            self.set_phase(Phase::Idle, fx);
            fx.push(Effect::Status("Checking the picture…".into()));
        }
        self.inspect(page, fx);
        if std::mem::take(&mut self.run_when_read) {
            self.run(page, fx);
        }
    }

    /// The worker died: say why, and start a fresh one (it will load the model again,
    /// from the browser's storage, at the next run).
    fn crashed(&mut self, message: &str, oom: u64, fx: &mut Vec<Effect>) {
        let failure = if oom > 0 {
            Failure::new(
                FailureKind::OutOfMemory,
                format!(
                    "The model ran out of memory (it asked for {} more). It was restarted: pick a smaller model or the fast tile choice, and run again.",
                    ocr_protocol::memory::human_bytes(oom)
                ),
            )
        } else {
            Failure::new(
                FailureKind::Crashed,
                format!("The model stopped unexpectedly ({message}). It was restarted: press Run to try again."),
            )
        };
        let was_busy = self.phase.busy();
        self.loaded_pick = None;
        self.load_id = None;
        self.run_id = None;
        self.pending_run = false;
        if std::mem::take(&mut self.stop_timer) {
            fx.push(Effect::ClearStopTimer);
        }
        self.set_loaded(None, fx);
        self.set_progress(None, fx);
        if was_busy || self.phase != Phase::Error {
            self.fail(failure, fx);
        }
        fx.push(Effect::RestartWorker);
    }

    /// Run: load the model if it is not the one loaded, then answer.
    fn run(&mut self, page: &Page, fx: &mut Vec<Effect>) {
        if self.phase.busy() {
            return;
        }
        if self.reading {
            self.run_when_read = true;
            fx.push(Effect::Status(
                "Reading the file: it runs once read.".into(),
            ));
            return;
        }
        fx.push(Effect::Error(None));
        if !self.has_image {
            self.refuse(
                "Choose a picture first: a file, a photo, a sample, or paste one.",
                fx,
            );
            return;
        }
        if page.prompt.is_empty() {
            self.refuse("Type your question about the picture first.", fx);
            return;
        }
        self.doc = None;
        if let Some(count) = self.document_pages {
            let pages = ocr_protocol::pages::PageRange::parse(&page.pages)
                .and_then(|r| r.pages(count as usize));
            match pages {
                Ok(pages) => {
                    self.doc = Some(DocRun {
                        pages: pages.iter().map(|&p| p as u32).collect(),
                        at: 0,
                        pdf: true,
                        prompt: page.prompt.clone(),
                    })
                }
                Err(e) => {
                    self.refuse(&format!("This PDF’s pages cannot be read so: {e}."), fx);
                    return;
                }
            }
        } else if page.doctags {
            self.doc = Some(DocRun {
                pages: vec![0],
                at: 0,
                pdf: false,
                prompt: page.prompt.clone(),
            });
        }
        fx.push(Effect::Output(String::new()));
        fx.push(Effect::Ids(Vec::new()));
        fx.push(Effect::DocStart(
            self.doc
                .as_ref()
                .map(|d| d.pages.iter().map(|p| p + 1).collect()),
        ));
        if self.loaded_pick.as_ref() == Some(&page.model) {
            self.send_run(page, fx);
            return;
        }
        let unasked: Vec<String> = page
            .foreign_hosts
            .iter()
            .filter(|h| !self.consented.contains(h))
            .cloned()
            .collect();
        if !unasked.is_empty() {
            // A link can name any site: nothing is fetched from one the visitor has not
            // seen named and allowed.
            fx.push(Effect::Status(format!(
                "This link’s model comes from {}. Download it from there?",
                unasked.join(" and ")
            )));
            self.asking = Some(unasked.clone());
            fx.push(Effect::AskConsent(Some(unasked)));
            return;
        }
        self.load(page, true, fx);
    }

    fn consent(&mut self, page: &Page, yes: bool, fx: &mut Vec<Effect>) {
        let Some(hosts) = self.asking.take() else {
            return;
        };
        fx.push(Effect::AskConsent(None));
        if yes {
            self.consented.extend(hosts);
            self.run(page, fx);
        } else {
            fx.push(Effect::Status(
                "Nothing was downloaded. Pick a model from the menu, or open a link to another one.".into(),
            ));
        }
    }

    fn load(&mut self, page: &Page, then_run: bool, fx: &mut Vec<Effect>) {
        let id = self.next_id();
        let (source, files) = match &page.model {
            ModelPick::Menu(m) => match ocr_protocol::models::choice(m) {
                Some(c) => (c.source(), false),
                None => return,
            },
            ModelPick::Link(src) => (src.clone(), false),
            ModelPick::Files(names) => (
                ModelSource::Picked {
                    names: names.clone(),
                },
                true,
            ),
        };
        self.load_id = Some(id);
        self.pending_run = then_run;
        self.loaded_pick = None;
        self.rate = RateMeter::default();
        self.set_loaded(None, fx);
        fx.push(Effect::Memory(None));
        self.set_run_notice(None, fx);
        self.set_phase(Phase::Loading, fx);
        fx.push(Effect::Status("Getting the model ready…".into()));
        self.set_progress(
            Some(LoadProgress {
                stage: Some("Looking for the model…".into()),
                ..Default::default()
            }),
            fx,
        );
        fx.push(Effect::Post {
            request: Request::Load {
                load: id,
                source,
                backend: page.backend,
            },
            picture: false,
            files,
        });
    }

    fn send_run(&mut self, page: &Page, fx: &mut Vec<Effect>) {
        if !self.has_image {
            return;
        }
        let id = self.next_id();
        self.run_id = Some(id);
        self.set_phase(Phase::Encoding, fx);
        fx.push(Effect::Status(self.say("Looking at the picture…")));
        self.set_run_notice(None, fx);
        self.update_stats(
            |s| {
                s.vision_ms = None;
                s.first_token_ms = None;
                s.tokens_per_s = None;
                s.tokens = 0;
            },
            fx,
        );
        // A copy of the picture for the worker (the page keeps its own for the next run).
        fx.push(Effect::Post {
            request: Request::Run(RunRequest {
                run: id,
                prompt: self
                    .doc
                    .as_ref()
                    .map_or_else(|| page.prompt.clone(), |d| d.prompt.clone()),
                tiles: page.tiles,
                max_new_tokens: page.max_new_tokens,
                min_new_tokens: page.min_new_tokens,
                page: self.doc.as_ref().filter(|d| d.pdf).map(|d| d.pages[d.at]),
            }),
            picture: true,
            files: false,
        });
    }

    /// A status line, prefixed with the page being read when a PDF is.
    fn say(&self, text: &str) -> String {
        match &self.doc {
            Some(d) if d.pdf => format!("{}: {}", d.where_(), lower_first(text)),
            _ => text.to_string(),
        }
    }

    /// Stop: cancel the download, or end the run at once (the worker is restarted if it
    /// does not stop within a moment: [`Input::StopGrace`]).
    fn stop(&mut self, fx: &mut Vec<Effect>) {
        match self.phase {
            Phase::Loading => {
                fx.push(post(Request::CancelLoad));
                self.load_id = None;
                self.pending_run = false;
                self.set_progress(None, fx);
                self.set_phase(Phase::Stopped, fx);
                fx.push(Effect::Status(
                    "Download cancelled. What arrived is kept: Run resumes it.".into(),
                ));
            }
            Phase::Encoding | Phase::Generating => {
                let Some(run) = self.run_id else {
                    return;
                };
                fx.push(post(Request::Stop { run }));
                self.set_phase(Phase::Stopped, fx);
                fx.push(Effect::Status("Stopped.".into()));
                self.stop_timer = true;
                fx.push(Effect::StartStopTimer { run });
            }
            _ => {}
        }
    }

    fn event(&mut self, page: &Page, e: Event, fx: &mut Vec<Effect>) {
        let (load_id, run_id, image_id) = (self.load_id, self.run_id, self.image_id);
        match e {
            Event::Ready { build, .. } => {
                self.worker_build = build_name(&build);
                fx.push(Effect::Build(build));
            }
            Event::Memory {
                load,
                files_bytes,
                need_bytes,
            } if Some(load) == load_id => fx.push(Effect::Memory(Some((files_bytes, need_bytes)))),
            Event::Progress {
                load,
                file,
                loaded,
                total,
                from_cache,
            } if Some(load) == load_id => {
                let rate = if from_cache {
                    None
                } else {
                    self.rate.push(&file, page.now, loaded)
                };
                self.set_progress(
                    Some(LoadProgress {
                        file,
                        loaded,
                        total,
                        from_cache,
                        rate,
                        stage: None,
                    }),
                    fx,
                );
            }
            Event::Stage { load, text } if Some(load) == load_id => {
                fx.push(Effect::Status(text.clone()));
                if let Some(mut p) = self.progress.clone() {
                    p.stage = Some(text);
                    self.set_progress(Some(p), fx);
                }
            }
            Event::Loaded { load, info } if Some(load) == load_id => {
                self.load_id = None;
                self.loaded_pick = Some(page.model.clone());
                let run = std::mem::take(&mut self.pending_run);
                self.update_stats(
                    |s| {
                        s.backend = Some(info.backend.clone());
                        s.load_ms = Some(info.load_ms);
                        s.from_cache = info.from_cache;
                    },
                    fx,
                );
                if page.backend == BackendChoice::Auto {
                    fx.push(Effect::Remember {
                        key: AUTO_BACKEND_KEY.into(),
                        value: info.backend.clone(),
                    });
                }
                self.set_progress(None, fx);
                self.set_loaded(Some(info), fx);
                // The picture's tiles, now with the model's own settings.
                self.inspect(page, fx);
                if run {
                    self.send_run(page, fx);
                } else {
                    self.set_phase(Phase::Idle, fx);
                    fx.push(Effect::Status("The model is ready.".into()));
                }
            }
            Event::ImageInfo {
                image,
                width,
                height,
                plan,
                pages,
            } if image == image_id => {
                self.document_pages = pages;
                fx.push(Effect::PictureInfo {
                    size: (width, height),
                    plan,
                    pages,
                });
                if !self.phase.busy() {
                    fx.push(Effect::Status(match pages {
                        Some(n) => format!(
                            "PDF ready ({n} page{}): press Run.",
                            if n == 1 { "" } else { "s" }
                        ),
                        None => format!("Picture ready ({width} × {height}): press Run."),
                    }));
                }
            }
            // After a Stop, what is still on its way changes nothing shown.
            Event::Encoding { run, done, frames }
                if Some(run) == run_id && self.phase != Phase::Stopped =>
            {
                self.set_phase(Phase::Encoding, fx);
                fx.push(Effect::Status(self.say(&if frames == 1 {
                    "Looking at the picture…".to_string()
                } else {
                    format!("Looking at the picture: part {} of {frames}…", done + 1)
                })));
            }
            Event::Notice { run, backend, text } if Some(run) == run_id => {
                // The GPU was lost: the CPU runs on. Shown until the next run, never silent.
                self.update_stats(|s| s.backend = Some(backend.clone()), fx);
                if let Some(mut info) = self.loaded.clone() {
                    info.backend = backend;
                    self.set_loaded(Some(info), fx);
                }
                self.set_run_notice(Some(text), fx);
            }
            Event::Token { run, id, text }
                if Some(run) == run_id && self.phase != Phase::Stopped =>
            {
                self.set_phase(Phase::Generating, fx);
                fx.push(Effect::Status(self.say("Writing…")));
                fx.push(Effect::PushId(id));
                match &self.doc {
                    Some(d) => fx.push(Effect::DocPage {
                        index: d.at,
                        text,
                        done: false,
                        ids: Vec::new(),
                    }),
                    None => fx.push(Effect::Output(text)),
                }
            }
            Event::Done { run, result } if Some(run) == run_id => {
                self.run_id = None;
                if std::mem::take(&mut self.stop_timer) {
                    fx.push(Effect::ClearStopTimer);
                }
                let t = &result.timings;
                // A run that changed backends on the way says nothing of either's speed.
                let changed = self.run_notice.is_some();
                if t.frames > 0 && t.vision_ms > 0.0 && result.stop != StopKind::Stopped && !changed
                {
                    fx.push(Effect::Remember {
                        key: frames_key(&page.model, &result.backend, &self.worker_build),
                        value: format!("{:.0}", t.vision_ms / t.frames as f64),
                    });
                }
                self.update_stats(
                    |s| {
                        s.backend = Some(result.backend.clone());
                        s.vision_ms = Some(t.vision_ms);
                        s.frames = t.frames;
                        s.first_token_ms = (t.first_token_ms > 0.0).then_some(t.first_token_ms);
                        s.tokens_per_s = t.decode_tokens_per_s;
                        s.tokens = result.generated_ids.len();
                    },
                    fx,
                );
                if self.phase == Phase::Stopped {
                    // Stopped by the visitor: the answer stays as it was at the click.
                    return;
                }
                fx.push(Effect::Ids(result.generated_ids.clone()));
                if let Some(d) = self.doc.as_mut() {
                    fx.push(Effect::DocPage {
                        index: d.at,
                        text: result.text,
                        done: true,
                        ids: result.generated_ids,
                    });
                    let more = result.stop != StopKind::Stopped && d.at + 1 < d.pages.len();
                    if more {
                        // The next page, as one more run (Stop works between pages).
                        d.at += 1;
                        self.send_run(page, fx);
                        return;
                    }
                } else {
                    fx.push(Effect::Output(result.text));
                }
                if result.stop == StopKind::Stopped {
                    self.set_phase(Phase::Stopped, fx);
                    fx.push(Effect::Status("Stopped.".into()));
                } else {
                    self.set_phase(Phase::Done, fx);
                    fx.push(Effect::Status(match &self.doc {
                        Some(d) if d.pages.len() > 1 => {
                            format!("Done: {} pages.", d.pages.len())
                        }
                        _ => "Done.".into(),
                    }));
                }
            }
            Event::Failed { scope, failure } => {
                let ours = match scope {
                    Scope::Load(id) => Some(id) == load_id,
                    Scope::Run(id) => Some(id) == run_id,
                    Scope::Image(id) => id == image_id,
                    Scope::Worker => true,
                    Scope::Bench => false,
                };
                if !ours {
                    return;
                }
                if scope == Scope::Worker && failure.kind == FailureKind::Crashed {
                    // A panic: the module traps right after; restart now.
                    self.crashed(&failure.message, 0, fx);
                    self.fail(failure, fx);
                    return;
                }
                let mut failure = failure;
                match scope {
                    Scope::Load(_) => {
                        self.load_id = None;
                        self.pending_run = false;
                    }
                    Scope::Run(_) => {
                        self.run_id = None;
                        if let Some(d) = self.doc.as_ref().filter(|d| d.pdf) {
                            failure.message = format!("{}: {}", d.where_(), failure.message);
                        }
                    }
                    _ => {}
                }
                if matches!(scope, Scope::Image(_)) && self.phase.busy() {
                    // A run reports its own failure.
                    return;
                }
                self.set_progress(None, fx);
                self.fail(failure, fx);
            }
            Event::CacheCleared => {
                fx.push(Effect::Status(
                    "The downloaded models were deleted from this browser.".into(),
                ));
            }
            _ => {}
        }
    }
}

/// "Writing…" → "writing…", to follow "Page 2 (1 of 3): ".
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn post(request: Request) -> Effect {
    Effect::Post {
        request,
        picture: false,
        files: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocr_protocol::models::default_choice;
    use ocr_protocol::{RunResult, Timings};

    fn page() -> Page {
        Page {
            model: ModelPick::Menu(default_choice().id),
            backend: BackendChoice::Auto,
            prompt: "Extract all the text in this image.".into(),
            tiles: Tiles::Max(0),
            max_new_tokens: 512,
            min_new_tokens: 0,
            now: 0.0,
            foreign_hosts: Vec::new(),
            pages: String::new(),
            doctags: false,
        }
    }

    fn own_settings() -> ImageSettings {
        ImageSettings {
            longest_edge: 1536,
            tile: 384,
            split: true,
        }
    }

    fn info(backend: &str) -> ModelInfo {
        ModelInfo {
            label: "m.gguf".into(),
            backend: backend.into(),
            files_bytes: 1000,
            from_cache: true,
            load_ms: 250.0,
            image: Some(own_settings()),
            max_context: 8192,
            image_seq_len: 64,
            doctags: false,
        }
    }

    fn ev(m: &mut Machine, e: Event) -> Vec<Effect> {
        m.apply(&page(), Input::Event(e))
    }

    fn statuses(fx: &[Effect]) -> Vec<&str> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Status(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    fn posted(fx: &[Effect]) -> Vec<&Request> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Post { request, .. } => Some(request),
                _ => None,
            })
            .collect()
    }

    fn result(stop: StopKind, backend: &str) -> RunResult {
        RunResult {
            prompt_ids: vec![1, 2],
            generated_ids: vec![7, 8, 9],
            text: "Hello".into(),
            stop,
            backend: backend.into(),
            timings: Timings {
                vision_ms: 300.0,
                frames: 2,
                first_token_ms: 400.0,
                decode_tokens_per_s: Some(20.0),
                ..Default::default()
            },
        }
    }

    /// A picture, Run, and the model loaded (load 1): run 2 is encoding.
    fn running(backend: &str) -> Machine {
        let mut m = Machine::default();
        m.apply(&page(), Input::Picture);
        m.apply(&page(), Input::Run);
        ev(
            &mut m,
            Event::Loaded {
                load: 1,
                info: info(backend),
            },
        );
        assert_eq!((m.phase, m.run_id), (Phase::Encoding, Some(2)));
        m
    }

    #[test]
    fn a_picture_is_checked_with_the_menus_settings_before_a_model_is_loaded() {
        let mut m = Machine::default();
        let fx = m.apply(&page(), Input::Picture);
        assert_eq!(
            fx,
            [
                Effect::Error(None),
                Effect::Phase(Phase::Idle),
                Effect::Status("Checking the picture…".into()),
                Effect::Post {
                    request: Request::Inspect {
                        image: 1,
                        settings: Some(default_choice().image),
                    },
                    picture: true,
                    files: false,
                },
            ]
        );
        let info = |image| Event::ImageInfo {
            image,
            width: 640,
            height: 480,
            plan: None,
            pages: None,
        };
        // An answer about an older picture says nothing.
        assert_eq!(ev(&mut m, info(0)), []);
        assert_eq!(
            ev(&mut m, info(1)),
            [
                Effect::PictureInfo {
                    size: (640, 480),
                    plan: None,
                    pages: None,
                },
                Effect::Status("Picture ready (640 × 480): press Run.".into()),
            ]
        );
    }

    #[test]
    fn a_picture_taken_during_a_run_leaves_the_status_alone() {
        let mut m = running("wasm");
        let fx = m.apply(&page(), Input::Picture);
        assert_eq!(
            posted(&fx),
            [&Request::Inspect {
                image: 2,
                settings: Some(own_settings()),
            }]
        );
        assert_eq!(statuses(&fx), Vec::<&str>::new());
        assert_eq!(m.phase, Phase::Encoding);
        let fx = ev(
            &mut m,
            Event::ImageInfo {
                image: 2,
                width: 1,
                height: 1,
                plan: None,
                pages: None,
            },
        );
        assert_eq!(statuses(&fx), Vec::<&str>::new());
    }

    #[test]
    fn run_without_a_picture_or_a_prompt_is_refused() {
        let mut m = Machine::default();
        let fx = m.apply(&page(), Input::Run);
        assert_eq!(
            fx,
            [
                Effect::Error(None),
                Effect::Status("Something is missing.".into()),
                Effect::Error(Some(Failure::new(
                    FailureKind::BadRequest,
                    "Choose a picture first: a file, a photo, a sample, or paste one."
                ))),
                Effect::Phase(Phase::Error),
            ]
        );
        m.apply(&page(), Input::Picture);
        let empty = Page {
            prompt: String::new(),
            ..page()
        };
        let fx = m.apply(&empty, Input::Run);
        assert!(fx.contains(&Effect::Error(Some(Failure::new(
            FailureKind::BadRequest,
            "Type your question about the picture first."
        )))));
        assert_eq!(posted(&fx), Vec::<&Request>::new());
        assert_eq!(m.phase, Phase::Error);
    }

    #[test]
    fn run_loads_the_model_showing_download_progress_then_runs() {
        let mut m = Machine::default();
        m.apply(&page(), Input::Picture);
        let fx = m.apply(&page(), Input::Run);
        assert_eq!(
            fx,
            [
                Effect::Error(None),
                Effect::Output(String::new()),
                Effect::Ids(Vec::new()),
                Effect::DocStart(None),
                Effect::Loaded(None),
                Effect::Memory(None),
                Effect::RunNotice(None),
                Effect::Phase(Phase::Loading),
                Effect::Status("Getting the model ready…".into()),
                Effect::Progress(Some(LoadProgress {
                    stage: Some("Looking for the model…".into()),
                    ..Default::default()
                })),
                Effect::Post {
                    request: Request::Load {
                        load: 1,
                        source: default_choice().source(),
                        backend: BackendChoice::Auto,
                    },
                    picture: false,
                    files: false,
                },
            ]
        );
        // Busy: a second Run does nothing.
        assert_eq!(m.apply(&page(), Input::Run), []);

        let progress = |load, loaded, from_cache| Event::Progress {
            load,
            file: "m.gguf".into(),
            loaded,
            total: Some(4_000_000),
            from_cache,
        };
        let at = |now| Page { now, ..page() };
        let fx = m.apply(&at(0.0), Input::Event(progress(1, 0, false)));
        assert_eq!(
            fx,
            [Effect::Progress(Some(LoadProgress {
                file: "m.gguf".into(),
                loaded: 0,
                total: Some(4_000_000),
                from_cache: false,
                rate: None,
                stage: None,
            }))]
        );
        m.apply(&at(1000.0), Input::Event(progress(1, 1_000_000, false)));
        assert_eq!(m.progress.as_ref().unwrap().rate, Some(1_000_000.0));
        // Read from the browser's storage: no download rate.
        m.apply(&at(2000.0), Input::Event(progress(1, 3_000_000, true)));
        let p = m.progress.clone().unwrap();
        assert_eq!((p.from_cache, p.rate, p.loaded), (true, None, 3_000_000));
        // Another load's events say nothing.
        assert_eq!(
            m.apply(&at(3000.0), Input::Event(progress(9, 5, false))),
            []
        );

        let fx = ev(
            &mut m,
            Event::Memory {
                load: 1,
                files_bytes: 10,
                need_bytes: 20,
            },
        );
        assert_eq!(fx, [Effect::Memory(Some((10, 20)))]);
        let fx = ev(
            &mut m,
            Event::Stage {
                load: 1,
                text: "Reading the weights…".into(),
            },
        );
        assert_eq!(statuses(&fx), ["Reading the weights…"]);
        assert_eq!(
            m.progress.as_ref().unwrap().stage.as_deref(),
            Some("Reading the weights…")
        );

        let fx = ev(
            &mut m,
            Event::Loaded {
                load: 1,
                info: info("webgpu"),
            },
        );
        // backend=auto remembers where it ran; the picture is planned again with the
        // model's own settings, then the run starts.
        assert!(fx.contains(&Effect::Remember {
            key: AUTO_BACKEND_KEY.into(),
            value: "webgpu".into()
        }));
        assert!(fx.contains(&Effect::Progress(None)));
        assert!(fx.contains(&Effect::Loaded(Some(info("webgpu")))));
        assert_eq!(
            posted(&fx),
            [
                &Request::Inspect {
                    image: 1,
                    settings: Some(own_settings()),
                },
                &Request::Run(RunRequest {
                    run: 2,
                    prompt: "Extract all the text in this image.".into(),
                    tiles: Tiles::Max(0),
                    max_new_tokens: 512,
                    min_new_tokens: 0,
                    page: None,
                }),
            ]
        );
        assert_eq!(statuses(&fx), ["Looking at the picture…"]);
        assert_eq!(m.phase, Phase::Encoding);
        assert_eq!(m.stats.backend.as_deref(), Some("webgpu"));
        assert_eq!(m.stats.load_ms, Some(250.0));
    }

    #[test]
    fn a_chosen_backend_is_not_remembered_and_picked_files_go_with_the_load() {
        let mut m = Machine::default();
        let files = Page {
            model: ModelPick::Files(vec!["a.gguf".into(), "mmproj.gguf".into()]),
            backend: BackendChoice::Wasm,
            ..page()
        };
        m.apply(&files, Input::Picture);
        let fx = m.apply(&files, Input::Run);
        assert!(fx.contains(&Effect::Post {
            request: Request::Load {
                load: 1,
                source: ModelSource::Picked {
                    names: vec!["a.gguf".into(), "mmproj.gguf".into()]
                },
                backend: BackendChoice::Wasm,
            },
            picture: false,
            files: true,
        }));
        let fx = m.apply(
            &files,
            Input::Event(Event::Loaded {
                load: 1,
                info: info("wasm"),
            }),
        );
        assert!(!fx.iter().any(|e| matches!(e, Effect::Remember { .. })));
    }

    #[test]
    fn the_same_model_runs_again_without_loading_and_another_loads() {
        let mut m = running("wasm");
        ev(
            &mut m,
            Event::Done {
                run: 2,
                result: result(StopKind::StopToken, "wasm"),
            },
        );
        let fx = m.apply(&page(), Input::Run);
        assert!(matches!(
            posted(&fx)[..],
            [Request::Run(RunRequest { run: 3, .. })]
        ));
        ev(
            &mut m,
            Event::Done {
                run: 3,
                result: result(StopKind::StopToken, "wasm"),
            },
        );
        let other = Page {
            model: ModelPick::Menu("500m-q8_0"),
            ..page()
        };
        let fx = m.apply(&other, Input::Run);
        assert!(matches!(posted(&fx)[..], [Request::Load { load: 4, .. }]));
    }

    #[test]
    fn run_pressed_while_the_file_is_read_runs_once_it_is_read() {
        let mut m = Machine::default();
        let fx = m.apply(&page(), Input::PictureReading);
        assert_eq!(statuses(&fx), ["Reading the file…"]);
        // Not "choose a picture first": the run waits for the file.
        let fx = m.apply(&page(), Input::Run);
        assert!(posted(&fx).is_empty(), "{fx:?}");
        assert_eq!(statuses(&fx), ["Reading the file: it runs once read."]);
        assert!(!fx.iter().any(|e| matches!(e, Effect::Error(Some(_)))));
        let fx = m.apply(&page(), Input::Picture);
        assert!(
            matches!(
                posted(&fx)[..],
                [Request::Inspect { .. }, Request::Load { .. }]
            ),
            "{fx:?}"
        );
        assert_eq!(m.phase, Phase::Loading);

        // A file that cannot be read forgets the waiting run.
        let mut m = Machine::default();
        m.apply(&page(), Input::PictureReading);
        m.apply(&page(), Input::Run);
        m.apply(
            &page(),
            Input::Fail(Failure::new(FailureKind::ImageUnsupported, "unreadable")),
        );
        let fx = m.apply(&page(), Input::Picture);
        assert!(
            matches!(posted(&fx)[..], [Request::Inspect { .. }]),
            "{fx:?}"
        );
    }

    #[test]
    fn smoldocling_from_the_menu_loads_its_hub_folder() {
        let pick = Page {
            model: ModelPick::Menu("smoldocling-256m-bf16"),
            ..page()
        };
        let mut m = Machine::default();
        m.apply(&pick, Input::Picture);
        let fx = m.apply(&pick, Input::Run);
        let [Request::Load { source, .. }] = &posted(&fx)[..] else {
            panic!("{fx:?}")
        };
        assert_eq!(
            source,
            &ModelSource::HubFolder {
                url:
                    "https://huggingface.co/docling-project/SmolDocling-256M-preview/resolve/main/"
                        .into()
            }
        );
        assert_eq!(m.phase, Phase::Loading);
    }

    #[test]
    fn a_model_from_another_site_is_downloaded_only_once_the_visitor_allows_it() {
        let link = Page {
            model: ModelPick::Link(ModelSource::HubFolder {
                url: "https://models.example.net/m/".into(),
            }),
            foreign_hosts: vec!["models.example.net".into()],
            ..page()
        };
        let mut m = Machine::default();
        m.apply(&link, Input::Picture);
        // Run asks, naming the host, and posts nothing.
        let fx = m.apply(&link, Input::Run);
        assert!(posted(&fx).is_empty(), "{fx:?}");
        assert!(fx.contains(&Effect::AskConsent(Some(vec!["models.example.net".into()]))));
        assert!(statuses(&fx)[0].contains("models.example.net"));
        assert_eq!(m.phase, Phase::Idle);
        // No: nothing is loaded, and the question goes away.
        let fx = m.apply(&link, Input::Consent(false));
        assert!(posted(&fx).is_empty());
        assert!(fx.contains(&Effect::AskConsent(None)));
        assert!(statuses(&fx)[0].contains("Nothing was downloaded"));
        // An answer nobody asked for does nothing.
        assert!(m.apply(&link, Input::Consent(true)).is_empty());
        // Asked again; yes: the load starts at once.
        m.apply(&link, Input::Run);
        let fx = m.apply(&link, Input::Consent(true));
        assert!(matches!(posted(&fx)[..], [Request::Load { .. }]), "{fx:?}");
        assert_eq!(m.phase, Phase::Loading);
        // The same host is not asked about again on this visit, even for another model
        // (a failed load makes the next Run load again).
        m.apply(
            &link,
            Input::Fail(Failure::new(FailureKind::ModelHttp, "answered 500")),
        );
        let fx = m.apply(&link, Input::Run);
        assert!(matches!(posted(&fx)[..], [Request::Load { .. }]), "{fx:?}");
    }

    #[test]
    fn encoding_says_which_frame_and_tokens_write_the_answer() {
        let mut m = running("wasm");
        let enc = |done, frames| Event::Encoding {
            run: 2,
            done,
            frames,
        };
        assert_eq!(
            ev(&mut m, enc(0, 1)),
            [
                Effect::Phase(Phase::Encoding),
                Effect::Status("Looking at the picture…".into())
            ]
        );
        assert_eq!(
            statuses(&ev(&mut m, enc(2, 5))),
            ["Looking at the picture: part 3 of 5…"]
        );
        // Another run's frames say nothing.
        assert_eq!(
            ev(
                &mut m,
                Event::Encoding {
                    run: 1,
                    done: 0,
                    frames: 3
                }
            ),
            []
        );
        let fx = ev(
            &mut m,
            Event::Token {
                run: 2,
                id: 42,
                text: "He".into(),
            },
        );
        assert_eq!(
            fx,
            [
                Effect::Phase(Phase::Generating),
                Effect::Status("Writing…".into()),
                Effect::PushId(42),
                Effect::Output("He".into()),
            ]
        );
    }

    #[test]
    fn done_shows_the_answer_and_remembers_the_frames_time_on_this_build() {
        let mut m = running("wasm");
        ev(
            &mut m,
            Event::Ready {
                simd128: true,
                build: Build {
                    name: "relaxed-simd-threads".into(),
                    threads: 8,
                    why: None,
                },
            },
        );
        let fx = ev(
            &mut m,
            Event::Done {
                run: 2,
                result: result(StopKind::StopToken, "wasm"),
            },
        );
        let key = format!(
            "ocr-ms-per-frame:wasm:relaxed-simd-threads/8:{}",
            page().model.label()
        );
        assert_eq!(
            fx[0],
            Effect::Remember {
                key,
                value: "150".into()
            }
        );
        assert_eq!(
            fx[2..],
            [
                Effect::Ids(vec![7, 8, 9]),
                Effect::Output("Hello".into()),
                Effect::Phase(Phase::Done),
                Effect::Status("Done.".into()),
            ]
        );
        let s = &m.stats;
        assert_eq!(
            (
                s.vision_ms,
                s.frames,
                s.first_token_ms,
                s.tokens,
                s.tokens_per_s
            ),
            (Some(300.0), 2, Some(400.0), 3, Some(20.0))
        );
        assert_eq!(m.run_id, None);
        // The GPU's key names no build.
        assert_eq!(
            frames_key(&page().model, "webgpu", "simd128/1"),
            format!("ocr-ms-per-frame:webgpu:{}", page().model.label())
        );
    }

    #[test]
    fn a_run_the_worker_ended_early_is_stopped_and_teaches_no_speed() {
        let mut m = running("wasm");
        let fx = ev(
            &mut m,
            Event::Done {
                run: 2,
                result: result(StopKind::Stopped, "wasm"),
            },
        );
        assert!(!fx.iter().any(|e| matches!(e, Effect::Remember { .. })));
        assert_eq!(statuses(&fx), ["Stopped."]);
        assert_eq!(m.phase, Phase::Stopped);
    }

    #[test]
    fn stop_during_a_run_keeps_the_answer_as_it_was() {
        let mut m = running("wasm");
        ev(
            &mut m,
            Event::Token {
                run: 2,
                id: 1,
                text: "A".into(),
            },
        );
        let fx = m.apply(&page(), Input::Stop);
        assert_eq!(
            fx,
            [
                post(Request::Stop { run: 2 }),
                Effect::Phase(Phase::Stopped),
                Effect::Status("Stopped.".into()),
                Effect::StartStopTimer { run: 2 },
            ]
        );
        // Tokens on the way change nothing shown.
        let fx = ev(
            &mut m,
            Event::Token {
                run: 2,
                id: 2,
                text: "AB".into(),
            },
        );
        assert_eq!(fx, []);
        let fx = ev(
            &mut m,
            Event::Done {
                run: 2,
                result: result(StopKind::Stopped, "wasm"),
            },
        );
        assert_eq!(fx[0], Effect::ClearStopTimer);
        assert!(matches!(fx[1..], [Effect::Stats(_)]), "{fx:?}");
        assert_eq!(m.phase, Phase::Stopped);
        // The worker stopped in time: the grace period ends with nothing to do.
        assert_eq!(m.apply(&page(), Input::StopGrace { run: 2 }), []);
        // The model is still loaded: Run runs.
        let fx = m.apply(&page(), Input::Run);
        assert!(matches!(posted(&fx)[..], [Request::Run(_)]));
    }

    #[test]
    fn a_worker_that_does_not_stop_is_restarted_and_loads_again() {
        let mut m = running("wasm");
        m.apply(&page(), Input::Stop);
        let fx = m.apply(&page(), Input::StopGrace { run: 2 });
        assert_eq!(
            fx,
            [
                Effect::Loaded(None),
                Effect::RestartWorker,
                Effect::Status(
                    "Stopped. The model was restarted and will load again from this browser’s storage."
                        .into()
                ),
            ]
        );
        assert_eq!(m.phase, Phase::Stopped);
        // Its late answer is not ours any more.
        let late = ev(
            &mut m,
            Event::Done {
                run: 2,
                result: result(StopKind::Stopped, "wasm"),
            },
        );
        assert_eq!(late, []);
        let fx = m.apply(&page(), Input::Run);
        assert!(matches!(posted(&fx)[..], [Request::Load { load: 3, .. }]));
    }

    #[test]
    fn stop_during_the_download_cancels_it() {
        let mut m = Machine::default();
        m.apply(&page(), Input::Picture);
        m.apply(&page(), Input::Run);
        let fx = m.apply(&page(), Input::Stop);
        assert_eq!(
            fx,
            [
                post(Request::CancelLoad),
                Effect::Progress(None),
                Effect::Phase(Phase::Stopped),
                Effect::Status("Download cancelled. What arrived is kept: Run resumes it.".into()),
            ]
        );
        // Stop again, and a load that finishes anyway, do nothing.
        assert_eq!(m.apply(&page(), Input::Stop), []);
        let fx = ev(
            &mut m,
            Event::Loaded {
                load: 1,
                info: info("wasm"),
            },
        );
        assert_eq!(fx, []);
        assert_eq!(m.phase, Phase::Stopped);
    }

    #[test]
    fn each_failure_is_explained_in_the_status_and_the_error() {
        let cases = [
            (FailureKind::ImageUnsupported, "This file cannot be used."),
            (FailureKind::ImageCorrupt, "This file cannot be used."),
            (FailureKind::ImageTooLarge, "This file cannot be used."),
            (FailureKind::ModelAddress, "The model could not be used."),
            (
                FailureKind::ModelUnreachable,
                "The model could not be used.",
            ),
            (FailureKind::ModelHttp, "The model could not be used."),
            (FailureKind::ModelCorrupt, "The model could not be used."),
            (
                FailureKind::DownloadInterrupted,
                "The download was interrupted.",
            ),
            (FailureKind::Cancelled, "Download cancelled."),
            (
                FailureKind::OutOfMemory,
                "Not enough memory for this model.",
            ),
            (
                FailureKind::BackendUnavailable,
                "The model could not be used.",
            ),
            (FailureKind::Storage, "The model could not be used."),
            (FailureKind::BadRequest, "Something is missing."),
            (FailureKind::Internal, "The model could not be used."),
        ];
        for (kind, status) in cases {
            // During the load…
            let mut m = Machine::default();
            m.apply(&page(), Input::Picture);
            m.apply(&page(), Input::Run);
            let failure = Failure::new(kind, format!("{kind:?} said"));
            let fx = ev(
                &mut m,
                Event::Failed {
                    scope: Scope::Load(1),
                    failure: failure.clone(),
                },
            );
            assert_eq!(
                fx,
                [
                    Effect::Progress(None),
                    Effect::Status(status.into()),
                    Effect::Error(Some(failure.clone())),
                    Effect::Phase(Phase::Error),
                ],
                "{kind:?}"
            );
            // …which will not run when it finishes anyway.
            let fx = ev(
                &mut m,
                Event::Loaded {
                    load: 1,
                    info: info("wasm"),
                },
            );
            assert_eq!(fx, [], "{kind:?}");
            // During a run.
            let mut m = running("wasm");
            let fx = ev(
                &mut m,
                Event::Failed {
                    scope: Scope::Run(2),
                    failure: failure.clone(),
                },
            );
            assert_eq!(statuses(&fx), [status], "{kind:?}");
            assert_eq!((m.phase, m.run_id), (Phase::Error, None));
        }
    }

    #[test]
    fn failures_of_others_are_not_shown() {
        let mut m = running("wasm");
        let failed = |scope| Event::Failed {
            scope,
            failure: Failure::new(FailureKind::Internal, "x"),
        };
        assert_eq!(ev(&mut m, failed(Scope::Bench)), []);
        assert_eq!(ev(&mut m, failed(Scope::Run(1))), []);
        assert_eq!(ev(&mut m, failed(Scope::Load(1))), []);
        assert_eq!(ev(&mut m, failed(Scope::Image(7))), []);
        // The current picture, during a run: the run reports its own failure.
        assert_eq!(ev(&mut m, failed(Scope::Image(1))), []);
        assert_eq!(m.phase, Phase::Encoding);
        // A picture the worker cannot read, when idle, is shown.
        let mut m = Machine::default();
        m.apply(&page(), Input::Picture);
        let fx = ev(
            &mut m,
            Event::Failed {
                scope: Scope::Image(1),
                failure: Failure::new(FailureKind::ImageCorrupt, "corrupt PNG"),
            },
        );
        assert_eq!(statuses(&fx), ["This file cannot be used."]);
        assert_eq!(m.phase, Phase::Error);
    }

    #[test]
    fn a_crash_during_a_run_is_explained_and_the_worker_restarted() {
        let mut m = running("wasm");
        m.apply(&page(), Input::Stop);
        let fx = m.apply(
            &page(),
            Input::Crash {
                message: "unreachable".into(),
                oom: 0,
            },
        );
        assert_eq!(
            fx,
            [
                Effect::ClearStopTimer,
                Effect::Loaded(None),
                Effect::Progress(None),
                Effect::Status("The model stopped unexpectedly.".into()),
                Effect::Error(Some(Failure::new(
                    FailureKind::Crashed,
                    "The model stopped unexpectedly (unreachable). It was restarted: press Run to try again."
                ))),
                Effect::Phase(Phase::Error),
                Effect::RestartWorker,
            ]
        );
        // The fresh worker loads the model again at the next run.
        let fx = m.apply(&page(), Input::Run);
        assert!(matches!(posted(&fx)[..], [Request::Load { load: 3, .. }]));
    }

    #[test]
    fn a_crash_out_of_memory_says_how_much_was_asked() {
        let mut m = running("wasm");
        let fx = m.apply(
            &page(),
            Input::Crash {
                message: "x".into(),
                oom: 300_000_000,
            },
        );
        let Some(Effect::Error(Some(f))) = fx.iter().find(|e| matches!(e, Effect::Error(_))) else {
            panic!("{fx:?}");
        };
        assert_eq!(f.kind, FailureKind::OutOfMemory);
        assert_eq!(
            f.message,
            format!(
                "The model ran out of memory (it asked for {} more). It was restarted: pick a smaller model or the fast tile choice, and run again.",
                ocr_protocol::memory::human_bytes(300_000_000)
            )
        );
        assert_eq!(statuses(&fx), ["Not enough memory for this model."]);
    }

    #[test]
    fn a_crash_after_an_error_keeps_that_error_but_restarts() {
        let mut m = Machine::default();
        m.apply(&page(), Input::Run); // refused: no picture
        let fx = m.apply(
            &page(),
            Input::Crash {
                message: "x".into(),
                oom: 0,
            },
        );
        assert_eq!(
            fx,
            [
                Effect::Loaded(None),
                Effect::Progress(None),
                Effect::RestartWorker
            ]
        );
    }

    #[test]
    fn a_worker_panic_restarts_it_and_shows_the_panic() {
        let mut m = running("wasm");
        let panic = Failure::new(FailureKind::Crashed, "panicked at model.rs");
        let fx = ev(
            &mut m,
            Event::Failed {
                scope: Scope::Worker,
                failure: panic.clone(),
            },
        );
        assert!(fx.contains(&Effect::RestartWorker));
        assert_eq!(
            fx[fx.len() - 3..],
            [
                Effect::Status("The model stopped unexpectedly.".into()),
                Effect::Error(Some(panic)),
                Effect::Phase(Phase::Error),
            ]
        );
        assert_eq!((m.run_id, m.loaded_pick.as_ref()), (None, None));
    }

    #[test]
    fn a_lost_gpu_is_said_until_the_next_run_and_teaches_no_speed() {
        let mut m = running("webgpu");
        let text = "The GPU was lost after 3 tokens; the CPU finishes the run.";
        let fx = ev(
            &mut m,
            Event::Notice {
                run: 2,
                backend: "wasm".into(),
                text: text.into(),
            },
        );
        assert!(matches!(fx[0], Effect::Stats(_)));
        assert_eq!(
            fx[1..],
            [
                Effect::Loaded(Some(info("wasm"))),
                Effect::RunNotice(Some(text.into())),
            ]
        );
        assert_eq!(m.stats.backend.as_deref(), Some("wasm"));
        let fx = ev(
            &mut m,
            Event::Done {
                run: 2,
                result: result(StopKind::StopToken, "wasm"),
            },
        );
        assert!(!fx.iter().any(|e| matches!(e, Effect::Remember { .. })));
        assert_eq!(m.phase, Phase::Done);
        // The next run (on the CPU, the model still loaded) clears the notice.
        let fx = m.apply(&page(), Input::Run);
        assert!(fx.contains(&Effect::RunNotice(None)));
        assert!(matches!(posted(&fx)[..], [Request::Run(_)]));
        assert_eq!(m.run_notice, None);
    }

    #[test]
    fn clearing_the_cache_forgets_the_loaded_model() {
        let mut m = running("wasm");
        ev(
            &mut m,
            Event::Done {
                run: 2,
                result: result(StopKind::StopToken, "wasm"),
            },
        );
        assert_eq!(
            m.apply(&page(), Input::ClearCache),
            [post(Request::ClearCache)]
        );
        assert_eq!(
            ev(&mut m, Event::CacheCleared),
            [Effect::Status(
                "The downloaded models were deleted from this browser.".into()
            )]
        );
        let fx = m.apply(&page(), Input::Run);
        assert!(matches!(posted(&fx)[..], [Request::Load { .. }]));
    }

    #[test]
    fn ready_names_the_build_and_a_page_failure_is_shown() {
        let mut m = Machine::default();
        let build = Build {
            name: "simd128".into(),
            threads: 1,
            why: Some("one thread".into()),
        };
        let fx = ev(
            &mut m,
            Event::Ready {
                simd128: true,
                build: build.clone(),
            },
        );
        assert_eq!(fx, [Effect::Build(build)]);
        assert_eq!(m.worker_build, "simd128/1");
        let f = Failure::new(
            FailureKind::ModelAddress,
            "model address \"x\" is not a URL",
        );
        let fx = m.apply(&page(), Input::Fail(f.clone()));
        assert_eq!(
            fx,
            [
                Effect::Status("The model could not be used.".into()),
                Effect::Error(Some(f)),
                Effect::Phase(Phase::Error),
            ]
        );
    }

    /// A 3-page PDF checked (image 1), a model loaded, and the pages `range` asked for.
    fn reading_pdf(range: &str) -> (Machine, Page, Vec<Effect>) {
        let mut m = Machine::default();
        let p = Page {
            pages: range.into(),
            ..page()
        };
        m.apply(&p, Input::Picture);
        let fx = ev(
            &mut m,
            Event::ImageInfo {
                image: 1,
                width: 1448,
                height: 2048,
                plan: None,
                pages: Some(3),
            },
        );
        assert_eq!(statuses(&fx), ["PDF ready (3 pages): press Run."]);
        let mut fx = m.apply(&p, Input::Run);
        fx.extend(m.apply(
            &p,
            Input::Event(Event::Loaded {
                load: 1,
                info: info("wasm"),
            }),
        ));
        (m, p, fx)
    }

    fn runs(fx: &[Effect]) -> Vec<(u32, Option<u32>)> {
        posted(fx)
            .into_iter()
            .filter_map(|r| match r {
                Request::Run(r) => Some((r.run, r.page)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_pdf_is_read_page_after_page_in_the_order_asked() {
        let (mut m, p, fx) = reading_pdf("3,1");
        assert!(fx.contains(&Effect::DocStart(Some(vec![3, 1]))));
        // Page 3 is counted from 0 on the wire.
        assert_eq!(runs(&fx), [(2, Some(2))]);
        assert!(statuses(&fx).contains(&"Page 3 (1 of 2): looking at the picture…"));
        let fx = m.apply(
            &p,
            Input::Event(Event::Token {
                run: 2,
                id: 5,
                text: "<doctag>".into(),
            }),
        );
        assert!(fx.contains(&Effect::DocPage {
            index: 0,
            text: "<doctag>".into(),
            done: false,
            ids: Vec::new(),
        }));
        // The picture's output box is left alone.
        assert!(!fx.iter().any(|e| matches!(e, Effect::Output(_))));
        assert_eq!(statuses(&fx), ["Page 3 (1 of 2): writing…"]);
        let fx = m.apply(
            &p,
            Input::Event(Event::Done {
                run: 2,
                result: result(StopKind::StopToken, "wasm"),
            }),
        );
        assert!(fx.contains(&Effect::DocPage {
            index: 0,
            text: "Hello".into(),
            done: true,
            ids: vec![7, 8, 9],
        }));
        assert_eq!(runs(&fx), [(3, Some(0))]);
        assert_eq!(statuses(&fx), ["Page 1 (2 of 2): looking at the picture…"]);
        let fx = m.apply(
            &p,
            Input::Event(Event::Done {
                run: 3,
                result: result(StopKind::MaxNewTokens, "wasm"),
            }),
        );
        assert_eq!(runs(&fx), []);
        assert_eq!(statuses(&fx), ["Done: 2 pages."]);
        assert_eq!(m.phase, Phase::Done);
    }

    #[test]
    fn stop_ends_a_pdf_between_pages() {
        let (mut m, p, _) = reading_pdf("all");
        let fx = m.apply(&p, Input::Stop);
        assert_eq!(posted(&fx), [&Request::Stop { run: 2 }]);
        let fx = m.apply(
            &p,
            Input::Event(Event::Done {
                run: 2,
                result: result(StopKind::Stopped, "wasm"),
            }),
        );
        // No page after the stopped one.
        assert_eq!(runs(&fx), []);
        assert_eq!(m.phase, Phase::Stopped);
    }

    #[test]
    fn a_page_range_the_pdf_does_not_have_is_refused_before_any_work() {
        let mut m = Machine::default();
        let p = Page {
            pages: "2-5".into(),
            ..page()
        };
        m.apply(&p, Input::Picture);
        ev(
            &mut m,
            Event::ImageInfo {
                image: 1,
                width: 10,
                height: 10,
                plan: None,
                pages: Some(3),
            },
        );
        let fx = m.apply(&p, Input::Run);
        assert_eq!(posted(&fx), Vec::<&Request>::new());
        assert!(fx.contains(&Effect::Error(Some(Failure::new(
            FailureKind::BadRequest,
            "This PDF’s pages cannot be read so: there is no page 5: this PDF has 3 pages."
        )))));
        // A picture after the PDF is a picture again: no pages in its run.
        m.apply(&p, Input::Picture);
        let fx = m.apply(&p, Input::Run);
        assert!(fx.contains(&Effect::DocStart(None)));
    }

    #[test]
    fn a_failed_page_is_named() {
        let (mut m, p, _) = reading_pdf("2-3");
        let fx = m.apply(
            &p,
            Input::Event(Event::Failed {
                scope: Scope::Run(2),
                failure: Failure::new(FailureKind::ImageCorrupt, "This PDF is damaged."),
            }),
        );
        assert!(fx.contains(&Effect::Error(Some(Failure::new(
            FailureKind::ImageCorrupt,
            "Page 2 (1 of 2): This PDF is damaged."
        )))));
        assert_eq!(m.phase, Phase::Error);
    }

    #[test]
    fn a_doctags_models_answer_about_a_picture_is_a_one_page_document() {
        let mut m = Machine::default();
        let p = Page {
            doctags: true,
            ..page()
        };
        m.apply(&p, Input::Picture);
        let fx = m.apply(&p, Input::Run);
        assert!(fx.contains(&Effect::DocStart(Some(vec![1]))));
        let fx = m.apply(
            &p,
            Input::Event(Event::Loaded {
                load: 1,
                info: info("wasm"),
            }),
        );
        // The picture itself: no page of a PDF, and no page in the status.
        assert_eq!(runs(&fx), [(2, None)]);
        assert_eq!(statuses(&fx), ["Looking at the picture…"]);
        let fx = m.apply(
            &p,
            Input::Event(Event::Done {
                run: 2,
                result: result(StopKind::StopToken, "wasm"),
            }),
        );
        assert!(fx.contains(&Effect::DocPage {
            index: 0,
            text: "Hello".into(),
            done: true,
            ids: vec![7, 8, 9],
        }));
        assert_eq!(statuses(&fx), ["Done."]);
    }
}
