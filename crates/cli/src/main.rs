//! `smolvlm`: SmolVLM2 from the terminal. Subcommands follow DESIGN.md's CLI contract.

mod bench;
mod convert;
mod document;
mod generate;
mod gpu;
mod load;
mod quantize;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "smolvlm",
    version,
    about = "SmolVLM2 on candle: OCR and image chat from the terminal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer a prompt about an image (or text alone), streaming the answer.
    Generate(generate::GenerateArgs),
    /// A PDF or a picture of a page to Markdown, HTML, JSON or DocTags, page by page, with
    /// a DocTags model (granite-docling, SmolDocling).
    Convert(convert::ConvertArgs),
    /// Write a Hub checkpoint as the GGUF pair llama.cpp uses (text model + mmproj).
    Quantize(quantize::QuantizeArgs),
    /// Speed and memory at the real SmolVLM2 dimensions, with random weights.
    Bench(bench::BenchArgs),
}

/// Starts the kernels' thread pool with `threads` threads (default: every core), this one
/// among them: the model is run from this thread, and as a member of the pool its parallel
/// calls split work in place instead of handing it to the pool and sleeping until it is
/// done (a wake-up per matmul, which cost decoding most of its second thread). Returns
/// the number of threads.
pub fn start_thread_pool(threads: Option<usize>) -> Result<usize> {
    let threads = match threads {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    // candle's own CPU matmuls size their split from this variable.
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .use_current_thread()
        .build_global()
        .context("starting the thread pool")?;
    Ok(threads)
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Generate(args) => {
            start_thread_pool(None)?;
            generate::run(args)
        }
        Command::Convert(args) => {
            start_thread_pool(None)?;
            convert::run(args)
        }
        Command::Quantize(args) => quantize::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
