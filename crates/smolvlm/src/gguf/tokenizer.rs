//! The tokenizer of a text GGUF, rebuilt from its metadata as a Hugging Face `tokenizers`
//! tokenizer with SmolLM2's structure, then wrapped like a Hub checkpoint's.
//!
//! llama.cpp's converter (`TextModel.get_vocab_base` + `gguf.SpecialVocab`) writes every
//! token string of the byte-level BPE vocabulary (`tokenizer.ggml.tokens`, in id order,
//! byte-level encoded as in tokenizer.json), a type per token (1 normal, 3 control = a
//! special added token, 4 user-defined = a non-special added token, 5 unused padding),
//! the merges as `"a b"` strings, the pre-tokenizer by name (`tokenizer.ggml.pre`) and the
//! special token ids. SmolVLM2's pre-tokenizer is `smollm`: single digits, then GPT-2's
//! byte-level split (llama.cpp's `LLAMA_VOCAB_PRE_TYPE_SMOLLM`; SmolLM2's tokenizer.json:
//! `Sequence[Digits(individual_digits), ByteLevel(add_prefix_space=false)]`).

use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::AddedToken;

use super::file::GgufFile;
use super::keys;
use crate::error::Result;
use crate::tokenizer::{SpecialTokenNames, Tokenizer, TokenizerConfig};

// gguf-py `TokenType`.
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;

/// The chat template of HuggingFaceTB/SmolVLM2-*-Instruct (`chat_template.json`), used
/// when a GGUF carries no `tokenizer.chat_template` (llama.cpp's converter always writes
/// it; hand-made files may not).
pub const SMOLVLM2_CHAT_TEMPLATE: &str = "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

/// How tokenizer.json would spell the pre-tokenizer that llama.cpp names `pre`.
fn pre_tokenizer(file: &GgufFile, pre: &str) -> Result<Sequence> {
    let byte_level = ByteLevel::new(false, true, true);
    Ok(match pre {
        keys::TOKENIZER_PRE_SMOLLM => {
            Sequence::new(vec![Digits::new(true).into(), byte_level.into()])
        }
        // llama.cpp's default BPE pre-tokenizer is GPT-2's regex, which ByteLevel applies;
        // granite-docling's is the same regex under its own name.
        "gpt2" | "default" | keys::TOKENIZER_PRE_GRANITE_DOCLING => {
            Sequence::new(vec![byte_level.into()])
        }
        other => {
            return Err(file.gguf_error(format!(
                "BPE pre-tokenizer `{other}` is not one this crate rebuilds (SmolVLM2's is \
                 `smollm`); put the checkpoint's tokenizer.json beside the GGUF instead"
            )))
        }
    })
}

fn token_name(file: &GgufFile, tokens: &[&str], key: &str) -> Result<Option<String>> {
    match file.u32_opt(key)? {
        None => Ok(None),
        Some(id) => tokens
            .get(id as usize)
            .map(|t| Some(t.to_string()))
            .ok_or_else(|| {
                file.gguf_error(format!(
                    "metadata `{key}` = {id} is outside the vocabulary of {} tokens",
                    tokens.len()
                ))
            }),
    }
}

/// Rebuilds the tokenizer of a text GGUF (`tokenizer.ggml.model = gpt2`).
pub fn tokenizer_from_gguf(file: &GgufFile) -> Result<Tokenizer> {
    let model = file.str(keys::TOKENIZER_MODEL)?;
    if model != keys::TOKENIZER_MODEL_GPT2 {
        return Err(file.gguf_error(format!(
            "tokenizer model `{model}` is not byte-level BPE (`gpt2`, SmolVLM2's); put the \
             checkpoint's tokenizer.json beside the GGUF instead"
        )));
    }
    let tokens = file.strings(keys::TOKENIZER_TOKENS)?;
    let types = match file.i32s_opt(keys::TOKENIZER_TOKEN_TYPE)? {
        Some(types) if types.len() == tokens.len() => types,
        Some(types) => {
            return Err(file.gguf_error(format!(
                "`tokenizer.ggml.token_type` has {} entries for {} tokens",
                types.len(),
                tokens.len()
            )))
        }
        None => vec![NORMAL; tokens.len()],
    };
    let merges = file
        .strings(keys::TOKENIZER_MERGES)?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| file.gguf_error(format!("merge `{m}` is not two tokens")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut vocab = Vocab::default();
    for (id, &t) in tokens.iter().enumerate() {
        if vocab.insert(t.to_string(), id as u32).is_some() {
            return Err(file.gguf_error(format!("token `{t}` appears twice in the vocabulary")));
        }
    }
    // SmolLM2's BPE: no unknown token, no byte fallback, no dropout (tokenizer.json).
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| {
            file.gguf_error(format!("the vocabulary and merges do not form a BPE: {e}"))
        })?;
    let mut inner = tokenizers::Tokenizer::new(bpe);
    inner.with_pre_tokenizer(Some(pre_tokenizer(
        file,
        file.str_opt(keys::TOKENIZER_PRE)?.unwrap_or("default"),
    )?));
    inner.with_decoder(Some(ByteLevel::default()));

    // Added tokens, matched as whole strings before BPE: control tokens are special
    // (skipped when decoding with skip_special_tokens), user-defined ones are not. Their
    // ids are their vocabulary ids.
    let added = |special: bool, ty: i32| -> Vec<AddedToken> {
        tokens
            .iter()
            .zip(&types)
            .filter(|(_, &t)| t == ty)
            .map(|(&content, _)| AddedToken::from(content, special).normalized(false))
            .collect()
    };
    let control = added(true, CONTROL);
    let user = added(false, USER_DEFINED);
    inner
        .add_special_tokens(control.iter().cloned())
        .and_then(|_| inner.add_tokens(user))
        .map_err(|e| file.gguf_error(format!("adding the special tokens: {e}")))?;

    let bos = token_name(file, &tokens, keys::TOKENIZER_BOS_ID)?;
    let eos = token_name(file, &tokens, keys::TOKENIZER_EOS_ID)?;
    let pad = token_name(file, &tokens, keys::TOKENIZER_PAD_ID)?;
    let unk = token_name(file, &tokens, keys::TOKENIZER_UNK_ID)?;
    let add_bos = file.bool_opt(keys::TOKENIZER_ADD_BOS)? == Some(true);
    let add_eos = file.bool_opt(keys::TOKENIZER_ADD_EOS)? == Some(true);
    if add_bos || add_eos {
        inner.with_post_processor(Some(template(file, &tokens, add_bos, add_eos)?));
    }

    let names = SpecialTokenNames {
        bos,
        eos,
        pad,
        all_special: control
            .iter()
            .map(|t| t.content.clone())
            .chain(unk)
            .collect(),
        ..SpecialTokenNames::default()
    };
    // transformers 5 (and SmolVLM2's tokenizer_config.json) do not clean up spaces.
    let config = TokenizerConfig {
        names,
        clean_up_tokenization_spaces: false,
    };
    Tokenizer::new(inner, config).map_err(|e| file.gguf_error(format!("tokenizer: {e}")))
}

/// `tokenizer.ggml.add_bos_token` / `add_eos_token` as tokenizer.json's post-processor
/// (Llama's layout: `BOS $A EOS`, and for pairs `BOS $A EOS BOS $B EOS`).
fn template(
    file: &GgufFile,
    tokens: &[&str],
    add_bos: bool,
    add_eos: bool,
) -> Result<TemplateProcessing> {
    let special = |add: bool, key: &str| -> Result<Option<(String, u32)>> {
        if !add {
            return Ok(None);
        }
        let Some(name) = token_name(file, tokens, key)? else {
            return Err(file.gguf_error(format!("asks to add a token but `{key}` is missing")));
        };
        if name.contains(char::is_whitespace) {
            return Err(file.gguf_error(format!(
                "special token {name:?} holds whitespace, which a template cannot name"
            )));
        }
        Ok(Some((name, file.u32(key)?)))
    };
    let bos = special(add_bos, keys::TOKENIZER_BOS_ID)?;
    let eos = special(add_eos, keys::TOKENIZER_EOS_ID)?;
    let around = |seq: &str, suffix: &str| -> String {
        let mut parts = Vec::new();
        parts.extend(bos.iter().map(|(n, _)| format!("{n}{suffix}")));
        parts.push(format!("{seq}{suffix}"));
        parts.extend(eos.iter().map(|(n, _)| format!("{n}{suffix}")));
        parts.join(" ")
    };
    let single = around("$A", "");
    let pair = format!("{single} {}", around("$B", ":1"));
    let specials: Vec<(String, u32)> = bos.iter().chain(eos.iter()).cloned().collect();
    TemplateProcessing::builder()
        .try_single(single)
        .and_then(|b| b.try_pair(pair))
        .map_err(|e| file.gguf_error(format!("post-processor template: {e}")))?
        .special_tokens(specials)
        .build()
        .map_err(|e| file.gguf_error(format!("post-processor template: {e}")))
}

/// The chat template of a text GGUF, or SmolVLM2's when the file has none.
pub fn chat_template_from_gguf(file: &GgufFile) -> Result<String> {
    Ok(file
        .str_opt(keys::TOKENIZER_CHAT_TEMPLATE)?
        .unwrap_or(SMOLVLM2_CHAT_TEMPLATE)
        .to_string())
}
