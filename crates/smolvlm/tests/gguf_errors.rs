//! Bad GGUF input: each gives an error that names the file and what is wrong, never a
//! panic. The files are the llama.cpp-written fixtures, cut or edited.

mod gguf_support;
mod model_support;

use candle_core::quantized::gguf_file::Value;
use candle_core::Device;
use gguf_support::*;
use smolvlm::gguf::{quantize_checkpoint, GgufModel, GgufPair, QuantType};

fn text() -> Vec<u8> {
    read("gguf/tiny-split-Q8_0.gguf")
}

fn mmproj() -> Vec<u8> {
    read("gguf/mmproj-tiny-split-Q8_0.gguf")
}

/// The error of loading this pair all the way to a model.
fn load_error(text: Vec<u8>, mmproj: Vec<u8>) -> String {
    match GgufModel::from_bytes("model.gguf", text, "mmproj.gguf", mmproj, &Device::Cpu) {
        Ok(_) => panic!("the pair loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_truncated_header_is_refused() {
    let mut t = text();
    t.truncate(5000); // inside the vocabulary
    let err = load_error(t, mmproj());
    assert!(err.starts_with("model.gguf: file is truncated"), "{err}");
    assert!(err.contains("tokenizer.ggml."), "{err}");
}

#[test]
fn truncated_tensor_data_is_refused_before_any_tensor_is_read() {
    let mut m = mmproj();
    m.truncate(m.len() - 100);
    let err = load_error(text(), m);
    assert!(
        err.starts_with("mmproj.gguf: file is truncated: tensor `v.post_ln.weight`"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_gguf_is_refused() {
    let err = load_error(read("tiny-split/model.safetensors"), mmproj());
    assert_eq!(
        err,
        "model.gguf: not a GGUF file (it does not start with the bytes `GGUF`)"
    );
}

#[test]
fn corrupt_metadata_is_refused() {
    let mut t = text();
    // The type code of the first key/value, `general.architecture` (after the 24-byte
    // header, the key's 8-byte length and its 20 bytes).
    let at = 24 + 8 + "general.architecture".len();
    t[at..at + 4].copy_from_slice(&99u32.to_le_bytes());
    let err = load_error(t, mmproj());
    assert_eq!(
        err,
        "model.gguf: metadata `general.architecture`: unknown value type 99"
    );
}

#[test]
fn a_huge_declared_array_is_refused_without_allocating_it() {
    let mut t = text();
    let p = smolvlm::gguf::format::parse(&t).unwrap();
    assert!(p.metadata.iter().any(|(k, _)| k == "tokenizer.ggml.tokens"));
    // Find the token array's length field: the key, its type (9), element type (8), length.
    let key = b"tokenizer.ggml.tokens";
    let at = t.windows(key.len()).position(|w| w == key).unwrap() + key.len() + 8;
    t[at..at + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    let err = load_error(t, mmproj());
    assert!(
        err.starts_with(
            "model.gguf: file is truncated or corrupt: metadata `tokenizer.ggml.tokens`"
        ),
        "{err}"
    );
}

#[test]
fn another_text_architecture_is_refused() {
    let mut e = edit(&text());
    e.set("general.architecture", Value::String("qwen2".into()));
    let err = load_error(e.bytes(), mmproj());
    assert_eq!(
        err,
        "model.gguf: architecture `qwen2` is not SmolVLM2's: the text GGUF must be `llama` and \
         the vision GGUF a `clip` mmproj with the idefics3 projector"
    );
}

#[test]
fn another_projector_is_refused() {
    let mut e = edit(&mmproj());
    e.set("clip.projector_type", Value::String("gemma3".into()));
    let err = load_error(text(), e.bytes());
    assert_eq!(
        err,
        "mmproj.gguf: mmproj projector type `gemma3` is not SmolVLM's: only `idefics3` is supported"
    );
}

#[test]
fn the_mmproj_given_as_the_text_model_is_refused() {
    let err = load_error(mmproj(), text());
    assert_eq!(
        err,
        "model.gguf: this is the vision half of a pair (an idefics3 mmproj), given where the \
         text model GGUF (architecture llama) belongs"
    );
}

#[test]
fn the_text_model_given_as_the_mmproj_is_refused() {
    let err = load_error(text(), text());
    assert_eq!(
        err,
        "mmproj.gguf: this is a text model GGUF (architecture llama), given where the vision \
         half (an idefics3 mmproj) belongs"
    );
}

#[test]
fn a_missing_text_tensor_is_named() {
    let mut e = edit(&text());
    e.remove_tensor("blk.1.ffn_up.weight");
    let err = load_error(e.bytes(), mmproj());
    assert_eq!(
        err,
        "model.gguf: missing tensor `blk.1.ffn_up.weight (the model's \
         model.text_model.layers.1.mlp.up_proj.weight)`"
    );
}

#[test]
fn a_missing_vision_tensor_is_named() {
    let mut e = edit(&mmproj());
    e.remove_tensor("mm.model.fc.weight");
    let err = load_error(text(), e.bytes());
    assert_eq!(
        err,
        "mmproj.gguf: missing tensor `mm.model.fc.weight (the model's \
         model.connector.modality_projection.proj.weight)`"
    );
}

#[test]
fn a_missing_metadata_key_is_named() {
    let mut e = edit(&text());
    e.remove_key("llama.block_count");
    let err = load_error(e.bytes(), mmproj());
    assert_eq!(err, "model.gguf: metadata `llama.block_count` is missing");
}

#[test]
fn metadata_that_contradicts_the_tensors_is_refused() {
    let mut e = edit(&text());
    e.set("llama.feed_forward_length", Value::U32(96));
    let err = load_error(e.bytes(), mmproj());
    assert_eq!(
        err,
        "model.gguf + mmproj.gguf: tensor `model.text_model.layers.0.mlp.gate_proj.weight` has \
         shape [64, 32], the config expects [96, 32]"
    );
}

#[test]
fn two_files_that_are_not_one_pair_are_refused() {
    let mut e = edit(&mmproj());
    e.set("clip.vision.projection_dim", Value::U32(64));
    let err = load_error(text(), e.bytes());
    assert_eq!(
        err,
        "mmproj.gguf: the mmproj projects to width 64, but the text model `model.gguf` has \
         width 32: these two files are not a pair"
    );
}

#[test]
fn a_tokenizer_that_is_not_byte_level_bpe_is_refused() {
    let mut e = edit(&text());
    e.set("tokenizer.ggml.model", Value::String("llama".into()));
    let err = load_error(e.bytes(), mmproj());
    assert_eq!(
        err,
        "model.gguf: tokenizer model `llama` is not byte-level BPE (`gpt2`, SmolVLM2's); put \
         the checkpoint's tokenizer.json beside the GGUF instead"
    );
}

#[test]
fn an_unknown_pre_tokenizer_is_refused() {
    let mut e = edit(&text());
    e.set("tokenizer.ggml.pre", Value::String("qwen2".into()));
    let pair = GgufPair::from_bytes("model.gguf", e.bytes(), "mmproj.gguf", mmproj()).unwrap();
    let err = pair.tokenizer().unwrap_err().to_string();
    assert_eq!(
        err,
        "model.gguf: BPE pre-tokenizer `qwen2` is not one this crate rebuilds (SmolVLM2's is \
         `smollm`); put the checkpoint's tokenizer.json beside the GGUF instead"
    );
}

#[test]
fn an_unsupported_gguf_version_is_refused() {
    let mut t = text();
    t[4..8].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(
        load_error(t.clone(), mmproj()),
        "model.gguf: GGUF version 1 is not supported (nor by llama.cpp)"
    );
    t[4..8].copy_from_slice(&3u32.to_be_bytes());
    assert_eq!(
        load_error(t, mmproj()),
        "model.gguf: version 50331648 reads as a big-endian GGUF file, which is not supported"
    );
}

#[test]
fn a_bad_alignment_is_refused() {
    let mut e = edit(&text());
    e.set("general.alignment", Value::U32(32));
    let mut bytes = e.bytes();
    // Now make the stored alignment 0 (a crafted file): an error, not a division by zero.
    let key = b"general.alignment";
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len() + 4;
    bytes[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(
        load_error(bytes, mmproj()),
        "model.gguf: metadata `general.alignment` = 0 is not a power of two of at most 1 MiB"
    );
}

#[test]
fn quantize_refuses_a_tokenizer_that_is_not_smollm2s() {
    let mut ckpt = checkpoint("tiny-split");
    let mut tok: serde_json::Value = serde_json::from_slice(&ckpt.tokenizer_json).unwrap();
    tok["pre_tokenizer"] = serde_json::json!({"type": "Whitespace"});
    ckpt.tokenizer_json = serde_json::to_vec(&tok).unwrap();
    let err = quantize_checkpoint(ckpt, QuantType::Q8_0)
        .err()
        .expect("quantize accepted it")
        .to_string();
    assert_eq!(
        err,
        "tokenizer.json: the pre-tokenizer is not SmolLM2's (Digits + ByteLevel), the only one \
         written to GGUF"
    );
}

#[test]
fn quantize_refuses_a_corrupt_checkpoint() {
    let mut ckpt = checkpoint("tiny-split");
    let len = ckpt.safetensors[0].1.len();
    ckpt.safetensors[0].1.truncate(len / 2);
    let err = quantize_checkpoint(ckpt, QuantType::F16)
        .err()
        .expect("quantize accepted it")
        .to_string();
    assert!(
        err.starts_with("model.safetensors: cannot read weights:"),
        "{err}"
    );
}

/// A GGUF header by hand: version 3, no tensors, `kvs` already encoded key/values.
fn header(n_kv: u64, kvs: &[u8]) -> Vec<u8> {
    let mut f = b"GGUF".to_vec();
    f.extend(3u32.to_le_bytes());
    f.extend(0u64.to_le_bytes());
    f.extend(n_kv.to_le_bytes());
    f.extend_from_slice(kvs);
    f
}

fn kv_u8(key: &str, v: u8) -> Vec<u8> {
    let mut b = (key.len() as u64).to_le_bytes().to_vec();
    b.extend(key.as_bytes());
    b.extend(0u32.to_le_bytes()); // u8
    b.push(v);
    b
}

/// 200,000 keys parse in linear time (the duplicate check was quadratic: 47 s), and a
/// duplicate among them is still found.
#[test]
fn many_metadata_keys_are_checked_for_duplicates_in_linear_time() {
    let n = 200_000;
    let mut kvs = Vec::new();
    for i in 0..n {
        kvs.extend(kv_u8(&format!("k.{i}"), 1));
    }
    let parsed = smolvlm::gguf::format::parse(&header(n as u64, &kvs)).unwrap();
    assert_eq!(parsed.metadata.len(), n);
    kvs.extend(kv_u8("k.123", 2));
    let err = smolvlm::gguf::format::parse(&header(n as u64 + 1, &kvs)).unwrap_err();
    assert_eq!(err, "metadata key `k.123` appears twice");
}

/// A 20 MB array of bytes would be 640 MB of parsed values: refused by the budget of 4x
/// the file, before the array is built.
#[test]
fn a_metadata_array_larger_than_the_memory_budget_is_refused() {
    let n = 20_000_000u64;
    let key = "general.padding";
    let mut kv = (key.len() as u64).to_le_bytes().to_vec();
    kv.extend(key.as_bytes());
    kv.extend(9u32.to_le_bytes()); // array
    kv.extend(0u32.to_le_bytes()); // of u8
    kv.extend(n.to_le_bytes());
    kv.resize(kv.len() + n as usize, 7);
    let err = smolvlm::gguf::format::parse(&header(1, &kv)).unwrap_err();
    assert!(
        err.starts_with(
            "metadata `general.padding`: 20000000 metadata values in all would take more than 4x"
        ),
        "{err}"
    );
    // The real files are far inside the budget.
    smolvlm::gguf::format::parse(&text()).unwrap();
    smolvlm::gguf::format::parse(&read("gguf/tiny-split-F32.gguf")).unwrap();
}

/// 100,000 tensor descriptions (a 4 MB file) parse in linear time (the duplicate check
/// was quadratic: 18 s), and a duplicate name among them is still found.
#[test]
fn many_tensors_are_checked_for_duplicates_in_linear_time() {
    use smolvlm::gguf::format::{parse, write, TensorOut};
    fn scalar<'a>(name: &'a str, data: &'a [u8]) -> TensorOut<'a> {
        TensorOut {
            name,
            dtype: candle_core::quantized::GgmlDType::F32,
            dims: &[1],
            data,
        }
    }
    let n = 100_000;
    let names: Vec<String> = (0..n).map(|i| format!("t.{i}")).collect();
    let data = 1f32.to_le_bytes();
    let mut tensors: Vec<TensorOut> = names.iter().map(|s| scalar(s, &data)).collect();
    let parsed = parse(&write(&[], &tensors).unwrap()).unwrap();
    assert_eq!(parsed.tensors.len(), n);
    tensors.push(scalar("t.4242", &data));
    let err = parse(&write(&[], &tensors).unwrap()).unwrap_err();
    assert_eq!(err, "tensor `t.4242` appears twice");
}
