//! The GGUF pairs llama.cpp's converter wrote from the tiny-split fixture (F32, F16, Q8_0),
//! read through smolvlm's GGUF loader, on the GPU path (blocks uploaded as stored) against
//! the CPU path on the same weights and transformers.

mod common;
mod fixtures;

use std::sync::Arc;

use fixtures::*;
use smolvlm::gguf::{GgufFile, GgufPair, GgufSource};

/// The GGUF pair llama.cpp's converter wrote from tiny-split, of type `ty` (F32, F16, Q8_0).
pub fn gguf(ty: &str) -> Checkpoint {
    let (text, mmproj) = (
        format!("gguf/tiny-split-{ty}.gguf"),
        format!("gguf/mmproj-tiny-split-{ty}.gguf"),
    );
    let config = GgufPair::from_bytes(&text, read(&text), &mmproj, read(&mmproj))
        .and_then(|p| p.config())
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    let source = GgufSource::new(
        GgufFile::from_bytes(&text, read(&text)).unwrap(),
        GgufFile::from_bytes(&mmproj, read(&mmproj)).unwrap(),
        config.text.num_attention_heads,
        config.text.num_key_value_heads(),
    );
    Checkpoint {
        label: text,
        config,
        source: Arc::new(source),
    }
}

/// The GGUF pairs llama.cpp's converter wrote (F32, F16, Q8_0 blocks uploaded as stored).
/// The GPU computes in f32 on the stored weights; the CPU model on the same weights
/// dequantized to f32 does the same arithmetic in another order, so the logits are held to
/// the f32 bound above and the greedy ids must be equal. F32 and F16 pairs must also give
/// transformers' ids (F16 is what the CPU pair test asks of itself); F32 also its logits.
#[test]
fn gguf_pairs_match_the_cpu_on_the_same_weights() {
    for ty in ["F32", "F16", "Q8_0"] {
        let ck = gguf(ty);
        let model = gpu_model(&ck);
        let exact = ck.dequantized();
        let mut report = Vec::new();
        for (name, case) in split_cases() {
            let got = gpu_prompt_logits(&model, &case);
            let diff = max_abs_diff(&got, &cpu_prompt_logits(&exact, &case));
            let reference = max_abs_diff(&got, &floats(&case["logits_last"]["values"]));
            report.push(format!("{name}: {diff:.1e} (transformers {reference:.1e})"));
            assert!(
                diff <= LOGITS_TOLERANCE,
                "{ty} {name}: GPU logits differ from the CPU's on the same weights by {diff:e}"
            );
            if ty == "F32" {
                assert!(reference <= LOGITS_TOLERANCE, "{ty} {name}: {reference:e}");
            }
            let Some(params) = greedy_params(&case) else {
                continue;
            };
            let features = gpu_features(&model, &case);
            let (ids_gpu, _) = gpu_generate(
                &model,
                &ids(&case["prompt_ids"]),
                features.as_ref(),
                params.clone(),
            );
            assert_eq!(
                ids_gpu,
                cpu_generate(&exact, &case, params.clone()),
                "{ty} {name}: GPU and CPU greedy ids"
            );
            let want = ids(&case["generation"]["generated_ids"]);
            if ty != "Q8_0" {
                assert_eq!(
                    ids_gpu, want,
                    "{ty} {name}: greedy ids against transformers"
                );
            }
            // The CPU's own quantized path (Q8_0 there also rounds the activations).
            let quantized = cpu_generate(&ck, &case, params);
            let agree = |a: &[u32], b: &[u32]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
            report.push(format!(
                "  ids agree with transformers on {}/{}, with the CPU's {ty} path on {}/{}",
                agree(&ids_gpu, &want),
                want.len(),
                agree(&ids_gpu, &quantized),
                quantized.len()
            ));
        }
        println!(
            "{ty}: max |GPU - CPU on the same weights| (- transformers):\n{}",
            report.join("\n")
        );
    }
}
