//! The OCR page's chores: model files served at `/models/` (`serve --models`), fetching the
//! default model files (`fetch-models`), the browser benchmark beside the native one
//! (`bench`), the sample pictures (`samples`), and what the OCR browser tests need
//! (the fixture models served same-origin, the CLI's answers to compare with).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{cargo, dist, run, serve, show, timed, tools};

/// The default model of the OCR page (ocr-protocol's menu, first entry): ggml-org's
/// SmolVLM2-256M GGUF pair, with its published sizes (DESIGN.md).
const DEFAULT_FILES: [(&str, u64); 2] = [
    ("SmolVLM2-256M-Video-Instruct-Q8_0.gguf", 175_056_352),
    ("mmproj-SmolVLM2-256M-Video-Instruct-Q8_0.gguf", 103_771_680),
];
const DEFAULT_REPO: &str =
    "https://huggingface.co/ggml-org/SmolVLM2-256M-Video-Instruct-GGUF/resolve/main/";

/// `serve --models DIR`: DIR at `<site path>models/`.
pub fn models_mount(site: &dist::SiteUrl, dir: Option<&Path>) -> Result<serve::Extra> {
    let Some(dir) = dir else {
        return Ok(serve::Extra::default());
    };
    if !dir.is_dir() {
        bail!(
            "--models {}: no such folder (`cargo xtask fetch-models --dir {}` fills one)",
            dir.display(),
            dir.display()
        );
    }
    let at = format!("{}models", site.path);
    if DEFAULT_FILES
        .iter()
        .all(|(name, _)| dir.join(name).is_file())
    {
        eprintln!(
            "xtask: the OCR page with these files: {}ocr/?model={at}/{}&mmproj={at}/{} (kiosk: {}kiosk/?model=…)",
            site.url, DEFAULT_FILES[0].0, DEFAULT_FILES[1].0, site.url
        );
    }
    let dir = dir
        .canonicalize()
        .with_context(|| format!("--models {}", dir.display()))?;
    Ok(serve::Extra::default().mount(at, dir))
}

/// `fetch-models`: the default pair into `dir` with curl (resuming a partial file), each
/// checked against its published size.
pub fn fetch_models(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, size) in DEFAULT_FILES {
        let path = dir.join(name);
        let have = path.metadata().map(|m| m.len()).unwrap_or(0);
        if have == size {
            eprintln!("xtask: {} is already complete", path.display());
            continue;
        }
        if have > size {
            std::fs::remove_file(&path)?;
        }
        timed(&format!("download {name}"), || {
            run(Command::new("curl")
                .args(["--fail", "--location", "--continue-at", "-", "--output"])
                .arg(&path)
                .arg(format!("{DEFAULT_REPO}{name}")))
        })
        .context("downloading needs the network and curl (apt-get install curl)")?;
        let got = path.metadata()?.len();
        if got != size {
            bail!(
                "{}: {got} bytes, the published file has {size}: run again to resume, or delete it",
                path.display()
            );
        }
    }
    eprintln!(
        "xtask: done. Serve them with `cargo xtask serve --models {}`",
        dir.display()
    );
    Ok(())
}

/// What the browser tests' model requests are served from (`/models/...`): the fixture
/// checkpoints, their GGUF pair, a damaged copy of the pair and a pair too large for a
/// browser (for the error tests).
pub fn test_mounts(root: &Path) -> Result<serve::Extra> {
    let fixtures = root.join("crates/smolvlm/tests/fixtures");
    let broken = root.join("target/ocr-e2e/broken");
    std::fs::create_dir_all(&broken)?;
    let text = std::fs::read(fixtures.join("gguf/tiny-split-Q8_0.gguf"))
        .context("reading the fixture GGUF")?;
    // The first half of the text model: a truncated download that got cached.
    std::fs::write(broken.join("tiny-split-Q8_0.gguf"), &text[..text.len() / 2])?;
    std::fs::copy(
        fixtures.join("gguf/mmproj-tiny-split-Q8_0.gguf"),
        broken.join("mmproj-tiny-split-Q8_0.gguf"),
    )?;
    // A pair too large for a browser: sparse files (no disk used), only their size is read.
    let huge = root.join("target/ocr-e2e/huge");
    std::fs::create_dir_all(&huge)?;
    for name in ["huge.gguf", "mmproj-huge.gguf"] {
        std::fs::File::create(huge.join(name))?.set_len(3 << 30)?;
    }
    let hostile = hostile_folders(
        &fixtures.join("tiny-split"),
        &root.join("target/ocr-e2e/hostile"),
    )?;
    Ok(serve::Extra::default()
        .mount("/models/hostile", hostile)
        .mount("/models/huge", huge)
        .mount("/models/tiny-split", fixtures.join("tiny-split"))
        .mount("/models/tiny-docling", fixtures.join("tiny-docling"))
        .mount(
            "/models/tiny-smoldocling",
            fixtures.join("tiny-smoldocling"),
        )
        .mount("/models/gguf", fixtures.join("gguf"))
        .mount("/models/broken", broken))
}

/// Hub folders that are the tiny fixture with one file made hostile, as a `model=` link
/// can serve them (issue 14's rows the page reaches): `template-loops` (a chat template
/// of two nested 100,000-step loops), `zero-layers` (a text decoder without layers),
/// `huge-frames` (pictures resized to a 100,000-pixel edge, thousands of frames). Each
/// must end in a clear error at once, before any frame is encoded.
fn hostile_folders(tiny: &Path, out: &Path) -> Result<PathBuf> {
    type Edit = fn(&mut serde_json::Value);
    let rows: [(&str, &str, Edit); 3] = [
        ("template-loops", "chat_template.json", |v| {
            v["chat_template"] =
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
                    .into();
        }),
        ("zero-layers", "config.json", |v| {
            v["text_config"]["num_hidden_layers"] = 0.into();
        }),
        ("huge-frames", "preprocessor_config.json", |v| {
            v["size"]["longest_edge"] = 100_000.into();
        }),
    ];
    for (row, file, edit) in rows {
        let dir = out.join(row);
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(tiny)? {
            let entry = entry?;
            std::fs::copy(entry.path(), dir.join(entry.file_name()))?;
        }
        let path = dir.join(file);
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("reading {}", path.display()))?;
        edit(&mut v);
        std::fs::write(&path, serde_json::to_vec_pretty(&v)?)?;
    }
    Ok(out.to_path_buf())
}

/// One run the browser must reproduce: the page's link, the picture, and what
/// `smolvlm generate --json` answered for the same model, picture and prompt.
struct Case {
    name: &'static str,
    /// `--model` and `--mmproj` (relative to the fixtures), and the same files' URLs.
    model: &'static str,
    mmproj: Option<&'static str>,
    image: &'static str,
    prompt: &'static str,
    tiles: &'static str,
    tokens: u32,
}

const CASES: &[Case] = &[
    Case {
        name: "gguf-q8_0-tiles",
        model: "gguf/tiny-split-Q8_0.gguf",
        mmproj: Some("gguf/mmproj-tiny-split-Q8_0.gguf"),
        image: "images/rgb_37x53.png",
        prompt: "What is written here?",
        tiles: "all",
        tokens: 12,
    },
    Case {
        name: "hub-folder-fast",
        model: "tiny-split",
        mmproj: None,
        image: "images/big_300x170.png",
        prompt: "Extract all the text in this image.",
        tiles: "0",
        tokens: 10,
    },
];

/// `smolvlm <subcommand>` built and run by cargo (release, as everything here), in `root`.
fn smolvlm(root: &Path, subcommand: &str) -> Command {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "--quiet",
        "--bin",
        "smolvlm",
        "--",
        subcommand,
    ])
    .current_dir(root);
    cmd
}

/// Runs `cmd` (the CLI with `--json`) and reads the JSON object its last line is.
fn last_json_line(cmd: &mut Command) -> Result<Value> {
    eprintln!("xtask: $ {}", show(cmd));
    let output = cmd
        .output()
        .with_context(|| format!("running {}", show(cmd)))?;
    if !output.status.success() {
        bail!(
            "`{}` failed: {}",
            show(cmd),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .with_context(|| format!("the last line of `{}` is not JSON: {last}", show(cmd)))
}

/// Runs the CLI for every case and writes what the browser tests compare with
/// (`target/ocr-e2e/cases.json`); returns its path.
pub fn reference_cases(root: &Path) -> Result<PathBuf> {
    let fixtures = root.join("crates/smolvlm/tests/fixtures");
    let mut out = Vec::new();
    for c in CASES {
        let mut cmd = smolvlm(root, "generate");
        cmd.arg("--model").arg(fixtures.join(c.model));
        if let Some(m) = c.mmproj {
            cmd.arg("--mmproj").arg(fixtures.join(m));
        }
        cmd.arg("--image")
            .arg(fixtures.join(c.image))
            .args(["--prompt", c.prompt, "--tiles", c.tiles])
            .args(["--max-new-tokens", &c.tokens.to_string()])
            .args(["--min-new-tokens", &c.tokens.to_string()])
            .arg("--json");
        let reference = last_json_line(&mut cmd)?;
        let model_query = match c.mmproj {
            Some(m) => format!("model=/models/{}&mmproj=/models/{m}", c.model),
            None => format!("model=/models/{}/", c.model),
        };
        out.push(json!({
            "name": c.name,
            "query": format!(
                "{model_query}&tiles={}&max_new_tokens={}&min_new_tokens={}&backend=wasm",
                c.tiles, c.tokens, c.tokens
            ),
            "prompt": c.prompt,
            "image": fixtures.join(c.image),
            // The text model's file, for the tests that serve parts of it themselves.
            "model_file": fixtures.join(c.model),
            "cli": {
                "prompt_ids": reference["prompt_ids"],
                "generated_ids": reference["generated_ids"],
                "text": reference["text"],
            },
        }));
    }
    let dir = root.join("target/ocr-e2e");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("cases.json");
    std::fs::write(&path, serde_json::to_string_pretty(&out)?)?;
    // Beside it (the document spec reads it from there): `smolvlm convert` on PDFs.
    std::fs::write(
        dir.join("documents.json"),
        serde_json::to_string_pretty(&document_cases(root)?)?,
    )?;
    Ok(path)
}

/// One PDF the browser must read as `smolvlm convert --json` reads it: per page, the same
/// ids, and the same document.
struct DocumentCase {
    name: &'static str,
    /// A Hub-layout folder of the fixtures.
    model: &'static str,
    pdf: &'static str,
    pages: &'static str,
    tokens: u32,
    /// Whether the page's link names the model (`model=/models/<model>/`); without it the
    /// test picks the menu entry whose Hub files it serves from the fixture.
    link: bool,
}

const DOCUMENT_CASES: &[DocumentCase] = &[
    // The random-weight model: its answers are noise, but depend on each page's pixels.
    DocumentCase {
        name: "three-pages-random",
        model: "tiny-split",
        pdf: "three_pages.pdf",
        pages: "3,1-2",
        tokens: 8,
        link: true,
    },
    // The DocTags fixture: a real DocTags page (the same for every page).
    DocumentCase {
        name: "docling",
        model: "tiny-docling",
        pdf: "text_table.pdf",
        pages: "all",
        tokens: 200,
        link: true,
    },
    // SmolDocling's layout, random weights: the menu's SmolDocling entry, its Hub folder
    // served from this fixture, must read a page as `convert` does from the folder.
    DocumentCase {
        name: "smoldocling-menu",
        model: "tiny-smoldocling",
        pdf: "text_table.pdf",
        pages: "1",
        tokens: 12,
        link: false,
    },
];

fn document_cases(root: &Path) -> Result<Vec<Value>> {
    let fixtures = root.join("crates/smolvlm/tests/fixtures");
    let pdfs = root.join("crates/pdf/tests/fixtures");
    let mut out = Vec::new();
    for c in DOCUMENT_CASES {
        let mut cmd = smolvlm(root, "convert");
        cmd.arg("--model")
            .arg(fixtures.join(c.model))
            .arg(pdfs.join(c.pdf))
            .args(["--pages", c.pages, "--tiles", "0", "--to", "md", "--json"])
            .args(["--max-new-tokens", &c.tokens.to_string()]);
        let reference = last_json_line(&mut cmd)?;
        let options = format!(
            "pages={}&tiles=0&max_new_tokens={}&backend=wasm",
            c.pages, c.tokens
        );
        let query = if c.link {
            format!(
                "model=/models/{}/&{options}&prompt=Convert%20this%20page%20to%20docling.",
                c.model
            )
        } else {
            // The menu's DocTags model asks its whole-page instruction (the same words).
            options
        };
        out.push(json!({
            "name": c.name,
            "query": query,
            "model_dir": format!("/models/{}/", c.model),
            "pdf": pdfs.join(c.pdf),
            "cli": reference,
        }));
    }
    Ok(out)
}

/// What `bench` measures; the defaults are the contract's benchmark.
pub struct BenchArgs {
    pub size: String,
    pub dtype: String,
    /// `wasm`: native `smolvlm bench` on one thread and on all, beside `/bench` on every
    /// worker build of `dist/` (one thread, and all threads for the threaded builds);
    /// `webgpu`: native `smolvlm bench --backend wgpu` beside `/bench?backend=webgpu`.
    pub backend: String,
    pub prompt_tokens: u32,
    pub decode_tokens: u32,
    /// Skip the vision tile (minutes on a software GPU).
    pub no_vision: bool,
    /// Frames of a full-detail picture to time to its first token (0: skip; CPU only).
    pub picture_frames: u32,
    pub no_build: bool,
}

/// One measurement: where it ran, and its JSON (`smolvlm bench --json` or `bench-json`).
struct Measured {
    label: String,
    json: Value,
}

/// `bench`: native `smolvlm bench`, then `/bench` in headless Chromium, side by side in
/// one sitting (the machines are noisy and differ: compare columns of one run only).
pub fn bench(root: &Path, args: &BenchArgs) -> Result<()> {
    let gpu = match args.backend.as_str() {
        "wasm" => false,
        "webgpu" => true,
        b => bail!("--backend must be wasm or webgpu, got `{b}`"),
    };
    if !args.no_build {
        tools::install(tools::Need::Test)?;
        timed("dist", || {
            dist::build(root, &dist::SiteUrl::parse(crate::DEFAULT_SITE_URL)?)
        })?;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut runs = Vec::new();
    let native_threads: Vec<Option<usize>> = match gpu {
        true => vec![None],
        false if cores > 1 => vec![Some(1), Some(cores)],
        false => vec![Some(1)],
    };
    for threads in native_threads {
        let label = match threads {
            None => "native wgpu".to_string(),
            Some(n) => format!("native {n}t"),
        };
        let json = timed(&format!("smolvlm bench ({label})"), || {
            native_bench(root, args, gpu, threads)
        })?;
        runs.push(Measured { label, json });
    }
    let dist = root.join("dist");
    let addr = serve::spawn(&dist, "/", &serve::Extra::default(), serve::Isolation::On)?;
    let browser_runs: Vec<(String, u32)> = if gpu {
        vec![("webgpu".into(), 1)]
    } else {
        worker_builds(&dist)?
            .into_iter()
            .map(|b| {
                let threads = if b.ends_with("-threads") {
                    cores as u32
                } else {
                    1
                };
                (b, threads)
            })
            .collect()
    };
    for (build, threads) in browser_runs {
        let mut query = format!(
            "size={}&dtype={}&backend={}&prompt_tokens={}&decode_tokens={}&vision={}",
            args.size,
            args.dtype,
            args.backend,
            args.prompt_tokens,
            args.decode_tokens,
            u8::from(!args.no_vision)
        );
        if !gpu {
            query.push_str(&format!(
                "&build={build}&threads={threads}&picture_frames={}",
                args.picture_frames
            ));
        }
        let label = if gpu {
            "WebGPU".to_string()
        } else {
            format!("{build} {threads}t")
        };
        let json = timed(&format!("/bench in headless Chromium ({label})"), || {
            browser_bench(root, addr, &query)
        })?;
        if !gpu && json["build"].as_str() != Some(build.as_str()) {
            bail!("asked for the {build} build, /bench ran {}", json["build"]);
        }
        runs.push(Measured { label, json });
    }
    print_bench(args, gpu, &runs);
    Ok(())
}

fn native_bench(root: &Path, args: &BenchArgs, gpu: bool, threads: Option<usize>) -> Result<Value> {
    let mut cmd = smolvlm(root, "bench");
    cmd.args(["--size", &args.size, "--dtype", &args.dtype, "--json"]);
    cmd.args(["--prompt-tokens", &args.prompt_tokens.to_string()]);
    cmd.args(["--decode-tokens", &args.decode_tokens.to_string()]);
    if args.no_vision {
        cmd.arg("--no-vision");
    }
    if gpu {
        cmd.args(["--backend", "wgpu"]);
    } else {
        cmd.args(["--picture-frames", &args.picture_frames.to_string()]);
    }
    if let Some(n) = threads {
        cmd.args(["--threads", &n.to_string()]);
    }
    eprintln!("xtask: $ {}", show(&cmd));
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(serde_json::from_str::<Value>(
        stdout.lines().last().unwrap_or_default(),
    )?)
}

fn browser_bench(root: &Path, addr: std::net::SocketAddr, query: &str) -> Result<Value> {
    let out_file = root.join("target/ocr-e2e/bench.json");
    std::fs::create_dir_all(out_file.parent().unwrap_or(root))?;
    let _ = std::fs::remove_file(&out_file);
    let tests = root.join("tests");
    run(Command::new(tests.join("node_modules/.bin/playwright"))
        .args(["test", "e2e/bench.spec.ts"])
        .current_dir(&tests)
        .env("SITE_ORIGIN", format!("http://127.0.0.1:{}", addr.port()))
        .env("CHROMIUM", tools::CHROMIUM)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .env("BENCH_OUT", &out_file)
        .env("BENCH_QUERY", query))?;
    Ok(serde_json::from_slice(
        &std::fs::read(&out_file).with_context(|| format!("reading {}", out_file.display()))?,
    )?)
}

/// The worker builds `dist/` has (`ocr-worker-builds.js`, written by `workers.rs`).
fn worker_builds(dist: &Path) -> Result<Vec<String>> {
    let list = std::fs::read_to_string(dist.join("ocr-worker-builds.js"))
        .context("reading dist/ocr-worker-builds.js (build with `cargo xtask dist`)")?;
    let inside = list
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .map(|(l, _)| l)
        .context("ocr-worker-builds.js has no list")?;
    Ok(inside
        .split(',')
        .map(|b| b.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty())
        .collect())
}

fn print_bench(args: &BenchArgs, gpu: bool, runs: &[Measured]) {
    let BenchArgs {
        size,
        dtype,
        prompt_tokens,
        decode_tokens,
        ..
    } = args;
    // SmolVLM2's sizes are bare (256m); another model's is its name (granite-docling-258m).
    let model = match size.chars().next() {
        Some(c) if c.is_ascii_digit() => format!("SmolVLM2-{size}"),
        _ => size.clone(),
    };
    println!(
        "\n{model} {dtype}, random weights, {}, in one sitting",
        if gpu {
            "GPU path: native wgpu vs WebGPU in headless Chromium"
        } else {
            "CPU: native vs each wasm32 worker build in headless Chromium (Nt: N threads)"
        }
    );
    for r in runs {
        if let Some(a) = r.json["adapter"].as_str() {
            let software = r.json["software_adapter"].as_bool() == Some(true);
            println!(
                "{} adapter: {a}{}",
                r.label,
                if software {
                    " (software: says nothing about real GPUs)"
                } else {
                    ""
                }
            );
        }
    }
    print!("{:<32}", "");
    for r in runs {
        print!(" {:>22}", r.label);
    }
    println!();
    let row = |label: String, key: &str, unit: &str, scale: f64| {
        print!("{label:<32}");
        for r in runs {
            let v = r.json[key]
                .as_f64()
                .map_or("—".into(), |v| format!("{:.1} {unit}", v * scale));
            print!(" {v:>22}");
        }
        println!();
    };
    row(
        format!("decode at {prompt_tokens}.. (tokens/s)"),
        "decode_tokens_per_s",
        "tok/s",
        1.0,
    );
    row(
        "decode from empty (tokens/s)".into(),
        "decode_empty_tokens_per_s",
        "tok/s",
        1.0,
    );
    row(
        format!("prefill {prompt_tokens} (tokens/s)"),
        "prefill_tokens_per_s",
        "tok/s",
        1.0,
    );
    row(
        "vision, one 512x512 tile".into(),
        "vision_ms_per_tile",
        "s",
        0.001,
    );
    if !gpu && args.picture_frames > 0 {
        row(
            format!("{}-frame picture, time to text", args.picture_frames),
            "picture_ms",
            "s",
            0.001,
        );
    }
    if (*prompt_tokens, *decode_tokens) != (512, 128) {
        println!("(not the contract's benchmark: {prompt_tokens}-token prefill, {decode_tokens} decoded tokens)");
    }
}

/// `samples`: public/samples/*.png from tests/samples/*.html, screenshot by Chromium.
pub fn samples(root: &Path) -> Result<()> {
    tools::install(tools::Need::Test)?;
    let tests = root.join("tests");
    run(Command::new("node")
        .arg("samples/render.mjs")
        .current_dir(&tests)
        .env("CHROMIUM", tools::CHROMIUM)
        .env("OUT_DIR", root.join("public/samples")))
}
