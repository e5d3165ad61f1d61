//! Prompts: the checkpoint's chat template rendered as transformers renders it, then each
//! `<image>` expanded into the tile and global-image token sequence, then token ids.
//!
//! Reference: transformers `models/smolvlm/processing_smolvlm.py` (`_prompt_split_image`,
//! `_prompt_single_image`, `get_image_prompt_string`), `processing_utils.py`
//! (`apply_chat_template`: no special tokens added when the rendered prompt already
//! starts with BOS) and `utils/chat_template_utils.py` (Jinja with `trim_blocks`,
//! `lstrip_blocks`, loop controls, `raise_exception`).
//!
//! ```
//! use smolvlm::prompt::{image_prompt_string, ImageTokenNames};
//! let names = ImageTokenNames::default();
//! let s = image_prompt_string(0, 0, 2, &names);
//! assert_eq!(s, "<fake_token_around_image><global-img><image><image><fake_token_around_image>");
//! ```

use minijinja::{Environment, Error as JinjaError, ErrorKind, Value};
use serde::{Deserialize, Serialize};

use crate::tokenizer::{Tokenizer, TokenizerError};

/// Prompt errors.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// `chat_template.json` is not JSON with a `chat_template` string.
    #[error("chat_template.json: {0}")]
    TemplateFile(String),
    /// The template does not compile or fails while rendering.
    #[error("chat template: {0}")]
    Template(String),
    /// The text has a different number of `<image>` tokens than there are images.
    #[error("the prompt has {in_text} {token} token(s) but {given} image(s) were given")]
    ImageCount {
        /// The image token.
        token: String,
        /// Occurrences in the rendered text.
        in_text: usize,
        /// Images preprocessed.
        given: usize,
    },
    /// Tokenizing failed.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
}

/// One part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// An image, rendered by the template as `<image>`.
    Image,
    /// Text.
    Text(String),
}

/// A chat message as transformers' processors take it: a role and typed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `user`, `assistant` or `system`.
    pub role: String,
    /// Images and text, in order.
    pub content: Vec<Content>,
}

impl Message {
    /// A user turn: `images` images first, then the text (the CLI's and the OCR page's shape).
    pub fn user(images: usize, text: &str) -> Self {
        let mut content = vec![Content::Image; images];
        content.push(Content::Text(text.to_string()));
        Self {
            role: "user".into(),
            content,
        }
    }
}

/// What the template sees: `{"role": ..., "content": [{"type": "image"}, {"type": "text", "text": ...}]}`.
#[derive(Serialize)]
struct TemplateMessage<'a> {
    role: &'a str,
    content: Vec<TemplateContent<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum TemplateContent<'a> {
    Image,
    Text { text: &'a str },
}

#[derive(Deserialize)]
struct ChatTemplateFile {
    chat_template: String,
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatTemplate")
    }
}

const TEMPLATE_NAME: &str = "chat_template";

/// The work a template may do for one prompt, in minijinja's instructions: SmolVLM2's own
/// template takes a few hundred; a crafted one with nested loops stops here, in
/// milliseconds, instead of running for hours.
const TEMPLATE_FUEL: u64 = 1_000_000;

/// The longest rendered prompt, in bytes (far above any model's context), so a template
/// cannot fill the memory with its output.
const MAX_RENDERED_BYTES: usize = 1 << 20;

/// A writer that refuses to grow past [`MAX_RENDERED_BYTES`].
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_RENDERED_BYTES {
            return Err(std::io::Error::other("the rendered prompt is too long"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ChatTemplate {
    /// Compile Jinja source (the content of transformers 5's `chat_template.jinja`).
    pub fn new(source: &str) -> Result<Self, PromptError> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| PromptError::Template(e.to_string()))?;
        env.set_syntax(syntax);
        env.set_fuel(Some(TEMPLATE_FUEL));
        // Templates written for Python call str methods (`.strip()`, `.startswith()`).
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned(TEMPLATE_NAME, source.to_string())
            .map_err(template_error)?;
        Ok(Self { env })
    }

    /// From the Hub's `chat_template.json` (`{"chat_template": "..."}`).
    pub fn from_chat_template_json(bytes: &[u8]) -> Result<Self, PromptError> {
        let file: ChatTemplateFile =
            serde_json::from_slice(bytes).map_err(|e| PromptError::TemplateFile(e.to_string()))?;
        Self::new(&file.chat_template)
    }

    /// Render `messages`; `add_generation_prompt` opens the assistant's turn. `bos_token`
    /// and `eos_token` are passed to the template as transformers passes them.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
        tokenizer: Option<&Tokenizer>,
    ) -> Result<String, PromptError> {
        let messages: Vec<TemplateMessage> = messages.iter().map(template_message).collect();
        let special = tokenizer.map(|t| t.special());
        let bos = special
            .and_then(|s| s.bos.as_ref())
            .map(|t| t.content.as_str());
        let eos = special
            .and_then(|s| s.eos.as_ref())
            .map(|t| t.content.as_str());
        let ctx = minijinja::context! {
            messages => Value::from(minijinja::value::Serde(&messages)),
            add_generation_prompt => add_generation_prompt,
            bos_token => bos,
            eos_token => eos,
        };
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(template_error)?;
        let mut out = Capped(Vec::new());
        template
            .render_captured_to(ctx, &mut out)
            .map_err(|e| match e.kind() {
                ErrorKind::OutOfFuel => PromptError::Template(format!(
                    "the chat template does more work than any chat template needs ({TEMPLATE_FUEL} steps): refused"
                )),
                ErrorKind::WriteFailure => PromptError::Template(format!(
                    "the chat template renders more than {MAX_RENDERED_BYTES} bytes: refused"
                )),
                _ => template_error(e),
            })?;
        String::from_utf8(out.0).map_err(|e| PromptError::Template(e.to_string()))
    }
}

fn template_message(m: &Message) -> TemplateMessage<'_> {
    let content = m
        .content
        .iter()
        .map(|c| match c {
            Content::Image => TemplateContent::Image,
            Content::Text(text) => TemplateContent::Text { text },
        })
        .collect();
    TemplateMessage {
        role: &m.role,
        content,
    }
}

fn raise_exception(message: String) -> Result<Value, JinjaError> {
    Err(JinjaError::new(ErrorKind::InvalidOperation, message))
}

fn template_error(e: JinjaError) -> PromptError {
    // minijinja's Display names the problem; the detail adds the offending line.
    PromptError::Template(match e.detail() {
        Some(detail) => format!("{e} ({detail})"),
        None => e.to_string(),
    })
}

/// The token strings an image expands into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTokenNames {
    /// `<image>`.
    pub image: String,
    /// `<fake_token_around_image>`.
    pub fake_image: String,
    /// `<global-img>`.
    pub global_image: String,
}

impl Default for ImageTokenNames {
    fn default() -> Self {
        Self {
            image: "<image>".into(),
            fake_image: "<fake_token_around_image>".into(),
            global_image: "<global-img>".into(),
        }
    }
}

impl ImageTokenNames {
    /// The names a tokenizer uses.
    pub fn from_tokenizer(tokenizer: &Tokenizer) -> Self {
        let s = tokenizer.special();
        Self {
            image: s.image.content.clone(),
            fake_image: s.fake_image.content.clone(),
            global_image: s.global_image.content.clone(),
        }
    }
}

/// `get_image_prompt_string`: per tile `<fake><row_r_col_c>` + `<image>` x `seq_len`, a
/// newline after each row, then `\n<fake><global-img>` + `<image>` x `seq_len` + `<fake>`;
/// without tiles (`rows == cols == 0`) only the global part, without the newline.
pub fn image_prompt_string(
    rows: u32,
    cols: u32,
    seq_len: usize,
    names: &ImageTokenNames,
) -> String {
    let images = names.image.repeat(seq_len);
    let fake = &names.fake_image;
    let global = format!("{fake}{}{images}{fake}", names.global_image);
    if rows == 0 && cols == 0 {
        return global;
    }
    let mut s = String::new();
    for r in 1..=rows {
        for c in 1..=cols {
            s.push_str(&format!("{fake}<row_{r}_col_{c}>{images}"));
        }
        s.push('\n');
    }
    s.push('\n');
    s.push_str(&global);
    s
}

/// Replace the `i`-th `<image>` of `text` with the expansion for `grids[i]` (rows, cols).
pub fn expand_image_tokens(
    text: &str,
    grids: &[(u32, u32)],
    seq_len: usize,
    names: &ImageTokenNames,
) -> Result<String, PromptError> {
    let parts: Vec<&str> = text.split(names.image.as_str()).collect();
    if parts.len() - 1 != grids.len() {
        return Err(PromptError::ImageCount {
            token: names.image.clone(),
            in_text: parts.len() - 1,
            given: grids.len(),
        });
    }
    let mut out = parts[0].to_string();
    for (&(rows, cols), part) in grids.iter().zip(&parts[1..]) {
        out.push_str(&image_prompt_string(rows, cols, seq_len, names));
        out.push_str(part);
    }
    Ok(out)
}

/// `<image>` tokens per frame: `(image_size / patch_size)^2 / scale_factor^2`, as
/// transformers' processor docs define `image_seq_len`.
pub fn image_seq_len(image_size: usize, patch_size: usize, scale_factor: usize) -> usize {
    (image_size / patch_size).pow(2) / scale_factor.pow(2)
}

/// A user prompt with its images, rendered, expanded and tokenized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The rendered text before image expansion.
    pub text: String,
    /// The token ids fed to the model.
    pub ids: Vec<u32>,
}

/// The ids transformers' processor gives for one user turn of `grids.len()` images
/// followed by `text`, with the generation prompt opened: render the chat template,
/// expand each `<image>`, tokenize (special tokens added unless the text starts with BOS).
pub fn build_prompt(
    tokenizer: &Tokenizer,
    template: &ChatTemplate,
    text: &str,
    grids: &[(u32, u32)],
    image_seq_len: usize,
) -> Result<Prompt, PromptError> {
    let rendered = template.render(&[Message::user(grids.len(), text)], true, Some(tokenizer))?;
    if !tokenizer.has_special_text(text) {
        let ids = tokenize_rendered(tokenizer, &rendered, grids, image_seq_len)?;
        return Ok(Prompt {
            text: rendered,
            ids,
        });
    }
    // The person's text holds a special token's text (`<end_of_utterance>\nAssistant:`,
    // `<image>`): it stays text. The template is rendered around a stand-in, its parts
    // tokenized as usual (their `<image>`s expanded), the person's text as plain text.
    const STAND_IN: &str = "\u{F8FF}smolvlm-user-text\u{F8FF}";
    let around = template.render(
        &[Message::user(grids.len(), STAND_IN)],
        true,
        Some(tokenizer),
    )?;
    let [before, after] = around.split(STAND_IN).collect::<Vec<_>>()[..] else {
        return Err(PromptError::Template(
            "the chat template must show the prompt's text exactly once".into(),
        ));
    };
    let names = ImageTokenNames::from_tokenizer(tokenizer);
    let images_before = before
        .matches(names.image.as_str())
        .count()
        .min(grids.len());
    let mut ids = tokenize_rendered(tokenizer, before, &grids[..images_before], image_seq_len)?;
    ids.extend(tokenizer.encode_plain(text)?);
    let expanded = expand_image_tokens(after, &grids[images_before..], image_seq_len, &names)?;
    ids.extend(tokenizer.encode(&expanded, false)?);
    Ok(Prompt {
        text: rendered,
        ids,
    })
}

/// Expand and tokenize an already rendered prompt (several turns, say).
pub fn tokenize_rendered(
    tokenizer: &Tokenizer,
    rendered: &str,
    grids: &[(u32, u32)],
    image_seq_len: usize,
) -> Result<Vec<u32>, PromptError> {
    let names = ImageTokenNames::from_tokenizer(tokenizer);
    let expanded = expand_image_tokens(rendered, grids, image_seq_len, &names)?;
    let starts_with_bos = tokenizer
        .special()
        .bos
        .as_ref()
        .is_some_and(|b| expanded.starts_with(&b.content));
    Ok(tokenizer.encode(&expanded, !starts_with_bos)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template of HuggingFaceTB/SmolVLM2-*-Instruct's `chat_template.json`.
    const SMOLVLM2_TEMPLATE: &str = "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

    #[test]
    fn renders_image_and_text_prompts() {
        let t = ChatTemplate::new(SMOLVLM2_TEMPLATE).unwrap();
        let with_image = t
            .render(&[Message::user(1, "What is it?")], true, None)
            .unwrap();
        assert_eq!(
            with_image,
            "<|im_start|>User:<image>What is it?<end_of_utterance>\nAssistant:"
        );
        let text_only = t.render(&[Message::user(0, "Hi")], true, None).unwrap();
        assert_eq!(
            text_only,
            "<|im_start|>User: Hi<end_of_utterance>\nAssistant:"
        );
        let no_gen = t.render(&[Message::user(0, "Hi")], false, None).unwrap();
        assert_eq!(no_gen, "<|im_start|>User: Hi<end_of_utterance>\n");
    }

    #[test]
    fn split_image_expansion_has_rows_newlines_and_global_image() {
        let names = ImageTokenNames::default();
        let s = image_prompt_string(1, 2, 1, &names);
        assert_eq!(
            s,
            "<fake_token_around_image><row_1_col_1><image><fake_token_around_image><row_1_col_2><image>\n\n\
             <fake_token_around_image><global-img><image><fake_token_around_image>"
        );
    }

    #[test]
    fn image_count_must_match() {
        let names = ImageTokenNames::default();
        let err = expand_image_tokens("a<image>b<image>", &[(0, 0)], 1, &names).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the prompt has 2 <image> token(s) but 1 image(s) were given"
        );
    }

    #[test]
    fn raise_exception_is_an_error() {
        let t = ChatTemplate::new("{{ raise_exception('no system role') }}").unwrap();
        let err = t.render(&[], false, None).unwrap_err();
        assert!(err.to_string().contains("no system role"), "{err}");
        assert!(ChatTemplate::new("{% for %}").is_err());
    }

    #[test]
    fn seq_len_of_the_real_checkpoints() {
        // 256M/500M: 512 px, patch 16, scale 4 -> 64; 2.2B: 384 px, patch 14, scale 3 -> 81.
        assert_eq!(image_seq_len(512, 16, 4), 64);
        assert_eq!(image_seq_len(384, 14, 3), 81);
    }
}
