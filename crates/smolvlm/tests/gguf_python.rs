//! The files `smolvlm quantize` writes, read by llama.cpp's own Python package (gguf-py,
//! `pip install gguf`): `gguf-dump` lists them, gguf-py's reference quantizers give the
//! same bytes for the types it implements (F16, Q8_0, Q4_0, Q5_0), and its dequantizers
//! give the same values as candle for every tensor (Q4_K and Q6_K included).
//!
//! Needs a Python with `gguf` and `numpy`: `gguf_support::gguf_python` finds one or makes
//! `target/py-gguf` with pip, and fails the tests, saying what to install, when it cannot.

mod gguf_support;
mod model_support;

use std::path::Path;
use std::process::Command;

use gguf_support::*;
use smolvlm::gguf::GgufFile;

const SCRIPT: &str = r#"
import json, os, sys
import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

ref_path, path, out_dir = sys.argv[1:4]
ref = {t.name: t for t in GGUFReader(ref_path).tensors}
reader = GGUFReader(path)
report = {"version": int(reader.fields["GGUF.version"].parts[-1][0]), "tensors": []}
for t in reader.tensors:
    values = dequantize(np.asarray(t.data), t.tensor_type).astype("<f4")
    values.tofile(os.path.join(out_dir, t.name + ".f32"))
    requantized = None
    if t.tensor_type in (T.F16, T.Q8_0, T.Q4_0, T.Q5_0):
        f32 = np.asarray(ref[t.name].data, dtype=np.float32).reshape(values.shape)
        again = quantize(f32, t.tensor_type)
        requantized = bool(np.array_equal(again.view(np.uint8).ravel(), np.asarray(t.data).view(np.uint8).ravel()))
    report["tensors"].append({"name": t.name, "type": t.tensor_type.name, "n": int(values.size),
                              "requantized_equal": requantized})
print(json.dumps(report))
"#;

/// Checks one of our files against gguf-py; `reference` is our F32 file of the same half
/// (the values before quantization, already permuted).
fn check_file(py: &Path, reference: &Path, path: &Path) -> (usize, usize) {
    let out_dir = path.with_extension("deq");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = Command::new(py)
        .arg("-c")
        .arg(SCRIPT)
        .arg(reference)
        .arg(path)
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gguf-py failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["version"], 3, "{}", path.display());
    let file = GgufFile::from_bytes("ours", std::fs::read(path).unwrap()).unwrap();
    let tensors = report["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), file.tensors().len());
    let mut requantized = 0;
    for t in tensors {
        let name = t["name"].as_str().unwrap();
        let info = file.tensor_info(name).unwrap();
        assert_eq!(
            t["type"].as_str().unwrap(),
            smolvlm::gguf::format::dtype_name(info.dtype),
            "{name}: type"
        );
        let ours = dequantized(&file, name);
        let theirs: Vec<f32> = std::fs::read(out_dir.join(format!("{name}.f32")))
            .unwrap()
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(ours.len(), theirs.len(), "{name}: element count");
        let diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert_eq!(
            diff, 0.0,
            "{name} ({:?}): candle and gguf-py dequantize differently",
            info.dtype
        );
        match t["requantized_equal"].as_bool() {
            Some(true) => requantized += 1,
            Some(false) => panic!(
                "{name} ({:?}): gguf-py's reference quantizer gives other bytes",
                info.dtype
            ),
            None => {}
        }
    }
    (tensors.len(), requantized)
}

#[test]
fn gguf_py_reads_and_agrees_with_every_type_we_write() {
    let py = gguf_python();
    let dir = scratch("python");
    let reference = our_pair("f32");
    let ref_text = dir.join(&reference.text_name);
    let ref_mmproj = dir.join(&reference.mmproj_name);
    std::fs::write(&ref_text, &reference.text).unwrap();
    std::fs::write(&ref_mmproj, &reference.mmproj).unwrap();
    for ty in ["f16", "q8_0", "q4_0", "q4_k"] {
        let pair = our_pair(ty);
        for (name, bytes, reference) in [
            (&pair.text_name, &pair.text, &ref_text),
            (&pair.mmproj_name, &pair.mmproj, &ref_mmproj),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            let (n, requantized) = check_file(&py, reference, &path);
            println!("{name}: {n} tensors agree with gguf-py, {requantized} re-quantized to the same bytes");
        }
    }
    // Rows of 256 values: Q4_K and Q6_K blocks rather than their fallbacks.
    let wide_ref =
        smolvlm::gguf::quantize_checkpoint(wide_checkpoint(), smolvlm::gguf::QuantType::F32)
            .unwrap();
    let wide = smolvlm::gguf::quantize_checkpoint(wide_checkpoint(), smolvlm::gguf::QuantType::Q4K)
        .unwrap();
    for (name, bytes, reference) in [
        (&wide.text_name, &wide.text, &wide_ref.text),
        (&wide.mmproj_name, &wide.mmproj, &wide_ref.mmproj),
    ] {
        let ref_path = dir.join(format!("ref-{name}"));
        std::fs::write(&ref_path, reference).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let (n, requantized) = check_file(&py, &ref_path, &path);
        println!(
            "{name}: {n} tensors agree with gguf-py, {requantized} re-quantized to the same bytes"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gguf_dump_lists_our_files() {
    let py = gguf_python();
    let dir = scratch("dump");
    for ty in ["f32", "q4_k"] {
        let pair = our_pair(ty);
        for (name, bytes) in [
            (&pair.text_name, &pair.text),
            (&pair.mmproj_name, &pair.mmproj),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            // `gguf-dump` is gguf-py's `gguf.scripts.gguf_dump`.
            let out = Command::new(&py)
                .args(["-m", "gguf.scripts.gguf_dump", "--no-tensors"])
                .arg(&path)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "gguf-dump {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let arch = if name.starts_with("mmproj") {
                "clip"
            } else {
                "llama"
            };
            assert!(
                stdout.contains(&format!("general.architecture = '{arch}'")),
                "gguf-dump {name}:\n{stdout}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
