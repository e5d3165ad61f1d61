//! The Llama text decoder (SmolLM2) on the GPU: what `smolvlm::text` computes, with the
//! KV cache and the token ids kept on the GPU. One code path records any number of new
//! tokens: a prefill (matmuls, causal attention over the cache) or a decode step (matvecs,
//! split-key attention), then the final norm and the output head for the last position.
//!
//! Reference: transformers `models/llama/modeling_llama.py` (v5.24).

use candle_nn::Activation;
use smolvlm::config::TextConfig;
use smolvlm::Weights;

use super::load::Loader;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::recorder::Recorder;
use crate::shaders::{AttentionArgs, KvCache, RopeTable};
use crate::tensor::Tensor;
use crate::weights::Weight;

struct Layer {
    input_norm: Tensor,
    post_norm: Tensor,
    q: Weight,
    k: Weight,
    v: Weight,
    o: Weight,
    q_b: Option<Tensor>,
    k_b: Option<Tensor>,
    v_b: Option<Tensor>,
    o_b: Option<Tensor>,
    gate: Weight,
    up: Weight,
    down: Weight,
    gate_b: Option<Tensor>,
    up_b: Option<Tensor>,
    down_b: Option<Tensor>,
}

impl Layer {
    fn new(ld: &mut Loader<'_>, cfg: &TextConfig, w: &Weights) -> Result<Self> {
        let (d, hd, i) = (cfg.hidden_size, cfg.head_dim(), cfg.intermediate_size);
        let (h, kvh) = (cfg.num_attention_heads, cfg.num_key_value_heads());
        let (ab, mb) = (cfg.attention_bias, cfg.mlp_bias);
        let a = w.pp("self_attn");
        let m = w.pp("mlp");
        let (q, k, v, o) = (
            a.pp("q_proj"),
            a.pp("k_proj"),
            a.pp("v_proj"),
            a.pp("o_proj"),
        );
        let (gate, up, down) = (m.pp("gate_proj"), m.pp("up_proj"), m.pp("down_proj"));
        Ok(Self {
            input_norm: ld.vector(&w.pp("input_layernorm"), "weight", d)?,
            post_norm: ld.vector(&w.pp("post_attention_layernorm"), "weight", d)?,
            q: ld.matrix(&q, h * hd, d)?,
            k: ld.matrix(&k, kvh * hd, d)?,
            v: ld.matrix(&v, kvh * hd, d)?,
            o: ld.matrix(&o, d, h * hd)?,
            q_b: ld.bias(&q, ab, h * hd)?,
            k_b: ld.bias(&k, ab, kvh * hd)?,
            v_b: ld.bias(&v, ab, kvh * hd)?,
            o_b: ld.bias(&o, ab, d)?,
            gate: ld.matrix(&gate, i, d)?,
            up: ld.matrix(&up, i, d)?,
            down: ld.matrix(&down, d, i)?,
            gate_b: ld.bias(&gate, mb, i)?,
            up_b: ld.bias(&up, mb, i)?,
            down_b: ld.bias(&down, mb, d)?,
        })
    }
}

/// `model.text_model` and `lm_head` on the GPU.
pub(crate) struct TextDecoder {
    embed: Weight,
    layers: Vec<Layer>,
    norm: Tensor,
    /// `None`: tied to `embed`.
    lm_head: Option<Weight>,
    rope: RopeTable,
    pub d: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub inter: usize,
    pub vocab: usize,
    eps: f32,
}

/// Keys, values and token ids of one conversation, on the GPU.
pub struct GpuCache {
    layers: Vec<KvCache>,
    /// u32 `[capacity]`: token id of every position (prompt ids are written by the host,
    /// greedy decoding writes its choices here on the GPU).
    pub(crate) ids: Tensor,
    len: usize,
    capacity: usize,
    /// Activations of one decode step, kept so that every step binds the same buffers
    /// (and so reuses the cached bind groups).
    step: Option<Scratch>,
}

impl GpuCache {
    /// Positions filled (the position of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions this cache has room for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Activations for `rows` tokens.
pub(crate) struct Scratch {
    rows: usize,
    x: Tensor,
    x2: Tensor,
    h: Tensor,
    q: Tensor,
    qr: Tensor,
    k: Tensor,
    v: Tensor,
    attn: Tensor,
    g: Tensor,
    u: Tensor,
    a: Tensor,
}

impl TextDecoder {
    /// `tm` is `model.text_model`, `root` the checkpoint root (for `lm_head`).
    pub fn new(
        ld: &mut Loader<'_>,
        cfg: &TextConfig,
        tie_word_embeddings: bool,
        tm: &Weights,
        root: &Weights,
    ) -> Result<Self> {
        if cfg.hidden_act != Activation::Silu {
            return Err(smolvlm::Error::Unsupported(format!(
                "the GPU text decoder implements SiLU-gated MLPs, the config asks for {:?}",
                cfg.hidden_act
            ))
            .into());
        }
        if cfg.is_granite() {
            // Granite's embedding and residual multipliers would need scaled kernels here;
            // until then such a model stays on the CPU, which implements them.
            return Err(smolvlm::Error::Unsupported(
                "the GPU text decoder implements Llama; this model's decoder is Granite \
                 (embedding, attention and residual multipliers): use the CPU backend"
                    .into(),
            )
            .into());
        }
        let (d, vocab) = (cfg.hidden_size, cfg.vocab_size);
        let embed = ld.matrix(&tm.pp("embed_tokens"), vocab, d)?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::new(ld, cfg, &tm.pp("layers").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let norm = ld.vector(&tm.pp("norm"), "weight", d)?;
        let head = root.pp("lm_head");
        // As the CPU model: tied only when the config says so and no lm_head is stored.
        let lm_head = if tie_word_embeddings && !head.contains("weight") {
            None
        } else {
            Some(ld.matrix(&head, vocab, d)?)
        };
        Ok(Self {
            embed,
            layers,
            norm,
            lm_head,
            rope: RopeTable::new(
                ld.gpu,
                cfg.rope_theta() as f32,
                cfg.head_dim(),
                cfg.max_position_embeddings,
            )?,
            d,
            heads: cfg.num_attention_heads,
            kv_heads: cfg.num_key_value_heads(),
            head_dim: cfg.head_dim(),
            inter: cfg.intermediate_size,
            vocab,
            eps: cfg.rms_norm_eps as f32,
        })
    }

    pub fn max_context(&self) -> usize {
        self.rope.max_pos()
    }

    pub fn new_cache(&self, gpu: &Gpu, capacity: usize) -> Result<GpuCache> {
        let layers = self
            .layers
            .iter()
            .map(|_| KvCache::new(gpu, capacity, self.kv_heads, self.head_dim))
            .collect::<Result<Vec<_>>>()?;
        Ok(GpuCache {
            layers,
            ids: gpu.tensor_u32(capacity)?,
            len: 0,
            capacity,
            step: None,
        })
    }

    pub fn scratch(&self, gpu: &Gpu, rows: usize) -> Result<Scratch> {
        let (d, q, kv, i) = (
            self.d,
            self.heads * self.head_dim,
            self.kv_heads * self.head_dim,
            self.inter,
        );
        Ok(Scratch {
            rows,
            x: gpu.tensor(rows * d)?,
            x2: gpu.tensor(rows * d)?,
            h: gpu.tensor(rows * d)?,
            q: gpu.tensor(rows * q)?,
            qr: gpu.tensor(rows * q)?,
            k: gpu.tensor(rows * kv)?,
            v: gpu.tensor(rows * kv)?,
            attn: gpu.tensor(rows * q)?,
            g: gpu.tensor(rows * i)?,
            u: gpu.tensor(rows * i)?,
            a: gpu.tensor(rows * i)?,
        })
    }

    /// Records the `t` tokens whose ids are at `cache.ids[cache.len()..]` (written before
    /// the submit), with `images` rows copied over the embeddings of the positions listed
    /// (`(position, feature row, count)` runs), and the logits of the last one into
    /// `logits`. The cache grows by `t`.
    pub fn record(
        &self,
        rec: &mut Recorder<'_>,
        cache: &mut GpuCache,
        t: usize,
        images: Option<(&Tensor, &[(usize, usize, usize)])>,
        logits: &Tensor,
    ) -> Result<()> {
        let pos0 = cache.len;
        if t == 0 || pos0 + t > cache.capacity {
            return Err(smolvlm::Error::ContextOverflow {
                prompt_tokens: pos0 + t,
                max_new_tokens: 0,
                max_context: cache.capacity,
                hint: " (the GPU cache was made for fewer tokens)",
            }
            .into());
        }
        if t == 1 && cache.step.is_none() {
            cache.step = Some(self.scratch(rec.gpu, 1)?);
        }
        let fresh;
        let s: &Scratch = match (&cache.step, t) {
            (Some(s), 1) => s,
            _ => {
                fresh = self.scratch(rec.gpu, t)?;
                &fresh
            }
        };
        debug_assert!(s.rows >= t);
        let d = self.d;
        let (h, kvh, hd) = (self.heads, self.kv_heads, self.head_dim);
        let row = kvh * hd;
        let i = self.inter;
        let eps = self.eps;

        rec.embed(&self.embed, &cache.ids, pos0, t, &s.x)?;
        if let Some((features, runs)) = images {
            for &(pos, feature_row, n) in runs {
                rec.copy(features, feature_row * d, &s.x, (pos - pos0) * d, n * d)?;
            }
        }
        let scale = (hd as f32).powf(-0.5);
        for (l, kv) in self.layers.iter().zip(&cache.layers) {
            rec.rms_norm(&s.x, &l.input_norm, t, d, eps, &s.h)?;
            rec.linear(&l.q, &s.h, t, &s.q, l.q_b.as_ref(), None)?;
            rec.linear(&l.k, &s.h, t, &s.k, l.k_b.as_ref(), None)?;
            rec.linear(&l.v, &s.h, t, &s.v, l.v_b.as_ref(), None)?;
            rec.rope(&s.q, t, h, pos0, &self.rope, &s.qr, 0)?;
            rec.rope(&s.k, t, kvh, pos0, &self.rope, &kv.k, pos0 * row)?;
            rec.copy(&s.v, 0, &kv.v, pos0 * row, t * row)?;
            rec.attention(&AttentionArgs {
                q: &s.qr,
                k: &kv.k,
                v: &kv.v,
                out: &s.attn,
                heads: h,
                kv_heads: kvh,
                head_dim: hd,
                q_len: t,
                kv_len: pos0 + t,
                causal: true,
                q_pos0: pos0,
                key_mask: None,
                scale,
            })?;
            rec.linear(&l.o, &s.attn, t, &s.x2, l.o_b.as_ref(), Some(&s.x))?;
            rec.rms_norm(&s.x2, &l.post_norm, t, d, eps, &s.h)?;
            rec.linear(&l.gate, &s.h, t, &s.g, l.gate_b.as_ref(), None)?;
            rec.linear(&l.up, &s.h, t, &s.u, l.up_b.as_ref(), None)?;
            rec.silu_mul(&s.g, &s.u, t * i, &s.a)?;
            rec.linear(&l.down, &s.a, t, &s.x, l.down_b.as_ref(), Some(&s.x2))?;
        }
        // The final norm over the last position only, then the output head.
        rec.copy(&s.x, (t - 1) * d, &s.x2, 0, d)?;
        rec.rms_norm(&s.x2, &self.norm, 1, d, eps, &s.h)?;
        let head = self.lm_head.as_ref().unwrap_or(&self.embed);
        rec.matvec(head, &s.h, logits, None, None)?;
        cache.len += t;
        Ok(())
    }
}
