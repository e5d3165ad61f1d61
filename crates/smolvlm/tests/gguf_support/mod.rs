//! Helpers of the GGUF tests: the fixture checkpoint as quantize input, pairs loaded from
//! bytes, one reference case run through a GGUF model, rewriting a GGUF file (for the
//! bad-input tests) and finding (or making) a Python with llama.cpp's gguf-py.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use candle_core::quantized::gguf_file::Value;
use candle_core::Device;
use serde_json::Value as Json;
use smolvlm::gguf::format::{self, TensorOut};
use smolvlm::gguf::{quantize_checkpoint, Checkpoint, GgufModel, GgufPairBytes, QuantType};
use smolvlm::prompt::{build_prompt, ChatTemplate};
use smolvlm::{generate, GenerationParams};

#[allow(unused_imports)] // not every test binary uses all of them
pub use super::model_support::{fixtures, max_abs, read, split_cases};

fn read_opt(rel: &str) -> Option<Vec<u8>> {
    std::fs::read(fixtures().join(rel)).ok()
}

/// A fixture checkpoint folder as `quantize` input.
pub fn checkpoint(dir: &str) -> Checkpoint {
    checkpoint_with_weights(dir, read(&format!("{dir}/model.safetensors")))
}

pub fn checkpoint_with_weights(dir: &str, safetensors: Vec<u8>) -> Checkpoint {
    Checkpoint {
        name: dir.into(),
        config_json: read(&format!("{dir}/config.json")),
        safetensors: vec![("model.safetensors".into(), safetensors)],
        tokenizer_json: read(&format!("{dir}/tokenizer.json")),
        tokenizer_config_json: read_opt(&format!("{dir}/tokenizer_config.json")),
        chat_template_json: read_opt(&format!("{dir}/chat_template.json")),
        chat_template_jinja: None,
        preprocessor_config_json: read_opt(&format!("{dir}/preprocessor_config.json")),
        processor_config_json: read_opt(&format!("{dir}/processor_config.json")),
    }
}

/// `smolvlm quantize`'s pair of the tiny-split fixture.
pub fn our_pair(ty: &str) -> GgufPairBytes {
    quantize_checkpoint(checkpoint("tiny-split"), QuantType::parse(ty).unwrap())
        .unwrap_or_else(|e| panic!("quantize {ty}: {e}"))
}

/// A pair from its bytes, on the CPU.
pub fn load(text: Vec<u8>, mmproj: Vec<u8>) -> GgufModel {
    GgufModel::from_bytes("text.gguf", text, "mmproj.gguf", mmproj, &Device::Cpu)
        .unwrap_or_else(|e| panic!("loading the pair: {e}"))
}

/// The pair llama.cpp's converter wrote (`F32`, `F16` or `Q8_0`).
pub fn llama_cpp_pair(ty: &str) -> GgufModel {
    load(
        read(&format!("gguf/tiny-split-{ty}.gguf")),
        read(&format!("gguf/mmproj-tiny-split-{ty}.gguf")),
    )
}

pub fn ours(ty: &str) -> GgufModel {
    let p = our_pair(ty);
    load(p.text, p.mmproj)
}

/// What a GGUF model gives on one reference case.
pub struct Outcome {
    /// Prompt ids from the GGUF's own tokenizer and chat template.
    pub prompt_ids: Vec<u32>,
    /// Last-position logits, from the case's prompt ids and encoder frames.
    pub logits: Vec<f32>,
    /// Greedy ids (None for the logits-only cases).
    pub greedy: Option<Vec<u32>>,
}

pub fn run_case(m: &GgufModel, case: &Json) -> Outcome {
    use super::model_support::{grids, ids, pixel_values};
    let template = ChatTemplate::new(&m.chat_template).unwrap();
    let prompt = build_prompt(
        &m.tokenizer,
        &template,
        case["prompt"].as_str().unwrap(),
        &grids(case),
        m.config.image_seq_len(),
    )
    .unwrap();
    let want_prompt = ids(&case["prompt_ids"]);
    let features = pixel_values(case).map(|px| m.model.encode_images(&px, None).unwrap());
    let embeds = m.model.embed(&want_prompt, features.as_ref()).unwrap();
    let mut cache = m.model.new_cache();
    let logits: Vec<f32> = m
        .model
        .forward(&embeds, &mut cache)
        .unwrap()
        .to_vec1()
        .unwrap();
    let generation = &case["generation"];
    let greedy = (!generation.is_null()).then(|| {
        let mut params = GenerationParams::greedy(
            generation["max_new_tokens"].as_u64().unwrap() as usize,
            m.generation.eos_token_ids(&m.config),
        );
        params.min_new_tokens = generation["min_new_tokens"].as_u64().unwrap() as usize;
        generate(&m.model, &want_prompt, features.as_ref(), params, |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap()
        .tokens
    });
    Outcome {
        prompt_ids: prompt.ids,
        logits,
        greedy,
    }
}

/// A parsed file's metadata and tensors (name, dims outermost first, dtype, data), to be
/// edited and written back.
pub struct Editable {
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<(
        String,
        Vec<usize>,
        candle_core::quantized::GgmlDType,
        Vec<u8>,
    )>,
}

pub fn edit(bytes: &[u8]) -> Editable {
    let p = format::parse(bytes).unwrap();
    Editable {
        metadata: p.metadata,
        tensors: p
            .tensors
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.dims(),
                    t.dtype,
                    bytes[t.start..t.start + t.size].to_vec(),
                )
            })
            .collect(),
    }
}

impl Editable {
    pub fn set(&mut self, key: &str, value: Value) -> &mut Self {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = value,
            None => self.metadata.push((key.into(), value)),
        }
        self
    }

    pub fn remove_key(&mut self, key: &str) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self
    }

    pub fn remove_tensor(&mut self, name: &str) -> &mut Self {
        let before = self.tensors.len();
        self.tensors.retain(|t| t.0 != name);
        assert_eq!(self.tensors.len() + 1, before, "no tensor {name}");
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let outs: Vec<TensorOut> = self
            .tensors
            .iter()
            .map(|(name, dims, dtype, data)| TensorOut {
                name,
                dtype: *dtype,
                dims,
                data,
            })
            .collect();
        format::write(&self.metadata, &outs).unwrap()
    }
}

/// The gguf-py and numpy versions of the virtual environment `gguf_python` makes.
pub const GGUF_PY_PIN: &str = "gguf==0.19.0";
pub const NUMPY_PIN: &str = "numpy==2.4.6";

/// A Python interpreter that can `import gguf, numpy` (llama.cpp's gguf-py):
/// `SMOLVLM_GGUF_PYTHON` when set (it must work), else the first of `<workspace>/target/py-gguf`,
/// the virtual environments of this machine and `python3` that can; when none can, it makes
/// `<workspace>/target/py-gguf` (`python3 -m venv`, then pip installs the pinned gguf and
/// numpy). Panics, saying what to install, when that fails: these checks are never skipped.
///
/// Found or made once per test process (the tests run in parallel threads); the venv is
/// built in a temporary folder and renamed into place, so a half-made one is never used.
pub fn gguf_python() -> PathBuf {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(find_or_make_gguf_python) {
        Ok(py) => py.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn can_import_gguf(py: &Path) -> bool {
    Command::new(py)
        .args(["-c", "import gguf, numpy"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn workspace_venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the workspace root above crates/smolvlm")
        .join("target/py-gguf")
}

fn find_or_make_gguf_python() -> Result<PathBuf, String> {
    let venv = workspace_venv();
    let install_hint = format!(
        "install them: `python3 -m venv {v} && {v}/bin/pip install {GGUF_PY_PIN} {NUMPY_PIN}`, \
         or set SMOLVLM_GGUF_PYTHON to a Python that has `gguf` and `numpy`",
        v = venv.display()
    );
    if let Some(p) = std::env::var_os("SMOLVLM_GGUF_PYTHON") {
        let py = PathBuf::from(p);
        return if can_import_gguf(&py) {
            Ok(py)
        } else {
            Err(format!(
                "SMOLVLM_GGUF_PYTHON={} cannot `import gguf, numpy`; {install_hint}",
                py.display()
            ))
        };
    }
    let candidates = [
        venv.join("bin/python"),
        PathBuf::from("/work/venvs/gguf/bin/python"),
        PathBuf::from("/work/venv-fixtures/bin/python"),
        PathBuf::from("python3"),
    ];
    if let Some(py) = candidates.iter().find(|py| can_import_gguf(py)) {
        return Ok(py.clone());
    }
    eprintln!(
        "no Python with gguf-py among {candidates:?}; making {} ({GGUF_PY_PIN} {NUMPY_PIN})",
        venv.display()
    );
    make_venv(&venv).map_err(|e| {
        format!(
            "no Python with llama.cpp's gguf-py and numpy among {candidates:?}, and making \
             {} failed: {e}\n{install_hint}",
            venv.display()
        )
    })
}

/// Makes the venv in `<venv>.tmp-<pid>`, checks it, then renames it to `venv`.
fn make_venv(venv: &Path) -> Result<PathBuf, String> {
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!("{cmd:?}: {}\n{}", out.status, tail.join("\n")))
    };
    let tmp = venv.with_file_name(format!("py-gguf.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(venv.parent().unwrap()).map_err(|e| e.to_string())?;
    let made = (|| {
        run(Command::new("python3").args(["-m", "venv"]).arg(&tmp))?;
        // `python -m pip` rather than bin/pip: the scripts' first lines name the temporary
        // folder, and only `python` itself is used once renamed.
        run(Command::new(tmp.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            GGUF_PY_PIN,
            NUMPY_PIN,
        ]))?;
        if !can_import_gguf(&tmp.join("bin/python")) {
            return Err("the new venv cannot `import gguf, numpy`".to_string());
        }
        match std::fs::rename(&tmp, venv) {
            Ok(()) => Ok(()),
            // Another test process made it first: use that one if it works.
            Err(_) if can_import_gguf(&venv.join("bin/python")) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Ok(())
            }
            Err(e) => Err(format!(
                "renaming {} to {}: {e} (remove a broken {} and run again)",
                tmp.display(),
                venv.display(),
                venv.display()
            )),
        }
    })();
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    made?;
    let py = venv.join("bin/python");
    if can_import_gguf(&py) {
        Ok(py)
    } else {
        Err(format!("{} cannot `import gguf, numpy`", py.display()))
    }
}

/// A scratch folder of this test process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smolvlm-gguf-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One tensor of a file, dequantized by candle, in storage order.
pub fn dequantized(file: &smolvlm::gguf::GgufFile, name: &str) -> Vec<f32> {
    file.qtensor(name, &Device::Cpu)
        .unwrap()
        .dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// The same file with every tensor dequantized to F32 (the weights a quantized file
/// stands for, to be computed with in f32).
pub fn dequantized_to_f32(bytes: &[u8]) -> Vec<u8> {
    use candle_core::quantized::GgmlDType;
    let file = smolvlm::gguf::GgufFile::from_bytes("in", bytes.to_vec()).unwrap();
    let mut e = edit(bytes);
    for t in e.tensors.iter_mut() {
        if t.2 == GgmlDType::F32 {
            continue;
        }
        let values = dequantized(&file, &t.0);
        t.2 = GgmlDType::F32;
        t.3 = values.iter().flat_map(|x| x.to_le_bytes()).collect();
    }
    e.bytes()
}

/// A checkpoint shaped like tiny-split but with every matrix row a multiple of 256
/// values (text and vision width 256, MLPs 512, head size 64), so that Q4_K and Q6_K
/// are used rather than their fallbacks. Random weights (seeded), same tokenizer.
pub fn wide_checkpoint() -> Checkpoint {
    let mut cfg: Json = serde_json::from_slice(&read("tiny-split/config.json")).unwrap();
    for (key, value) in [
        ("hidden_size", 256),
        ("intermediate_size", 512),
        ("num_attention_heads", 4),
        ("num_key_value_heads", 2),
        ("head_dim", 64),
    ] {
        cfg["text_config"][key] = value.into();
    }
    for (key, value) in [
        ("hidden_size", 256),
        ("intermediate_size", 512),
        ("num_attention_heads", 4),
    ] {
        cfg["vision_config"][key] = value.into();
    }
    let config_json = serde_json::to_vec_pretty(&cfg).unwrap();
    random_checkpoint("wide", config_json, 256)
}

/// A checkpoint of random weights (seeded) for `config_json`, with tiny-split's
/// tokenizer (ids past its 512 become unused padding tokens in GGUF).
pub fn random_checkpoint(name: &str, config_json: Vec<u8>, seed: u64) -> Checkpoint {
    use rand::{Rng, SeedableRng};
    use smolvlm::config::Config;
    let c = Config::from_json(&config_json).unwrap();
    let (t, v) = (&c.text, &c.vision);
    let (h, i, kv) = (
        t.hidden_size,
        t.intermediate_size,
        t.num_key_value_heads() * t.head_dim(),
    );
    let (d, vi, p) = (v.hidden_size, v.intermediate_size, v.patch_size);
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        (
            "model.text_model.embed_tokens.weight".into(),
            vec![t.vocab_size, h],
        ),
        ("model.text_model.norm.weight".into(), vec![h]),
        ("lm_head.weight".into(), vec![t.vocab_size, h]),
        (
            "model.connector.modality_projection.proj.weight".into(),
            vec![h, d * c.scale_factor * c.scale_factor],
        ),
        (
            "model.vision_model.embeddings.patch_embedding.weight".into(),
            vec![d, 3, p, p],
        ),
        (
            "model.vision_model.embeddings.patch_embedding.bias".into(),
            vec![d],
        ),
        (
            "model.vision_model.embeddings.position_embedding.weight".into(),
            vec![v.num_positions(), d],
        ),
        ("model.vision_model.post_layernorm.weight".into(), vec![d]),
        ("model.vision_model.post_layernorm.bias".into(), vec![d]),
    ];
    for l in 0..t.num_hidden_layers {
        let n = |s: &str| format!("model.text_model.layers.{l}.{s}");
        shapes.extend([
            (n("input_layernorm.weight"), vec![h]),
            (n("post_attention_layernorm.weight"), vec![h]),
            (n("self_attn.q_proj.weight"), vec![h, h]),
            (n("self_attn.k_proj.weight"), vec![kv, h]),
            (n("self_attn.v_proj.weight"), vec![kv, h]),
            (n("self_attn.o_proj.weight"), vec![h, h]),
            (n("mlp.gate_proj.weight"), vec![i, h]),
            (n("mlp.up_proj.weight"), vec![i, h]),
            (n("mlp.down_proj.weight"), vec![h, i]),
        ]);
    }
    for l in 0..v.num_hidden_layers {
        let n = |s: &str| format!("model.vision_model.encoder.layers.{l}.{s}");
        for norm in ["layer_norm1", "layer_norm2"] {
            shapes.push((n(&format!("{norm}.weight")), vec![d]));
            shapes.push((n(&format!("{norm}.bias")), vec![d]));
        }
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            shapes.push((n(&format!("self_attn.{proj}.weight")), vec![d, d]));
            shapes.push((n(&format!("self_attn.{proj}.bias")), vec![d]));
        }
        shapes.extend([
            (n("mlp.fc1.weight"), vec![vi, d]),
            (n("mlp.fc1.bias"), vec![vi]),
            (n("mlp.fc2.weight"), vec![d, vi]),
            (n("mlp.fc2.bias"), vec![d]),
        ]);
    }
    // Uniform with unit variance, scaled like tiny-split's (README): norms 1 + 0.1 x,
    // biases 0.05 x, embeddings x, matrices x / sqrt(fan_in).
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut tensors = std::collections::HashMap::new();
    for (name, dims) in shapes {
        let n: usize = dims.iter().product();
        let fan_in: usize = dims[1..].iter().product::<usize>().max(1);
        let scale = if name.contains("norm") {
            0.1
        } else if name.ends_with(".bias") {
            0.05
        } else if name.contains("embed") && !name.contains("patch") {
            1.0
        } else {
            1.0 / (fan_in as f32).sqrt()
        };
        let offset = if name.contains("norm") && name.ends_with(".weight") {
            1.0
        } else {
            0.0
        };
        let values: Vec<f32> = (0..n)
            .map(|_| offset + scale * 3f32.sqrt() * (2.0 * rng.random::<f32>() - 1.0))
            .collect();
        let tensor = candle_core::Tensor::from_vec(values, dims, &Device::Cpu).unwrap();
        tensors.insert(name, tensor);
    }
    let path = scratch(name).join("model.safetensors");
    candle_core::safetensors::save(&tensors, &path).unwrap();
    drop(tensors);
    let mut ckpt = checkpoint_with_weights("tiny-split", std::fs::read(&path).unwrap());
    let _ = std::fs::remove_file(&path);
    ckpt.name = name.into();
    ckpt.config_json = config_json;
    ckpt
}
