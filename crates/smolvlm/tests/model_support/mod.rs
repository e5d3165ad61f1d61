//! Shared helpers of the model tests: reading the fixtures of `tests/fixtures/` (see its
//! README for the schema) without going through the crate's own preprocessing, so a model
//! test fails only for a model bug.
//!
//! smolvlm-gpu's tests include this file too (`#[path]`, in their `fixtures` module), so
//! it names the fixtures through the `crates` folder rather than the crate compiling it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde_json::Value;
use smolvlm::SmolVlm;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../smolvlm/tests/fixtures")
}

pub fn read(rel: &str) -> Vec<u8> {
    let path = fixtures().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// Every reference case (`expected/<case>.json`), by name.
pub fn cases() -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("expected"))
        .expect("fixtures/expected")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "special_tokens.json")
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "expected the reference cases in tests/fixtures/expected, found {names:?}"
    );
    names
        .into_iter()
        .map(|n| {
            let case: Value = serde_json::from_slice(&read(&format!("expected/{n}"))).unwrap();
            (n.trim_end_matches(".json").to_string(), case)
        })
        .collect()
}

/// The cases of one checkpoint (`tiny-split`, `tiny-nosplit`, `tiny-trained`) with its own
/// f32 weights.
pub fn model_cases(model: &str) -> Vec<(String, Value)> {
    let weights = format!("{model}/model.safetensors");
    let found: Vec<_> = cases()
        .into_iter()
        .filter(|(_, c)| c["model"] == model && c["weights"] == weights.as_str())
        .collect();
    assert!(!found.is_empty(), "no reference cases of {model}");
    found
}

/// The cases of the tiny-split checkpoint with its own f32 weights (what the GGUF pairs
/// were converted from).
pub fn split_cases() -> Vec<(String, Value)> {
    model_cases("tiny-split")
}

pub fn case(name: &str) -> Value {
    serde_json::from_slice(&read(&format!("expected/{name}.json"))).unwrap()
}

pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("an array of ids")
        .iter()
        .map(|x| x.as_u64().expect("an id") as u32)
        .collect()
}

pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("an array of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

/// The model a case ran: its checkpoint's config.json with the case's weights file.
pub fn model_for(case: &Value) -> SmolVlm {
    let model = case["model"].as_str().unwrap();
    let weights = case["weights"].as_str().unwrap();
    SmolVlm::from_safetensors(
        &read(&format!("{model}/config.json")),
        vec![(weights.to_string(), read(weights))],
        &Device::Cpu,
    )
    .unwrap_or_else(|e| panic!("loading {weights}: {e}"))
}

/// The case's image grid (rows, cols) as the prompt builder takes it: none for text only.
pub fn grids(case: &Value) -> Vec<(u32, u32)> {
    match case.get("preprocess").filter(|p| !p.is_null()) {
        Some(p) => vec![(
            p["rows"].as_u64().unwrap() as u32,
            p["cols"].as_u64().unwrap() as u32,
        )],
        None => Vec::new(),
    }
}

/// The case's encoder frames as pixel values (n, 3, H, W): `(frame / 255 - 0.5) / 0.5`,
/// which the fixture script checks equals transformers' pixel_values exactly.
pub fn pixel_values(case: &Value) -> Option<Tensor> {
    let pre = case.get("preprocess").filter(|p| !p.is_null())?;
    let frames = pre["frames"].as_array().unwrap();
    let [h, w] = [0, 1].map(|i| pre["frame_size"][i].as_u64().unwrap() as usize);
    let mut data = Vec::with_capacity(frames.len() * 3 * h * w);
    for f in frames {
        let img = image::load_from_memory(&read(f["png"].as_str().unwrap()))
            .unwrap()
            .to_rgb8();
        assert_eq!((img.height() as usize, img.width() as usize), (h, w));
        for c in 0..3 {
            for p in img.pixels() {
                data.push((p.0[c] as f32 / 255.0 - 0.5) / 0.5);
            }
        }
    }
    Some(Tensor::from_vec(data, (frames.len(), 3, h, w), &Device::Cpu).unwrap())
}

pub fn max_abs_diff(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max)
}

pub fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |m, x| m.max(x.abs()))
}
