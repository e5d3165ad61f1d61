//! `smolvlm generate`: DESIGN.md's contract. Without `--json` the answer streams to stdout
//! as it is decoded; with `--json` the last line of stdout is one JSON object with
//! `prompt_ids`, `generated_ids`, `text` and `timings`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use candle_core::Device;
use clap::{Args, ValueEnum};
use smolvlm::processor::Tiles;
use smolvlm::{Decoding, GenerationParams};
use smolvlm_runtime::{FailureKind, RunSpec, Step, StopKind};

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
    /// The picture (PNG, JPEG or WebP). Without it the prompt is text only.
    #[arg(long)]
    image: Option<PathBuf>,
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
    // Read the image before the (slower) model, so a missing file fails fast.
    let image_bytes = match &args.image {
        Some(path) => Some(
            crate::load::read_file(path, smolvlm_runtime::MAX_PICTURE_FILE_BYTES)
                .with_context(|| format!("reading --image {}", path.display()))?,
        ),
        None => None,
    };

    // The CPU model is loaded whatever the backend: it is the GPU's fallback.
    let t = Instant::now();
    let loaded = load(&files, &Device::Cpu)?;
    let engine = crate::gpu::engine(args.backend, &files, loaded)?;
    let load_ms = ms(t.elapsed());

    // Stop at the generation config's eos ids and at <end_of_utterance>.
    let params = GenerationParams {
        max_new_tokens: args.max_new_tokens,
        min_new_tokens: args.min_new_tokens,
        repetition_penalty: args.repetition_penalty,
        decoding,
        stop_ids: engine.loaded().stop_ids(),
    };
    let spec = RunSpec {
        prompt: &args.prompt,
        image: image_bytes.as_deref(),
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
    if args.json {
        let t = &outcome.timings;
        let out = serde_json::json!({
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
        println!("{out}");
    } else {
        if let Some(rest) = stream.finish(&outcome.text) {
            print!("{rest}");
        }
        println!();
    }
    Ok(())
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
