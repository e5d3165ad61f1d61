//! What `--image` (generate) and `FILE` (convert) name: a picture, or a PDF of which the
//! chosen pages are read one after the other. A page is rendered only when its turn comes,
//! at the longest edge the model's processor resizes to, so a 300-page file holds one
//! page's pixels at a time and no page is resampled twice.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ocr_protocol::pages::PageRange;
use pdf_pages::Pdf;
use smolvlm::processor::{decode_image, RgbImage};

/// The largest document read (a PDF of a few hundred scanned pages is well under it).
const MAX_DOCUMENT_BYTES: u64 = 1 << 30;

/// A picture's file bytes, or a PDF and the pages chosen from it (0-based, in order).
pub enum Document {
    Pdf { pdf: Pdf, pages: Vec<usize> },
    Picture(Vec<u8>),
}

impl Document {
    /// Reads `path`; `pages` (`1-3,7`, `5-`, `all`) chooses a PDF's pages, and a picture
    /// takes only `all`.
    pub fn open(path: &Path, pages: &str) -> Result<Self> {
        let bytes = crate::load::read_file(path, MAX_DOCUMENT_BYTES)
            .with_context(|| format!("reading {}", path.display()))?;
        let is_pdf = smolvlm_runtime::document::is_pdf(&bytes)
            || path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
        if !is_pdf {
            if pages != "all" {
                bail!("--pages applies to a PDF; {} is a picture", path.display());
            }
            if bytes.len() as u64 > smolvlm_runtime::MAX_PICTURE_FILE_BYTES {
                bail!(
                    "{} is not a PDF, and too large for a picture (over {} bytes)",
                    path.display(),
                    smolvlm_runtime::MAX_PICTURE_FILE_BYTES
                );
            }
            return Ok(Self::Picture(bytes));
        }
        let pdf = Pdf::open(bytes).with_context(|| path.display().to_string())?;
        let pages = PageRange::parse(pages)
            .and_then(|r| r.pages(pdf.page_count()))
            .with_context(|| format!("--pages {pages}"))?;
        Ok(Self::Pdf { pdf, pages })
    }

    /// Runs `f` on each chosen page in turn, with its number counted from 1 as people count
    /// them (a picture is page 1) and its pixels (a PDF page rendered at `longest_edge`),
    /// naming the page on stderr first ("page 3 (1 of 2)").
    pub fn each_page<T>(
        &self,
        longest_edge: u32,
        mut f: impl FnMut(usize, &RgbImage) -> Result<T>,
    ) -> Result<Vec<T>> {
        let numbers: Vec<usize> = match self {
            Self::Pdf { pages, .. } => pages.iter().map(|p| p + 1).collect(),
            Self::Picture(_) => vec![1],
        };
        let mut out = Vec::with_capacity(numbers.len());
        for (i, &number) in numbers.iter().enumerate() {
            eprintln!("smolvlm: page {number} ({} of {})", i + 1, numbers.len());
            let pixels = match self {
                Self::Pdf { pdf, pages } => {
                    smolvlm_runtime::document::render(pdf, pages[i], longest_edge)
                        .map_err(|f| anyhow!(f.message))
                }
                Self::Picture(bytes) => {
                    decode_image(bytes, &Default::default()).map_err(|e| anyhow!("{e}"))
                }
            };
            let pixels = pixels.with_context(|| format!("page {number}"))?;
            out.push(f(number, &pixels).with_context(|| format!("page {number}"))?);
        }
        Ok(out)
    }
}
