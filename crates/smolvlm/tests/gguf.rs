//! The GGUF pair against the fixtures: the pair llama.cpp's converter wrote and the pair
//! `smolvlm quantize` writes, against transformers' reference outputs (tests/fixtures).
//! A pair is self-sufficient here: prompt ids come from the tokenizer and chat template
//! rebuilt from the GGUF metadata, never from the checkpoint's JSON.

mod gguf_support;
mod model_support;

use gguf_support::*;
use model_support::{floats, ids, max_abs_diff, model_cases};
use serde_json::Value;
use smolvlm::config::Config;
use smolvlm::gguf::{quantize_checkpoint, GgufModel, GgufPair, GgufPairBytes, QuantType};
use smolvlm::processor::ImageProcessorConfig;
use smolvlm::tokenizer::Tokenizer;

/// The bound model_fixtures.rs holds the safetensors model to (transformers' own f32 vs
/// f64 difference is at most 6e-6 on these cases): an F32 GGUF holds the same weights.
const F32_TOLERANCE: f32 = 1e-4;

#[test]
fn quantize_writes_the_converters_files_byte_for_byte() {
    for ty in ["F32", "F16", "Q8_0"] {
        let ours = our_pair(&ty.to_lowercase());
        assert_eq!(ours.text_name, format!("tiny-split-{ty}.gguf"));
        assert_eq!(ours.mmproj_name, format!("mmproj-tiny-split-{ty}.gguf"));
        for (name, bytes) in [
            (&ours.text_name, &ours.text),
            (&ours.mmproj_name, &ours.mmproj),
        ] {
            let want = read(&format!("gguf/{name}"));
            assert_eq!(bytes.len(), want.len(), "{name}: size");
            let first = bytes.iter().zip(&want).position(|(a, b)| a != b);
            assert_eq!(first, None, "{name}: first differing byte");
        }
    }
}

/// An F32 pair on one reference case gives transformers' prompt ids, last-position logits
/// within `F32_TOLERANCE` and greedy ids. Returns the greedy ids and the logits' difference.
fn matches_f32_reference(m: &GgufModel, name: &str, case: &Value) -> (Option<Vec<u32>>, f32) {
    let out = run_case(m, case);
    assert_eq!(
        out.prompt_ids,
        ids(&case["prompt_ids"]),
        "{name}: prompt ids"
    );
    let diff = max_abs_diff(&out.logits, &floats(&case["logits_last"]["values"]));
    assert!(diff <= F32_TOLERANCE, "{name}: logits differ by {diff:e}");
    if let Some(greedy) = &out.greedy {
        let want = ids(&case["generation"]["generated_ids"]);
        assert_eq!(greedy, &want, "{name}: greedy ids");
    }
    (out.greedy, diff)
}

#[test]
fn llama_cpp_f32_pair_matches_transformers_as_the_safetensors_do() {
    let m = llama_cpp_pair("F32");
    let mut report = Vec::new();
    for (name, case) in split_cases() {
        let (greedy, diff) = matches_f32_reference(&m, &name, &case);
        report.push(format!("{name}: {diff:.1e}"));
        if let Some(greedy) = greedy {
            let text = m.tokenizer.decode(&greedy, true).unwrap();
            assert_eq!(
                text,
                case["generation"]["text"].as_str().unwrap(),
                "{name}: text"
            );
        }
    }
    println!(
        "llama.cpp F32 pair, max |logits - transformers|: {}",
        report.join(", ")
    );
}

#[test]
fn our_f32_pair_gives_the_same_greedy_ids() {
    let m = ours("f32");
    for (name, case) in split_cases() {
        matches_f32_reference(&m, &name, &case);
    }
}

#[test]
fn the_rebuilt_tokenizer_encodes_and_decodes_as_tokenizer_json() {
    let pair = GgufPair::from_bytes(
        "tiny-split-F32.gguf",
        read("gguf/tiny-split-F32.gguf"),
        "mmproj-tiny-split-F32.gguf",
        read("gguf/mmproj-tiny-split-F32.gguf"),
    )
    .unwrap();
    let rebuilt = pair.tokenizer().unwrap();
    let hub = Tokenizer::from_json(
        &read("tiny-split/tokenizer.json"),
        Some(&read("tiny-split/tokenizer_config.json")),
    )
    .unwrap();
    assert_eq!(rebuilt.special(), hub.special());
    assert_eq!(rebuilt.vocab_size(), hub.vocab_size());
    let corpus = String::from_utf8(read("corpus.txt")).unwrap();
    let mut texts: Vec<String> = corpus.lines().map(str::to_string).collect();
    texts.extend(
        [
            "digits 1234567890 and 3.14, 2026-11-25",
            "  leading spaces\n\n\ttabs\r\n and \u{e9}t\u{e9} \u{1F680} caf\u{e9}",
            "<|im_start|>User:<image><fake_token_around_image><row_2_col_3><global-img>Hi<end_of_utterance>\nAssistant:",
            "I'm here, you're there; they'll see. It's 'quoted' ",
            "<|reserved_special_token_7|><|endoftext|><|im_end|>",
        ]
        .map(str::to_string),
    );
    texts.push(corpus);
    for text in &texts {
        let a = rebuilt.encode(text, false).unwrap();
        let b = hub.encode(text, false).unwrap();
        assert_eq!(a, b, "encoding {text:?}");
        assert_eq!(
            rebuilt.encode(text, true).unwrap(),
            hub.encode(text, true).unwrap()
        );
        for skip in [false, true] {
            assert_eq!(
                rebuilt.decode(&a, skip).unwrap(),
                hub.decode(&b, skip).unwrap(),
                "decoding {text:?} (skip special: {skip})"
            );
        }
    }
    assert_eq!(
        pair.chat_template().unwrap(),
        serde_json::from_slice::<serde_json::Value>(&read("tiny-split/chat_template.json"))
            .unwrap()["chat_template"]
            .as_str()
            .unwrap()
    );
}

#[test]
fn image_settings_and_config_from_the_metadata_equal_the_checkpoints() {
    for ty in ["F32", "F16", "Q8_0"] {
        let pair = GgufPair::from_bytes(
            "text.gguf",
            read(&format!("gguf/tiny-split-{ty}.gguf")),
            "mmproj.gguf",
            read(&format!("gguf/mmproj-tiny-split-{ty}.gguf")),
        )
        .unwrap();
        let hub = ImageProcessorConfig::from_checkpoint_json(
            Some(&read("tiny-split/preprocessor_config.json")),
            Some(&read("tiny-split/processor_config.json")),
        )
        .unwrap();
        assert_eq!(pair.image_processor_config().unwrap(), hub, "{ty}");

        let got = pair.config().unwrap();
        let want = Config::from_json(&read("tiny-split/config.json")).unwrap();
        let (g, w) = (&got.text, &want.text);
        assert_eq!(
            (
                g.vocab_size,
                g.hidden_size,
                g.intermediate_size,
                g.num_hidden_layers
            ),
            (
                w.vocab_size,
                w.hidden_size,
                w.intermediate_size,
                w.num_hidden_layers
            )
        );
        assert_eq!(
            (g.num_attention_heads, g.num_key_value_heads(), g.head_dim()),
            (w.num_attention_heads, w.num_key_value_heads(), w.head_dim())
        );
        assert_eq!(g.max_position_embeddings, w.max_position_embeddings);
        assert_eq!(g.rope_theta(), w.rope_theta());
        // GGUF stores the eps as f32; the model computes with it as f32 either way.
        assert_eq!(g.rms_norm_eps as f32, w.rms_norm_eps as f32);
        let (g, w) = (&got.vision, &want.vision);
        assert_eq!(
            (
                g.hidden_size,
                g.intermediate_size,
                g.num_hidden_layers,
                g.num_attention_heads
            ),
            (
                w.hidden_size,
                w.intermediate_size,
                w.num_hidden_layers,
                w.num_attention_heads
            )
        );
        assert_eq!((g.image_size, g.patch_size), (w.image_size, w.patch_size));
        assert_eq!(g.hidden_act, w.hidden_act);
        assert_eq!(g.layer_norm_eps as f32, w.layer_norm_eps as f32);
        assert_eq!(got.scale_factor, want.scale_factor);
        assert_eq!(got.image_token_id, want.image_token_id);
        assert_eq!(got.tie_word_embeddings, want.tie_word_embeddings);
        assert_eq!(got.image_seq_len(), want.image_seq_len());
        let generation = pair.generation_config().unwrap();
        assert_eq!(generation.eos_token_ids(&got), vec![511]);
    }
}

/// F16 weights: what changes is the rounding of the weights to f16 and, in candle's F16
/// matmul (as in llama.cpp's CPU backend), of the activations fed to it. The fixtures
/// record transformers' logits with the weights rounded to f16 and computed in f32
/// (`split_rgb37x53_f16_weights`); the activations' rounding is the same relative size
/// (2^-11) as the weights', so an F16 pair may sit twice as far from f32 as that reference
/// does, and no further.
#[test]
fn f16_pairs_stay_within_f16_rounding() {
    let f16_case = model_support::case("split_rgb37x53_f16_weights");
    let f32_case = model_support::case("split_rgb37x53");
    let weight_rounding = max_abs_diff(
        &floats(&f16_case["logits_last"]["values"]),
        &floats(&f32_case["logits_last"]["values"]),
    );
    for (label, m) in [
        ("llama.cpp F16", llama_cpp_pair("F16")),
        ("our F16", ours("f16")),
    ] {
        let mut worst = 0f32;
        for (name, case) in split_cases() {
            let out = run_case(&m, &case);
            assert_eq!(out.prompt_ids, ids(&case["prompt_ids"]), "{label} {name}");
            let diff = max_abs_diff(&out.logits, &floats(&case["logits_last"]["values"]));
            worst = worst.max(diff);
            assert!(
                diff <= 2.0 * weight_rounding,
                "{label} {name}: logits differ by {diff:e}, f16 weights alone by {weight_rounding:e}"
            );
            if let Some(greedy) = out.greedy {
                assert_eq!(
                    greedy,
                    ids(&case["generation"]["generated_ids"]),
                    "{label} {name}"
                );
            }
        }
        println!(
            "{label}: max |logits - f32 reference| {worst:.2e} (f16-rounded weights alone: {weight_rounding:.2e})"
        );
    }
}

/// `smolvlm quantize`'s pair of the tiny-trained fixture: a checkpoint whose weights were
/// trained (next-token prediction on the fixtures' corpus, images included), not drawn at
/// random (tests/fixtures/README.md).
fn trained_pair(ty: &str) -> GgufPairBytes {
    quantize_checkpoint(checkpoint("tiny-trained"), QuantType::parse(ty).unwrap())
        .unwrap_or_else(|e| panic!("quantize tiny-trained {ty}: {e}"))
}

fn trained(ty: &str) -> GgufModel {
    let p = trained_pair(ty);
    load(p.text, p.mmproj)
}

/// Each case's last-position logit error as a fraction of its largest |f32 logit|, and the
/// greedy ids that agree (up to each case's first divergence) out of all.
fn logit_errors(
    label: &str,
    m: &GgufModel,
    cases: &[(String, Value)],
) -> (Vec<(String, f32)>, usize, usize) {
    let (mut agree, mut total) = (0usize, 0usize);
    let mut errors = Vec::new();
    for (name, case) in cases {
        let out = run_case(m, case);
        assert_eq!(out.prompt_ids, ids(&case["prompt_ids"]), "{label} {name}");
        let want = floats(&case["logits_last"]["values"]);
        errors.push((
            name.clone(),
            max_abs_diff(&out.logits, &want) / max_abs(&want),
        ));
        if let Some(greedy) = out.greedy {
            let want = ids(&case["generation"]["generated_ids"]);
            // Agreement up to the first divergence (after it the contexts differ).
            agree += greedy.iter().zip(&want).take_while(|(a, b)| a == b).count();
            total += want.len();
        }
    }
    let worst = errors.iter().map(|e| e.1).fold(0f32, f32::max);
    println!(
        "{label}: worst logit error {:.2}% of the largest |logit|; greedy ids agree on {agree}/{total} \
         (counting up to each case's first divergence)",
        worst * 100.0
    );
    (errors, agree, total)
}

/// Quantized pairs: last-position logits within `bound` of the largest |f32 logit|
/// (the 2% for Q8_0, 10% for Q4_0 / Q4_K), greedy agreement reported.
fn within(label: &str, m: &GgufModel, cases: &[(String, Value)], bound: f32) {
    let (errors, _, _) = logit_errors(label, m, cases);
    for (name, rel) in errors {
        assert!(
            rel <= bound,
            "{label} {name}: logits off by {:.2}% of the largest",
            rel * 100.0
        );
    }
}

#[test]
fn q8_0_pairs_stay_within_2_percent() {
    let (split, trained_cases) = (split_cases(), model_cases("tiny-trained"));
    within("llama.cpp Q8_0", &llama_cpp_pair("Q8_0"), &split, 0.02);
    within("our Q8_0", &ours("q8_0"), &split, 0.02);
    within(
        "our Q8_0 (tiny-trained)",
        &trained("q8_0"),
        &trained_cases,
        0.02,
    );
}

#[test]
fn q4_k_m_pair_stays_within_10_percent() {
    within("our Q4_K_M", &ours("q4_k"), &split_cases(), 0.10);
    within(
        "our Q4_K_M (tiny-trained)",
        &trained("q4_k"),
        &model_cases("tiny-trained"),
        0.10,
    );
}

/// The 10% for Q4_0 is a bound for trained checkpoints, so it is held on
/// tiny-trained (on the random tiny-split it is only reported: a random 32-wide model has
/// no dominant logit, and the 4-bit rounding of its weights alone moves its logits 11% to
/// 27% of the largest, in transformers as here).
///
/// Still fails, and not for a bug we could find: the Q4_0 pair of tiny-trained is 7% to
/// 21% of the largest logit away from transformers (palette_tiles1 15%, text_only 21%),
/// and transformers on the same weights rounded to Q4_0 by gguf-py (f32) gives the same
/// (7.0% to 21.6%); `q4_0_pairs_compute_what_their_weights_say` shows the runtime adds
/// only the 8-bit rounding of activations (1.6%). So it is the 4-bit rounding of a 64-wide
/// model's weights itself: each embedding row is two Q4_0 blocks, whose ~8% rounding
/// noise goes straight into the residual stream (embedding table alone: 10% on
/// text_only). Six trainings of this recipe (widths 64 and 128, other seeds, with and
/// without weight decay) gave worst cases from 8.8% to 21.6%; none was picked to pass.
/// Q8_0 (within 2%) and Q4_K_M (within 10%) hold on tiny-trained with room to spare.
#[test]
#[ignore = "Q4_0 rounding of the tiny fixtures' weights alone moves the logits past 10%, trained or random (see doc)"]
fn q4_0_pair_stays_within_10_percent() {
    logit_errors(
        "our Q4_0 (random tiny-split, not bounded)",
        &ours("q4_0"),
        &split_cases(),
    );
    within(
        "our Q4_0 (tiny-trained)",
        &trained("q4_0"),
        &model_cases("tiny-trained"),
        0.10,
    );
}

/// A pair's model as stored, and on the same weights dequantized to f32.
fn as_stored_and_dequantized(pair: &GgufPairBytes) -> (GgufModel, GgufModel) {
    (
        load(pair.text.clone(), pair.mmproj.clone()),
        load(
            dequantized_to_f32(&pair.text),
            dequantized_to_f32(&pair.mmproj),
        ),
    )
}

/// Asserts that logits computed from quantized weights (`got`) are within 2% of the
/// largest |logit| of the same model on its dequantized weights (`want`): the 8-bit
/// rounding of activations in candle's (and llama.cpp's) quantized matmuls, which the issue
/// bounds by 2% for Q8_0 weights. Returns that relative difference.
fn within_activation_rounding(what: &str, got: &[f32], want: &[f32]) -> f32 {
    let rel = max_abs_diff(got, want) / max_abs(want);
    assert!(
        rel <= 0.02,
        "{what}: {:.2}% from the dequantized weights",
        rel * 100.0
    );
    rel
}

/// The Q4_0 pairs' runtime adds nothing to their weights' rounding beyond the 8-bit
/// rounding of activations that candle's (and llama.cpp's) Q4_0 matmul does, which the
/// issue bounds by 2% for Q8_0 weights: the model from the file and the model from its
/// dequantized weights computed in f32 agree within that, on the random and the trained
/// fixture.
#[test]
fn q4_0_pairs_compute_what_their_weights_say() {
    for (model, pair) in [
        ("tiny-split", our_pair("q4_0")),
        ("tiny-trained", trained_pair("q4_0")),
    ] {
        let (quantized, dequantized) = as_stored_and_dequantized(&pair);
        let mut worst = 0f32;
        for (name, case) in model_cases(model) {
            let got = run_case(&quantized, &case).logits;
            let want = run_case(&dequantized, &case).logits;
            worst = worst.max(within_activation_rounding(&name, &got, &want));
        }
        println!(
            "{model}: Q4_0 model vs its dequantized weights in f32: {:.2}%",
            worst * 100.0
        );
    }
}

/// The fixture's rows (32, 64 values) are too short for 256-value k-quant blocks, so its
/// Q4_K_M file falls back everywhere. On a checkpoint whose rows fit, Q4_K and Q6_K are
/// written, their rows move whole when the Q/K permutation is undone, and the model
/// computes with them what it computes with their dequantized values, up to the 8-bit
/// rounding of activations in candle's k-quant matmul (the rounding the issue bounds by
/// 2% for Q8_0 weights).
#[test]
fn k_quants_are_written_and_run_where_rows_fit_their_blocks() {
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use smolvlm::gguf::{quantize_checkpoint, GgufFile, GgufSource, QuantType};
    use smolvlm::prompt::{build_prompt, ChatTemplate};
    use smolvlm::{SafetensorsSource, Weight, WeightSource};

    let ckpt = wide_checkpoint();
    let hub_weights = ckpt.safetensors[0].1.clone();
    let pair = quantize_checkpoint(ckpt, QuantType::Q4K).unwrap();
    let ty = |name: &str| pair.tensors.iter().find(|t| t.name == name).unwrap().dtype;
    assert_eq!(ty("token_embd.weight"), "Q4_K");
    assert_eq!(ty("blk.0.ffn_gate.weight"), "Q4_K");
    assert_eq!(ty("blk.0.attn_q.weight"), "Q4_K");
    // llama-quant's use_more_bits picks layer 1 of 2 for ffn_down and attn_v.
    assert_eq!(ty("blk.1.attn_v.weight"), "Q6_K");
    assert_eq!(ty("blk.1.ffn_down.weight"), "Q6_K");
    assert_eq!(ty("output.weight"), "Q6_K");
    assert_eq!(ty("v.blk.0.ffn_up.weight"), "Q4_K");

    let hub = SafetensorsSource::from_bytes("model.safetensors", hub_weights).unwrap();
    let source = GgufSource::new(
        GgufFile::from_bytes("text", pair.text.clone()).unwrap(),
        GgufFile::from_bytes("mmproj", pair.mmproj.clone()).unwrap(),
        4,
        2,
    );
    for name in [
        "model.text_model.layers.0.self_attn.q_proj.weight",
        "model.text_model.layers.1.self_attn.k_proj.weight",
    ] {
        let Weight::Quantized(loaded) = source.load(name, &Device::Cpu).unwrap() else {
            panic!("{name} is not quantized");
        };
        assert_eq!(loaded.dtype(), GgmlDType::Q4K);
        let original = hub.load(name, &Device::Cpu).unwrap().to_f32().unwrap();
        let direct = QTensor::quantize(&original, GgmlDType::Q4K).unwrap();
        assert!(
            loaded.data().unwrap() == direct.data().unwrap(),
            "{name}: undoing the permutation does not give the Hub rows back"
        );
    }

    let (m, deq) = as_stored_and_dequantized(&pair);
    let template = ChatTemplate::new(&m.chat_template).unwrap();
    // Seeded, so every run checks the same picture. Unseeded, the picture case's gap varied
    // from run to run (1.66% to 1.84% over 30 runs, and 2.02% in one CI run): a test that
    // passes or fails by the draw checks nothing reliably. Seed 0, the first one tried.
    let mut rng = StdRng::seed_from_u64(0);
    let values: Vec<f32> = (0..3 * 32 * 32)
        .map(|_| 2.0 * rng.random::<f32>() - 1.0)
        .collect();
    let pixels = Tensor::from_vec(values, (1, 3, 32, 32), &Device::Cpu).unwrap();
    let mut worst = 0f32;
    for image in [false, true] {
        let grids: &[(u32, u32)] = if image { &[(0, 0)] } else { &[] };
        let prompt = build_prompt(
            &m.tokenizer,
            &template,
            "What is it?",
            grids,
            m.config.image_seq_len(),
        )
        .unwrap();
        let logits = |g: &GgufModel| -> Vec<f32> {
            let f = image.then(|| g.model.encode_images(&pixels, None).unwrap());
            let e = g.model.embed(&prompt.ids, f.as_ref()).unwrap();
            g.model
                .forward(&e, &mut g.model.new_cache())
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        let (got, want) = (logits(&m), logits(&deq));
        worst = worst.max(within_activation_rounding(
            &format!("image {image}"),
            &got,
            &want,
        ));
    }
    println!(
        "Q4_K/Q6_K model vs its dequantized weights in f32: {:.2}%",
        worst * 100.0
    );
}

/// tiny-granite through `smolvlm quantize`: the text file says `granite` and carries the four
/// multipliers under llama.cpp's key names (`GraniteModel.set_gguf_parameters`), and the F32
/// pair read back matches transformers as the safetensors do.
#[test]
fn a_granite_pair_carries_its_multipliers_and_matches_transformers() {
    use smolvlm::gguf::GgufFile;

    let pair =
        quantize_checkpoint(checkpoint("tiny-granite"), QuantType::parse("f32").unwrap()).unwrap();
    let text = GgufFile::from_bytes("text", pair.text.clone()).unwrap();
    assert_eq!(text.architecture().unwrap(), "granite");
    for (key, want) in [
        ("granite.embedding_scale", 12.0),
        ("granite.attention.scale", 0.0156),
        ("granite.residual_scale", 0.22),
        ("granite.logit_scale", 8.0),
    ] {
        assert_eq!(text.f32_opt(key).unwrap(), Some(want), "{key}");
    }
    assert_eq!(text.size_opt("granite.block_count").unwrap(), Some(2));
    assert_eq!(text.size_opt("llama.block_count").unwrap(), None);

    let m = load(pair.text, pair.mmproj);
    let t = &m.config.text;
    assert!(t.is_granite());
    assert_eq!(
        (t.embedding_multiplier() as f32, t.attention_scale() as f32),
        (12.0, 0.0156)
    );
    assert_eq!(
        (t.residual_multiplier() as f32, t.logits_scaling() as f32),
        (0.22, 8.0)
    );
    let mut report = Vec::new();
    for (name, case) in model_cases("tiny-granite") {
        let (_, diff) = matches_f32_reference(&m, &name, &case);
        report.push(format!("{name}: {diff:.1e}"));
    }
    println!(
        "our granite F32 pair, max |logits - transformers|: {}",
        report.join(", ")
    );
}

/// A Granite GGUF without `granite.attention.scale` scores with `1/sqrt(head_dim)`, as
/// llama.cpp's Granite graph does; the other scales default to 1.
#[test]
fn a_granite_gguf_without_its_scales_takes_llama_cpps_defaults() {
    let pair =
        quantize_checkpoint(checkpoint("tiny-granite"), QuantType::parse("f32").unwrap()).unwrap();
    let mut text = edit(&pair.text);
    for key in [
        "granite.embedding_scale",
        "granite.attention.scale",
        "granite.residual_scale",
        "granite.logit_scale",
    ] {
        text.remove_key(key);
    }
    let m = load(text.bytes(), pair.mmproj);
    let t = &m.config.text;
    assert_eq!(t.attention_scale(), 8f64.powf(-0.5));
    assert_eq!(
        (
            t.embedding_multiplier(),
            t.residual_multiplier(),
            t.logits_scaling()
        ),
        (1.0, 1.0, 1.0)
    );
}

/// llama.cpp's converter writes tiny-granite as a `granite` text GGUF (GraniteModel); the
/// pair read back gives transformers' logits and greedy ids, and `smolvlm quantize` writes
/// the same bytes.
#[test]
fn llama_cpp_granite_pair_matches_transformers_and_our_writer() {
    let m = load(
        read("gguf/tiny-granite-F32.gguf"),
        read("gguf/mmproj-tiny-granite-F32.gguf"),
    );
    assert!(m.config.text.is_granite());
    let mut report = Vec::new();
    for (name, case) in model_cases("tiny-granite") {
        let (_, diff) = matches_f32_reference(&m, &name, &case);
        report.push(format!("{name}: {diff:.1e}"));
    }
    println!(
        "llama.cpp granite F32 pair, max |logits - transformers|: {}",
        report.join(", ")
    );
    let ours =
        quantize_checkpoint(checkpoint("tiny-granite"), QuantType::parse("f32").unwrap()).unwrap();
    for (name, bytes) in [
        (&ours.text_name, &ours.text),
        (&ours.mmproj_name, &ours.mmproj),
    ] {
        let want = read(&format!("gguf/{name}"));
        assert_eq!(bytes.len(), want.len(), "{name}: size");
        let first = bytes.iter().zip(&want).position(|(a, b)| a != b);
        assert_eq!(first, None, "{name}: first differing byte");
    }
}

/// llama.cpp's converter writes the DocTags checkpoints (Idefics3, bf16 weights) as `llama`
/// BF16 pairs: tiny-docling (Llama decoder, granite-docling-258M's layout) and
/// tiny-smoldocling (SmolVLM's text config, SmolDocling-256M-preview's layout, 1085 tokens
/// with `<loc_N>`). Read back, each gives transformers' prompt ids (from the GGUF's own
/// tokenizer and chat template), logits and greedy ids.
#[test]
fn llama_cpp_doctags_pairs_give_transformers_ids() {
    for model in ["tiny-docling", "tiny-smoldocling"] {
        let m = load(
            read(&format!("gguf/{model}-BF16.gguf")),
            read(&format!("gguf/mmproj-{model}-BF16.gguf")),
        );
        assert!(!m.config.text.is_granite(), "{model}");
        let mut report = Vec::new();
        for (name, case) in model_cases(model) {
            // bf16 weights held exactly, computed in f32: the f32 tolerance applies.
            let (greedy, diff) = matches_f32_reference(&m, &name, &case);
            assert!(greedy.is_some(), "{name}: greedy ids recorded");
            report.push(format!("{name}: {diff:.1e}"));
        }
        assert_eq!(report.len(), 2, "{model}");
        println!(
            "llama.cpp {model} BF16 pair, max |logits - transformers|: {}",
            report.join(", ")
        );
    }
}
