//! `smolvlm`: SmolVLM2 from the terminal. Subcommands follow DESIGN.md's CLI contract.

mod generate;
mod load;

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
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Generate(args) => generate::run(args),
    }
}
