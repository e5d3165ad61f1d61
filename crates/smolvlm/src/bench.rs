//! The benchmark behind `smolvlm bench` (and its wasm32 twin in tests/wasm_bench.rs):
//! SmolVLM2 at the real 256M / 500M dimensions with random weights made in memory (random
//! f32, quantized to the asked type), timed on a 512-token prefill, decoding at positions
//! 512..639, decoding from an empty context, and one 512x512 vision tile. Speed does not
//! depend on the weights' values.
//!
//! No clock in here (`std::time::Instant` panics on wasm32): the caller passes one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{Config, ModelSize};
use crate::error::{Error, Result};
use crate::model::SmolVlm;
use crate::weights::{Weight, WeightSource, Weights};

/// The weight types `smolvlm bench --dtype` takes: those of `smolvlm quantize --type`,
/// with the same meaning (`q4_k` is llama.cpp's Q4_K_M mixture).
pub use crate::gguf::QuantType as BenchDtype;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub size: ModelSize,
    pub dtype: BenchDtype,
    /// Prefill length; decoding is timed right after it (contract: 512).
    pub prompt_tokens: usize,
    /// Tokens decoded after the prefill, and from an empty context (contract: 128).
    pub decode_tokens: usize,
    /// Whether to time one vision tile.
    pub vision: bool,
    /// Frames of a full-detail picture whose time to text (all its frames encoded one at a
    /// time, its prompt prefilled, the first token) is timed; 0: none. A square picture
    /// at the checkpoint's default splitting is 17 (16 tiles and the global image).
    pub picture_frames: usize,
}

impl BenchConfig {
    /// The contract's benchmark: 512-token prefill, 128 decoded tokens, one tile.
    pub fn contract(size: ModelSize, dtype: BenchDtype) -> Self {
        Self {
            size,
            dtype,
            prompt_tokens: 512,
            decode_tokens: 128,
            vision: true,
            picture_frames: 0,
        }
    }
}

/// Frames of a full-detail square picture: 4 × 4 tiles and the global image.
pub const FULL_DETAIL_FRAMES: usize = 17;

/// The measurements (times from the caller's clock).
#[derive(Debug, Clone, Default)]
pub struct BenchReport {
    pub load_ms: f64,
    pub prefill_tokens_per_s: f64,
    /// Decoding at positions prompt_tokens..prompt_tokens + decode_tokens.
    pub decode_tokens_per_s: f64,
    /// Decoding at positions 0..decode_tokens.
    pub decode_empty_tokens_per_s: f64,
    pub vision_ms_per_tile: Option<f64>,
    /// A full-detail picture of `picture_frames` frames: seconds from its pixels to the
    /// first token, and the part of it in the vision encoder and in the prefill.
    pub picture: Option<PictureTimes>,
    /// Bytes of text weights one decoded token reads: every layer's matrices and the
    /// output head (the embedding table is only gathered from).
    pub text_bytes_per_token: usize,
    /// Bytes of all weights held.
    pub weight_bytes: usize,
}

/// Time to text of one picture (milliseconds).
#[derive(Debug, Clone, Default)]
pub struct PictureTimes {
    pub frames: usize,
    pub prompt_tokens: usize,
    pub vision_ms: f64,
    pub prefill_ms: f64,
    /// Vision, prefill and the first decoded token.
    pub total_ms: f64,
}

/// Random weights for every tensor a SmolVLM2 of `config`'s dimensions needs, under the
/// checkpoint's names, typed as a GGUF pair of `dtype` would have them.
pub struct RandomSource {
    shapes: std::collections::HashMap<String, Vec<usize>>,
    dtype: BenchDtype,
    n_layers: usize,
    n_vision_layers: usize,
    /// The output head is the embedding matrix (no `lm_head.weight`).
    tied: bool,
    text_bytes_per_token: AtomicUsize,
    weight_bytes: AtomicUsize,
}

impl RandomSource {
    pub fn new(config: &Config, dtype: BenchDtype) -> Self {
        Self {
            shapes: tensor_shapes(config).into_iter().collect(),
            dtype,
            n_layers: config.text.num_hidden_layers,
            n_vision_layers: config.vision.num_hidden_layers,
            tied: config.tie_word_embeddings,
            text_bytes_per_token: AtomicUsize::new(0),
            weight_bytes: AtomicUsize::new(0),
        }
    }

    /// The storage type of tensor `name` of shape `dims`: llama.cpp's choices as
    /// gguf/quantize.rs documents them (norms, biases and the vision embeddings stay f32;
    /// Q4_0 and Q4_K_M put the output head in Q6_K; Q4_K_M gives `v_proj` and `down_proj`
    /// of the `use_more_bits` layers Q6_K; a type whose blocks do not divide the rows
    /// falls back: Q4_K to Q5_0, Q6_K to Q8_0, else F16).
    fn dtype_of(&self, name: &str, dims: &[usize]) -> GgmlDType {
        let row = *dims.last().unwrap_or(&1);
        if dims.len() < 2 || name.contains("norm") || name.contains(".embeddings.") {
            return GgmlDType::F32;
        }
        let layer = name
            .split('.')
            .skip_while(|s| *s != "layers")
            .nth(1)
            .and_then(|s| s.parse::<usize>().ok());
        let n = if name.contains("vision_model") {
            self.n_vision_layers
        } else {
            self.n_layers
        };
        let more_bits =
            |i: usize| i < n / 8 || i >= 7 * n / 8 || (i as i64 - (n / 8) as i64) % 3 == 2;
        let want = match self.dtype {
            BenchDtype::F32 => GgmlDType::F32,
            BenchDtype::F16 => GgmlDType::F16,
            BenchDtype::Q8_0 => GgmlDType::Q8_0,
            BenchDtype::Q4_0 | BenchDtype::Q4K if name == "lm_head.weight" => GgmlDType::Q6K,
            BenchDtype::Q4_0 => GgmlDType::Q4_0,
            BenchDtype::Q4K => {
                let bigger =
                    (name.contains("v_proj") || name.contains("down_proj") || name.contains("fc2"))
                        && layer.is_some_and(more_bits);
                if bigger {
                    GgmlDType::Q6K
                } else {
                    GgmlDType::Q4K
                }
            }
        };
        if row % want.block_size() == 0 {
            return want;
        }
        let to = match want {
            GgmlDType::Q4K => GgmlDType::Q5_0,
            GgmlDType::Q6K => GgmlDType::Q8_0,
            other => other,
        };
        if row % to.block_size() == 0 {
            to
        } else {
            GgmlDType::F16
        }
    }

    pub fn text_bytes_per_token(&self) -> usize {
        self.text_bytes_per_token.load(Ordering::Relaxed)
    }

    pub fn weight_bytes(&self) -> usize {
        self.weight_bytes.load(Ordering::Relaxed)
    }
}

impl WeightSource for RandomSource {
    fn label(&self) -> String {
        format!("random {} weights", self.dtype.name())
    }

    fn contains(&self, name: &str) -> bool {
        self.shapes.contains_key(name)
    }

    fn load(&self, name: &str, device: &Device) -> Result<Weight> {
        let Some(dims) = self.shapes.get(name) else {
            return Err(Error::MissingTensor {
                file: self.label(),
                name: name.into(),
            });
        };
        let n: usize = dims.iter().product();
        // A fixed seed per name: the same benchmark gets the same weights every run.
        let seed = name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        let mut rng = StdRng::seed_from_u64(seed);
        let values: Vec<f32> = if name.contains("norm") && name.ends_with("weight") {
            (0..n).map(|_| 1.0 + rng.random_range(-0.1..0.1)).collect()
        } else {
            // Uniform with the variance of a unit-gain init, so activations stay O(1).
            let a = (3.0 / *dims.last().unwrap_or(&1) as f32).sqrt();
            (0..n).map(|_| rng.random_range(-a..a)).collect()
        };
        let t = Tensor::from_vec(values, dims.as_slice(), device)?;
        let dtype = self.dtype_of(name, dims);
        let w = if dtype == GgmlDType::F32 {
            Weight::Dense(t)
        } else {
            Weight::Quantized(Arc::new(QTensor::quantize(&t, dtype)?))
        };
        let bytes = w.size_in_bytes();
        self.weight_bytes.fetch_add(bytes, Ordering::Relaxed);
        // The weights each token reads: the layers and the head (the embedding matrix,
        // when it is the head).
        let head = name == "lm_head.weight"
            || (self.tied && name == "model.text_model.embed_tokens.weight");
        if name.starts_with("model.text_model.layers.") || head {
            self.text_bytes_per_token
                .fetch_add(bytes, Ordering::Relaxed);
        }
        Ok(w)
    }
}

/// Every tensor of a Hub checkpoint of these dimensions, with its shape.
pub fn tensor_shapes(c: &Config) -> Vec<(String, Vec<usize>)> {
    let (t, v) = (&c.text, &c.vision);
    let (d, hd) = (t.hidden_size, t.head_dim());
    let (h, kvh) = (t.num_attention_heads, t.num_key_value_heads());
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    let mut add = |name: String, dims: &[usize]| out.push((name, dims.to_vec()));
    let tm = "model.text_model";
    add(format!("{tm}.embed_tokens.weight"), &[t.vocab_size, d]);
    for i in 0..t.num_hidden_layers {
        let l = format!("{tm}.layers.{i}");
        add(format!("{l}.input_layernorm.weight"), &[d]);
        add(format!("{l}.post_attention_layernorm.weight"), &[d]);
        add(format!("{l}.self_attn.q_proj.weight"), &[h * hd, d]);
        add(format!("{l}.self_attn.k_proj.weight"), &[kvh * hd, d]);
        add(format!("{l}.self_attn.v_proj.weight"), &[kvh * hd, d]);
        add(format!("{l}.self_attn.o_proj.weight"), &[d, h * hd]);
        add(
            format!("{l}.mlp.gate_proj.weight"),
            &[t.intermediate_size, d],
        );
        add(format!("{l}.mlp.up_proj.weight"), &[t.intermediate_size, d]);
        add(
            format!("{l}.mlp.down_proj.weight"),
            &[d, t.intermediate_size],
        );
    }
    add(format!("{tm}.norm.weight"), &[d]);
    if !c.tie_word_embeddings {
        add("lm_head.weight".into(), &[t.vocab_size, d]);
    }
    let vm = "model.vision_model";
    let (dv, p) = (v.hidden_size, v.patch_size);
    add(
        format!("{vm}.embeddings.patch_embedding.weight"),
        &[dv, v.num_channels, p, p],
    );
    add(format!("{vm}.embeddings.patch_embedding.bias"), &[dv]);
    add(
        format!("{vm}.embeddings.position_embedding.weight"),
        &[v.num_positions(), dv],
    );
    for i in 0..v.num_hidden_layers {
        let l = format!("{vm}.encoder.layers.{i}");
        for n in ["layer_norm1", "layer_norm2"] {
            add(format!("{l}.{n}.weight"), &[dv]);
            add(format!("{l}.{n}.bias"), &[dv]);
        }
        for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            add(format!("{l}.self_attn.{n}.weight"), &[dv, dv]);
            add(format!("{l}.self_attn.{n}.bias"), &[dv]);
        }
        add(format!("{l}.mlp.fc1.weight"), &[v.intermediate_size, dv]);
        add(format!("{l}.mlp.fc1.bias"), &[v.intermediate_size]);
        add(format!("{l}.mlp.fc2.weight"), &[dv, v.intermediate_size]);
        add(format!("{l}.mlp.fc2.bias"), &[dv]);
    }
    add(format!("{vm}.post_layernorm.weight"), &[dv]);
    add(format!("{vm}.post_layernorm.bias"), &[dv]);
    let s = c.scale_factor;
    add(
        "model.connector.modality_projection.proj.weight".into(),
        &[d, dv * s * s],
    );
    out
}

/// The benchmark's `i`-th prompt token: ids spread over a vocabulary of `vocab` (a fixed
/// sequence, the same on every backend; values do not matter for speed).
pub fn token(i: usize, vocab: usize) -> u32 {
    ((i as u64 * 2654435761) % vocab as u64) as u32
}

/// Runs the benchmark. `now` returns milliseconds; `log` hears about progress.
pub fn run(
    cfg: &BenchConfig,
    now: &dyn Fn() -> f64,
    log: &mut dyn FnMut(&str),
) -> Result<BenchReport> {
    let config = Config::preset(cfg.size);
    let device = Device::Cpu;
    let t0 = now();
    let source = Arc::new(RandomSource::new(&config, cfg.dtype));
    let model = SmolVlm::new(&config, &Weights::new(source.clone(), &device))?;
    let load_ms = now() - t0;
    log(&format!(
        "built random {} weights in {load_ms:.0} ms ({} MB; {} MB of text weights per token)",
        cfg.dtype.name(),
        source.weight_bytes() / 1_000_000,
        source.text_bytes_per_token() / 1_000_000
    ));
    let id = |i: usize| token(i, config.text.vocab_size);

    let mut report = BenchReport {
        load_ms,
        text_bytes_per_token: source.text_bytes_per_token(),
        weight_bytes: source.weight_bytes(),
        ..Default::default()
    };

    // Prefill, then decode at positions prompt_tokens.. .
    let prompt: Vec<u32> = (0..cfg.prompt_tokens).map(id).collect();
    let mut cache = model.new_cache();
    let embeds = model.embed(&prompt, None)?;
    let t = now();
    let mut logits = model.forward(&embeds, &mut cache)?;
    let ms = now() - t;
    report.prefill_tokens_per_s = cfg.prompt_tokens as f64 / (ms / 1000.0);
    log(&format!("prefill {} tokens: {ms:.0} ms", cfg.prompt_tokens));
    let decode = |cache: &mut crate::text::Cache, mut logits: Tensor| -> Result<f64> {
        let t = now();
        for _ in 0..cfg.decode_tokens {
            let v: Vec<f32> = logits.to_vec1()?;
            let next = crate::generation::argmax(&v);
            logits = model.forward_token(next, cache)?;
        }
        Ok(cfg.decode_tokens as f64 / ((now() - t) / 1000.0))
    };
    report.decode_tokens_per_s = decode(&mut cache, logits)?;
    log(&format!(
        "decode at {}..{}: {:.1} tokens/s",
        cfg.prompt_tokens,
        cfg.prompt_tokens + cfg.decode_tokens,
        report.decode_tokens_per_s
    ));
    drop(cache);

    let mut cache = model.new_cache();
    logits = model.forward_token(id(0), &mut cache)?;
    report.decode_empty_tokens_per_s = decode(&mut cache, logits)?;
    log(&format!(
        "decode from an empty context: {:.1} tokens/s",
        report.decode_empty_tokens_per_s
    ));
    drop(cache);

    if cfg.vision {
        let side = config.vision.image_size;
        let mut rng = StdRng::seed_from_u64(7);
        let px: Vec<f32> = (0..3 * side * side)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let px = Tensor::from_vec(px, (1, 3, side, side), &device)?;
        let t = now();
        let features = model.encode_images(&px, None)?;
        let ms = now() - t;
        features.dims3()?;
        report.vision_ms_per_tile = Some(ms);
        log(&format!("vision: one {side}x{side} tile in {ms:.0} ms"));
    }

    if cfg.picture_frames > 0 {
        let side = config.vision.image_size;
        let frames = cfg.picture_frames;
        let mut rng = StdRng::seed_from_u64(11);
        let px: Vec<f32> = (0..3 * side * side)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let px = Tensor::from_vec(px, (1, 3, side, side), &device)?;
        // The prompt a picture of this many frames expands to: each frame's image tokens
        // and its two markers (`<fake_token_around_image><row_r_col_c>`), and about 16 for
        // the chat template, the question and the line breaks between rows.
        let prompt_tokens = frames * (config.image_seq_len() + 2) + 16;
        let t = now();
        // One frame at a time, as the OCR page encodes (progress and Stop between frames).
        for _ in 0..frames {
            model.encode_images(&px, None)?.dims3()?;
        }
        let vision_ms = now() - t;
        let prompt: Vec<u32> = (0..prompt_tokens).map(id).collect();
        let mut cache = model.new_cache();
        let embeds = model.embed(&prompt, None)?;
        let t = now();
        let logits = model.forward(&embeds, &mut cache)?;
        let prefill_ms = now() - t;
        let v: Vec<f32> = logits.to_vec1()?;
        model.forward_token(crate::generation::argmax(&v), &mut cache)?;
        let first_ms = now() - t - prefill_ms;
        let total_ms = vision_ms + prefill_ms + first_ms;
        log(&format!(
            "a {frames}-frame picture: {:.1} s to text ({:.1} s vision, {:.1} s prefill of {prompt_tokens} tokens)",
            total_ms / 1000.0,
            vision_ms / 1000.0,
            prefill_ms / 1000.0
        ));
        report.picture = Some(PictureTimes {
            frames,
            prompt_tokens,
            vision_ms,
            prefill_ms,
            total_ms,
        });
    }
    Ok(report)
}
