//! `/bench`: SmolVLM2's speed in this browser. The OCR page's own worker runs
//! `smolvlm::bench` (the code behind `smolvlm bench`) at the real 256M or 500M dimensions
//! with random weights made in the worker: decoding and prefill tokens per second and
//! the time of one vision tile. Nothing is downloaded. `backend=webgpu` measures the same
//! on our WGSL kernels through WebGPU (what `smolvlm bench --backend wgpu` measures
//! natively). `cargo xtask bench [--backend webgpu]` opens this page with `?autorun=1` in
//! headless Chromium and prints the numbers beside the native ones.

use leptos::prelude::*;
use ocr_protocol::{BackendChoice, BenchReport, BenchRequest};

use crate::components::Shell;

#[derive(Clone, Copy, PartialEq, Eq)]
// Done and Error are reached only in the browser (the worker's answers).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum BenchState {
    Idle,
    Running,
    Done,
    Error,
}

impl BenchState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Running => "running",
            Self::Done => "done",
            Self::Error => "error",
        }
    }
}

#[derive(Clone, Copy)]
struct Bench {
    state: RwSignal<BenchState>,
    log: RwSignal<Vec<String>>,
    report: RwSignal<Option<BenchReport>>,
    request: RwSignal<BenchRequest>,
    /// The worker build that runs (from its Ready message).
    build: RwSignal<Option<ocr_protocol::Build>>,
    #[cfg(feature = "hydrate")]
    client: StoredValue<
        Option<std::rc::Rc<std::cell::RefCell<crate::ocr::client::Client>>>,
        LocalStorage,
    >,
}

#[component]
pub fn BenchPage() -> impl IntoView {
    let b = Bench {
        state: RwSignal::new(BenchState::Idle),
        log: RwSignal::new(Vec::new()),
        report: RwSignal::new(None),
        request: RwSignal::new(BenchRequest::default()),
        build: RwSignal::new(None),
        #[cfg(feature = "hydrate")]
        client: StoredValue::new_local(None),
    };
    #[cfg(feature = "hydrate")]
    b.start();
    let field = |label: &'static str, value: String| {
        view! {
            <div>
                <dt>{label}</dt>
                <dd>{value}</dd>
            </div>
        }
    };
    let results = move || {
        b.report.get().map(|r| {
            let json = serde_json::to_string(&r).unwrap_or_default();
            let prompt = b.request.with_untracked(|q| q.prompt_tokens);
            let on = match (&r.adapter, r.software_adapter) {
                (Some(a), Some(true)) => format!(
                    "WebGPU on {a}: a software adapter, whose numbers say nothing about real GPUs"
                ),
                (Some(a), _) => format!("WebGPU on {a}"),
                (None, _) => {
                    let s = if r.threads == 1 { "" } else { "s" };
                    format!("WebAssembly ({} build), {} thread{s}", r.build, r.threads)
                }
            };
            let why = b.build.get().and_then(|b| b.why);
            view! {
                <dl class="facts" data-testid="bench-result">
                    {field("Ran on", on)}
                    {field("Decode (after the prefill)", format!("{:.1} tokens/s", r.decode_tokens_per_s))}
                    {field("Decode (empty context)", format!("{:.1} tokens/s", r.decode_empty_tokens_per_s))}
                    {field("Prefill", format!("{:.1} tokens/s ({prompt} tokens)", r.prefill_tokens_per_s))}
                    {field("Vision, one 512×512 tile", r.vision_ms_per_tile.map(|ms| format!("{ms:.0} ms")).unwrap_or_else(|| "not run".into()))}
                    {r.picture_ms.map(|ms| field("Time to text, full-detail picture", format!("{:.1} s ({} frames)", ms / 1000.0, r.picture_frames)))}
                    {why.map(|w| field("Not the fastest build because", w))}
                    {field("Random weights built in", format!("{:.0} ms", r.load_ms))}
                    {field("Weights", ocr_protocol::memory::human_bytes(r.weight_bytes))}
                    {field("Worker memory", ocr_protocol::memory::human_bytes(r.wasm_memory_bytes))}
                </dl>
                <pre class="bench-json" data-testid="bench-json">{json}</pre>
            }
        })
    };
    view! {
        <Shell>
            <header class="page-head">
                <p class="eyebrow">"Benchmark"</p>
                <h1>"SmolVLM2’s speed in this browser"</h1>
                <p class="lede">
                    "The decoder and the vision encoder at the real SmolVLM2 dimensions, with random weights made "
                    "on the spot (speed does not depend on their values), in the same Web Worker the OCR page "
                    "uses: WebAssembly (SIMD128, relaxed SIMD where the browser has it) on every core this page "
                    "may use, or our WGSL kernels on your graphics card through WebGPU. Nothing is downloaded. "
                    "It takes a minute or two. " <code>"threads=N"</code> " caps the threads, " <code>"build=NAME"</code>
                    " picks a worker build, " <code>"picture_frames=17"</code> " also times a full-detail picture."
                </p>
            </header>
            <section class="card bench-form" aria-label="Settings">
                <label>
                    "Model size "
                    <select on:change=move |ev| { let v = event_target_value(&ev); b.request.update(|r| r.size = v); }>
                        <option value="256m" selected=true>"SmolVLM2-256M"</option>
                        <option value="500m">"SmolVLM2-500M"</option>
                        <option value="granite-docling-258m">"granite-docling-258M"</option>
                    </select>
                </label>
                <label>
                    " Weights "
                    <select on:change=move |ev| { let v = event_target_value(&ev); b.request.update(|r| r.dtype = v); }>
                        <option value="q8_0" selected=true>"Q8_0"</option>
                        <option value="q4_0">"Q4_0"</option>
                        <option value="q4_k">"Q4_K_M"</option>
                        <option value="f16">"F16"</option>
                        <option value="f32">"F32"</option>
                    </select>
                </label>
                <label>
                    " Backend "
                    <select
                        data-testid="bench-backend"
                        prop:value=move || b.request.with(|r| r.backend.to_string())
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            b.request.update(|r| r.backend = backend_of(&v).unwrap_or(r.backend));
                        }
                    >
                        <option value="wasm" selected=true>"WebAssembly (CPU)"</option>
                        <option value="webgpu">"WebGPU"</option>
                    </select>
                </label>
                <button
                    type="button"
                    class="button"
                    data-testid="bench-run"
                    disabled=move || b.state.get() == BenchState::Running
                    on:click=move |_| b.run()
                >
                    "Run the benchmark"
                </button>
                <p class="ocr-status" role="status" data-testid="bench-status" data-state=move || b.state.get().as_str()>
                    {move || match b.state.get() {
                        BenchState::Idle => "Not run yet.",
                        BenchState::Running => "Running…",
                        BenchState::Done => "Done.",
                        BenchState::Error => "The benchmark failed.",
                    }}
                </p>
            </section>
            {results}
            <pre class="bench-log" aria-live="polite">{move || b.log.get().join("\n")}</pre>
        </Shell>
    }
}

/// `wasm`, `webgpu` or `auto` (as the OCR page's `backend=`).
fn backend_of(s: &str) -> Option<BackendChoice> {
    match s {
        "wasm" => Some(BackendChoice::Wasm),
        "webgpu" => Some(BackendChoice::Webgpu),
        "auto" => Some(BackendChoice::Auto),
        _ => None,
    }
}

#[cfg(not(feature = "hydrate"))]
impl Bench {
    fn run(&self) {}
}

#[cfg(feature = "hydrate")]
impl Bench {
    fn start(self) {
        use crate::ocr::client::{Client, Incoming};
        use ocr_protocol::{Event, Scope};
        let site = crate::use_site();
        let b = self;
        Effect::new(move |_| {
            // `?autorun=1&size=256m&dtype=q8_0&backend=webgpu&prompt_tokens=512&decode_tokens=128
            // &vision=1&picture_frames=17&threads=N&build=NAME`
            let search = web_sys::window()
                .and_then(|w| w.location().search().ok())
                .unwrap_or_default();
            let q = search.trim_start_matches('?');
            let mut autorun = false;
            let worker = ocr_protocol::params::OcrParams::from_query(q);
            for pair in q.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                b.request.update(|r| match k {
                    "size" => r.size = v.to_string(),
                    "dtype" => r.dtype = v.to_string(),
                    "backend" => r.backend = backend_of(v).unwrap_or(r.backend),
                    "prompt_tokens" => r.prompt_tokens = v.parse().unwrap_or(r.prompt_tokens),
                    "decode_tokens" => r.decode_tokens = v.parse().unwrap_or(r.decode_tokens),
                    "vision" => r.vision = v != "0",
                    "picture_frames" => r.picture_frames = v.parse().unwrap_or(r.picture_frames),
                    _ => {}
                });
                if k == "autorun" && v == "1" {
                    autorun = true;
                }
            }
            let url = ocr_protocol::params::worker_url(
                &format!("{}ocr-worker-loader.js", site.base),
                worker.threads,
                worker.build.as_deref(),
            );
            let client = Client::start(url, move |incoming| match incoming {
                Incoming::Event(Event::Ready { build, .. }, _) => b.build.set(Some(build)),
                Incoming::Event(Event::BenchLog { line }, _) => b.log.update(|l| l.push(line)),
                Incoming::Event(Event::BenchDone { report }, _) => {
                    b.report.set(Some(report));
                    b.state.set(BenchState::Done);
                }
                Incoming::Event(
                    Event::Failed {
                        scope: Scope::Bench | Scope::Worker,
                        failure,
                    },
                    _,
                ) => {
                    b.log.update(|l| l.push(failure.message));
                    b.state.set(BenchState::Error);
                }
                Incoming::Crash { message, oom } => {
                    b.log.update(|l| {
                        l.push(format!(
                            "The worker stopped: {message} (failed allocation: {oom} bytes)"
                        ))
                    });
                    b.state.set(BenchState::Error);
                }
                _ => {}
            });
            b.client.set_value(Some(client));
            if autorun {
                b.run();
            }
        });
        on_cleanup(move || {
            if let Some(Some(c)) = b.client.try_get_value() {
                Client::terminate(&c);
            }
        });
    }

    fn run(&self) {
        use crate::ocr::client::Client;
        if self.state.get_untracked() == BenchState::Running {
            return;
        }
        self.state.set(BenchState::Running);
        self.log.set(Vec::new());
        self.report.set(None);
        let req = ocr_protocol::Request::Bench(self.request.get_untracked());
        if let Some(Some(c)) = self.client.try_get_value() {
            Client::send(&c, &req, None, None);
        }
    }
}
