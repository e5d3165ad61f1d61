//! A picture and a prompt made ready for a run: the picture decoded, resized and cut into
//! frames, the prompt's ids built around its image tokens. Also what the page asks about a
//! picture before a run (its size and tiling) and the page's image settings.

use candle_core::Tensor;
use ocr_protocol::{Failure, FailureKind, ImageSettings, TilePlan, Tiles};
use smolvlm::bundle::Loaded;
use smolvlm::processor::{self, decode_image, ImageError, ImageProcessorConfig, Plan, RgbImage};
use smolvlm::prompt::build_prompt;

use crate::failure::internal;

/// The smolvlm tile choice for the protocol's.
pub fn tiles(t: Tiles) -> processor::Tiles {
    match t {
        Tiles::All => processor::Tiles::All,
        Tiles::Max(n) => processor::Tiles::Max(n),
    }
}

/// The settings the page shows for a checkpoint's image processor.
pub fn settings_of(cfg: &ImageProcessorConfig) -> ImageSettings {
    ImageSettings {
        longest_edge: cfg.longest_edge,
        tile: cfg.max_image_longest_edge,
        split: cfg.do_image_splitting,
    }
}

/// A processor config from the page's settings (the defaults of a checkpoint otherwise).
pub fn config_of(s: &ImageSettings) -> ImageProcessorConfig {
    ImageProcessorConfig {
        longest_edge: s.longest_edge,
        max_image_longest_edge: s.tile,
        do_image_splitting: s.split,
        ..ImageProcessorConfig::default()
    }
}

/// What a person reads when a picture cannot be used.
pub fn image_failure(e: &ImageError) -> Failure {
    let kind = match e {
        ImageError::Empty | ImageError::UnknownFormat | ImageError::UnsupportedFormat(_) => {
            FailureKind::ImageUnsupported
        }
        ImageError::TooLarge { .. } => FailureKind::ImageTooLarge,
        ImageError::ZeroSize { .. }
        | ImageError::Corrupt { .. }
        | ImageError::BadPixelBuffer { .. } => FailureKind::ImageCorrupt,
    };
    let message = match kind {
        FailureKind::ImageUnsupported => {
            format!("This file is not a picture SmolVLM can read ({e}). Use a PNG, JPEG or WebP image.")
        }
        FailureKind::ImageTooLarge => format!(
            "This picture is too large: {e}. Scale it down (a phone photo of up to 48 megapixels works) and try again."
        ),
        _ => format!("This picture is damaged or incomplete ({e}). Try another copy of it."),
    };
    Failure::new(kind, message)
}

/// Decodes a picture fully (so a damaged one fails now, not at run time) and plans its
/// tiles with `cfg`: (width, height, plan).
pub fn inspect(
    bytes: &[u8],
    cfg: Option<&ImageProcessorConfig>,
) -> Result<(u32, u32, Option<TilePlan>), Failure> {
    let image = decode_image(bytes, &Default::default()).map_err(|e| image_failure(&e))?;
    let (w, h) = (image.width(), image.height());
    Ok((w, h, cfg.map(|cfg| tile_plan(w, h, cfg))))
}

/// How a `w`×`h` picture is tiled with `cfg`, as the page shows it.
pub fn tile_plan(w: u32, h: u32, cfg: &ImageProcessorConfig) -> TilePlan {
    let p = Plan::new(w, h, cfg);
    TilePlan {
        rows: p.rows,
        cols: p.cols,
        frames_full: p.frames(),
    }
}

/// A prompt's ids and its picture's frames, ready to encode.
pub(crate) struct Prepared {
    pub prompt_ids: Vec<u32>,
    /// (pixel values (n, 3, H, W), pixel mask (n, H, W)) of the picture's frames.
    pub pixels: Option<(Tensor, Tensor)>,
    pub frames: u32,
}

/// A run's picture: a file's bytes, or pixels made here (a rendered PDF page).
#[derive(Debug, Clone, Copy)]
pub enum Picture<'a> {
    /// A picture file's bytes (PNG, JPEG, WebP), decoded by the run.
    File(&'a [u8]),
    /// Decoded pixels, as a file would decode to.
    Pixels(&'a RgbImage),
}

/// Decodes and preprocesses the picture and builds the prompt's ids.
pub(crate) fn prepare(
    loaded: &Loaded,
    prompt: &str,
    image: Option<Picture<'_>>,
    tiles: processor::Tiles,
) -> Result<Prepared, Failure> {
    let device = loaded.model.device();
    let (pixels, grids) = match image {
        Some(picture) => {
            let Some(processor) = &loaded.image_processor else {
                return Err(Failure::new(
                    FailureKind::BadRequest,
                    "This model has no image settings (preprocessor_config.json), so it cannot read pictures.",
                ));
            };
            let decoded;
            let image = match picture {
                Picture::File(bytes) => {
                    decoded =
                        decode_image(bytes, &Default::default()).map_err(|e| image_failure(&e))?;
                    &decoded
                }
                Picture::Pixels(image) => image,
            };
            // The frames this picture makes, checked against the context before any resize
            // or allocation (a picture of thousands of tiles is refused, not encoded).
            let (w, h) = (image.width(), image.height());
            let frames = Plan::new(w, h, &processor.config.with_tiles(tiles, w, h)).frames();
            let config = loaded.model.config();
            let (per_frame, context) = (config.image_seq_len(), config.max_context());
            if (frames as usize).saturating_mul(per_frame) > context {
                return Err(Failure::new(
                    FailureKind::BadRequest,
                    format!(
                        "This picture ({w}x{h}) makes {frames} frames of {per_frame} image tokens each, more than this model's context of {context} tokens: ask for fewer tiles."
                    ),
                ));
            }
            let out = processor.preprocess(image, tiles);
            let n = out.num_frames;
            let px = Tensor::from_vec(out.pixel_values, (n, 3, out.height, out.width), device)
                .map_err(|e| internal("preparing the picture", e))?;
            let mask =
                Tensor::from_vec(out.pixel_attention_mask, (n, out.height, out.width), device)
                    .map_err(|e| internal("preparing the picture", e))?;
            (Some((px, mask)), vec![(out.rows, out.cols)])
        }
        None => (None, Vec::new()),
    };
    let built = build_prompt(
        &loaded.tokenizer,
        &loaded.template,
        prompt,
        &grids,
        loaded.model.config().image_seq_len(),
    )
    .map_err(|e| {
        Failure::new(
            FailureKind::BadRequest,
            format!("The prompt could not be built: {e}"),
        )
    })?;
    let frames = match &pixels {
        Some((px, _)) => px
            .dim(0)
            .map_err(|e| internal("preparing the picture", e))? as u32,
        None => 0,
    };
    Ok(Prepared {
        prompt_ids: built.ids,
        pixels,
        frames,
    })
}
