//! `cargo xtask test`: every test, as a list of timed steps.
//!
//! To add a step (model tests, wasm tests, OCR browser tests…), add an entry to [`STEPS`].
//! Every artefact is built once, in the release profile: `dist` builds the wasm app and
//! the pre-renderer, `native tests` builds and runs every native crate's tests (and its
//! binaries) with `cargo test --release`, the browser tests use the `dist/` built before.

use std::{path::Path, process::Command, time::Instant};

use anyhow::{bail, Result};

use crate::{cargo, dist, run, serve, tools, DEFAULT_SITE_URL};

pub struct Ctx<'a> {
    pub root: &'a Path,
}

pub struct Step {
    pub name: &'static str,
    pub run: fn(&Ctx) -> Result<()>,
}

pub const STEPS: &[Step] = &[
    Step {
        name: "install",
        run: |_| tools::install(tools::Need::Test),
    },
    Step {
        name: "dist",
        // Pages name a votes service on their own origin: the browser tests serve one.
        run: |cx| {
            crate::votes::set_votes_api(Some("/"))?;
            dist::build(cx.root, &dist::SiteUrl::parse(DEFAULT_SITE_URL)?)
        },
    },
    Step {
        name: "native tests",
        // web-app is the wasm32 entry: natively it would unify leptos's ssr and hydrate.
        // votes has its own step (it starts a PostgreSQL server).
        run: |_| {
            let mut cmd = cargo();
            cmd.args(["test", "--release", "--workspace", "--exclude", "web-app"]);
            run(cmd.args(["--exclude", "votes"]))
        },
    },
    Step {
        name: "votes",
        // The votes API against a SQLite file and a PostgreSQL server that the test binary
        // starts in a temporary data directory (as the postgres user when root) and stops.
        run: |_| run(cargo().args(["test", "--release", "--package", "votes"])),
    },
    Step {
        name: "wasm32 model tests",
        // The model crate's fixture checks and its kernels against the scalar ones, compiled
        // to wasm32 (SIMD128, as the browser runs them), in Node through
        // wasm-bindgen-test-runner.
        run: |_| {
            run(cargo()
                .args(["test", "--release", "--target", "wasm32-unknown-unknown"])
                .args(["-p", "smolvlm", "--test", "wasm_model", "--test", "kernels"])
                .env(
                    "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                    "wasm-bindgen-test-runner",
                ))
        },
    },
    Step {
        name: "browser tests",
        run: browser_tests,
    },
    Step {
        name: "fuzz",
        // Each cargo-fuzz target for a fixed number of runs from the fixtures' seeds and
        // libFuzzer seed 1 (the same inputs every time, here as in CI): a parser change
        // that panics on a nearby input fails here. Longer, exploring runs:
        // `cargo xtask fuzz --seconds N`.
        run: |cx| {
            crate::fuzz::main(
                cx.root,
                crate::fuzz::Budget::Check { runs: FUZZ_RUNS },
                None,
            )
        },
    },
];

/// Runs of each fuzz target in `cargo xtask test` (the slowest, gguf, makes about 600 a
/// second on this 2-core machine while other builds run).
const FUZZ_RUNS: u64 = 20_000;

pub fn run_steps(cx: &Ctx, only: Option<&str>) -> Result<()> {
    let mut times = Vec::new();
    let start = Instant::now();
    for step in STEPS
        .iter()
        .filter(|s| only.is_none_or(|o| s.name.contains(o)))
    {
        let t = Instant::now();
        let result = crate::timed(step.name, || (step.run)(cx));
        times.push((step.name, t.elapsed().as_secs_f64(), result.is_ok()));
        if let Err(e) = result {
            print_times(&times, start);
            bail!("step `{}` failed: {e:#}", step.name);
        }
    }
    print_times(&times, start);
    Ok(())
}

fn print_times(times: &[(&str, f64, bool)], start: Instant) {
    eprintln!("xtask: step times");
    for (name, secs, ok) in times {
        eprintln!(
            "xtask:   {name:<16} {secs:>8.1} s {}",
            if *ok { "ok" } else { "FAILED" }
        );
    }
    eprintln!(
        "xtask:   {:<16} {:>8.1} s",
        "total",
        start.elapsed().as_secs_f64()
    );
}

pub fn main(root: &Path, only: Option<&str>, list: bool) -> Result<()> {
    if list {
        for s in STEPS {
            println!("{}", s.name);
        }
        return Ok(());
    }
    run_steps(&Ctx { root }, only)
}

/// Playwright (tests/) against `dist/` served on a free localhost port, with the fixture
/// models at `/models/`, the CLI's answers for the OCR tests to compare with, and a votes
/// service on a fresh SQLite file behind `/api/`.
fn browser_tests(cx: &Ctx) -> Result<()> {
    let dist = cx.root.join("dist");
    if !dist.join("404.html").exists() {
        bail!("dist/ is not built: run `cargo xtask dist` (or the whole `cargo xtask test`)");
    }
    let cases = crate::timed("ocr: smolvlm generate for the browser to match", || {
        crate::ocr::reference_cases(cx.root)
    })?;
    let (mounts, _votes) = crate::votes::with_test_server(crate::ocr::test_mounts(cx.root)?)?;
    let addr = serve::spawn(&dist, "/", &mounts, serve::Isolation::On)?;
    // The same site from a host that sends no isolation headers.
    let plain = serve::spawn(&dist, "/", &mounts, serve::Isolation::Off)?;
    let tests = cx.root.join("tests");
    run(Command::new(tests.join("node_modules/.bin/playwright"))
        .args(["test"])
        .current_dir(&tests)
        .env("SITE_ORIGIN", format!("http://127.0.0.1:{}", addr.port()))
        .env("PLAIN_ORIGIN", format!("http://127.0.0.1:{}", plain.port()))
        .env("CHROMIUM", tools::CHROMIUM)
        .env("OCR_CASES", cases)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"))
}
