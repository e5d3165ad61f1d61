//! `smolvlm generate --json` end to end on the fixtures (crates/smolvlm/tests/fixtures):
//! the contract's prompt_ids, generated_ids and text must be transformers' for every case
//! with a CLI line, and bad input must fail with a message, not a panic.

use serde_json::Value;
use std::path::{Path, PathBuf};

mod common;
use common::{last_json_line, smolvlm, stderr};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../smolvlm/tests/fixtures")
}

#[test]
fn json_output_matches_transformers_for_every_fixture_case() {
    let dir = fixtures().join("expected");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures/expected")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "special_tokens.json")
        .collect();
    names.sort();
    let mut ran = 0;
    for name in names {
        let case: Value = serde_json::from_slice(&std::fs::read(dir.join(&name)).unwrap()).unwrap();
        let generation = &case["generation"];
        // The dtype cases record logits only, from weight files other than the checkpoint's.
        if generation.is_null() || case["weights_note"].is_string() {
            continue;
        }
        let model = fixtures().join(case["model"].as_str().unwrap());
        let cli = &case["cli"];
        let tiles = match &cli["tiles"] {
            Value::String(s) => s.clone(),
            n => n.to_string(),
        };
        let max_new = cli["max_new_tokens"].to_string();
        let min_new = cli["min_new_tokens"].to_string();
        let mut args = vec![
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--prompt",
            case["prompt"].as_str().unwrap(),
            "--max-new-tokens",
            &max_new,
            "--min-new-tokens",
            &min_new,
            "--tiles",
            &tiles,
            "--json",
        ];
        let image;
        if let Some(img) = case["image"].as_str() {
            image = fixtures().join(img);
            args.extend(["--image", image.to_str().unwrap()]);
        }
        let out = smolvlm(&args);
        assert!(out.status.success(), "{name}: failed: {}", stderr(&out));
        let got = last_json_line(&out);
        assert_eq!(got["prompt_ids"], case["prompt_ids"], "{name}: prompt_ids");
        assert_eq!(
            got["generated_ids"], generation["generated_ids"],
            "{name}: generated_ids"
        );
        assert_eq!(got["text"], generation["text"], "{name}: text");
        for key in ["load_ms", "preprocess_ms", "vision_ms", "prefill_ms"] {
            assert!(
                got["timings"][key].as_f64().is_some_and(|v| v >= 0.0),
                "{name}: {key}"
            );
        }
        assert!(got["timings"]["decode_tokens_per_s"]
            .as_f64()
            .is_some_and(|v| v > 0.0));
        ran += 1;
    }
    assert!(ran >= 8, "only {ran} cases ran");
}

#[test]
fn streams_text_without_json() {
    let model = fixtures().join("tiny-nosplit");
    let out = smolvlm(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "Hello",
        "--max-new-tokens",
        "8",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        serde_json::from_str::<Value>(stdout.trim()).is_err(),
        "printed JSON: {stdout}"
    );
}

#[test]
fn missing_model_folder_is_a_clear_error() {
    let out = smolvlm(&[
        "generate",
        "--model",
        "/nonexistent/model",
        "--prompt",
        "hi",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("/nonexistent/model") && err.contains("no such file"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn folder_without_config_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("smolvlm-cli-noconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = smolvlm(&[
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--prompt",
        "hi",
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("config.json"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn corrupt_image_is_a_clear_error() {
    let model = fixtures().join("tiny-split");
    let image = fixtures().join("images/corrupt_truncated.png");
    let out = smolvlm(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--image",
        image.to_str().unwrap(),
        "--prompt",
        "hi",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("corrupt_truncated.png"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn prompt_over_the_context_is_a_clear_error() {
    // tiny-nosplit has a context of 512 tokens.
    let model = fixtures().join("tiny-nosplit");
    let prompt = "the quick brown fox ".repeat(200);
    let out = smolvlm(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        &prompt,
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("exceeds the model's context of 512 tokens"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn gguf_without_mmproj_is_a_clear_error() {
    let model = fixtures().join("gguf/tiny-split-F32.gguf");
    let out = smolvlm(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "hi",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--mmproj"), "{}", stderr(&out));
}

#[test]
fn sampling_with_a_seed_is_reproducible() {
    let model = fixtures().join("tiny-split");
    let run = |seed: &str| {
        let out = smolvlm(&[
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--prompt",
            "Tell me a story.",
            "--max-new-tokens",
            "16",
            "--min-new-tokens",
            "16",
            "--temperature",
            "1.5",
            "--top-k",
            "50",
            "--top-p",
            "0.95",
            "--seed",
            seed,
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        last_json_line(&out)["generated_ids"].clone()
    };
    let a = run("7");
    assert_eq!(a.as_array().unwrap().len(), 16);
    assert_eq!(a, run("7"));
}

#[test]
fn bad_sampling_flags_are_clear_errors() {
    let model = fixtures().join("tiny-split");
    let out = smolvlm(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "hi",
        "--top-p",
        "0.5",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--temperature"), "{}", stderr(&out));
    let out = smolvlm(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "hi",
        "--tiles",
        "many",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("tiles"), "{}", stderr(&out));
}

/// The hostile inputs of issue 14 that reach the CLI: each fails at once with a message
/// that names what is wrong, before any model work, and never panics.
#[test]
fn hostile_arguments_fail_before_any_work() {
    let model = fixtures().join("tiny-split");
    let image = fixtures().join("images/rgb_37x53.png");
    let (model, image) = (model.to_str().unwrap(), image.to_str().unwrap());
    let fails = |args: &[&str], says: &str| {
        let out = smolvlm(args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty(), "{args:?} printed {:?}", out.stdout);
    };
    let base = ["generate", "--model", model, "--prompt", "Read.", "--json"];
    let with = |more: &[&'static str]| -> Vec<&str> {
        let mut a = base.to_vec();
        a.extend_from_slice(more);
        a
    };
    // `prompt + max_new_tokens` used to wrap: now a range, then the context check.
    fails(
        &with(&["--max-new-tokens", "18446744073709551615"]),
        "--max-new-tokens",
    );
    fails(&with(&["--max-new-tokens", "0"]), "--max-new-tokens");
    let mut a = with(&["--max-new-tokens", "100000", "--image"]);
    a.push(image);
    fails(&a, "exceeds the model's context");
    // A device that never ends is not read.
    fails(&with(&["--image", "/dev/zero"]), "not a regular file");
    // The same file as both halves of a GGUF pair.
    let gguf = fixtures().join("gguf/tiny-split-Q8_0.gguf");
    let gguf = gguf.to_str().unwrap();
    fails(
        &[
            "generate", "--model", gguf, "--mmproj", gguf, "--prompt", "hi",
        ],
        "the same file",
    );
}
