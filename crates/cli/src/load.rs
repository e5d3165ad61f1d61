//! Finding and reading a model: a Hub-layout folder here; a GGUF pair slots in as another
//! [`ModelFiles`] variant.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::Device;
use smolvlm::processor::{ImageProcessor, ImageProcessorConfig};
use smolvlm::prompt::ChatTemplate;
use smolvlm::tokenizer::Tokenizer;
use smolvlm::{GenerationConfig, SmolVlm};

/// What `--model` (and `--mmproj`) point at.
pub enum ModelFiles {
    /// A folder with `config.json`, `model.safetensors`, `tokenizer.json`, ...
    HubFolder(PathBuf),
    /// A text `.gguf` with its `mmproj` `.gguf`.
    Gguf { model: PathBuf, mmproj: PathBuf },
}

impl ModelFiles {
    pub fn from_args(model: &Path, mmproj: Option<&Path>) -> Result<Self> {
        if model.is_dir() {
            if mmproj.is_some() {
                bail!(
                    "--mmproj goes with a text .gguf model, not with a folder ({})",
                    model.display()
                );
            }
            return Ok(Self::HubFolder(model.to_path_buf()));
        }
        if !model.exists() {
            bail!("--model {}: no such file or folder", model.display());
        }
        if model
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        {
            let Some(mmproj) = mmproj else {
                bail!(
                    "--model {} is a GGUF file: give its vision part with --mmproj",
                    model.display()
                );
            };
            return Ok(Self::Gguf {
                model: model.to_path_buf(),
                mmproj: mmproj.to_path_buf(),
            });
        }
        bail!(
            "--model {}: expected a Hub-layout folder or a .gguf file",
            model.display()
        )
    }
}

/// Everything `generate` needs from a checkpoint.
pub struct Loaded {
    pub model: SmolVlm,
    pub tokenizer: Tokenizer,
    pub template: ChatTemplate,
    /// None when the checkpoint has no image settings (text-only use still works).
    pub image_processor: Option<ImageProcessor>,
    pub generation: GenerationConfig,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

fn read_optional(dir: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(read(dir, name)?))
}

/// The safetensors files of a checkpoint: `model.safetensors`, or the shards listed in
/// `model.safetensors.index.json`.
pub(crate) fn weight_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    if dir.join("model.safetensors").exists() {
        return Ok(vec![(
            "model.safetensors".into(),
            read(dir, "model.safetensors")?,
        )]);
    }
    let index = "model.safetensors.index.json";
    let Some(bytes) = read_optional(dir, index)? else {
        bail!(
            "{}: no model.safetensors (nor {index}) in the model folder",
            dir.display()
        );
    };
    let index: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {index}"))?;
    let Some(map) = index.get("weight_map").and_then(|m| m.as_object()) else {
        bail!("{index}: no `weight_map` object");
    };
    let mut shards: Vec<String> = map
        .values()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    shards.sort();
    shards.dedup();
    shards
        .into_iter()
        .map(|name| Ok((name.clone(), read(dir, &name)?)))
        .collect()
}

pub fn load(files: &ModelFiles, device: &Device) -> Result<Loaded> {
    let dir = match files {
        ModelFiles::HubFolder(dir) => dir,
        ModelFiles::Gguf { model, mmproj } => return crate::gguf::load_gguf(model, mmproj, device),
    };
    let config = read(dir, "config.json")?;
    let model = SmolVlm::from_safetensors(&config, weight_files(dir)?, device)
        .with_context(|| format!("loading the model from {}", dir.display()))?;
    let tokenizer = Tokenizer::from_json(
        &read(dir, "tokenizer.json")?,
        read_optional(dir, "tokenizer_config.json")?.as_deref(),
    )
    .with_context(|| format!("loading the tokenizer of {}", dir.display()))?;
    // The Hub's checkpoints have chat_template.json; transformers 5 writes .jinja.
    let template = if let Some(json) = read_optional(dir, "chat_template.json")? {
        ChatTemplate::from_chat_template_json(&json).context("chat_template.json")?
    } else if let Some(jinja) = read_optional(dir, "chat_template.jinja")? {
        let source = String::from_utf8(jinja).context("chat_template.jinja is not UTF-8")?;
        ChatTemplate::new(&source).context("chat_template.jinja")?
    } else {
        bail!(
            "{}: no chat_template.json or chat_template.jinja in the model folder",
            dir.display()
        );
    };
    let preprocessor = read_optional(dir, "preprocessor_config.json")?;
    let processor = read_optional(dir, "processor_config.json")?;
    let image_processor = if preprocessor.is_some() || processor.is_some() {
        let cfg = ImageProcessorConfig::from_checkpoint_json(
            preprocessor.as_deref(),
            processor.as_deref(),
        );
        match cfg {
            Ok(cfg) => Some(ImageProcessor::new(cfg)),
            // A transformers 5 processor_config.json without image settings and no
            // preprocessor_config.json: images cannot be processed, text still can.
            Err(smolvlm::processor::ConfigError::Missing) => None,
            Err(e) => return Err(e).context("reading the image processor settings"),
        }
    } else {
        None
    };
    let generation = match read_optional(dir, "generation_config.json")? {
        Some(bytes) => GenerationConfig::from_json(&bytes)?,
        None => GenerationConfig::default(),
    };
    Ok(Loaded {
        model,
        tokenizer,
        template,
        image_processor,
        generation,
    })
}
