//! Writes the GGUF pair of a Hub checkpoint as llama.cpp would: the text model and
//! tokenizer as `convert_hf_to_gguf.py` writes them, the vision side as its `--mmproj`
//! mode does, and the 4-bit types as `llama-quantize` turns such a file into Q4_0 or
//! Q4_K_M.
//!
//! What follows llama.cpp, and from where:
//! - tensor names, tensor order (the safetensors order the converter walks; llama-quantize
//!   writes layer by layer, names sorted within), metadata keys, value types and order
//!   (`LlamaModel` / `TextModel.set_gguf_parameters`, `MmprojModel`, `SmolVLMModel`,
//!   gguf-py `SpecialVocab`), `general.name` from the folder name (`Metadata.id_to_title`)
//!   and `general.size_label` from the parameter count;
//! - the Q/K rows permuted for llama.cpp's RoPE (`LlamaModel.permute`);
//! - the converter's types: 1-D tensors and `*_norm.weight` stay F32, SmolVLM's
//!   `.embeddings.` (patch and position embeddings) are forced to F32, everything else
//!   takes the output type, and a Q8_0 tensor whose rows are not whole blocks falls back
//!   to F16 (`ModelBase.prepare_tensors`);
//! - for q4_0 / q4_k, `llama-quantize`'s choices on top of the F32 file
//!   (`llama_tensor_get_type` in `src/llama-quant.cpp`): only 2-D `*weight` tensors that
//!   are not norms, patch or position embeddings are quantized; `output.weight` goes to
//!   Q6_K (Q8_0 when its rows do not fit the mixture's blocks); Q4_K_M gives `attn_v` and
//!   `ffn_down` of the layers `use_more_bits` picks Q6_K; a type whose 256-value blocks do
//!   not divide the rows falls back per tensor (Q4_K -> Q5_0, Q6_K -> Q8_0, else F16).
//!
//! llama.cpp has no tool that quantizes an mmproj below Q8_0; for q4_0 / q4_k we apply the
//! same llama-quantize rules to the vision tensors (its names `attn_v`, `ffn_down` match
//! there too), so `--type` means the same thing for both files.
//!
//! Bytes in, bytes out: the caller reads the checkpoint and writes the two files.

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use serde_json::Value as Json;

use super::format::{self, dtype_name, TensorOut};
use super::keys;
use super::names::{self, Part, Rope};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::processor::ImageProcessorConfig;
use crate::tokenizer::Tokenizer;
use crate::weights::{SafetensorsSource, WeightSource};

/// The `--type` of `smolvlm quantize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantType {
    F32,
    F16,
    Q8_0,
    Q4_0,
    /// llama.cpp's Q4_K_M mixture (Q4_K with Q6_K where it matters, and fallbacks).
    Q4K,
}

impl QuantType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "f32" => Self::F32,
            "f16" => Self::F16,
            "q8_0" => Self::Q8_0,
            "q4_0" => Self::Q4_0,
            "q4_k" | "q4_k_m" => Self::Q4K,
            _ => return None,
        })
    }

    /// The name `--type` and `--dtype` take (`q8_0`).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Q8_0 => "q8_0",
            Self::Q4_0 => "q4_0",
            Self::Q4K => "q4_k",
        }
    }

    /// The type's name in llama.cpp's file names (`...-Q8_0.gguf`).
    pub fn file_suffix(self) -> &'static str {
        match self {
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::Q8_0 => "Q8_0",
            Self::Q4_0 => "Q4_0",
            Self::Q4K => "Q4_K_M",
        }
    }

    /// `general.file_type` (`enum llama_ftype`).
    fn file_type(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q8_0 => 7,
            Self::Q4K => 15,
        }
    }

    /// The converter's output type (the 4-bit types start from an F32 file).
    fn converter_type(self) -> GgmlDType {
        match self {
            Self::F16 => GgmlDType::F16,
            Self::Q8_0 => GgmlDType::Q8_0,
            Self::F32 | Self::Q4_0 | Self::Q4K => GgmlDType::F32,
        }
    }

    /// The type llama-quantize starts each quantizable tensor from, if it runs at all.
    fn llama_quantize_default(self) -> Option<GgmlDType> {
        match self {
            Self::Q4_0 => Some(GgmlDType::Q4_0),
            Self::Q4K => Some(GgmlDType::Q4K),
            _ => None,
        }
    }
}

/// A Hub checkpoint's files, as bytes.
#[derive(Clone)]
pub struct Checkpoint {
    /// The folder name: `general.name` and the output file names derive from it.
    pub name: String,
    pub config_json: Vec<u8>,
    /// `model.safetensors`, or the shards (file name, bytes).
    pub safetensors: Vec<(String, Vec<u8>)>,
    pub tokenizer_json: Vec<u8>,
    pub tokenizer_config_json: Option<Vec<u8>>,
    pub chat_template_json: Option<Vec<u8>>,
    pub chat_template_jinja: Option<String>,
    pub preprocessor_config_json: Option<Vec<u8>>,
    pub processor_config_json: Option<Vec<u8>>,
}

/// What one tensor became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorLog {
    pub part: Part,
    pub name: String,
    pub dtype: &'static str,
    /// The type the rules asked for, when its blocks did not fit the rows.
    pub fallback_from: Option<&'static str>,
}

/// The two files, named as llama.cpp names them.
pub struct GgufPairBytes {
    pub text_name: String,
    pub text: Vec<u8>,
    pub mmproj_name: String,
    pub mmproj: Vec<u8>,
    pub tensors: Vec<TensorLog>,
}

fn err(file: &str, msg: impl Into<String>) -> Error {
    Error::Gguf {
        file: file.into(),
        msg: msg.into(),
    }
}

/// gguf-py `Metadata.id_to_title`: `tiny-split` -> `Tiny Split`, `SmolVLM2-256M` kept.
fn id_to_title(id: &str) -> String {
    id.trim()
        .replace('-', " ")
        .split_whitespace()
        .map(|w| {
            let lower = w.chars().any(char::is_lowercase) && !w.chars().any(char::is_uppercase);
            let version_or_number = w.starts_with(|c: char| c.is_ascii_digit())
                || (w.starts_with('v')
                    && w.len() > 1
                    && w[1..].chars().all(|c| c.is_ascii_digit() || c == '.'));
            if lower && !version_or_number {
                // Python's str.title(): a letter after a non-letter is upper-cased.
                let mut out = String::new();
                let mut prev_alpha = false;
                for c in w.chars() {
                    if c.is_alphabetic() && !prev_alpha {
                        out.extend(c.to_uppercase());
                    } else {
                        out.push(c);
                    }
                    prev_alpha = c.is_alphabetic();
                }
                out
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// gguf-py `model_weight_count_rounded_notation(n, min_digits=2)`.
fn size_label(params: usize) -> String {
    let n = params as f64;
    let (scaled, suffix) = if n > 1e12 {
        (n * 1e-12, "T")
    } else if n > 1e9 {
        (n * 1e-9, "B")
    } else if n > 1e6 {
        (n * 1e-6, "M")
    } else {
        (n * 1e-3, "K")
    };
    // Python's round() is half-to-even; only the digit count matters here.
    let digits = format!("{}", scaled.round_ties_even() as u64)
        .trim_start_matches('0')
        .len();
    let fix = 2usize.saturating_sub(digits);
    format!("{scaled:.fix$}{suffix}")
}

/// `use_more_bits` of llama-quant.cpp: the first and last eighth, and every third layer
/// in between.
fn use_more_bits(i: usize, n: usize) -> bool {
    let (i, n) = (i as i64, n as i64);
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// `tensor_type_fallback` of llama-quant.cpp: a type whose blocks do not divide the rows.
fn fallback(dtype: GgmlDType, row_len: usize) -> GgmlDType {
    if row_len.is_multiple_of(dtype.block_size()) {
        return dtype;
    }
    let to = match dtype {
        GgmlDType::Q4K => GgmlDType::Q5_0,
        GgmlDType::Q5K => GgmlDType::Q5_1,
        GgmlDType::Q6K => GgmlDType::Q8_0,
        GgmlDType::Q2K | GgmlDType::Q3K => GgmlDType::Q4_0,
        other => other,
    };
    if row_len.is_multiple_of(to.block_size()) {
        to
    } else {
        GgmlDType::F16
    }
}

/// A tensor ready to be written: GGUF name, GGML type, dims (outermost first), data.
type Encoded = (String, GgmlDType, Vec<usize>, Vec<u8>);

/// One tensor on its way into a file.
struct Planned {
    hub: String,
    gguf: String,
    rope: Option<Rope>,
    dims: Vec<usize>,
}

/// Chooses every tensor's type for one file, llama.cpp's way (see the module doc).
fn choose_types(
    part: Part,
    tensors: &[Planned],
    ty: QuantType,
    n_layers: usize,
) -> Vec<(GgmlDType, Option<GgmlDType>)> {
    // Counters of llama-quantize, which walks tensors layer by layer.
    let n_attn_v = tensors
        .iter()
        .filter(|t| t.gguf.contains("attn_v.weight"))
        .count();
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by(|&a, &b| quantize_order(&tensors[a].gguf, &tensors[b].gguf));
    let mut i_attn_v = 0;
    let mut out = vec![(GgmlDType::F32, None); tensors.len()];
    for idx in order {
        let t = &tensors[idx];
        let n_dims = t.dims.len();
        let row_len = *t.dims.last().unwrap_or(&1);
        // The converter.
        let forced_f32 = n_dims <= 1
            || t.gguf.ends_with("_norm.weight")
            || !t.gguf.ends_with(".weight")
            || (part == Part::Mmproj && t.hub.contains(".embeddings."));
        let mut dtype = if forced_f32 {
            GgmlDType::F32
        } else {
            ty.converter_type()
        };
        let mut from = None;
        if dtype == GgmlDType::Q8_0 && !row_len.is_multiple_of(dtype.block_size()) {
            // gguf-py raises QuantError and the converter writes F16 instead.
            from = Some(dtype);
            dtype = GgmlDType::F16;
        }
        // llama-quantize.
        if let Some(default) = ty.llama_quantize_default() {
            let quantizable = n_dims >= 2
                && t.gguf.ends_with("weight")
                && !t.gguf.contains("_norm.weight")
                && !t.gguf.contains(".position_embd")
                && !t.gguf.contains(".patch_embd");
            if quantizable {
                let mut want = default;
                if t.gguf == "output.weight" {
                    want = if !row_len.is_multiple_of(default.block_size()) {
                        GgmlDType::Q8_0
                    } else {
                        GgmlDType::Q6K
                    };
                } else if t.gguf.contains("attn_v.weight") {
                    if ty == QuantType::Q4K && use_more_bits(i_attn_v, n_attn_v) {
                        want = GgmlDType::Q6K;
                    }
                    i_attn_v += 1;
                } else if t.gguf.contains("ffn_down") && ty == QuantType::Q4K {
                    let layer = layer_index(&t.gguf).unwrap_or(0);
                    if use_more_bits(layer, n_layers) {
                        want = GgmlDType::Q6K;
                    }
                }
                dtype = fallback(want, row_len);
                from = (dtype != want).then_some(want);
            }
        }
        out[idx] = (dtype, from);
    }
    out
}

/// The block number of `blk.N.` / `v.blk.N.` names.
fn layer_index(name: &str) -> Option<usize> {
    let rest = name
        .strip_prefix("blk.")
        .or_else(|| name.strip_prefix("v.blk."))?;
    rest.split('.').next()?.parse().ok()
}

/// llama.cpp's `weight_name_comparer`: by `blk.%d.` (none sorts first), then by name.
fn quantize_order(a: &str, b: &str) -> std::cmp::Ordering {
    let layer = |s: &str| -> i64 {
        s.strip_prefix("blk.")
            .and_then(|r| r.split('.').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(-1)
    };
    layer(a).cmp(&layer(b)).then_with(|| a.cmp(b))
}

fn u32v(n: usize) -> Value {
    Value::U32(n as u32)
}

fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

/// The tokenizer parts of the text file's metadata (`_set_vocab_gpt2` + `SpecialVocab`).
fn tokenizer_metadata(ckpt: &Checkpoint, config: &Config) -> Result<Vec<(String, Value)>> {
    let file = "tokenizer.json";
    let raw: Json = serde_json::from_slice(&ckpt.tokenizer_json).map_err(|source| Error::Json {
        file: file.into(),
        source,
    })?;
    let tok_config: Json = match &ckpt.tokenizer_config_json {
        Some(bytes) => serde_json::from_slice(bytes).map_err(|source| Error::Json {
            file: "tokenizer_config.json".into(),
            source,
        })?,
        None => Json::Null,
    };
    let tokenizer =
        Tokenizer::from_json(&ckpt.tokenizer_json, ckpt.tokenizer_config_json.as_deref())
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
    let inner = tokenizer.inner();

    if raw["model"]["type"] != "BPE" {
        return Err(err(
            file,
            "the tokenizer is not BPE: only SmolLM2's byte-level BPE is written to GGUF",
        ));
    }
    // The converter names the pre-tokenizer by hashing how it splits a test text; SmolVLM2's
    // (SmolLM2's) is `smollm`. We recognize its structure instead of hashing.
    let pre = &raw["pre_tokenizer"];
    let smollm = pre["type"] == "Sequence"
        && pre["pretokenizers"].as_array().is_some_and(|p| {
            p.len() == 2
                && p[0]["type"] == "Digits"
                && p[0]["individual_digits"] == true
                && p[1]["type"] == "ByteLevel"
                && p[1]["add_prefix_space"] == false
                && p[1]["use_regex"] != false
        });
    if !smollm {
        return Err(err(
            file,
            "the pre-tokenizer is not SmolLM2's (Digits + ByteLevel), the only one written to GGUF",
        ));
    }

    let vocab_size = config.text.vocab_size;
    let max_id = inner.get_vocab(true).values().copied().max().unwrap_or(0);
    if max_id as usize >= vocab_size {
        return Err(err(
            file,
            format!("token id {max_id} is outside the model's vocabulary of {vocab_size}"),
        ));
    }
    let added = inner.get_added_tokens_decoder();
    let mut tokens = Vec::with_capacity(vocab_size);
    let mut types = Vec::with_capacity(vocab_size);
    for id in 0..vocab_size as u32 {
        match inner.id_to_token(id) {
            None => {
                tokens.push(Value::String(format!("[PAD{id}]")));
                types.push(Value::I32(5)); // UNUSED
            }
            Some(t) => {
                let ty = match added.get(&id) {
                    Some(a) if a.special || looks_special(&t) => 3, // CONTROL
                    Some(_) => 4,                                   // USER_DEFINED
                    None => 1,                                      // NORMAL
                };
                tokens.push(Value::String(t));
                types.push(Value::I32(ty));
            }
        }
    }
    let merges: Vec<Value> = match raw["model"]["merges"].as_array() {
        Some(m) => m
            .iter()
            .map(|m| match m {
                Json::String(s) => Ok(Value::String(s.clone())),
                // transformers >= 4.45 writes pairs; gguf-py joins them, spaces as U+0120.
                Json::Array(pair) if pair.len() == 2 => {
                    let part = |v: &Json| v.as_str().map(|s| s.replace(' ', "\u{120}"));
                    match (part(&pair[0]), part(&pair[1])) {
                        (Some(a), Some(b)) => Ok(Value::String(format!("{a} {b}"))),
                        _ => Err(err(file, "a merge is not two strings")),
                    }
                }
                _ => Err(err(file, "unknown merges format")),
            })
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    if merges.is_empty() {
        return Err(err(file, "the BPE has no merges"));
    }

    // Special token ids: tokenizer_config.json's `<typ>_token` looked up among the added
    // tokens, then config.json's `<typ>_token_id` (root, else text_config).
    let types_order = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"];
    let added_list = raw["added_tokens"].as_array().cloned().unwrap_or_default();
    let mut ids: Vec<(&str, u32)> = Vec::new();
    let set = |typ: &'static str, id: Option<u64>, ids: &mut Vec<(&str, u32)>| {
        if let Some(id) = id {
            if (id as usize) < vocab_size && !ids.iter().any(|(t, _)| *t == typ) {
                ids.push((typ, id as u32));
            }
        }
    };
    let content = |v: &Json| -> Option<String> {
        match v {
            Json::String(s) => Some(s.clone()),
            Json::Object(o) => o.get("content")?.as_str().map(str::to_string),
            _ => None,
        }
    };
    // Whether BOS/EOS are added: the post-processor first, then tokenizer_config.json.
    let mut add: Vec<(&str, bool)> = Vec::new();
    let post = &raw["post_processor"];
    let processors = match post["processors"].as_array() {
        Some(list) => list.clone(),
        None if post.is_object() => vec![post.clone()],
        None => Vec::new(),
    };
    let bos_name = content(&tok_config["bos_token"]);
    let eos_name = content(&tok_config["eos_token"]);
    for p in &processors {
        match p["type"].as_str() {
            Some("ByteLevel") => {
                for typ in ["bos", "eos"] {
                    if !add.iter().any(|(t, _)| *t == typ) {
                        add.push((typ, false));
                    }
                }
            }
            Some("TemplateProcessing") => {
                let single = p["single"].as_array().cloned().unwrap_or_default();
                if single.len() > 1 {
                    let first = single[0]["SpecialToken"]["id"].as_str().map(str::to_string);
                    let last = single[single.len() - 1]["SpecialToken"]["id"]
                        .as_str()
                        .map(str::to_string);
                    if let Some(first) = first {
                        add.retain(|(t, _)| *t != "bos");
                        add.push(("bos", Some(&first) == bos_name.as_ref()));
                    }
                    if let Some(last) = last {
                        add.retain(|(t, _)| *t != "eos");
                        add.push(("eos", Some(&last) == eos_name.as_ref()));
                    }
                }
            }
            _ => {}
        }
    }
    for typ in types_order {
        if let Some(b) = tok_config[format!("add_{typ}_token")].as_bool() {
            if !add.iter().any(|(t, _)| *t == typ) {
                add.push((typ, b));
            }
        }
        if let Some(name) = content(&tok_config[format!("{typ}_token")]) {
            let id = added_list
                .iter()
                .find(|a| a["content"].as_str() == Some(name.as_str()))
                .and_then(|a| a["id"].as_u64());
            set(typ, id, &mut ids);
        }
    }
    let model_config: Json =
        serde_json::from_slice(&ckpt.config_json).map_err(|source| Error::Json {
            file: "config.json".into(),
            source,
        })?;
    for typ in types_order {
        let key = format!("{typ}_token_id");
        let id = model_config
            .get(&key)
            .filter(|v| !v.is_null())
            .or_else(|| model_config["text_config"].get(&key))
            .and_then(Json::as_u64);
        set(typ, id, &mut ids);
    }
    // Chat template: tokenizer_config.json, else chat_template.jinja, else .json.
    let template = match tok_config["chat_template"].as_str() {
        Some(t) => Some(t.to_string()),
        None => match (&ckpt.chat_template_jinja, &ckpt.chat_template_json) {
            (Some(jinja), _) => Some(jinja.clone()),
            (None, Some(json)) => {
                let v: Json = serde_json::from_slice(json).map_err(|source| Error::Json {
                    file: "chat_template.json".into(),
                    source,
                })?;
                v["chat_template"].as_str().map(str::to_string)
            }
            (None, None) => None,
        },
    };

    let mut meta = Vec::new();
    if let Some(b) = tok_config["add_prefix_space"].as_bool() {
        meta.push((keys::TOKENIZER_ADD_SPACE_PREFIX.into(), Value::Bool(b)));
    }
    meta.push((
        keys::TOKENIZER_MODEL.into(),
        string(keys::TOKENIZER_MODEL_GPT2),
    ));
    meta.push((
        keys::TOKENIZER_PRE.into(),
        string(keys::TOKENIZER_PRE_SMOLLM),
    ));
    meta.push((keys::TOKENIZER_TOKENS.into(), Value::Array(tokens)));
    meta.push((keys::TOKENIZER_TOKEN_TYPE.into(), Value::Array(types)));
    meta.push((keys::TOKENIZER_MERGES.into(), Value::Array(merges)));
    for (typ, id) in ids {
        let key = match typ {
            "bos" => keys::TOKENIZER_BOS_ID,
            "eos" => keys::TOKENIZER_EOS_ID,
            "unk" => keys::TOKENIZER_UNK_ID,
            "sep" => keys::TOKENIZER_SEP_ID,
            "pad" => keys::TOKENIZER_PAD_ID,
            "cls" => keys::TOKENIZER_CLS_ID,
            _ => keys::TOKENIZER_MASK_ID,
        };
        meta.push((key.into(), Value::U32(id)));
    }
    for (typ, b) in add {
        let key = match typ {
            "bos" => keys::TOKENIZER_ADD_BOS,
            "eos" => keys::TOKENIZER_ADD_EOS,
            "sep" => keys::TOKENIZER_ADD_SEP,
            _ => continue,
        };
        meta.push((key.into(), Value::Bool(b)));
    }
    if let Some(t) = template {
        meta.push((keys::TOKENIZER_CHAT_TEMPLATE.into(), Value::String(t)));
    }
    Ok(meta)
}

/// `TextModel.does_token_look_special`.
fn looks_special(t: &str) -> bool {
    matches!(t, "<pad>" | "<mask>" | "<2mass>" | "[@BOS@]")
        || (t.starts_with("<|") && t.ends_with("|>"))
        || (t.starts_with("<｜") && t.ends_with("｜>"))
        || (t.starts_with("<unused") && t.ends_with('>'))
}

/// The preprocessor settings as the converter merges them: `preprocessor_config.json`,
/// then `processor_config.json` with its nested `image_processor` lifted.
fn preprocessor_json(ckpt: &Checkpoint) -> Result<serde_json::Map<String, Json>> {
    let mut merged = serde_json::Map::new();
    for (name, bytes) in [
        ("preprocessor_config.json", &ckpt.preprocessor_config_json),
        ("processor_config.json", &ckpt.processor_config_json),
    ] {
        let Some(bytes) = bytes else { continue };
        let v: Json = serde_json::from_slice(bytes).map_err(|source| Error::Json {
            file: name.into(),
            source,
        })?;
        if let Json::Object(map) = v {
            let nested = map.get("image_processor").cloned();
            merged.extend(map);
            if let Some(Json::Object(inner)) = nested {
                merged.extend(inner);
            }
        }
    }
    Ok(merged)
}

/// Loads, permutes and quantizes one file's tensors.
fn build_tensors(
    source: &SafetensorsSource,
    part: Part,
    ty: QuantType,
    config: &Config,
    log: &mut Vec<TensorLog>,
) -> Result<Vec<Encoded>> {
    let label = source.label();
    let mut planned = Vec::new();
    for hub in source.names() {
        let Some(g) = names::to_gguf(&hub) else {
            // The converter drops RoPE caches; anything else it could not map either.
            if hub.ends_with(".rotary_emb.inv_freq") {
                continue;
            }
            return Err(err(&label, format!("tensor `{hub}` has no llama.cpp name")));
        };
        if g.part != part {
            continue;
        }
        let dims = source
            .shape(&hub)
            .ok_or_else(|| err(&label, format!("tensor `{hub}` cannot be read")))?;
        planned.push(Planned {
            hub,
            gguf: g.name,
            rope: g.rope,
            dims,
        });
    }
    let n_layers = match part {
        Part::Text => config.text.num_hidden_layers,
        Part::Mmproj => config.vision.num_hidden_layers,
    };
    let types = choose_types(part, &planned, ty, n_layers);
    if ty.llama_quantize_default().is_some() {
        // llama-quantize writes layer by layer; the converter in safetensors order.
        let mut both: Vec<_> = planned.into_iter().zip(types).collect();
        both.sort_by(|a, b| quantize_order(&a.0.gguf, &b.0.gguf));
        return both
            .into_iter()
            .map(|(p, t)| quantize_one(source, part, p, t, config, log))
            .collect();
    }
    planned
        .into_iter()
        .zip(types)
        .map(|(p, t)| quantize_one(source, part, p, t, config, log))
        .collect()
}

fn quantize_one(
    source: &SafetensorsSource,
    part: Part,
    p: Planned,
    (dtype, from): (GgmlDType, Option<GgmlDType>),
    config: &Config,
    log: &mut Vec<TensorLog>,
) -> Result<Encoded> {
    let mut t = source.load(&p.hub, &Device::Cpu)?.to_f32()?;
    if let Some(rope) = p.rope {
        let heads = match rope {
            Rope::Query => config.text.num_attention_heads,
            Rope::Key => config.text.num_key_value_heads(),
        };
        let rows = p.dims[0];
        let order = names::rope_row_order(rows, heads, true).ok_or_else(|| {
            err(
                &source.label(),
                format!("`{}`: {rows} rows do not split into {heads} heads", p.hub),
            )
        })?;
        let index = Tensor::from_vec(
            order.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            rows,
            &Device::Cpu,
        )?;
        t = t.index_select(&index, 0)?;
    }
    let q = QTensor::quantize(&t.contiguous()?, dtype)?;
    let data = q.data()?.into_owned();
    log.push(TensorLog {
        part,
        name: p.gguf.clone(),
        dtype: dtype_name(dtype),
        fallback_from: from.map(dtype_name),
    });
    Ok((p.gguf, dtype, p.dims, data))
}

fn serialize(label: &str, meta: &[(String, Value)], tensors: &[Encoded]) -> Result<Vec<u8>> {
    let outs: Vec<TensorOut> = tensors
        .iter()
        .map(|(name, dtype, dims, data)| TensorOut {
            name,
            dtype: *dtype,
            dims,
            data,
        })
        .collect();
    format::write(meta, &outs).map_err(|msg| err(label, msg))
}

fn param_count(tensors: &[Encoded]) -> usize {
    tensors.iter().map(|t| t.2.iter().product::<usize>()).sum()
}

/// Writes the GGUF pair of `ckpt` at `ty`.
pub fn quantize_checkpoint(mut ckpt: Checkpoint, ty: QuantType) -> Result<GgufPairBytes> {
    let config = Config::from_json(&ckpt.config_json)?;
    let source = SafetensorsSource::from_shards(std::mem::take(&mut ckpt.safetensors))?;
    let mut log = Vec::new();
    let name = id_to_title(&ckpt.name);
    let text_name = format!("{}-{}.gguf", ckpt.name, ty.file_suffix());
    let mmproj_name = format!("mmproj-{}-{}.gguf", ckpt.name, ty.file_suffix());

    // The text model.
    let text_tensors = build_tensors(&source, Part::Text, ty, &config, &mut log)?;
    let t = &config.text;
    let arch = if t.is_granite() {
        keys::ARCH_GRANITE
    } else {
        keys::ARCH_TEXT
    };
    let mut meta: Vec<(String, Value)> = vec![
        (keys::GENERAL_ARCHITECTURE.into(), string(arch)),
        (keys::GENERAL_TYPE.into(), string("model")),
        (keys::GENERAL_NAME.into(), string(&name)),
        (
            keys::GENERAL_SIZE_LABEL.into(),
            string(&size_label(param_count(&text_tensors))),
        ),
        (
            keys::text_key(arch, keys::llm::BLOCK_COUNT),
            u32v(t.num_hidden_layers),
        ),
        (
            keys::text_key(arch, keys::llm::CONTEXT_LENGTH),
            u32v(t.max_position_embeddings),
        ),
        (
            keys::text_key(arch, keys::llm::EMBEDDING_LENGTH),
            u32v(t.hidden_size),
        ),
        (
            keys::text_key(arch, keys::llm::FEED_FORWARD_LENGTH),
            u32v(t.intermediate_size),
        ),
        (
            keys::text_key(arch, keys::llm::HEAD_COUNT),
            u32v(t.num_attention_heads),
        ),
        (
            keys::text_key(arch, keys::llm::HEAD_COUNT_KV),
            u32v(t.num_key_value_heads()),
        ),
        (
            keys::text_key(arch, keys::llm::ROPE_FREQ_BASE),
            Value::F32(t.rope_theta() as f32),
        ),
        (
            keys::text_key(arch, keys::llm::LAYER_NORM_RMS_EPSILON),
            Value::F32(t.rms_norm_eps as f32),
        ),
    ];
    if t.head_dim.is_some() {
        meta.push((
            keys::text_key(arch, keys::llm::KEY_LENGTH),
            u32v(t.head_dim()),
        ));
        meta.push((
            keys::text_key(arch, keys::llm::VALUE_LENGTH),
            u32v(t.head_dim()),
        ));
    }
    meta.push((keys::GENERAL_FILE_TYPE.into(), Value::U32(ty.file_type())));
    meta.push((
        keys::text_key(arch, keys::llm::VOCAB_SIZE),
        u32v(t.vocab_size),
    ));
    meta.push((
        keys::text_key(arch, keys::llm::ROPE_DIMENSION_COUNT),
        u32v(t.head_dim()),
    ));
    if t.is_granite() {
        // GraniteModel.set_gguf_parameters writes these four after Llama's keys (each only
        // when the config has it; we always write them, so no reader has to guess a default).
        for (key, value) in [
            (keys::llm::ATTENTION_SCALE, t.attention_scale()),
            (keys::llm::EMBEDDING_SCALE, t.embedding_multiplier()),
            (keys::llm::RESIDUAL_SCALE, t.residual_multiplier()),
            (keys::llm::LOGIT_SCALE, t.logits_scaling()),
        ] {
            meta.push((keys::text_key(arch, key), Value::F32(value as f32)));
        }
    }
    // GGML_QNT_VERSION
    meta.push((keys::GENERAL_QUANTIZATION_VERSION.into(), Value::U32(2)));
    meta.extend(tokenizer_metadata(&ckpt, &config)?);
    let text = serialize(&text_name, &meta, &text_tensors)?;
    drop(text_tensors);

    // The mmproj.
    let mm_tensors = build_tensors(&source, Part::Mmproj, ty, &config, &mut log)?;
    let v = &config.vision;
    let pre = preprocessor_json(&ckpt)?;
    let channels = |key: &str, default: [f32; 3]| -> Result<Value> {
        let values = match pre.get(key) {
            None => default.to_vec(),
            Some(Json::Number(n)) => vec![n.as_f64().unwrap_or(0.0) as f32; 3],
            Some(Json::Array(a)) => a
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    err(
                        "preprocessor_config.json",
                        format!("`{key}` is not numbers"),
                    )
                })?,
            Some(_) => {
                return Err(err(
                    "preprocessor_config.json",
                    format!("`{key}` is not numbers"),
                ))
            }
        };
        Ok(Value::Array(values.into_iter().map(Value::F32).collect()))
    };
    let defaults = ImageProcessorConfig::default();
    let preproc_size = pre
        .get("size")
        .and_then(|s| s.get("longest_edge"))
        .and_then(Json::as_u64)
        .map(|n| n as usize)
        .unwrap_or(v.image_size);
    let mm_meta: Vec<(String, Value)> = vec![
        (keys::GENERAL_ARCHITECTURE.into(), string(keys::ARCH_MMPROJ)),
        (keys::GENERAL_TYPE.into(), string("mmproj")),
        (keys::GENERAL_NAME.into(), string(&name)),
        (
            keys::GENERAL_SIZE_LABEL.into(),
            string(&size_label(param_count(&mm_tensors))),
        ),
        (keys::GENERAL_FILE_TYPE.into(), Value::U32(ty.file_type())),
        (keys::CLIP_HAS_VISION_ENCODER.into(), Value::Bool(true)),
        (keys::CLIP_PROJECTION_DIM.into(), u32v(t.hidden_size)),
        (keys::CLIP_IMAGE_SIZE.into(), u32v(v.image_size)),
        (keys::CLIP_PATCH_SIZE.into(), u32v(v.patch_size)),
        (keys::CLIP_EMBEDDING_LENGTH.into(), u32v(v.hidden_size)),
        (
            keys::CLIP_FEED_FORWARD_LENGTH.into(),
            u32v(v.intermediate_size),
        ),
        (keys::CLIP_BLOCK_COUNT.into(), u32v(v.num_hidden_layers)),
        (keys::CLIP_HEAD_COUNT.into(), u32v(v.num_attention_heads)),
        (
            keys::CLIP_IMAGE_MEAN.into(),
            channels("image_mean", defaults.image_mean)?,
        ),
        (
            keys::CLIP_IMAGE_STD.into(),
            channels("image_std", defaults.image_std)?,
        ),
        (
            keys::CLIP_PROJECTOR_TYPE.into(),
            string(keys::PROJECTOR_IDEFICS3),
        ),
        (
            keys::CLIP_LAYER_NORM_EPSILON.into(),
            Value::F32(v.layer_norm_eps as f32),
        ),
        (keys::CLIP_SCALE_FACTOR.into(), u32v(config.scale_factor)),
        (keys::CLIP_USE_GELU.into(), Value::Bool(true)),
        (keys::CLIP_PREPROC_IMAGE_SIZE.into(), u32v(preproc_size)),
        (keys::GENERAL_QUANTIZATION_VERSION.into(), Value::U32(2)),
    ];
    if v.hidden_act != candle_nn::Activation::GeluPytorchTanh {
        return Err(Error::Unsupported(format!(
            "config.json: vision activation {:?} (llama.cpp's idefics3 mmproj is tanh-GELU)",
            v.hidden_act
        )));
    }
    let mmproj = serialize(&mmproj_name, &mm_meta, &mm_tensors)?;

    Ok(GgufPairBytes {
        text_name,
        text,
        mmproj_name,
        mmproj,
        tensors: log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_as_gguf_py() {
        assert_eq!(id_to_title("tiny-split"), "Tiny Split");
        assert_eq!(
            id_to_title("SmolVLM2-256M-Video-Instruct"),
            "SmolVLM2 256M Video Instruct"
        );
        assert_eq!(size_label(51_360), "51K");
        assert_eq!(size_label(24_864), "25K");
        assert_eq!(size_label(162_826_560), "163M");
        assert_eq!(size_label(1_500_000), "1.5M");
    }

    #[test]
    fn k_quant_fallbacks_follow_llama_quant() {
        assert_eq!(fallback(GgmlDType::Q4K, 576), GgmlDType::Q5_0);
        assert_eq!(fallback(GgmlDType::Q6K, 576), GgmlDType::Q8_0);
        assert_eq!(fallback(GgmlDType::Q4K, 1536), GgmlDType::Q4K);
        assert_eq!(fallback(GgmlDType::Q4_0, 40), GgmlDType::F16);
        // 30 layers (SmolLM2-135M): the layers that get more bits in Q4_K_M.
        let more: Vec<usize> = (0..30).filter(|&i| use_more_bits(i, 30)).collect();
        assert_eq!(
            more,
            vec![0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]
        );
    }
}
