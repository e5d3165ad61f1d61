//! Bad input to the model code: each gives an error that names what was wrong, never a
//! panic. Plus config parsing of both checkpoint layouts.

mod model_support;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use model_support::*;
use smolvlm::{Config, Error, GenerationParams, Session, SmolVlm};

const CONFIG: &str = "tiny-split/config.json";
const WEIGHTS: &str = "tiny-split/model.safetensors";

fn load(weights: Vec<u8>) -> Result<SmolVlm, Error> {
    SmolVlm::from_safetensors(
        &read(CONFIG),
        vec![("model.safetensors".into(), weights)],
        &Device::Cpu,
    )
}

/// The fixture's tensors, changed by `edit`, written back as safetensors bytes.
fn edited_weights(edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> Vec<u8> {
    let mut tensors = candle_core::safetensors::load_buffer(&read(WEIGHTS), &Device::Cpu).unwrap();
    edit(&mut tensors);
    let path = std::env::temp_dir().join(format!(
        "smolvlm-edited-{}-{:?}.safetensors",
        std::process::id(),
        std::thread::current().id()
    ));
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    bytes
}

fn config_with(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&read(CONFIG)).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn truncated_safetensors_is_a_bad_weights_error() {
    let bytes = read(WEIGHTS);
    let err = load(bytes[..bytes.len() / 2].to_vec()).unwrap_err();
    assert!(matches!(err, Error::BadWeights { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("model.safetensors: cannot read weights"),
        "{err}"
    );
}

#[test]
fn corrupt_safetensors_header_is_a_bad_weights_error() {
    let mut bytes = read(WEIGHTS);
    // The header is JSON right after its 8-byte length: break the JSON.
    bytes[8] = b'#';
    let err = load(bytes).unwrap_err();
    assert!(matches!(err, Error::BadWeights { .. }), "{err}");
    let err = load(b"not a safetensors file".to_vec()).unwrap_err();
    assert!(matches!(err, Error::BadWeights { .. }), "{err}");
}

#[test]
fn missing_tensor_is_named() {
    let name = "model.text_model.layers.1.mlp.down_proj.weight";
    let err = load(edited_weights(|t| {
        t.remove(name);
    }))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("model.safetensors: missing tensor `{name}`")
    );
}

#[test]
fn tensor_of_the_wrong_shape_is_named_with_both_shapes() {
    let name = "model.connector.modality_projection.proj.weight";
    let err = load(edited_weights(|t| {
        t.insert(
            name.into(),
            Tensor::zeros((32, 64), DType::F32, &Device::Cpu).unwrap(),
        );
    }))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "model.safetensors: tensor `{name}` has shape [32, 64], the config expects [32, 128]"
        )
    );
}

#[test]
fn integer_weights_are_an_unsupported_dtype() {
    let name = "model.text_model.norm.weight";
    let err = load(edited_weights(|t| {
        t.insert(
            name.into(),
            Tensor::zeros(32, DType::I64, &Device::Cpu).unwrap(),
        );
    }))
    .unwrap_err();
    assert!(matches!(err, Error::TensorDtype { .. }), "{err}");
    assert!(err.to_string().contains(name), "{err}");
}

#[test]
fn config_that_is_not_json_names_the_file() {
    let err = SmolVlm::from_safetensors(b"{ not json", vec![], &Device::Cpu).unwrap_err();
    assert!(err.to_string().starts_with("config.json: "), "{err}");
}

#[test]
fn config_of_another_model_is_refused() {
    let err = Config::from_json(&config_with(|v| v["model_type"] = "llava".into())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config.json: key `model_type`: `llava` is not a SmolVLM checkpoint (expected `smolvlm` or `idefics3`)"
    );
}

#[test]
fn config_values_that_do_not_fit_are_refused() {
    let err = Config::from_json(&config_with(|v| {
        v["text_config"]["num_key_value_heads"] = 3.into();
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("text_config.num_key_value_heads"),
        "{err}"
    );
    let err = Config::from_json(&config_with(|v| v["scale_factor"] = 3.into())).unwrap_err();
    assert!(err.to_string().contains("key `scale_factor`"), "{err}");
    let err = Config::from_json(&config_with(|v| {
        v["text_config"]["rope_scaling"] = serde_json::json!({"rope_type": "yarn", "factor": 4.0});
    }))
    .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    let err = Config::from_json(&config_with(|v| {
        v["vision_config"]["hidden_act"] = "swishy".into();
    }))
    .unwrap_err();
    assert!(err.to_string().contains("swishy"), "{err}");
}

/// Values that would "work" and give garbage (no layers, a negative epsilon, a zero RoPE
/// base) are config errors naming the key, not silent nonsense.
#[test]
fn config_values_that_would_give_garbage_are_refused_naming_the_key() {
    let cases: [(&str, &str, serde_json::Value); 6] = [
        ("text_config", "num_hidden_layers", 0.into()),
        ("vision_config", "num_hidden_layers", 0.into()),
        ("text_config", "rms_norm_eps", (-1.0).into()),
        ("text_config", "rms_norm_eps", 0.0.into()),
        ("vision_config", "layer_norm_eps", (-1e-6).into()),
        ("text_config", "rope_theta", 0.0.into()),
    ];
    for (part, key, value) in cases {
        let err = Config::from_json(&config_with(|v| v[part][key] = value.clone()))
            .expect_err(&format!("{part}.{key} = {value}"));
        assert!(
            matches!(err, Error::InvalidConfig { .. })
                && err.to_string().contains(&format!("{part}.{key}")),
            "{part}.{key} = {value}: {err}"
        );
    }
}

#[test]
fn idefics3_configs_are_accepted_too() {
    let c = Config::from_json(&config_with(|v| v["model_type"] = "idefics3".into())).unwrap();
    assert_eq!(c.model_type, smolvlm::config::ModelType::Idefics3);
    assert_eq!(c.image_seq_len(), 16);
}

#[test]
fn hub_and_transformers5_layouts_give_the_same_config() {
    let hub = Config::from_json(&read("tiny-nosplit/config.json")).unwrap();
    let v5 = Config::from_json(&read("layouts/transformers5-tiny-nosplit/config.json")).unwrap();
    // The Hub's config spells `rope_theta`, transformers 5 `rope_parameters.rope_theta`.
    assert_eq!(hub.text.rope_theta(), 250000.0);
    assert_eq!(v5.text.rope_theta(), 250000.0);
    for c in [&hub, &v5] {
        assert_eq!(c.image_token_id, 422);
        assert_eq!(c.scale_factor, 4);
        assert!(!c.tie_word_embeddings);
        assert_eq!(c.image_seq_len(), 4);
        assert_eq!(c.text.num_key_value_heads(), 2);
        assert_eq!(c.text.head_dim(), 16);
        assert_eq!(c.max_context(), 512);
        // Left out of the Hub's vision config: transformers' defaults.
        assert_eq!(c.vision.layer_norm_eps, 1e-6);
        assert_eq!(c.vision.hidden_act, candle_nn::Activation::GeluPytorchTanh);
    }
    let split = Config::from_json(&read(CONFIG)).unwrap();
    assert_eq!(split.text.rope_theta(), 100000.0);
    assert_eq!(split.image_seq_len(), 16);
}

fn tiny() -> SmolVlm {
    load(read(WEIGHTS)).unwrap()
}

#[test]
fn token_ids_outside_the_vocabulary_are_refused() {
    let err = tiny().embed(&[1, 2, 512], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token id 512 is outside the vocabulary of 512 tokens"
    );
}

#[test]
fn image_tokens_must_match_the_image_features() {
    let model = tiny();
    let pixels = Tensor::zeros((1, 3, 32, 32), DType::F32, &Device::Cpu).unwrap();
    let pixels = (pixels + 0.5).unwrap();
    let features = model.encode_images(&pixels, None).unwrap();
    let ids = [1, 2, 3, 422, 422];
    let err = model.embed(&ids, Some(&features)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the prompt has 2 image tokens but the images give 16 feature vectors (1 images x 16 each)"
    );
}

#[test]
fn pixel_values_of_the_wrong_shape_are_refused() {
    let model = tiny();
    let two_channels = Tensor::ones((1, 2, 32, 32), DType::F32, &Device::Cpu).unwrap();
    let err = model.encode_images(&two_channels, None).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    let flat = Tensor::ones((3, 32, 32), DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(
        model.encode_images(&flat, None),
        Err(Error::InvalidInput(_))
    ));
    let tiny_image = Tensor::ones((1, 3, 2, 2), DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(
        model.encode_images(&tiny_image, None),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn prompt_over_the_context_fails_before_any_work() {
    let model = tiny(); // context 1024
    let mut session = Session::new(&model, GenerationParams::greedy(10, vec![511])).unwrap();
    let err = session.prefill(&vec![100u32; 1020], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "prompt of 1020 tokens plus 10 new tokens exceeds the model's context of 1024 tokens; \
         ask for fewer new tokens or use fewer image tiles"
    );
    let mut session = Session::new(&model, GenerationParams::greedy(1, vec![511])).unwrap();
    let err = session.prefill(&vec![100u32; 2000], None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ContextOverflow {
                prompt_tokens: 2000,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn min_new_tokens_above_max_new_tokens_is_refused() {
    let model = tiny();
    let mut params = GenerationParams::greedy(4, vec![511]);
    params.min_new_tokens = 5;
    let err = Session::new(&model, params).err().unwrap();
    assert_eq!(
        err.to_string(),
        "invalid input: min_new_tokens (5) is larger than max_new_tokens (4)"
    );
}
