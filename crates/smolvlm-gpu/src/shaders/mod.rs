//! The WGSL kernels (one file per family) and the [`Recorder`](crate::Recorder) methods that
//! record them. Every method checks shapes on the host and returns `Error::Invalid` instead
//! of letting a kernel read out of bounds.

mod argmax;
mod attention;
mod elementwise;
mod embed;
mod linear;
mod mask;
mod norm;
mod pixel_shuffle;
mod rope;

pub use attention::{AttentionArgs, KvCache};
pub use rope::RopeTable;

use crate::error::{invalid, Result};
use crate::tensor::{DType, Tensor};

/// `u32` for a kernel parameter, or an error naming it when it does not fit.
pub(crate) fn u32_of(what: &str, v: usize) -> Result<u32> {
    match u32::try_from(v) {
        Ok(v) => Ok(v),
        Err(_) => invalid!("{what} = {v} does not fit the kernels' 32-bit indices"),
    }
}

/// `Err` unless `t` is an f32 tensor of at least `len` values.
pub(crate) fn f32_len(what: &str, t: &Tensor, len: usize) -> Result<()> {
    t.expect(what, DType::F32, len)
}
