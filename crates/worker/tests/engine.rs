//! The worker's loading and running code, natively, against transformers' reference
//! outputs for the tiny fixture checkpoints (crates/smolvlm/tests/fixtures). The browser
//! runs this same code compiled to wasm32; the browser tests compare it with the CLI.

use std::path::{Path, PathBuf};

use ocr_protocol::{FailureKind, Tiles};
use ocr_worker::bundle::{self, Files, Layout, BESIDE};
use ocr_worker::engine;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../smolvlm/tests/fixtures")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn case(name: &str) -> Value {
    serde_json::from_slice(&read(&fixtures().join(format!("expected/{name}.json")))).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Every file of a folder, by name.
fn folder(dir: &Path) -> Files {
    let mut files = Files::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        files.insert(
            entry.file_name().to_string_lossy().into_owned(),
            read(&entry.path()),
        );
    }
    files
}

/// Runs a reference case the way the worker does: frame by frame, then token by token.
fn run(loaded: &bundle::Loaded, case: &Value) -> (Vec<u32>, Vec<u32>, String) {
    let image = read(&fixtures().join(case["image"].as_str().unwrap()));
    let cli = &case["cli"];
    // "all", or a number of tiles.
    let tiles: Tiles = match &cli["tiles"] {
        Value::String(s) => s.parse().unwrap(),
        n => n.to_string().parse().unwrap(),
    };
    let max = cli["max_new_tokens"].as_u64().unwrap() as u32;
    let min = cli["min_new_tokens"].as_u64().unwrap() as u32;
    let mut prepared = engine::prepare(
        loaded,
        case["prompt"].as_str().unwrap(),
        Some(&image),
        tiles,
    )
    .unwrap();
    while prepared.encode_next(loaded).unwrap() {}
    assert_eq!(prepared.encoded(), prepared.frames);
    let mut session = engine::start(loaded, &prepared, max, min).unwrap();
    while engine::next_token(&mut session).unwrap().is_some() {}
    let generated = session.generated().to_vec();
    let text = engine::text(loaded, &generated).unwrap();
    (prepared.prompt_ids.clone(), generated, text)
}

#[test]
fn a_hub_folder_loads_and_runs_as_transformers_does() {
    let loaded = bundle::load(
        &Layout::HubFolder,
        folder(&fixtures().join("tiny-split")),
        &engine::cpu(),
    )
    .unwrap();
    for name in [
        "split_rgb37x53",
        "split_rgb37x53_tiles4",
        "split_exif_tiles0",
    ] {
        let c = case(name);
        let (prompt, generated, text) = run(&loaded, &c);
        assert_eq!(prompt, ids(&c["prompt_ids"]), "{name}: prompt ids");
        assert_eq!(
            generated,
            ids(&c["generation"]["generated_ids"]),
            "{name}: generated ids"
        );
        assert_eq!(
            text,
            c["generation"]["text"].as_str().unwrap(),
            "{name}: text"
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
    let loaded = bundle::load(&layout, files, &engine::cpu()).unwrap();
    let c = case("split_rgb37x53");
    let (prompt, generated, _) = run(&loaded, &c);
    assert_eq!(prompt, ids(&c["prompt_ids"]));
    assert_eq!(generated, ids(&c["generation"]["generated_ids"]));
}

#[test]
fn picked_gguf_files_whose_names_do_not_say_which_is_which_still_load() {
    let dir = fixtures().join("gguf");
    let mut files = Files::new();
    // "a.gguf" is the mmproj, "b.gguf" the text model: the order is read from the files.
    files.insert("a.gguf", read(&dir.join("mmproj-tiny-split-Q8_0.gguf")));
    files.insert("b.gguf", read(&dir.join("tiny-split-Q8_0.gguf")));
    let layout = bundle::layout_of_picked(&files).unwrap();
    let loaded = bundle::load(&layout, files, &engine::cpu()).unwrap();
    assert_eq!(loaded.model.config().image_seq_len(), 16);
}

#[test]
fn frame_by_frame_encoding_equals_the_batched_encoding() {
    let loaded = bundle::load(
        &Layout::HubFolder,
        folder(&fixtures().join("tiny-split")),
        &engine::cpu(),
    )
    .unwrap();
    let image = read(&fixtures().join("images/rgb_37x53.png"));
    let mut prepared = engine::prepare(&loaded, "Read.", Some(&image), Tiles::All).unwrap();
    while prepared.encode_next(&loaded).unwrap() {}
    let one_by_one: Vec<f32> = prepared
        .features()
        .unwrap()
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let processor = loaded.image_processor.as_ref().unwrap();
    let out = processor
        .preprocess_bytes(&image, smolvlm::processor::Tiles::All)
        .unwrap();
    let n = out.num_frames;
    let px = candle_core::Tensor::from_vec(
        out.pixel_values,
        (n, 3, out.height, out.width),
        &engine::cpu(),
    )
    .unwrap();
    let mask = candle_core::Tensor::from_vec(
        out.pixel_attention_mask,
        (n, out.height, out.width),
        &engine::cpu(),
    )
    .unwrap();
    let batched: Vec<f32> = loaded
        .model
        .encode_images(&px, Some(&mask))
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
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
    let e = bundle::load(&Layout::HubFolder, files, &engine::cpu())
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
    let e = bundle::load(&layout, files, &engine::cpu())
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
    let e = bundle::load(&layout, files, &engine::cpu())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("text model GGUF"), "{e}");
}

#[test]
fn bad_pictures_get_their_own_failures() {
    let images = fixtures().join("images");
    let e = engine::inspect(&read(&images.join("corrupt_truncated.png")), None).unwrap_err();
    assert_eq!(e.kind, FailureKind::ImageCorrupt, "{e}");
    let e = engine::inspect(b"GIF89a....", None).unwrap_err();
    assert_eq!(e.kind, FailureKind::ImageUnsupported, "{e}");
    assert!(e.message.contains("PNG, JPEG or WebP"), "{e}");
    let e = engine::inspect(b"hello", None).unwrap_err();
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
    let e = engine::inspect(&png, None).unwrap_err();
    assert_eq!(e.kind, FailureKind::ImageTooLarge, "{e}");
    assert!(e.message.contains("50000000"), "{e}");
}

#[test]
fn tiles_are_planned_before_the_model_loads() {
    let settings = ocr_protocol::models::default_choice().image;
    let cfg = engine::config_of(&settings);
    let image = read(&fixtures().join("images/big_300x170.png"));
    let (w, h, plan) = engine::inspect(&image, Some(&cfg)).unwrap();
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
