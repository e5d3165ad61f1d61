//! SmolVLM2 on the GPU: the network `smolvlm` runs on candle (vision tower, connector,
//! Llama decoder), assembled from this crate's kernels. Weights are uploaded once from the
//! same [`WeightSource`](smolvlm::WeightSource) the CPU model reads (GGUF blocks as they
//! are stored), the KV cache and the token ids stay on the GPU, image features go from the
//! connector into the prompt's embeddings without leaving it, and a greedy decode step is
//! one submission that reads back 4 bytes (see [`GpuSession`]).
//!
//! Nothing here blocks: recording and submitting return at once, and the reads are
//! `async` (WebGPU's `mapAsync`); native callers use the `*_blocking` variants.
//!
//! ```no_run
//! # fn run(config: smolvlm::Config, weights: smolvlm::Weights) -> smolvlm_gpu::Result<()> {
//! use smolvlm_gpu::{Gpu, GpuOptions, GpuModel, GpuSession};
//! let gpu = Gpu::new_blocking(&GpuOptions::auto())?;
//! let model = GpuModel::new(&gpu, &config, &weights)?;
//! let mut session = GpuSession::new(&model, smolvlm::GenerationParams::greedy(64, vec![2]))?;
//! session.prefill(&[1, 2, 3], None)?;
//! while let Some(token) = session.next_token_blocking()? {
//!     println!("{token}");
//! }
//! # Ok(()) }
//! ```

mod load;
mod session;
mod text;
mod vision;

use smolvlm::vision::ImageInput;
use smolvlm::{Config, Weights};

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::tensor::Tensor;
use load::Loader;
use text::TextDecoder;
use vision::{Frame, VisionTower};

pub use session::GpuSession;
pub use text::GpuCache;

/// The whole SmolVLM2 on one [`Gpu`].
pub struct GpuModel {
    gpu: Gpu,
    config: Config,
    vision: VisionTower,
    text: TextDecoder,
    weight_bytes: u64,
}

/// Image features on the GPU: `[images, per_image, hidden]`, what the connector gives
/// for the prompt's `<image>` tokens, in order.
#[derive(Debug)]
pub struct ImageFeatures {
    tensor: Tensor,
    images: usize,
    per_image: usize,
    hidden: usize,
}

impl ImageFeatures {
    pub fn images(&self) -> usize {
        self.images
    }

    pub fn per_image(&self) -> usize {
        self.per_image
    }

    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The features, read back (`images * per_image * hidden` values).
    pub async fn read(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        let mut v = gpu.read(&self.tensor).await?;
        v.truncate(self.images * self.per_image * self.hidden);
        Ok(v)
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_blocking(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        pollster::block_on(self.read(gpu))
    }
}

/// A picture's frames on their way through the vision tower, one submission each
/// ([`GpuModel::begin_images`]).
pub struct ImageEncoding<'m> {
    model: &'m GpuModel,
    /// The images to encode (padding dropped) and their patch masks.
    input: ImageInput,
    scratch: vision::Scratch,
    features: ImageFeatures,
    next: usize,
}

impl ImageEncoding<'_> {
    /// Frames to encode (padding images dropped).
    pub fn frames(&self) -> usize {
        self.input.images
    }

    /// Frames submitted so far.
    pub fn encoded(&self) -> usize {
        self.next
    }

    /// Submits the next frame (not waited for; [`Self::wait`] waits). Past the last frame,
    /// does nothing.
    pub fn encode_next(&mut self) -> Result<()> {
        let (input, i) = (&self.input, self.next);
        if i >= input.images {
            return Ok(());
        }
        let (m, f) = (&input.mask, input.frame_len());
        let patches = m.rows * m.cols;
        let frame = Frame {
            pixels: &input.pixels[i * f..(i + 1) * f],
            height: input.height,
            width: input.width,
            valid: &m.valid[self.next * patches..(self.next + 1) * patches],
        };
        let model = self.model;
        model.vision.encode_frame(
            &model.gpu,
            &self.scratch,
            &frame,
            &self.features.tensor,
            self.next,
        )?;
        self.next += 1;
        Ok(())
    }

    /// Waits until the GPU has encoded the frames submitted so far (by reading back one
    /// value of the last one's features: a browser waits for the GPU only by reading).
    pub async fn wait(&self) -> Result<()> {
        let Some(last) = self.next.checked_sub(1) else {
            return Ok(());
        };
        let f = &self.features;
        let at = (last * f.per_image * f.hidden) as u64 * 4;
        self.model.gpu.read_bytes(&f.tensor, at, 4).await?;
        Ok(())
    }

    /// The features of every frame (submitting those not submitted yet).
    pub fn finish(mut self) -> Result<ImageFeatures> {
        while self.next < self.input.images {
            self.encode_next()?;
        }
        Ok(self.features)
    }
}

impl GpuModel {
    /// Uploads the weights `w` holds (at the checkpoint root: `model.vision_model...`,
    /// `model.connector...`, `model.text_model...`, `lm_head`) for a model of `config`.
    pub fn new(gpu: &Gpu, config: &Config, w: &Weights) -> Result<Self> {
        let mut ld = Loader::new(gpu);
        let m = w.pp("model");
        let vision = VisionTower::new(&mut ld, config, &m.pp("vision_model"), &m.pp("connector"))?;
        let text = TextDecoder::new(
            &mut ld,
            &config.text,
            config.tie_word_embeddings,
            &m.pp("text_model"),
            w,
        )?;
        let weight_bytes = ld.bytes;
        gpu.check()?;
        Ok(Self {
            gpu: gpu.clone(),
            config: config.clone(),
            vision,
            text,
            weight_bytes,
        })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Bytes of weights uploaded.
    pub fn weight_bytes(&self) -> u64 {
        self.weight_bytes
    }

    pub fn vocab_size(&self) -> usize {
        self.text.vocab
    }

    /// [`smolvlm::SmolVlm::encode_images`] on the GPU, with the same inputs and checks:
    /// `pixel_values` (n, 3, H, W) in prompt order, `pixel_attention_mask` (n, H, W) when
    /// given; images that are entirely 0.0 are padding and dropped (the first is kept if
    /// none is real). The work is submitted, not waited for.
    pub fn encode_images(
        &self,
        pixel_values: &candle_core::Tensor,
        pixel_attention_mask: Option<&candle_core::Tensor>,
    ) -> Result<ImageFeatures> {
        self.begin_images(pixel_values, pixel_attention_mask)?
            .finish()
    }

    /// [`Self::encode_images`] one frame at a time: the inputs are checked and the buffers
    /// made here, and each [`ImageEncoding::encode_next`] submits one frame, so a caller
    /// can report progress and stop between frames.
    pub fn begin_images(
        &self,
        pixel_values: &candle_core::Tensor,
        pixel_attention_mask: Option<&candle_core::Tensor>,
    ) -> Result<ImageEncoding<'_>> {
        let input = ImageInput::new(
            pixel_values,
            pixel_attention_mask,
            self.vision.channels(),
            self.vision.patch_size(),
        )?;
        let (h, w) = (input.height, input.width);
        let scratch = self.vision.scratch(&self.gpu, h, w)?;
        let per_image = scratch.per_image();
        let hidden = self.config.text.hidden_size;
        let features = ImageFeatures {
            tensor: self.gpu.tensor(input.images * per_image * hidden)?,
            images: input.images,
            per_image,
            hidden,
        };
        Ok(ImageEncoding {
            model: self,
            input,
            scratch,
            features,
            next: 0,
        })
    }

    /// A KV cache (and token id buffer) for `capacity` positions.
    pub fn new_cache(&self, capacity: usize) -> Result<GpuCache> {
        if capacity == 0 || capacity > self.text.max_context() {
            return Err(smolvlm::Error::InvalidInput(format!(
                "a cache of {capacity} positions (the model takes 1 to {})",
                self.text.max_context()
            ))
            .into());
        }
        self.text.new_cache(&self.gpu, capacity)
    }

    /// A vector for one position's logits.
    pub fn new_logits(&self) -> Result<Tensor> {
        self.gpu.tensor(self.text.vocab)
    }

    /// Runs `ids` after what `cache` holds, with the `<image>` tokens' embeddings taken in
    /// order from `images` (as [`smolvlm::SmolVlm::embed`]), and leaves the last
    /// position's logits in `logits`. Submitted, not waited for.
    pub fn forward(
        &self,
        cache: &mut GpuCache,
        ids: &[u32],
        images: Option<&ImageFeatures>,
        logits: &Tensor,
    ) -> Result<()> {
        if ids.is_empty() {
            return Err(smolvlm::Error::InvalidInput("empty prompt".into()).into());
        }
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.text.vocab) {
            return Err(smolvlm::Error::TokenOutOfRange {
                id,
                vocab_size: self.text.vocab,
            }
            .into());
        }
        let pos0 = cache.len();
        if pos0 + ids.len() > cache.capacity() {
            return Err(smolvlm::Error::ContextOverflow {
                prompt_tokens: pos0 + ids.len(),
                max_new_tokens: 0,
                max_context: cache.capacity(),
                hint: " (the GPU cache was made for fewer tokens)",
            }
            .into());
        }
        let image_token = self.config.image_token_id;
        let runs = match images {
            Some(f) => {
                let runs = image_runs(ids, image_token, pos0);
                let image_tokens: usize = runs.iter().map(|r| r.2).sum();
                if image_tokens != f.images * f.per_image {
                    return Err(smolvlm::Error::ImageTokenMismatch {
                        image_tokens,
                        image_features: f.images * f.per_image,
                        images: f.images,
                        per_image: f.per_image,
                    }
                    .into());
                }
                Some((&f.tensor, runs))
            }
            // Without images, `<image>` tokens stay plain tokens (as in transformers).
            None => None,
        };
        self.write_ids(cache, pos0, ids)?;
        let mut rec = self.gpu.recorder();
        self.text.record(
            &mut rec,
            cache,
            ids.len(),
            runs.as_ref().map(|(t, r)| (*t, r.as_slice())),
            logits,
        )?;
        rec.submit()
    }

    /// Writes `ids` at positions `pos..` of the cache's id buffer (ordered before the next
    /// submission).
    pub(crate) fn write_ids(&self, cache: &GpuCache, pos: usize, ids: &[u32]) -> Result<()> {
        if pos + ids.len() > cache.capacity() {
            return Err(Error::Invalid(format!(
                "token ids up to position {} in a cache of {}",
                pos + ids.len(),
                cache.capacity()
            )));
        }
        self.gpu.queue().write_buffer(
            cache.ids.buffer(),
            pos as u64 * 4,
            bytemuck::cast_slice(ids),
        );
        Ok(())
    }
}

/// Runs of `<image>` tokens in `ids`: (absolute position, first feature row, length).
fn image_runs(ids: &[u32], image_token: u32, pos0: usize) -> Vec<(usize, usize, usize)> {
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    let mut row = 0;
    for (i, &id) in ids.iter().enumerate() {
        if id != image_token {
            continue;
        }
        match runs.last_mut() {
            Some((start, _, n)) if *start + *n == pos0 + i => *n += 1,
            _ => runs.push((pos0 + i, row, 1)),
        }
        row += 1;
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::image_runs;

    #[test]
    fn image_runs_follow_the_tokens_in_order() {
        let ids = [1, 9, 9, 2, 9, 3, 9, 9, 9];
        assert_eq!(
            image_runs(&ids, 9, 10),
            vec![(11, 0, 2), (14, 2, 1), (16, 3, 3)]
        );
        assert!(image_runs(&[1, 2], 9, 0).is_empty());
    }
}
