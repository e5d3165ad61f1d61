//! Which instruction set the kernels use, and how many threads they split work over.

use std::sync::OnceLock;

/// The kernel family in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Portable Rust (also the tests' reference).
    Scalar,
    /// x86_64 with AVX2, FMA and F16C, detected at run time.
    Avx2,
    /// [`Isa::Avx2`] plus AVX512-VNNI on 256-bit vectors (`vpdpbusd`: four 8-bit products
    /// summed into each i32 lane in one instruction, no i16 saturation), detected at run
    /// time: the AVX2 kernels, with the 32-element block formats' dot products in VNNI.
    Avx512Vnni,
    /// wasm32 with SIMD128 (a compile-time feature: the whole module is built with it).
    Simd128,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "avx2",
            Self::Avx512Vnni => "avx512vnni",
            Self::Simd128 => "simd128",
        }
    }

    /// Whether this family runs the AVX2 kernels (and the AVX2 builds of the small ops).
    pub fn has_avx2(self) -> bool {
        matches!(self, Self::Avx2 | Self::Avx512Vnni)
    }

    /// Every family this machine runs, the portable one first (tests compare each with it).
    pub fn available() -> Vec<Isa> {
        let mut all = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        if super::x86::available() {
            all.push(Isa::Avx2);
            if super::x86::vnni_available() {
                all.push(Isa::Avx512Vnni);
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        all.push(Isa::Simd128);
        all
    }
}

/// The best kernel family this machine runs. `SMOLVLM_KERNELS=scalar` (or `avx2`) forces
/// that family natively, for comparisons.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(detect)
}

fn detect() -> Isa {
    #[cfg(not(target_arch = "wasm32"))]
    if let Ok(forced) = std::env::var("SMOLVLM_KERNELS") {
        if let Some(isa) = Isa::available().into_iter().find(|i| i.name() == forced) {
            return isa;
        }
    }
    #[cfg(target_arch = "x86_64")]
    if super::x86::available() {
        return if super::x86::vnni_available() {
            Isa::Avx512Vnni
        } else {
            Isa::Avx2
        };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return Isa::Simd128;
    #[allow(unreachable_code)]
    Isa::Scalar
}

/// Threads the kernels split work over: rayon's pool natively (the CLI sizes it with
/// `--threads`) and in the threaded wasm32 build (`+atomics`: a pool of Web Workers sharing
/// the module's memory, started by the OCR worker); one in the single-threaded wasm32 build.
pub fn threads() -> usize {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    return rayon::current_num_threads().max(1);
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    return 1;
}

/// Runs `f(i)` for `i` in `0..n`, spread over the kernel threads when there are several.
pub(crate) fn for_each(n: usize, f: impl Fn(usize) + Sync + Send) {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if n > 1 && threads() > 1 {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(f);
        return;
    }
    (0..n).for_each(f)
}

/// Runs `f(i, chunk)` over the `chunk`-long pieces of `out`, spread over the kernel
/// threads when there are several.
pub(crate) fn for_each_chunk_mut<T: Send>(
    out: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if out.len() > chunk && threads() > 1 {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
        return;
    }
    out.chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c))
}

/// Runs `f(i, a_chunk, b_chunk)` over the `ca`-long pieces of `a` and the `cb`-long pieces
/// of `b` together (the i-th of each), spread over the kernel threads when there are
/// several: two outputs of one task, e.g. quantized values and their block scales.
pub(crate) fn for_each_chunk_pair_mut<A: Send, B: Send>(
    a: &mut [A],
    ca: usize,
    b: &mut [B],
    cb: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if a.len() > ca && threads() > 1 {
        use rayon::prelude::*;
        a.par_chunks_mut(ca)
            .zip(b.par_chunks_mut(cb))
            .enumerate()
            .for_each(|(i, (x, y))| f(i, x, y));
        return;
    }
    a.chunks_mut(ca)
        .zip(b.chunks_mut(cb))
        .enumerate()
        .for_each(|(i, (x, y))| f(i, x, y))
}

/// A pointer to an output that the tasks of one parallel call write at disjoint places.
pub(crate) struct SendPtr<T>(pub *mut T);
// SAFETY: used only to write disjoint outputs from the tasks of one call, which all end
// before the call returns.
unsafe impl<T> Sync for SendPtr<T> {}
unsafe impl<T> Send for SendPtr<T> {}
