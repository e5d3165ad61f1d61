//! One conversation turn on the GPU, token by token: [`smolvlm::Session`]'s behaviour
//! (stop tokens, `min_new_tokens`, repetition penalty, sampling through smolvlm's own
//! [`LogitsProcessor`]) with the work on the GPU.
//!
//! Greedy decoding without a repetition penalty never reads logits back: one submission
//! masks the stop tokens (while `min_new_tokens` asks for it), takes the argmax into the
//! cache's id buffer, runs the decoder on that id and leaves the next logits on the GPU;
//! the host reads back the 4-byte id only. Other decoding reads the logits, chooses on the
//! host with smolvlm's processor, and writes the id back.

use smolvlm::generation::{LogitsProcessor, TurnState};
use smolvlm::{Decoding, GenerationParams, StopReason};

use super::{GpuCache, GpuModel, ImageFeatures};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A turn of generation on the GPU. Holds the KV cache; the model is shared.
pub struct GpuSession<'m> {
    model: &'m GpuModel,
    cache: Option<GpuCache>,
    turn: TurnState,
    /// The stop ids, on the GPU (for the min_new_tokens mask).
    stop_ids: Tensor,
    logits: Tensor,
    has_logits: bool,
}

impl<'m> GpuSession<'m> {
    pub fn new(model: &'m GpuModel, params: GenerationParams) -> Result<Self> {
        let turn = TurnState::new(params)?;
        let gpu = model.gpu();
        Ok(Self {
            model,
            cache: None,
            stop_ids: gpu.upload_u32(&turn.params().stop_ids)?,
            logits: model.new_logits()?,
            has_logits: false,
            turn,
        })
    }

    /// Runs the prompt (with its image features, see [`GpuModel::encode_images`]).
    /// Fails before any work when the prompt plus `max_new_tokens` exceeds the context.
    /// Submitted, not waited for: errors of the GPU itself show at the next token, or at
    /// [`Self::wait`].
    pub fn prefill(&mut self, prompt_ids: &[u32], images: Option<&ImageFeatures>) -> Result<()> {
        self.turn
            .begin(prompt_ids, self.model.config().max_context())?;
        // Room for the prompt and every generated token but the last (whose own forward
        // pass is never needed).
        let capacity = (prompt_ids.len() + self.turn.params().max_new_tokens).max(1);
        let mut cache = self.model.new_cache(capacity)?;
        self.model
            .forward(&mut cache, prompt_ids, images, &self.logits)?;
        self.cache = Some(cache);
        self.has_logits = true;
        Ok(())
    }

    /// Waits until the GPU has run what was submitted (by reading back one logit: a
    /// browser waits for the GPU only by reading), so a lost device shows here.
    pub async fn wait(&self) -> Result<()> {
        self.model.gpu().read_bytes(&self.logits, 0, 4).await?;
        Ok(())
    }

    /// Whether the next token can be chosen on the GPU (greedy, no repetition penalty:
    /// only the min_new_tokens mask, which the GPU applies).
    fn greedy_on_gpu(&self) -> bool {
        let params = self.turn.params();
        params.decoding == Decoding::Greedy && params.repetition_penalty.is_none_or(|p| p == 1.0)
    }

    /// The next token, or None once generation has ended ([`Self::stop_reason`] says why).
    pub async fn next_token(&mut self) -> Result<Option<u32>> {
        if !self.turn.wants_token() {
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
        self.has_logits = false;
        let goes_on = if on_gpu {
            let mut rec = gpu.recorder();
            if self.turn.masks_stop_tokens() {
                let stops = self.turn.params().stop_ids.len();
                rec.set_at(&self.logits, vocab, &self.stop_ids, stops, f32::MIN)?;
            }
            rec.argmax(&self.logits, vocab, &cache.ids, pos)?;
            // Decoding on the chosen id in the same submission (unless it is the last one
            // asked for): if it is a stop token the work is wasted, once, at the end.
            if !self.turn.next_is_last() {
                model.text.record(&mut rec, cache, 1, None, &self.logits)?;
            }
            let token = rec.submit_read_u32(&cache.ids, pos).await?;
            if token as usize >= vocab {
                return Err(Error::Gpu(format!(
                    "the GPU chose token {token}, outside the vocabulary of {vocab}"
                )));
            }
            self.turn.accept(token)
        } else {
            let scores = gpu.read(&self.logits).await?;
            let scores = candle_core::Tensor::from_vec(
                scores[..vocab].to_vec(),
                vocab,
                &candle_core::Device::Cpu,
            )?;
            let token = self.turn.choose(&scores)?;
            // The sampler's state has moved on: the token is kept even if the forward
            // below fails, so that a CPU session resumed from this one (after a lost
            // device) draws what this one would have drawn next.
            let goes_on = self.turn.accept(token);
            if goes_on {
                model.write_ids(cache, pos, &[token])?;
                let mut rec = gpu.recorder();
                model.text.record(&mut rec, cache, 1, None, &self.logits)?;
                rec.submit()?;
            }
            goes_on
        };
        self.has_logits = goes_on;
        Ok(self.turn.generated().last().copied())
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
        self.turn.cancel();
        self.has_logits = false;
    }

    /// The turn as it stands: parameters, sampler, prompt, generated ids, stop.
    pub fn turn(&self) -> &TurnState {
        &self.turn
    }

    pub fn generated(&self) -> &[u32] {
        self.turn.generated()
    }

    /// The prompt ids given to [`Self::prefill`].
    pub fn prompt(&self) -> &[u32] {
        self.turn.prompt()
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.turn.stop_reason()
    }

    pub fn params(&self) -> &GenerationParams {
        self.turn.params()
    }

    /// The sampler as it stands (its random state included), so that another backend can
    /// carry on where this one stopped (see `smolvlm::Session::resume`).
    pub fn processor(&self) -> &LogitsProcessor {
        self.turn.processor()
    }
}
