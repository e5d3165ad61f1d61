//! A PDF as a visitor drops it on the OCR page: opened, then its first pages rendered small
//! (the size does not change what hayro parses, and small keeps each run fast).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pdf) = pdf_pages::Pdf::open(data) else {
        return;
    };
    for index in 0..pdf.page_count().min(4) {
        let _ = pdf.render(index, 64);
    }
});
