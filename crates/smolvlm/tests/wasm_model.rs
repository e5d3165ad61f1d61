//! The model compiled to wasm32 (run in Node with wasm-bindgen-test-runner) gives
//! transformers' outputs, like the native build: one image case per checkpoint, logits
//! within 1e-4 and greedy ids equal. The fixtures are compiled in (no file system in
//! wasm32). Natively this is one more run of the same checks.
//!
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!   cargo test --release --target wasm32-unknown-unknown -p smolvlm --test wasm_model

use candle_core::{Device, Tensor};
use serde_json::Value;
use smolvlm::{generate, GenerationParams, SmolVlm};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $path
        ))
    };
}

struct Case {
    config: &'static [u8],
    weights: &'static [u8],
    json: &'static [u8],
    frames: &'static [&'static [u8]],
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn check(case: &Case) {
    let expected: Value = serde_json::from_slice(case.json).unwrap();
    let model = SmolVlm::from_safetensors(
        case.config,
        vec![("model.safetensors".into(), case.weights.to_vec())],
        &Device::Cpu,
    )
    .unwrap();
    let size = model.config().vision.image_size;
    let mut pixels = Vec::new();
    for png in case.frames {
        let img = image::load_from_memory(png).unwrap().to_rgb8();
        for c in 0..3 {
            pixels.extend(img.pixels().map(|p| (p.0[c] as f32 / 255.0 - 0.5) / 0.5));
        }
    }
    let pixels =
        Tensor::from_vec(pixels, (case.frames.len(), 3, size, size), &Device::Cpu).unwrap();
    let features = model.encode_images(&pixels, None).unwrap();
    let prompt = ids(&expected["prompt_ids"]);

    let embeds = model.embed(&prompt, Some(&features)).unwrap();
    let mut cache = model.new_cache();
    let logits: Vec<f32> = model
        .forward(&embeds, &mut cache)
        .unwrap()
        .to_vec1()
        .unwrap();
    let want = expected["logits_last"]["values"].as_array().unwrap();
    let diff = logits
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b.as_f64().unwrap() as f32).abs())
        .fold(0f32, f32::max);
    assert!(
        diff <= 1e-4,
        "{}: logits differ by {diff:e}",
        expected["case"]
    );

    let generation = &expected["generation"];
    let mut params = GenerationParams::greedy(
        generation["max_new_tokens"].as_u64().unwrap() as usize,
        vec![expected["generation_config"]["eos_token_id"]
            .as_u64()
            .unwrap() as u32],
    );
    params.min_new_tokens = generation["min_new_tokens"].as_u64().unwrap() as usize;
    let out = generate(&model, &prompt, Some(&features), params, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(
        out.tokens,
        ids(&generation["generated_ids"]),
        "{}",
        expected["case"]
    );
}

#[test]
fn nosplit_gray_matches_transformers() {
    check(&Case {
        config: fixture!("tiny-nosplit/config.json"),
        weights: fixture!("tiny-nosplit/model.safetensors"),
        json: fixture!("expected/nosplit_gray.json"),
        frames: &[fixture!("expected/nosplit_gray/frame_00.png")],
    });
}

#[test]
fn split_rgb37x53_tiles4_matches_transformers() {
    check(&Case {
        config: fixture!("tiny-split/config.json"),
        weights: fixture!("tiny-split/model.safetensors"),
        json: fixture!("expected/split_rgb37x53_tiles4.json"),
        frames: &[
            fixture!("expected/split_rgb37x53_tiles4/frame_00.png"),
            fixture!("expected/split_rgb37x53_tiles4/frame_01.png"),
            fixture!("expected/split_rgb37x53_tiles4/frame_02.png"),
            fixture!("expected/split_rgb37x53_tiles4/frame_03.png"),
            fixture!("expected/split_rgb37x53_tiles4/frame_04.png"),
        ],
    });
}
