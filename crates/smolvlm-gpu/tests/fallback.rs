//! A GPU device lost in the middle of a turn: the GPU session asks for the CPU, and a CPU
//! session resumed from it (smolvlm's `Session::resume`) finishes the turn with
//! transformers' ids.

mod common;
mod fixtures;

use fixtures::*;
use smolvlm::Session;
use smolvlm_gpu::{Gpu, GpuModel, GpuOptions, GpuSession};

/// A device lost in the middle of a turn: the GPU session reports an error that asks for
/// the CPU, and a CPU session resumed from what the GPU produced finishes the turn with
/// transformers' ids (what `smolvlm generate --backend wgpu` does on a lost device).
#[test]
fn a_lost_device_hands_the_turn_to_the_cpu() {
    let case = case("split_rgb37x53");
    let ck = safetensors(&case);
    // A device of its own: the other tests share theirs.
    let g = Gpu::new_blocking(&GpuOptions::forced()).expect("an adapter (see common::gpu)");
    let model = GpuModel::new(&g, &ck.config, &ck.weights()).unwrap();
    let params = greedy_params(&case).unwrap();
    let want = ids(&case["generation"]["generated_ids"]);
    let prompt = ids(&case["prompt_ids"]);
    let features = gpu_features(&model, &case);
    let mut s = GpuSession::new(&model, params.clone()).unwrap();
    s.prefill(&prompt, features.as_ref()).unwrap();
    for _ in 0..5 {
        s.next_token_blocking().unwrap();
    }
    g.device().destroy();
    let err = s.next_token_blocking().unwrap_err();
    assert!(
        err.wants_cpu_fallback(),
        "{err} should send the turn to the CPU"
    );
    assert_eq!(s.generated(), &want[..5]);

    let cpu = ck.cpu();
    let px = pixel_values(&case).unwrap();
    let cpu_features = cpu.encode_images(&px, None).unwrap();
    let mut resumed = Session::resume(&cpu, s.turn(), Some(&cpu_features)).unwrap();
    while resumed.next_token().unwrap().is_some() {}
    assert_eq!(resumed.generated(), want.as_slice());
}

/// A Granite decoder (tiny-granite) is not implemented by the GPU kernels: loading it on the
/// GPU is a clear `Unsupported` error that asks for the CPU, so `auto` keeps it there.
#[test]
fn a_granite_model_stays_on_the_cpu() {
    let case = case("granite_text_only");
    let ck = safetensors(&case);
    let err = match GpuModel::new(common::gpu(), &ck.config, &ck.weights()) {
        Ok(_) => panic!("the GPU loaded a Granite decoder it does not implement"),
        Err(e) => e,
    };
    assert!(
        matches!(
            err,
            smolvlm_gpu::Error::Model(smolvlm::Error::Unsupported(_))
        ),
        "{err:?}"
    );
    assert!(err.wants_cpu_fallback(), "{err}");
    assert!(err.to_string().contains("Granite"), "{err}");
}
