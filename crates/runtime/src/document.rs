//! A PDF where a picture would go: what the page asks about it before a run (its pages,
//! and how its first page would be tiled) and one page as a run's picture, rendered at
//! the longest edge the model's processor resizes to (as `smolvlm convert` renders it),
//! so it is not resampled twice. Pages are rendered one at a time (`pdf-pages`): a long
//! document never holds more than one page's pixels.

use ocr_protocol::{Failure, FailureKind, TilePlan};
use pdf_pages::{Pdf, PdfError};
use smolvlm::processor::{ImageProcessorConfig, RgbImage};

use crate::failure::internal;
use crate::picture::tile_plan;

/// Whether a file's bytes are a PDF (they start as every PDF starts).
pub fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
}

/// What a person reads when a PDF cannot be used.
pub fn pdf_failure(e: &PdfError) -> Failure {
    let kind = match e {
        PdfError::Encrypted | PdfError::UnsupportedEncryption(_) | PdfError::NotPdf => {
            FailureKind::ImageUnsupported
        }
        PdfError::PageTooLarge { .. } => FailureKind::ImageTooLarge,
        PdfError::PageOutOfRange { .. } => FailureKind::BadRequest,
        PdfError::Truncated
        | PdfError::Damaged
        | PdfError::NoPages
        | PdfError::BadPageSize { .. }
        | PdfError::ZeroSize => FailureKind::ImageCorrupt,
    };
    let mut message = e.to_string();
    if let Some(first) = message.get(..1) {
        message = first.to_uppercase() + &message[1..];
    }
    Failure::new(kind, format!("{message}."))
}

/// Reads a PDF's structure (the pages are rendered later, one at a time).
pub fn open(bytes: &[u8]) -> Result<Pdf, Failure> {
    Pdf::open(bytes).map_err(|e| pdf_failure(&e))
}

/// A PDF's page count, and its first page's size and tiling as a run with `cfg` would
/// render it (the size alone without `cfg`, at 2048 px, the menu's models' longest edge).
pub fn inspect(
    bytes: &[u8],
    cfg: Option<&ImageProcessorConfig>,
) -> Result<(u32, u32, u32, Option<TilePlan>), Failure> {
    let pdf = open(bytes)?;
    let longest_edge = cfg.map_or(2048, |c| c.longest_edge);
    let (w, h) = pdf
        .pixel_size(0, longest_edge)
        .map_err(|e| pdf_failure(&e))?;
    let plan = cfg.map(|cfg| tile_plan(w, h, cfg));
    let pages = u32::try_from(pdf.page_count()).unwrap_or(u32::MAX);
    Ok((pages, w, h, plan))
}

/// Page `index` (0-based) rendered with its longer side `longest_edge` pixels.
pub fn render(pdf: &Pdf, index: usize, longest_edge: u32) -> Result<RgbImage, Failure> {
    let page = pdf
        .render(index, longest_edge)
        .map_err(|e| pdf_failure(&e))?;
    let (w, h) = page.dimensions();
    RgbImage::new(w, h, page.into_raw()).map_err(|e| internal("rendering the page", e))
}

/// A rendered page as PNG (fast compression: it is shown once, under the answer's boxes).
pub fn png(page: &RgbImage) -> Result<Vec<u8>, Failure> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub)
        .write_image(
            page.as_raw(),
            page.width(),
            page.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| internal("showing the page", e))?;
    Ok(out)
}
