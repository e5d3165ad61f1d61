//! Image processor settings, read from a checkpoint's JSON the way transformers reads them.
//!
//! Reference: transformers `models/smolvlm/image_processing_pil_smolvlm.py`
//! (`SmolVLMImageProcessorPil` class attributes are the defaults) and
//! `image_processing_base.py` (`get_image_processor_dict`: a nested `image_processor`
//! object in `processor_config.json` wins over `preprocessor_config.json`).

use serde::Deserialize;

use super::error::ConfigError;
use super::resample::Filter;

/// Settings of transformers' `SmolVLMImageProcessor`, as plain values.
///
/// Build it from checkpoint JSON with [`ImageProcessorConfig::from_checkpoint_json`], or
/// fill the fields directly (e.g. from GGUF metadata); [`Default`] gives transformers'
/// defaults for a config that sets nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageProcessorConfig {
    /// Composite transparency onto white and drop alpha (`do_convert_rgb`).
    pub do_convert_rgb: bool,
    /// Resize the longest edge to `longest_edge` first (`do_resize`).
    pub do_resize: bool,
    /// `size.longest_edge`: the longest edge after the first resize.
    pub longest_edge: u32,
    /// `resample`: Pillow's filter for every resize.
    pub resample: Filter,
    /// `do_image_splitting`: tiles of `max_image_longest_edge` plus a global image, or
    /// (when false) one square image of that side.
    pub do_image_splitting: bool,
    /// `max_image_size.longest_edge`: the side of every tile and of the global image.
    pub max_image_longest_edge: u32,
    /// `do_rescale`: multiply by `rescale_factor` (in f64, then f32, as numpy does).
    pub do_rescale: bool,
    /// `rescale_factor`, `1/255` by default.
    pub rescale_factor: f64,
    /// `do_normalize`: `(x - mean) / std` per channel in f32.
    pub do_normalize: bool,
    /// `image_mean` per RGB channel.
    pub image_mean: [f32; 3],
    /// `image_std` per RGB channel.
    pub image_std: [f32; 3],
    /// `do_pad`: pad every frame to the largest frame with zeros and return a pixel mask.
    pub do_pad: bool,
}

/// transformers' `IMAGENET_STANDARD_MEAN` / `IMAGENET_STANDARD_STD` (both 0.5).
const IMAGENET_STANDARD: [f32; 3] = [0.5, 0.5, 0.5];

impl Default for ImageProcessorConfig {
    fn default() -> Self {
        // `SmolVLMImageProcessorPil`'s class attributes (the Idefics3 sizes: 4 * 364 and 364).
        Self {
            do_convert_rgb: true,
            do_resize: true,
            longest_edge: 4 * 364,
            resample: Filter::Lanczos,
            do_image_splitting: true,
            max_image_longest_edge: 364,
            do_rescale: true,
            rescale_factor: 1.0 / 255.0,
            do_normalize: true,
            image_mean: IMAGENET_STANDARD,
            image_std: IMAGENET_STANDARD,
            do_pad: true,
        }
    }
}

/// `image_mean` / `image_std`: one number for all channels, or one per channel.
#[derive(Deserialize)]
#[serde(untagged)]
enum PerChannel {
    One(f64),
    Many(Vec<f64>),
}

#[derive(Deserialize)]
struct LongestEdge {
    longest_edge: Option<u32>,
    height: Option<u32>,
    width: Option<u32>,
}

/// The keys as JSON spells them; absent keys keep transformers' defaults.
#[derive(Deserialize, Default)]
struct RawImageProcessor {
    do_convert_rgb: Option<bool>,
    do_resize: Option<bool>,
    size: Option<LongestEdge>,
    resample: Option<i64>,
    do_image_splitting: Option<bool>,
    max_image_size: Option<LongestEdge>,
    do_rescale: Option<bool>,
    rescale_factor: Option<f64>,
    do_normalize: Option<bool>,
    image_mean: Option<PerChannel>,
    image_std: Option<PerChannel>,
    do_pad: Option<bool>,
}

#[derive(Deserialize)]
struct RawProcessor {
    image_processor: Option<RawImageProcessor>,
    image_seq_len: Option<usize>,
}

/// What `processor_config.json` holds for us.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorConfig {
    /// `image_seq_len`: `<image>` tokens per frame (transformers' default is 169 when
    /// absent; the model's `(image_size / patch_size)^2 / scale_factor^2` is the truth).
    pub image_seq_len: Option<usize>,
    /// The nested `image_processor` settings that transformers 5's `save_pretrained` writes.
    pub image_processor: Option<ImageProcessorConfig>,
}

/// File names used in error messages.
pub const PREPROCESSOR_CONFIG: &str = "preprocessor_config.json";
/// File names used in error messages.
pub const PROCESSOR_CONFIG: &str = "processor_config.json";

impl ProcessorConfig {
    /// Parse `processor_config.json` (the Hub's flat one or transformers 5's nested one).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        let raw: RawProcessor = parse(PROCESSOR_CONFIG, bytes)?;
        let image_processor = match raw.image_processor {
            Some(raw) => Some(ImageProcessorConfig::from_raw(PROCESSOR_CONFIG, raw)?),
            None => None,
        };
        Ok(Self {
            image_seq_len: raw.image_seq_len,
            image_processor,
        })
    }
}

impl ImageProcessorConfig {
    /// Parse the Hub's `preprocessor_config.json` (flat keys).
    pub fn from_preprocessor_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        Self::from_raw(PREPROCESSOR_CONFIG, parse(PREPROCESSOR_CONFIG, bytes)?)
    }

    /// The settings transformers would use for a checkpoint folder holding these files:
    /// the `image_processor` object nested in `processor_config.json` if there is one,
    /// else `preprocessor_config.json`. Errors if neither gives image settings.
    pub fn from_checkpoint_json(
        preprocessor_config: Option<&[u8]>,
        processor_config: Option<&[u8]>,
    ) -> Result<Self, ConfigError> {
        if let Some(bytes) = processor_config {
            if let Some(nested) = ProcessorConfig::from_json(bytes)?.image_processor {
                return Ok(nested);
            }
        }
        match preprocessor_config {
            Some(bytes) => Self::from_preprocessor_json(bytes),
            None => Err(ConfigError::Missing),
        }
    }

    fn from_raw(file: &'static str, raw: RawImageProcessor) -> Result<Self, ConfigError> {
        let d = Self::default();
        let invalid =
            |key: &'static str, message: String| ConfigError::Invalid { file, key, message };
        let resample = match raw.resample {
            None => d.resample,
            Some(code) => Filter::from_pil_code(code).ok_or_else(|| {
                invalid(
                    "resample",
                    format!("PIL filter {code} is not supported (use 1 = LANCZOS, 2, 3, 4 or 5)"),
                )
            })?,
        };
        let cfg = Self {
            do_convert_rgb: raw.do_convert_rgb.unwrap_or(d.do_convert_rgb),
            do_resize: raw.do_resize.unwrap_or(d.do_resize),
            longest_edge: edge(raw.size, d.longest_edge).map_err(|m| invalid("size", m))?,
            resample,
            do_image_splitting: raw.do_image_splitting.unwrap_or(d.do_image_splitting),
            max_image_longest_edge: edge(raw.max_image_size, d.max_image_longest_edge)
                .map_err(|m| invalid("max_image_size", m))?,
            do_rescale: raw.do_rescale.unwrap_or(d.do_rescale),
            rescale_factor: raw.rescale_factor.unwrap_or(d.rescale_factor),
            do_normalize: raw.do_normalize.unwrap_or(d.do_normalize),
            image_mean: channels(raw.image_mean, d.image_mean)
                .map_err(|m| invalid("image_mean", m))?,
            image_std: channels(raw.image_std, d.image_std).map_err(|m| invalid("image_std", m))?,
            do_pad: raw.do_pad.unwrap_or(d.do_pad),
        };
        for (key, edge) in [
            ("size", cfg.longest_edge),
            ("max_image_size", cfg.max_image_longest_edge),
        ] {
            if edge > MAX_EDGE {
                return Err(invalid(
                    key,
                    format!("longest_edge {edge} is above the {MAX_EDGE} pixels this takes"),
                ));
            }
        }
        for (key, values) in [("image_mean", cfg.image_mean), ("image_std", cfg.image_std)] {
            if values.iter().any(|v| !v.is_finite()) {
                return Err(invalid(key, format!("{values:?} must be finite numbers")));
            }
        }
        if !(cfg.rescale_factor.is_finite() && cfg.rescale_factor > 0.0) {
            return Err(invalid(
                "rescale_factor",
                format!("{} must be a finite positive number", cfg.rescale_factor),
            ));
        }
        if cfg.image_std.contains(&0.0) {
            return Err(invalid(
                "image_std",
                "a standard deviation of 0 divides by zero".into(),
            ));
        }
        Ok(cfg)
    }
}

/// The longest edge a setting may ask for: 4x SmolVLM2's 2048 (a larger one would make
/// pictures of billions of pixels, or thousands of tiles, from a crafted file).
pub const MAX_EDGE: u32 = 8192;

fn parse<T: serde::de::DeserializeOwned>(
    file: &'static str,
    bytes: &[u8],
) -> Result<T, ConfigError> {
    serde_json::from_slice(bytes).map_err(|source| ConfigError::Json { file, source })
}

fn edge(size: Option<LongestEdge>, default: u32) -> Result<u32, String> {
    match size {
        None => Ok(default),
        Some(LongestEdge {
            longest_edge: Some(0),
            ..
        }) => Err("longest_edge must be positive".into()),
        Some(LongestEdge {
            longest_edge: Some(n),
            ..
        }) => Ok(n),
        Some(LongestEdge { height, width, .. }) => Err(format!(
            "only {{\"longest_edge\": N}} is supported (got height {height:?}, width {width:?})"
        )),
    }
}

fn channels(value: Option<PerChannel>, default: [f32; 3]) -> Result<[f32; 3], String> {
    match value {
        None => Ok(default),
        // numpy casts the Python floats to the image's float32.
        Some(PerChannel::One(v)) => Ok([v as f32; 3]),
        Some(PerChannel::Many(v)) if v.len() == 3 => Ok([v[0] as f32, v[1] as f32, v[2] as f32]),
        Some(PerChannel::Many(v)) => Err(format!("expected 3 values (RGB), got {}", v.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB_256M: &str = r#"{
      "do_convert_rgb": true, "do_image_splitting": true, "do_normalize": true, "do_pad": true,
      "do_rescale": true, "do_resize": true, "image_mean": [0.5, 0.5, 0.5],
      "image_processor_type": "SmolVLMImageProcessor", "image_std": [0.5, 0.5, 0.5],
      "max_image_size": {"longest_edge": 512}, "processor_class": "SmolVLMProcessor",
      "resample": 1, "rescale_factor": 0.00392156862745098, "size": {"longest_edge": 2048},
      "video_sampling": {"fps": 1, "max_frames": 64, "video_size": {"longest_edge": 512}}
    }"#;

    /// Settings a crafted file could use to make billions of pixels or an endless plan.
    #[test]
    fn settings_beyond_any_model_are_refused_naming_the_key() {
        let with = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value = serde_json::from_str(HUB_256M).unwrap();
            edit(&mut v);
            ImageProcessorConfig::from_preprocessor_json(v.to_string().as_bytes())
                .unwrap_err()
                .to_string()
        };
        let e = with(&|v| v["size"]["longest_edge"] = u32::MAX.into());
        assert!(e.contains("size") && e.contains("8192"), "{e}");
        let e = with(&|v| v["max_image_size"]["longest_edge"] = 100_000.into());
        assert!(e.contains("max_image_size"), "{e}");
        let e = with(&|v| v["rescale_factor"] = 0.into());
        assert!(e.contains("rescale_factor"), "{e}");
        let e = with(&|v| v["image_mean"] = serde_json::json!([0.5, 1e300, 0.5]));
        assert!(e.contains("image_mean"), "{e}");
    }

    #[test]
    fn reads_the_hub_layout() {
        let cfg = ImageProcessorConfig::from_preprocessor_json(HUB_256M.as_bytes()).unwrap();
        assert_eq!(cfg.longest_edge, 2048);
        assert_eq!(cfg.max_image_longest_edge, 512);
        assert_eq!(cfg.resample, Filter::Lanczos);
        assert_eq!(cfg.rescale_factor, 1.0 / 255.0);
    }

    #[test]
    fn nested_processor_config_wins() {
        let nested = r#"{"image_seq_len": 64, "processor_class": "SmolVLMProcessor",
            "image_processor": {"size": {"longest_edge": 1024}, "do_image_splitting": false,
            "image_mean": 0.25}}"#;
        let cfg = ImageProcessorConfig::from_checkpoint_json(
            Some(HUB_256M.as_bytes()),
            Some(nested.as_bytes()),
        )
        .unwrap();
        assert_eq!(cfg.longest_edge, 1024);
        assert!(!cfg.do_image_splitting);
        assert_eq!(cfg.image_mean, [0.25; 3]);
        // Keys the nested object leaves out take transformers' defaults, not the flat file's.
        assert_eq!(cfg.max_image_longest_edge, 364);
        assert_eq!(
            ProcessorConfig::from_json(nested.as_bytes())
                .unwrap()
                .image_seq_len,
            Some(64)
        );
    }

    #[test]
    fn flat_processor_config_falls_back_to_preprocessor_config() {
        let flat = br#"{"image_seq_len": 64, "processor_class": "SmolVLMProcessor"}"#;
        let cfg = ImageProcessorConfig::from_checkpoint_json(Some(HUB_256M.as_bytes()), Some(flat))
            .unwrap();
        assert_eq!(cfg.longest_edge, 2048);
    }

    #[test]
    fn missing_keys_take_transformers_defaults() {
        let cfg = ImageProcessorConfig::from_preprocessor_json(b"{}").unwrap();
        assert_eq!(cfg, ImageProcessorConfig::default());
    }

    #[test]
    fn bad_values_name_file_and_key() {
        let err = ImageProcessorConfig::from_preprocessor_json(br#"{"resample": 0}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "preprocessor_config.json: resample: PIL filter 0 is not supported (use 1 = LANCZOS, 2, 3, 4 or 5)"
        );
        let err = ImageProcessorConfig::from_preprocessor_json(br#"{"image_std": [0.5, 0.5]}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "preprocessor_config.json: image_std: expected 3 values (RGB), got 2"
        );
        let err = ImageProcessorConfig::from_preprocessor_json(b"{not json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("preprocessor_config.json: invalid JSON:"),
            "{err}"
        );
        let err = ImageProcessorConfig::from_checkpoint_json(None, None).unwrap_err();
        assert!(
            err.to_string().contains("preprocessor_config.json"),
            "{err}"
        );
    }
}
