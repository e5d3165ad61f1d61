//! The JSON files of a Hub folder: config.json, generation_config.json, the image
//! settings, processor_config.json and tokenizer.json with tokenizer_config.json.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smolvlm::processor::{ImageProcessorConfig, ProcessorConfig};
use smolvlm::tokenizer::Tokenizer;
use smolvlm::{Config, GenerationConfig};

fuzz_target!(|data: &[u8]| {
    let _ = Config::from_json(data);
    let _ = GenerationConfig::from_json(data);
    let _ = ImageProcessorConfig::from_preprocessor_json(data);
    let _ = ProcessorConfig::from_json(data);
    let _ = Tokenizer::from_json(data, None);
    let _ = Tokenizer::from_json(data, Some(data));
});
