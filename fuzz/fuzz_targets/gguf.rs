//! A GGUF pair as a link or picked files bring it: the input is a little-endian u32 `n`,
//! then the text `.gguf` (n bytes), then the mmproj `.gguf` (the rest). Each file is parsed
//! and read alone (its kind, image settings, stop ids), then as a pair (config, tokenizer,
//! template): errors, never a panic. `cargo xtask fuzz` seeds it with the fixtures' pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smolvlm::gguf::{generation_config, image_processor_config, GgufFile, GgufPair};

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let n = (u32::from_le_bytes(*head) as usize).min(rest.len());
    let (text, mmproj) = rest.split_at(n);
    let read = |name: &str, bytes: &[u8]| {
        let file = GgufFile::from_bytes(name, bytes.to_vec()).ok()?;
        let _ = file.kind();
        let _ = image_processor_config(&file);
        let _ = generation_config(&file);
        Some(file)
    };
    let (Some(text), Some(mmproj)) = (read("text.gguf", text), read("mmproj.gguf", mmproj)) else {
        return;
    };
    if let Ok(pair) = GgufPair::new(text, mmproj) {
        let _ = pair.config();
        let _ = pair.tokenizer();
        let _ = pair.chat_template();
    }
});
