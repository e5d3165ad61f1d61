//! 8-bit RGB pixels, and transparency flattened onto white as transformers' `convert_to_rgb`
//! does for PIL images: `Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")`.
//!
//! Reference: transformers `image_transforms.py` (`convert_to_rgb`), Pillow
//! `src/libImaging/AlphaComposite.c` (the integer blend, checked against Pillow 13.0 for
//! all 65,536 value/alpha pairs).

use super::error::ImageError;

/// An 8-bit RGB image: `width * height` pixels, rows top to bottom, `[r, g, b]` each.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}

impl RgbImage {
    /// Wrap interleaved RGB bytes; errors if the size is zero or the length is wrong.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Result<Self, ImageError> {
        check_len("RGB pixels", width, height, 3, data.len())?;
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Flatten interleaved RGBA bytes (a canvas's `ImageData`, say) onto white.
    pub fn from_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<Self, ImageError> {
        check_len("RGBA pixels", width, height, 4, rgba.len())?;
        let data = rgba
            .chunks_exact(4)
            .flat_map(|p| over_white([p[0], p[1], p[2]], p[3]))
            .collect();
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The interleaved RGB bytes.
    pub fn as_raw(&self) -> &[u8] {
        &self.data
    }

    /// The bytes, consuming the image.
    pub fn into_raw(self) -> Vec<u8> {
        self.data
    }

    /// Trusted constructor for sizes computed inside this module.
    pub(crate) fn from_parts(width: u32, height: u32, data: Vec<u8>) -> Self {
        debug_assert_eq!(data.len(), width as usize * height as usize * 3);
        Self {
            width,
            height,
            data,
        }
    }
}

fn check_len(
    what: &'static str,
    width: u32,
    height: u32,
    channels: usize,
    got: usize,
) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::ZeroSize { width, height });
    }
    let expected = width as usize * height as usize * channels;
    if got != expected {
        return Err(ImageError::BadPixelBuffer {
            what,
            width,
            height,
            expected,
            got,
        });
    }
    Ok(())
}

/// One pixel of `Image.alpha_composite(opaque white, src)`, in Pillow's integer arithmetic.
///
/// With an opaque destination Pillow's `coef1 = a * 255 * 255 * 128 / (255 * 255)` is
/// exactly `a * 128`, so the blend is `(s * a + 255 * (255 - a)) * 128`, rounded by
/// Pillow's `SHIFTFORDIV255` and shifted back by its 7 precision bits.
#[inline]
pub fn over_white(rgb: [u8; 3], alpha: u8) -> [u8; 3] {
    if alpha == 0 {
        return [255; 3];
    }
    let a = alpha as u32;
    rgb.map(|s| {
        let tmp = (s as u32 * a + 255 * (255 - a)) * 128 + (0x80 << 7);
        ((((tmp >> 8) + tmp) >> 8) >> 7) as u8
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_and_transparent_pixels() {
        assert_eq!(over_white([10, 20, 30], 255), [10, 20, 30]);
        assert_eq!(over_white([10, 20, 30], 0), [255, 255, 255]);
    }

    #[test]
    fn blend_rounds_to_nearest() {
        // Pillow 13: alpha_composite(white, (0, 0, 0, 128)) -> 127; (255-128)*255/255 = 127.
        assert_eq!(over_white([0, 0, 0], 128), [127; 3]);
        for s in 0..=255u32 {
            for a in 1..=255u32 {
                let exact = ((s * a + 255 * (255 - a)) as f64 / 255.0).round() as u8;
                assert_eq!(over_white([s as u8; 3], a as u8)[0], exact, "s={s} a={a}");
            }
        }
    }

    #[test]
    fn rejects_wrong_lengths() {
        assert!(matches!(
            RgbImage::new(2, 2, vec![0; 11]),
            Err(ImageError::BadPixelBuffer { .. })
        ));
        assert!(matches!(
            RgbImage::from_rgba(0, 2, &[]),
            Err(ImageError::ZeroSize { .. })
        ));
    }
}
