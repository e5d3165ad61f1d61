//! Image preprocessing identical to transformers' `SmolVLMImageProcessorPil`.
//!
//! Reference: transformers `models/smolvlm/image_processing_pil_smolvlm.py` (`_preprocess`,
//! `resize`, `resize_for_vision_encoder`, `split_images`, `pad`) and
//! `image_processing_backends.py` (`PilBackend`: `convert_to_rgb` first, then every
//! resize through PIL on uint8, `rescale` in float64 cast to float32, `normalize` in
//! float32).
//!
//! The steps: decode ([`decode_image`]) → RGB with alpha onto white → resize the longest
//! edge to `size.longest_edge` → with splitting, resize both edges up to multiples of
//! `max_image_size.longest_edge`, cut row-major tiles of that side and add the whole
//! image resized to one tile as the global image (without splitting: one square image of
//! that side) → rescale, normalize, pad ([`ImageProcessor::preprocess`]).
//!
//! ```
//! use smolvlm::processor::{ImageProcessor, ImageProcessorConfig, RgbImage, Tiles};
//! let cfg = ImageProcessorConfig { longest_edge: 64, max_image_longest_edge: 32, ..Default::default() };
//! let image = RgbImage::new(40, 30, vec![128; 40 * 30 * 3]).unwrap();
//! let out = ImageProcessor::new(cfg).preprocess(&image, Tiles::All);
//! assert_eq!((out.rows, out.cols, out.num_frames), (2, 2, 5));
//! assert_eq!(out.pixel_values.len(), 5 * 3 * 32 * 32);
//! ```

mod config;
mod decode;
mod error;
mod plan;
mod resample;
mod rgb;

pub use config::{
    ImageProcessorConfig, ProcessorConfig, MAX_EDGE, PREPROCESSOR_CONFIG, PROCESSOR_CONFIG,
};
pub use decode::{decode_image, DecodeOptions, DEFAULT_MAX_PIXELS};
pub use error::{ConfigError, ImageError};
pub use plan::{encoder_size, longest_edge_size, Plan, Tiles};
pub use resample::{resize_rgb8, Filter};
pub use rgb::{over_white, RgbImage};

/// The 8-bit frames of one image before rescaling: the tiles row-major then the global
/// image, or the single image when it is not split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    /// Frames in the order the model consumes them.
    pub images: Vec<RgbImage>,
    /// Tile rows (0 when not split).
    pub rows: u32,
    /// Tile columns (0 when not split).
    pub cols: u32,
}

/// Model inputs for one or more images, as transformers' processor returns them for one
/// prompt (its batch dimension of 1 dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedImages {
    /// `(num_frames, 3, height, width)` row-major, rescaled and normalized.
    pub pixel_values: Vec<f32>,
    /// `(num_frames, height, width)`: 1 for image pixels, 0 for padding
    /// (transformers' `pixel_attention_mask`, int64 there).
    pub pixel_attention_mask: Vec<u8>,
    /// Frames of all images together.
    pub num_frames: usize,
    /// Frame height after padding.
    pub height: usize,
    /// Frame width after padding.
    pub width: usize,
    /// `(rows, cols)` of each image, for the prompt's image tokens.
    pub grids: Vec<(u32, u32)>,
}

/// Model inputs for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedImage {
    /// `(num_frames, 3, height, width)` row-major.
    pub pixel_values: Vec<f32>,
    /// `(num_frames, height, width)`, 1 = image pixel.
    pub pixel_attention_mask: Vec<u8>,
    /// Tiles + global image, or 1.
    pub num_frames: usize,
    /// Frame height.
    pub height: usize,
    /// Frame width.
    pub width: usize,
    /// Tile rows (0 when not split).
    pub rows: u32,
    /// Tile columns (0 when not split).
    pub cols: u32,
}

/// SmolVLM's image processor: settings plus the decode limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageProcessor {
    /// The checkpoint's settings.
    pub config: ImageProcessorConfig,
    /// Limits for [`ImageProcessor::preprocess_bytes`].
    pub decode: DecodeOptions,
}

impl ImageProcessor {
    /// A processor with the default decode limits.
    pub fn new(config: ImageProcessorConfig) -> Self {
        Self {
            config,
            decode: DecodeOptions::default(),
        }
    }

    /// Decode image bytes and preprocess them.
    pub fn preprocess_bytes(
        &self,
        bytes: &[u8],
        tiles: Tiles,
    ) -> Result<ProcessedImage, ImageError> {
        Ok(self.preprocess(&decode_image(bytes, &self.decode)?, tiles))
    }

    /// Preprocess one decoded image, with `tiles` capping the split.
    pub fn preprocess(&self, image: &RgbImage, tiles: Tiles) -> ProcessedImage {
        let out = self.preprocess_many(std::slice::from_ref(image), tiles);
        let (rows, cols) = out.grids[0];
        ProcessedImage {
            pixel_values: out.pixel_values,
            pixel_attention_mask: out.pixel_attention_mask,
            num_frames: out.num_frames,
            height: out.height,
            width: out.width,
            rows,
            cols,
        }
    }

    /// Preprocess the images of one prompt: frames of all images in order, padded together.
    pub fn preprocess_many(&self, images: &[RgbImage], tiles: Tiles) -> ProcessedImages {
        let mut frames = Vec::new();
        let mut grids = Vec::with_capacity(images.len());
        for image in images {
            let f = self.frames(image, tiles);
            grids.push((f.rows, f.cols));
            frames.extend(f.images);
        }
        let mut out = normalize_and_pad(&frames, &self.config);
        out.grids = grids;
        out
    }

    /// The resized 8-bit frames of one image (what the reference's uint8 pixels are
    /// compared with), `tiles` capping the split.
    pub fn frames(&self, image: &RgbImage, tiles: Tiles) -> Frames {
        let cfg = self.config.with_tiles(tiles, image.width(), image.height());
        resize_and_split(image, &cfg)
    }
}

fn resize(image: &RgbImage, (width, height): (u32, u32), filter: Filter) -> RgbImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let data = resize_rgb8(
        image.as_raw(),
        w,
        h,
        width as usize,
        height as usize,
        filter,
    );
    RgbImage::from_parts(width, height, data)
}

/// Resize and split one RGB image as `_preprocess` does before rescaling.
pub fn resize_and_split(image: &RgbImage, cfg: &ImageProcessorConfig) -> Frames {
    let plan = Plan::new(image.width(), image.height(), cfg);
    let resized = resize(image, plan.resized, cfg.resample);
    let side = cfg.max_image_longest_edge;
    let Some(encoder) = plan.encoder else {
        let square = resize(&resized, (side, side), cfg.resample);
        return Frames {
            images: vec![square],
            rows: 0,
            cols: 0,
        };
    };
    let whole = resize(&resized, encoder, cfg.resample);
    if plan.rows == 0 {
        return Frames {
            images: vec![whole],
            rows: 0,
            cols: 0,
        };
    }
    let mut images: Vec<RgbImage> = (0..plan.rows)
        .flat_map(|r| (0..plan.cols).map(move |c| (r, c)))
        .map(|(r, c)| crop(&whole, c * side, r * side, side, side))
        .collect();
    images.push(resize(&whole, (side, side), cfg.resample));
    Frames {
        images,
        rows: plan.rows,
        cols: plan.cols,
    }
}

/// `image[y0:y0+h, x0:x0+w]`, clamped to the image as numpy slicing is.
fn crop(image: &RgbImage, x0: u32, y0: u32, w: u32, h: u32) -> RgbImage {
    let x1 = (x0 + w).min(image.width());
    let y1 = (y0 + h).min(image.height());
    let stride = image.width() as usize * 3;
    let data = (y0..y1)
        .flat_map(|y| &image.as_raw()[y as usize * stride..][x0 as usize * 3..x1 as usize * 3])
        .copied()
        .collect();
    RgbImage::from_parts(x1 - x0, y1 - y0, data)
}

/// Rescale, normalize and zero-pad frames to the largest one, with the pixel mask.
pub fn normalize_and_pad(frames: &[RgbImage], cfg: &ImageProcessorConfig) -> ProcessedImages {
    let height = frames
        .iter()
        .map(|f| f.height() as usize)
        .max()
        .unwrap_or(0);
    let width = frames.iter().map(|f| f.width() as usize).max().unwrap_or(0);
    let plane = height * width;
    let mut pixel_values = vec![0f32; frames.len() * 3 * plane];
    let mut mask = vec![0u8; frames.len() * plane];
    let lut = channel_tables(cfg);
    for (i, frame) in frames.iter().enumerate() {
        let fw = frame.width() as usize;
        for (y, row) in frame.as_raw().chunks_exact(fw * 3).enumerate() {
            for (x, px) in row.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    pixel_values[(i * 3 + c) * plane + y * width + x] = lut[c][px[c] as usize];
                }
                mask[i * plane + y * width + x] = 1;
            }
        }
    }
    ProcessedImages {
        pixel_values,
        pixel_attention_mask: mask,
        num_frames: frames.len(),
        height,
        width,
        grids: vec![],
    }
}

/// The f32 value of each uint8 level per channel, computed as transformers does:
/// `float32(float64(v) * rescale_factor)`, then `(x - float32(mean)) / float32(std)` in f32.
fn channel_tables(cfg: &ImageProcessorConfig) -> [[f32; 256]; 3] {
    let mut lut = [[0f32; 256]; 3];
    for (c, table) in lut.iter_mut().enumerate() {
        for (v, out) in table.iter_mut().enumerate() {
            let mut x = if cfg.do_rescale {
                (v as f64 * cfg.rescale_factor) as f32
            } else {
                v as f32
            };
            if cfg.do_normalize {
                x = (x - cfg.image_mean[c]) / cfg.image_std[c];
            }
            *out = x;
        }
    }
    lut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        let data = (0..h).flat_map(|y| {
            (0..w).flat_map(move |x| [(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
        });
        RgbImage::new(w, h, data.collect()).unwrap()
    }

    #[test]
    fn tiles_are_row_major_crops_of_the_encoder_image() {
        let cfg = ImageProcessorConfig {
            longest_edge: 64,
            max_image_longest_edge: 32,
            ..Default::default()
        };
        let image = gradient(50, 30);
        let frames = resize_and_split(&image, &cfg);
        // 50x30 -> 64x38 -> 64x64 -> 2x2 tiles + global.
        assert_eq!((frames.rows, frames.cols, frames.images.len()), (2, 2, 5));
        let plan = Plan::new(50, 30, &cfg);
        let whole = resize(
            &resize(&image, plan.resized, cfg.resample),
            plan.encoder.unwrap(),
            cfg.resample,
        );
        let tile_1_0 = &frames.images[2];
        let row_40 = &whole.as_raw()[(40 * 64) * 3..][..64 * 3];
        assert_eq!(
            &tile_1_0.as_raw()[(8 * 32) * 3..][..32 * 3],
            &row_40[..32 * 3]
        );
    }

    #[test]
    fn without_splitting_one_square_frame() {
        let cfg = ImageProcessorConfig {
            longest_edge: 64,
            max_image_longest_edge: 32,
            do_image_splitting: false,
            ..Default::default()
        };
        let out = ImageProcessor::new(cfg).preprocess(&gradient(50, 30), Tiles::All);
        assert_eq!(
            (out.num_frames, out.height, out.width, out.rows, out.cols),
            (1, 32, 32, 0, 0)
        );
        assert!(out.pixel_attention_mask.iter().all(|&m| m == 1));
    }

    #[test]
    fn normalize_matches_numpy_float_steps() {
        let cfg = ImageProcessorConfig::default();
        let lut = channel_tables(&cfg);
        // numpy: float32(255 * (1/255)) = 1.0, (1.0 - 0.5) / 0.5 = 1.0; 0 -> -1.0.
        assert_eq!((lut[0][255], lut[0][0]), (1.0, -1.0));
        let v = ((128f64 * (1.0 / 255.0)) as f32 - 0.5) / 0.5;
        assert_eq!(lut[1][128], v);
    }

    #[test]
    fn frames_of_different_sizes_are_zero_padded_with_a_mask() {
        let cfg = ImageProcessorConfig {
            do_normalize: false,
            do_rescale: false,
            ..Default::default()
        };
        let out = normalize_and_pad(&[gradient(2, 1), gradient(1, 2)], &cfg);
        assert_eq!((out.height, out.width), (2, 2));
        assert_eq!(out.pixel_attention_mask, vec![1, 1, 0, 0, 1, 0, 1, 0]);
        // Frame 0, red plane: pixels (0,0)=0 and (0,1)=7, padding 0.
        assert_eq!(&out.pixel_values[..4], &[0.0, 7.0, 0.0, 0.0]);
    }
}
