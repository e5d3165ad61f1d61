//! PDF pages as pictures for the OCR model, one page at a time.
//!
//! A user drops a PDF (a scanned contract, slides, a receipt) where a picture would go; each
//! page they pick is rasterized here and then goes to the model like any picture. The
//! rasterizer is [hayro](https://github.com/LaurenzV/hayro): pure Rust, no threads and no
//! file system, so the same code runs in the CLI and in the browser's wasm32 worker.
//!
//! ```no_run
//! # fn main() -> Result<(), pdf_pages::PdfError> {
//! # let bytes = Vec::new();
//! let pdf = pdf_pages::Pdf::open(bytes)?;
//! for index in pdf_pages::PageRange::parse("1-3,7")?.pages(pdf.page_count())? {
//!     let picture = pdf.render(index, 2048)?; // the longer side is 2048 px
//!     # let _ = picture;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Memory: a document holds its bytes and each page's size, nothing else. [`Pdf::render`]
//! parses the document again for each page and drops everything it made (decoded content
//! streams, fonts, images) before it returns, so a 300-page file costs one page at a time.

mod range;

use std::sync::Arc;

use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::{DecryptionError, LoadPdfError};
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{Pixmap, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{RenderCache, RenderSettings};
use image::RgbImage;

pub use range::PageRange;

/// The most pixels one rendered page may have: 64 Mpx is an A4 page at about 830 dpi.
/// Its RGBA canvas and the RGB copy take about 7 bytes a pixel (measured: 456 MB peak at
/// 6788×9600), so this keeps one page under half a GiB: wasm32 has 4 GiB, shared with
/// the model.
pub const MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// The longest side hayro's canvas can have (`vello_cpu` counts pixels in `u16`).
pub const MAX_EDGE: u32 = u16::MAX as u32;

/// What can go wrong, in words a person who dropped the file can act on. Pages are
/// counted from 1 here, as people count them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    #[error("this PDF is password-protected: open it with its password and save or print it without one, then try again")]
    Encrypted,
    #[error("this PDF is encrypted in a way that cannot be read here ({0})")]
    UnsupportedEncryption(&'static str),
    #[error("this file is not a PDF (it does not start with %PDF-)")]
    NotPdf,
    #[error("this PDF is cut short (it does not end with %%EOF): the download or copy may have stopped early; get the file again")]
    Truncated,
    #[error("this PDF is damaged: its list of pages cannot be read")]
    Damaged,
    #[error("this PDF has no pages")]
    NoPages,
    #[error("page {page} cannot be read: its size is not a number")]
    BadPageSize { page: usize },
    #[error("there is no page {page}: this PDF has {count} page{}", if *count == 1 { "" } else { "s" })]
    PageOutOfRange { page: usize, count: usize },
    #[error("page {page} would be {width}×{height} px, more than the limit of {} Mpx or {MAX_EDGE} px a side", MAX_PIXELS / (1024 * 1024))]
    PageTooLarge {
        page: usize,
        width: u64,
        height: u64,
    },
    #[error("a page cannot be rendered 0 px wide")]
    ZeroSize,
    #[error("page range \"{range}\": {reason}")]
    BadPageRange { range: String, reason: String },
}

/// An open PDF: its bytes and the size of each page. Cheap to keep; see [`Pdf::render`].
pub struct Pdf {
    bytes: Arc<Vec<u8>>,
    /// Each page's size in points as it is shown: crop box, turned by `/Rotate`.
    sizes: Vec<(f32, f32)>,
}

impl Pdf {
    /// Reads the document's structure (cross-reference table, encryption, page tree).
    /// Takes the bytes by value so the caller's `Vec` is kept, not copied; a `&[u8]` is
    /// copied once. A PDF whose only password is the owner's (printing or copying
    /// restrictions) opens as every reader opens it; one that needs a password to open
    /// is [`PdfError::Encrypted`].
    pub fn open(bytes: impl Into<Vec<u8>>) -> Result<Self, PdfError> {
        let bytes = Arc::new(bytes.into());
        check_ends(&bytes)?;
        let doc = parse(&bytes)?;
        let sizes: Vec<_> = doc
            .pages()
            .iter()
            .map(|page| page.render_dimensions())
            .collect();
        if sizes.is_empty() {
            return Err(PdfError::NoPages);
        }
        Ok(Self { bytes, sizes })
    }

    /// How many pages the document has (at least 1).
    pub fn page_count(&self) -> usize {
        self.sizes.len()
    }

    /// The size of page `index` (0-based) in points (1/72 inch), width × height as it is
    /// shown: its crop box, turned when the page says `/Rotate 90` or `270`.
    pub fn page_size(&self, index: usize) -> Result<(f32, f32), PdfError> {
        self.sizes
            .get(index)
            .copied()
            .ok_or(PdfError::PageOutOfRange {
                page: index.saturating_add(1),
                count: self.page_count(),
            })
    }

    /// The pixel size [`Pdf::render`] gives page `index`: the longer side
    /// `longest_edge_px`, the other in proportion, rounded to the nearest pixel.
    pub fn pixel_size(&self, index: usize, longest_edge_px: u32) -> Result<(u32, u32), PdfError> {
        let (width, height) = self.page_size(index)?;
        let page = index + 1;
        if longest_edge_px == 0 {
            return Err(PdfError::ZeroSize);
        }
        if !(width.is_finite() && height.is_finite() && width > 0.0 && height > 0.0) {
            return Err(PdfError::BadPageSize { page });
        }
        let scale = f64::from(longest_edge_px) / f64::from(width.max(height));
        let side = |points: f32| ((f64::from(points) * scale).round() as u32).max(1);
        let (w, h) = (side(width), side(height));
        if w > MAX_EDGE || h > MAX_EDGE || u64::from(w) * u64::from(h) > MAX_PIXELS {
            return Err(PdfError::PageTooLarge {
                page,
                width: w.into(),
                height: h.into(),
            });
        }
        Ok((w, h))
    }

    /// Renders page `index` (0-based) on white so that its longer side is
    /// `longest_edge_px`. Ask for the size the model's processor wants (e.g. 2048 px
    /// longest edge) so that the picture is not resampled a second time.
    ///
    /// The document is parsed again for each call and everything the page needed is
    /// dropped on return: nothing accumulates over a long document.
    pub fn render(&self, index: usize, longest_edge_px: u32) -> Result<RgbImage, PdfError> {
        let (width, height) = self.pixel_size(index, longest_edge_px)?;
        let doc = parse(&self.bytes)?;
        // The same bytes parse to the same pages; `get` only guards against a surprise.
        let page = doc.pages().get(index).ok_or(PdfError::Damaged)?;
        let (page_w, page_h) = self.sizes[index];
        let transform = Affine::scale_non_uniform(
            f64::from(width) / f64::from(page_w),
            f64::from(height) / f64::from(page_h),
        ) * page.initial_transform(true).to_kurbo();

        // `pixel_size` checked both sides against `MAX_EDGE` (u16::MAX).
        let mut ctx = RenderContext::new(width as u16, height as u16);
        let cache = RenderCache::new();
        hayro::render_into(
            page,
            &cache,
            &InterpreterSettings::default(),
            &RenderSettings::default(),
            &mut ctx,
            transform,
        );
        ctx.flush();
        let mut pixmap = Pixmap::new(ctx.width(), ctx.height());
        ctx.render_with(
            &mut pixmap,
            &mut Resources::default(),
            RasterizerSettings {
                target_init: TargetInit::Clear(WHITE),
                ..Default::default()
            },
        );
        drop(ctx);

        // Premultiplied RGBA over white: c + (255 - a). The canvas starts opaque white, so
        // a is 255 everywhere and this is the colour itself; the formula is exact anyway.
        let rgb = pixmap
            .data()
            .iter()
            .flat_map(|p| [p.r, p.g, p.b].map(|c| c.saturating_add(255 - p.a)))
            .collect();
        RgbImage::from_raw(width, height, rgb).ok_or(PdfError::Damaged)
    }
}

/// Where a PDF's first and last markers must lie: "Acrobat viewers require only that the
/// header appear somewhere within the first 1024 bytes of the file" and "that the %%EOF
/// marker appear somewhere within the last 1024 bytes" (PDF 1.7 reference, Appendix H).
const MARKER_WINDOW: usize = 1024;

/// Rejects what is not a PDF, and a PDF that stops short. hayro would rebuild a truncated
/// file from the objects it can find and draw it without the fonts and pictures that were
/// in the lost half: garbled letters the model would read as if they were real. A cut file
/// has lost its `%%EOF` (poppler refuses such a file too: it finds no trailer).
fn check_ends(bytes: &[u8]) -> Result<(), PdfError> {
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    if !contains(&bytes[..bytes.len().min(MARKER_WINDOW)], b"%PDF-") {
        return Err(PdfError::NotPdf);
    }
    if !contains(
        &bytes[bytes.len().saturating_sub(MARKER_WINDOW)..],
        b"%%EOF",
    ) {
        return Err(PdfError::Truncated);
    }
    Ok(())
}

/// hayro's document from our bytes (shared, not copied), with its errors in our words.
fn parse(bytes: &Arc<Vec<u8>>) -> Result<hayro::hayro_syntax::Pdf, PdfError> {
    hayro::hayro_syntax::Pdf::new(Arc::clone(bytes)).map_err(|err| match err {
        LoadPdfError::Decryption(DecryptionError::PasswordProtected) => PdfError::Encrypted,
        LoadPdfError::Decryption(DecryptionError::UnsupportedAlgorithm) => {
            PdfError::UnsupportedEncryption("an unknown method")
        }
        LoadPdfError::Decryption(DecryptionError::MissingIDEntry) => {
            PdfError::UnsupportedEncryption("the file ID its key needs is missing")
        }
        LoadPdfError::Decryption(DecryptionError::InvalidEncryption) => {
            PdfError::UnsupportedEncryption("its encryption settings are damaged")
        }
        LoadPdfError::Invalid => PdfError::Damaged,
    })
}
