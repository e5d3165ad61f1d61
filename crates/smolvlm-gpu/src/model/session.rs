//! One conversation turn on the GPU, token by token: [`smolvlm::Session`]'s behaviour
//! (stop tokens, `min_new_tokens`, repetition penalty, sampling through smolvlm's own
//! [`LogitsProcessor`]) with the work on the GPU.
//!
//! Greedy decoding without a repetition penalty never reads logits back: one submission
//! masks the stop tokens (while `min_new_tokens` asks for it), takes the argmax into the
//! cache's id buffer, runs the decoder on that id and leaves the next logits on the GPU;
//! the host reads back the 4-byte id only. Other decoding reads the logits, chooses on the
//! host with smolvlm's processor, and writes the id back.

use smolvlm::generation::LogitsProcessor;
use smolvlm::{Decoding, GenerationParams, StopReason};

use super::{GpuCache, GpuModel, ImageFeatures};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A turn of generation on the GPU. Holds the KV cache; the model is shared.
pub struct GpuSession<'m> {
    model: &'m GpuModel,
    cache: Option<GpuCache>,
    processor: LogitsProcessor,
    params: GenerationParams,
    /// The stop ids, on the GPU (for the min_new_tokens mask).
    stop_ids: Tensor,
    logits: Tensor,
    has_logits: bool,
    prompt_len: usize,
    context: Vec<u32>,
    generated: Vec<u32>,
    finished: Option<StopReason>,
}

impl<'m> GpuSession<'m> {
    pub fn new(model: &'m GpuModel, params: GenerationParams) -> Result<Self> {
        let processor = LogitsProcessor::new(params.clone())?;
        let gpu = model.gpu();
        Ok(Self {
            model,
            cache: None,
            processor,
            stop_ids: gpu.upload_u32(&params.stop_ids)?,
            logits: model.new_logits()?,
            has_logits: false,
            prompt_len: 0,
            context: Vec::new(),
            generated: Vec::new(),
            finished: None,
            params,
        })
    }

    /// Runs the prompt (with its image features, see [`GpuModel::encode_images`]).
    /// Fails before any work when the prompt plus `max_new_tokens` exceeds the context.
    /// Submitted, not waited for: errors of the GPU itself show at the next token.
    pub fn prefill(&mut self, prompt_ids: &[u32], images: Option<&ImageFeatures>) -> Result<()> {
        if self.cache.is_some() {
            return Err(
                smolvlm::Error::InvalidInput("the session already has a prompt".into()).into(),
            );
        }
        let max_context = self.model.config().max_context();
        if prompt_ids.len() + self.params.max_new_tokens > max_context {
            return Err(smolvlm::Error::ContextOverflow {
                prompt_tokens: prompt_ids.len(),
                max_new_tokens: self.params.max_new_tokens,
                max_context,
                hint: if prompt_ids.len() < max_context {
                    "; ask for fewer new tokens or use fewer image tiles"
                } else {
                    "; use a shorter prompt or fewer image tiles"
                },
            }
            .into());
        }
        // Room for the prompt and every generated token but the last (whose own forward
        // pass is never needed).
        let capacity = (prompt_ids.len() + self.params.max_new_tokens).max(1);
        let mut cache = self.model.new_cache(capacity)?;
        self.model
            .forward(&mut cache, prompt_ids, images, &self.logits)?;
        self.cache = Some(cache);
        self.has_logits = true;
        self.prompt_len = prompt_ids.len();
        self.context.extend_from_slice(prompt_ids);
        Ok(())
    }

    /// Whether the next token can be chosen on the GPU (greedy, no repetition penalty:
    /// only the min_new_tokens mask, which the GPU applies).
    fn greedy_on_gpu(&self) -> bool {
        self.params.decoding == Decoding::Greedy
            && self.params.repetition_penalty.is_none_or(|p| p == 1.0)
    }

    /// The next token, or None once generation has ended ([`Self::stop_reason`] says why).
    pub async fn next_token(&mut self) -> Result<Option<u32>> {
        if self.finished.is_some() {
            return Ok(None);
        }
        if self.generated.len() >= self.params.max_new_tokens {
            self.finished = Some(StopReason::MaxNewTokens);
            return Ok(None);
        }
        let on_gpu = self.greedy_on_gpu();
        let Some(cache) = self.cache.as_mut().filter(|_| self.has_logits) else {
            return Err(smolvlm::Error::InvalidInput("prefill the session first".into()).into());
        };
        let model = self.model;
        let gpu = model.gpu();
        let vocab = model.vocab_size();
        let pos = cache.len();
        // The token chosen now is the last one asked for: its forward pass is not needed.
        let last = self.generated.len() + 1 >= self.params.max_new_tokens;
        self.has_logits = false;
        let token = if on_gpu {
            let mut rec = gpu.recorder();
            if self.generated.len() < self.params.min_new_tokens {
                rec.set_at(
                    &self.logits,
                    vocab,
                    &self.stop_ids,
                    self.params.stop_ids.len(),
                    f32::MIN,
                )?;
            }
            rec.argmax(&self.logits, vocab, &cache.ids, pos)?;
            // Decoding on the chosen id in the same submission: if it is a stop token the
            // work is wasted, once, at the end.
            if !last {
                model.text.record(&mut rec, cache, 1, None, &self.logits)?;
            }
            rec.submit_read_u32(&cache.ids, pos).await?
        } else {
            let scores = gpu.read(&self.logits).await?;
            let scores = candle_core::Tensor::from_vec(
                scores[..vocab].to_vec(),
                vocab,
                &candle_core::Device::Cpu,
            )?;
            let token = self
                .processor
                .next_token(&scores, &self.context, self.generated.len())?;
            // The sampler's state has moved on: the token is kept even if the forward
            // below fails, so that a CPU session resumed from this one (after a lost
            // device) draws what this one would have drawn next.
            self.context.push(token);
            self.generated.push(token);
            if !last {
                model.write_ids(cache, pos, &[token])?;
                let mut rec = gpu.recorder();
                model.text.record(&mut rec, cache, 1, None, &self.logits)?;
                rec.submit()?;
            }
            token
        };
        if on_gpu {
            if token as usize >= vocab {
                return Err(Error::Gpu(format!(
                    "the GPU chose token {token}, outside the vocabulary of {vocab}"
                )));
            }
            self.context.push(token);
            self.generated.push(token);
        }
        if self.params.stop_ids.contains(&token) {
            self.finished = Some(StopReason::StopToken);
        } else if self.generated.len() >= self.params.max_new_tokens {
            self.finished = Some(StopReason::MaxNewTokens);
        } else {
            self.has_logits = true;
        }
        Ok(Some(token))
    }

    /// [`Self::next_token`], waited for (native targets only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn next_token_blocking(&mut self) -> Result<Option<u32>> {
        pollster::block_on(self.next_token())
    }

    /// The logits the next token will be chosen from (read back; for tests and tools).
    pub async fn logits(&self) -> Result<Vec<f32>> {
        if !self.has_logits {
            return Err(smolvlm::Error::InvalidInput(
                "no logits: prefill first, or generation ended".into(),
            )
            .into());
        }
        let mut v = self.model.gpu().read(&self.logits).await?;
        v.truncate(self.model.vocab_size());
        Ok(v)
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn logits_blocking(&self) -> Result<Vec<f32>> {
        pollster::block_on(self.logits())
    }

    /// Ends the session early (between tokens).
    pub fn cancel(&mut self) {
        self.finished.get_or_insert(StopReason::Cancelled);
        self.has_logits = false;
    }

    pub fn generated(&self) -> &[u32] {
        &self.generated
    }

    /// The prompt ids given to [`Self::prefill`].
    pub fn prompt(&self) -> &[u32] {
        &self.context[..self.prompt_len]
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.finished
    }

    pub fn params(&self) -> &GenerationParams {
        &self.params
    }

    /// The sampler as it stands (its random state included), so that another backend can
    /// carry on where this one stopped (see `smolvlm::Session::resume`).
    pub fn processor(&self) -> &LogitsProcessor {
        &self.processor
    }
}
