//! The text decoder: Llama as SmolLM2 uses it (RMSNorm, rotate-half RoPE, grouped-query
//! attention, SwiGLU MLP), with a KV cache and an output head that is untied unless the
//! config ties it and the weights leave it out; and Granite (granite-docling's decoder
//! family), the same network with an embedding multiplier, its own attention scale and
//! scaled residual branches.
//!
//! Reference: transformers `models/llama/modeling_llama.py` and
//! `models/granite/modeling_granite.py` (v5.24), and candle-transformers' `models/llama.rs`
//! for the candle idioms.
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/llama/modeling_llama.py>

use candle_core::{DType, Tensor};
use candle_nn::Activation;

use crate::config::TextConfig;
use crate::error::{Error, Result};
use crate::kernels::{self, ops, Acts, KvCache};
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

    /// cos and sin for positions `start..start+len`, each `len` rows of head_dim / 2.
    pub fn cos_sin(&self, start: usize, len: usize) -> (Vec<f32>, Vec<f32>) {
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
        (cos, sin)
    }
}

/// RMSNorm: `weight * x / sqrt(mean(x^2) + eps)`.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Vec<f32>,
    eps: f32,
}

impl RmsNorm {
    pub fn new(dim: usize, eps: f64, w: &Weights) -> Result<Self> {
        Ok(Self {
            weight: w.tensor("weight", dim)?.to_vec1()?,
            eps: eps as f32,
        })
    }

    pub fn width(&self) -> usize {
        self.weight.len()
    }

    /// Each row of `x` (rows of the norm's width) into `out`.
    pub fn forward_f32(&self, x: &[f32], out: &mut [f32]) {
        ops::rms_norm(x, &self.weight, self.eps, out)
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let v: Vec<f32> = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        if v.len() % self.weight.len() != 0 {
            return Err(Error::InvalidInput(format!(
                "RMSNorm of width {} got a tensor of shape {:?}",
                self.weight.len(),
                x.dims()
            )));
        }
        let mut out = vec![0f32; v.len()];
        self.forward_f32(&v, &mut out);
        Ok(Tensor::from_vec(out, x.dims(), x.device())?)
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
    scale: f32,
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
            scale: cfg.attention_scale() as f32,
        })
    }

    /// `x` (t rows of hidden, normed) at the positions `cos`/`sin` describe; appends the
    /// keys and values to `cache`, returns the output projection (t rows of hidden).
    fn forward(
        &self,
        x: &[f32],
        t: usize,
        cos: &[f32],
        sin: &[f32],
        cache: &mut KvCache,
    ) -> Result<Vec<f32>> {
        let (h, kvh, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        let acts = Acts::new(x, self.q_proj.in_dim());
        let mut q = vec![0f32; t * h * hd];
        let mut k = vec![0f32; t * kvh * hd];
        let mut v = vec![0f32; t * kvh * hd];
        self.q_proj.forward_f32(&acts, &mut q)?;
        self.k_proj.forward_f32(&acts, &mut k)?;
        self.v_proj.forward_f32(&acts, &mut v)?;
        let half = hd / 2;
        for i in 0..t {
            let (c, s) = (
                &cos[i * half..(i + 1) * half],
                &sin[i * half..(i + 1) * half],
            );
            ops::rope(&mut q[i * h * hd..(i + 1) * h * hd], c, s);
            ops::rope(&mut k[i * kvh * hd..(i + 1) * kvh * hd], c, s);
        }
        cache.append(&k, &v);
        // Grouped-query attention: query head i reads KV head i / (h / kvh), as
        // transformers' `repeat_kv`; causal over the cache.
        let mut attn = vec![0f32; q.len()];
        kernels::attention(&q, cache, h, self.scale, &mut attn);
        let mut out = vec![0f32; t * self.o_proj.out_dim()];
        self.o_proj
            .forward_f32(&Acts::new(&attn, h * hd), &mut out)?;
        Ok(out)
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    gate_proj: QLinear,
    up_proj: QLinear,
    down_proj: QLinear,
}

impl Mlp {
    fn new(cfg: &TextConfig, w: &Weights) -> Result<Self> {
        let (d, i, bias) = (cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias);
        if cfg.hidden_act != Activation::Silu {
            return Err(Error::Unsupported(format!(
                "text_config.hidden_act {:?} (SmolLM2 uses silu)",
                cfg.hidden_act
            )));
        }
        Ok(Self {
            gate_proj: QLinear::new(d, i, bias, &w.pp("gate_proj"))?,
            up_proj: QLinear::new(d, i, bias, &w.pp("up_proj"))?,
            down_proj: QLinear::new(i, d, bias, &w.pp("down_proj"))?,
        })
    }

    /// SwiGLU: `down(silu(gate(x)) * up(x))` for `t` rows of hidden.
    fn forward(&self, x: &[f32], t: usize) -> Result<Vec<f32>> {
        let acts = Acts::new(x, self.gate_proj.in_dim());
        let i = self.gate_proj.out_dim();
        let mut gate = vec![0f32; t * i];
        let mut up = vec![0f32; t * i];
        self.gate_proj.forward_f32(&acts, &mut gate)?;
        self.up_proj.forward_f32(&acts, &mut up)?;
        ops::silu_mul(&mut gate, &up);
        let mut out = vec![0f32; t * self.down_proj.out_dim()];
        self.down_proj.forward_f32(&Acts::new(&gate, i), &mut out)?;
        Ok(out)
    }
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
    /// Granite's `residual_multiplier`; exactly 1.0 for Llama, which takes the plain add.
    residual_multiplier: f32,
}

impl DecoderLayer {
    fn new(cfg: &TextConfig, w: &Weights) -> Result<Self> {
        let (d, eps) = (cfg.hidden_size, cfg.rms_norm_eps);
        Ok(Self {
            input_layernorm: RmsNorm::new(d, eps, &w.pp("input_layernorm"))?,
            self_attn: Attention::new(cfg, &w.pp("self_attn"))?,
            post_attention_layernorm: RmsNorm::new(d, eps, &w.pp("post_attention_layernorm"))?,
            mlp: Mlp::new(cfg, &w.pp("mlp"))?,
            residual_multiplier: cfg.residual_multiplier() as f32,
        })
    }

    /// One layer over `x` (t rows of hidden), in place.
    fn forward(
        &self,
        x: &mut [f32],
        t: usize,
        cos: &[f32],
        sin: &[f32],
        cache: &mut KvCache,
    ) -> Result<()> {
        let mut h = vec![0f32; x.len()];
        self.input_layernorm.forward_f32(x, &mut h);
        let a = self.self_attn.forward(&h, t, cos, sin, cache)?;
        self.add_residual(x, &a);
        self.post_attention_layernorm.forward_f32(x, &mut h);
        let m = self.mlp.forward(&h, t)?;
        self.add_residual(x, &m);
        Ok(())
    }

    fn add_residual(&self, x: &mut [f32], branch: &[f32]) {
        if self.residual_multiplier == 1.0 {
            ops::add_inplace(x, branch);
        } else {
            ops::add_scaled_inplace(x, branch, self.residual_multiplier);
        }
    }
}

/// Keys and values of every layer for the tokens seen so far, in preallocated buffers
/// written in place (see [`KvCache`]).
#[derive(Debug, Clone)]
pub struct Cache {
    layers: Vec<KvCache>,
    len: usize,
}

impl Cache {
    /// An empty cache.
    pub fn new(cfg: &TextConfig) -> Self {
        Self {
            layers: (0..cfg.num_hidden_layers)
                .map(|_| KvCache::new(cfg.num_key_value_heads(), cfg.head_dim()))
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

    /// Bytes held by the keys and values.
    pub fn size_in_bytes(&self) -> usize {
        self.layers.iter().map(KvCache::size_in_bytes).sum()
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
    /// Granite's `embedding_multiplier`; exactly 1.0 for Llama (then skipped).
    embedding_multiplier: f32,
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
            embedding_multiplier: cfg.embedding_multiplier() as f32,
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
        let (b, t, d) = embeds.dims3()?;
        if b != 1 || d != self.norm.width() {
            return Err(Error::InvalidInput(format!(
                "the text model takes embeddings (1, tokens, {}), got {:?}",
                self.norm.width(),
                embeds.dims()
            )));
        }
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
        let (cos, sin) = self.rotary.cos_sin(start, t);
        let mut x: Vec<f32> = embeds.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        // GraniteModel scales whatever embeddings it is given, so image features too.
        if self.embedding_multiplier != 1.0 {
            for v in &mut x {
                *v *= self.embedding_multiplier;
            }
        }
        for layer in &mut cache.layers {
            layer.reserve(start + t);
        }
        for (layer, kv) in self.layers.iter().zip(cache.layers.iter_mut()) {
            layer.forward(&mut x, t, &cos, &sin, kv)?;
        }
        cache.len += t;
        let mut out = vec![0f32; x.len()];
        self.norm.forward_f32(&x, &mut out);
        Ok(Tensor::from_vec(out, embeds.dims(), device)?)
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
