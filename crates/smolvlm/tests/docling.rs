//! DocTags checkpoints in granite-docling-258M's layout (Idefics3, Llama decoder,
//! `chat_template.jinja`, Idefics3ImageProcessor): the real checkpoint's small JSON files
//! parse, and the tiny-docling fixture loads from its folder as the CLI and the worker load
//! it, builds transformers' prompt ids, and decodes transformers' greedy answer to the
//! DocTags page transformers decoded. (Its logits and greedy ids are held to transformers'
//! by `model_fixtures.rs`, which reads every case, and its GGUF pair by `gguf.rs`.)
//!
//! And in SmolDocling-256M-preview's layout (SmolVLM-256M-Instruct's files: Idefics3 with
//! SmolVLM's text config, tokenizer and `chat_template.json`, DocTags tokens added): the
//! tiny-smoldocling fixture loads from its folder and gives transformers' prompt ids,
//! logits and greedy ids.

mod model_support;

use candle_core::Device;
use model_support::*;
use smolvlm::bundle::{load, Files, Layout, Loaded};
use smolvlm::config::ModelType;
use smolvlm::processor::ImageProcessorConfig;
use smolvlm::prompt::{build_prompt, ChatTemplate, Message, Prompt};
use smolvlm::tokenizer::TokenizerConfig;
use smolvlm::{generate, Config, GenerationConfig, GenerationParams};

const REAL: &str = "real-configs/granite-docling-258M";

fn real(name: &str) -> Vec<u8> {
    read(&format!("{REAL}/{name}"))
}

#[test]
fn granite_docling_258m_config_files_parse_with_their_real_values() {
    let config = Config::from_json(&real("config.json")).unwrap();
    // The text decoder is Llama, not Granite: no multipliers apply.
    assert_eq!(config.text.model_type.as_deref(), Some("llama"));
    assert!(!config.text.is_granite());
    assert!(config.tie_word_embeddings);
    assert_eq!(config.image_token_id, 100270);
    assert_eq!(config.scale_factor, 4);
    assert_eq!(
        (config.vision.image_size, config.vision.patch_size),
        (512, 16)
    );
    assert_eq!(
        (
            config.text.hidden_size,
            config.text.num_attention_heads,
            config.text.num_key_value_heads(),
            config.text.head_dim()
        ),
        (576, 9, 3, 64)
    );
    assert_eq!(config.text.vocab_size, 100352);
    assert_eq!(config.text.rope_theta(), 100000.0);
    assert_eq!(config.image_seq_len(), 64);

    let image = ImageProcessorConfig::from_checkpoint_json(
        Some(&real("preprocessor_config.json")),
        Some(&real("processor_config.json")),
    )
    .unwrap();
    assert_eq!(
        (image.longest_edge, image.max_image_longest_edge),
        (2048, 512)
    );
    assert!(image.do_image_splitting && image.do_pad);

    let generation = GenerationConfig::from_json(&real("generation_config.json")).unwrap();
    assert_eq!(generation.eos_token_ids(&config), vec![100257]);

    let tokenizer = TokenizerConfig::from_json(&real("tokenizer_config.json")).unwrap();
    assert_eq!(tokenizer.names.bos.as_deref(), Some("<|start_of_role|>"));
    assert_eq!(tokenizer.names.eos.as_deref(), Some("<|end_of_text|>"));
    assert_eq!(tokenizer.names.image, "<image>");

    let template =
        ChatTemplate::new(std::str::from_utf8(&real("chat_template.jinja")).unwrap()).unwrap();
    let rendered = template
        .render(
            &[Message::user(1, "Convert this page to docling.")],
            true,
            None,
        )
        .unwrap();
    assert_eq!(
        rendered,
        "<|start_of_role|>user<|end_of_role|><image>Convert this page to docling.<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>"
    );
}

/// The case's prompt built by the checkpoint's own template and tokenizer, checked to be
/// transformers' text and ids.
fn checked_prompt(loaded: &Loaded, name: &str, case: &serde_json::Value) -> Prompt {
    let prompt = build_prompt(
        &loaded.tokenizer,
        &loaded.template,
        case["prompt"].as_str().unwrap(),
        &grids(case),
        loaded.model.config().image_seq_len(),
    )
    .unwrap();
    assert_eq!(
        prompt.text,
        case["prompt_string"].as_str().unwrap(),
        "{name}"
    );
    assert_eq!(prompt.ids, ids(&case["prompt_ids"]), "{name}: prompt ids");
    prompt
}

fn tiny_docling_files() -> Files {
    folder_files("tiny-docling")
}

/// Every file of a fixture checkpoint's folder, as the CLI reads a Hub folder.
fn folder_files(model: &str) -> Files {
    let mut files = Files::new();
    let dir = fixtures().join(model);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        files.insert(
            entry.file_name().to_string_lossy().into_owned(),
            std::fs::read(entry.path()).unwrap(),
        );
    }
    files
}

#[test]
fn tiny_docling_loads_from_its_folder_and_answers_transformers_doctags() {
    let loaded = load(&Layout::HubFolder, tiny_docling_files(), &Device::Cpu).unwrap();
    let eos = loaded.tokenizer.special().eos.clone().unwrap();
    assert_eq!(eos.content, "<|end_of_text|>");
    assert!(loaded.stop_ids().contains(&eos.id));
    let processor = loaded.image_processor.as_ref().expect("image settings");
    assert_eq!(processor.config.longest_edge, 128);

    for (name, case) in model_cases("tiny-docling") {
        let prompt = checked_prompt(&loaded, &name, &case);

        let features = pixel_values(&case).map(|px| loaded.model.encode_images(&px, None).unwrap());
        let generation = &case["generation"];
        let params = GenerationParams::greedy(
            generation["max_new_tokens"].as_u64().unwrap() as usize,
            loaded.stop_ids(),
        );
        let out = generate(
            &loaded.model,
            &prompt.ids,
            features.as_ref(),
            params,
            |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();
        assert_eq!(
            out.tokens,
            ids(&generation["generated_ids"]),
            "{name}: greedy ids"
        );
        // As `smolvlm convert` reads an answer: the stop token apart, special tokens kept.
        let answer: Vec<u32> = out
            .tokens
            .iter()
            .copied()
            .filter(|t| !loaded.stop_ids().contains(t))
            .collect();
        let doctags = loaded.tokenizer.decode(&answer, false).unwrap();
        assert_eq!(
            doctags.trim_start(),
            case["doctags"]["text"].as_str().unwrap(),
            "{name}: DocTags"
        );
        assert!(doctags.starts_with("<doctag>") && doctags.ends_with("</doctag>"));
    }
}

/// transformers' f32 logits differ from the same model in f64 by at most 6e-6 on these
/// cases (recorded per case); 1e-4 is the bound of every f32 fixture test (model_fixtures.rs).
const LOGITS_TOLERANCE: f32 = 1e-4;

#[test]
fn tiny_smoldocling_loads_from_its_folder_and_matches_transformers() {
    let loaded = load(
        &Layout::HubFolder,
        folder_files("tiny-smoldocling"),
        &Device::Cpu,
    )
    .unwrap();
    let config = loaded.model.config().clone();
    // SmolVLM-256M-Instruct's spelling: Idefics3, a Llama (VLlama3) text config, untied lm_head.
    assert_eq!(config.model_type, ModelType::Idefics3);
    assert_eq!(config.text.model_type.as_deref(), Some("llama"));
    assert!(!config.text.is_granite());
    assert!(!config.tie_word_embeddings);
    assert_eq!(config.scale_factor, 4);
    assert_eq!(
        (config.vision.image_size, config.vision.patch_size),
        (32, 4)
    );
    assert_eq!(config.image_seq_len(), 4);
    assert_eq!(
        (
            config.text.hidden_size,
            config.text.num_attention_heads,
            config.text.num_key_value_heads(),
            config.text.head_dim()
        ),
        (48, 3, 1, 16)
    );
    assert_eq!(config.text.vocab_size, 1085);
    let processor = loaded.image_processor.as_ref().expect("image settings");
    assert_eq!(
        (
            processor.config.longest_edge,
            processor.config.max_image_longest_edge
        ),
        (128, 32)
    );
    assert!(processor.config.do_image_splitting);

    // SmolVLM's tokens and stop: <end_of_utterance> ends the answer (docling stops there or
    // at </doctag>); the DocTags tokens make it a DocTags model.
    let special = loaded.tokenizer.special().clone();
    assert_eq!(special.eos.as_ref().unwrap().content, "<end_of_utterance>");
    assert_eq!(special.bos.as_ref().unwrap().content, "<|im_start|>");
    assert_eq!(loaded.stop_ids(), vec![special.end_of_utterance.id]);
    assert!(loaded.answers_in_doctags());
    assert_eq!(loaded.tokenizer.token_id("<loc_500>"), Some(1084));

    // The model card's prompt (its vLLM example writes this string out by hand).
    let rendered = loaded
        .template
        .render(
            &[Message::user(1, "Convert this page to docling.")],
            true,
            None,
        )
        .unwrap();
    assert_eq!(
        rendered,
        "<|im_start|>User:<image>Convert this page to docling.<end_of_utterance>\nAssistant:"
    );

    let cases = model_cases("tiny-smoldocling");
    assert!(cases.iter().any(|(_, c)| c["image"].is_string()));
    assert!(cases.iter().any(|(_, c)| c["image"].is_null()));
    let mut report = Vec::new();
    for (name, case) in cases {
        let prompt = checked_prompt(&loaded, &name, &case);

        let features = pixel_values(&case).map(|px| loaded.model.encode_images(&px, None).unwrap());
        let embeds = loaded.model.embed(&prompt.ids, features.as_ref()).unwrap();
        let mut cache = loaded.model.new_cache();
        let logits: Vec<f32> = loaded
            .model
            .forward(&embeds, &mut cache)
            .unwrap()
            .to_vec1()
            .unwrap();
        let diff = max_abs_diff(&logits, &floats(&case["logits_last"]["values"]));
        report.push(format!("{name}: {diff:.2e}"));
        assert!(
            diff <= LOGITS_TOLERANCE,
            "{name}: last-position logits differ by {diff:e} (bound {LOGITS_TOLERANCE:e})"
        );

        let generation = &case["generation"];
        let mut params = GenerationParams::greedy(
            generation["max_new_tokens"].as_u64().unwrap() as usize,
            loaded.stop_ids(),
        );
        params.min_new_tokens = generation["min_new_tokens"].as_u64().unwrap() as usize;
        let out = generate(
            &loaded.model,
            &prompt.ids,
            features.as_ref(),
            params,
            |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();
        let want = ids(&generation["generated_ids"]);
        assert!(want.len() >= 20, "{name}: fixture too short");
        assert_eq!(out.tokens, want, "{name}: greedy ids");
        // A DocTags model's answer keeps its tags: the random answer holds <loc_N> tokens.
        assert_eq!(
            loaded.answer_text(&out.tokens).unwrap(),
            generation["text_with_special_tokens"]
                .as_str()
                .unwrap()
                .trim_start(),
            "{name}: answer text"
        );
    }
    println!("max |logits - transformers|: {}", report.join(", "));
}
