//! `smolvlm`: SmolVLM2 from the terminal. Subcommands follow DESIGN.md's CLI contract.

mod bench;
mod generate;
mod gpu;
mod load;
mod quantize;

use anyhow::Result;
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
    /// Write a Hub checkpoint as the GGUF pair llama.cpp uses (text model + mmproj).
    Quantize(quantize::QuantizeArgs),
    /// Speed and memory at the real SmolVLM2 dimensions, with random weights.
    Bench(bench::BenchArgs),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Generate(args) => generate::run(args),
        Command::Quantize(args) => quantize::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
