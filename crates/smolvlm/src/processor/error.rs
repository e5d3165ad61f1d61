//! Errors of image decoding, preprocessing settings and tile control.

/// Why an image could not be turned into pixels.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No bytes at all.
    #[error("the image file is empty")]
    Empty,
    /// The bytes start like no image format we know.
    #[error("not an image: the data is not PNG, JPEG or WebP")]
    UnknownFormat,
    /// A real image format that we do not decode.
    #[error("unsupported image format {0}: use PNG, JPEG or WebP")]
    UnsupportedFormat(String),
    /// The header says zero width or height.
    #[error("the image is {width}x{height} pixels: an empty image cannot be processed")]
    ZeroSize {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
    },
    /// The header announces more pixels than the limit (checked before decoding).
    #[error(
        "the image is {width}x{height} = {pixels} pixels, more than the limit of {limit} pixels \
         (refused before decoding, as a decompression bomb)"
    )]
    TooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// `width * height`.
        pixels: u64,
        /// [`super::DecodeOptions::max_pixels`].
        limit: u64,
    },
    /// The decoder failed: truncated or corrupt data.
    #[error("corrupt or truncated {format} image: {message}")]
    Corrupt {
        /// `PNG`, `JPEG` or `WebP`.
        format: &'static str,
        /// The decoder's own words.
        message: String,
    },
    /// A caller handed raw pixels whose length does not match the size.
    #[error("{what}: expected {expected} bytes for {width}x{height}, got {got}")]
    BadPixelBuffer {
        /// Which buffer.
        what: &'static str,
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
        /// `width * height * channels`.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
}

/// A checkpoint's image settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid JSON of the expected shape.
    #[error("{file}: invalid JSON: {source}")]
    Json {
        /// The file name.
        file: &'static str,
        /// serde's message (line and column).
        source: serde_json::Error,
    },
    /// A key has a value we cannot use.
    #[error("{file}: {key}: {message}")]
    Invalid {
        /// The file name.
        file: &'static str,
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Neither file carries image settings.
    #[error(
        "no image processor settings: expected preprocessor_config.json, or processor_config.json \
         with an \"image_processor\" object"
    )]
    Missing,
}
