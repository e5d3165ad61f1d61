//! One run, in steps the caller can interleave with other work: preprocess the picture and
//! build the prompt, encode the frames one at a time, prefill, then token by token. In
//! the browser the worker yields between steps, so a Stop message is read between two
//! frames or two tokens; natively (tests) the steps just run in a row.
//!
//! Frames are encoded one by one rather than in one batch: the activations of one frame
//! at a time keep the memory of a 17-tile picture small (wasm32 has 4 GiB), and progress
//! and Stop work between frames. The vision tower treats frames independently, and
//! the result equals the batched encoding (checked by `tests/engine.rs`).
//!
//! WebGPU (wasm32 only): [`Backend::Gpu`] holds `smolvlm_gpu`'s model beside the CPU one
//! (the fallback); the worker's `web::gpu` drives it with the same steps (its reads are
//! async, which the worker's loop already is).

use candle_core::{Device, Tensor};
use ocr_protocol::{Failure, FailureKind, ImageSettings, StopKind, TilePlan, Tiles};
use smolvlm::processor::{self, decode_image, ImageError, ImageProcessorConfig, Plan};
use smolvlm::prompt::build_prompt;
use smolvlm::{GenerationParams, Session, StopReason};

use crate::bundle::Loaded;

/// Where the model runs: the CPU path (candle, wasm32 SIMD128 in the browser), or in the
/// browser WebGPU (`smolvlm-gpu`) with the CPU model kept loaded as the fallback.
pub enum Backend {
    Cpu(Box<Loaded>),
    #[cfg(target_arch = "wasm32")]
    Gpu {
        /// The CPU model: tokenizer, prompt and picture preparation, and the fallback.
        loaded: Box<Loaded>,
        model: Box<smolvlm_gpu::GpuModel>,
        /// Set once the device was lost: later runs go to the CPU.
        lost: std::cell::Cell<bool>,
    },
}

impl Backend {
    /// What the page's `backend` element shows: where runs go now (`wasm` once the GPU
    /// was lost).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cpu(_) => "wasm",
            #[cfg(target_arch = "wasm32")]
            Self::Gpu { lost, .. } if lost.get() => "wasm",
            #[cfg(target_arch = "wasm32")]
            Self::Gpu { .. } => "webgpu",
        }
    }

    pub fn loaded(&self) -> &Loaded {
        match self {
            Self::Cpu(l) => l,
            #[cfg(target_arch = "wasm32")]
            Self::Gpu { loaded, .. } => loaded,
        }
    }
}

/// The device the CPU path runs on.
pub fn cpu() -> Device {
    Device::Cpu
}

/// The smolvlm tile choice for the protocol's.
pub fn tiles(t: Tiles) -> processor::Tiles {
    match t {
        Tiles::All => processor::Tiles::All,
        Tiles::Max(n) => processor::Tiles::Max(n),
    }
}

/// The settings the page shows for a checkpoint's image processor.
pub fn settings_of(cfg: &ImageProcessorConfig) -> ImageSettings {
    ImageSettings {
        longest_edge: cfg.longest_edge,
        tile: cfg.max_image_longest_edge,
        split: cfg.do_image_splitting,
    }
}

/// A processor config from the page's settings (the defaults of a checkpoint otherwise).
pub fn config_of(s: &ImageSettings) -> ImageProcessorConfig {
    ImageProcessorConfig {
        longest_edge: s.longest_edge,
        max_image_longest_edge: s.tile,
        do_image_splitting: s.split,
        ..ImageProcessorConfig::default()
    }
}

/// What a person reads when a picture cannot be used.
pub fn image_failure(e: &ImageError) -> Failure {
    let kind = match e {
        ImageError::Empty | ImageError::UnknownFormat | ImageError::UnsupportedFormat(_) => {
            FailureKind::ImageUnsupported
        }
        ImageError::TooLarge { .. } => FailureKind::ImageTooLarge,
        ImageError::ZeroSize { .. }
        | ImageError::Corrupt { .. }
        | ImageError::BadPixelBuffer { .. } => FailureKind::ImageCorrupt,
    };
    let message = match kind {
        FailureKind::ImageUnsupported => {
            format!("This file is not a picture SmolVLM can read ({e}). Use a PNG, JPEG or WebP image.")
        }
        FailureKind::ImageTooLarge => format!(
            "This picture is too large: {e}. Scale it down (a phone photo of up to 48 megapixels works) and try again."
        ),
        _ => format!("This picture is damaged or incomplete ({e}). Try another copy of it."),
    };
    Failure::new(kind, message)
}

/// Decodes a picture fully (so a damaged one fails now, not at run time) and plans its
/// tiles with `cfg`.
pub fn inspect(
    bytes: &[u8],
    cfg: Option<&ImageProcessorConfig>,
) -> Result<(u32, u32, Option<TilePlan>), Failure> {
    let image = decode_image(bytes, &Default::default()).map_err(|e| image_failure(&e))?;
    let (w, h) = (image.width(), image.height());
    let plan = cfg.map(|cfg| {
        let p = Plan::new(w, h, cfg);
        TilePlan {
            rows: p.rows,
            cols: p.cols,
            frames_full: p.frames(),
        }
    });
    Ok((w, h, plan))
}

pub fn internal(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(FailureKind::Internal, format!("{what} failed: {e}"))
}

/// A run between its steps.
pub struct Prepared {
    pub prompt_ids: Vec<u32>,
    /// (pixel values (n, 3, H, W), pixel mask (n, H, W)) of the picture's frames.
    pixels: Option<(Tensor, Tensor)>,
    pub frames: u32,
    features: Vec<Tensor>,
}

/// Decodes and preprocesses the picture and builds the prompt's ids.
pub fn prepare(
    loaded: &Loaded,
    prompt: &str,
    image: Option<&[u8]>,
    tiles_choice: Tiles,
) -> Result<Prepared, Failure> {
    let device = loaded.model.device();
    let (pixels, grids) = match image {
        Some(bytes) => {
            let Some(processor) = &loaded.image_processor else {
                return Err(Failure::new(
                    FailureKind::BadRequest,
                    "This model has no image settings (preprocessor_config.json), so it cannot read pictures.",
                ));
            };
            let out = processor
                .preprocess_bytes(bytes, tiles(tiles_choice))
                .map_err(|e| image_failure(&e))?;
            let n = out.num_frames;
            let px = Tensor::from_vec(out.pixel_values, (n, 3, out.height, out.width), device)
                .map_err(|e| internal("preparing the picture", e))?;
            let mask =
                Tensor::from_vec(out.pixel_attention_mask, (n, out.height, out.width), device)
                    .map_err(|e| internal("preparing the picture", e))?;
            (Some((px, mask)), vec![(out.rows, out.cols)])
        }
        None => (None, Vec::new()),
    };
    let built = build_prompt(
        &loaded.tokenizer,
        &loaded.template,
        prompt,
        &grids,
        loaded.model.config().image_seq_len(),
    )
    .map_err(|e| {
        Failure::new(
            FailureKind::BadRequest,
            format!("The prompt could not be built: {e}"),
        )
    })?;
    let frames = match &pixels {
        Some((px, _)) => px
            .dim(0)
            .map_err(|e| internal("preparing the picture", e))? as u32,
        None => 0,
    };
    Ok(Prepared {
        prompt_ids: built.ids,
        pixels,
        frames,
        features: Vec::new(),
    })
}

impl Prepared {
    /// The picture's frames: (pixel values (n, 3, H, W), pixel mask (n, H, W)).
    pub fn pixels(&self) -> Option<(&Tensor, &Tensor)> {
        self.pixels.as_ref().map(|(p, m)| (p, m))
    }

    /// Frames encoded so far.
    pub fn encoded(&self) -> u32 {
        self.features.len() as u32
    }

    /// Encodes the next frame; false once every frame is done.
    pub fn encode_next(&mut self, loaded: &Loaded) -> Result<bool, Failure> {
        let Some((px, mask)) = &self.pixels else {
            return Ok(false);
        };
        let i = self.features.len();
        if i as u32 >= self.frames {
            return Ok(false);
        }
        let one = |t: &Tensor| t.narrow(0, i, 1);
        let features = one(px)
            .and_then(|p| Ok((p, one(mask)?)))
            .map_err(|e| internal("cutting a frame", e))
            .and_then(|(p, m)| {
                loaded
                    .model
                    .encode_images(&p, Some(&m))
                    .map_err(|e| internal("the vision encoder", e))
            })?;
        self.features.push(features);
        Ok((i + 1) < self.frames as usize)
    }

    /// The image features of every frame, in order: (frames, image_seq_len, hidden).
    pub fn features(&self) -> Result<Option<Tensor>, Failure> {
        if self.features.is_empty() {
            return Ok(None);
        }
        Tensor::cat(&self.features, 0)
            .map(Some)
            .map_err(|e| internal("joining the frames", e))
    }
}

/// Generation settings as `smolvlm generate` makes them (greedy).
pub fn params(loaded: &Loaded, max_new_tokens: u32, min_new_tokens: u32) -> GenerationParams {
    GenerationParams {
        max_new_tokens: max_new_tokens as usize,
        min_new_tokens: min_new_tokens as usize,
        ..GenerationParams::greedy(max_new_tokens as usize, loaded.stop_ids())
    }
}

/// Starts generation: the prompt with the features goes through the decoder.
pub fn start<'a>(
    loaded: &'a Loaded,
    prepared: &Prepared,
    max_new_tokens: u32,
    min_new_tokens: u32,
) -> Result<Session<'a>, Failure> {
    let mut session = Session::new(
        &loaded.model,
        params(loaded, max_new_tokens, min_new_tokens),
    )
    .map_err(|e| Failure::new(FailureKind::BadRequest, e.to_string()))?;
    let features = prepared.features()?;
    session
        .prefill(&prepared.prompt_ids, features.as_ref())
        .map_err(prompt_failure)?;
    Ok(session)
}

/// What a person reads when the prompt cannot run (too long for the model, or a bug).
pub fn prompt_failure(e: smolvlm::Error) -> Failure {
    match e {
        smolvlm::Error::ContextOverflow { .. } => Failure::new(
            FailureKind::BadRequest,
            format!("Too long for this model: {e}."),
        ),
        e => internal("the prompt", e),
    }
}

/// The next token, or None at the end.
pub fn next_token(session: &mut Session<'_>) -> Result<Option<u32>, Failure> {
    session.next_token().map_err(|e| internal("decoding", e))
}

/// The generated text so far, without special tokens (as the CLI's `text`). While
/// streaming, a character split across tokens decodes to U+FFFD at the end: callers drop
/// it until the next token completes it.
pub fn text(loaded: &Loaded, ids: &[u32]) -> Result<String, Failure> {
    loaded
        .tokenizer
        .decode(ids, true)
        .map_err(|e| internal("decoding the text", e))
}

pub fn stop_kind(r: Option<StopReason>) -> StopKind {
    match r {
        Some(StopReason::StopToken) => StopKind::StopToken,
        Some(StopReason::Cancelled) => StopKind::Stopped,
        _ => StopKind::MaxNewTokens,
    }
}
