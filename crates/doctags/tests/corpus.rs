//! The corpus: DocTags samples (`corpus/NAME.dt`) and docling-core's Markdown for each
//! (`corpus/NAME.md`, written by `make_expected.py` with docling-core 2.104.0; never
//! regenerated here). Our Markdown must equal docling-core's byte for byte.
//!
//! Deliberate differences, none of them reachable from this corpus: where docling-core
//! 2.104.0 raises instead of converting (a `<document_index>`, an OTSL `<fcel>` ending a
//! table, spans running into a shorter row, a table over a million grid positions,
//! `<inline>` holding a list, table or picture), we convert; `<loc_N>` and table numbers
//! are read in ASCII digits only; tabulate's handling of ANSI escapes, `\r` and `\x01`
//! in cells is not reproduced (see `src/pipe_table.rs`).

use std::fs;
use std::path::{Path, PathBuf};

fn corpus() -> Vec<(String, String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut samples: Vec<_> = fs::read_dir(&dir)
        .expect("tests/corpus exists")
        .map(|entry| entry.expect("readable corpus entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "dt"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let doctags = fs::read_to_string(&path).expect("a corpus sample is UTF-8");
            (name, doctags, path.with_extension("md"))
        })
        .collect();
    samples.sort();
    assert!(
        samples.len() >= 19,
        "the corpus lost samples: {}",
        samples.len()
    );
    samples
}

#[test]
fn markdown_equals_docling_core_for_every_sample() {
    let mut failures = Vec::new();
    for (name, doctags, expected_path) in corpus() {
        let expected = fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e} (run make_expected.py)", expected_path.display()));
        let ours = doctags::to_markdown(&doctags::parse(&doctags));
        if ours != expected {
            failures.push(format!(
                "{name}:\n--- docling-core\n{expected}\n--- ours\n{ours}\n"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_prefix_of_every_sample_converts() {
    for (name, doctags, _) in corpus() {
        for (end, _) in doctags.char_indices().chain([(doctags.len(), ' ')]) {
            let doc = doctags::parse(&doctags[..end]);
            let keep = doctags::MarkdownOptions {
                keep_unfinished: true,
            };
            let outputs = [
                doctags::to_markdown(&doc),
                doctags::to_markdown_with(&doc, keep),
                doctags::to_html(&doc),
                doctags::to_text(&doc),
                doctags::to_json(&doc),
            ];
            assert!(
                outputs.iter().all(|o| o.len() < 1 << 20),
                "{name}[..{end}] grew"
            );
        }
    }
}
