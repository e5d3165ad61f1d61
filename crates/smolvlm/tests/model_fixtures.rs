//! The model against transformers' outputs on the fixtures (tests/fixtures/README.md):
//! last-position logits within 1e-4 absolute, greedy ids equal, and the logits of the
//! last decoding step (KV-cache path) within 1e-4. Pixel values come straight from the
//! recorded encoder frames, so these tests check the model alone.

mod model_support;

use model_support::*;
use smolvlm::{generate, GenerationParams, Session, StopReason};

/// transformers' f32 logits differ from the same model in f64 by at most 6e-6 on these
/// cases (recorded per case); 1e-4 is the bound for an f32 reimplementation.
const LOGITS_TOLERANCE: f32 = 1e-4;

#[test]
fn last_position_logits_match_transformers_in_every_case() {
    let mut report = Vec::new();
    for (name, case) in cases() {
        let model = model_for(&case);
        let prompt = ids(&case["prompt_ids"]);
        let features = pixel_values(&case).map(|px| model.encode_images(&px, None).unwrap());
        let embeds = model.embed(&prompt, features.as_ref()).unwrap();
        let mut cache = model.new_cache();
        let logits: Vec<f32> = model
            .forward(&embeds, &mut cache)
            .unwrap()
            .to_vec1()
            .unwrap();
        let want = floats(&case["logits_last"]["values"]);
        let diff = max_abs_diff(&logits, &want);
        report.push(format!("{name}: {diff:.2e}"));
        assert!(
            diff <= LOGITS_TOLERANCE,
            "{name}: last-position logits differ by {diff:e} (bound {LOGITS_TOLERANCE:e})"
        );
        assert_eq!(
            smolvlm::generation::argmax(&logits) as u64,
            case["logits_last"]["argmax"].as_u64().unwrap(),
            "{name}: argmax"
        );
    }
    println!("max |logits - transformers|: {}", report.join(", "));
}

#[test]
fn greedy_ids_match_transformers_in_every_case() {
    for (name, case) in cases() {
        let generation = &case["generation"];
        if generation.is_null() {
            continue; // the dtype cases record logits only
        }
        let model = model_for(&case);
        let prompt = ids(&case["prompt_ids"]);
        let want = ids(&generation["generated_ids"]);
        let features = pixel_values(&case).map(|px| model.encode_images(&px, None).unwrap());
        let eos = case["generation_config"]["eos_token_id"].as_u64().unwrap() as u32;
        let mut params = GenerationParams::greedy(
            generation["max_new_tokens"].as_u64().unwrap() as usize,
            vec![eos],
        );
        params.min_new_tokens = generation["min_new_tokens"].as_u64().unwrap() as usize;
        let mut streamed = Vec::new();
        let out = generate(&model, &prompt, features.as_ref(), params, |t| {
            streamed.push(t);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        assert!(want.len() >= 20, "{name}: fixture too short");
        assert_eq!(out.tokens, want, "{name}: greedy ids");
        assert_eq!(streamed, want, "{name}: streamed ids");
        let stopped_by_eos = generation["stopped_by_eos"].as_bool().unwrap();
        assert_eq!(out.stop == StopReason::StopToken, stopped_by_eos, "{name}");
    }
}

#[test]
fn decode_step_logits_match_transformers_through_the_kv_cache() {
    for (name, case) in cases() {
        let generation = &case["generation"];
        if generation.is_null() {
            continue;
        }
        let model = model_for(&case);
        let prompt = ids(&case["prompt_ids"]);
        let generated = ids(&generation["generated_ids"]);
        let last = &generation["last_step_logits"];
        // The logits at the position of the second-to-last token chose the last one.
        assert_eq!(
            last["position"].as_u64().unwrap() as usize,
            prompt.len() + generated.len() - 2,
            "{name}: fixture position"
        );
        let features = pixel_values(&case).map(|px| model.encode_images(&px, None).unwrap());
        let mut cache = model.new_cache();
        let embeds = model.embed(&prompt, features.as_ref()).unwrap();
        let mut logits = model.forward(&embeds, &mut cache).unwrap();
        // Feed the generated tokens one at a time, except the last (its logits are the
        // ones that chose it).
        for &t in &generated[..generated.len() - 1] {
            logits = model.forward_token(t, &mut cache).unwrap();
        }
        let logits: Vec<f32> = logits.to_vec1().unwrap();
        let diff = max_abs_diff(&logits, &floats(&last["values"]));
        assert!(
            diff <= LOGITS_TOLERANCE,
            "{name}: last decode step logits differ by {diff:e}"
        );
    }
}

#[test]
fn cancelling_stops_between_tokens_with_what_was_made() {
    let case = case("split_text_only");
    let model = model_for(&case);
    let prompt = ids(&case["prompt_ids"]);
    let want = ids(&case["generation"]["generated_ids"]);
    let mut params = GenerationParams::greedy(24, vec![511]);
    params.min_new_tokens = 24;
    let mut seen = 0;
    let out = generate(&model, &prompt, None, params.clone(), |_| {
        seen += 1;
        if seen == 3 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(out.stop, StopReason::Cancelled);
    assert_eq!(out.tokens, want[..3]);

    // The step-wise session: the caller may also just stop asking.
    let mut session = Session::new(&model, params).unwrap();
    session.prefill(&prompt, None).unwrap();
    let first = session.next_token().unwrap();
    session.cancel();
    assert_eq!(first, Some(want[0]));
    assert_eq!(session.next_token().unwrap(), None);
    assert_eq!(session.stop_reason(), Some(StopReason::Cancelled));
}

#[test]
fn generation_stops_at_the_stop_token_and_keeps_it() {
    // Make the fifth greedy token of a case a stop token: the run must end right there,
    // keeping it. min_new_tokens keeps both stop tokens masked before that step, as the
    // reference had `<end_of_utterance>` masked at every step.
    let case = case("split_text_only");
    let model = model_for(&case);
    let prompt = ids(&case["prompt_ids"]);
    let want = ids(&case["generation"]["generated_ids"]);
    let stop = want[4];
    let first = want.iter().position(|&t| t == stop).unwrap();
    let mut params = GenerationParams::greedy(24, vec![511, stop]);
    params.min_new_tokens = first;
    let out = generate(&model, &prompt, None, params, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(out.stop, StopReason::StopToken);
    assert_eq!(out.tokens, want[..=first]);
}
