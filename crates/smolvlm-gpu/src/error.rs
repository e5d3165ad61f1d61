//! The one error type of the crate.

/// Everything that can go wrong between asking for an adapter and reading a result back.
///
/// [`Error::wants_cpu_fallback`] tells the cases where a caller should fall back to the CPU
/// path from those that point at a bug or at bad input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter at all, or none allowed by the selection rule (the message says why
    /// each one was passed over).
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// `request_device` failed.
    #[error("could not open the GPU device: {0}")]
    RequestDevice(String),
    /// The device was lost (driver reset, browser tab in the background, `destroy`).
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    /// A validation, out-of-memory or internal error reported by wgpu.
    #[error("GPU error: {0}")]
    Gpu(String),
    /// Mapping a buffer for reading failed.
    #[error("GPU read-back failed: {0}")]
    Readback(String),
    /// Bad shapes, types or sizes passed to an operation.
    #[error("invalid GPU operation: {0}")]
    Invalid(String),
    /// A buffer larger than the device allows.
    #[error("{what} needs {bytes} bytes, over the device limit of {limit} bytes")]
    TooLarge {
        what: String,
        bytes: u64,
        limit: u64,
    },
    /// The model side: weights missing or of the wrong shape, a bad prompt, a config the
    /// GPU path does not implement. The same errors the CPU model gives.
    #[error(transparent)]
    Model(#[from] smolvlm::Error),
}

impl From<candle_core::Error> for Error {
    /// candle only runs on the host here (reading weights, sampling): its errors are the
    /// model's.
    fn from(e: candle_core::Error) -> Self {
        Error::Model(smolvlm::Error::Candle(e))
    }
}

impl Error {
    /// Whether the CPU path should take over: no usable adapter, a device that went away
    /// or is too small for the model, or a model the GPU kernels do not implement. Other
    /// errors are bugs or bad input.
    pub fn wants_cpu_fallback(&self) -> bool {
        matches!(
            self,
            Error::NoAdapter(_)
                | Error::RequestDevice(_)
                | Error::DeviceLost(_)
                | Error::Readback(_)
                | Error::TooLarge { .. }
                // A model the GPU kernels do not implement (a Granite decoder): the CPU does.
                | Error::Model(smolvlm::Error::Unsupported(_))
        )
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// `Err(Error::Invalid(..))` with a formatted message.
macro_rules! invalid {
    ($($arg:tt)*) => {
        return Err($crate::Error::Invalid(format!($($arg)*)))
    };
}
pub(crate) use invalid;
