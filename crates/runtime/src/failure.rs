//! What a person reads when a run fails: one message per cause, for the page and the CLI.

use ocr_protocol::{Failure, FailureKind};

/// A bug of ours: `what` failed.
pub fn internal(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(FailureKind::Internal, format!("{what} failed: {e}"))
}

/// A prompt that cannot run (too long for the model, or a bug).
pub fn prompt_failure(e: smolvlm::Error) -> Failure {
    match e {
        smolvlm::Error::ContextOverflow { .. } => Failure::new(
            FailureKind::BadRequest,
            format!("Too long for this model: {e}."),
        ),
        e => internal("the prompt", e),
    }
}

/// A GPU error that is not a lost device.
pub fn gpu_failure(what: &str, e: smolvlm_gpu::Error) -> Failure {
    match e {
        smolvlm_gpu::Error::Model(e) => prompt_failure(e),
        e => internal(what, e),
    }
}
