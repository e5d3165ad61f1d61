//! Getting a model ready: its files from the browser's cache, downloaded (with progress
//! and resume, then cached) or picked from the device, checked against the memory this
//! tab can have, loaded on the CPU, and on the GPU beside it when asked.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Uint8Array};
use ocr_protocol::memory::{self, human_bytes, Loaded};
use ocr_protocol::models::file_name;
use ocr_protocol::{BackendChoice, Event, Failure, FailureKind, ModelFile, ModelInfo, ModelSource};
use smolvlm_runtime::{picture, Engine};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, File};

use super::fetch::LoadCtx;
use super::opfs::{js_error, Cache};
use super::run::backend_name;
use super::{gpu, now, post, yield_now, STATE};
use crate::bundle::{self, Files, Layout, BESIDE, SAFETENSORS, SAFETENSORS_INDEX};

fn stage(load: u32, text: &str) {
    post(&Event::Stage {
        load,
        text: text.to_string(),
    });
}

/// The current size of the worker's WebAssembly memory.
pub(super) fn wasm_memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| m.buffer().unchecked_into::<ArrayBuffer>().byte_length() as u64)
        .unwrap_or(0)
}

/// Says what the model needs, refuses what cannot fit, and asks the browser for the
/// memory now, so a device that cannot give it is told before anything is downloaded.
///
/// `gpu`: the backend asked for, when a GPU device is open: the model then also goes to
/// the GPU, and a copy of the files is held for the upload. `Ok(false)`: with `auto`, only
/// the CPU path fits, and the load should not try the GPU.
fn check_memory(
    load: u32,
    files_bytes: u64,
    loaded: Loaded,
    gpu: Option<BackendChoice>,
) -> Result<bool, Failure> {
    if let Some(choice) = gpu {
        match reserve(load, files_bytes, memory::need_bytes_with_gpu(files_bytes, loaded)) {
            Ok(()) => return Ok(true),
            Err(f) if choice == BackendChoice::Auto => {
                gpu::note(&format!(
                    "backend=auto runs on the CPU: no memory for the GPU's copy of the weights ({})",
                    f.message
                ));
            }
            Err(f) => {
                return Err(Failure::new(
                    f.kind,
                    format!(
                        "{} (On WebGPU the weights are held a second time while they go to the GPU: backend=wasm needs less.)",
                        f.message
                    ),
                ))
            }
        }
    }
    reserve(load, files_bytes, memory::need_bytes(files_bytes, loaded)).map(|()| false)
}

/// Tells the page that `need` bytes are needed, and asks the browser for them.
fn reserve(load: u32, files_bytes: u64, need: u64) -> Result<(), Failure> {
    post(&Event::Memory {
        load,
        files_bytes,
        need_bytes: need,
    });
    if !memory::fits_wasm32(need) {
        return Err(Failure::new(
            FailureKind::OutOfMemory,
            format!(
                "This model needs about {} of memory, more than a browser gives a web page's WebAssembly ({}). Pick a smaller model or quantization.",
                human_bytes(need),
                human_bytes(memory::WASM32_MAX_BYTES)
            ),
        ));
    }
    let have = wasm_memory_bytes();
    let mut extra = need.saturating_sub(have);
    // One allocation may not exceed isize::MAX (2 GiB) on wasm32: ask in pieces.
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    while extra > 0 {
        let n = extra.min(1 << 30);
        let mut v: Vec<u8> = Vec::new();
        if v.try_reserve_exact(n as usize).is_err() {
            return Err(Failure::new(
                FailureKind::OutOfMemory,
                format!(
                    "This model needs about {} of memory and this browser tab could get only {}. Close other tabs, or pick a smaller model or quantization.",
                    human_bytes(need),
                    human_bytes(wasm_memory_bytes())
                ),
            ));
        }
        pieces.push(v);
        extra -= n;
    }
    Ok(())
}

/// `https://x/a/b.gguf` → `https://x/a/`.
fn folder_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.rfind('/') {
        Some(i) => path[..=i].to_string(),
        None => String::new(),
    }
}

pub(super) async fn load_model(
    load: u32,
    source: ModelSource,
    backend: BackendChoice,
    picked: Vec<File>,
    cancel: Rc<Cell<bool>>,
    abort: AbortController,
) -> Result<ModelInfo, Failure> {
    // Free the model we have before loading another.
    STATE.with(|s| s.borrow_mut().engine = None);
    let t0 = now();
    // The device first: with backend=webgpu and no WebGPU, nothing is downloaded.
    let mut device = gpu::open(backend).await?;
    let gpu_asked = device.as_ref().map(|_| backend);
    let label = source.label();
    let is_picked = matches!(source, ModelSource::Picked { .. });
    let cache = if is_picked {
        None
    } else {
        match Cache::open().await {
            Ok(c) => Some(c),
            Err(e) => {
                web_sys::console::warn_1(&format!("no model cache (OPFS): {e}").into());
                None
            }
        }
    };
    let ctx = LoadCtx {
        load,
        cancel,
        abort,
        cache,
        downloaded: Cell::new(false),
    };
    let mut urls: Vec<String> = Vec::new();
    let (layout, files) = match &source {
        ModelSource::Gguf { model, mmproj } => {
            let sizes = (ctx.size_of(model).await, ctx.size_of(mmproj).await);
            if let (Some(a), Some(b)) = sizes {
                // The published pairs are quantized or f16, kept as stored. (A BF16 pair is
                // widened too, which shows only once it is read: the estimate is then low,
                // and memory that cannot grow later is still a clear out-of-memory error.)
                if !check_memory(load, a + b, Loaded::AsStored, gpu_asked)? {
                    // `auto` without memory for the GPU's copy of the weights: the CPU alone.
                    device = None;
                }
            }
            let mut files = Files::new();
            let base = folder_of(&model.url);
            for name in BESIDE {
                let url = format!("{base}{name}");
                if let Some(bytes) = ctx.get(&ModelFile::url(&url), true).await? {
                    files.insert(*name, bytes);
                    urls.push(url);
                }
            }
            let text = file_name(&model.url).to_string();
            let mut vision = file_name(&mmproj.url).to_string();
            if vision == text {
                vision = format!("mmproj-{vision}");
            }
            for (name, file) in [(&text, model), (&vision, mmproj)] {
                let bytes = ctx.get(file, false).await?.unwrap_or_default();
                files.insert(name.clone(), bytes);
                urls.push(file.url.clone());
            }
            (
                Layout::Gguf {
                    text,
                    mmproj: vision,
                    either_order: false,
                },
                files,
            )
        }
        ModelSource::HubFolder { url } => {
            let base = if url.ends_with('/') {
                url.clone()
            } else {
                format!("{url}/")
            };
            let at = |name: &str| ModelFile::url(format!("{base}{name}"));
            let mut files = Files::new();
            let config = ctx
                .get(&at("config.json"), false)
                .await?
                .unwrap_or_default();
            files.insert("config.json", config);
            urls.push(at("config.json").url);
            for name in BESIDE {
                if let Some(bytes) = ctx.get(&at(name), true).await? {
                    files.insert(*name, bytes);
                    urls.push(at(name).url);
                }
            }
            // The weights: one file, or the shards of an index. Sizes first.
            let single = at(SAFETENSORS);
            let shards: Vec<String> = match ctx.size_of(&single).await {
                Some(_) => vec![SAFETENSORS.to_string()],
                None => match ctx.get(&at(SAFETENSORS_INDEX), true).await? {
                    Some(index) => {
                        let names = bundle::shard_names(&index)
                            .map_err(|e| Failure::new(FailureKind::ModelCorrupt, e.to_string()))?;
                        files.insert(SAFETENSORS_INDEX, index);
                        names
                    }
                    None => vec![SAFETENSORS.to_string()],
                },
            };
            let mut total = Some(files.bytes());
            for s in &shards {
                total = match (total, ctx.size_of(&at(s)).await) {
                    (Some(t), Some(n)) => Some(t + n),
                    _ => None,
                };
            }
            if let Some(t) = total {
                let loaded = Loaded::of_config(files.get("config.json").unwrap_or_default());
                if !check_memory(load, t, loaded, gpu_asked)? {
                    // `auto` without memory for the GPU's copy of the weights: the CPU alone.
                    device = None;
                }
            }
            for s in &shards {
                let bytes = ctx.get(&at(s), false).await?.unwrap_or_default();
                files.insert(s.clone(), bytes);
                urls.push(at(s).url);
            }
            (Layout::HubFolder, files)
        }
        ModelSource::Picked { .. } => {
            let total: f64 = picked.iter().map(|f| f.size()).sum();
            // Not read yet: counted as stored (low for a bf16 folder, as for a BF16 pair).
            if !check_memory(load, total as u64, Loaded::AsStored, gpu_asked)? {
                // `auto` without memory for the GPU's copy of the weights: the CPU alone.
                device = None;
            }
            let mut files = Files::new();
            for f in &picked {
                let bytes = read_file(&ctx, f).await?;
                files.insert(f.name(), bytes);
            }
            let layout = bundle::layout_of_picked(&files)
                .map_err(|e| Failure::new(FailureKind::ModelCorrupt, e.to_string()))?;
            (layout, files)
        }
    };
    if ctx.cancel.get() {
        return Err(Failure::new(FailureKind::Cancelled, "Loading cancelled."));
    }
    let files_bytes = files.bytes();
    stage(load, "Reading the weights…");
    yield_now().await;
    // The GPU model's copy of the weights, before the CPU model takes the files.
    // (None with a device: a file is missing, which the CPU load reports, or no memory.)
    let gpu_weights = device
        .as_ref()
        .and_then(|_| gpu::copy_weights(&layout, &files));
    let loaded = bundle::load(&layout, files, &candle_core::Device::Cpu).map_err(|e| {
        let (kind, what) = match &e {
            bundle::LoadError::Missing(_) => (FailureKind::ModelCorrupt, "is incomplete"),
            bundle::LoadError::Invalid(_) => (FailureKind::ModelCorrupt, "could not be read"),
        };
        Failure::new(
            kind,
            format!(
                "The model {what}: {e}.{}",
                if is_picked {
                    ""
                } else {
                    " Its cached copy was deleted: loading again downloads it afresh."
                }
            ),
        )
    });
    let loaded = match loaded {
        Ok(l) => l,
        Err(f) => {
            ctx.evict(&urls).await;
            return Err(f);
        }
    };
    let config = loaded.model.config().clone();
    let doctags = loaded.answers_in_doctags();
    let image = loaded
        .image_processor
        .as_ref()
        .map(|p| picture::settings_of(&p.config));
    let gpu_model = match (&device, gpu_weights) {
        (Some(device), Some(weights)) => {
            stage(load, "Putting the model on the GPU…");
            yield_now().await;
            gpu::upload(device, backend, &layout, weights, &loaded)?
        }
        (Some(_), None) if backend == BackendChoice::Webgpu => {
            return Err(Failure::new(
                FailureKind::OutOfMemory,
                "Not enough memory for a copy of the weights for the GPU. Use backend=wasm or backend=auto, or a smaller model.",
            ))
        }
        (Some(_), None) => {
            gpu::note("backend=auto runs on the CPU: no memory for a copy of the weights");
            None
        }
        (None, _) => None,
    };
    let engine = Engine::new(loaded, gpu_model);
    let info = ModelInfo {
        label,
        backend: backend_name(engine.backend()).to_string(),
        files_bytes,
        from_cache: !ctx.downloaded.get() && !is_picked,
        load_ms: now() - t0,
        image,
        max_context: config.max_context() as u32,
        image_seq_len: config.image_seq_len() as u32,
        doctags,
    };
    STATE.with(|s| s.borrow_mut().engine = Some(Rc::new(engine)));
    Ok(info)
}

/// A picked file's bytes, read in slices (the whole file never sits in JavaScript's
/// memory beside WebAssembly's).
async fn read_file(ctx: &LoadCtx, f: &File) -> Result<Vec<u8>, Failure> {
    const SLICE: f64 = 16.0 * 1024.0 * 1024.0;
    let size = f.size();
    let name = f.name();
    let mut out: Vec<u8> = Vec::new();
    out.try_reserve_exact(size as usize).map_err(|_| {
        Failure::new(
            FailureKind::OutOfMemory,
            format!("Not enough memory to read {name}."),
        )
    })?;
    let mut at = 0.0;
    while at < size {
        if ctx.cancel.get() {
            return Err(Failure::new(FailureKind::Cancelled, "Loading cancelled."));
        }
        let end = (at + SLICE).min(size);
        let blob = f.slice_with_f64_and_f64(at, end).map_err(|e| {
            Failure::new(
                FailureKind::ModelCorrupt,
                format!("{name}: {}", js_error(e)),
            )
        })?;
        let buf = JsFuture::from(blob.array_buffer()).await.map_err(|e| {
            Failure::new(
                FailureKind::ModelCorrupt,
                format!("{name} could not be read: {}", js_error(e)),
            )
        })?;
        let chunk = Uint8Array::new(&buf);
        let start = out.len();
        out.resize(start + chunk.length() as usize, 0);
        chunk.copy_to(&mut out[start..]);
        at = end;
        post(&Event::Progress {
            load: ctx.load,
            file: name.clone(),
            loaded: at as u64,
            total: Some(size as u64),
            from_cache: true,
        });
    }
    Ok(out)
}
