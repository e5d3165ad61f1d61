//! The SigLIP vision tower of SmolVLM / Idefics3: patch embedding, learned position
//! embeddings addressed through Idefics3's bucketed position ids under the patch mask, a
//! pre-LayerNorm encoder (bidirectional attention, tanh-GELU MLP) and a final LayerNorm.
//!
//! The embeddings are candle tensor ops (a reshape and a gather, once per image). The
//! encoder layers run on f32 slices through our kernels, every step spread over the kernel
//! threads: as candle ops, the layer norms, residual adds, head transposes and the score
//! matrix were serial passes (and in wasm32 candle's matmul runs on one thread), which
//! capped a tile's speed-up on two threads at 1.3x.
//!
//! Reference: transformers `models/smolvlm/modeling_smolvlm.py` (`SmolVLMVisionEmbeddings`,
//! `SmolVLMVisionAttention`, `SmolVLMEncoderLayer`, `SmolVLMVisionTransformer`), v5.24.
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/smolvlm/modeling_smolvlm.py>

use candle_core::{Device, Module, Tensor};
use candle_nn::Activation;

use crate::config::VisionConfig;
use crate::error::{Error, Result};
use crate::kernels::{self, Acts};
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

/// The pictures a vision tower is given, checked, with padding images dropped: the CPU
/// model and smolvlm-gpu's take their inputs through this one function.
#[derive(Debug, Clone)]
pub struct ImageInput {
    /// The kept images' values (kept, C, H, W), in order.
    pub pixels: Vec<f32>,
    pub images: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// The kept images' valid patches.
    pub mask: PatchMask,
}

impl ImageInput {
    /// `pixel_values` (n, C, H, W) in prompt order and, when given, `pixel_attention_mask`
    /// (n, H, W) marking real pixels (1) against padding (0), for a tower of `channels`
    /// channels and `patch_size` patches. Images that are entirely 0.0 are padding and
    /// dropped, keeping the first if none is real (as transformers does).
    pub fn new(
        pixel_values: &Tensor,
        pixel_attention_mask: Option<&Tensor>,
        channels: usize,
        patch_size: usize,
    ) -> Result<Self> {
        let (n, c, h, w) = pixel_values.dims4().map_err(|_| {
            Error::InvalidInput(format!(
                "pixel values must be (images, channels, height, width), got {:?}",
                pixel_values.dims()
            ))
        })?;
        if n == 0 {
            return Err(Error::InvalidInput("no images to encode".into()));
        }
        if c != channels {
            return Err(Error::InvalidInput(format!(
                "pixel values have {c} channels, the vision tower takes {channels}"
            )));
        }
        if let Some(m) = pixel_attention_mask {
            if m.dims() != [n, h, w] {
                return Err(Error::InvalidInput(format!(
                    "pixel attention mask {:?} does not match pixel values {:?}",
                    m.dims(),
                    pixel_values.dims()
                )));
            }
        }
        let all: Vec<f32> = pixel_values
            .to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1()?;
        let frame = c * h * w;
        let mut keep: Vec<usize> = (0..n)
            .filter(|&i| all[i * frame..(i + 1) * frame].iter().any(|&v| v != 0.0))
            .collect();
        if keep.is_empty() {
            keep.push(0);
        }
        let mask = match pixel_attention_mask {
            Some(m) => {
                let m = m.to_dtype(candle_core::DType::F32)?;
                let m = if keep.len() == n {
                    m
                } else {
                    let idx: Vec<u32> = keep.iter().map(|&i| i as u32).collect();
                    m.index_select(&Tensor::from_slice(&idx, idx.len(), m.device())?, 0)?
                };
                PatchMask::from_pixel_mask(&m, patch_size)?
            }
            None => PatchMask::full(keep.len(), h / patch_size, w / patch_size),
        };
        let pixels = if keep.len() == n {
            all
        } else {
            keep.iter()
                .flat_map(|&i| all[i * frame..(i + 1) * frame].iter().copied())
                .collect()
        };
        Ok(Self {
            pixels,
            images: keep.len(),
            channels: c,
            height: h,
            width: w,
            mask,
        })
    }

    /// Values per image.
    pub fn frame_len(&self) -> usize {
        self.channels * self.height * self.width
    }
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

/// LayerNorm over the last dimension ([`kernels::ops::layer_norm`]: two-pass, as PyTorch's
/// moments are; candle-nn's fused CPU kernel takes the variance as `E[x^2] - E[x]^2` in
/// f32, which loses digits when activations have a large mean).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    pub fn new(dim: usize, eps: f64, w: &Weights) -> Result<Self> {
        let values = |name: &str| -> Result<Vec<f32>> {
            Ok(w.tensor(name, dim)?
                .to_dtype(candle_core::DType::F32)?
                .to_vec1()?)
        };
        Ok(Self {
            weight: values("weight")?,
            bias: values("bias")?,
            eps: eps as f32,
        })
    }

    /// Rows of `x` into `out`, spread over the kernel threads.
    pub fn forward(&self, x: &[f32], out: &mut [f32]) {
        kernels::ops::layer_norm_spread(x, &self.weight, &self.bias, self.eps, out)
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

/// One image's activations through the encoder, allocated once per image and reused by
/// every layer: fresh multi-megabyte buffers per op cost page faults natively and grow
/// the wasm memory.
struct Buffers {
    /// (patches × hidden) each.
    normed: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attn: Vec<f32>,
    /// (patches × intermediate).
    mlp: Vec<f32>,
}

impl Buffers {
    fn new(patches: usize, hidden: usize, intermediate: usize) -> Self {
        let n = patches * hidden;
        Self {
            normed: vec![0.0; n],
            q: vec![0.0; n],
            k: vec![0.0; n],
            v: vec![0.0; n],
            attn: vec![0.0; n],
            mlp: vec![0.0; patches * intermediate],
        }
    }
}

#[derive(Debug, Clone)]
struct VisionAttention {
    q_proj: QLinear,
    k_proj: QLinear,
    v_proj: QLinear,
    out_proj: QLinear,
    num_heads: usize,
    scale: f32,
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
            scale: (cfg.head_dim() as f64).powf(-0.5) as f32,
        })
    }

    /// `b.normed` (patches × hidden) through attention into `out`. `mask`: one additive
    /// value per key, or None when every patch is valid.
    fn forward(&self, b: &mut Buffers, mask: Option<&[f32]>, out: &mut [f32]) -> Result<()> {
        let d = self.q_proj.in_dim();
        let patches = b.normed.len() / d;
        // One input for the three projections: quantized once where the kernels quantize.
        let x = Acts::new(&b.normed, d);
        self.q_proj.forward_f32(&x, &mut b.q)?;
        self.k_proj.forward_f32(&x, &mut b.k)?;
        self.v_proj.forward_f32(&x, &mut b.v)?;
        kernels::attention::bidirectional(
            &b.q,
            &b.k,
            &b.v,
            patches,
            self.num_heads,
            self.scale,
            mask,
            &mut b.attn,
        );
        self.out_proj.forward_f32(&Acts::new(&b.attn, d), out)
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

    /// `b.normed` through the MLP into `out`.
    fn forward(&self, b: &mut Buffers, out: &mut [f32]) -> Result<()> {
        self.fc1
            .forward_f32(&Acts::new(&b.normed, self.fc1.in_dim()), &mut b.mlp)?;
        match self.act {
            Activation::GeluPytorchTanh => kernels::ops::gelu_tanh_spread(&mut b.mlp),
            // Every SmolVLM2 checkpoint uses the tanh GELU; others go through candle.
            act => {
                let h = Tensor::from_slice(&b.mlp, b.mlp.len(), &Device::Cpu)?;
                b.mlp.copy_from_slice(&act.forward(&h)?.to_vec1::<f32>()?);
            }
        }
        self.fc2
            .forward_f32(&Acts::new(&b.mlp, self.fc2.in_dim()), out)
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

    /// `x` (patches × hidden) in place: `x += attn(ln1(x)); x += mlp(ln2(x))`. `h` is
    /// scratch of x's size.
    fn forward(
        &self,
        x: &mut [f32],
        mask: Option<&[f32]>,
        b: &mut Buffers,
        h: &mut [f32],
    ) -> Result<()> {
        self.layer_norm1.forward(x, &mut b.normed);
        self.self_attn.forward(b, mask, h)?;
        kernels::ops::add_spread(x, h);
        self.layer_norm2.forward(x, &mut b.normed);
        self.mlp.forward(b, h)?;
        kernels::ops::add_spread(x, h);
        Ok(())
    }
}

/// The vision tower: `model.vision_model` in the checkpoint.
#[derive(Debug, Clone)]
pub struct VisionTransformer {
    embeddings: VisionEmbeddings,
    layers: Vec<EncoderLayer>,
    post_layernorm: LayerNorm,
    patch_size: usize,
    intermediate_size: usize,
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
            intermediate_size: cfg.intermediate_size,
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
        let hidden = self.post_layernorm.weight.len();
        let patches = rows * cols;
        if patches == 0 {
            return Err(Error::InvalidInput(format!(
                "pixel values of shape {:?} hold no whole patch of {} pixels",
                pixel_values.dims(),
                self.patch_size
            )));
        }
        let mut buffers = Buffers::new(patches, hidden, self.intermediate_size);
        let mut h = vec![0f32; patches * hidden];
        let mut out = vec![0f32; n * patches * hidden];
        for (i, out) in out.chunks_exact_mut(patches * hidden).enumerate() {
            let valid = mask.image(i);
            let mut x = self
                .embeddings
                .forward(&pixel_values.narrow(0, i, 1)?, valid)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            // Keys of padding patches are masked out; an all-valid image gets no mask.
            let attn_mask: Option<Vec<f32>> = (!valid.iter().all(|&v| v)).then(|| {
                valid
                    .iter()
                    .map(|&v| if v { 0.0 } else { f32::MIN })
                    .collect()
            });
            for layer in &self.layers {
                layer.forward(&mut x, attn_mask.as_deref(), &mut buffers, &mut h)?;
            }
            self.post_layernorm.forward(&x, out);
        }
        Ok(Tensor::from_vec(
            out,
            (n, patches, hidden),
            pixel_values.device(),
        )?)
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
