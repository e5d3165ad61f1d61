//! No input makes the crate panic: in the browser a panic aborts the worker, so damaged
//! files must be errors. hayro is not fuzzed here, only poked: files cut short, cut in the
//! middle, and with bytes changed, each opened and every page rendered small. A panic
//! fails the test by itself (there is no `catch_unwind` to hide one).

mod common;

use common::fixture;
use pdf_pages::Pdf;

const FIXTURES: &[&str] = &[
    "text_table.pdf",
    "scanned.pdf",
    "three_pages.pdf",
    "rotated.pdf",
    "owner_password.pdf",
    "encrypted.pdf",
    "no_pages.pdf",
];

fn open_and_render(bytes: Vec<u8>) {
    if let Ok(pdf) = Pdf::open(bytes) {
        for index in 0..pdf.page_count() {
            let _ = pdf.render(index, 40);
        }
    }
}

/// xorshift64: the same cases on every run, no dependency.
struct Cases(u64);

impl Cases {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }
}

#[test]
fn files_cut_short_never_panic() {
    for name in FIXTURES {
        let good = fixture(name);
        for len in (0..good.len()).step_by(61) {
            open_and_render(good[..len].to_vec());
        }
    }
}

#[test]
fn files_missing_a_middle_part_never_panic() {
    // The end (xref table, trailer, %%EOF) stays, so these get past the first checks and
    // hayro reads objects at offsets that now point elsewhere.
    let mut cases = Cases(0x5EED_0001);
    for name in FIXTURES {
        let good = fixture(name);
        for _ in 0..60 {
            let start = cases.next() % good.len();
            let end = (start + 1 + cases.next() % 400).min(good.len());
            let mut bytes = good[..start].to_vec();
            bytes.extend_from_slice(&good[end..]);
            open_and_render(bytes);
        }
    }
}

#[test]
fn files_with_changed_bytes_never_panic() {
    let mut cases = Cases(0x5EED_0002);
    for name in FIXTURES {
        let good = fixture(name);
        for _ in 0..150 {
            let mut bytes = good.clone();
            for _ in 0..1 + cases.next() % 4 {
                let at = cases.next() % bytes.len();
                // Bytes that PDF syntax gives meaning to, so changes reach past the lexer.
                let syntax = b"0123456789-.[]<>/() R";
                bytes[at] = match cases.next() % 3 {
                    0 => cases.next() as u8,
                    1 => syntax[cases.next() % syntax.len()],
                    _ => bytes[at] ^ (1 << (cases.next() % 8)),
                };
            }
            open_and_render(bytes);
        }
    }
}
