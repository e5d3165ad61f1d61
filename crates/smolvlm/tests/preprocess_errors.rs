//! Bad image inputs: each gets its own clear error, never a panic. The inputs are made
//! here (encoded, then cut or forged byte by byte), so no fixture is needed.

use smolvlm::processor::{
    decode_image, DecodeOptions, ImageError, ImageProcessor, ImageProcessorConfig, Tiles,
};

fn decode(bytes: &[u8]) -> Result<smolvlm::processor::RgbImage, ImageError> {
    decode_image(bytes, &DecodeOptions::default())
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out
}

/// A PNG signature and an IHDR chunk (8-bit RGB) announcing `width` x `height`, nothing more.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png
}

fn valid_png(width: u32, height: u32) -> Vec<u8> {
    let pixels = noise(width, height);
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_raw(width, height, pixels)
        .unwrap()
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

#[test]
fn a_valid_png_decodes() {
    let image = decode(&valid_png(7, 5)).unwrap();
    assert_eq!((image.width(), image.height()), (7, 5));
}

#[test]
fn truncated_png_is_corrupt() {
    let png = valid_png(64, 64);
    let err = decode(&png[..png.len() / 2]).unwrap_err();
    assert!(
        matches!(err, ImageError::Corrupt { format: "PNG", .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("corrupt or truncated PNG image: "),
        "{err}"
    );
}

#[test]
fn zero_by_zero_png_is_refused() {
    let err = decode(&png_header(0, 0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the image is 0x0 pixels: an empty image cannot be processed"
    );
}

#[test]
fn decompression_bomb_is_refused_from_the_header() {
    let err = decode(&png_header(100_000, 100_000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the image is 100000x100000 = 10000000000 pixels, more than the limit of 50000000 pixels \
         (refused before decoding, as a decompression bomb)"
    );
}

#[test]
fn the_pixel_limit_is_configurable() {
    let small = DecodeOptions { max_pixels: 34 };
    let err = decode_image(&valid_png(7, 5), &small).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::TooLarge {
                pixels: 35,
                limit: 34,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_text_file_is_not_an_image() {
    let err = decode(b"Hello, this is a text file.\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "not an image: the data is not PNG, JPEG or WebP"
    );
}

#[test]
fn empty_input_is_refused() {
    assert_eq!(
        decode(&[]).unwrap_err().to_string(),
        "the image file is empty"
    );
}

#[test]
fn gif_is_unsupported() {
    // A complete 1x1 GIF89a.
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    assert_eq!(
        decode(gif).unwrap_err().to_string(),
        "unsupported image format GIF: use PNG, JPEG or WebP"
    );
}

#[test]
fn bmp_is_unsupported() {
    // A 1x1 24-bit BMP: file header, BITMAPINFOHEADER, one padded row.
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&58u32.to_le_bytes());
    bmp.extend_from_slice(&[0, 0, 0, 0]);
    bmp.extend_from_slice(&54u32.to_le_bytes());
    for v in [40u32, 1, 1] {
        bmp.extend_from_slice(&v.to_le_bytes());
    }
    bmp.extend_from_slice(&1u16.to_le_bytes());
    bmp.extend_from_slice(&24u16.to_le_bytes());
    bmp.extend_from_slice(&[0; 24]);
    bmp.extend_from_slice(&[0, 0, 255, 0]);
    assert_eq!(
        decode(&bmp).unwrap_err().to_string(),
        "unsupported image format BMP: use PNG, JPEG or WebP"
    );
}

fn noise(width: u32, height: u32) -> Vec<u8> {
    (0..width * height * 3)
        .map(|i| (i * 37 % 251) as u8)
        .collect()
}

#[test]
fn truncated_webp_is_corrupt() {
    let mut webp = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_raw(40, 30, noise(40, 30))
        .unwrap()
        .write_to(&mut webp, image::ImageFormat::WebP)
        .unwrap();
    let webp = webp.into_inner();
    assert_eq!(decode(&webp).unwrap().width(), 40);
    let err = decode(&webp[..webp.len() / 2]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("corrupt or truncated WebP image: "),
        "{err}"
    );
}

#[test]
fn truncated_jpeg_is_corrupt() {
    use libjpeg_turbo_rs::{compress, PixelFormat, Subsampling};
    let jpeg = compress(
        &noise(64, 48),
        64,
        48,
        PixelFormat::Rgb,
        90,
        Subsampling::S420,
    )
    .unwrap();
    assert_eq!(decode(&jpeg).unwrap().height(), 48);
    for cut in [jpeg.len() / 3, jpeg.len() / 2, jpeg.len() - 2] {
        let err = decode(&jpeg[..cut]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("corrupt or truncated JPEG image: "),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn jpeg_bomb_is_refused_from_the_header() {
    use libjpeg_turbo_rs::{compress, PixelFormat, Subsampling};
    let mut jpeg = compress(
        &noise(16, 16),
        16,
        16,
        PixelFormat::Rgb,
        90,
        Subsampling::S444,
    )
    .unwrap();
    // Rewrite the SOF0 frame size (after FF C0, length, precision) to 60000x60000.
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let err = decode(&jpeg).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::TooLarge {
                width: 60000,
                height: 60000,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn preprocess_bytes_passes_the_error_on() {
    let ip = ImageProcessor::new(ImageProcessorConfig::default());
    let err = ip
        .preprocess_bytes(b"not an image", Tiles::All)
        .unwrap_err();
    assert!(matches!(err, ImageError::UnknownFormat));
}
