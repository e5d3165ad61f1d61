//! Image preprocessing against transformers' `SmolVLMImageProcessorPil` (Pillow 13,
//! LANCZOS): the fixtures hold its uint8 frames (called with `do_rescale=False,
//! do_normalize=False`) and statistics of its normalized `pixel_values`, for every image
//! case of `tests/fixtures/expected/*.json` (see the fixtures' README for the schema).

use std::path::{Path, PathBuf};

use serde_json::Value;
use smolvlm::processor::{
    decode_image, normalize_and_pad, DecodeOptions, ImageProcessor, ImageProcessorConfig, Plan,
    RgbImage, Tiles,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// Every expected case that has an image, with its name.
fn image_cases() -> Vec<(String, Value)> {
    let dir = fixtures().join("expected");
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/expected")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let case: Value = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
            case.get("image")?.as_str()?;
            Some((p.file_stem()?.to_string_lossy().into_owned(), case))
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        cases.len() >= 8,
        "expected the fixtures' image cases, found {}",
        cases.len()
    );
    cases
}

fn processor(model: &str) -> ImageProcessor {
    let pre = read(&format!("{model}/preprocessor_config.json"));
    let proc = read(&format!("{model}/processor_config.json"));
    ImageProcessor::new(
        ImageProcessorConfig::from_checkpoint_json(Some(&pre), Some(&proc)).unwrap(),
    )
}

fn tiles(case: &Value) -> Tiles {
    match &case["cli"]["tiles"] {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => Tiles::Max(n.as_u64().unwrap() as u32),
        other => panic!("cli.tiles: {other}"),
    }
}

fn decode_case(case: &Value) -> RgbImage {
    decode_image(
        &read(case["image"].as_str().unwrap()),
        &DecodeOptions::default(),
    )
    .unwrap()
}

fn reference_frames(case: &Value) -> Vec<RgbImage> {
    case["preprocess"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let png = image::load_from_memory(&read(f["png"].as_str().unwrap()))
                .unwrap()
                .to_rgb8();
            RgbImage::new(png.width(), png.height(), png.into_raw()).unwrap()
        })
        .collect()
}

fn pair(v: &Value) -> Option<(u32, u32)> {
    let a = v.as_array()?;
    Some((a[0].as_u64()? as u32, a[1].as_u64()? as u32))
}

#[test]
fn sizes_and_tile_grid_match_transformers() {
    for (name, case) in image_cases() {
        let p = &case["preprocess"];
        let image = decode_case(&case);
        let ip = processor(case["model"].as_str().unwrap());
        let cfg = ip
            .config
            .with_tiles(tiles(&case), image.width(), image.height());
        let plan = Plan::new(image.width(), image.height(), &cfg);
        // The fixtures write sizes as [height, width].
        let (h, w) = pair(&p["resized_size"]).unwrap();
        assert_eq!(plan.resized, (w, h), "{name}: resized size");
        // The fixtures give the canvas only for images that are actually cut into tiles.
        let canvas = plan.encoder.filter(|_| plan.rows > 0).map(|(w, h)| (h, w));
        assert_eq!(
            canvas,
            pair(&p["split_canvas_size"]),
            "{name}: split canvas"
        );
        assert_eq!(
            (plan.rows as u64, plan.cols as u64),
            (p["rows"].as_u64().unwrap(), p["cols"].as_u64().unwrap())
        );
        assert_eq!(
            plan.frames() as u64,
            p["n_frames"].as_u64().unwrap(),
            "{name}: frames"
        );
    }
}

#[test]
fn resized_pixels_are_within_one_step_of_transformers() {
    let mut report = Vec::new();
    for (name, case) in image_cases() {
        let ip = processor(case["model"].as_str().unwrap());
        let ours = ip.frames(&decode_case(&case), tiles(&case));
        let reference = reference_frames(&case);
        assert_eq!(ours.images.len(), reference.len(), "{name}: frame count");
        let (mut worst, mut off, mut total) = (0u8, 0usize, 0usize);
        for (i, (a, b)) in ours.images.iter().zip(&reference).enumerate() {
            assert_eq!(
                (a.width(), a.height()),
                (b.width(), b.height()),
                "{name} frame {i}: size"
            );
            for (&x, &y) in a.as_raw().iter().zip(b.as_raw()) {
                let d = x.abs_diff(y);
                worst = worst.max(d);
                off += (d > 0) as usize;
            }
            total += a.as_raw().len();
        }
        report.push(format!(
            "{name}: max |diff| {worst}, {off} of {total} values differ"
        ));
        assert!(
            worst <= 1,
            "{name}: a resized pixel is {worst} steps from transformers'"
        );
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn normalization_reproduces_the_reference_pixel_values() {
    for (name, case) in image_cases() {
        let p = &case["preprocess"];
        let ip = processor(case["model"].as_str().unwrap());
        let out = normalize_and_pad(&reference_frames(&case), &ip.config);
        let shape: Vec<u64> = p["pixel_values_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(
            shape,
            [
                1,
                out.num_frames as u64,
                3,
                out.height as u64,
                out.width as u64
            ],
            "{name}: shape"
        );
        let stats = &p["pixel_values_stats"];
        let sum: f64 = out.pixel_values.iter().map(|&v| v as f64).sum();
        let sum_sq: f64 = out.pixel_values.iter().map(|&v| v as f64 * v as f64).sum();
        // Same f32 values summed in another order: only f64 rounding may differ.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert!(
            close(sum, stats["sum"].as_f64().unwrap()),
            "{name}: sum {sum} vs {}",
            stats["sum"]
        );
        assert!(
            close(sum_sq, stats["sum_of_squares"].as_f64().unwrap()),
            "{name}: sum of squares {sum_sq}"
        );
        let min = out
            .pixel_values
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min);
        let max = out
            .pixel_values
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        // f32 values written as decimals: compared as f32 (serde_json may read a decimal one
        // f64 ulp off, e.g. -0.9215686321258545, which still rounds to the same f32).
        assert_eq!(
            (min, max),
            (
                stats["min"].as_f64().unwrap() as f32,
                stats["max"].as_f64().unwrap() as f32
            ),
            "{name}: min, max"
        );
        assert_eq!(
            p["pixel_attention_mask_all_ones"],
            Value::Bool(true),
            "{name}: the fixtures pad nothing"
        );
        assert!(
            out.pixel_attention_mask.iter().all(|&m| m == 1),
            "{name}: mask"
        );
    }
}

#[test]
fn pipeline_pixel_values_are_within_one_step_after_normalization() {
    // One uint8 step is 1/255 before normalization, 2/255 after `(x - 0.5) / 0.5`.
    let step = 2.0 / 255.0 + 1e-6;
    for (name, case) in image_cases() {
        let ip = processor(case["model"].as_str().unwrap());
        let ours = ip.preprocess(&decode_case(&case), tiles(&case));
        let reference = normalize_and_pad(&reference_frames(&case), &ip.config);
        assert_eq!(
            ours.pixel_values.len(),
            reference.pixel_values.len(),
            "{name}"
        );
        let worst = ours
            .pixel_values
            .iter()
            .zip(&reference.pixel_values)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= step, "{name}: pixel_values differ by {worst}");
        assert_eq!(
            ours.pixel_attention_mask, reference.pixel_attention_mask,
            "{name}: mask"
        );
        let (rows, cols) = (
            case["preprocess"]["rows"].as_u64().unwrap(),
            case["preprocess"]["cols"].as_u64().unwrap(),
        );
        assert_eq!(
            (ours.rows as u64, ours.cols as u64),
            (rows, cols),
            "{name}: grid"
        );
    }
}

#[test]
fn jpeg_exif_orientation_6_turns_the_picture_clockwise() {
    let ours = decode_image(&read("images/exif6_60x40.jpg"), &DecodeOptions::default()).unwrap();
    assert_eq!((ours.width(), ours.height()), (40, 60));
    // Pillow's decode of the same JPEG, stored unrotated (60x40).
    let pil = image::load_from_memory(&read("images/exif6_60x40.decoded.png"))
        .unwrap()
        .to_rgb8();
    let (w, h) = (pil.width(), pil.height());
    let mut worst = 0u8;
    for y in 0..ours.height() {
        for x in 0..ours.width() {
            // Rotating 90 degrees clockwise: (x, y) shows the source's (y, h - 1 - x).
            let src = pil.get_pixel(y, h - 1 - x).0;
            let px = &ours.as_raw()[((y * ours.width() + x) * 3) as usize..][..3];
            for c in 0..3 {
                worst = worst.max(px[c].abs_diff(src[c]));
            }
        }
    }
    assert_eq!(w, 60);
    eprintln!("JPEG decode vs Pillow (libjpeg-turbo): max |diff| {worst}");
    assert!(
        worst <= 1,
        "the decoded JPEG is {worst} steps from Pillow's"
    );
}

#[test]
fn transformers5_nested_layout_gives_the_hub_settings() {
    let nested = read("layouts/transformers5-tiny-nosplit/processor_config.json");
    let from_nested = ImageProcessorConfig::from_checkpoint_json(None, Some(&nested)).unwrap();
    let hub = processor("tiny-nosplit").config;
    assert_eq!(from_nested, hub);
}
