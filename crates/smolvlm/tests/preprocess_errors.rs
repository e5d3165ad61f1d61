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

/// Found by `cargo xtask fuzz` (image, a 10-minute run): an indexed PNG whose palette is
/// 49 bytes, not whole colours, made png 0.18.1 panic while expanding it. A clear error.
#[test]
fn a_png_palette_of_broken_colours_is_corrupt_not_a_panic() {
    let finding: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x04, 0x21, 0x00, 0x00, 0x00, 0x1b, 0x04, 0x03, 0x00, 0x00, 0x00, 0x00,
        0x2b, 0xfb, 0x97, 0x00, 0x00, 0x00, 0x31, 0x50, 0x4c, 0x54, 0x45, 0xf8, 0xff, 0xef, 0xe3,
        0x89, 0x50, 0x4e, 0x47, 0xb6, 0x69, 0xe4, 0x90, 0x20, 0xe6, 0x7c, 0x2a, 0xbe, 0xa1, 0x98,
        0xa8, 0x76, 0x88, 0x25, 0xaa, 0x70, 0x27, 0x7a, 0x66, 0xe2, 0x58, 0x9c, 0x8a, 0x48, 0x76,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x5e, 0x1e, 0x1a, 0x33, 0x1b, 0x06, 0x2d,
        0x19, 0x54, 0x0c, 0x12, 0x00, 0x00, 0x00, 0x01, 0x74, 0x52, 0x4e, 0x53, 0x00, 0x40, 0xe6,
        0xd8, 0x66, 0x00, 0x00, 0x01, 0x0e, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x5d, 0xcf, 0x2d,
        0x4b, 0x04, 0x71, 0x14, 0xc5, 0xe1, 0x67, 0xc6, 0x3f, 0x2c, 0x08, 0xe2, 0xcb, 0x17, 0x70,
        0x15, 0xfd, 0x00, 0x16, 0x11, 0x34, 0x2c, 0xb8, 0xc1, 0x60, 0x12, 0x34, 0x09, 0x5a, 0xfd,
        0x04, 0x6e, 0xb4, 0xd8, 0xcc, 0x06, 0x93, 0x51, 0x76, 0x11, 0x36, 0x1a, 0x26, 0x4c, 0xd0,
        0xb8, 0xb0, 0x5d, 0x14, 0x83, 0x7d, 0x46, 0x05, 0xc5, 0xd7, 0x31, 0xcc, 0xcc, 0x82, 0x9e,
        0x76, 0x7f, 0xdc, 0x73, 0xce, 0xbd, 0x01, 0x51, 0x03, 0x90, 0xc1, 0x47, 0x35, 0x2e, 0x33,
        0x4d, 0x82, 0xee, 0x8e, 0x3f, 0x8a, 0xc7, 0xff, 0x01, 0x71, 0xe5, 0x19, 0x0c, 0xee, 0x52,
        0x49, 0xec, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xe7, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x00, 0x80, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00,
        0xd6, 0x3f, 0x08, 0x60,
    ];
    let err = decode(finding).unwrap_err();
    assert!(
        matches!(err, ImageError::Corrupt { format: "PNG", .. })
            && err.to_string().contains("palette is 49 bytes"),
        "{err}"
    );
    // A palette of whole colours still decodes (the guard reads chunk headers only).
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 1, 8, 3, 0, 0, 0]));
    png.extend(chunk(b"PLTE", &[255, 0, 0, 0, 0, 255]));
    // One row, filter 0, indices 0 and 1: zlib of [0, 0, 1] stored uncompressed.
    let raw = [0u8, 0, 1];
    let mut z = vec![0x78, 0x01, 0x01, 3, 0, 0xfc, 0xff];
    z.extend_from_slice(&raw);
    let adler = {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in &raw {
            a = (a + x as u32) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    };
    z.extend_from_slice(&adler.to_be_bytes());
    png.extend(chunk(b"IDAT", &z));
    png.extend(chunk(b"IEND", &[]));
    let image = decode(&png).unwrap();
    assert_eq!(image.as_raw(), &[255, 0, 0, 0, 0, 255]);
}
