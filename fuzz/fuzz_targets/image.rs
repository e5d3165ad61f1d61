//! A picture as a visitor picks, drops or pastes it: decoded with the default limits, then
//! planned and preprocessed at SmolVLM2's settings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smolvlm::processor::{decode_image, ImageProcessor, ImageProcessorConfig, Tiles};

fuzz_target!(|data: &[u8]| {
    let Ok(image) = decode_image(data, &Default::default()) else {
        return;
    };
    // Small settings keep each run fast; the plan and the resize are what is checked.
    let processor = ImageProcessor::new(ImageProcessorConfig {
        longest_edge: 128,
        max_image_longest_edge: 32,
        ..Default::default()
    });
    let _ = processor.preprocess(&image, Tiles::Max(4));
});
