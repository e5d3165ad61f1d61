//! Loading and running on the CPU, as the CLI and the browser worker do, against
//! transformers' reference outputs for the tiny fixture checkpoints
//! (crates/smolvlm/tests/fixtures): runs in steps, Stop between steps, the checks made
//! before any work, and what a bad picture is told. The browser runs this same code
//! compiled to wasm32; the browser tests compare it with the CLI.

mod common;

use candle_core::Device;
use common::*;
use ocr_protocol::{FailureKind, StopKind};
use smolvlm::bundle::{self, Files, Layout, BESIDE};
use smolvlm_runtime::{picture, Backend, Engine, Picture, RunSpec, Step};

#[test]
fn a_hub_folder_loads_and_runs_as_transformers_does() {
    let engine = Engine::new(hub("tiny-split"), None);
    for name in [
        "split_rgb37x53",
        "split_rgb37x53_tiles4",
        "split_exif_tiles0",
    ] {
        let c = case(name);
        let (outcome, events) = run_case(&engine, &c);
        assert_eq!(
            outcome.prompt_ids,
            ids(&c["prompt_ids"]),
            "{name}: prompt ids"
        );
        assert_eq!(
            outcome.generated_ids,
            ids(&c["generation"]["generated_ids"]),
            "{name}: generated ids"
        );
        assert_eq!(
            outcome.text,
            c["generation"]["text"].as_str().unwrap(),
            "{name}: text"
        );
        assert_eq!(outcome.backend, Backend::Cpu);
        assert_ne!(outcome.stop, StopKind::Stopped);
        // Every frame was told, in order, before it was encoded.
        let frames = outcome.timings.frames;
        assert!(frames > 0);
        let want: Vec<(u32, u32)> = (0..frames).map(|i| (i, frames)).collect();
        assert_eq!(events.encoding, want, "{name}");
        assert!(events.notices.is_empty(), "{name}: {:?}", events.notices);
        let t = &outcome.timings;
        assert!(
            t.first_token_ms >= t.prefill_ms && t.prefill_ms >= 0.0,
            "{t:?}"
        );
    }
}

#[test]
fn llama_cpps_f32_gguf_pair_loads_and_runs_as_transformers_does() {
    let dir = fixtures().join("gguf");
    let mut files = Files::new();
    files.insert(
        "tiny-split-F32.gguf",
        read(&dir.join("tiny-split-F32.gguf")),
    );
    files.insert(
        "mmproj-tiny-split-F32.gguf",
        read(&dir.join("mmproj-tiny-split-F32.gguf")),
    );
    let layout = bundle::layout_of_picked(&files).unwrap();
    assert_eq!(
        layout,
        Layout::Gguf {
            text: "tiny-split-F32.gguf".into(),
            mmproj: "mmproj-tiny-split-F32.gguf".into(),
            either_order: true,
        }
    );
    let engine = Engine::new(bundle::load(&layout, files, &Device::Cpu).unwrap(), None);
    let c = case("split_rgb37x53");
    let (outcome, _) = run_case(&engine, &c);
    assert_eq!(outcome.prompt_ids, ids(&c["prompt_ids"]));
    assert_eq!(
        outcome.generated_ids,
        ids(&c["generation"]["generated_ids"])
    );
}

/// Stop read between two frames ends the run there, with nothing generated; Stop between
/// two tokens keeps the tokens made so far.
#[test]
fn stop_between_steps_ends_the_run_keeping_what_was_made() {
    let engine = Engine::new(hub("tiny-split"), None);
    let c = case("split_rgb37x53");

    let mut events = Recorded::default();
    let mut run = start_case(&engine, &c, &mut events);
    assert_eq!(run.step_blocking(&mut events).unwrap(), Step::Encoded);
    assert_eq!(run.step_blocking(&mut events).unwrap(), Step::Encoded);
    let outcome = run.stop().unwrap();
    assert_eq!(outcome.stop, StopKind::Stopped);
    assert!(outcome.generated_ids.is_empty());
    assert_eq!(events.encoding.len(), 2);
    assert!(outcome.timings.frames > 2);

    let want = ids(&c["generation"]["generated_ids"]);
    let mut events = Recorded::default();
    let mut run = start_case(&engine, &c, &mut events);
    let mut tokens = Vec::new();
    while tokens.len() < 3 {
        if let Step::Token(id) = run.step_blocking(&mut events).unwrap() {
            tokens.push(id);
        }
    }
    assert_eq!(run.generated(), &want[..3]);
    let outcome = run.stop().unwrap();
    assert_eq!(outcome.stop, StopKind::Stopped);
    assert_eq!(outcome.generated_ids, &want[..3]);
    assert_eq!(tokens, &want[..3]);
}

/// A prompt that cannot fit the context, or bad parameters, fail when the run starts:
/// before the picture's frames are encoded.
#[test]
fn the_token_budget_is_checked_before_the_picture_is_encoded() {
    let engine = Engine::new(hub("tiny-split"), None);
    let image = read(&fixtures().join("images/rgb_37x53.png"));
    for max_new_tokens in [100_000, usize::MAX] {
        let mut events = Recorded::default();
        let spec = RunSpec {
            prompt: "Read.",
            image: Some(Picture::File(&image)),
            tiles: smolvlm::processor::Tiles::All,
            params: engine.greedy(max_new_tokens, 0),
        };
        let e = engine.start(spec, &clock_ms, &mut events).err().unwrap();
        assert_eq!(e.kind, FailureKind::BadRequest, "{}", e.message);
        assert!(
            e.message.contains("exceeds the model's context"),
            "{}",
            e.message
        );
        assert!(events.encoding.is_empty());
    }
    let mut events = Recorded::default();
    let spec = RunSpec {
        prompt: "Read.",
        image: Some(Picture::File(&image)),
        tiles: smolvlm::processor::Tiles::All,
        params: engine.greedy(4, 5),
    };
    let e = engine.start(spec, &clock_ms, &mut events).err().unwrap();
    assert_eq!(e.kind, FailureKind::BadRequest);
    assert!(e.message.contains("min_new_tokens"), "{}", e.message);
}

#[test]
fn a_text_only_prompt_runs_without_frames() {
    let engine = Engine::new(hub("tiny-split"), None);
    let mut events = Recorded::default();
    let spec = RunSpec {
        prompt: "Hello",
        image: None,
        tiles: smolvlm::processor::Tiles::All,
        params: engine.greedy(5, 5),
    };
    let mut run = engine.start(spec, &clock_ms, &mut events).unwrap();
    assert_eq!(run.frames(), 0);
    assert_eq!(run.step_blocking(&mut events).unwrap(), Step::Prefilled);
    let outcome = finish(&mut run, &mut events);
    assert_eq!(outcome.generated_ids.len(), 5);
    assert_eq!(outcome.stop, StopKind::MaxNewTokens);
    assert!(events.encoding.is_empty());
}

#[test]
fn picked_gguf_files_whose_names_do_not_say_which_is_which_still_load() {
    let dir = fixtures().join("gguf");
    let mut files = Files::new();
    // "a.gguf" is the mmproj, "b.gguf" the text model: the order is read from the files.
    files.insert("a.gguf", read(&dir.join("mmproj-tiny-split-Q8_0.gguf")));
    files.insert("b.gguf", read(&dir.join("tiny-split-Q8_0.gguf")));
    let layout = bundle::layout_of_picked(&files).unwrap();
    let loaded = bundle::load(&layout, files, &Device::Cpu).unwrap();
    assert_eq!(loaded.model.config().image_seq_len(), 16);
}

/// What the runtime relies on to encode a picture one frame at a time.
#[test]
fn frame_by_frame_encoding_equals_the_batched_encoding() {
    let loaded = hub("tiny-split");
    let image = read(&fixtures().join("images/rgb_37x53.png"));
    let processor = loaded.image_processor.as_ref().unwrap();
    let out = processor
        .preprocess_bytes(&image, smolvlm::processor::Tiles::All)
        .unwrap();
    let n = out.num_frames;
    let px = candle_core::Tensor::from_vec(
        out.pixel_values,
        (n, 3, out.height, out.width),
        &Device::Cpu,
    )
    .unwrap();
    let mask = candle_core::Tensor::from_vec(
        out.pixel_attention_mask,
        (n, out.height, out.width),
        &Device::Cpu,
    )
    .unwrap();
    let flat = |t: candle_core::Tensor| -> Vec<f32> { t.flatten_all().unwrap().to_vec1().unwrap() };
    let batched = flat(loaded.model.encode_images(&px, Some(&mask)).unwrap());
    let mut one_by_one = Vec::new();
    for i in 0..n {
        let p = px.narrow(0, i, 1).unwrap();
        let m = mask.narrow(0, i, 1).unwrap();
        one_by_one.extend(flat(loaded.model.encode_images(&p, Some(&m)).unwrap()));
    }
    assert_eq!(n, 13);
    assert_eq!(one_by_one.len(), batched.len());
    let differing = one_by_one
        .iter()
        .zip(&batched)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(
        differing, 0,
        "frame-by-frame features must be bit-identical"
    );
}

#[test]
fn a_hub_folder_without_its_tokenizer_names_the_file() {
    let mut files = folder(&fixtures().join("tiny-split"));
    files.take("tokenizer.json");
    let e = bundle::layout_of_picked(&files).err().unwrap().to_string();
    assert!(e.contains("no tokenizer.json"), "{e}");
    let e = bundle::load(&Layout::HubFolder, files, &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("tokenizer.json"), "{e}");
}

#[test]
fn a_truncated_gguf_is_refused_with_its_name() {
    let dir = fixtures().join("gguf");
    let mut text = read(&dir.join("tiny-split-Q8_0.gguf"));
    text.truncate(text.len() / 2);
    let mut files = Files::new();
    files.insert("tiny-split-Q8_0.gguf", text);
    files.insert(
        "mmproj-tiny-split-Q8_0.gguf",
        read(&dir.join("mmproj-tiny-split-Q8_0.gguf")),
    );
    let layout = bundle::layout_of_picked(&files).unwrap();
    let e = bundle::load(&layout, files, &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("tiny-split-Q8_0.gguf"), "{e}");
}

#[test]
fn two_text_models_are_not_a_pair() {
    let dir = fixtures().join("gguf");
    let mut files = Files::new();
    files.insert("a.gguf", read(&dir.join("tiny-split-Q8_0.gguf")));
    files.insert("b.gguf", read(&dir.join("tiny-split-F16.gguf")));
    let layout = bundle::layout_of_picked(&files).unwrap();
    let e = bundle::load(&layout, files, &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("text model GGUF"), "{e}");
}

#[test]
fn bad_pictures_get_their_own_failures() {
    let images = fixtures().join("images");
    let e = picture::inspect(&read(&images.join("corrupt_truncated.png")), None).unwrap_err();
    assert_eq!(e.kind, FailureKind::ImageCorrupt, "{e}");
    let e = picture::inspect(b"GIF89a....", None).unwrap_err();
    assert_eq!(e.kind, FailureKind::ImageUnsupported, "{e}");
    assert!(e.message.contains("PNG, JPEG or WebP"), "{e}");
    let e = picture::inspect(b"hello", None).unwrap_err();
    assert_eq!(e.kind, FailureKind::ImageUnsupported, "{e}");
}

#[test]
fn a_picture_announcing_too_many_pixels_is_refused_naming_the_limit() {
    // A PNG signature and an IHDR chunk of 10000 x 10000 (no pixel data): the header alone
    // is enough to refuse it.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(10_000u32.to_be_bytes());
    ihdr.extend(10_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    let e = picture::inspect(&png, None).unwrap_err();
    assert_eq!(e.kind, FailureKind::ImageTooLarge, "{e}");
    assert!(e.message.contains("50000000"), "{e}");
}

#[test]
fn tiles_are_planned_before_the_model_loads() {
    let settings = ocr_protocol::models::default_choice().image;
    let cfg = picture::config_of(&settings);
    let image = read(&fixtures().join("images/big_300x170.png"));
    let (w, h, plan) = picture::inspect(&image, Some(&cfg)).unwrap();
    assert_eq!((w, h), (300, 170));
    // 300x170 -> longest edge 2048 -> 2048x1161 -> 2048x1536 in 512 tiles: 3 rows x 4 cols.
    let plan = plan.unwrap();
    assert_eq!((plan.rows, plan.cols, plan.frames_full), (3, 4, 13));
}

#[test]
fn every_optional_file_name_is_a_plain_name() {
    assert!(BESIDE.iter().all(|n| !n.contains('/')));
}

/// CRC-32 (IEEE), for the hand-made PNG chunk above.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A picture whose frames cannot fit the context (here: settings that resize to the
/// largest edge allowed, 8192, so a 300x170 picture makes thousands of 32-pixel tiles of 16
/// tokens each against a context of 1024) is refused from its size alone, before it is
/// resized or encoded.
#[test]
fn a_picture_of_too_many_frames_is_refused_before_it_is_resized() {
    let mut loaded = hub("tiny-split");
    let mut cfg = loaded.image_processor.as_ref().unwrap().config.clone();
    cfg.longest_edge = smolvlm::processor::MAX_EDGE;
    loaded.image_processor = Some(smolvlm::processor::ImageProcessor::new(cfg));
    let engine = Engine::new(loaded, None);
    let image = read(&fixtures().join("images/big_300x170.png"));
    let mut events = Recorded::default();
    let spec = RunSpec {
        prompt: "Read.",
        image: Some(Picture::File(&image)),
        tiles: smolvlm::processor::Tiles::All,
        params: engine.greedy(4, 0),
    };
    let e = engine.start(spec, &clock_ms, &mut events).err().unwrap();
    assert_eq!(e.kind, FailureKind::BadRequest);
    assert!(
        e.message
            .contains("frames of 16 image tokens each, more than this model's context of 1024"),
        "{}",
        e.message
    );
    assert!(e.message.contains("fewer tiles"), "{}", e.message);
    assert!(events.encoding.is_empty());
}
