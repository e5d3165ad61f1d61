//! The one table of weight types: for every type our kernels (CPU and WGSL) read, its ggml
//! block layout (elements, bytes, field offsets), its ggml type id and name, and its
//! candle [`GgmlDType`]; and for every type a GGUF file may hold (candle decodes more than
//! the kernels read), its ggml id and name. The kernels, the GPU loader, the GGUF reader
//! and the writer all take these facts from here.
//!
//! Reference: ggml `ggml-common.h` (block structs) and `ggml.h` (`enum ggml_type`).
//! <https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml-common.h>

use candle_core::quantized::GgmlDType;

/// Elements per block of the 32-element formats (Q8_0, Q4_0, Q5_0).
pub const QK: usize = 32;
/// Elements per super-block of the k-quants (Q4_K, Q6_K) and of Q8_K activations.
pub const QK_K: usize = 256;

/// ggml's block structs, byte for byte (every field is bytes, so nothing pads and a block
/// may sit at any address). Kernels take field offsets from these (`offset_of!`), which
/// are constants: reading through them costs nothing over literal offsets.
pub mod blocks {
    use std::mem::{offset_of, size_of};

    use super::{QK, QK_K};

    /// Q8_0: x = d * q.
    #[repr(C)]
    pub struct Q8_0 {
        /// f16 scale.
        pub d: [u8; 2],
        pub qs: [i8; QK],
    }

    /// Q4_0: x = d * (nibble - 8); low nibbles are elements 0..16.
    #[repr(C)]
    pub struct Q4_0 {
        pub d: [u8; 2],
        pub qs: [u8; QK / 2],
    }

    /// Q5_0: x = d * ((nibble | high bit << 4) - 16).
    #[repr(C)]
    pub struct Q5_0 {
        pub d: [u8; 2],
        /// The fifth bits, element j at bit j (little-endian u32).
        pub qh: [u8; 4],
        pub qs: [u8; QK / 2],
    }

    /// Q4_K: eight sub-blocks of 32 with 6-bit scales and mins:
    /// x = d * sc * nibble - dmin * m.
    #[repr(C)]
    pub struct Q4K {
        pub d: [u8; 2],
        pub dmin: [u8; 2],
        pub scales: [u8; 12],
        pub qs: [u8; QK_K / 2],
    }

    /// Q6_K: sixteen sub-blocks of 16: x = d * sc * (6-bit q - 32).
    #[repr(C)]
    pub struct Q6K {
        pub ql: [u8; QK_K / 2],
        pub qh: [u8; QK_K / 4],
        pub scales: [i8; QK_K / 16],
        pub d: [u8; 2],
    }

    // Sizes and field offsets as constants, for kernels that address blocks by pointer.
    impl Q8_0 {
        pub const BYTES: usize = size_of::<Self>();
        pub const D: usize = offset_of!(Self, d);
        pub const QS: usize = offset_of!(Self, qs);
    }
    impl Q4_0 {
        pub const BYTES: usize = size_of::<Self>();
        pub const D: usize = offset_of!(Self, d);
        pub const QS: usize = offset_of!(Self, qs);
    }
    impl Q5_0 {
        pub const BYTES: usize = size_of::<Self>();
        pub const D: usize = offset_of!(Self, d);
        pub const QH: usize = offset_of!(Self, qh);
        pub const QS: usize = offset_of!(Self, qs);
    }
    impl Q4K {
        pub const BYTES: usize = size_of::<Self>();
        pub const D: usize = offset_of!(Self, d);
        pub const DMIN: usize = offset_of!(Self, dmin);
        pub const SCALES: usize = offset_of!(Self, scales);
        pub const QS: usize = offset_of!(Self, qs);
    }
    impl Q6K {
        pub const BYTES: usize = size_of::<Self>();
        pub const QL: usize = offset_of!(Self, ql);
        pub const QH: usize = offset_of!(Self, qh);
        pub const SCALES: usize = offset_of!(Self, scales);
        pub const D: usize = offset_of!(Self, d);
    }
}

/// How a weight matrix is stored in memory: the types our kernels read directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightType {
    F32,
    F16,
    /// [`blocks::Q8_0`].
    Q8_0,
    /// [`blocks::Q4_0`].
    Q4_0,
    /// [`blocks::Q5_0`].
    Q5_0,
    /// [`blocks::Q4K`].
    Q4K,
    /// [`blocks::Q6K`].
    Q6K,
}

impl WeightType {
    pub const ALL: [WeightType; 7] = [
        Self::F32,
        Self::F16,
        Self::Q8_0,
        Self::Q4_0,
        Self::Q5_0,
        Self::Q4K,
        Self::Q6K,
    ];

    /// Elements per block.
    pub const fn block_elems(self) -> usize {
        match self {
            Self::F32 | Self::F16 => 1,
            Self::Q8_0 | Self::Q4_0 | Self::Q5_0 => QK,
            Self::Q4K | Self::Q6K => QK_K,
        }
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
            Self::Q8_0 => blocks::Q8_0::BYTES,
            Self::Q4_0 => blocks::Q4_0::BYTES,
            Self::Q5_0 => blocks::Q5_0::BYTES,
            Self::Q4K => blocks::Q4K::BYTES,
            Self::Q6K => blocks::Q6K::BYTES,
        }
    }

    /// Bytes of one row of `cols` elements, or None when `cols` is not a whole number of
    /// blocks.
    pub fn row_bytes(self, cols: usize) -> Option<usize> {
        if !cols.is_multiple_of(self.block_elems()) {
            return None;
        }
        (cols / self.block_elems()).checked_mul(self.block_bytes())
    }

    /// Lower-case name, as the CLI's `--dtype` and messages write it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Q8_0 => "q8_0",
            Self::Q4_0 => "q4_0",
            Self::Q5_0 => "q5_0",
            Self::Q4K => "q4_k",
            Self::Q6K => "q6_k",
        }
    }

    pub const fn is_quantized(self) -> bool {
        !matches!(self, Self::F32 | Self::F16)
    }

    /// candle's name for the type (GGUF tensors are described with it).
    pub const fn ggml_dtype(self) -> GgmlDType {
        match self {
            Self::F32 => GgmlDType::F32,
            Self::F16 => GgmlDType::F16,
            Self::Q8_0 => GgmlDType::Q8_0,
            Self::Q4_0 => GgmlDType::Q4_0,
            Self::Q5_0 => GgmlDType::Q5_0,
            Self::Q4K => GgmlDType::Q4K,
            Self::Q6K => GgmlDType::Q6K,
        }
    }

    /// The kernels' type for a candle type, None where the kernels do not read it.
    pub fn from_ggml_dtype(dtype: GgmlDType) -> Option<WeightType> {
        Self::ALL.into_iter().find(|t| t.ggml_dtype() == dtype)
    }

    /// The `ggml_type` id stored in a GGUF tensor header.
    pub const fn ggml_id(self) -> u32 {
        ggml_type_id(self.ggml_dtype())
    }

    /// From the `ggml_type` id stored in a GGUF tensor header.
    pub fn from_ggml(id: u32) -> Option<WeightType> {
        Self::ALL.into_iter().find(|t| t.ggml_id() == id)
    }
}

impl std::fmt::Display for WeightType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every type candle decodes, which is every type a GGUF file of ours may hold.
pub const GGML_TYPES: [GgmlDType; 15] = [
    GgmlDType::F32,
    GgmlDType::F16,
    GgmlDType::BF16,
    GgmlDType::Q4_0,
    GgmlDType::Q4_1,
    GgmlDType::Q5_0,
    GgmlDType::Q5_1,
    GgmlDType::Q8_0,
    GgmlDType::Q8_1,
    GgmlDType::Q2K,
    GgmlDType::Q3K,
    GgmlDType::Q4K,
    GgmlDType::Q5K,
    GgmlDType::Q6K,
    GgmlDType::Q8K,
];

/// A type's `enum ggml_type` id (ggml.h) and the name llama.cpp prints for it
/// (`ggml_type_name`). candle keeps its own mapping private.
const fn ggml_facts(dtype: GgmlDType) -> (u32, &'static str) {
    match dtype {
        GgmlDType::F32 => (0, "F32"),
        GgmlDType::F16 => (1, "F16"),
        GgmlDType::Q4_0 => (2, "Q4_0"),
        GgmlDType::Q4_1 => (3, "Q4_1"),
        GgmlDType::Q5_0 => (6, "Q5_0"),
        GgmlDType::Q5_1 => (7, "Q5_1"),
        GgmlDType::Q8_0 => (8, "Q8_0"),
        GgmlDType::Q8_1 => (9, "Q8_1"),
        GgmlDType::Q2K => (10, "Q2_K"),
        GgmlDType::Q3K => (11, "Q3_K"),
        GgmlDType::Q4K => (12, "Q4_K"),
        GgmlDType::Q5K => (13, "Q5_K"),
        GgmlDType::Q6K => (14, "Q6_K"),
        GgmlDType::Q8K => (15, "Q8_K"),
        GgmlDType::BF16 => (30, "BF16"),
    }
}

/// The `ggml_type` id of a type, as GGUF tensor headers store it.
pub const fn ggml_type_id(dtype: GgmlDType) -> u32 {
    ggml_facts(dtype).0
}

/// The name llama.cpp prints for a type (`ggml_type_name`), e.g. `Q4_K`.
pub const fn ggml_type_name(dtype: GgmlDType) -> &'static str {
    ggml_facts(dtype).1
}

/// The type of a `ggml_type` id, None for ids candle does not decode.
pub fn ggml_dtype_from_id(id: u32) -> Option<GgmlDType> {
    GGML_TYPES.into_iter().find(|&d| ggml_type_id(d) == id)
}

// The block structs are ggml's sizes (ggml-common.h's static asserts).
const _: () = {
    assert!(blocks::Q8_0::BYTES == 34);
    assert!(blocks::Q4_0::BYTES == 18);
    assert!(blocks::Q5_0::BYTES == 22);
    assert!(blocks::Q4K::BYTES == 144);
    assert!(blocks::Q6K::BYTES == 210);
    assert!(blocks::Q6K::D == 208);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_agree_with_candle() {
        for ty in WeightType::ALL {
            let d = ty.ggml_dtype();
            assert_eq!(ty.block_elems(), d.block_size(), "{ty}");
            assert_eq!(ty.block_bytes(), d.type_size(), "{ty}");
            assert_eq!(WeightType::from_ggml_dtype(d), Some(ty));
            assert_eq!(WeightType::from_ggml(ty.ggml_id()), Some(ty));
            assert_eq!(ty.name(), ggml_type_name(d).to_ascii_lowercase());
        }
    }

    #[test]
    fn ggml_ids_round_trip() {
        for (i, d) in GGML_TYPES.into_iter().enumerate() {
            assert_eq!(ggml_dtype_from_id(ggml_type_id(d)), Some(d));
            assert!(!GGML_TYPES[..i].contains(&d), "{d:?} listed twice");
        }
        assert_eq!(ggml_dtype_from_id(4), None);
    }
}
