//! The whole SmolVLM2 on the GPU path against the CPU path and transformers, on the tiny
//! fixtures (crates/smolvlm/tests/fixtures): greedy ids, last-position and decode-step
//! logits, vision features, bad input, sampling, the min_new_tokens mask and weights split
//! into chunks. The GGUF pairs are in gguf.rs, the hand-over to the CPU in fallback.rs.

mod common;
mod fixtures;

use fixtures::*;
use smolvlm::{Decoding, GenerationParams, StopReason};
use smolvlm_gpu::{Error, Gpu, GpuModel, GpuOptions, GpuSession};

#[test]
fn greedy_ids_match_transformers_and_the_cpu_in_every_case() {
    // tiny-docling (Idefics3, Llama decoder, bf16 weights: its greedy answer is a DocTags
    // page) is among them; tiny-granite is not (fallback.rs: the GPU refuses Granite).
    assert!(cases().iter().any(|(_, c)| c["model"] == "tiny-docling"));
    for (name, case) in cases() {
        let Some(params) = greedy_params(&case) else {
            continue; // the dtype cases record logits only
        };
        let ck = safetensors(&case);
        let model = gpu_model(&ck);
        let want = ids(&case["generation"]["generated_ids"]);
        let features = gpu_features(&model, &case);
        let (got, stop) = gpu_generate(
            &model,
            &ids(&case["prompt_ids"]),
            features.as_ref(),
            params.clone(),
        );
        assert_eq!(got, want, "{name}: GPU greedy ids against transformers");
        assert_eq!(cpu_generate(&ck, &case, params), got, "{name}: CPU and GPU");
        let stopped_by_eos = case["generation"]["stopped_by_eos"].as_bool().unwrap();
        assert_eq!(stop == StopReason::StopToken, stopped_by_eos, "{name}");
    }
}

#[test]
fn last_position_logits_match_transformers_and_the_cpu_in_every_case() {
    let mut report = Vec::new();
    for (name, case) in cases() {
        let ck = safetensors(&case);
        let got = gpu_prompt_logits(&gpu_model(&ck), &case);
        let want = floats(&case["logits_last"]["values"]);
        let diff = max_abs_diff(&got, &want);
        let cpu = max_abs_diff(&got, &cpu_prompt_logits(&ck, &case));
        report.push(format!("{name}: {diff:.1e} (CPU {cpu:.1e})"));
        assert!(
            diff <= LOGITS_TOLERANCE,
            "{name}: GPU logits differ from transformers' by {diff:e}"
        );
        // Both within 1e-4 of transformers; closer to each other than that in practice.
        assert!(
            cpu <= LOGITS_TOLERANCE,
            "{name}: GPU logits differ from the CPU's by {cpu:e}"
        );
    }
    println!(
        "max |GPU logits - transformers| (- CPU): {}",
        report.join(", ")
    );
}

#[test]
fn decode_step_logits_match_transformers_through_the_gpu_kv_cache() {
    for (name, case) in cases() {
        let generation = &case["generation"];
        if generation.is_null() {
            continue;
        }
        let ck = safetensors(&case);
        let model = gpu_model(&ck);
        let prompt = ids(&case["prompt_ids"]);
        let generated = ids(&generation["generated_ids"]);
        let features = gpu_features(&model, &case);
        let mut cache = model.new_cache(prompt.len() + generated.len()).unwrap();
        let logits = model.new_logits().unwrap();
        model
            .forward(&mut cache, &prompt, features.as_ref(), &logits)
            .unwrap();
        // One decode step per generated token but the last (whose logits chose it).
        for &t in &generated[..generated.len() - 1] {
            model.forward(&mut cache, &[t], None, &logits).unwrap();
        }
        let got = &model.gpu().read_blocking(&logits).unwrap()[..model.vocab_size()];
        let diff = max_abs_diff(got, &floats(&generation["last_step_logits"]["values"]));
        assert!(
            diff <= LOGITS_TOLERANCE,
            "{name}: last decode step logits differ by {diff:e}"
        );
    }
}

/// Vision features (connector output) of every image case against the CPU's. Tolerance:
/// relative to the largest feature, 1e-5 ≈ 100 f32 roundoffs: the encoder's sums (over
/// 48..192 patch values, 32..64 hidden values, up to 1024 attention keys) run in another
/// order on the GPU, and each layer's LayerNorm rescales what differences remain.
#[test]
fn vision_features_match_the_cpu() {
    let mut report = Vec::new();
    for (name, case) in cases() {
        let Some(px) = pixel_values(&case) else {
            continue;
        };
        let ck = safetensors(&case);
        let model = gpu_model(&ck);
        let f = model.encode_images(&px, None).unwrap();
        let got = f.read_blocking(model.gpu()).unwrap();
        let want: Vec<f32> = ck
            .cpu()
            .encode_images(&px, None)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let rel = max_abs_diff(&got, &want) / max_abs(&want);
        report.push(format!("{name}: {rel:.1e}"));
        assert!(
            rel <= 1e-5,
            "{name}: features differ by {rel:e} of the largest"
        );
    }
    println!(
        "max |GPU - CPU| / max |CPU| of the image features: {}",
        report.join(", ")
    );
}

/// What the browser worker does to report progress and stop between frames: one frame
/// per `encode_next`, each waited for, gives the features of `encode_images` exactly.
#[test]
fn frames_encoded_one_at_a_time_give_the_features_of_one_call() {
    let case = case("split_rgb37x53");
    let px = pixel_values(&case).expect("the case has a picture");
    let frames = px.dims()[0];
    assert!(frames > 1, "the case must have several frames");
    let ck = safetensors(&case);
    let model = gpu_model(&ck);
    let want = model
        .encode_images(&px, None)
        .unwrap()
        .read_blocking(model.gpu())
        .unwrap();
    let mut encoding = model.begin_images(&px, None).unwrap();
    assert_eq!((encoding.encoded(), encoding.frames()), (0, frames));
    for done in 1..=frames {
        encoding.encode_next().unwrap();
        pollster::block_on(encoding.wait()).unwrap();
        assert_eq!(encoding.encoded(), done);
    }
    let got = encoding
        .finish()
        .unwrap()
        .read_blocking(model.gpu())
        .unwrap();
    assert_eq!(got, want);
    // `finish` submits whatever was not submitted yet.
    let mut partly = model.begin_images(&px, None).unwrap();
    partly.encode_next().unwrap();
    let got = partly.finish().unwrap().read_blocking(model.gpu()).unwrap();
    assert_eq!(got, want);
}

#[test]
fn sampling_and_repetition_penalty_read_the_logits_and_agree_with_the_cpu() {
    let case = case("split_rgb37x53");
    let ck = safetensors(&case);
    let model = gpu_model(&ck);
    let prompt = ids(&case["prompt_ids"]);
    let eos = vec![511];
    let penalty = GenerationParams {
        repetition_penalty: Some(1.3),
        min_new_tokens: 5,
        ..GenerationParams::greedy(16, eos.clone())
    };
    let sampling = GenerationParams {
        decoding: Decoding::Sample {
            temperature: 0.7,
            top_k: Some(20),
            top_p: Some(0.9),
            seed: 11,
        },
        ..GenerationParams::greedy(16, eos)
    };
    for params in [penalty, sampling] {
        let features = gpu_features(&model, &case);
        let (got, _) = gpu_generate(&model, &prompt, features.as_ref(), params.clone());
        let want = cpu_generate(&ck, &case, params.clone());
        assert_eq!(got, want, "{:?}", params.decoding);
    }
}

/// Greedy decoding with `min_new_tokens` masks the stop tokens on the GPU (no logits read
/// back): with the 3rd greedy token of the case as a stop token and 6 tokens required, the
/// GPU must decode past it exactly as the CPU session does, and stop on its next
/// occurrence after that.
#[test]
fn min_new_tokens_masks_stop_tokens_on_the_gpu() {
    let case = case("split_rgb37x53");
    let ck = safetensors(&case);
    let model = gpu_model(&ck);
    let greedy = ids(&case["generation"]["generated_ids"]);
    let stop = greedy[2];
    let params = GenerationParams {
        min_new_tokens: 6,
        ..GenerationParams::greedy(24, vec![stop])
    };
    let features = gpu_features(&model, &case);
    let (got, reason) = gpu_generate(
        &model,
        &ids(&case["prompt_ids"]),
        features.as_ref(),
        params.clone(),
    );
    assert_eq!(got, cpu_generate(&ck, &case, params), "GPU and CPU ids");
    assert_ne!(got[2], stop, "the stop token was not masked");
    assert!(!got[..6].contains(&stop), "{got:?}");
    // Without the mask the stop token ends the turn at the third token.
    let (unmasked, _) = gpu_generate(
        &model,
        &ids(&case["prompt_ids"]),
        features.as_ref(),
        GenerationParams::greedy(24, vec![stop]),
    );
    assert_eq!(unmasked, greedy[..3].to_vec());
    assert_eq!(
        reason == StopReason::StopToken,
        got.last() == Some(&stop),
        "{reason:?} {got:?}"
    );
}

/// Bindings capped at 64 KiB (browsers cap them at 128 MiB, which the 2.2B model's
/// tables exceed): the tiny-nosplit embedding table and output head (128 KiB each) go up
/// in row chunks, and the greedy ids stay transformers'.
#[test]
fn weights_split_into_chunks_give_the_same_ids() {
    let g = Gpu::new_blocking(&GpuOptions {
        binding_limit: Some(64 << 10),
        ..GpuOptions::forced()
    })
    .expect("an adapter (see common::gpu)");
    let mut ran = 0;
    for (name, case) in cases() {
        if case["model"] != "tiny-nosplit" {
            continue;
        }
        let Some(params) = greedy_params(&case) else {
            continue;
        };
        let ck = safetensors(&case);
        let t = &ck.config.text;
        // The f32 tables cannot sit in one binding: they must have gone up in chunks.
        assert!(g.max_binding() < (t.vocab_size * t.hidden_size * 4) as u64);
        let model = GpuModel::new(&g, &ck.config, &ck.weights()).unwrap();
        let features = gpu_features(&model, &case);
        let (got, _) = gpu_generate(&model, &ids(&case["prompt_ids"]), features.as_ref(), params);
        assert_eq!(got, ids(&case["generation"]["generated_ids"]), "{name}");
        ran += 1;
    }
    assert!(ran >= 3, "only {ran} tiny-nosplit cases");
}

#[test]
fn bad_prompts_get_the_cpu_models_errors() {
    let case = case("split_rgb37x53");
    let ck = safetensors(&case);
    let model = gpu_model(&ck);
    let features = gpu_features(&model, &case).unwrap();
    let prompt = ids(&case["prompt_ids"]);
    let logits = model.new_logits().unwrap();

    // One `<image>` token too few for the features.
    let image = ck.config.image_token_id;
    let pos = prompt.iter().position(|&t| t == image).unwrap();
    let mut short = prompt.clone();
    short.remove(pos);
    let mut cache = model.new_cache(prompt.len()).unwrap();
    let err = model
        .forward(&mut cache, &short, Some(&features), &logits)
        .unwrap_err();
    assert!(
        matches!(err, Error::Model(smolvlm::Error::ImageTokenMismatch { .. })),
        "{err}"
    );

    let err = model
        .forward(&mut cache, &[1, 600, 2], None, &logits)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Model(smolvlm::Error::TokenOutOfRange { id: 600, .. })
        ),
        "{err}"
    );
    let err = model.forward(&mut cache, &[], None, &logits).unwrap_err();
    assert!(err.to_string().contains("empty prompt"), "{err}");

    // More tokens than the cache holds.
    let mut small = model.new_cache(2).unwrap();
    let err = model
        .forward(&mut small, &[1, 2, 3], None, &logits)
        .unwrap_err();
    assert!(
        matches!(err, Error::Model(smolvlm::Error::ContextOverflow { .. })),
        "{err}"
    );

    // The context check happens before any work, as on the CPU.
    let mut s = GpuSession::new(&model, GenerationParams::greedy(2000, vec![])).unwrap();
    let err = s.prefill(&prompt, Some(&features)).unwrap_err();
    assert!(
        matches!(err, Error::Model(smolvlm::Error::ContextOverflow { .. })),
        "{err}"
    );
    let err = GpuSession::new(&model, GenerationParams::greedy(4, vec![]))
        .unwrap()
        .next_token_blocking()
        .unwrap_err();
    assert!(err.to_string().contains("prefill"), "{err}");

    // Pixel values of the wrong shape.
    let px = candle_core::Tensor::zeros(
        (1, 2, 32, 32),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let err = model.encode_images(&px, None).unwrap_err();
    assert!(err.to_string().contains("channels"), "{err}");
}
