//! `cargo xtask …`: the one entry for every chore of this repository (rust-analyzer style).
//!
//! - `serve`: install what is missing, build the static site, serve it on localhost.
//! - `dist`: build the static site into `dist/`.
//! - `test`: every test (native unit tests, browser tests), each step timed.
//! - `install`: only install the tools; `doctor`: say what is installed and what is not.
//! - `fetch-models`, `bench`, `samples`: the OCR page's model files, its speed, its
//!   sample pictures (see `ocr.rs`).
//! - `bench-votes`: the votes service's votes/s and latency on SQLite and PostgreSQL
//!   (see `votes.rs`; `serve` runs that service beside the site).
//! - `fuzz`: the parsers' cargo-fuzz targets, seeded from the fixtures (see `fuzz.rs`).
//!
//! Everything CI builds is built once, in the release profile: the `xtask` alias itself runs
//! `--release` (see `.cargo/config.toml`) so xtask's dependencies are not compiled twice.

mod dist;
mod fuzz;
mod ocr;
mod serve;
mod test;
mod tools;
mod votes;
mod workers;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// The site URL `dist` and `serve` use when none is given (DESIGN.md).
pub const DEFAULT_SITE_URL: &str = "http://localhost:8080/";

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Chores of this repository: serve, dist, test, install, doctor, fetch-models, bench, samples, bench-votes, fuzz"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the site (installing what is missing), then serve `dist/` on localhost.
    Serve {
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Public URL the site is built for; its path is where the site is served
        /// (e.g. http://localhost:8080/sub/ serves it under /sub/). Defaults to
        /// http://localhost:<port>/.
        #[arg(long)]
        site_url: Option<String>,
        /// Serve what is already in dist/ without building.
        #[arg(long)]
        no_build: bool,
        /// A folder of model files to serve at /models/ (under the site's path), for the
        /// OCR page offline: `?model=/models/x.gguf&mmproj=/models/mmproj-x.gguf`
        /// (see `cargo xtask fetch-models`).
        #[arg(long, value_name = "DIR")]
        models: Option<PathBuf>,
        /// The votes database: `sqlite:PATH` or `postgres://…`. Default: a SQLite file in
        /// target/votes/votes.sqlite, kept across restarts.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
    /// Download the OCR page's default model files (SmolVLM2-256M Q8_0, the GGUF pair
    /// ggml-org publishes) into a folder for `serve --models`, resuming partial files.
    FetchModels {
        /// Where to put them.
        #[arg(long, default_value = "models")]
        dir: PathBuf,
    },
    /// The /bench page in headless Chromium beside native `smolvlm bench`: tokens/s, ms
    /// per tile and the wasm/native ratio.
    Bench {
        /// 256m, 500m or granite-docling-258m (`smolvlm bench --size`).
        #[arg(long, default_value = "256m")]
        size: String,
        /// q8_0, q4_0, q4_k, f16 or f32.
        #[arg(long, default_value = "q8_0")]
        dtype: String,
        /// wasm (every worker build in dist/, beside native `smolvlm bench` on one thread and on all) or webgpu (our WGSL
        /// kernels, beside native `smolvlm bench --backend wgpu`).
        #[arg(long, default_value = "wasm")]
        backend: String,
        /// Prefill length (the contract's benchmark: 512).
        #[arg(long, default_value_t = 512)]
        prompt_tokens: u32,
        /// Tokens decoded after the prefill and from an empty context (contract: 128).
        #[arg(long, default_value_t = 128)]
        decode_tokens: u32,
        /// Skip the vision tile (minutes on a software GPU).
        #[arg(long)]
        no_vision: bool,
        /// Frames of a full-detail picture timed to its first token on the CPU (a square
        /// picture at the default splitting: 17; 0 skips it).
        #[arg(long, default_value_t = 17)]
        picture_frames: u32,
        /// Use the dist/ already built.
        #[arg(long)]
        no_build: bool,
    },
    /// Render the OCR page's sample pictures (public/samples/) from their HTML sources in
    /// tests/samples/ with headless Chromium.
    Samples,
    /// Build the static site into `dist/`.
    Dist {
        /// Public URL the site will live at (absolute links, sitemap, canonical, og:image).
        #[arg(long, default_value = DEFAULT_SITE_URL)]
        site_url: String,
        /// Where the votes service is (its root, e.g. https://votes.example.org/; it must
        /// allow the site's origin: `votes serve --allow-origin`). Without it the pages are
        /// fully static: "No community votes yet", no buttons.
        #[arg(long, value_name = "URL")]
        votes_api: Option<String>,
    },
    /// The votes service's speed on loopback: votes/s and p50/p99 latency, on a temporary
    /// SQLite file and a temporary PostgreSQL server (Debian's postgresql package).
    BenchVotes {
        /// Concurrent clients, each on its own connection.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Votes in the measured burst.
        #[arg(long, default_value_t = 20_000)]
        votes: usize,
    },
    /// Run every test: native tests, then the browser tests against a fresh `dist/`.
    Test {
        /// Run only the steps whose name contains this text (see `cargo xtask test --list`).
        #[arg(long)]
        only: Option<String>,
        /// List the steps and exit.
        #[arg(long)]
        list: bool,
    },
    /// Fuzz the parsers a model link or a picked file reaches (GGUF, safetensors, the JSON
    /// files, pictures, chat templates) with cargo-fuzz, each target for `--seconds`.
    Fuzz {
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only the targets whose name contains this text.
        #[arg(long)]
        only: Option<String>,
    },
    /// Install the tools the other commands need (apt packages when root, cargo tools, npm).
    Install,
    /// Say which tools are installed and which are missing, without changing anything.
    Doctor,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = project_root()?;
    std::env::set_current_dir(&root)?;
    match cli.cmd {
        Cmd::Serve {
            port,
            site_url,
            no_build,
            models,
            database,
        } => {
            let site_url = site_url.unwrap_or_else(|| format!("http://localhost:{port}/"));
            let site = dist::SiteUrl::parse(&site_url)?;
            // The votes API on the site's own origin, under its path.
            votes::set_votes_api(Some(&site.path))?;
            if !no_build {
                tools::install(tools::Need::Build)?;
                timed("dist", || dist::build(&root, &site))?;
            }
            let database = match database {
                Some(d) => d,
                None => {
                    let file = votes::default_database(&root);
                    if let Some(dir) = file.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    format!("sqlite:{}", file.display())
                }
            };
            let votes = votes::VotesServer::start(&database, 30)?;
            let mut extra = ocr::models_mount(&site, models.as_deref())?;
            extra.votes = Some(votes.addr);
            serve::serve_forever(&root.join("dist"), &site, port, &extra)
        }
        Cmd::FetchModels { dir } => ocr::fetch_models(&dir),
        Cmd::Bench {
            size,
            dtype,
            backend,
            prompt_tokens,
            decode_tokens,
            no_vision,
            picture_frames,
            no_build,
        } => ocr::bench(
            &root,
            &ocr::BenchArgs {
                size,
                dtype,
                backend,
                prompt_tokens,
                decode_tokens,
                no_vision,
                picture_frames,
                no_build,
            },
        ),
        Cmd::Samples => ocr::samples(&root),
        Cmd::Dist {
            site_url,
            votes_api,
        } => {
            let site = dist::SiteUrl::parse(&site_url)?;
            votes::set_votes_api(votes_api.as_deref())?;
            tools::install(tools::Need::Build)?;
            timed("dist", || dist::build(&root, &site))
        }
        Cmd::Test { only, list } => test::main(&root, only.as_deref(), list),
        Cmd::BenchVotes { clients, votes } => votes::bench(clients, votes),
        Cmd::Fuzz { seconds, only } => {
            fuzz::main(&root, fuzz::Budget::Explore { seconds }, only.as_deref())
        }
        Cmd::Install => tools::install(tools::Need::Test),
        Cmd::Doctor => tools::doctor(),
    }
}

/// The workspace root: xtask lives in `<root>/xtask`.
fn project_root() -> Result<PathBuf> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

/// Runs `f`, printing how long it took under `name`.
pub fn timed<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("xtask: ── {name} ──");
    let start = Instant::now();
    let result = f();
    let secs = start.elapsed().as_secs_f64();
    match &result {
        Ok(_) => eprintln!("xtask: ── {name}: ok in {secs:.1} s ──"),
        Err(e) => eprintln!("xtask: ── {name}: FAILED after {secs:.1} s: {e:#} ──"),
    }
    result
}

/// Runs a command, echoing it, and fails with its exit status if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: $ {}", show(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", show(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", show(cmd));
    }
    Ok(())
}

/// A command line as a person would type it (for logs and error messages).
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// `cargo` as invoked by the `cargo xtask` alias (respects `$CARGO`).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
