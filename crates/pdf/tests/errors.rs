//! Each file a user could drop that cannot become pictures, and the words they see.

mod common;

use common::fixture;
use pdf_pages::{Pdf, PdfError};

fn open_error(bytes: Vec<u8>) -> PdfError {
    match Pdf::open(bytes) {
        Ok(pdf) => panic!("opened, with {} pages", pdf.page_count()),
        Err(err) => err,
    }
}

#[test]
fn a_password_protected_pdf_says_so() {
    let err = open_error(fixture("encrypted.pdf"));
    assert_eq!(err, PdfError::Encrypted);
    assert_eq!(
        err.to_string(),
        "this PDF is password-protected: open it with its password and save or print it \
         without one, then try again"
    );
}

#[test]
fn a_pdf_with_only_an_owner_password_opens_like_any_other() {
    // Restrictions on printing or copying need no password to read, in any viewer.
    let pdf = Pdf::open(fixture("owner_password.pdf")).unwrap();
    assert_eq!(pdf.page_count(), 1);
    assert!(pdf.render(0, 64).is_ok());
}

#[test]
fn a_pdf_cut_in_half_is_truncated() {
    let err = open_error(fixture("truncated.pdf"));
    assert_eq!(err, PdfError::Truncated);
    assert_eq!(
        err.to_string(),
        "this PDF is cut short (it does not end with %%EOF): the download or copy may have \
         stopped early; get the file again"
    );
}

#[test]
fn a_picture_or_an_empty_file_is_not_a_pdf() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    assert_eq!(open_error(png), PdfError::NotPdf);
    assert_eq!(open_error(Vec::new()), PdfError::NotPdf);
    assert_eq!(
        PdfError::NotPdf.to_string(),
        "this file is not a PDF (it does not start with %PDF-)"
    );
}

#[test]
fn a_pdf_whose_page_tree_is_garbage_is_damaged() {
    // Header and end marker intact, nothing readable between them.
    let bytes = b"%PDF-1.7\n1 0 obj\n<< /Type /Cat"
        .iter()
        .chain(b"\n%%EOF\n")
        .copied();
    let err = open_error(bytes.collect());
    assert_eq!(err, PdfError::Damaged);
    assert_eq!(
        err.to_string(),
        "this PDF is damaged: its list of pages cannot be read"
    );
}

#[test]
fn a_pdf_without_pages_says_so() {
    let err = open_error(fixture("no_pages.pdf"));
    assert_eq!(err, PdfError::NoPages);
    assert_eq!(err.to_string(), "this PDF has no pages");
}

#[test]
fn a_page_past_the_last_is_named_as_people_count() {
    let pdf = Pdf::open(fixture("three_pages.pdf")).unwrap();
    let err = pdf.render(3, 64).unwrap_err();
    assert_eq!(err, PdfError::PageOutOfRange { page: 4, count: 3 });
    assert_eq!(err.to_string(), "there is no page 4: this PDF has 3 pages");
    assert_eq!(pdf.page_size(3).unwrap_err(), err);

    let one = Pdf::open(fixture("rotated.pdf")).unwrap();
    let err = one.render(usize::MAX, 64).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("there is no page {}: this PDF has 1 page", usize::MAX)
    );
}

#[test]
fn a_page_too_large_to_render_is_refused_before_any_memory_is_taken() {
    let pdf = Pdf::open(fixture("text_table.pdf")).unwrap();
    // A4 at 10,000 px is 7071 × 10000 = 70.7 Mpx, past the 64 Mpx limit.
    let err = pdf.render(0, 10_000).unwrap_err();
    assert_eq!(
        err,
        PdfError::PageTooLarge {
            page: 1,
            width: 7071,
            height: 10_000
        }
    );
    assert_eq!(
        err.to_string(),
        "page 1 would be 7071×10000 px, more than the limit of 64 Mpx or 65535 px a side"
    );
    // The canvas counts pixels in u16, whatever the area.
    let tall = Pdf::open(fixture("rotated.pdf")).unwrap();
    assert_eq!(
        tall.render(0, 70_000).unwrap_err(),
        PdfError::PageTooLarge {
            page: 1,
            width: 70_000,
            height: 35_000
        }
    );
    // Just under the limit is only arithmetic: pixel_size allocates nothing.
    assert_eq!(pdf.pixel_size(0, 9_600), Ok((6788, 9600)));
}

#[test]
fn a_zero_pixel_page_is_refused() {
    let pdf = Pdf::open(fixture("rotated.pdf")).unwrap();
    assert_eq!(pdf.render(0, 0).unwrap_err(), PdfError::ZeroSize);
}
