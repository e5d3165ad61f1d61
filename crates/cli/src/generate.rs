//! `smolvlm generate`: DESIGN.md's contract. Without `--json` the answer streams to stdout
//! as it is decoded; with `--json` the last line of stdout is one JSON object with
//! `prompt_ids`, `generated_ids`, `text` and `timings`. `--image` may be a PDF: its pages
//! (`--pages`) are asked about one after the other, each named on stderr, and the JSON
//! object is then `{"pages": [...]}`, each page's object as a picture's with its `page`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use candle_core::Device;
use clap::{Args, ValueEnum};
use smolvlm::processor::Tiles;
use smolvlm::{Decoding, GenerationParams};
use smolvlm_runtime::{Engine, FailureKind, Picture, RunSpec, Step, StopKind};

use crate::document::Document;
use crate::gpu::Stderr;
use crate::load::{load, ModelFiles};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Cpu,
    Wgpu,
    Auto,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// A Hub-layout model folder, or a text `.gguf` (with --mmproj).
    #[arg(long)]
    model: PathBuf,
    /// The vision `.gguf` that goes with a text `.gguf` model.
    #[arg(long)]
    mmproj: Option<PathBuf>,
    /// The picture (PNG, JPEG or WebP), or a PDF whose pages are read one after the other.
    /// Without it the prompt is text only.
    #[arg(long)]
    image: Option<PathBuf>,
    /// With a PDF: its pages, as people write them (`1-3,7`, `5-`, `all`).
    #[arg(long)]
    pages: Option<String>,
    /// What to ask.
    #[arg(long)]
    prompt: String,
    /// At most this many new tokens (1 to 131072; the model's context is the real limit,
    /// checked with the prompt before any work).
    #[arg(long, default_value_t = 256, value_parser = tokens(1))]
    max_new_tokens: usize,
    /// End-of-utterance is masked until this many tokens exist (as transformers does).
    #[arg(long, default_value_t = 0, value_parser = tokens(0))]
    min_new_tokens: usize,
    /// `all` follows the checkpoint's processor, `0` the global image only, `N` at most N
    /// tiles.
    #[arg(long, default_value = "all", value_parser = parse_tiles)]
    tiles: Tiles,
    /// `wgpu`: our WGSL kernels on any adapter (software ones too); `auto`: a hardware GPU
    /// if one suits, else the CPU. A GPU lost mid-turn hands the turn to the CPU.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Sample with this temperature; 0 (the default) decodes greedily.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Sampling: keep the k most likely tokens.
    #[arg(long)]
    top_k: Option<usize>,
    /// Sampling: keep the most likely tokens up to this probability mass.
    #[arg(long)]
    top_p: Option<f64>,
    /// transformers' repetition penalty (1.0 = off); applies to greedy decoding too.
    #[arg(long)]
    repetition_penalty: Option<f32>,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object as the last line instead of streaming text.
    #[arg(long)]
    json: bool,
}

/// The largest token count a flag takes: above every SmolVLM2 context (8192), and far from
/// any sum that could wrap.
const MAX_TOKENS: u64 = 131_072;

pub(crate) fn tokens(min: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(min..=MAX_TOKENS)
}

pub(crate) fn parse_tiles(s: &str) -> Result<Tiles, String> {
    s.parse()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let decoding = if args.temperature > 0.0 {
        Decoding::Sample {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            seed: args.seed,
        }
    } else if args.temperature < 0.0 || args.temperature.is_nan() {
        bail!(
            "--temperature must be 0 (greedy) or positive, got {}",
            args.temperature
        );
    } else {
        if args.top_k.is_some() || args.top_p.is_some() {
            bail!("--top-k and --top-p only apply when sampling: give --temperature > 0");
        }
        Decoding::Greedy
    };

    let files = ModelFiles::from_args(&args.model, args.mmproj.as_deref())?;
    // Read the picture or PDF before the (slower) model, so a bad file fails fast.
    let document = match (&args.image, &args.pages) {
        (Some(path), pages) => Some(
            Document::open(path, pages.as_deref().unwrap_or("all"))
                .with_context(|| format!("--image {}", path.display()))?,
        ),
        (None, Some(_)) => bail!("--pages goes with --image FILE.pdf"),
        (None, None) => None,
    };

    // The CPU model is loaded whatever the backend: it is the GPU's fallback.
    let t = Instant::now();
    let loaded = load(&files, &Device::Cpu)?;
    let engine = crate::gpu::engine(args.backend, &files, loaded)?;
    let load_ms = ms(t.elapsed());

    let json = match &document {
        None => answer(&engine, &args, &decoding, None, load_ms)?,
        Some(Document::Picture(bytes)) => answer(
            &engine,
            &args,
            &decoding,
            Some(Picture::File(bytes)),
            load_ms,
        )?,
        Some(pdf @ Document::Pdf { .. }) => {
            let Some(processor) = &engine.loaded().image_processor else {
                bail!("{} reads no pictures", args.model.display());
            };
            let pages = pdf.each_page(processor.config.longest_edge, |number, pixels| {
                let picture = Some(Picture::Pixels(pixels));
                let mut page = answer(&engine, &args, &decoding, picture, load_ms)?;
                page["page"] = number.into();
                Ok(page)
            })?;
            serde_json::json!({ "pages": pages })
        }
    };
    if args.json {
        println!("{json}");
    }
    Ok(())
}

/// Runs the prompt about one picture (or none), streaming the answer to stdout unless
/// `--json`; returns the run's JSON object.
fn answer(
    engine: &Engine,
    args: &GenerateArgs,
    decoding: &Decoding,
    picture: Option<Picture>,
    load_ms: f64,
) -> Result<serde_json::Value> {
    // Stop at the generation config's eos ids and at <end_of_utterance>.
    let params = GenerationParams {
        max_new_tokens: args.max_new_tokens,
        min_new_tokens: args.min_new_tokens,
        repetition_penalty: args.repetition_penalty,
        decoding: decoding.clone(),
        stop_ids: engine.loaded().stop_ids(),
    };
    let spec = RunSpec {
        prompt: &args.prompt,
        image: picture,
        tiles: args.tiles,
        params,
    };
    let start = Instant::now();
    let clock = || ms(start.elapsed());
    let mut events = Stderr;
    let mut run = engine.start(spec, &clock, &mut events).map_err(|f| {
        let e = anyhow!(f.message);
        match (&args.image, f.kind) {
            (
                Some(path),
                FailureKind::ImageUnsupported
                | FailureKind::ImageCorrupt
                | FailureKind::ImageTooLarge,
            ) => e.context(format!("--image {}", path.display())),
            _ => e,
        }
    })?;
    if let Some(n) = std::env::var("SMOLVLM_TEST_LOSE_GPU_AFTER")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        run.destroy_gpu_after(n);
    }

    let mut stream = TextStream::default();
    let stdout = std::io::stdout();
    let outcome = loop {
        match run
            .step_blocking(&mut events)
            .map_err(|f| anyhow!(f.message))?
        {
            Step::Token(_) if !args.json => {
                if let Some(new) = stream.push(&run.text().map_err(|f| anyhow!(f.message))?) {
                    let mut out = stdout.lock();
                    out.write_all(new.as_bytes())?;
                    out.flush()?;
                }
            }
            Step::Done(outcome) => break outcome,
            _ => {}
        }
    };
    let t = &outcome.timings;
    let json = serde_json::json!({
        "prompt_ids": outcome.prompt_ids,
        "generated_ids": outcome.generated_ids,
        "text": outcome.text,
        "backend": match outcome.backend {
            smolvlm_runtime::Backend::Gpu => "wgpu",
            smolvlm_runtime::Backend::Cpu => "cpu",
        },
        "stop_reason": match outcome.stop {
            StopKind::StopToken => "stop_token",
            StopKind::Stopped => "cancelled",
            StopKind::MaxNewTokens => "max_new_tokens",
        },
        "timings": {
            "load_ms": load_ms,
            "preprocess_ms": t.preprocess_ms,
            "vision_ms": t.vision_ms,
            "prefill_ms": t.prefill_ms,
            "decode_tokens_per_s": t.decode_tokens_per_s,
        },
    });
    if !args.json {
        if let Some(rest) = stream.finish(&outcome.text) {
            print!("{rest}");
        }
        println!();
    }
    Ok(json)
}

/// Prints decoded text as it grows. Byte-level BPE can split a character across tokens
/// (the partial text then ends in U+FFFD), and decoding may rewrite the tail, so only text
/// that is stable is emitted.
#[derive(Default)]
struct TextStream {
    printed: String,
}

impl TextStream {
    fn push(&mut self, text: &str) -> Option<String> {
        if text.ends_with('\u{FFFD}') || !text.starts_with(&self.printed) {
            return None;
        }
        let new = text[self.printed.len()..].to_string();
        self.printed = text.to_string();
        (!new.is_empty()).then_some(new)
    }

    fn finish(&mut self, text: &str) -> Option<String> {
        text.strip_prefix(self.printed.as_str())
            .filter(|rest| !rest.is_empty())
            .map(str::to_string)
    }
}
