//! `smolvlm generate`: DESIGN.md's contract. Without `--json` the answer streams to stdout
//! as it is decoded; with `--json` the last line of stdout is one JSON object with
//! `prompt_ids`, `generated_ids`, `text` and `timings`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use clap::{Args, ValueEnum};
use smolvlm::processor::Tiles;
use smolvlm::prompt::build_prompt;
use smolvlm::{Decoding, GenerationParams};

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
    #[arg(long, default_value_t = 256)]
    max_new_tokens: usize,
    /// End-of-utterance is masked until this many tokens exist (as transformers does).
    #[arg(long, default_value_t = 0)]
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

fn parse_tiles(s: &str) -> Result<Tiles, String> {
    s.parse()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: GenerateArgs) -> Result<()> {
    // The CPU model is loaded whatever the backend: it is the GPU's fallback (see gpu.rs).
    let device = Device::Cpu;
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
            std::fs::read(path).with_context(|| format!("reading --image {}", path.display()))?,
        ),
        None => None,
    };

    let t = Instant::now();
    let loaded = load(&files, &device)?;
    let engine = crate::gpu::Engine::open(args.backend, &files, &loaded.model)?;
    let load_ms = ms(t.elapsed());
    let model = &loaded.model;

    let t = Instant::now();
    let (images, grids) = match &image_bytes {
        Some(bytes) => {
            let Some(processor) = &loaded.image_processor else {
                bail!("the model has no image processor settings (preprocessor_config.json), so it cannot take --image");
            };
            let name = args
                .image
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let out = processor
                .preprocess_bytes(bytes, args.tiles)
                .with_context(|| format!("--image {name}"))?;
            let pixel_values = Tensor::from_vec(
                out.pixel_values,
                (out.num_frames, 3, out.height, out.width),
                &device,
            )?;
            let mask = Tensor::from_vec(
                out.pixel_attention_mask,
                (out.num_frames, out.height, out.width),
                &device,
            )?;
            (Some((pixel_values, mask)), vec![(out.rows, out.cols)])
        }
        None => (None, Vec::new()),
    };
    let prompt = build_prompt(
        &loaded.tokenizer,
        &loaded.template,
        &args.prompt,
        &grids,
        model.config().image_seq_len(),
    )
    .context("building the prompt")?;
    let preprocess_ms = ms(t.elapsed());

    let t = Instant::now();
    let features = match &images {
        Some((pixels, mask)) => Some(engine.encode_images(model, pixels, mask)?),
        None => None,
    };
    let vision_ms = ms(t.elapsed());

    // Stop at the generation config's eos ids and at <end_of_utterance>.
    let stop_ids = loaded.stop_ids();
    let params = GenerationParams {
        max_new_tokens: args.max_new_tokens,
        min_new_tokens: args.min_new_tokens,
        repetition_penalty: args.repetition_penalty,
        decoding,
        stop_ids,
    };
    let t = Instant::now();
    let mut session = engine.start(model, params, &prompt.ids, features)?;
    let prefill_ms = ms(t.elapsed());

    let mut stream = TextStream::default();
    let mut decode_time = Duration::ZERO;
    let mut steps = 0usize;
    let stdout = std::io::stdout();
    loop {
        let t = Instant::now();
        let Some(_) = session.next_token()? else {
            break;
        };
        // The first token comes from the prefill logits; each later one costs a forward.
        if steps > 0 {
            decode_time += t.elapsed();
        }
        steps += 1;
        if !args.json {
            let text = loaded.tokenizer.decode(session.generated(), true)?;
            if let Some(new) = stream.push(&text) {
                let mut out = stdout.lock();
                out.write_all(new.as_bytes())?;
                out.flush()?;
            }
        }
    }
    let generated = session.generated().to_vec();
    let text = loaded.tokenizer.decode(&generated, true)?;
    if args.json {
        let decode_tokens_per_s = if steps > 1 && decode_time > Duration::ZERO {
            serde_json::json!((steps - 1) as f64 / decode_time.as_secs_f64())
        } else {
            serde_json::Value::Null
        };
        let out = serde_json::json!({
            "prompt_ids": prompt.ids,
            "generated_ids": generated,
            "text": text,
            "backend": session.backend(),
            "stop_reason": match session.stop_reason() {
                Some(smolvlm::StopReason::StopToken) => "stop_token",
                Some(smolvlm::StopReason::Cancelled) => "cancelled",
                _ => "max_new_tokens",
            },
            "timings": {
                "load_ms": load_ms,
                "preprocess_ms": preprocess_ms,
                "vision_ms": vision_ms,
                "prefill_ms": prefill_ms,
                "decode_tokens_per_s": decode_tokens_per_s,
            },
        });
        println!("{out}");
    } else {
        if let Some(rest) = stream.finish(&text) {
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
