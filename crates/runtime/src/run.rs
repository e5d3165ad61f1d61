//! One run in steps: the picture's frames one at a time, the prompt, then token by token,
//! on the GPU until it fails and on the CPU from there. The caller steps the run and may
//! do other work between two steps (the browser worker reads a Stop message); natively
//! the steps are waited on ([`Run::step_blocking`]).
//!
//! Frames are encoded one by one rather than in one batch: the activations of one frame at
//! a time keep the memory of a 17-tile picture small (wasm32 has 4 GiB), and progress and
//! Stop work between frames. The vision tower treats frames independently, so the result
//! equals the batched encoding (the fixture tests hold it to transformers).
//!
//! The hand-over, one policy wherever the device is lost (before the run, while encoding,
//! during the prompt or after some tokens): the engine remembers the loss (later runs go
//! to the CPU), the person is told ([`Events::notice`]), and the CPU carries on from what
//! the GPU made: it encodes the frames again (its own features), runs the prompt and the
//! tokens generated so far, and decodes on with the GPU's sampler state
//! ([`smolvlm::Session::resume`]), so the answer is the one a CPU-only run gives.

use candle_core::Tensor;
use ocr_protocol::{Failure, FailureKind, StopKind, Timings};
use smolvlm::generation::TurnState;
use smolvlm::processor::Tiles;
use smolvlm::{GenerationParams, Session, StopReason};
use smolvlm_gpu::{GpuModel, GpuSession, ImageEncoding, ImageFeatures};

use crate::engine::{Backend, Engine};
use crate::failure::{gpu_failure, internal, prompt_failure};
use crate::picture::{prepare, Picture, Prepared};

/// What a run is asked.
pub struct RunSpec<'a> {
    pub prompt: &'a str,
    /// The picture; None for a text-only prompt.
    pub image: Option<Picture<'a>>,
    pub tiles: Tiles,
    pub params: GenerationParams,
}

/// Where a run tells what happens besides its steps.
pub trait Events {
    /// Frame `done` (0-based) of `frames` is being encoded.
    fn encoding(&mut self, done: u32, frames: u32);
    /// Something the person must be told about this run (the GPU was lost: the CPU runs
    /// it).
    fn notice(&mut self, text: &str);
    /// A line for the console or stderr (which backend runs and why, the error behind a
    /// notice).
    fn note(&mut self, text: &str);
}

/// What one [`Run::step`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A frame was encoded (or the work moved to another backend).
    Encoded,
    /// The prompt went through the decoder.
    Prefilled,
    /// A token was generated.
    Token(u32),
    /// The run ended.
    Done(Outcome),
}

/// A finished (or stopped) run: the fields of `smolvlm generate --json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub prompt_ids: Vec<u32>,
    pub generated_ids: Vec<u32>,
    /// The generated text without special tokens (a DocTags model's answer keeps its tags).
    pub text: String,
    pub stop: StopKind,
    /// The backend that finished the run.
    pub backend: Backend,
    pub timings: Timings,
}

// One lives at a time, boxed in `Phase`.
#[allow(clippy::large_enum_variant)]
enum Turn<'e> {
    Gpu(GpuSession<'e>),
    Cpu(Session<'e>),
}

impl Turn<'_> {
    fn state(&self) -> &TurnState {
        match self {
            Self::Gpu(s) => s.turn(),
            Self::Cpu(s) => s.turn(),
        }
    }
}

enum Phase<'e> {
    /// Encoding the picture's frames (on the GPU while there is one).
    Encode,
    /// Running the prompt (or, after a lost device, carrying the turn on on the CPU).
    Prefill,
    Decode(Box<Turn<'e>>),
}

/// A run between two steps.
pub struct Run<'e> {
    engine: &'e Engine,
    clock: &'e dyn Fn() -> f64,
    started: f64,
    prepared: Prepared,
    params: GenerationParams,
    /// The GPU model while the GPU runs this run.
    gpu: Option<&'e GpuModel>,
    gpu_encoding: Option<ImageEncoding<'e>>,
    gpu_features: Option<ImageFeatures>,
    /// The CPU's features of the frames encoded so far.
    cpu_features: Vec<Tensor>,
    /// A turn the GPU began and lost: the CPU carries it on after encoding the frames.
    handed_over: Option<TurnState>,
    phase: Phase<'e>,
    timings: Timings,
    decode_ms: f64,
    tokens: u32,
    /// Tests of the hand-over: the GPU device is destroyed once this many tokens exist.
    destroy_gpu_after: Option<usize>,
}

impl<'e> Run<'e> {
    pub(crate) fn start(
        engine: &'e Engine,
        spec: RunSpec<'_>,
        clock: &'e dyn Fn() -> f64,
        events: &mut dyn Events,
    ) -> Result<Self, Failure> {
        let started = clock();
        let mut gpu = engine.gpu_model();
        if gpu.is_some() && engine.lost().get() {
            events.notice("The GPU was lost in an earlier run: this one runs on the CPU.");
            gpu = None;
        }
        // A device lost while idle (a browser reclaims it) is seen before any work.
        if let Some(model) = gpu {
            match model.gpu().check() {
                Ok(()) => {}
                Err(e) if e.wants_cpu_fallback() => {
                    lose_gpu(
                        engine,
                        events,
                        &e,
                        "The GPU was lost since the last run: this run and the next ones run on the CPU.",
                    );
                    gpu = None;
                }
                // An error left over from earlier work; the run finds out whether it matters.
                Err(e) => events.note(&format!("an earlier GPU error: {e}")),
            }
        }
        let loaded = engine.loaded();
        let prepared = prepare(loaded, spec.prompt, spec.image, spec.tiles)?;
        // The parameters and the context, checked before the picture is encoded.
        TurnState::new(spec.params.clone())
            .and_then(|mut t| t.begin(&prepared.prompt_ids, loaded.model.config().max_context()))
            .map_err(|e| match e {
                smolvlm::Error::InvalidInput(m) => Failure::new(FailureKind::BadRequest, m),
                e => prompt_failure(e),
            })?;
        let timings = Timings {
            preprocess_ms: clock() - started,
            frames: prepared.frames,
            ..Default::default()
        };
        Ok(Self {
            engine,
            clock,
            started,
            prepared,
            params: spec.params,
            gpu,
            gpu_encoding: None,
            gpu_features: None,
            cpu_features: Vec::new(),
            handed_over: None,
            phase: Phase::Encode,
            timings,
            decode_ms: 0.0,
            tokens: 0,
            destroy_gpu_after: None,
        })
    }

    /// The prompt's ids.
    pub fn prompt_ids(&self) -> &[u32] {
        &self.prepared.prompt_ids
    }

    /// The picture's frames (0 without a picture).
    pub fn frames(&self) -> u32 {
        self.prepared.frames
    }

    /// The tokens generated so far.
    pub fn generated(&self) -> &[u32] {
        match &self.phase {
            Phase::Decode(t) => t.state().generated(),
            _ => self.handed_over.as_ref().map_or(&[], |t| t.generated()),
        }
    }

    /// The text generated so far, without special tokens (a DocTags model keeps its tags:
    /// [`smolvlm::bundle::Loaded::answer_text`]). While streaming, a character split
    /// across tokens decodes to U+FFFD at the end until the next token completes it.
    pub fn text(&self) -> Result<String, Failure> {
        self.engine
            .loaded()
            .answer_text(self.generated())
            .map_err(|e| internal("decoding the text", e))
    }

    /// The backend that runs the run now.
    pub fn backend(&self) -> Backend {
        if self.gpu.is_some() {
            Backend::Gpu
        } else {
            Backend::Cpu
        }
    }

    /// For tests of the hand-over: destroys the GPU device, as a driver reset would, once
    /// `n` tokens exist.
    pub fn destroy_gpu_after(&mut self, n: usize) {
        self.destroy_gpu_after = Some(n);
    }

    fn now(&self) -> f64 {
        (self.clock)()
    }

    /// The GPU was lost: this run and the next go to the CPU.
    fn hand_over(&mut self, events: &mut dyn Events, e: &smolvlm_gpu::Error, text: &str) {
        lose_gpu(self.engine, events, e, text);
        self.gpu = None;
        self.gpu_encoding = None;
        self.gpu_features = None;
    }

    /// Does the next piece of work: one frame, the prompt, or one token.
    pub async fn step(&mut self, events: &mut dyn Events) -> Result<Step, Failure> {
        loop {
            match &mut self.phase {
                Phase::Encode => {
                    if let Some(step) = self.encode(events).await? {
                        return Ok(step);
                    }
                    self.phase = Phase::Prefill;
                }
                Phase::Prefill => {
                    if self.prefill(events).await? {
                        return Ok(Step::Prefilled);
                    }
                    // The GPU was lost: the CPU needs its own features first.
                    self.phase = Phase::Encode;
                }
                Phase::Decode(_) => return self.decode(events).await,
            }
        }
    }

    /// [`Self::step`], waited for.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn step_blocking(&mut self, events: &mut dyn Events) -> Result<Step, Failure> {
        pollster::block_on(self.step(events))
    }

    /// Encodes one frame; None once every frame is encoded.
    async fn encode(&mut self, events: &mut dyn Events) -> Result<Option<Step>, Failure> {
        let Some((pixels, mask)) = &self.prepared.pixels else {
            return Ok(None);
        };
        let t = self.now();
        if let Some(model) = self.gpu {
            if self.gpu_features.is_some() {
                return Ok(None);
            }
            let encoded = async {
                if self.gpu_encoding.is_none() {
                    self.gpu_encoding = Some(model.begin_images(pixels, Some(mask))?);
                }
                let Some(encoding) = self.gpu_encoding.as_mut() else {
                    unreachable!("set above")
                };
                events.encoding(encoding.encoded() as u32, encoding.frames() as u32);
                encoding.encode_next()?;
                // Waited for (a read-back: how a browser waits), so a lost device shows here.
                encoding.wait().await?;
                if encoding.encoded() == encoding.frames() {
                    if let Some(done) = self.gpu_encoding.take() {
                        self.gpu_features = Some(done.finish()?);
                    }
                }
                Ok::<_, smolvlm_gpu::Error>(())
            }
            .await;
            self.timings.vision_ms += self.now() - t;
            return match encoded {
                Ok(()) => Ok(Some(Step::Encoded)),
                Err(e) if e.wants_cpu_fallback() => {
                    self.hand_over(
                        events,
                        &e,
                        "The GPU was lost while looking at the picture: the CPU finishes this run (and runs the next ones).",
                    );
                    Ok(Some(Step::Encoded))
                }
                Err(e) => Err(gpu_failure("the vision encoder on the GPU", e)),
            };
        }
        let i = self.cpu_features.len();
        let frames = self.prepared.frames;
        if i as u32 >= frames {
            return Ok(None);
        }
        events.encoding(i as u32, frames);
        let one = |t: &Tensor| t.narrow(0, i, 1);
        let features = one(pixels)
            .and_then(|p| Ok((p, one(mask)?)))
            .map_err(|e| internal("cutting a frame", e))
            .and_then(|(p, m)| {
                self.engine
                    .loaded()
                    .model
                    .encode_images(&p, Some(&m))
                    .map_err(|e| internal("the vision encoder", e))
            })?;
        self.cpu_features.push(features);
        self.timings.vision_ms += self.now() - t;
        Ok(Some(Step::Encoded))
    }

    /// Runs the prompt; false when the GPU was lost and the CPU must encode the frames.
    async fn prefill(&mut self, events: &mut dyn Events) -> Result<bool, Failure> {
        let t = self.now();
        let prompt = &self.prepared.prompt_ids;
        if let Some(model) = self.gpu {
            let started = async {
                let mut s = GpuSession::new(model, self.params.clone())?;
                s.prefill(prompt, self.gpu_features.as_ref())?;
                s.wait().await?;
                Ok::<_, smolvlm_gpu::Error>(s)
            }
            .await;
            match started {
                Ok(s) => {
                    self.timings.prefill_ms = self.now() - t;
                    self.phase = Phase::Decode(Box::new(Turn::Gpu(s)));
                    return Ok(true);
                }
                Err(e) if e.wants_cpu_fallback() => {
                    self.hand_over(
                        events,
                        &e,
                        "The GPU was lost while reading the prompt: the CPU finishes this run (and runs the next ones).",
                    );
                    return Ok(false);
                }
                Err(e) => return Err(gpu_failure("the prompt on the GPU", e)),
            }
        }
        let features = match self.cpu_features.as_slice() {
            [] => None,
            f => Some(Tensor::cat(f, 0).map_err(|e| internal("joining the frames", e))?),
        };
        let model = &self.engine.loaded().model;
        let session = match &self.handed_over {
            Some(turn) => Session::resume(model, turn, features.as_ref()),
            None => Session::new(model, self.params.clone())
                .and_then(|mut s| s.prefill(prompt, features.as_ref()).map(|()| s)),
        }
        .map_err(prompt_failure)?;
        self.handed_over = None;
        self.timings.prefill_ms = self.now() - t;
        self.phase = Phase::Decode(Box::new(Turn::Cpu(session)));
        Ok(true)
    }

    async fn decode(&mut self, events: &mut dyn Events) -> Result<Step, Failure> {
        let Phase::Decode(turn) = &mut self.phase else {
            unreachable!("decode runs in the decode phase")
        };
        if let (Turn::Gpu(s), Some(n), Some(model)) = (&**turn, self.destroy_gpu_after, self.gpu) {
            if s.generated().len() >= n {
                events.note(&format!(
                    "destroying the GPU device after {n} tokens (a test of the hand-over)"
                ));
                model.gpu().destroy();
                self.destroy_gpu_after = None;
            }
        }
        let t = (self.clock)();
        let next = match &mut **turn {
            Turn::Cpu(s) => s.next_token().map_err(|e| internal("decoding", e))?,
            Turn::Gpu(s) => match s.next_token().await {
                Ok(next) => next,
                Err(e) if e.wants_cpu_fallback() => {
                    let state = s.turn().clone();
                    let text = format!(
                        "The GPU was lost after {} tokens: the CPU finishes this run (and runs the next ones).",
                        state.generated().len()
                    );
                    self.handed_over = Some(state);
                    self.hand_over(events, &e, &text);
                    self.phase = Phase::Encode;
                    return Ok(Step::Encoded);
                }
                Err(e) => return Err(gpu_failure("decoding on the GPU", e)),
            },
        };
        let Some(id) = next else {
            return self.finish().map(Step::Done);
        };
        // As `smolvlm generate` counts: the first token comes from the prefill's logits;
        // each later one costs a forward.
        if self.tokens == 0 {
            self.timings.first_token_ms = self.now() - self.started;
        } else {
            self.decode_ms += self.now() - t;
        }
        self.tokens += 1;
        Ok(Step::Token(id))
    }

    /// Stops the run between two steps: what was generated is kept.
    pub fn stop(mut self) -> Result<Outcome, Failure> {
        if let Phase::Decode(turn) = &mut self.phase {
            match &mut **turn {
                Turn::Gpu(s) => s.cancel(),
                Turn::Cpu(s) => s.cancel(),
            }
        }
        let mut outcome = self.finish()?;
        outcome.stop = StopKind::Stopped;
        Ok(outcome)
    }

    fn finish(&mut self) -> Result<Outcome, Failure> {
        self.timings.decode_tokens_per_s = (self.tokens > 1 && self.decode_ms > 0.0)
            .then(|| (self.tokens - 1) as f64 / (self.decode_ms / 1000.0));
        let reason = match &self.phase {
            Phase::Decode(t) => t.state().stop_reason(),
            _ => Some(StopReason::Cancelled),
        };
        Ok(Outcome {
            prompt_ids: self.prepared.prompt_ids.clone(),
            generated_ids: self.generated().to_vec(),
            text: self.text()?,
            stop: match reason {
                Some(StopReason::StopToken) => StopKind::StopToken,
                Some(StopReason::Cancelled) => StopKind::Stopped,
                _ => StopKind::MaxNewTokens,
            },
            backend: self.backend(),
            timings: self.timings.clone(),
        })
    }
}

/// The GPU is gone: later runs go to the CPU, and the person is told (`text`), the console
/// with the error.
fn lose_gpu(engine: &Engine, events: &mut dyn Events, e: &smolvlm_gpu::Error, text: &str) {
    events.note(&format!("{text} ({e})"));
    engine.lost().set(true);
    events.notice(text);
}
