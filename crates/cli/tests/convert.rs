//! `smolvlm convert` end to end: a PDF's pages go through the model one by one, each as
//! `generate` would answer for the same page picture, and a bad document is a clear error.
//! The model is the tiny random-weight fixture: its "DocTags" are noise, so what is checked
//! is the plumbing (pages, ids, formats), not the conversion (crates/doctags tests that).

use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::ImageEncoder;
use serde_json::Value;

mod common;
use common::{last_json_line, smolvlm, stderr};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model() -> String {
    root()
        .join("smolvlm/tests/fixtures/tiny-split")
        .display()
        .to_string()
}

fn pdf(name: &str) -> PathBuf {
    root().join("pdf/tests/fixtures").join(name)
}

const TOKENS: &str = "6";
const CONVERT: &str = "Convert this page to docling.";

#[test]
fn each_selected_page_is_answered_as_generate_answers_its_picture() {
    let doc = pdf("three_pages.pdf");
    let out = smolvlm(&[
        "convert",
        "--model",
        &model(),
        doc.to_str().unwrap(),
        "--pages",
        "3,1",
        "--max-new-tokens",
        TOKENS,
        "--to",
        "doctags",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Progress names each page.
    assert!(stderr(&out).contains("page 3 (1 of 2)"), "{}", stderr(&out));
    let json = last_json_line(&out);
    let pages = json["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(
        (pages[0]["page"].as_u64(), pages[1]["page"].as_u64()),
        (Some(3), Some(1))
    );
    // In tiles, the pages' different shapes make different prompts: the order is checked.
    assert_ne!(pages[0]["prompt_ids"], pages[1]["prompt_ids"]);
    // The document is the pages' DocTags joined by page breaks.
    let joined = format!(
        "{}<page_break>{}",
        pages[0]["doctags"].as_str().unwrap(),
        pages[1]["doctags"].as_str().unwrap()
    );
    assert_eq!(json["document"].as_str().unwrap(), joined);

    // The same page rendered here (at the fixture processor's longest edge) and given to
    // `generate`: the same prompt and answer ids.
    let config: Value = serde_json::from_slice(
        &std::fs::read(root().join("smolvlm/tests/fixtures/tiny-split/preprocessor_config.json"))
            .unwrap(),
    )
    .unwrap();
    let edge = config["size"]["longest_edge"].as_u64().unwrap() as u32;
    let document = pdf_pages::Pdf::open(std::fs::read(&doc).unwrap()).unwrap();
    for (page, want) in [(2usize, &pages[0]), (0, &pages[1])] {
        let rgb = document.render(page, edge).unwrap();
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(
                rgb.as_raw(),
                rgb.width(),
                rgb.height(),
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        let path = std::env::temp_dir().join(format!("smolvlm-convert-page-{page}.png"));
        std::fs::write(&path, png).unwrap();
        let out = smolvlm(&[
            "generate",
            "--model",
            &model(),
            "--image",
            path.to_str().unwrap(),
            "--prompt",
            CONVERT,
            "--max-new-tokens",
            TOKENS,
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let got = last_json_line(&out);
        assert_eq!(got["prompt_ids"], want["prompt_ids"], "page {}", page + 1);
        assert_eq!(
            got["generated_ids"],
            want["generated_ids"],
            "page {}",
            page + 1
        );
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn markdown_html_and_json_come_out_of_the_same_answers() {
    let doc = pdf("three_pages.pdf");
    for (to, check) in [
        (
            "md",
            (|s: &str| !s.contains("<page_break>")) as fn(&str) -> bool,
        ),
        ("html", |s: &str| s.matches("<section").count() == 1),
        ("json", |s: &str| serde_json::from_str::<Value>(s).is_ok()),
    ] {
        let out = smolvlm(&[
            "convert",
            "--model",
            &model(),
            doc.to_str().unwrap(),
            "--pages",
            "2",
            "--tiles",
            "0",
            "--max-new-tokens",
            TOKENS,
            "--to",
            to,
        ]);
        assert!(out.status.success(), "--to {to}: {}", stderr(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(check(stdout.trim_end()), "--to {to}: {stdout}");
    }
}

#[test]
fn a_bad_document_or_page_range_is_a_clear_error() {
    let cases: [(&str, &[&str], &str); 4] = [
        ("encrypted.pdf", &[], "password"),
        ("truncated.pdf", &[], "cut short"),
        ("three_pages.pdf", &["--pages", "4"], "--pages 4"),
        ("three_pages.pdf", &["--pages", "2-1"], "--pages 2-1"),
    ];
    for (file, extra, want) in cases {
        let (doc, m) = (pdf(file), model());
        let mut args = vec!["convert", "--model", m.as_str(), doc.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = smolvlm(&args);
        assert!(!out.status.success(), "{file} {extra:?}");
        let err = stderr(&out);
        assert!(err.to_lowercase().contains(want), "{file} {extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// tiny-docling (granite-docling-258M's layout, weights that answer one DocTags page for any
/// picture): a PDF page converted to Markdown is docling-core's Markdown of the answer
/// transformers gave, and the DocTags are transformers' decoded answer.
#[test]
fn a_docling_model_converts_a_pdf_page_to_docling_cores_markdown() {
    let model = root().join("smolvlm/tests/fixtures/tiny-docling");
    let case: Value = serde_json::from_slice(
        &std::fs::read(root().join("smolvlm/tests/fixtures/expected/docling_page.json")).unwrap(),
    )
    .unwrap();
    let doc = pdf("text_table.pdf");
    let convert = |to: &str| {
        let out = smolvlm(&[
            "convert",
            "--model",
            model.to_str().unwrap(),
            doc.to_str().unwrap(),
            "--to",
            to,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let markdown = case["doctags"]["markdown"].as_str().unwrap();
    assert!(markdown.contains("| Region"), "{markdown}");
    assert_eq!(convert("md"), format!("{markdown}\n"));
    assert_eq!(
        convert("doctags"),
        format!("{}\n", case["doctags"]["text"].as_str().unwrap())
    );
}

/// `generate --image FILE.pdf` reads the chosen pages as `convert` does: the same page
/// order, progress, prompt ids and answers, one JSON object per page under `pages`.
#[test]
fn generate_reads_a_pdf_page_by_page_as_convert_does() {
    let (m, doc) = (model(), pdf("three_pages.pdf"));
    let doc = doc.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = smolvlm(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("page 3 (1 of 2)") && err.contains("page 1 (2 of 2)"),
            "{args:?}: {err}"
        );
        last_json_line(&out)
    };
    let pages = ["--pages", "3,1", "--max-new-tokens", TOKENS, "--json"];
    let generate = [
        "generate", "--model", &m, "--image", doc, "--prompt", CONVERT,
    ];
    let convert = ["convert", "--model", &m, doc, "--to", "doctags"];
    let (generated, converted) = (
        run(&[&generate[..], &pages].concat()),
        run(&[&convert[..], &pages].concat()),
    );
    let (generated, converted) = (
        generated["pages"].as_array().unwrap(),
        converted["pages"].as_array().unwrap(),
    );
    assert_eq!(generated.len(), 2);
    for (g, c) in generated.iter().zip(converted) {
        assert_eq!(g["page"], c["page"]);
        assert_eq!(g["prompt_ids"], c["prompt_ids"], "page {}", g["page"]);
        assert_eq!(g["generated_ids"], c["generated_ids"], "page {}", g["page"]);
        assert_eq!(g["stop_reason"], "max_new_tokens");
    }
}

#[test]
fn generate_with_pages_needs_a_pdf_and_names_a_bad_one() {
    let m = model();
    let png = root().join("smolvlm/tests/fixtures/images/rgb_37x53.png");
    let (encrypted, three) = (pdf("encrypted.pdf"), pdf("three_pages.pdf"));
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["--image", png.to_str().unwrap(), "--pages", "2"],
            "--pages applies to a pdf",
        ),
        (vec!["--pages", "2"], "--pages goes with --image"),
        (vec!["--image", encrypted.to_str().unwrap()], "password"),
        (
            vec!["--image", three.to_str().unwrap(), "--pages", "4"],
            "--pages 4",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["generate", "--model", m.as_str(), "--prompt", "Read."];
        args.extend_from_slice(&extra);
        let out = smolvlm(&args);
        assert!(!out.status.success(), "{extra:?}");
        let err = stderr(&out);
        assert!(err.to_lowercase().contains(want), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty(), "{extra:?} printed {:?}", out.stdout);
    }
}
