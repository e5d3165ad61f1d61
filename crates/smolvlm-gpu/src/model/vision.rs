//! The SigLIP vision tower and the connector on the GPU: what `smolvlm::vision` and
//! `smolvlm::connector` compute, image by image (images do not attend to each other).
//!
//! Patch embedding: the convolution (kernel = stride = patch size) is a permutation of the
//! pixels into one row per patch (done on the host while preparing the upload: a copy of
//! the pixels we upload anyway) and a matmul on the GPU, with the bias and the gathered
//! position embeddings fused into it. Then the pre-LayerNorm encoder (bidirectional
//! attention with padding patches masked as keys, tanh-GELU MLP), the post LayerNorm, the
//! pixel shuffle and the projection into the text model's width.
//!
//! Reference: transformers `models/smolvlm/modeling_smolvlm.py` (v5.24).

use candle_nn::Activation;
use smolvlm::config::Config;
use smolvlm::vision::position_ids;
use smolvlm::Weights;

use super::load::Loader;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::recorder::Recorder;
use crate::shaders::AttentionArgs;
use crate::tensor::Tensor;
use crate::weights::Weight;

struct Layer {
    ln1_w: Tensor,
    ln1_b: Tensor,
    q: Weight,
    q_b: Tensor,
    k: Weight,
    k_b: Tensor,
    v: Weight,
    v_b: Tensor,
    o: Weight,
    o_b: Tensor,
    ln2_w: Tensor,
    ln2_b: Tensor,
    fc1: Weight,
    fc1_b: Tensor,
    fc2: Weight,
    fc2_b: Tensor,
}

impl Layer {
    fn new(ld: &mut Loader<'_>, d: usize, inter: usize, w: &Weights) -> Result<Self> {
        let attn = w.pp("self_attn");
        let mlp = w.pp("mlp");
        let (ln1, ln2) = (w.pp("layer_norm1"), w.pp("layer_norm2"));
        let (q, k, v, o) = (
            attn.pp("q_proj"),
            attn.pp("k_proj"),
            attn.pp("v_proj"),
            attn.pp("out_proj"),
        );
        let (fc1, fc2) = (mlp.pp("fc1"), mlp.pp("fc2"));
        Ok(Self {
            ln1_w: ld.vector(&ln1, "weight", d)?,
            ln1_b: ld.vector(&ln1, "bias", d)?,
            q: ld.matrix(&q, d, d)?,
            q_b: ld.vector(&q, "bias", d)?,
            k: ld.matrix(&k, d, d)?,
            k_b: ld.vector(&k, "bias", d)?,
            v: ld.matrix(&v, d, d)?,
            v_b: ld.vector(&v, "bias", d)?,
            o: ld.matrix(&o, d, d)?,
            o_b: ld.vector(&o, "bias", d)?,
            ln2_w: ld.vector(&ln2, "weight", d)?,
            ln2_b: ld.vector(&ln2, "bias", d)?,
            fc1: ld.matrix(&fc1, inter, d)?,
            fc1_b: ld.vector(&fc1, "bias", inter)?,
            fc2: ld.matrix(&fc2, d, inter)?,
            fc2_b: ld.vector(&fc2, "bias", d)?,
        })
    }
}

/// `model.vision_model` and `model.connector` on the GPU.
pub(crate) struct VisionTower {
    patch: Weight,
    patch_bias: Tensor,
    positions: Weight,
    layers: Vec<Layer>,
    post_w: Tensor,
    post_b: Tensor,
    proj: Weight,
    d: usize,
    inter: usize,
    heads: usize,
    head_dim: usize,
    channels: usize,
    patch_size: usize,
    per_side: usize,
    eps: f32,
    scale_factor: usize,
    text_d: usize,
}

/// Per-image activations, allocated once for the frames of one picture
/// ([`VisionTower::scratch`]).
pub(crate) struct Scratch {
    x: Tensor,
    x2: Tensor,
    h: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn: Tensor,
    m1: Tensor,
    m2: Tensor,
    shuffled: Tensor,
    feats: Tensor,
    height: usize,
    width: usize,
    per_image: usize,
}

impl Scratch {
    /// Features each frame gives the prompt.
    pub fn per_image(&self) -> usize {
        self.per_image
    }
}

/// One encoder image, ready to upload: `pixels` (C, H, W) and its patch mask.
pub(crate) struct Frame<'a> {
    pub pixels: &'a [f32],
    pub height: usize,
    pub width: usize,
    pub valid: &'a [bool],
}

impl VisionTower {
    /// `vm` is `model.vision_model`, `cm` is `model.connector`.
    pub fn new(ld: &mut Loader<'_>, cfg: &Config, vm: &Weights, cm: &Weights) -> Result<Self> {
        let v = &cfg.vision;
        if v.hidden_act != Activation::GeluPytorchTanh {
            return Err(smolvlm::Error::Unsupported(format!(
                "the GPU vision tower implements gelu_pytorch_tanh, the config asks for {:?}",
                v.hidden_act
            ))
            .into());
        }
        let (d, c, p) = (v.hidden_size, v.num_channels, v.patch_size);
        let emb = vm.pp("embeddings");
        let conv = emb.pp("patch_embedding");
        let layers = (0..v.num_hidden_layers)
            .map(|i| {
                Layer::new(
                    ld,
                    d,
                    v.intermediate_size,
                    &vm.pp("encoder").pp("layers").pp(i),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let post = vm.pp("post_layernorm");
        let s = cfg.scale_factor;
        Ok(Self {
            patch: ld.matrix_shaped(&conv, "weight", (d, c, p, p), d, c * p * p)?,
            patch_bias: ld.vector(&conv, "bias", d)?,
            positions: ld.matrix(&emb.pp("position_embedding"), v.num_positions(), d)?,
            layers,
            post_w: ld.vector(&post, "weight", d)?,
            post_b: ld.vector(&post, "bias", d)?,
            proj: ld.matrix(
                &cm.pp("modality_projection").pp("proj"),
                cfg.text.hidden_size,
                d * s * s,
            )?,
            d,
            inter: v.intermediate_size,
            heads: v.num_attention_heads,
            head_dim: v.head_dim(),
            channels: c,
            patch_size: p,
            per_side: v.num_patches_per_side(),
            eps: v.layer_norm_eps as f32,
            scale_factor: s,
            text_d: cfg.text.hidden_size,
        })
    }

    pub fn patch_size(&self) -> usize {
        self.patch_size
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Features per image for frames of `height x width`, or why such frames cannot go
    /// through the connector (the pixel shuffle needs a square grid that `s` divides).
    pub fn features_per_image(&self, height: usize, width: usize) -> Result<usize> {
        let (rows, cols) = (height / self.patch_size, width / self.patch_size);
        let s = self.scale_factor;
        if rows == 0 || rows != cols || rows % s != 0 {
            return Err(smolvlm::Error::InvalidInput(format!(
                "pixel shuffle by {s} needs a square grid of patches divisible by {s}, got {rows}x{cols} patches"
            ))
            .into());
        }
        Ok(rows * cols / (s * s))
    }

    /// The activations of frames of `height x width`, allocated once for all of them.
    pub fn scratch(&self, gpu: &Gpu, height: usize, width: usize) -> Result<Scratch> {
        let per_image = self.features_per_image(height, width)?;
        let seq = (height / self.patch_size) * (width / self.patch_size);
        let (d, inter) = (self.d, self.inter);
        Ok(Scratch {
            x: gpu.tensor(seq * d)?,
            x2: gpu.tensor(seq * d)?,
            h: gpu.tensor(seq * d)?,
            q: gpu.tensor(seq * d)?,
            k: gpu.tensor(seq * d)?,
            v: gpu.tensor(seq * d)?,
            attn: gpu.tensor(seq * d)?,
            m1: gpu.tensor(seq * inter)?,
            m2: gpu.tensor(seq * inter)?,
            shuffled: gpu.tensor(seq * d)?,
            feats: gpu.tensor(per_image * self.text_d)?,
            height,
            width,
            per_image,
        })
    }

    /// Encodes frame `f` into image `i` of `out` (`[frames, per_image, text hidden]`), in
    /// one submission (not waited for).
    pub fn encode_frame(
        &self,
        gpu: &Gpu,
        s: &Scratch,
        f: &Frame<'_>,
        out: &Tensor,
        i: usize,
    ) -> Result<()> {
        if (f.height, f.width) != (s.height, s.width) {
            return Err(smolvlm::Error::InvalidInput(
                "encoder images of one prompt must share one size".into(),
            )
            .into());
        }
        let (rows, cols) = (f.height / self.patch_size, f.width / self.patch_size);
        let patches = gpu.upload(&self.patches(f)?)?;
        let ids = position_ids(f.valid, rows, cols, self.per_side)?;
        let ids = gpu.upload_u32(&ids)?;
        let mask = if f.valid.iter().all(|&v| v) {
            None
        } else {
            let m: Vec<u32> = f.valid.iter().map(|&v| v as u32).collect();
            Some(gpu.upload_u32(&m)?)
        };
        let mut rec = gpu.recorder();
        self.record_image(
            &mut rec,
            s,
            rows * cols,
            rows,
            &patches,
            &ids,
            mask.as_ref(),
        )?;
        let n = s.per_image * self.text_d;
        rec.copy(&s.feats, 0, out, i * n, n)?;
        rec.submit()
    }

    /// The frame's patches as rows of `C * p * p` values in the convolution kernel's
    /// order (channel, then row and column inside the patch); pixels past the last whole
    /// patch are ignored, as a "valid" convolution does.
    fn patches(&self, f: &Frame<'_>) -> Result<Vec<f32>> {
        let (c, p) = (self.channels, self.patch_size);
        let (h, w) = (f.height, f.width);
        if f.pixels.len() != c * h * w {
            return Err(Error::Invalid(format!(
                "a frame of {h}x{w} with {c} channels needs {} values, got {}",
                c * h * w,
                f.pixels.len()
            )));
        }
        let (rows, cols) = (h / p, w / p);
        if f.valid.len() != rows * cols {
            return Err(Error::Invalid(format!(
                "a patch mask of {} entries for {rows}x{cols} patches",
                f.valid.len()
            )));
        }
        let mut out = Vec::with_capacity(rows * cols * c * p * p);
        for r in 0..rows {
            for cc in 0..cols {
                for ch in 0..c {
                    for py in 0..p {
                        let start = (ch * h + r * p + py) * w + cc * p;
                        out.extend_from_slice(&f.pixels[start..start + p]);
                    }
                }
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn record_image(
        &self,
        rec: &mut Recorder<'_>,
        s: &Scratch,
        seq: usize,
        side: usize,
        patches: &Tensor,
        pos_ids: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<()> {
        let (d, inter, eps) = (self.d, self.inter, self.eps);
        // x = patches W^T + b + position_embedding[ids]   (pos gathered into x2)
        rec.embed(&self.positions, pos_ids, 0, seq, &s.x2)?;
        rec.matmul(
            &self.patch,
            patches,
            seq,
            &s.x,
            Some(&self.patch_bias),
            Some(&s.x2),
        )?;
        let scale = (self.head_dim as f32).powf(-0.5);
        for l in &self.layers {
            rec.layer_norm(&s.x, &l.ln1_w, &l.ln1_b, seq, d, eps, &s.h)?;
            rec.matmul(&l.q, &s.h, seq, &s.q, Some(&l.q_b), None)?;
            rec.matmul(&l.k, &s.h, seq, &s.k, Some(&l.k_b), None)?;
            rec.matmul(&l.v, &s.h, seq, &s.v, Some(&l.v_b), None)?;
            rec.attention(&AttentionArgs {
                q: &s.q,
                k: &s.k,
                v: &s.v,
                out: &s.attn,
                heads: self.heads,
                kv_heads: self.heads,
                head_dim: self.head_dim,
                q_len: seq,
                kv_len: seq,
                causal: false,
                q_pos0: 0,
                key_mask: mask,
                scale,
            })?;
            rec.matmul(&l.o, &s.attn, seq, &s.x2, Some(&l.o_b), Some(&s.x))?;
            rec.layer_norm(&s.x2, &l.ln2_w, &l.ln2_b, seq, d, eps, &s.h)?;
            rec.matmul(&l.fc1, &s.h, seq, &s.m1, Some(&l.fc1_b), None)?;
            rec.gelu_tanh(&s.m1, seq * inter, &s.m2)?;
            rec.matmul(&l.fc2, &s.m2, seq, &s.x, Some(&l.fc2_b), Some(&s.x2))?;
        }
        rec.layer_norm(&s.x, &self.post_w, &self.post_b, seq, d, eps, &s.h)?;
        rec.pixel_shuffle(&s.h, side, d, self.scale_factor, &s.shuffled)?;
        let per_image = seq / (self.scale_factor * self.scale_factor);
        rec.matmul(&self.proj, &s.shuffled, per_image, &s.feats, None, None)?;
        Ok(())
    }
}
