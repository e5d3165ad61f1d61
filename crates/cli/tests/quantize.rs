//! `smolvlm quantize` and `smolvlm generate` on GGUF pairs, end to end: the files it
//! writes are llama.cpp's converter's, byte for byte; a pair (ours or llama.cpp's) answers
//! like transformers with everything taken from the two files; bad input is an error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../smolvlm/tests/fixtures")
}

fn smolvlm<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smolvlm"))
        .args(args)
        .output()
        .expect("running smolvlm")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smolvlm-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn quantize(ty: &str, out_dir: &Path) -> Output {
    let out = smolvlm(&[
        "quantize".as_ref(),
        "--model".as_ref(),
        fixtures().join("tiny-split").as_os_str(),
        "--out-dir".as_ref(),
        out_dir.as_os_str(),
        "--type".as_ref(),
        ty.as_ref(),
    ]);
    assert!(out.status.success(), "quantize {ty}: {}", stderr(&out));
    out
}

/// `generate --json` on the reference case `split_rgb37x53` with this pair.
fn generate(model: &Path, mmproj: &Path) -> Output {
    let case = fixtures().join("images/rgb_37x53.png");
    smolvlm(&[
        "generate".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--mmproj".as_ref(),
        mmproj.as_os_str(),
        "--image".as_ref(),
        case.as_os_str(),
        "--prompt".as_ref(),
        "Describe this image.".as_ref(),
        "--max-new-tokens".as_ref(),
        "24".as_ref(),
        "--min-new-tokens".as_ref(),
        "24".as_ref(),
        "--json".as_ref(),
    ])
}

fn expect_reference(out: &Output) {
    assert!(out.status.success(), "generate: {}", stderr(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let got: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let case: Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("expected/split_rgb37x53.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(got["prompt_ids"], case["prompt_ids"], "prompt ids");
    assert_eq!(
        got["generated_ids"], case["generation"]["generated_ids"],
        "generated ids"
    );
    assert_eq!(got["text"], case["generation"]["text"], "text");
}

#[test]
fn quantize_writes_the_files_llama_cpps_converter_writes() {
    let dir = scratch("quantize");
    for ty in ["F32", "F16", "Q8_0"] {
        let out = quantize(&ty.to_lowercase(), &dir);
        for name in [
            format!("tiny-split-{ty}.gguf"),
            format!("mmproj-tiny-split-{ty}.gguf"),
        ] {
            let ours = std::fs::read(dir.join(&name)).unwrap();
            let theirs = std::fs::read(fixtures().join("gguf").join(&name)).unwrap();
            assert!(ours == theirs, "{name} differs from llama.cpp's");
            assert!(String::from_utf8_lossy(&out.stdout).contains(&name));
        }
    }
    // The k-quant mixture names itself as llama-quantize's Q4_K_M and reports fallbacks.
    let out = quantize("q4_k", &dir);
    assert!(dir.join("tiny-split-Q4_K_M.gguf").is_file());
    assert!(dir.join("mmproj-tiny-split-Q4_K_M.gguf").is_file());
    assert!(
        stderr(&out).contains("blk.0.ffn_gate.weight")
            && stderr(&out).contains("Q4_K does not fit its rows: Q5_0"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn llama_cpps_pair_answers_like_transformers_from_the_two_files_alone() {
    let gguf = fixtures().join("gguf");
    // Nothing but GGUF files lies beside them: tokenizer, template and image settings
    // all come from the metadata.
    assert!(!gguf.join("tokenizer.json").exists());
    expect_reference(&generate(
        &gguf.join("tiny-split-F32.gguf"),
        &gguf.join("mmproj-tiny-split-F32.gguf"),
    ));
}

#[test]
fn our_quantized_pair_answers_like_transformers() {
    let dir = scratch("generate");
    quantize("f32", &dir);
    expect_reference(&generate(
        &dir.join("tiny-split-F32.gguf"),
        &dir.join("mmproj-tiny-split-F32.gguf"),
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tokenizer_json_beside_the_gguf_wins() {
    let dir = scratch("beside");
    for name in ["tiny-split-F32.gguf", "mmproj-tiny-split-F32.gguf"] {
        std::fs::copy(fixtures().join("gguf").join(name), dir.join(name)).unwrap();
    }
    // The same tokenizer with `<image>` renamed: if it is read, the pair must refuse it.
    let mut tok: Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("tiny-split/tokenizer.json")).unwrap(),
    )
    .unwrap();
    let text = serde_json::to_string(&tok)
        .unwrap()
        .replace("<image>", "<picture>");
    tok = serde_json::from_str(&text).unwrap();
    std::fs::write(
        dir.join("tokenizer.json"),
        serde_json::to_vec(&tok).unwrap(),
    )
    .unwrap();
    let out = generate(
        &dir.join("tiny-split-F32.gguf"),
        &dir.join("mmproj-tiny-split-F32.gguf"),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the tokenizer has no token \"<image>\""),
        "{}",
        stderr(&out)
    );
    // With the checkpoint's own tokenizer.json (and its settings files) beside, the answer
    // is the reference again.
    for name in [
        "tokenizer.json",
        "tokenizer_config.json",
        "preprocessor_config.json",
    ] {
        std::fs::copy(fixtures().join("tiny-split").join(name), dir.join(name)).unwrap();
    }
    expect_reference(&generate(
        &dir.join("tiny-split-F32.gguf"),
        &dir.join("mmproj-tiny-split-F32.gguf"),
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn swapped_files_are_refused_with_the_reason() {
    let gguf = fixtures().join("gguf");
    let out = generate(
        &gguf.join("mmproj-tiny-split-Q8_0.gguf"),
        &gguf.join("tiny-split-Q8_0.gguf"),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("is not a SmolVLM2 GGUF pair"), "{err}");
    assert!(
        err.contains("this is the vision half of a pair (an idefics3 mmproj), given where the text model GGUF (architecture llama) belongs"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_gguf_model_needs_its_mmproj() {
    let out = smolvlm(&[
        "generate".as_ref(),
        "--model".as_ref(),
        fixtures().join("gguf/tiny-split-F32.gguf").as_os_str(),
        "--prompt".as_ref(),
        "Hi".as_ref(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("give its vision part with --mmproj"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_type_is_refused() {
    let dir = scratch("badtype");
    let out = smolvlm(&[
        "quantize".as_ref(),
        "--model".as_ref(),
        fixtures().join("tiny-split").as_os_str(),
        "--out-dir".as_ref(),
        dir.as_os_str(),
        "--type".as_ref(),
        "q3_k".as_ref(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("`q3_k`: expected f32, f16, q8_0, q4_0 or q4_k"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quantize_needs_a_checkpoint_folder() {
    let dir = scratch("notafolder");
    let out = smolvlm(&[
        "quantize".as_ref(),
        "--model".as_ref(),
        fixtures().join("gguf/tiny-split-F32.gguf").as_os_str(),
        "--out-dir".as_ref(),
        dir.as_os_str(),
        "--type".as_ref(),
        "f16".as_ref(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a folder (quantize reads a Hub-layout checkpoint)"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
