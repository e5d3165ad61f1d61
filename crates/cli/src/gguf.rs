//! `--model X.gguf --mmproj Y.gguf`: a GGUF pair as llama.cpp publishes it. Everything
//! comes from the two files (tokenizer, chat template, image settings, end-of-sequence
//! ids), except what a Hub-layout file lying beside the text `.gguf` overrides (DESIGN.md's
//! CLI contract): `tokenizer.json` (+ `tokenizer_config.json`) wins over the GGUF's
//! vocabulary, `preprocessor_config.json` / `processor_config.json` give the image
//! settings, `chat_template.json` / `.jinja` the template and `generation_config.json`
//! the stop ids.

use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use smolvlm::gguf::GgufPair;
use smolvlm::processor::{ConfigError, ImageProcessor, ImageProcessorConfig};
use smolvlm::prompt::ChatTemplate;
use smolvlm::tokenizer::Tokenizer;
use smolvlm::GenerationConfig;

use crate::load::Loaded;

fn read_beside(dir: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    if !path.is_file() {
        return Ok(None);
    }
    std::fs::read(&path)
        .map(Some)
        .with_context(|| format!("reading {}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

pub fn load_gguf(model: &Path, mmproj: &Path, device: &Device) -> Result<Loaded> {
    let text =
        std::fs::read(model).with_context(|| format!("reading --model {}", model.display()))?;
    let vision =
        std::fs::read(mmproj).with_context(|| format!("reading --mmproj {}", mmproj.display()))?;
    let pair = GgufPair::from_bytes(file_name(model), text, file_name(mmproj), vision)
        .with_context(|| {
            format!(
                "--model {} with --mmproj {} is not a SmolVLM2 GGUF pair",
                model.display(),
                mmproj.display()
            )
        })?;
    let dir = model.parent().unwrap_or(Path::new("."));

    let tokenizer = match read_beside(dir, "tokenizer.json")? {
        Some(json) => {
            Tokenizer::from_json(&json, read_beside(dir, "tokenizer_config.json")?.as_deref())
                .with_context(|| format!("loading {}", dir.join("tokenizer.json").display()))?
        }
        None => pair
            .tokenizer()
            .context("rebuilding the tokenizer from the GGUF metadata")?,
    };
    let config = pair
        .config()
        .context("reading the model config from the GGUF metadata")?;
    if tokenizer.special().image.id != config.image_token_id {
        bail!(
            "the tokenizer beside {} gives `<image>` id {}, the GGUF vocabulary {}: they do not belong together",
            model.display(),
            tokenizer.special().image.id,
            config.image_token_id
        );
    }

    let template = if let Some(json) = read_beside(dir, "chat_template.json")? {
        ChatTemplate::from_chat_template_json(&json).context("chat_template.json")?
    } else if let Some(jinja) = read_beside(dir, "chat_template.jinja")? {
        let source = String::from_utf8(jinja).context("chat_template.jinja is not UTF-8")?;
        ChatTemplate::new(&source).context("chat_template.jinja")?
    } else {
        ChatTemplate::new(&pair.chat_template()?).context("the GGUF's tokenizer.chat_template")?
    };

    let preprocessor = read_beside(dir, "preprocessor_config.json")?;
    let processor = read_beside(dir, "processor_config.json")?;
    let image_config = match ImageProcessorConfig::from_checkpoint_json(
        preprocessor.as_deref(),
        processor.as_deref(),
    ) {
        Ok(cfg) => cfg,
        // No Hub JSON beside the model (or none with image settings): the mmproj's.
        Err(ConfigError::Missing) => pair
            .image_processor_config()
            .context("reading the image settings from the mmproj metadata")?,
        Err(e) => return Err(e).context("reading the image settings beside the model"),
    };

    let generation = match read_beside(dir, "generation_config.json")? {
        Some(bytes) => GenerationConfig::from_json(&bytes)?,
        None => pair.generation_config()?,
    };

    let model_label = model.display().to_string();
    let model = pair
        .load_model_with(&config, device)
        .with_context(|| format!("loading the weights of {model_label}"))?;
    Ok(Loaded {
        model,
        tokenizer,
        template,
        image_processor: Some(ImageProcessor::new(image_config)),
        generation,
    })
}
