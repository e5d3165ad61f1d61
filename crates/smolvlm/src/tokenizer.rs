//! The text tokenizer: Hugging Face `tokenizers` (the library transformers' fast
//! tokenizers run on) plus SmolVLM's special tokens, looked up by name.
//!
//! Reference: transformers `models/smolvlm/processing_smolvlm.py` (the token names and
//! their defaults: `getattr(tokenizer, "image_token", "<image>")` and so on) and
//! `tokenization_utils_base.py` (`clean_up_tokenization`).
//!
//! Built from `tokenizer.json` bytes ([`Tokenizer::from_json`]), or from a
//! `tokenizers::Tokenizer` made some other way, e.g. rebuilt from GGUF metadata
//! ([`Tokenizer::new`]). No file system: bytes in.

mod json_check;

use std::collections::BTreeMap;

use serde::Deserialize;

/// A token string and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialToken {
    /// The token as text, e.g. `<image>`.
    pub content: String,
    /// Its id in the vocabulary.
    pub id: u32,
}

/// The names of SmolVLM's special tokens (what `tokenizer_config.json` may override).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialTokenNames {
    /// `image_token`, default `<image>`.
    pub image: String,
    /// `fake_image_token`, default `<fake_token_around_image>`.
    pub fake_image: String,
    /// `global_image_token`, default `<global-img>`.
    pub global_image: String,
    /// `end_of_utterance_token`, default `<end_of_utterance>`.
    pub end_of_utterance: String,
    /// `bos_token`, if the checkpoint names one.
    pub bos: Option<String>,
    /// `eos_token`, if the checkpoint names one.
    pub eos: Option<String>,
    /// `pad_token`, if the checkpoint names one.
    pub pad: Option<String>,
    /// Every token the config calls special (marked special for decoding).
    pub all_special: Vec<String>,
}

impl Default for SpecialTokenNames {
    fn default() -> Self {
        // SmolVLMProcessor's `getattr` defaults.
        Self {
            image: "<image>".into(),
            fake_image: "<fake_token_around_image>".into(),
            global_image: "<global-img>".into(),
            end_of_utterance: "<end_of_utterance>".into(),
            bos: None,
            eos: None,
            pad: None,
            all_special: Vec::new(),
        }
    }
}

/// Special tokens resolved to ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialTokens {
    /// `<image>`: one per image feature.
    pub image: SpecialToken,
    /// `<fake_token_around_image>`: brackets each tile and the global image.
    pub fake_image: SpecialToken,
    /// `<global-img>`: opens the global image.
    pub global_image: SpecialToken,
    /// `<end_of_utterance>`: ends a turn; generation stops on it.
    pub end_of_utterance: SpecialToken,
    /// Beginning of sequence, if named.
    pub bos: Option<SpecialToken>,
    /// End of sequence, if named.
    pub eos: Option<SpecialToken>,
    /// Padding, if named.
    pub pad: Option<SpecialToken>,
}

/// Tokenizer errors.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// `tokenizer.json` could not be parsed.
    #[error("tokenizer.json: {0}")]
    Load(String),
    /// `tokenizer_config.json` could not be parsed.
    #[error("tokenizer_config.json: invalid JSON: {0}")]
    Config(serde_json::Error),
    /// A special token the model needs is not in the vocabulary.
    #[error("the tokenizer has no token {token:?} ({name}); is this a SmolVLM tokenizer?")]
    MissingToken {
        /// Which role (`image_token`, ...).
        name: &'static str,
        /// The token text looked up.
        token: String,
    },
    /// Encoding failed.
    #[error("could not tokenize the text: {0}")]
    Encode(String),
    /// Decoding failed (an id outside the vocabulary, say).
    #[error("could not decode token ids: {0}")]
    Decode(String),
}

/// A token as `tokenizer_config.json` writes it: a string or an `AddedToken` object.
#[derive(Deserialize)]
#[serde(untagged)]
enum TokenSpec {
    Text(String),
    Added { content: String },
}

impl TokenSpec {
    fn into_content(self) -> String {
        match self {
            Self::Text(s) | Self::Added { content: s } => s,
        }
    }
}

#[derive(Deserialize, Default)]
struct RawTokenizerConfig {
    bos_token: Option<TokenSpec>,
    eos_token: Option<TokenSpec>,
    pad_token: Option<TokenSpec>,
    unk_token: Option<TokenSpec>,
    #[serde(default)]
    additional_special_tokens: Vec<TokenSpec>,
    /// `{"image_token": "<image>", ...}` (the Hub's files) or a list (transformers 5).
    extra_special_tokens: Option<ExtraSpecial>,
    /// transformers 5 writes the named tokens here and at the top level.
    model_specific_special_tokens: Option<BTreeMap<String, TokenSpec>>,
    image_token: Option<TokenSpec>,
    fake_image_token: Option<TokenSpec>,
    global_image_token: Option<TokenSpec>,
    end_of_utterance_token: Option<TokenSpec>,
    clean_up_tokenization_spaces: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ExtraSpecial {
    Named(BTreeMap<String, TokenSpec>),
    List(Vec<TokenSpec>),
}

/// What `tokenizer_config.json` tells us.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenizerConfig {
    /// Special token names.
    pub names: SpecialTokenNames,
    /// `clean_up_tokenization_spaces` (transformers 5 defaults to false).
    pub clean_up_tokenization_spaces: bool,
}

impl TokenizerConfig {
    /// Parse `tokenizer_config.json`; absent keys keep transformers' defaults.
    pub fn from_json(bytes: &[u8]) -> Result<Self, TokenizerError> {
        let raw: RawTokenizerConfig =
            serde_json::from_slice(bytes).map_err(TokenizerError::Config)?;
        let mut names = SpecialTokenNames::default();
        let mut all: Vec<String> = raw
            .additional_special_tokens
            .into_iter()
            .map(TokenSpec::into_content)
            .collect();
        let mut named: Vec<(String, String)> = Vec::new();
        match raw.extra_special_tokens {
            Some(ExtraSpecial::Named(map)) => {
                named.extend(map.into_iter().map(|(k, v)| (k, v.into_content())))
            }
            Some(ExtraSpecial::List(list)) => {
                all.extend(list.into_iter().map(TokenSpec::into_content))
            }
            None => {}
        }
        named.extend(
            raw.model_specific_special_tokens
                .into_iter()
                .flatten()
                .map(|(k, v)| (k, v.into_content())),
        );
        let top_level = [
            ("image_token", raw.image_token),
            ("fake_image_token", raw.fake_image_token),
            ("global_image_token", raw.global_image_token),
            ("end_of_utterance_token", raw.end_of_utterance_token),
        ];
        named.extend(
            top_level
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_string(), v?.into_content()))),
        );
        for (key, content) in named {
            match key.as_str() {
                "image_token" => names.image = content.clone(),
                "fake_image_token" => names.fake_image = content.clone(),
                "global_image_token" => names.global_image = content.clone(),
                "end_of_utterance_token" => names.end_of_utterance = content.clone(),
                _ => {}
            }
            all.push(content);
        }
        names.bos = raw.bos_token.map(TokenSpec::into_content);
        names.eos = raw.eos_token.map(TokenSpec::into_content);
        names.pad = raw.pad_token.map(TokenSpec::into_content);
        let unk = raw.unk_token.map(TokenSpec::into_content);
        all.extend(
            [&names.bos, &names.eos, &names.pad, &unk]
                .into_iter()
                .flatten()
                .cloned(),
        );
        names.all_special = all;
        Ok(Self {
            names,
            clean_up_tokenization_spaces: raw.clean_up_tokenization_spaces.unwrap_or(false),
        })
    }
}

/// The tokenizer with SmolVLM's special tokens resolved.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    special: SpecialTokens,
    clean_up_tokenization_spaces: bool,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("special", &self.special)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// From `tokenizer.json` bytes and, if the checkpoint has one, `tokenizer_config.json`.
    pub fn from_json(
        tokenizer_json: &[u8],
        tokenizer_config_json: Option<&[u8]>,
    ) -> Result<Self, TokenizerError> {
        // First the inputs on which tokenizers panics rather than erring (see json_check).
        json_check::check(tokenizer_json).map_err(TokenizerError::Load)?;
        let inner = tokenizers::Tokenizer::from_bytes(tokenizer_json)
            .map_err(|e| TokenizerError::Load(e.to_string()))?;
        let config = match tokenizer_config_json {
            Some(bytes) => TokenizerConfig::from_json(bytes)?,
            None => TokenizerConfig::default(),
        };
        Self::new(inner, config)
    }

    /// Wrap a tokenizer built elsewhere (from GGUF metadata, say). Tokens the config calls
    /// special are marked special (as transformers does on load), keeping their other
    /// properties; the SmolVLM tokens must all be in the vocabulary.
    pub fn new(
        mut inner: tokenizers::Tokenizer,
        config: TokenizerConfig,
    ) -> Result<Self, TokenizerError> {
        mark_special(&mut inner, &config.names.all_special)?;
        let names = &config.names;
        let find = |name: &'static str, token: &str| {
            inner
                .token_to_id(token)
                .map(|id| SpecialToken {
                    content: token.to_string(),
                    id,
                })
                .ok_or_else(|| TokenizerError::MissingToken {
                    name,
                    token: token.to_string(),
                })
        };
        let optional = |name: &'static str, token: &Option<String>| {
            token.as_deref().map(|t| find(name, t)).transpose()
        };
        let special = SpecialTokens {
            image: find("image_token", &names.image)?,
            fake_image: find("fake_image_token", &names.fake_image)?,
            global_image: find("global_image_token", &names.global_image)?,
            end_of_utterance: find("end_of_utterance_token", &names.end_of_utterance)?,
            bos: optional("bos_token", &names.bos)?,
            eos: optional("eos_token", &names.eos)?,
            pad: optional("pad_token", &names.pad)?,
        };
        Ok(Self {
            inner,
            special,
            clean_up_tokenization_spaces: config.clean_up_tokenization_spaces,
        })
    }

    /// The special tokens with their ids.
    pub fn special(&self) -> &SpecialTokens {
        &self.special
    }

    /// Token ids of `text`; `add_special_tokens` runs the tokenizer's post-processor
    /// (BOS and the like, if `tokenizer.json` defines any), as transformers' default does.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>, TokenizerError> {
        let encoding = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Whether `text` holds the text of a special token (`<end_of_utterance>`, `<image>`,
    /// ...), which [`Self::encode`] would turn into that token.
    pub fn has_special_text(&self, text: &str) -> bool {
        self.inner
            .get_added_tokens_decoder()
            .values()
            .any(|t| t.special && !t.content.is_empty() && text.contains(&t.content))
    }

    /// Token ids of `text` with special tokens' text read as plain text (what a person
    /// typed: `<end_of_utterance>` becomes the characters, not the token), and nothing
    /// added around it.
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        // Rare (the text holds a special token's text): a copy with the switch set, so
        // that the tokenizer shared by everything else stays as it is.
        let mut plain = self.inner.clone();
        plain.set_encode_special_tokens(true);
        let encoding = plain
            .encode(text, false)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of `ids`; with `skip_special_tokens` the special tokens are left out, as
    /// transformers' `decode(ids, skip_special_tokens=True)` does.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, TokenizerError> {
        if let Some(&bad) = ids.iter().find(|&&id| self.inner.id_to_token(id).is_none()) {
            return Err(TokenizerError::Decode(format!(
                "id {bad} is not in the vocabulary"
            )));
        }
        let text = self
            .inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| TokenizerError::Decode(e.to_string()))?;
        Ok(if self.clean_up_tokenization_spaces {
            clean_up_tokenization(&text)
        } else {
            text
        })
    }

    /// The id of a token string, if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The underlying `tokenizers` tokenizer (for streaming decode, say).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}

fn mark_special(inner: &mut tokenizers::Tokenizer, names: &[String]) -> Result<(), TokenizerError> {
    let added = inner.get_added_tokens_decoder();
    let updates: Vec<_> = names
        .iter()
        .filter_map(|name| added.values().find(|t| &t.content == name && !t.special))
        .map(|t| tokenizers::AddedToken {
            special: true,
            ..t.clone()
        })
        .collect();
    if !updates.is_empty() {
        inner
            .add_special_tokens(updates)
            .map_err(|e| TokenizerError::Load(e.to_string()))?;
    }
    Ok(())
}

/// transformers' `clean_up_tokenization`: drop the space before punctuation and
/// English contractions.
fn clean_up_tokenization(text: &str) -> String {
    [
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ]
    .iter()
    .fold(text.to_string(), |s, (from, to)| s.replace(from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_names_in_both_spellings() {
        let json = br#"{"bos_token": {"content": "<|im_start|>", "__type": "AddedToken"},
            "eos_token": "<end_of_utterance>", "additional_special_tokens": ["<image>"],
            "extra_special_tokens": {"image_token": "<img>", "global_image_token": "<g>"}}"#;
        let cfg = TokenizerConfig::from_json(json).unwrap();
        assert_eq!(cfg.names.image, "<img>");
        assert_eq!(cfg.names.global_image, "<g>");
        assert_eq!(cfg.names.fake_image, "<fake_token_around_image>");
        assert_eq!(cfg.names.bos.as_deref(), Some("<|im_start|>"));
        assert!(cfg
            .names
            .all_special
            .contains(&"<end_of_utterance>".to_string()));
        assert!(!cfg.clean_up_tokenization_spaces);
    }

    #[test]
    fn clean_up_matches_transformers() {
        assert_eq!(
            clean_up_tokenization("Hello , world ! I 'm here ."),
            "Hello, world! I'm here."
        );
    }
}
