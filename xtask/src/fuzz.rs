//! `cargo xtask fuzz [--seconds N]`: the cargo-fuzz targets of `fuzz/` (libFuzzer with
//! AddressSanitizer, on the pinned nightly), each for N seconds, seeded from the fixtures.
//! `cargo xtask test` runs [`Budget::Check`] instead: a fixed number of runs from a fixed
//! seed and the fixtures alone, so its outcome is the same here and in CI.
//! The parsers a `model=` link or a picked file reaches: GGUF pairs, safetensors, the
//! Hub's JSON files, pictures, chat templates, PDFs. A finding is a failure that names the input
//! libFuzzer saved (`fuzz/artifacts/TARGET/`); the report gives each target's executions.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::tools::{self, NIGHTLY};

/// The targets (`fuzz/fuzz_targets/NAME.rs`).
pub const TARGETS: &[&str] = &[
    "gguf",
    "safetensors",
    "json_configs",
    "image",
    "chat_template",
    "pdf",
];

const FIXTURES: &str = "crates/smolvlm/tests/fixtures";

/// Fixture files that seed `target`'s corpus: (name, bytes).
fn seeds(root: &Path, target: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let fx = root.join(FIXTURES);
    let read = |rel: &str| -> Result<(String, Vec<u8>)> {
        let bytes = std::fs::read(fx.join(rel)).with_context(|| format!("reading {rel}"))?;
        Ok((rel.replace('/', "_"), bytes))
    };
    let in_dir = |dir: &str, keep: &dyn Fn(&str) -> bool| -> Result<Vec<(String, Vec<u8>)>> {
        let mut names: Vec<String> = std::fs::read_dir(fx.join(dir))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| keep(n))
            .collect();
        names.sort();
        names.iter().map(|n| read(&format!("{dir}/{n}"))).collect()
    };
    Ok(match target {
        // The target reads a u32 length, the text file, then the mmproj.
        "gguf" => ["F32", "F16", "Q8_0"]
            .iter()
            .map(|q| {
                let (_, text) = read(&format!("gguf/tiny-split-{q}.gguf"))?;
                let (_, mmproj) = read(&format!("gguf/mmproj-tiny-split-{q}.gguf"))?;
                let mut pair = (text.len() as u32).to_le_bytes().to_vec();
                pair.extend(text);
                pair.extend(mmproj);
                Ok((format!("pair-{q}"), pair))
            })
            .collect::<Result<_>>()?,
        "safetensors" => vec![
            read("tiny-split/model.safetensors")?,
            read("tiny-nosplit/model.safetensors")?,
        ],
        "json_configs" => {
            let mut s = in_dir("tiny-split", &|n| n.ends_with(".json"))?;
            s.extend(in_dir("tiny-nosplit", &|n| n.ends_with(".json"))?);
            s
        }
        "image" => in_dir("images", &|n| !n.ends_with(".json"))?,
        "chat_template" => vec![read("tiny-split/chat_template.json")?],
        // Every PDF fixture of pdf-pages, the broken ones too.
        "pdf" => {
            let dir = root.join("crates/pdf/tests/fixtures");
            let mut names: Vec<String> = std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".pdf"))
                .collect();
            names.sort();
            names
                .into_iter()
                .map(|n| Ok((n.clone(), std::fs::read(dir.join(&n))?)))
                .collect::<Result<_>>()?
        }
        other => bail!("no seeds for fuzz target {other}"),
    })
}

/// What one target's run did.
struct Report {
    target: &'static str,
    runs: u64,
    seconds: u64,
}

/// How long each target runs.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// Exploring: this many seconds, a new random seed, and the corpus kept between runs
    /// (`target/fuzz-corpus/`), so each run goes on from what the last ones found.
    Explore { seconds: u64 },
    /// The test suite's check: this many runs from libFuzzer seed 1 and a corpus of the
    /// fixtures alone (emptied first). A time limit would make the inputs tried depend
    /// on the machine's speed, and a kept corpus on this checkout's history; a finding in
    /// CI must be one that `cargo xtask test --only fuzz` shows here too.
    Check { runs: u64 },
}

pub fn main(root: &Path, budget: Budget, only: Option<&str>) -> Result<()> {
    tools::install_fuzz()?;
    let fuzz = root.join("fuzz");
    let cargo_fuzz = || {
        let mut c = Command::new("rustup");
        c.args(["run", NIGHTLY, "cargo", "fuzz"])
            .current_dir(&fuzz)
            .env_remove("CARGO_TARGET_DIR");
        c
    };
    // Built once, in sight (the instrumented build is the long part).
    crate::run(cargo_fuzz().args(["build", "--release"]))?;
    let mut reports = Vec::new();
    for &target in TARGETS
        .iter()
        .filter(|t| only.is_none_or(|o| t.contains(o)))
    {
        // The corpus lives outside git (target/).
        let corpus: PathBuf = match budget {
            Budget::Explore { .. } => root.join("target/fuzz-corpus").join(target),
            Budget::Check { .. } => {
                let dir = root.join("target/fuzz-check-corpus").join(target);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                dir
            }
        };
        std::fs::create_dir_all(&corpus)?;
        let seeds = seeds(root, target)?;
        let max_len = seeds
            .iter()
            .map(|(_, b)| b.len())
            .max()
            .unwrap_or(4096)
            .max(4096);
        for (name, bytes) in seeds {
            std::fs::write(corpus.join(format!("seed-{name}")), bytes)?;
        }
        let limit = match budget {
            Budget::Explore { seconds } => {
                eprintln!("xtask: ── fuzz {target} for {seconds} s ──");
                vec![format!("-max_total_time={seconds}")]
            }
            Budget::Check { runs } => {
                eprintln!("xtask: ── fuzz {target}: {runs} runs from seed 1 ──");
                vec![format!("-runs={runs}"), "-seed=1".to_string()]
            }
        };
        let started = std::time::Instant::now();
        let out = cargo_fuzz()
            .args(["run", "--release", target])
            .arg(&corpus)
            .arg("--")
            .args(limit)
            .arg(format!("-max_len={max_len}"))
            .args(["-rss_limit_mb=4096", "-timeout=20", "-print_final_stats=1"])
            .output()
            .context("running cargo fuzz")?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "fuzz target {target} failed (a finding is saved under fuzz/artifacts/{target}/):\n{}",
                tail.join("\n")
            );
        }
        // libFuzzer's -print_final_stats: "stat::number_of_executed_units: 44487".
        let runs = log
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .and_then(|n| n.trim().parse().ok());
        let Some(runs) = runs else {
            bail!("fuzz target {target}: no libFuzzer summary in its output:\n{log}");
        };
        let secs = started.elapsed().as_secs();
        // Said at once too: a finding in a later target ends the run before the summary.
        eprintln!("xtask: {target}: {runs} runs in {secs} s, nothing found");
        reports.push(Report {
            target,
            runs,
            seconds: secs,
        });
    }
    eprintln!("xtask: fuzzing found nothing:");
    for r in &reports {
        eprintln!(
            "xtask:   {:<14} {:>9} runs in {:>4} s ({:.0}/s)",
            r.target,
            r.runs,
            r.seconds,
            r.runs as f64 / r.seconds.max(1) as f64
        );
    }
    Ok(())
}
