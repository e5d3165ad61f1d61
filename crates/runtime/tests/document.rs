//! A PDF where a picture would go: what the page is told before a run, the failures in a
//! person's words, and one page as a run's picture (checked against the CLI's own path in
//! crates/cli/tests/convert.rs and against the page in tests/e2e/documents.spec.ts).

use std::path::PathBuf;

use smolvlm::processor::{decode_image, ImageProcessorConfig};
use smolvlm_runtime::{document, FailureKind};

fn pdf(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../pdf/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_pdf_says_its_pages_and_its_first_pages_tiling() {
    let bytes = pdf("three_pages.pdf");
    assert!(document::is_pdf(&bytes));
    let cfg = ImageProcessorConfig::default();
    let (pages, w, h, plan) = document::inspect(&bytes, Some(&cfg)).unwrap();
    assert_eq!(pages, 3);
    assert_eq!(
        w.max(h),
        cfg.longest_edge,
        "rendered at the processor's longest edge"
    );
    let plan = plan.unwrap();
    assert_eq!(plan.frames_full, plan.rows * plan.cols + 1);
    // Without a model, the size alone.
    let (_, _, _, none) = document::inspect(&bytes, None).unwrap();
    assert!(none.is_none());
}

#[test]
fn a_page_is_rendered_at_the_edge_asked_and_shown_as_the_same_pixels() {
    let pdf_doc = document::open(&pdf("three_pages.pdf")).unwrap();
    let page = document::render(&pdf_doc, 2, 512).unwrap();
    assert_eq!(page.width().max(page.height()), 512);
    let png = document::png(&page).unwrap();
    let back = decode_image(&png, &Default::default()).unwrap();
    assert_eq!(back, page);
    // A page it does not have is the visitor's mistake, said with the count.
    let err = document::render(&pdf_doc, 3, 512).unwrap_err();
    assert_eq!(err.kind, FailureKind::BadRequest);
    assert_eq!(err.message, "There is no page 4: this PDF has 3 pages.");
}

#[test]
fn a_bad_pdf_is_a_failure_a_person_can_act_on() {
    let cases = [
        ("truncated.pdf", FailureKind::ImageCorrupt, "cut short"),
        (
            "encrypted.pdf",
            FailureKind::ImageUnsupported,
            "password-protected",
        ),
        ("no_pages.pdf", FailureKind::ImageCorrupt, "no pages"),
    ];
    for (name, kind, words) in cases {
        let err = document::inspect(&pdf(name), None).unwrap_err();
        assert_eq!(err.kind, kind, "{name}: {}", err.message);
        assert!(err.message.contains(words), "{name}: {}", err.message);
        assert!(
            err.message.starts_with("This PDF"),
            "{name}: {}",
            err.message
        );
    }
    assert!(!document::is_pdf(b"\x89PNG\r\n"));
}
