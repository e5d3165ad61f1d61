//! A model from the bytes of its files, by name: a Hub-layout folder, or a GGUF pair with
//! the Hub files that may lie beside it (DESIGN.md's CLI contract). The one loader of the
//! CLI (which reads the files from disk) and the browser worker (which fetched them, or the
//! visitor picked them), so both run exactly the same model for the same files:
//! - folder: `config.json`, `model.safetensors` (or the shards of
//!   `model.safetensors.index.json`), `tokenizer.json` (+ `tokenizer_config.json`), the chat
//!   template (`chat_template.json`, else `.jinja`), the image settings
//!   (`processor_config.json`'s nested ones, else `preprocessor_config.json`),
//!   `generation_config.json` when present;
//! - GGUF pair: everything from the two files, except what a Hub file beside the text
//!   `.gguf` overrides (tokenizer, template, image settings, stop ids).

use std::collections::BTreeMap;

use crate::gguf::{GgufFile, GgufKind, GgufPair};
use crate::processor::{ConfigError, ImageProcessor, ImageProcessorConfig};
use crate::prompt::{ChatTemplate, PromptError};
use crate::tokenizer::{Tokenizer, TokenizerError};
use crate::{GenerationConfig, SmolVlm};
use candle_core::Device;

/// The Hub files that a folder may have and that may lie beside a text `.gguf`, besides
/// the weights, `config.json` and `tokenizer.json`. All optional.
pub const BESIDE: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.json",
    "chat_template.jinja",
    "preprocessor_config.json",
    "processor_config.json",
    "generation_config.json",
];

/// A Hub folder's required files (the weights apart).
pub const HUB_REQUIRED: &[&str] = &["config.json", "tokenizer.json"];

pub const SAFETENSORS: &str = "model.safetensors";
pub const SAFETENSORS_INDEX: &str = "model.safetensors.index.json";

/// Why a model could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file the model needs is not among the files.
    #[error("{0}")]
    Missing(String),
    /// A file is there but is not what it should be (wrong kind, damaged, inconsistent).
    #[error("{0}")]
    Invalid(String),
}

impl From<crate::Error> for LoadError {
    fn from(e: crate::Error) -> Self {
        Self::Invalid(e.to_string())
    }
}

fn invalid(context: &str, e: impl std::fmt::Display) -> LoadError {
    LoadError::Invalid(format!("{context}: {e}"))
}

/// Files by name (`config.json`, `x.gguf`, ...).
#[derive(Default)]
pub struct Files {
    map: BTreeMap<String, Vec<u8>>,
}

impl Files {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, bytes: Vec<u8>) {
        self.map.insert(name.into(), bytes);
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.map.get(name).map(Vec::as_slice)
    }

    /// Takes a file out (big ones are moved into the model, not copied).
    pub fn take(&mut self, name: &str) -> Option<Vec<u8>> {
        self.map.remove(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    pub fn bytes(&self) -> u64 {
        self.map.values().map(|b| b.len() as u64).sum()
    }
}

/// How the files make a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    HubFolder,
    /// The names of the text and the mmproj `.gguf` among the files.
    Gguf {
        text: String,
        mmproj: String,
        /// The roles were guessed (picked files whose names may not say which is which):
        /// the files' metadata settle them. Where the user named them (the CLI's
        /// `--model`/`--mmproj`, the page's `model=`/`mmproj=`), a swap is an error.
        either_order: bool,
    },
}

/// Everything a run needs.
pub struct Loaded {
    pub model: SmolVlm,
    pub tokenizer: Tokenizer,
    pub template: ChatTemplate,
    /// None when the checkpoint has no image settings (text-only prompts still work).
    pub image_processor: Option<ImageProcessor>,
    pub generation: GenerationConfig,
}

impl Loaded {
    /// The ids that end generation: the generation config's eos ids and
    /// `<end_of_utterance>` (as `smolvlm generate` stops).
    pub fn stop_ids(&self) -> Vec<u32> {
        let mut ids = self.generation.eos_token_ids(self.model.config());
        let eou = self.tokenizer.special().end_of_utterance.id;
        if !ids.contains(&eou) {
            ids.push(eou);
        }
        ids
    }

    /// Whether the model answers in DocTags (granite-docling, SmolDocling): its tokenizer
    /// has `<doctag>` as a token of its own. Such answers are read with their tags.
    pub fn answers_in_doctags(&self) -> bool {
        self.tokenizer.token_id(DOCTAG).is_some()
    }

    /// The answer `ids` as text: without special tokens, but a DocTags model's tags
    /// (`<loc_42>`, `<otsl>`, …) are special tokens that carry the answer, so they stay,
    /// and only the stop tokens go (as `smolvlm convert` reads them).
    pub fn answer_text(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        if self.answers_in_doctags() {
            self.tagged_text(ids)
        } else {
            self.tokenizer.decode(ids, true)
        }
    }

    /// `ids` as text with every special token but the stop tokens (what a DocTags parser
    /// reads), leading spaces trimmed.
    pub fn tagged_text(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let stop = self.stop_ids();
        let kept: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|id| !stop.contains(id))
            .collect();
        Ok(self
            .tokenizer
            .decode(&kept, false)?
            .trim_start()
            .to_string())
    }
}

/// The token that opens a DocTags answer.
const DOCTAG: &str = "<doctag>";

/// The safetensors shards an index names (sorted, each once), as the CLI reads them.
pub fn shard_names(index_json: &[u8]) -> Result<Vec<String>, LoadError> {
    let index: serde_json::Value =
        serde_json::from_slice(index_json).map_err(|e| invalid(SAFETENSORS_INDEX, e))?;
    let Some(map) = index.get("weight_map").and_then(|m| m.as_object()) else {
        return Err(LoadError::Invalid(format!(
            "{SAFETENSORS_INDEX}: no `weight_map` object"
        )));
    };
    let mut shards: Vec<String> = map
        .values()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    shards.sort();
    shards.dedup();
    if shards.iter().any(|s| s.contains('/') || s.contains("..")) {
        return Err(LoadError::Invalid(format!(
            "{SAFETENSORS_INDEX}: shard names must be plain file names"
        )));
    }
    Ok(shards)
}

/// Which layout a set of picked files has: two `.gguf` files (which is which is read from
/// their metadata at load), or a Hub folder's files.
pub fn layout_of_picked(files: &Files) -> Result<Layout, LoadError> {
    let ggufs: Vec<&str> = files
        .names()
        .filter(|n| n.to_ascii_lowercase().ends_with(".gguf"))
        .collect();
    match ggufs.as_slice() {
        [] => {
            for name in HUB_REQUIRED {
                if files.get(name).is_none() {
                    return Err(LoadError::Missing(format!(
                        "the picked files have no {name}: pick a GGUF pair (the text .gguf and its mmproj .gguf), or every file of a Hub-layout model folder"
                    )));
                }
            }
            Ok(Layout::HubFolder)
        }
        [a, b] => {
            // Which is the mmproj: by name if it says, else the text one is settled by
            // GgufPair's kind check (which names the file that is of the wrong kind).
            let (text, mmproj) = if a.to_ascii_lowercase().contains("mmproj") {
                (b, a)
            } else {
                (a, b)
            };
            Ok(Layout::Gguf {
                text: text.to_string(),
                mmproj: mmproj.to_string(),
                either_order: true,
            })
        }
        other => Err(LoadError::Missing(format!(
            "pick exactly two .gguf files (the text model and its mmproj); got {}",
            other.len()
        ))),
    }
}

/// The names of the weight files `layout` reads from `files`: the GGUF pair, or
/// `model.safetensors` (else the shards its index names).
pub fn weight_names(layout: &Layout, files: &Files) -> Result<Vec<String>, LoadError> {
    match layout {
        Layout::Gguf { text, mmproj, .. } => Ok(vec![text.clone(), mmproj.clone()]),
        Layout::HubFolder if files.get(SAFETENSORS).is_some() => Ok(vec![SAFETENSORS.into()]),
        Layout::HubFolder => match files.get(SAFETENSORS_INDEX) {
            Some(index) => shard_names(index),
            None => Err(LoadError::Missing(format!(
                "the model has no {SAFETENSORS} (nor {SAFETENSORS_INDEX})"
            ))),
        },
    }
}

/// The weights of `files` (at least its [`weight_names`]) as a source another model reads
/// (smolvlm-gpu's), with `config`'s head counts (GGUF stores Q and K permuted for RoPE).
pub fn weight_source(
    layout: &Layout,
    mut files: Files,
    config: &crate::Config,
) -> Result<std::sync::Arc<dyn crate::WeightSource>, LoadError> {
    let names = weight_names(layout, &files)?;
    let mut take = |name: &str| {
        files
            .take(name)
            .ok_or_else(|| LoadError::Missing(format!("the model has no {name}")))
    };
    Ok(match layout {
        Layout::HubFolder => {
            let shards = names
                .into_iter()
                .map(|n| Ok((n.clone(), take(&n)?)))
                .collect::<Result<Vec<_>, LoadError>>()?;
            std::sync::Arc::new(crate::SafetensorsSource::from_shards(shards)?)
        }
        Layout::Gguf {
            text,
            mmproj,
            either_order,
        } => {
            let a = GgufFile::from_bytes(text, take(text)?)?;
            let b = GgufFile::from_bytes(mmproj, take(mmproj)?)?;
            let (text, mmproj) = match (a.kind(), b.kind()) {
                (Ok(GgufKind::Mmproj), Ok(GgufKind::Text)) if *either_order => (b, a),
                _ => (a, b),
            };
            std::sync::Arc::new(crate::gguf::GgufSource::new(
                text,
                mmproj,
                config.text.num_attention_heads,
                config.text.num_key_value_heads(),
            ))
        }
    })
}

/// Loads the model. Big files are taken out of `files` and freed once their tensors are
/// copied.
pub fn load(layout: &Layout, mut files: Files, device: &Device) -> Result<Loaded, LoadError> {
    match layout {
        Layout::HubFolder => load_hub(&mut files, device),
        Layout::Gguf {
            text,
            mmproj,
            either_order,
        } => load_gguf(text, mmproj, *either_order, &mut files, device),
    }
}

/// Image settings whose tiles are the vision tower's own size (a crafted file cannot make
/// tiles of another size, or of one pixel, for the tower to take).
fn fits_the_tower(
    cfg: ImageProcessorConfig,
    config: &crate::Config,
) -> Result<ImageProcessorConfig, LoadError> {
    let side = config.vision.image_size;
    if cfg.max_image_longest_edge as usize != side {
        return Err(LoadError::Invalid(format!(
            "the image settings' max_image_size.longest_edge is {}, but the vision tower takes {side}x{side} images",
            cfg.max_image_longest_edge
        )));
    }
    Ok(cfg)
}

fn required<'a>(files: &'a Files, name: &str) -> Result<&'a [u8], LoadError> {
    files
        .get(name)
        .ok_or_else(|| LoadError::Missing(format!("the model has no {name}")))
}

fn template(files: &Files) -> Result<Option<ChatTemplate>, LoadError> {
    fn ctx(file: &'static str) -> impl Fn(PromptError) -> LoadError {
        move |e| invalid(file, e)
    }
    if let Some(json) = files.get("chat_template.json") {
        return ChatTemplate::from_chat_template_json(json)
            .map(Some)
            .map_err(ctx("chat_template.json"));
    }
    if let Some(jinja) = files.get("chat_template.jinja") {
        let source = std::str::from_utf8(jinja)
            .map_err(|_| LoadError::Invalid("chat_template.jinja is not UTF-8".into()))?;
        return ChatTemplate::new(source)
            .map(Some)
            .map_err(ctx("chat_template.jinja"));
    }
    Ok(None)
}

/// The image settings of the Hub files, if they have any.
fn image_config(files: &Files) -> Result<Option<ImageProcessorConfig>, LoadError> {
    match ImageProcessorConfig::from_checkpoint_json(
        files.get("preprocessor_config.json"),
        files.get("processor_config.json"),
    ) {
        Ok(cfg) => Ok(Some(cfg)),
        Err(ConfigError::Missing) => Ok(None),
        Err(e) => Err(invalid("the image processor settings", e)),
    }
}

fn tokenizer_from_files(files: &Files) -> Result<Option<Tokenizer>, LoadError> {
    let Some(json) = files.get("tokenizer.json") else {
        return Ok(None);
    };
    Tokenizer::from_json(json, files.get("tokenizer_config.json"))
        .map(Some)
        .map_err(|e: TokenizerError| invalid("tokenizer.json", e))
}

fn generation(files: &Files) -> Result<Option<GenerationConfig>, LoadError> {
    files
        .get("generation_config.json")
        .map(GenerationConfig::from_json)
        .transpose()
        .map_err(LoadError::from)
}

fn load_hub(files: &mut Files, device: &Device) -> Result<Loaded, LoadError> {
    let config = required(files, "config.json")?.to_vec();
    let shards: Vec<String> = if files.get(SAFETENSORS).is_some() {
        vec![SAFETENSORS.into()]
    } else if let Some(index) = files.get(SAFETENSORS_INDEX) {
        shard_names(index)?
    } else {
        return Err(LoadError::Missing(format!(
            "the model has no {SAFETENSORS} (nor {SAFETENSORS_INDEX})"
        )));
    };
    let shards = shards
        .into_iter()
        .map(|name| {
            let bytes = files
                .take(&name)
                .ok_or_else(|| LoadError::Missing(format!("the model has no {name}")))?;
            Ok((name, bytes))
        })
        .collect::<Result<Vec<_>, LoadError>>()?;
    let model = SmolVlm::from_safetensors(&config, shards, device)?;
    let tokenizer = tokenizer_from_files(files)?
        .ok_or_else(|| LoadError::Missing("the model has no tokenizer.json".into()))?;
    let template = template(files)?.ok_or_else(|| {
        LoadError::Missing("the model has no chat_template.json or chat_template.jinja".into())
    })?;
    let image_processor = image_config(files)?
        .map(|cfg| fits_the_tower(cfg, model.config()))
        .transpose()?
        .map(ImageProcessor::new);
    Ok(Loaded {
        model,
        tokenizer,
        template,
        image_processor,
        generation: generation(files)?.unwrap_or_default(),
    })
}

fn load_gguf(
    text: &str,
    mmproj: &str,
    either_order: bool,
    files: &mut Files,
    device: &Device,
) -> Result<Loaded, LoadError> {
    let text_bytes = files
        .take(text)
        .ok_or_else(|| LoadError::Missing(format!("the model has no {text}")))?;
    let mmproj_bytes = files
        .take(mmproj)
        .ok_or_else(|| LoadError::Missing(format!("the model has no {mmproj}")))?;
    let text_file = GgufFile::from_bytes(text, text_bytes)?;
    let mmproj_file = GgufFile::from_bytes(mmproj, mmproj_bytes)?;
    let (text_file, mmproj_file) = match (text_file.kind(), mmproj_file.kind()) {
        (Ok(GgufKind::Mmproj), Ok(GgufKind::Text)) if either_order => (mmproj_file, text_file),
        _ => (text_file, mmproj_file),
    };
    let pair = GgufPair::new(text_file, mmproj_file).map_err(|e| {
        LoadError::Invalid(format!(
            "{text} with {mmproj} is not a SmolVLM2 GGUF pair: {e}"
        ))
    })?;

    let tokenizer = match tokenizer_from_files(files)? {
        Some(t) => t,
        None => pair.tokenizer()?,
    };
    let config = pair.config()?;
    if tokenizer.special().image.id != config.image_token_id {
        return Err(LoadError::Invalid(format!(
            "the tokenizer.json beside {text} gives `<image>` id {}, the GGUF vocabulary {}: they do not belong together",
            tokenizer.special().image.id,
            config.image_token_id
        )));
    }
    let template = match template(files)? {
        Some(t) => t,
        None => ChatTemplate::new(&pair.chat_template()?)
            .map_err(|e| invalid("the GGUF's tokenizer.chat_template", e))?,
    };
    let image_config = match image_config(files)? {
        Some(cfg) => cfg,
        None => pair.image_processor_config()?,
    };
    let generation = match generation(files)? {
        Some(g) => g,
        None => pair.generation_config()?,
    };
    let image_config = fits_the_tower(image_config, &config)?;
    let model = pair.load_model_with(&config, device)?;
    Ok(Loaded {
        model,
        tokenizer,
        template,
        image_processor: Some(ImageProcessor::new(image_config)),
        generation,
    })
}
