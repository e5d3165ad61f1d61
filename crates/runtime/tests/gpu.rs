//! The runtime on the GPU (lavapipe here: our WGSL kernels through Vulkan), natively: a run
//! gives transformers' ids on the GPU, and the hand-over policy — a device lost before a
//! run, while encoding the picture or after some tokens — finishes the run on the CPU with
//! the same ids, tells the person, and sends the next runs to the CPU.

mod common;

use common::*;
use smolvlm::bundle::{self, Layout};
use smolvlm_gpu::{Gpu, GpuOptions};
use smolvlm_runtime::{Backend, BackendChoice, Engine, Step};

/// The tiny-split checkpoint on the CPU and, from the same files, on a GPU device of its
/// own (each test destroys its device).
fn engine() -> Engine {
    let loaded = hub("tiny-split");
    let gpu = Gpu::new_blocking(&GpuOptions::forced())
        .expect("a GPU adapter (lavapipe: Debian's mesa-vulkan-drivers)");
    let files = folder(&fixtures().join("tiny-split"));
    let source = bundle::weight_source(&Layout::HubFolder, files, loaded.model.config()).unwrap();
    let model = smolvlm_runtime::upload(
        &gpu,
        BackendChoice::Webgpu,
        source,
        &loaded,
        &mut Recorded::default(),
    )
    .unwrap();
    assert!(model.is_some(), "webgpu never falls back");
    Engine::new(loaded, model)
}

#[test]
fn a_run_on_the_gpu_gives_transformers_ids() {
    let engine = engine();
    assert_eq!(engine.backend(), Backend::Gpu);
    let c = case("split_rgb37x53");
    let (outcome, events) = run_case(&engine, &c);
    assert_eq!(outcome.backend, Backend::Gpu);
    assert_eq!(outcome.prompt_ids, ids(&c["prompt_ids"]));
    assert_eq!(
        outcome.generated_ids,
        ids(&c["generation"]["generated_ids"])
    );
    assert_eq!(outcome.text, c["generation"]["text"].as_str().unwrap());
    let frames = outcome.timings.frames;
    assert_eq!(events.encoding.len(), frames as usize);
    assert!(events.notices.is_empty(), "{:?}", events.notices);
}

#[test]
fn a_device_lost_after_some_tokens_hands_the_run_to_the_cpu() {
    let engine = engine();
    let c = case("split_rgb37x53");
    let want = ids(&c["generation"]["generated_ids"]);
    assert!(want.len() > 4);
    let mut events = Recorded::default();
    let mut run = start_case(&engine, &c, &mut events);
    run.destroy_gpu_after(4);
    let outcome = finish(&mut run, &mut events);
    assert_eq!(
        outcome.generated_ids, want,
        "the CPU carries on the GPU's tokens"
    );
    assert_eq!(outcome.backend, Backend::Cpu);
    assert_eq!(
        events.notices,
        ["The GPU was lost after 4 tokens: the CPU finishes this run (and runs the next ones)."]
    );
    // The frames were encoded twice: on the GPU, then again on the CPU for its features.
    let frames = outcome.timings.frames as usize;
    assert_eq!(events.encoding.len(), 2 * frames);
    assert_eq!(engine.backend(), Backend::Cpu);

    // The next run goes to the CPU at once, and says why.
    let (outcome, events) = run_case(&engine, &c);
    assert_eq!(outcome.generated_ids, want);
    assert_eq!(outcome.backend, Backend::Cpu);
    assert_eq!(
        events.notices,
        ["The GPU was lost in an earlier run: this one runs on the CPU."]
    );
}

#[test]
fn a_device_lost_while_encoding_or_idle_hands_the_run_to_the_cpu() {
    let engine = engine();
    let c = case("split_rgb37x53");
    let want = ids(&c["generation"]["generated_ids"]);
    let mut events = Recorded::default();
    let mut run = start_case(&engine, &c, &mut events);
    assert_eq!(run.step_blocking(&mut events).unwrap(), Step::Encoded);
    assert_eq!(run.backend(), Backend::Gpu);
    engine.gpu_model().unwrap().gpu().destroy();
    let outcome = finish(&mut run, &mut events);
    assert_eq!(outcome.generated_ids, want);
    assert_eq!(outcome.backend, Backend::Cpu);
    assert_eq!(
        events.notices,
        ["The GPU was lost while looking at the picture: the CPU finishes this run (and runs the next ones)."]
    );

    // A device lost between runs (a browser reclaims it) is seen when the next one starts.
    let engine = self::engine();
    engine.gpu_model().unwrap().gpu().destroy();
    let (outcome, events) = run_case(&engine, &c);
    assert_eq!(outcome.generated_ids, want);
    assert_eq!(outcome.backend, Backend::Cpu);
    assert_eq!(
        events.notices,
        ["The GPU was lost since the last run: this run and the next ones run on the CPU."]
    );
}
