//! `smolvlm convert`: a document to structured text. Each selected page of a PDF (or one
//! picture) goes through a DocTags model (granite-docling, SmolDocling) with the models'
//! documented instruction, one page after the other; the DocTags answers become Markdown,
//! HTML, JSON, or stay DocTags (`crates/doctags`).
//!
//! A PDF page is rendered at the longest edge the model's processor resizes to, so it is
//! not resampled twice, and rendered only when its turn comes: a 300-page file holds one
//! page in memory. Progress ("page 3 of 12") goes to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use candle_core::Device;
use clap::{Args, ValueEnum};
use smolvlm::processor::{RgbImage, Tiles};
use smolvlm::{Decoding, GenerationParams};
use smolvlm_runtime::{Engine, Picture, RunSpec, Step};

use crate::document::Document;
use crate::generate::{tokens, Backend};
use crate::gpu::Stderr;
use crate::load::{load, ModelFiles};

/// The instruction granite-docling and SmolDocling were trained on for a whole page.
pub const CONVERT_PROMPT: &str = "Convert this page to docling.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Markdown, as docling-core exports it.
    Md,
    /// An HTML fragment, one `<section>` per page.
    Html,
    /// The blocks with their page, kind, box (0..=500 grid) and text.
    Json,
    /// The models' own answers, pages joined by `<page_break>`.
    Doctags,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// A Hub-layout model folder, or a text `.gguf` (with --mmproj).
    #[arg(long)]
    model: PathBuf,
    /// The vision `.gguf` that goes with a text `.gguf` model.
    #[arg(long)]
    mmproj: Option<PathBuf>,
    /// The document: a `.pdf`, or a picture of one page (PNG, JPEG, WebP).
    file: PathBuf,
    /// The PDF's pages, as people write them: `1-3,7`, `5-`, `all`.
    #[arg(long, default_value = "all")]
    pages: String,
    /// What to write to stdout.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    to: Format,
    /// The instruction for each page.
    #[arg(long, default_value = CONVERT_PROMPT)]
    prompt: String,
    /// At most this many new tokens per page.
    #[arg(long, default_value_t = 4096, value_parser = tokens(1))]
    max_new_tokens: usize,
    /// `all` follows the checkpoint's processor, `0` the global image only, `N` at most N
    /// tiles.
    #[arg(long, default_value = "all", value_parser = crate::generate::parse_tiles)]
    tiles: Tiles,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// The last line of stdout is one JSON object: each page's `prompt_ids`,
    /// `generated_ids` and `doctags`, and the converted `document`.
    #[arg(long)]
    json: bool,
}

/// One page's answer.
struct PageAnswer {
    number: usize,
    prompt_ids: Vec<u32>,
    generated_ids: Vec<u32>,
    doctags: String,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let files = ModelFiles::from_args(&args.model, args.mmproj.as_deref())?;
    // The document before the (slower) model, so a bad file fails fast.
    let document = Document::open(&args.file, &args.pages)?;
    let loaded = load(&files, &Device::Cpu)?;
    let engine = crate::gpu::engine(args.backend, &files, loaded)?;
    let Some(processor) = &engine.loaded().image_processor else {
        bail!(
            "{} reads no pictures: it cannot convert documents",
            args.model.display()
        );
    };
    let longest_edge = processor.config.longest_edge;

    let answers = document.each_page(longest_edge, |number, picture| {
        let t = Instant::now();
        let answer = convert_page(&engine, &args, picture, number)?;
        eprintln!(
            "smolvlm: page {number}: {} tokens in {:.1} s",
            answer.generated_ids.len(),
            t.elapsed().as_secs_f64()
        );
        Ok(answer)
    })?;

    let doc = doctags::Document {
        pages: answers
            .iter()
            // One page per answer, even an empty one, so page numbers stay true.
            .map(|a| doctags::Page {
                number: Some(a.number),
                ..doctags::parse(&a.doctags)
                    .pages
                    .into_iter()
                    .next()
                    .unwrap_or_default()
            })
            .collect(),
    };
    let output = match args.to {
        Format::Md => doctags::to_markdown(&doc),
        Format::Html => doctags::to_html(&doc),
        Format::Json => doctags::to_json(&doc),
        Format::Doctags => answers
            .iter()
            .map(|a| a.doctags.as_str())
            .collect::<Vec<_>>()
            .join("<page_break>"),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let pages: Vec<_> = answers
            .iter()
            .map(|a| {
                serde_json::json!({
                    "page": a.number,
                    "prompt_ids": a.prompt_ids,
                    "generated_ids": a.generated_ids,
                    "doctags": a.doctags,
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({ "pages": pages, "document": output })
        )?;
    } else {
        writeln!(out, "{output}")?;
    }
    Ok(())
}

fn convert_page(
    engine: &Engine,
    args: &ConvertArgs,
    picture: &RgbImage,
    number: usize,
) -> Result<PageAnswer> {
    let stop_ids = engine.loaded().stop_ids();
    let spec = RunSpec {
        prompt: &args.prompt,
        image: Some(Picture::Pixels(picture)),
        tiles: args.tiles,
        params: GenerationParams {
            max_new_tokens: args.max_new_tokens,
            min_new_tokens: 0,
            repetition_penalty: None,
            decoding: Decoding::Greedy,
            stop_ids: stop_ids.clone(),
        },
    };
    let start = Instant::now();
    let clock = || start.elapsed().as_secs_f64() * 1000.0;
    let mut events = Stderr;
    let mut run = engine
        .start(spec, &clock, &mut events)
        .map_err(|f| anyhow!(f.message))?;
    let outcome = loop {
        if let Step::Done(outcome) = run
            .step_blocking(&mut events)
            .map_err(|f| anyhow!(f.message))?
        {
            break outcome;
        }
    };
    // DocTags are tokens of their own (`<loc_42>`, `<otsl>`, …): read with them.
    let doctags = engine
        .loaded()
        .tagged_text(&outcome.generated_ids)
        .map_err(|e| anyhow!("decoding the answer: {e}"))?;
    Ok(PageAnswer {
        number,
        prompt_ids: outcome.prompt_ids,
        generated_ids: outcome.generated_ids,
        doctags,
    })
}
