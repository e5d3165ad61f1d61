//! The connector between the vision tower and the text model: a pixel shuffle that folds
//! each `s x s` block of patch features into one vector (`s^2` times wider), then one
//! linear projection without bias into the text model's width.
//!
//! Reference: transformers `models/smolvlm/modeling_smolvlm.py` (`SmolVLMConnector`,
//! `SmolVLMSimpleMLP`), v5.24.
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/smolvlm/modeling_smolvlm.py>

use candle_core::Tensor;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::weights::{QLinear, Weights};

/// transformers' `pixel_shuffle`: (b, seq, d) -> (b, seq / s^2, d * s^2), with the same
/// (somewhat unusual) order of the folded features, so that the projection weights line
/// up.
pub fn pixel_shuffle(x: &Tensor, s: usize) -> Result<Tensor> {
    let (b, seq, d) = x.dims3()?;
    let side = (seq as f64).sqrt() as usize;
    if side * side != seq || side % s != 0 {
        return Err(Error::InvalidInput(format!(
            "pixel shuffle by {s} needs a square grid of patches divisible by {s}, got {seq} patches"
        )));
    }
    let (h, w) = (side, side);
    let x = x
        // (b, h, w/s, d*s): s neighbouring columns side by side
        .reshape((b, h, w / s, d * s))?
        // (b, w/s, h, d*s)
        .permute((0, 2, 1, 3))?
        // (b, w/s, h/s, d*s*s): s neighbouring rows side by side
        .reshape((b, w / s, h / s, d * s * s))?
        // (b, h/s, w/s, d*s*s)
        .permute((0, 2, 1, 3))?
        .reshape((b, seq / (s * s), d * s * s))?;
    Ok(x)
}

/// `model.connector` in the checkpoint.
#[derive(Debug, Clone)]
pub struct Connector {
    proj: QLinear,
    scale_factor: usize,
}

impl Connector {
    pub fn new(cfg: &Config, w: &Weights) -> Result<Self> {
        let s = cfg.scale_factor;
        let input = cfg.vision.hidden_size * s * s;
        Ok(Self {
            proj: QLinear::new(
                input,
                cfg.text.hidden_size,
                false,
                &w.pp("modality_projection").pp("proj"),
            )?,
            scale_factor: s,
        })
    }

    /// Vision tower output (n, seq, d_vision) -> image features (n, seq / s^2, d_text).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.proj.forward(&pixel_shuffle(x, self.scale_factor)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The order transformers produces, written out by hand for a 4x4 grid, s = 2, d = 1:
    /// the first output vector holds patches (0,0), (0,1), (1,0), (1,1).
    #[test]
    fn shuffle_groups_two_by_two_blocks() {
        let x = Tensor::arange(0f32, 16., &Device::Cpu)
            .unwrap()
            .reshape((1, 16, 1))
            .unwrap();
        let y = pixel_shuffle(&x, 2).unwrap();
        let y: Vec<Vec<f32>> = y.squeeze(0).unwrap().to_vec2().unwrap();
        assert_eq!(y[0], vec![0., 1., 4., 5.]);
        assert_eq!(y[1], vec![2., 3., 6., 7.]);
        assert_eq!(y[2], vec![8., 9., 12., 13.]);
        assert_eq!(y[3], vec![10., 11., 14., 15.]);
    }
}
