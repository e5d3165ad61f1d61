//! `smolvlm bench`: speed and memory at the real SmolVLM2 dimensions with random weights
//! (DESIGN.md's contract; the work is `smolvlm::bench`). Also measures this machine's
//! memory read bandwidth, since decoding reads every text weight once per token.

use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use smolvlm::bench::{BenchConfig, BenchDtype};
use smolvlm::ModelSize;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Model dimensions: 256m, 500m or granite-docling-258m.
    #[arg(long, default_value = "256m")]
    size: String,
    /// Weight type: f32, f16, q8_0, q4_0 or q4_k (llama.cpp's Q4_K_M mixture).
    #[arg(long, default_value = "q8_0")]
    dtype: String,
    /// cpu, or wgpu (our WGSL kernels on any adapter, software ones included).
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Threads for the kernels (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
    /// Prefill length (the contract's benchmark: 512).
    #[arg(long, default_value_t = 512)]
    prompt_tokens: usize,
    /// Tokens decoded after the prefill and from an empty context (contract: 128).
    #[arg(long, default_value_t = 128)]
    decode_tokens: usize,
    /// Skip the vision tile.
    #[arg(long)]
    no_vision: bool,
    /// Also time a full-detail picture of this many frames to its first token (a square
    /// picture at the default splitting: 17).
    #[arg(long, default_value_t = 0)]
    picture_frames: usize,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let Some(size) = ModelSize::parse(&args.size) else {
        bail!(
            "--size must be {}, got `{}`",
            ModelSize::choices(),
            args.size
        );
    };
    let Some(dtype) = BenchDtype::parse(&args.dtype) else {
        bail!(
            "--dtype must be f32, f16, q8_0, q4_0 or q4_k, got `{}`",
            args.dtype
        );
    };
    if args.backend != "cpu" && args.backend != "wgpu" {
        bail!("--backend must be cpu or wgpu, got `{}`", args.backend);
    }
    if args.prompt_tokens == 0 || args.decode_tokens == 0 {
        bail!("--prompt-tokens and --decode-tokens must be at least 1");
    }
    let threads = crate::start_thread_pool(args.threads)?;

    let start = Instant::now();
    let now = move || start.elapsed().as_secs_f64() * 1000.0;
    let mut log = |msg: &str| eprintln!("{msg}");
    let cfg = BenchConfig {
        vision: !args.no_vision,
        prompt_tokens: args.prompt_tokens,
        decode_tokens: args.decode_tokens,
        picture_frames: args.picture_frames,
        ..BenchConfig::contract(size, dtype)
    };
    if args.backend == "wgpu" {
        return crate::gpu::bench(&cfg, &args.size, args.json);
    }
    let r = smolvlm::bench::run(&cfg, &now, &mut log)?;
    // Before the bandwidth test, whose buffer would dominate the high-water mark.
    let peak_rss_mb = peak_rss_mb();
    let bandwidth = memory_read_gb_s();
    log(&format!(
        "memory read bandwidth (one thread): {bandwidth:.1} GB/s"
    ));
    let decode_read = r.decode_tokens_per_s * r.text_bytes_per_token as f64 / 1e9;
    let decode_empty_read = r.decode_empty_tokens_per_s * r.text_bytes_per_token as f64 / 1e9;
    if args.json {
        let json = serde_json::json!({
            "size": args.size.to_ascii_lowercase(),
            "dtype": dtype.name(),
            "backend": "cpu",
            "threads": threads,
            "kernels": smolvlm::kernels::isa().name(),
            "decode_tokens_per_s": r.decode_tokens_per_s,
            "decode_empty_tokens_per_s": r.decode_empty_tokens_per_s,
            "prefill_tokens_per_s": r.prefill_tokens_per_s,
            "vision_ms_per_tile": r.vision_ms_per_tile,
            "picture_frames": r.picture.as_ref().map(|p| p.frames),
            "picture_ms": r.picture.as_ref().map(|p| p.total_ms),
            "peak_rss_mb": peak_rss_mb,
            "load_ms": r.load_ms,
            "weight_bytes": r.weight_bytes,
            "text_bytes_per_token": r.text_bytes_per_token,
            "memory_read_gb_s": bandwidth,
            "decode_read_gb_s": decode_read,
            "decode_empty_read_gb_s": decode_empty_read,
        });
        println!("{json}");
    } else {
        println!(
            "{} {} on {} thread(s), {} kernels",
            match size {
                ModelSize::GraniteDocling258m => "granite-docling-258M".to_string(),
                _ => format!("SmolVLM2-{}", args.size.to_ascii_uppercase()),
            },
            dtype.name(),
            threads,
            smolvlm::kernels::isa().name()
        );
        print_speeds(
            cfg.prompt_tokens,
            [
                r.decode_tokens_per_s,
                r.decode_empty_tokens_per_s,
                r.prefill_tokens_per_s,
            ],
            r.vision_ms_per_tile,
        );
        if let Some(p) = &r.picture {
            println!(
                "a {}-frame picture: {:.1} s to text ({:.1} s vision, {:.1} s prefill of {} tokens)",
                p.frames,
                p.total_ms / 1000.0,
                p.vision_ms / 1000.0,
                p.prefill_ms / 1000.0,
                p.prompt_tokens
            );
        }
        println!(
            "text weights read per token {:.1} MB: {decode_read:.1} GB/s at {}+, {decode_empty_read:.1} GB/s from empty; \
             memory read bandwidth {bandwidth:.1} GB/s",
            r.text_bytes_per_token as f64 / 1e6,
            cfg.prompt_tokens
        );
        if let Some(mb) = peak_rss_mb {
            println!("peak RSS {mb:.0} MB");
        }
    }
    Ok(())
}

/// The speed lines of either backend: decode at `prompt_tokens`+ and from empty, prefill
/// (`[decode, decode_empty, prefill]` in tokens/s), and the tile.
pub(crate) fn print_speeds(prompt_tokens: usize, speeds: [f64; 3], vision_ms: Option<f64>) {
    let [decode, empty, prefill] = speeds;
    println!(
        "decode {decode:.1} tokens/s at {prompt_tokens}+ ({empty:.1} from empty); prefill {prefill:.1} tokens/s"
    );
    if let Some(ms) = vision_ms {
        println!("vision {ms:.0} ms per tile");
    }
}

/// Single-thread read bandwidth of a 512 MiB buffer (far beyond any cache), best of five.
fn memory_read_gb_s() -> f64 {
    let words = 64 << 20; // u64s
    let buf: Vec<u64> = (0..words as u64).collect();
    let mut best = f64::INFINITY;
    let mut check = 0u64;
    for _ in 0..5 {
        let t = Instant::now();
        // Eight independent sums keep several loads in flight (and vectorize).
        let mut acc = [0u64; 8];
        for c in buf.chunks_exact(8) {
            for i in 0..8 {
                acc[i] = acc[i].wrapping_add(c[i]);
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
        check = check.wrapping_add(acc.iter().fold(0, |a, &b| a.wrapping_add(b)));
    }
    std::hint::black_box(check);
    (words * 8) as f64 / best / 1e9
}

/// Peak resident set size (Linux `VmHWM`), or None elsewhere.
pub(crate) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
