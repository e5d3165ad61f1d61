//! `smolvlm quantize --model DIR --out-dir D --type f32|f16|q8_0|q4_0|q4_k`: the GGUF pair
//! of a Hub checkpoint, named and laid out as llama.cpp's converter (and, for the 4-bit
//! types, llama-quantize) would write it: `D/<folder>-<TYPE>.gguf` and
//! `D/mmproj-<folder>-<TYPE>.gguf`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use smolvlm::gguf::{quantize_checkpoint, Checkpoint, Part, QuantType};

use crate::load::weight_files;

#[derive(Args, Debug)]
pub struct QuantizeArgs {
    /// A Hub-layout checkpoint folder (config.json, model.safetensors, tokenizer.json, ...).
    #[arg(long)]
    model: PathBuf,
    /// Where to write the two files (created if missing).
    #[arg(long)]
    out_dir: PathBuf,
    /// f32, f16, q8_0, q4_0 or q4_k (llama.cpp's Q4_K_M mixture).
    #[arg(long = "type", value_parser = parse_type)]
    ty: QuantType,
}

fn parse_type(s: &str) -> Result<QuantType, String> {
    QuantType::parse(s).ok_or_else(|| format!("`{s}`: expected f32, f16, q8_0, q4_0 or q4_k"))
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

fn read_optional(dir: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    if dir.join(name).is_file() {
        read(dir, name).map(Some)
    } else {
        Ok(None)
    }
}

pub fn run(args: QuantizeArgs) -> Result<()> {
    let dir = &args.model;
    if !dir.is_dir() {
        bail!(
            "--model {}: not a folder (quantize reads a Hub-layout checkpoint)",
            dir.display()
        );
    }
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());
    let chat_template_jinja = match read_optional(dir, "chat_template.jinja")? {
        Some(bytes) => Some(String::from_utf8(bytes).context("chat_template.jinja is not UTF-8")?),
        None => None,
    };
    let ckpt = Checkpoint {
        name,
        config_json: read(dir, "config.json")?,
        safetensors: weight_files(dir)?,
        tokenizer_json: read(dir, "tokenizer.json")?,
        tokenizer_config_json: read_optional(dir, "tokenizer_config.json")?,
        chat_template_json: read_optional(dir, "chat_template.json")?,
        chat_template_jinja,
        preprocessor_config_json: read_optional(dir, "preprocessor_config.json")?,
        processor_config_json: read_optional(dir, "processor_config.json")?,
    };
    let out = quantize_checkpoint(ckpt, args.ty)
        .with_context(|| format!("converting {} to GGUF", dir.display()))?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    for (part, file_name, bytes) in [
        (Part::Text, &out.text_name, &out.text),
        (Part::Mmproj, &out.mmproj_name, &out.mmproj),
    ] {
        let path = args.out_dir.join(file_name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        let mut types: BTreeMap<&str, usize> = BTreeMap::new();
        let mut fallbacks = 0;
        for t in out.tensors.iter().filter(|t| t.part == part) {
            *types.entry(t.dtype).or_default() += 1;
            if let Some(from) = t.fallback_from {
                fallbacks += 1;
                eprintln!("  {:<36} {from} does not fit its rows: {}", t.name, t.dtype);
            }
        }
        let types: Vec<String> = types.iter().map(|(t, n)| format!("{n} {t}")).collect();
        println!(
            "{} ({} bytes): {} tensors ({}){}",
            path.display(),
            bytes.len(),
            out.tensors.iter().filter(|t| t.part == part).count(),
            types.join(", "),
            if fallbacks > 0 {
                format!(", {fallbacks} fell back")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}
