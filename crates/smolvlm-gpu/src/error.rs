//! The one error type of the crate.

/// Everything that can go wrong between asking for an adapter and reading a result back.
///
/// `NoAdapter`, `Unsuitable` and `DeviceLost` are the cases where a caller should fall back
/// to the CPU path; the others point at a bug or at bad input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter at all, or none allowed by the selection rule.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// An adapter exists but cannot run our kernels.
    #[error("GPU adapter `{adapter}` is unsuitable: {reason}")]
    Unsuitable { adapter: String, reason: String },
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
}

pub type Result<T> = std::result::Result<T, Error>;

/// `Err(Error::Invalid(..))` with a formatted message.
macro_rules! invalid {
    ($($arg:tt)*) => {
        return Err($crate::Error::Invalid(format!($($arg)*)))
    };
}
pub(crate) use invalid;
