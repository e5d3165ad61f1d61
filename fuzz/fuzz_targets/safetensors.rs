//! A `model.safetensors` (its header and the offsets it claims), then the config that would
//! come with it: errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smolvlm::SafetensorsSource;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = SafetensorsSource::from_shards(vec![("model.safetensors".into(), data.to_vec())])
    else {
        return;
    };
    let _ = source.names();
});
