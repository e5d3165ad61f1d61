//! The text decoder: Llama as SmolLM2 uses it (RMSNorm, rotate-half RoPE, grouped-query
//! attention, SwiGLU MLP), with a KV cache and an output head that is untied unless the
//! config ties it and the weights leave it out.
//!
//! Reference: transformers `models/llama/modeling_llama.py` (v5.24), and
//! candle-transformers' `models/llama.rs` for the candle idioms.
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/llama/modeling_llama.py>

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::kv_cache::KvCache;
use candle_nn::Activation;

use crate::config::TextConfig;
use crate::error::{Error, Result};
use crate::weights::{QEmbedding, QLinear, Weights};

/// Rotary position embeddings, computed like transformers' default RoPE: `inv_freq` in
/// float32 as `1 / base^(2i/d)`, angles as float32 `position * inv_freq`.
#[derive(Debug, Clone)]
pub struct RotaryEmbedding {
    inv_freq: Vec<f32>,
}

impl RotaryEmbedding {
    pub fn new(cfg: &TextConfig) -> Self {
        let dim = cfg.head_dim();
        let base = cfg.rope_theta() as f32;
        let inv_freq = (0..dim)
            .step_by(2)
            .map(|i| 1.0f32 / base.powf(i as f32 / dim as f32))
            .collect();
        Self { inv_freq }
    }

    /// cos and sin for positions `start..start+len`, each (len, head_dim / 2).
    pub fn cos_sin(&self, start: usize, len: usize, device: &Device) -> Result<(Tensor, Tensor)> {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for p in start..start + len {
            for &f in &self.inv_freq {
                let angle = p as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Ok((
            Tensor::from_vec(cos, (len, half), device)?,
            Tensor::from_vec(sin, (len, half), device)?,
        ))
    }
}

/// RMSNorm: `weight * x / sqrt(mean(x^2) + eps)`.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    pub fn new(dim: usize, eps: f64, w: &Weights) -> Result<Self> {
        Ok(Self {
            weight: w.tensor("weight", dim)?,
            eps: eps as f32,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::rms_norm(
            &x.contiguous()?,
            &self.weight,
            self.eps,
        )?)
    }
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: QLinear,
    k_proj: QLinear,
    v_proj: QLinear,
    o_proj: QLinear,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    scale: f64,
}

impl Attention {
    fn new(cfg: &TextConfig, w: &Weights) -> Result<Self> {
        let (d, hd) = (cfg.hidden_size, cfg.head_dim());
        let (h, kvh) = (cfg.num_attention_heads, cfg.num_key_value_heads());
        let bias = cfg.attention_bias;
        Ok(Self {
            q_proj: QLinear::new(d, h * hd, bias, &w.pp("q_proj"))?,
            k_proj: QLinear::new(d, kvh * hd, bias, &w.pp("k_proj"))?,
            v_proj: QLinear::new(d, kvh * hd, bias, &w.pp("v_proj"))?,
            o_proj: QLinear::new(h * hd, d, bias, &w.pp("o_proj"))?,
            num_heads: h,
            num_kv_heads: kvh,
            head_dim: hd,
            scale: (hd as f64).powf(-0.5),
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let (h, kvh, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        // (b, t, heads*hd) -> (b, heads, t, hd)
        let split = |y: Tensor, heads: usize| -> Result<Tensor> {
            Ok(y.reshape((b, t, heads, hd))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = split(self.q_proj.forward(x)?, h)?;
        let k = split(self.k_proj.forward(x)?, kvh)?;
        let v = split(self.v_proj.forward(x)?, kvh)?;
        let q = candle_nn::rotary_emb::rope(&q, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&k, cos, sin)?;
        let (k, v) = cache.append(&k, &v)?;
        let (k, v) = (k.contiguous()?, v.contiguous()?);
        let tk = k.dim(2)?;
        // Grouped-query attention without copying K/V per head: the n_rep query heads that
        // share a KV head are stacked along the sequence axis, so one matmul per KV head
        // gives the same scores as transformers' `repeat_kv` (query head i uses KV head
        // i / n_rep).
        let n_rep = h / kvh;
        let q = q.reshape((b, kvh, n_rep * t, hd))?;
        let scores = q
            .matmul(&k.t()?)?
            .reshape((b, h, t, tk))?
            .affine(self.scale, 0.)?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs
            .reshape((b, kvh, n_rep * t, tk))?
            .matmul(&v)?
            .reshape((b, h, t, hd))?
            .transpose(1, 2)?
            .reshape((b, t, h * hd))?;
        self.o_proj.forward(&out)
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    gate_proj: QLinear,
    up_proj: QLinear,
    down_proj: QLinear,
    act: Activation,
}

impl Mlp {
    fn new(cfg: &TextConfig, w: &Weights) -> Result<Self> {
        let (d, i, bias) = (cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias);
        Ok(Self {
            gate_proj: QLinear::new(d, i, bias, &w.pp("gate_proj"))?,
            up_proj: QLinear::new(d, i, bias, &w.pp("up_proj"))?,
            down_proj: QLinear::new(i, d, bias, &w.pp("down_proj"))?,
            act: cfg.hidden_act,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gate = self.act.forward(&self.gate_proj.forward(x)?)?;
        let up = self.up_proj.forward(x)?;
        self.down_proj.forward(&(gate * up)?)
    }
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl DecoderLayer {
    fn new(cfg: &TextConfig, w: &Weights) -> Result<Self> {
        let (d, eps) = (cfg.hidden_size, cfg.rms_norm_eps);
        Ok(Self {
            input_layernorm: RmsNorm::new(d, eps, &w.pp("input_layernorm"))?,
            self_attn: Attention::new(cfg, &w.pp("self_attn"))?,
            post_attention_layernorm: RmsNorm::new(d, eps, &w.pp("post_attention_layernorm"))?,
            mlp: Mlp::new(cfg, &w.pp("mlp"))?,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let h = self.input_layernorm.forward(x)?;
        let h = self.self_attn.forward(&h, cos, sin, mask, cache)?;
        let x = (x + h)?;
        let h = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&x)?)?;
        Ok((x + h)?)
    }
}

/// Keys and values of every layer for the tokens seen so far.
#[derive(Debug, Clone)]
pub struct Cache {
    layers: Vec<KvCache>,
    len: usize,
}

impl Cache {
    /// An empty cache; it grows in steps of 512 positions.
    pub fn new(cfg: &TextConfig) -> Self {
        Self {
            layers: (0..cfg.num_hidden_layers)
                .map(|_| KvCache::new(2, 512))
                .collect(),
            len: 0,
        }
    }

    /// Tokens held (the position of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The decoder: `model.text_model` plus `lm_head` in the checkpoint.
#[derive(Debug, Clone)]
pub struct TextModel {
    embed_tokens: QEmbedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: QLinear,
    rotary: RotaryEmbedding,
    max_context: usize,
}

impl TextModel {
    /// `w_model` is `model.text_model`, `w_root` the checkpoint root (for `lm_head`).
    pub fn new(
        cfg: &TextConfig,
        tie_word_embeddings: bool,
        w_model: &Weights,
        w_root: &Weights,
    ) -> Result<Self> {
        let embed_tokens =
            QEmbedding::new(cfg.vocab_size, cfg.hidden_size, &w_model.pp("embed_tokens"))?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| DecoderLayer::new(cfg, &w_model.pp("layers").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::new(cfg.hidden_size, cfg.rms_norm_eps, &w_model.pp("norm"))?;
        let head = w_root.pp("lm_head");
        // transformers ties only when the config says so; a checkpoint that carries its
        // own lm_head keeps it (the untied SmolVLM2 checkpoints do).
        let lm_head = if tie_word_embeddings && !head.contains("weight") {
            embed_tokens.as_linear()
        } else {
            QLinear::new(cfg.hidden_size, cfg.vocab_size, false, &head)?
        };
        Ok(Self {
            embed_tokens,
            layers,
            norm,
            lm_head,
            rotary: RotaryEmbedding::new(cfg),
            max_context: cfg.max_position_embeddings,
        })
    }

    /// Token embeddings (len, hidden) of `ids`.
    pub fn embed(&self, ids: &[u32]) -> Result<Tensor> {
        self.embed_tokens.forward(ids)
    }

    pub fn vocab_size(&self) -> usize {
        self.embed_tokens.rows()
    }

    /// Runs `embeds` (1, t, hidden) at positions `cache.len()..` and returns the final
    /// hidden states (1, t, hidden), normed.
    pub fn forward(&self, embeds: &Tensor, cache: &mut Cache) -> Result<Tensor> {
        let (_, t, _) = embeds.dims3()?;
        let start = cache.len;
        if start + t > self.max_context {
            return Err(Error::ContextOverflow {
                prompt_tokens: start + t,
                max_new_tokens: 0,
                max_context: self.max_context,
                hint: "",
            });
        }
        let device = embeds.device();
        let (cos, sin) = self.rotary.cos_sin(start, t, device)?;
        let mask = if t > 1 {
            // Causal: position start+i sees keys 0..=start+i.
            let tk = start + t;
            let m: Vec<f32> = (0..t)
                .flat_map(|i| {
                    (0..tk).map(move |j| {
                        if j > start + i {
                            f32::NEG_INFINITY
                        } else {
                            0.0
                        }
                    })
                })
                .collect();
            Some(Tensor::from_vec(m, (1, 1, t, tk), device)?)
        } else {
            None
        };
        let mut x = embeds.clone();
        for (layer, kv) in self.layers.iter().zip(cache.layers.iter_mut()) {
            x = layer.forward(&x, &cos, &sin, mask.as_ref(), kv)?;
        }
        cache.len += t;
        self.norm.forward(&x)
    }

    /// Logits (vocab) of the last position of `hidden` (1, t, hidden).
    pub fn last_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let t = hidden.dim(1)?;
        if t == 0 {
            return Err(Error::InvalidInput(
                "no positions to take logits from".into(),
            ));
        }
        let last = hidden.narrow(1, t - 1, 1)?;
        Ok(self
            .lm_head
            .forward(&last)?
            .squeeze(0)?
            .squeeze(0)?
            .to_dtype(DType::F32)?)
    }

    /// Logits (t, vocab) of every position.
    pub fn all_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.lm_head.forward(hidden)?.squeeze(0)?)
    }
}
