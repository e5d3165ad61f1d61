//! Image bytes (PNG, JPEG, WebP) to 8-bit RGB, with EXIF orientation applied and
//! transparency flattened onto white as transformers' `convert_to_rgb` does.
//!
//! JPEG is decoded as libjpeg-turbo (Pillow's decoder) decodes it, PNG and WebP by the
//! `image` crate. Pillow's conversions are followed where they differ from the `image`
//! crate's: 16-bit
//! colour keeps the high byte (Pillow's `RGB;16B` raw mode), 16-bit grey is clipped to
//! 255 (Pillow's `I;16` to `RGB` conversion), both checked against Pillow 13.0.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use super::error::ImageError;
use super::rgb::{over_white, RgbImage};

/// Default pixel limit: 50 megapixels covers 48 MP phone photos, and the largest
/// decoded buffer (RGBA, 16-bit) stays under 400 MB of the browser's 4 GiB.
pub const DEFAULT_MAX_PIXELS: u64 = 50_000_000;

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Refuse images whose header announces more than this many pixels, before decoding.
    pub max_pixels: u64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

/// Decode PNG, JPEG or WebP bytes to RGB, EXIF orientation applied, alpha onto white.
///
/// The header's size is checked against `options.max_pixels` before any pixel is
/// decoded; zero-sized, truncated, corrupt and unsupported inputs each get their own
/// [`ImageError`].
pub fn decode_image(bytes: &[u8], options: &DecodeOptions) -> Result<RgbImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let format = supported_format(bytes)?;
    // Sizes straight from the header, even if the rest of the file is missing.
    if let Ok(size) = imagesize::blob_size(bytes) {
        check_size(size.width as u64, size.height as u64, options)?;
    }
    let (mut image, orientation) = match format {
        ImageFormat::Jpeg => decode_jpeg(bytes, options)?,
        _ => decode_png_or_webp(bytes, format, options)?,
    };
    image.apply_orientation(orientation);
    Ok(to_rgb(image))
}

/// PNG and WebP through the `image` crate (`png`, `image-webp`): lossless formats, so
/// any correct decoder gives Pillow's pixels.
fn decode_png_or_webp(
    bytes: &[u8],
    format: ImageFormat,
    options: &DecodeOptions,
) -> Result<(DynamicImage, Orientation), ImageError> {
    let name = format_name(format);
    if format == ImageFormat::Png {
        check_png_palette(bytes)?;
    }
    let corrupt = |e: image::ImageError| ImageError::Corrupt {
        format: name,
        message: e.to_string(),
    };
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format)
        .into_decoder()
        .map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    check_size(width as u64, height as u64, options)?;
    // A damaged EXIF block should not cost the picture: treat it as no rotation.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    Ok((
        DynamicImage::from_decoder(decoder).map_err(corrupt)?,
        orientation,
    ))
}

/// A PNG's palette (`PLTE`) must hold whole colours, 1 to 256 of them. png 0.18.1 panics
/// on one that does not (it copies 3 bytes from a shorter remainder when expanding the
/// palette: found by `cargo xtask fuzz`), so such a file is refused before it is decoded.
/// Walks the chunk headers up to the first `IDAT` (the palette comes before it); a file
/// that breaks off earlier is left to the decoder's own error.
fn check_png_palette(bytes: &[u8]) -> Result<(), ImageError> {
    let mut at = 8; // the signature
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        match &header[4..8] {
            b"IDAT" | b"IEND" => break,
            b"PLTE" if len == 0 || len % 3 != 0 || len > 3 * 256 => {
                return Err(ImageError::Corrupt {
                    format: "PNG",
                    message: format!("its palette is {len} bytes, not 1 to 256 whole RGB colours"),
                });
            }
            _ => {}
        }
        // Length, type, data and CRC.
        at = at.saturating_add(12).saturating_add(len);
    }
    Ok(())
}

/// JPEG through `libjpeg-turbo-rs`, a Rust port of the libjpeg-turbo that Pillow links:
/// the same integer IDCT, "fancy" chroma upsampling and YCbCr tables, so the pixels are
/// Pillow's. (zune-jpeg, the `image` crate's decoder, measured up to 13 steps off on a
/// 4:2:0 JPEG here, and fills a truncated scan with grey instead of failing.)
fn decode_jpeg(
    bytes: &[u8],
    options: &DecodeOptions,
) -> Result<(DynamicImage, Orientation), ImageError> {
    let corrupt = |e: libjpeg_turbo_rs::JpegError| ImageError::Corrupt {
        format: "JPEG",
        message: e.to_string(),
    };
    let info = libjpeg_turbo_rs::probe(bytes).map_err(corrupt)?;
    check_size(info.width as u64, info.height as u64, options)?;
    if !jpeg_has_end_marker(bytes) {
        return Err(ImageError::Corrupt {
            format: "JPEG",
            message: "the data ends before the end-of-image marker".into(),
        });
    }
    let orientation = info
        .exif_orientation
        .and_then(Orientation::from_exif)
        .unwrap_or(Orientation::NoTransforms);
    // Grey and CMYK JPEGs come out as RGB the way Pillow's `convert("RGB")` makes them.
    let decoded = libjpeg_turbo_rs::decompress_to(bytes, libjpeg_turbo_rs::PixelFormat::Rgb)
        .map_err(corrupt)?;
    let (w, h) = (decoded.width as u32, decoded.height as u32);
    let buffer =
        image::RgbImage::from_raw(w, h, decoded.data).ok_or_else(|| ImageError::Corrupt {
            format: "JPEG",
            message: format!("the decoder returned the wrong number of bytes for {w}x{h}"),
        })?;
    Ok((DynamicImage::ImageRgb8(buffer), orientation))
}

fn supported_format(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP)) => Ok(f),
        Ok(other) => Err(ImageError::UnsupportedFormat(
            format!("{other:?}").to_uppercase(),
        )),
        Err(_) => Err(ImageError::UnknownFormat),
    }
}

/// Whether an end-of-image marker (`FF D9`) follows the first start-of-scan (`FF DA`).
///
/// Hand-written because libjpeg (and its Rust port) decodes a stream that stops after
/// its last scan without complaint, while Pillow refuses any JPEG cut short, even by the
/// two marker bytes. Inside entropy-coded data a `FF` byte is always followed by `00` or
/// a restart marker, so `FF D9` after the scan starts can only be the real end marker.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        _ => "WebP",
    }
}

fn check_size(width: u64, height: u64, options: &DecodeOptions) -> Result<(), ImageError> {
    let (w, h) = (
        width.min(u32::MAX as u64) as u32,
        height.min(u32::MAX as u64) as u32,
    );
    if width == 0 || height == 0 {
        return Err(ImageError::ZeroSize {
            width: w,
            height: h,
        });
    }
    let pixels = width * height;
    if pixels > options.max_pixels {
        return Err(ImageError::TooLarge {
            width: w,
            height: h,
            pixels,
            limit: options.max_pixels,
        });
    }
    Ok(())
}

/// Pillow's `convert_to_rgb` on what the decoders give.
fn to_rgb(image: DynamicImage) -> RgbImage {
    let (width, height) = (image.width(), image.height());
    let data: Vec<u8> = match image {
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        DynamicImage::ImageLuma8(b) => b.into_raw().into_iter().flat_map(|l| [l; 3]).collect(),
        DynamicImage::ImageLumaA8(b) => b
            .as_raw()
            .chunks_exact(2)
            .flat_map(|p| over_white([p[0]; 3], p[1]))
            .collect(),
        DynamicImage::ImageRgba8(b) => b
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| over_white([p[0], p[1], p[2]], p[3]))
            .collect(),
        DynamicImage::ImageLuma16(b) => b
            .as_raw()
            .iter()
            .flat_map(|&l| [l.min(255) as u8; 3])
            .collect(),
        DynamicImage::ImageLumaA16(b) => b
            .as_raw()
            .chunks_exact(2)
            .flat_map(|p| over_white([hi(p[0]); 3], hi(p[1])))
            .collect(),
        DynamicImage::ImageRgb16(b) => b.as_raw().iter().map(|&v| hi(v)).collect(),
        DynamicImage::ImageRgba16(b) => b
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| over_white([hi(p[0]), hi(p[1]), hi(p[2])], hi(p[3])))
            .collect(),
        // Float images come from formats we do not decode (EXR, HDR).
        other => return to_rgb(DynamicImage::ImageRgba8(other.to_rgba8())),
    };
    RgbImage::from_parts(width, height, data)
}

fn hi(v: u16) -> u8 {
    (v >> 8) as u8
}
