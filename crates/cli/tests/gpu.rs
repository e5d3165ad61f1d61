//! `smolvlm generate --backend wgpu|auto` on the fixtures (crates/smolvlm/tests/fixtures):
//! the GPU path gives the CPU's `--json` ids, `auto` never runs on a software adapter, and a
//! device lost mid-turn hands the turn to the CPU. Where no adapter exists at all the
//! `wgpu` runs fail, and so do these tests, with smolvlm's message (CI has lavapipe).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../smolvlm/tests/fixtures")
}

fn fixture(rel: &str) -> String {
    fixtures().join(rel).to_str().unwrap().to_string()
}

fn smolvlm(args: &[String], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smolvlm"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("running smolvlm")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `generate --json` with `args` and `--backend backend`; the JSON line and stderr.
fn generate(args: &[String], backend: &str, env: &[(&str, &str)]) -> (Value, String) {
    let mut all = vec!["generate".to_string()];
    all.extend_from_slice(args);
    all.extend(["--backend".into(), backend.into(), "--json".into()]);
    let out = smolvlm(&all, env);
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "smolvlm {} failed:\n{err}",
        all.join(" ")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("last stdout line is not JSON ({e}): {line:?}\n{err}"));
    (json, err)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The runs compared: both tiny checkpoints with an image (tiles and not), text only, and
/// the Q8_0 GGUF pair (blocks uploaded as stored).
fn runs() -> Vec<(&'static str, Vec<String>)> {
    let image = fixture("images/rgb_37x53.png");
    let prompt = "Describe this image.";
    let long = ["--max-new-tokens", "24", "--min-new-tokens", "24"];
    let with = |model: Vec<String>, image: Option<&str>| {
        let mut a = model;
        a.extend(strings(&["--prompt", prompt]));
        a.extend(strings(&long));
        if let Some(i) = image {
            a.extend(["--image".to_string(), i.to_string()]);
        }
        a
    };
    let model = |m: &str| vec!["--model".to_string(), fixture(m)];
    vec![
        ("tiny-split, image", with(model("tiny-split"), Some(&image))),
        (
            "tiny-nosplit, image",
            with(model("tiny-nosplit"), Some(&image)),
        ),
        ("tiny-split, text only", with(model("tiny-split"), None)),
        (
            "tiny-split Q8_0 GGUF pair, image",
            with(
                vec![
                    "--model".into(),
                    fixture("gguf/tiny-split-Q8_0.gguf"),
                    "--mmproj".into(),
                    fixture("gguf/mmproj-tiny-split-Q8_0.gguf"),
                ],
                Some(&image),
            ),
        ),
    ]
}

#[test]
fn wgpu_gives_the_cpu_generated_ids() {
    for (name, args) in runs() {
        let (cpu, _) = generate(&args, "cpu", &[]);
        let (gpu, err) = generate(&args, "wgpu", &[]);
        assert_eq!(gpu["backend"], "wgpu", "{name}: {err}");
        assert!(err.contains("running on the GPU"), "{name}: {err}");
        assert_eq!(gpu["prompt_ids"], cpu["prompt_ids"], "{name}: prompt_ids");
        assert_eq!(
            gpu["generated_ids"], cpu["generated_ids"],
            "{name}: generated_ids"
        );
        assert_eq!(gpu["text"], cpu["text"], "{name}: text");
        assert_eq!(cpu["generated_ids"].as_array().unwrap().len(), 24, "{name}");
        for key in ["load_ms", "preprocess_ms", "vision_ms", "prefill_ms"] {
            assert!(
                gpu["timings"][key].as_f64().is_some_and(|v| v >= 0.0),
                "{name}: {key}"
            );
        }
        assert!(
            gpu["timings"]["decode_tokens_per_s"]
                .as_f64()
                .is_some_and(|v| v > 0.0),
            "{name}"
        );
    }
}

#[test]
fn wgpu_samples_as_the_cpu_does() {
    let (_, mut args) = runs().remove(0);
    args.extend(strings(&[
        "--temperature",
        "0.8",
        "--top-k",
        "40",
        "--seed",
        "5",
        "--repetition-penalty",
        "1.2",
    ]));
    let (cpu, _) = generate(&args, "cpu", &[]);
    let (gpu, err) = generate(&args, "wgpu", &[]);
    assert_eq!(gpu["backend"], "wgpu", "{err}");
    assert_eq!(gpu["generated_ids"], cpu["generated_ids"]);
}

/// `auto` takes a hardware adapter or the CPU, never a software adapter (lavapipe here,
/// which `--backend wgpu` does use): the answer is the CPU's either way.
#[test]
fn auto_never_runs_on_a_software_adapter() {
    let (_, args) = runs().remove(0);
    let (cpu, _) = generate(&args, "cpu", &[]);
    let (auto, err) = generate(&args, "auto", &[]);
    assert_eq!(auto["generated_ids"], cpu["generated_ids"]);
    match auto["backend"].as_str() {
        Some("cpu") => assert!(err.contains("auto runs on the CPU"), "{err}"),
        Some("wgpu") => {
            // `Gpu::describe`: "name (DeviceType, Backend, driver ...)".
            assert!(
                !err.contains("(Cpu, "),
                "auto chose a software adapter: {err}"
            )
        }
        other => panic!("backend {other:?}"),
    }
}

/// A device lost after 5 tokens: the CPU carries on from the GPU's tokens, says so, and the
/// turn ends with the ids a CPU-only run gives.
#[test]
fn a_lost_device_hands_the_turn_to_the_cpu() {
    for (name, args) in runs().into_iter().take(2) {
        let (cpu, _) = generate(&args, "cpu", &[]);
        let (gpu, err) = generate(&args, "wgpu", &[("SMOLVLM_TEST_LOSE_GPU_AFTER", "5")]);
        assert!(
            err.contains("The GPU was lost after 5 tokens")
                && err.contains("the CPU finishes this run"),
            "{name}: {err}"
        );
        assert_eq!(gpu["backend"], "cpu", "{name}");
        assert_eq!(
            gpu["generated_ids"], cpu["generated_ids"],
            "{name}: generated_ids"
        );
    }
}

/// `bench --backend wgpu` at the real 256M dimensions, cut short (software Vulkan is slow):
/// the contract's JSON fields, and which adapter ran.
#[test]
fn bench_on_wgpu_reports_the_contract_fields() {
    let out = smolvlm(
        &strings(&[
            "bench",
            "--backend",
            "wgpu",
            "--size",
            "256m",
            "--dtype",
            "q8_0",
            "--prompt-tokens",
            "4",
            "--decode-tokens",
            "2",
            "--no-vision",
            "--json",
        ]),
        &[],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{err}"));
    assert_eq!(json["backend"], "wgpu");
    assert!(json["adapter"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(json["software_adapter"].is_boolean());
    for key in [
        "decode_tokens_per_s",
        "decode_empty_tokens_per_s",
        "prefill_tokens_per_s",
        "peak_rss_mb",
    ] {
        assert!(json[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {json}");
    }
    assert!(json["vision_ms_per_tile"].is_null(), "{json}");
}
