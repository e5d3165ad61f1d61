//! The SigLIP vision tower of SmolVLM / Idefics3: patch embedding, learned position
//! embeddings addressed through Idefics3's bucketed position ids under the patch mask, a
//! pre-LayerNorm encoder (bidirectional attention, tanh-GELU MLP) and a final LayerNorm.
//!
//! Reference: transformers `models/smolvlm/modeling_smolvlm.py` (`SmolVLMVisionEmbeddings`,
//! `SmolVLMVisionAttention`, `SmolVLMEncoderLayer`, `SmolVLMVisionTransformer`), v5.24.
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/smolvlm/modeling_smolvlm.py>

use candle_core::{Module, Tensor, D};
use candle_nn::Activation;

use crate::config::VisionConfig;
use crate::error::{Error, Result};
use crate::weights::{QEmbedding, QLinear, Weights};

/// Which patches of each encoder image hold real pixels: (images, rows, cols), row-major.
/// Images are padded at the bottom and right, so the valid patches of an image form a
/// top-left rectangle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchMask {
    pub images: usize,
    pub rows: usize,
    pub cols: usize,
    pub valid: Vec<bool>,
}

impl PatchMask {
    /// Every patch valid.
    pub fn full(images: usize, rows: usize, cols: usize) -> Self {
        Self {
            images,
            rows,
            cols,
            valid: vec![true; images * rows * cols],
        }
    }

    /// From a pixel mask (images, H, W) of 0/1 values: a patch is valid when any of its
    /// pixels is (transformers: `unfold` then `sum > 0`).
    pub fn from_pixel_mask(mask: &Tensor, patch_size: usize) -> Result<Self> {
        let (images, h, w) = mask.dims3().map_err(|_| {
            Error::InvalidInput(format!(
                "pixel attention mask must be (images, height, width), got {:?}",
                mask.dims()
            ))
        })?;
        let (rows, cols) = (h / patch_size, w / patch_size);
        let mask = mask
            .to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let mut valid = vec![false; images * rows * cols];
        for i in 0..images {
            for r in 0..rows * patch_size {
                for c in 0..cols * patch_size {
                    if mask[(i * h + r) * w + c] != 0.0 {
                        valid[(i * rows + r / patch_size) * cols + c / patch_size] = true;
                    }
                }
            }
        }
        Ok(Self {
            images,
            rows,
            cols,
            valid,
        })
    }

    fn image(&self, i: usize) -> &[bool] {
        let n = self.rows * self.cols;
        &self.valid[i * n..(i + 1) * n]
    }
}

/// `torch.arange(1/n, 1.0, 1/n)` in float32, as PyTorch's scalar CPU kernel computes it:
/// the length is `ceil((end - start) / step)` in double, each element `start + i * step`
/// in double rounded to float. (Its SIMD path rounds some elements one ulp differently
/// when 1/n is inexact, e.g. n = 27 for SmolVLM2-2.2B; measured against torch 2.15 for
/// n in 14, 24, 27, 35, 36, 37 and every valid patch count up to 2n, no bucket changes.)
/// A patch coordinate on the other side of a boundary would pick another embedding.
fn bucket_boundaries(n: usize) -> Vec<f32> {
    let step = 1.0 / n as f64;
    let len = ((1.0 - step) / step).ceil().max(0.0) as usize;
    (0..len).map(|i| (step + step * i as f64) as f32).collect()
}

/// `torch.bucketize(x, boundaries, right=True)`: how many boundaries are `<= x`.
fn bucketize_right(x: f32, boundaries: &[f32]) -> usize {
    boundaries.partition_point(|&b| b <= x)
}

/// Position ids of one image's patches on its `rows x cols` grid (transformers v5.24):
/// the valid `nb_h x nb_w` rectangle is spread over the `n x n` learned positions by
/// bucketing `i / nb` (float32, clamped below 1) against the boundaries `k / n`. Padding
/// patches get position 0 (`torch.where(mask, pos_ids, 0)`); they still run through the
/// encoder as queries, and their outputs reach the text model.
pub fn position_ids(
    mask: &[bool],
    rows: usize,
    cols: usize,
    num_patches_per_side: usize,
) -> Result<Vec<u32>> {
    let nb_h = (0..rows).filter(|&r| mask[r * cols]).count();
    let nb_w = (0..cols).filter(|&c| mask[c]).count();
    if nb_h == 0 || nb_w == 0 {
        return Err(Error::InvalidInput(
            "an image's patch mask has no valid patch in its first row or column".into(),
        ));
    }
    let boundaries = bucket_boundaries(num_patches_per_side);
    // `1.0 / nb_patches` on an int64 tensor is `reciprocal()` in float32.
    let step_h = 1.0f32 / nb_h as f32;
    let step_w = 1.0f32 / nb_w as f32;
    let max = (1.0f64 - 1e-6) as f32;
    let bucket = |i: usize, step: f32| bucketize_right((i as f32 * step).min(max), &boundaries);
    let mut ids = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let bh = bucket(r, step_h);
        for c in 0..cols {
            ids.push(if mask[r * cols + c] {
                (bh * num_patches_per_side + bucket(c, step_w)) as u32
            } else {
                0
            });
        }
    }
    Ok(ids)
}

/// LayerNorm over the last dimension, two-pass (mean, then variance of the centred
/// values). Hand-written because candle-nn's fused CPU kernel takes the variance as
/// `E[x^2] - E[x]^2` in f32, which loses digits when activations have a large mean;
/// PyTorch computes the moments with Welford's method.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(dim: usize, eps: f64, w: &Weights) -> Result<Self> {
        Ok(Self {
            weight: w.tensor("weight", dim)?,
            bias: w.tensor("bias", dim)?,
            eps,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let rstd = (var + self.eps)?.sqrt()?.recip()?;
        Ok(centred
            .broadcast_mul(&rstd)?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)?)
    }
}

/// Patch "convolution" (kernel = stride = patch size) as a matmul over flattened patches,
/// plus the learned position embeddings.
#[derive(Debug, Clone)]
pub struct VisionEmbeddings {
    patch_embedding: QLinear,
    position_embedding: QEmbedding,
    patch_size: usize,
    num_channels: usize,
    num_patches_per_side: usize,
}

impl VisionEmbeddings {
    pub fn new(cfg: &VisionConfig, w: &Weights) -> Result<Self> {
        let (d, c, p) = (cfg.hidden_size, cfg.num_channels, cfg.patch_size);
        let conv = w.pp("patch_embedding");
        // (d, c, p, p) -> (d, c*p*p): the conv over one patch is a dot product with it.
        let weight = conv
            .tensor("weight", (d, c, p, p))?
            .reshape((d, c * p * p))?;
        let bias = conv.tensor("bias", d)?;
        let patch_embedding =
            QLinear::from_weight(crate::weights::Weight::Dense(weight), Some(bias))?;
        let position_embedding =
            QEmbedding::new(cfg.num_positions(), d, &w.pp("position_embedding"))?;
        Ok(Self {
            patch_embedding,
            position_embedding,
            patch_size: p,
            num_channels: c,
            num_patches_per_side: cfg.num_patches_per_side(),
        })
    }

    /// `pixel_values` (1, C, H, W) and that image's patch mask -> (1, rows*cols, D).
    pub fn forward(&self, pixel_values: &Tensor, mask: &[bool]) -> Result<Tensor> {
        let (n, c, h, w) = pixel_values.dims4()?;
        let p = self.patch_size;
        let (rows, cols) = (h / p, w / p);
        if c != self.num_channels || rows == 0 || cols == 0 {
            return Err(Error::InvalidInput(format!(
                "pixel values of shape {:?} do not fit {} channels and patches of {p} pixels",
                pixel_values.dims(),
                self.num_channels
            )));
        }
        // A "valid" convolution ignores pixels past the last whole patch.
        let x = pixel_values
            .narrow(2, 0, rows * p)?
            .narrow(3, 0, cols * p)?
            // (n, c, rows, p, cols, p) -> (n, rows, cols, c, p, p)
            .reshape((n, c, rows, p, cols, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .reshape((n, rows * cols, c * p * p))?;
        let patches = self.patch_embedding.forward(&x)?;
        let ids = position_ids(mask, rows, cols, self.num_patches_per_side)?;
        let positions = self.position_embedding.forward(&ids)?.unsqueeze(0)?;
        Ok(patches.broadcast_add(&positions)?)
    }
}

#[derive(Debug, Clone)]
struct VisionAttention {
    q_proj: QLinear,
    k_proj: QLinear,
    v_proj: QLinear,
    out_proj: QLinear,
    num_heads: usize,
    head_dim: usize,
    scale: f64,
}

impl VisionAttention {
    fn new(cfg: &VisionConfig, w: &Weights) -> Result<Self> {
        let d = cfg.hidden_size;
        Ok(Self {
            q_proj: QLinear::new(d, d, true, &w.pp("q_proj"))?,
            k_proj: QLinear::new(d, d, true, &w.pp("k_proj"))?,
            v_proj: QLinear::new(d, d, true, &w.pp("v_proj"))?,
            out_proj: QLinear::new(d, d, true, &w.pp("out_proj"))?,
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
            scale: (cfg.head_dim() as f64).powf(-0.5),
        })
    }

    /// `mask`: additive (1, 1, 1, L), or None when every patch is valid.
    fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, l, d) = x.dims3()?;
        let heads = |t: Tensor| -> Result<Tensor> {
            // (b, l, h, hd) -> (b, h, l, hd)
            Ok(t.reshape((b, l, self.num_heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = heads(self.q_proj.forward(x)?)?;
        let k = heads(self.k_proj.forward(x)?)?;
        let v = heads(self.v_proj.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? * self.scale)?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let probs = crate::tensor_ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, l, d))?;
        self.out_proj.forward(&out)
    }
}

#[derive(Debug, Clone)]
struct VisionMlp {
    fc1: QLinear,
    fc2: QLinear,
    act: Activation,
}

impl VisionMlp {
    fn new(cfg: &VisionConfig, w: &Weights) -> Result<Self> {
        Ok(Self {
            fc1: QLinear::new(cfg.hidden_size, cfg.intermediate_size, true, &w.pp("fc1"))?,
            fc2: QLinear::new(cfg.intermediate_size, cfg.hidden_size, true, &w.pp("fc2"))?,
            act: cfg.hidden_act,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.fc1.forward(x)?;
        let h = match self.act {
            Activation::GeluPytorchTanh => crate::tensor_ops::gelu_tanh(&h)?,
            act => act.forward(&h)?,
        };
        self.fc2.forward(&h)
    }
}

#[derive(Debug, Clone)]
struct EncoderLayer {
    layer_norm1: LayerNorm,
    self_attn: VisionAttention,
    layer_norm2: LayerNorm,
    mlp: VisionMlp,
}

impl EncoderLayer {
    fn new(cfg: &VisionConfig, w: &Weights) -> Result<Self> {
        let (d, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        Ok(Self {
            layer_norm1: LayerNorm::new(d, eps, &w.pp("layer_norm1"))?,
            self_attn: VisionAttention::new(cfg, &w.pp("self_attn"))?,
            layer_norm2: LayerNorm::new(d, eps, &w.pp("layer_norm2"))?,
            mlp: VisionMlp::new(cfg, &w.pp("mlp"))?,
        })
    }

    fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let h = self
            .self_attn
            .forward(&self.layer_norm1.forward(x)?, mask)?;
        let x = (x + h)?;
        let h = self.mlp.forward(&self.layer_norm2.forward(&x)?)?;
        Ok((x + h)?)
    }
}

/// The vision tower: `model.vision_model` in the checkpoint.
#[derive(Debug, Clone)]
pub struct VisionTransformer {
    embeddings: VisionEmbeddings,
    layers: Vec<EncoderLayer>,
    post_layernorm: LayerNorm,
    patch_size: usize,
}

impl VisionTransformer {
    pub fn new(cfg: &VisionConfig, w: &Weights) -> Result<Self> {
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| EncoderLayer::new(cfg, &w.pp("encoder").pp("layers").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embeddings: VisionEmbeddings::new(cfg, &w.pp("embeddings"))?,
            layers,
            post_layernorm: LayerNorm::new(
                cfg.hidden_size,
                cfg.layer_norm_eps,
                &w.pp("post_layernorm"),
            )?,
            patch_size: cfg.patch_size,
        })
    }

    pub fn patch_size(&self) -> usize {
        self.patch_size
    }

    /// `pixel_values` (n, C, H, W) -> (n, (H/p)*(W/p), D). Images are encoded one at a
    /// time (they do not attend to each other), which bounds the attention scores to
    /// one image's worth of memory.
    pub fn forward(&self, pixel_values: &Tensor, mask: &PatchMask) -> Result<Tensor> {
        let (n, _, h, w) = pixel_values.dims4().map_err(|_| {
            Error::InvalidInput(format!(
                "pixel values must be (images, channels, height, width), got {:?}",
                pixel_values.dims()
            ))
        })?;
        let (rows, cols) = (h / self.patch_size, w / self.patch_size);
        if mask.images != n || mask.rows != rows || mask.cols != cols {
            return Err(Error::InvalidInput(format!(
                "patch mask ({} images, {}x{}) does not match pixel values {:?}",
                mask.images,
                mask.rows,
                mask.cols,
                pixel_values.dims()
            )));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let valid = mask.image(i);
            let x = self
                .embeddings
                .forward(&pixel_values.narrow(0, i, 1)?, valid)?;
            // Keys of padding patches are masked out; an all-valid image gets no mask.
            let attn_mask = if valid.iter().all(|&v| v) {
                None
            } else {
                let m: Vec<f32> = valid
                    .iter()
                    .map(|&v| if v { 0.0 } else { f32::MIN })
                    .collect();
                Some(Tensor::from_vec(m, (1, 1, 1, valid.len()), x.device())?)
            };
            let mut x = x;
            for layer in &self.layers {
                x = layer.forward(&x, attn_mask.as_ref())?;
            }
            out.push(self.post_layernorm.forward(&x)?);
        }
        Ok(Tensor::cat(&out, 0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_grid_maps_patches_to_their_own_positions() {
        let mask = vec![true; 16];
        let ids = position_ids(&mask, 4, 4, 4).unwrap();
        assert_eq!(ids, (0..16).collect::<Vec<u32>>());
    }

    #[test]
    fn partial_grid_spreads_over_all_positions() {
        // A 2x3 valid rectangle in a 4x4 grid with 4 positions per side: rows 0, 1 ->
        // buckets 0, 2; columns 0, 1, 2 -> buckets 0, 1, 2 (1/3 and 2/3 against k/4).
        let mut mask = vec![false; 16];
        for r in 0..2 {
            for c in 0..3 {
                mask[r * 4 + c] = true;
            }
        }
        let ids = position_ids(&mask, 4, 4, 4).unwrap();
        assert_eq!(&ids[0..3], &[0, 1, 2]);
        assert_eq!(&ids[4..7], &[8, 9, 10]);
    }

    #[test]
    fn boundaries_follow_torch_arange_length() {
        // torch.arange(1/3, 1.0, 1/3) has 3 elements: (1 - 1/3) / (1/3) rounds above 2.
        assert_eq!(bucket_boundaries(3).len(), 3);
        assert_eq!(bucket_boundaries(4), vec![0.25, 0.5, 0.75]);
    }
}
