//! The fixtures (crates/smolvlm/tests/fixtures: tiny checkpoints and transformers' outputs)
//! and a recorder of the runtime's events.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use candle_core::Device;
use ocr_protocol::Tiles;
use serde_json::Value;
use smolvlm::bundle::{self, Files, Layout, Loaded};
use smolvlm_runtime::{Engine, Events, Outcome, Picture, Run, RunSpec, Step};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../smolvlm/tests/fixtures")
}

pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn case(name: &str) -> Value {
    serde_json::from_slice(&read(&fixtures().join(format!("expected/{name}.json")))).unwrap()
}

pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Every file of a folder, by name.
pub fn folder(dir: &Path) -> Files {
    let mut files = Files::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        files.insert(
            entry.file_name().to_string_lossy().into_owned(),
            read(&entry.path()),
        );
    }
    files
}

/// A fixture checkpoint folder (`tiny-split`, `tiny-nosplit`) loaded on the CPU.
pub fn hub(name: &str) -> Loaded {
    bundle::load(
        &Layout::HubFolder,
        folder(&fixtures().join(name)),
        &Device::Cpu,
    )
    .unwrap()
}

/// What a run told, in order.
#[derive(Debug, Default)]
pub struct Recorded {
    /// (done, frames) of each frame encoded.
    pub encoding: Vec<(u32, u32)>,
    pub notices: Vec<String>,
    pub notes: Vec<String>,
}

impl Events for Recorded {
    fn encoding(&mut self, done: u32, frames: u32) {
        self.encoding.push((done, frames));
    }
    fn notice(&mut self, text: &str) {
        self.notices.push(text.to_string());
    }
    fn note(&mut self, text: &str) {
        self.notes.push(text.to_string());
    }
}

/// Milliseconds since the first reading: a clock every run can borrow.
pub fn clock_ms() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
        * 1000.0
}

/// A reference case's request: its prompt, picture, tiles and greedy limits.
pub fn spec_of<'a>(engine: &Engine, case: &'a Value, image: &'a [u8]) -> RunSpec<'a> {
    let cli = &case["cli"];
    // "all", or a number of tiles.
    let tiles: Tiles = match &cli["tiles"] {
        Value::String(s) => s.parse().unwrap(),
        n => n.to_string().parse().unwrap(),
    };
    RunSpec {
        prompt: Box::leak(
            case["prompt"]
                .as_str()
                .unwrap()
                .to_string()
                .into_boxed_str(),
        ),
        image: Some(Picture::File(image)),
        tiles: smolvlm_runtime::picture::tiles(tiles),
        params: engine.greedy(
            cli["max_new_tokens"].as_u64().unwrap() as usize,
            cli["min_new_tokens"].as_u64().unwrap() as usize,
        ),
    }
}

/// Steps `run` to its end.
pub fn finish(run: &mut Run<'_>, events: &mut Recorded) -> Outcome {
    loop {
        if let Step::Done(outcome) = run.step_blocking(events).unwrap() {
            return outcome;
        }
    }
}

/// Runs a reference case to its end: the outcome and what was told.
pub fn run_case(engine: &Engine, case: &Value) -> (Outcome, Recorded) {
    let mut events = Recorded::default();
    let mut run = start_case(engine, case, &mut events);
    let outcome = finish(&mut run, &mut events);
    (outcome, events)
}

/// Starts a reference case's run (its picture read from the fixtures).
pub fn start_case<'e>(engine: &'e Engine, case: &Value, events: &mut Recorded) -> Run<'e> {
    let image = read(&fixtures().join(case["image"].as_str().unwrap()));
    engine
        .start(spec_of(engine, case, &image), &clock_ms, events)
        .unwrap()
}
