//! Decoding: greedy or sampling, token by token, with the logits processors transformers
//! applies and in its order: repetition penalty, then `min_new_tokens` (stop tokens masked
//! to -inf until enough tokens exist), then for sampling temperature, top-k, top-p.
//!
//! Reference: transformers `generation/utils.py` (`_get_logits_processor`, `_sample`)
//! and `generation/logits_process.py` (v5.24).
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/generation/logits_process.py>
//!
//! Sampling draws from a seeded `StdRng`: the same seed gives the same tokens here, but
//! not the tokens PyTorch's generator would draw. Greedy decoding matches transformers.
//!
//! No clocks in here (`std::time::Instant` panics on wasm32): callers time the steps.

use std::ops::ControlFlow;

use candle_core::Tensor;
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::error::{Error, Result};
use crate::model::SmolVlm;
use crate::text::Cache;

/// How the next token is chosen from the processed logits.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoding {
    /// The most likely token (the first one on ties, like `torch.argmax`).
    Greedy,
    /// A draw from the softmax after temperature, top-k and top-p.
    Sample {
        /// Divides the logits; must be > 0.
        temperature: f64,
        /// Keep only the k most likely tokens (ties with the k-th kept).
        top_k: Option<usize>,
        /// Keep the smallest set of most likely tokens whose probability exceeds p.
        top_p: Option<f64>,
        seed: u64,
    },
}

/// Everything that decides which tokens come out.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    pub max_new_tokens: usize,
    /// Stop tokens are masked until this many tokens have been generated.
    pub min_new_tokens: usize,
    /// transformers' `repetition_penalty` (1.0 or None: off). Applies to greedy too.
    pub repetition_penalty: Option<f32>,
    pub decoding: Decoding,
    /// Tokens that end generation (end-of-utterance, eos); the one produced is kept.
    pub stop_ids: Vec<u32>,
}

impl GenerationParams {
    /// Greedy decoding of up to `max_new_tokens`, stopping at `stop_ids`.
    pub fn greedy(max_new_tokens: usize, stop_ids: Vec<u32>) -> Self {
        Self {
            max_new_tokens,
            min_new_tokens: 0,
            repetition_penalty: None,
            decoding: Decoding::Greedy,
            stop_ids,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.min_new_tokens > self.max_new_tokens {
            // transformers raises the same ("Unfeasible length constraints").
            return Err(Error::InvalidInput(format!(
                "min_new_tokens ({}) is larger than max_new_tokens ({})",
                self.min_new_tokens, self.max_new_tokens
            )));
        }
        if let Some(p) = self.repetition_penalty {
            if !(p > 0.0 && p.is_finite()) {
                return Err(Error::InvalidInput(format!(
                    "repetition penalty must be a positive number, got {p}"
                )));
            }
        }
        if let Decoding::Sample {
            temperature,
            top_k,
            top_p,
            ..
        } = &self.decoding
        {
            if !(*temperature > 0.0 && temperature.is_finite()) {
                return Err(Error::InvalidInput(format!(
                    "temperature must be a positive number, got {temperature}"
                )));
            }
            if *top_k == Some(0) {
                return Err(Error::InvalidInput("top-k must be at least 1".into()));
            }
            if let Some(p) = top_p {
                if !(*p > 0.0 && *p <= 1.0) {
                    return Err(Error::InvalidInput(format!(
                        "top-p must be in (0, 1], got {p}"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Turns logits into the next token.
#[derive(Debug, Clone)]
pub struct LogitsProcessor {
    params: GenerationParams,
    rng: StdRng,
}

impl LogitsProcessor {
    pub fn new(params: GenerationParams) -> Result<Self> {
        params.validate()?;
        let seed = match params.decoding {
            Decoding::Sample { seed, .. } => seed,
            Decoding::Greedy => 0,
        };
        Ok(Self {
            params,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    /// The next token given the last position's `logits` (vocab), the whole sequence so
    /// far `context` (prompt and generated tokens) and how many tokens were generated.
    pub fn next_token(
        &mut self,
        logits: &Tensor,
        context: &[u32],
        generated: usize,
    ) -> Result<u32> {
        let mut scores: Vec<f32> = logits.flatten_all()?.to_vec1()?;
        // Masked tokens are -inf; NaN or +inf mean the forward pass broke, and an argmax
        // over them would silently answer token 0.
        if let Some(bad) = scores
            .iter()
            .position(|s| s.is_nan() || *s == f32::INFINITY)
        {
            return Err(Error::BrokenNumbers(format!(
                "the logit of token {bad} is {} (the weights or the config's values are broken)",
                scores[bad]
            )));
        }
        self.process(&mut scores, context, generated);
        match self.params.decoding {
            Decoding::Greedy => Ok(argmax(&scores)),
            Decoding::Sample { .. } => self.sample(&scores),
        }
    }

    /// Applies the processors in place (exposed for tests).
    pub fn process(&self, scores: &mut [f32], context: &[u32], generated: usize) {
        if let Some(penalty) = self.params.repetition_penalty.filter(|&p| p != 1.0) {
            // RepetitionPenaltyLogitsProcessor: once per distinct id of the sequence.
            let mut seen = vec![false; scores.len()];
            for &id in context {
                let i = id as usize;
                if i < scores.len() && !seen[i] {
                    seen[i] = true;
                    let s = scores[i];
                    scores[i] = if s < 0.0 { s * penalty } else { s / penalty };
                }
            }
        }
        if generated < self.params.min_new_tokens {
            // MinNewTokensLengthLogitsProcessor.
            for &id in &self.params.stop_ids {
                if let Some(s) = scores.get_mut(id as usize) {
                    *s = f32::NEG_INFINITY;
                }
            }
        }
        if let Decoding::Sample {
            temperature,
            top_k,
            top_p,
            ..
        } = self.params.decoding
        {
            if temperature != 1.0 {
                let t = temperature as f32;
                scores.iter_mut().for_each(|s| *s /= t);
            }
            if let Some(k) = top_k {
                top_k_filter(scores, k);
            }
            if let Some(p) = top_p.filter(|&p| p < 1.0) {
                top_p_filter(scores, p as f32);
            }
        }
    }

    fn sample(&mut self, scores: &[f32]) -> Result<u32> {
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if !max.is_finite() {
            return Err(Error::InvalidInput(
                "every token was filtered out of the sampling distribution".into(),
            ));
        }
        let weights: Vec<f32> = scores.iter().map(|&s| (s - max).exp()).collect();
        let dist = WeightedIndex::new(&weights)
            .map_err(|e| Error::InvalidInput(format!("cannot sample: {e}")))?;
        Ok(dist.sample(&mut self.rng) as u32)
    }
}

/// Index of the first maximum (`torch.argmax`).
pub fn argmax(scores: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[best] {
            best = i;
        }
    }
    best as u32
}

/// TopKLogitsWarper: everything below the k-th largest score becomes -inf.
fn top_k_filter(scores: &mut [f32], k: usize) {
    if k >= scores.len() {
        return;
    }
    let mut sorted: Vec<f32> = scores.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let kth = sorted[k - 1];
    scores
        .iter_mut()
        .filter(|s| **s < kth)
        .for_each(|s| *s = f32::NEG_INFINITY);
}

/// TopPLogitsWarper: sort ascending, drop the tokens whose cumulative probability is
/// `<= 1 - p`, always keeping the most likely one.
fn top_p_filter(scores: &mut [f32], p: f32) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // A stable ascending sort, like torch.sort on CPU for equal keys.
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let max = scores[order[order.len() - 1]];
    let exps: Vec<f32> = order.iter().map(|&i| (scores[i] - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    let mut cumulative = 0f32;
    let last = order.len() - 1;
    let mut remove = Vec::new();
    for (rank, (&i, e)) in order.iter().zip(&exps).enumerate() {
        cumulative += e / total;
        if cumulative <= 1.0 - p && rank != last {
            remove.push(i);
        }
    }
    for i in remove {
        scores[i] = f32::NEG_INFINITY;
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A stop token was produced (it is the last generated token).
    StopToken,
    /// `max_new_tokens` were produced.
    MaxNewTokens,
    /// The caller asked to stop between two tokens.
    Cancelled,
}

/// What a turn is, whichever backend runs it: its parameters and sampler, the prompt and
/// the ids generated so far, and why it ended. [`Session`] and smolvlm-gpu's `GpuSession`
/// each hold one, so the context check, the stop rules and the hand-over between backends
/// are written once.
#[derive(Debug, Clone)]
pub struct TurnState {
    params: GenerationParams,
    processor: LogitsProcessor,
    /// The prompt, then every generated token.
    context: Vec<u32>,
    prompt_len: usize,
    generated: Vec<u32>,
    finished: Option<StopReason>,
}

impl TurnState {
    pub fn new(params: GenerationParams) -> Result<Self> {
        let processor = LogitsProcessor::new(params.clone())?;
        Ok(Self::with_processor(params, processor))
    }

    /// A turn that draws with `processor` as another backend left it (its random state
    /// included).
    pub fn with_processor(params: GenerationParams, processor: LogitsProcessor) -> Self {
        Self {
            params,
            processor,
            context: Vec::new(),
            prompt_len: 0,
            generated: Vec::new(),
            finished: None,
        }
    }

    /// Takes the prompt, after checking that it and `max_new_tokens` fit a context of
    /// `max_context` positions (before any work is done).
    pub fn begin(&mut self, prompt_ids: &[u32], max_context: usize) -> Result<()> {
        if !self.context.is_empty() {
            return Err(Error::InvalidInput(
                "the session already has a prompt".into(),
            ));
        }
        let fits = prompt_ids
            .len()
            .checked_add(self.params.max_new_tokens)
            .is_some_and(|n| n <= max_context);
        if !fits {
            return Err(Error::ContextOverflow {
                prompt_tokens: prompt_ids.len(),
                max_new_tokens: self.params.max_new_tokens,
                max_context,
                hint: if prompt_ids.len() < max_context {
                    "; ask for fewer new tokens or use fewer image tiles"
                } else {
                    "; use a shorter prompt or fewer image tiles"
                },
            });
        }
        self.context.extend_from_slice(prompt_ids);
        self.prompt_len = prompt_ids.len();
        Ok(())
    }

    /// Whether another token is to be chosen (false once the turn ended; reaching
    /// `max_new_tokens` ends it).
    pub fn wants_token(&mut self) -> bool {
        if self.finished.is_none() && self.generated.len() >= self.params.max_new_tokens {
            self.finished = Some(StopReason::MaxNewTokens);
        }
        self.finished.is_none()
    }

    /// Whether the next token chosen is the last one asked for (its forward pass is never
    /// needed).
    pub fn next_is_last(&self) -> bool {
        self.generated.len() + 1 >= self.params.max_new_tokens
    }

    /// Whether stop tokens are still masked (`min_new_tokens` not reached).
    pub fn masks_stop_tokens(&self) -> bool {
        self.generated.len() < self.params.min_new_tokens
    }

    /// Chooses the next token from `logits` (vocab,) with the processors and sampler.
    pub fn choose(&mut self, logits: &Tensor) -> Result<u32> {
        self.processor
            .next_token(logits, &self.context, self.generated.len())
    }

    /// Records a chosen token; true while the turn goes on (the token's forward pass is
    /// then needed for the next one).
    pub fn accept(&mut self, token: u32) -> bool {
        self.context.push(token);
        self.generated.push(token);
        if self.params.stop_ids.contains(&token) {
            self.finished = Some(StopReason::StopToken);
        } else if self.generated.len() >= self.params.max_new_tokens {
            self.finished = Some(StopReason::MaxNewTokens);
        }
        self.finished.is_none()
    }

    /// Takes the tokens another backend generated in this turn (after [`Self::begin`]);
    /// true while the turn goes on.
    pub fn accept_generated(&mut self, generated: &[u32]) -> Result<bool> {
        if generated.len() > self.params.max_new_tokens {
            return Err(Error::InvalidInput(format!(
                "{} tokens were generated already, more than the {} asked for",
                generated.len(),
                self.params.max_new_tokens
            )));
        }
        let mut goes_on = true;
        for &t in generated {
            goes_on = self.accept(t);
        }
        Ok(goes_on)
    }

    /// Ends the turn early (between tokens).
    pub fn cancel(&mut self) {
        self.finished.get_or_insert(StopReason::Cancelled);
    }

    pub fn params(&self) -> &GenerationParams {
        &self.params
    }

    /// The sampler as it stands (its random state included), so that another backend can
    /// carry on where this one stopped.
    pub fn processor(&self) -> &LogitsProcessor {
        &self.processor
    }

    pub fn prompt(&self) -> &[u32] {
        &self.context[..self.prompt_len]
    }

    pub fn generated(&self) -> &[u32] {
        &self.generated
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.finished
    }
}

/// One conversation turn, token by token. Holds the KV cache; the model is shared.
pub struct Session<'a> {
    model: &'a SmolVlm,
    cache: Cache,
    turn: TurnState,
    logits: Option<Tensor>,
}

impl<'a> Session<'a> {
    pub fn new(model: &'a SmolVlm, params: GenerationParams) -> Result<Self> {
        Ok(Self::with_turn(model, TurnState::new(params)?))
    }

    fn with_turn(model: &'a SmolVlm, turn: TurnState) -> Self {
        Self {
            model,
            cache: model.new_cache(),
            turn,
            logits: None,
        }
    }

    /// Runs the prompt (with its image features, see [`SmolVlm::encode_images`]).
    /// Fails before any work when the prompt plus `max_new_tokens` exceeds the context.
    pub fn prefill(&mut self, prompt_ids: &[u32], image_features: Option<&Tensor>) -> Result<()> {
        self.turn
            .begin(prompt_ids, self.model.config().max_context())?;
        let embeds = self.model.embed(prompt_ids, image_features)?;
        self.logits = Some(self.model.forward(&embeds, &mut self.cache)?);
        Ok(())
    }

    /// Carries on a turn that another backend began (the GPU path, after its device was
    /// lost): runs `turn`'s prompt (with `image_features`, this model's own) and the tokens
    /// generated so far on this model, then decodes on with `turn`'s sampler as that
    /// backend left it (a sampler keeps its random state, so the draws go on where they
    /// stopped).
    pub fn resume(
        model: &'a SmolVlm,
        turn: &TurnState,
        image_features: Option<&Tensor>,
    ) -> Result<Self> {
        let (prompt, generated) = (turn.prompt(), turn.generated());
        let fresh = TurnState::with_processor(turn.params().clone(), turn.processor().clone());
        let mut session = Self::with_turn(model, fresh);
        session.prefill(prompt, image_features)?;
        let goes_on = session.turn.accept_generated(generated)?;
        if generated.is_empty() {
            return Ok(session);
        }
        session.logits = None;
        if goes_on {
            // Generated ids are text: an `<image>` among them stays a plain token.
            let embeds = model.embed(generated, None)?;
            session.logits = Some(model.forward(&embeds, &mut session.cache)?);
        }
        Ok(session)
    }

    /// The next token, or None once generation has ended ([`Self::stop_reason`] says why).
    pub fn next_token(&mut self) -> Result<Option<u32>> {
        if !self.turn.wants_token() {
            return Ok(None);
        }
        let Some(logits) = self.logits.take() else {
            return Err(Error::InvalidInput("prefill the session first".into()));
        };
        let token = self.turn.choose(&logits)?;
        if self.turn.accept(token) {
            self.logits = Some(self.model.forward_token(token, &mut self.cache)?);
        }
        Ok(Some(token))
    }

    /// Ends the session early (between tokens).
    pub fn cancel(&mut self) {
        self.turn.cancel();
        self.logits = None;
    }

    /// The turn as it stands: parameters, sampler, prompt, generated ids, stop.
    pub fn turn(&self) -> &TurnState {
        &self.turn
    }

    pub fn generated(&self) -> &[u32] {
        self.turn.generated()
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.turn.stop_reason()
    }
}

/// What [`generate`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Every generated token, a final stop token included.
    pub tokens: Vec<u32>,
    pub stop: StopReason,
}

/// Prefills `prompt_ids` and decodes, calling `on_token` after each token; returning
/// `ControlFlow::Break` from it cancels generation before the next token.
pub fn generate(
    model: &SmolVlm,
    prompt_ids: &[u32],
    image_features: Option<&Tensor>,
    params: GenerationParams,
    mut on_token: impl FnMut(u32) -> ControlFlow<()>,
) -> Result<Generated> {
    let mut session = Session::new(model, params)?;
    session.prefill(prompt_ids, image_features)?;
    while let Some(token) = session.next_token()? {
        if on_token(token).is_break() {
            session.cancel();
            break;
        }
    }
    Ok(Generated {
        tokens: session.generated().to_vec(),
        stop: session.stop_reason().unwrap_or(StopReason::MaxNewTokens),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn processor(params: GenerationParams) -> LogitsProcessor {
        LogitsProcessor::new(params).unwrap()
    }

    #[test]
    fn repetition_penalty_divides_positive_and_multiplies_negative_scores_once() {
        let mut params = GenerationParams::greedy(4, vec![]);
        params.repetition_penalty = Some(2.0);
        let mut scores = vec![4.0, -4.0, 1.0];
        processor(params).process(&mut scores, &[0, 1, 0], 0);
        assert_eq!(scores, vec![2.0, -8.0, 1.0]);
    }

    #[test]
    fn min_new_tokens_masks_stop_tokens_until_reached() {
        let mut params = GenerationParams::greedy(4, vec![2]);
        params.min_new_tokens = 2;
        let p = processor(params);
        let mut scores = vec![0.0, 1.0, 5.0];
        p.process(&mut scores, &[], 1);
        assert_eq!(argmax(&scores), 1);
        let mut scores = vec![0.0, 1.0, 5.0];
        p.process(&mut scores, &[], 2);
        assert_eq!(argmax(&scores), 2);
    }

    #[test]
    fn top_k_keeps_ties_with_the_kth_score() {
        let mut scores = vec![1.0, 3.0, 2.0, 2.0, 0.0];
        top_k_filter(&mut scores, 2);
        let inf = f32::NEG_INFINITY;
        assert_eq!(scores, vec![inf, 3.0, 2.0, 2.0, inf]);
    }

    #[test]
    fn top_p_keeps_the_smallest_set_above_p() {
        // probabilities 0.5, 0.25, 0.125, 0.125 (as logs)
        let mut scores: Vec<f32> = [0.5f32, 0.25, 0.125, 0.125]
            .iter()
            .map(|p| p.ln())
            .collect();
        top_p_filter(&mut scores, 0.7);
        assert!(scores[0].is_finite() && scores[1].is_finite());
        assert!(scores[2] == f32::NEG_INFINITY && scores[3] == f32::NEG_INFINITY);
    }

    #[test]
    fn sampling_is_reproducible_for_a_seed() {
        let params = GenerationParams {
            decoding: Decoding::Sample {
                temperature: 0.8,
                top_k: Some(3),
                top_p: Some(0.9),
                seed: 7,
            },
            ..GenerationParams::greedy(4, vec![])
        };
        let logits =
            Tensor::new(&[0.1f32, 0.5, 0.3, 0.2, 0.05], &candle_core::Device::Cpu).unwrap();
        let draw = |params: GenerationParams| -> Vec<u32> {
            let mut p = processor(params);
            (0..16)
                .map(|_| p.next_token(&logits, &[], 0).unwrap())
                .collect()
        };
        let a = draw(params.clone());
        assert_eq!(a, draw(params));
        assert!(a.iter().all(|&t| t == 1 || t == 2 || t == 3));
    }

    /// NaN or +inf logits (broken weights) are an error, never token 0 by a silent argmax;
    /// -inf is a masked token and fine.
    #[test]
    fn broken_logits_are_an_error_not_token_zero() {
        let dev = candle_core::Device::Cpu;
        for bad in [f32::NAN, f32::INFINITY] {
            for decoding in [
                Decoding::Greedy,
                Decoding::Sample {
                    temperature: 1.0,
                    top_k: None,
                    top_p: None,
                    seed: 1,
                },
            ] {
                let params = GenerationParams {
                    decoding,
                    ..GenerationParams::greedy(4, vec![])
                };
                let logits = Tensor::new(&[0.5f32, bad, 0.1], &dev).unwrap();
                let err = processor(params).next_token(&logits, &[], 0).unwrap_err();
                assert!(matches!(err, Error::BrokenNumbers(_)), "{err}");
                assert!(err.to_string().contains("token 1"), "{err}");
            }
        }
        let masked = Tensor::new(&[f32::NEG_INFINITY, 0.5, 0.1], &dev).unwrap();
        let p = GenerationParams::greedy(4, vec![]);
        assert_eq!(processor(p).next_token(&masked, &[], 0).unwrap(), 1);
    }

    #[test]
    fn bad_sampling_values_are_errors() {
        let params = GenerationParams {
            decoding: Decoding::Sample {
                temperature: 0.0,
                top_k: None,
                top_p: None,
                seed: 0,
            },
            ..GenerationParams::greedy(4, vec![])
        };
        assert!(matches!(
            LogitsProcessor::new(params),
            Err(Error::InvalidInput(_))
        ));
    }
}
