//! The whole SmolVLM2: the vision tower encodes each image (tiles row-major, then the
//! global image), the connector turns each into `image_seq_len` vectors in the text
//! model's width, and those vectors replace the prompt's `<image>` token embeddings in
//! order before the text decoder runs.
//!
//! Reference: transformers `models/smolvlm/modeling_smolvlm.py` (`SmolVLMModel`:
//! `get_image_features`, `get_placeholder_mask` + `masked_scatter`;
//! `SmolVLMForConditionalGeneration`), v5.24.
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/smolvlm/modeling_smolvlm.py>

use std::sync::Arc;

use candle_core::{Device, Tensor};

use crate::config::Config;
use crate::connector::Connector;
use crate::error::{Error, Result};
use crate::text::{Cache, TextModel};
use crate::vision::{ImageInput, VisionTransformer};
use crate::weights::{SafetensorsSource, WeightSource, Weights};

/// SmolVLM2 with its output head (`SmolVLMForConditionalGeneration`).
#[derive(Debug, Clone)]
pub struct SmolVlm {
    config: Config,
    vision: VisionTransformer,
    connector: Connector,
    text: TextModel,
    device: Device,
}

impl SmolVlm {
    /// Builds the model from weights under their checkpoint names (`w` at the root:
    /// `model.vision_model...`, `model.connector...`, `model.text_model...`, `lm_head`).
    pub fn new(config: &Config, w: &Weights) -> Result<Self> {
        let m = w.pp("model");
        Ok(Self {
            vision: VisionTransformer::new(&config.vision, &m.pp("vision_model"))?,
            connector: Connector::new(config, &m.pp("connector"))?,
            text: TextModel::new(
                &config.text,
                config.tie_word_embeddings,
                &m.pp("text_model"),
                w,
            )?,
            config: config.clone(),
            device: w.device().clone(),
        })
    }

    /// Loads a Hub checkpoint from the bytes of `config.json` and of its safetensors
    /// file(s) (name, bytes); names only label errors.
    pub fn from_safetensors(
        config_json: &[u8],
        shards: Vec<(String, Vec<u8>)>,
        device: &Device,
    ) -> Result<Self> {
        let config = Config::from_json(config_json)?;
        let source: Arc<dyn WeightSource> = Arc::new(SafetensorsSource::from_shards(shards)?);
        Self::new(&config, &Weights::new(source, device))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A fresh KV cache for one conversation.
    pub fn new_cache(&self) -> Cache {
        Cache::new(&self.config.text)
    }

    /// Image features for the prompt's `<image>` tokens.
    ///
    /// `pixel_values` (n, 3, H, W) holds the encoder images of one prompt in prompt order
    /// (tiles row-major, then the global image); `pixel_attention_mask` (n, H, W), when
    /// given, marks real pixels (1) against padding (0). Images that are entirely 0.0 are
    /// padding and dropped, as transformers does. Returns (n, image_seq_len, hidden).
    pub fn encode_images(
        &self,
        pixel_values: &Tensor,
        pixel_attention_mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let input = ImageInput::new(
            pixel_values,
            pixel_attention_mask,
            self.config.vision.num_channels,
            self.vision.patch_size(),
        )?;
        let (k, c, h, w) = (input.images, input.channels, input.height, input.width);
        let pixel_values = Tensor::from_vec(input.pixels, (k, c, h, w), pixel_values.device())?;
        let mask = input.mask;
        let hidden = self.vision.forward(&pixel_values, &mask)?;
        self.connector.forward(&hidden)
    }

    /// Input embeddings (1, len, hidden) of `ids`, with the `<image>` positions taken, in
    /// order, from `image_features` (n, image_seq_len, hidden).
    pub fn embed(&self, ids: &[u32], image_features: Option<&Tensor>) -> Result<Tensor> {
        if ids.is_empty() {
            return Err(Error::InvalidInput("empty prompt".into()));
        }
        let text = self.text.embed(ids)?;
        let image_token = self.config.image_token_id;
        let image_tokens = ids.iter().filter(|&&id| id == image_token).count();
        let Some(features) = image_features else {
            // Without images, `<image>` tokens stay plain tokens (as in transformers).
            return Ok(text.unsqueeze(0)?);
        };
        let (images, per_image, hidden) = features.dims3()?;
        if image_tokens != images * per_image {
            return Err(Error::ImageTokenMismatch {
                image_tokens,
                image_features: images * per_image,
                images,
                per_image,
            });
        }
        let features = features.reshape((images * per_image, hidden))?;
        // One gather from [text rows; image rows]: the k-th `<image>` token takes image
        // row k (transformers' masked_scatter fills the mask in order).
        let len = ids.len() as u32;
        let mut k = 0u32;
        let index: Vec<u32> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                if id == image_token {
                    k += 1;
                    len + k - 1
                } else {
                    i as u32
                }
            })
            .collect();
        let table = Tensor::cat(&[&text, &features], 0)?;
        let index = Tensor::from_vec(index, ids.len(), table.device())?;
        Ok(table.index_select(&index, 0)?.unsqueeze(0)?)
    }

    /// Runs `embeds` (1, t, hidden) after what `cache` holds; returns the logits (vocab)
    /// of the last position.
    pub fn forward(&self, embeds: &Tensor, cache: &mut Cache) -> Result<Tensor> {
        // A decode step is a hundred short parallel regions: keep the threads spinning.
        crate::kernels::cpu::with_team(|| {
            let hidden = self.text.forward(embeds, cache)?;
            self.text.last_logits(&hidden)
        })
    }

    /// Logits (t, vocab) of every position of `embeds` (for tests against references).
    pub fn forward_all(&self, embeds: &Tensor, cache: &mut Cache) -> Result<Tensor> {
        let hidden = self.text.forward(embeds, cache)?;
        self.text.all_logits(&hidden)
    }

    /// Logits (vocab) after feeding one more token.
    pub fn forward_token(&self, id: u32, cache: &mut Cache) -> Result<Tensor> {
        let embeds = self.text.embed(&[id])?.unsqueeze(0)?;
        self.forward(&embeds, cache)
    }

    pub fn vocab_size(&self) -> usize {
        self.text.vocab_size()
    }
}
