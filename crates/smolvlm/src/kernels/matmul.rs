//! `y = x W^T` for a weight matrix W (rows × cols) stored in any [`WeightType`], and `t`
//! tokens of activations: the linear layers of the model, for decode (t = 1) and for
//! prefill and the vision tower (t in the hundreds).
//!
//! Work is cut into tiles of R rows × T tokens (see `x86.rs`), and rows are split over
//! threads where there are several.

use super::acts::Acts;
use super::cpu::{self, Isa, SendPtr};
use super::formats::{dequantize_row, WeightType};
use super::scalar;
use super::KernelError;

/// Bytes with 8-byte alignment, so f32 data can be viewed as `&[f32]` without copying.
#[derive(Clone)]
struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    fn from_bytes(bytes: &[u8]) -> Self {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self {
            words,
            len: bytes.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }
}

/// A weight matrix in its storage type, rows of `cols` elements one after the other as
/// GGUF lays them out.
#[derive(Clone)]
pub struct QMatrix {
    ty: WeightType,
    rows: usize,
    cols: usize,
    row_bytes: usize,
    data: Aligned,
}

impl std::fmt::Debug for QMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QMatrix({}, {}x{})", self.ty, self.rows, self.cols)
    }
}

impl QMatrix {
    /// Wraps `data` (rows × cols elements in `ty`'s layout); checks that the sizes agree.
    pub fn new(ty: WeightType, rows: usize, cols: usize, data: &[u8]) -> Result<Self, KernelError> {
        let row_bytes = ty.row_bytes(cols).ok_or(KernelError::RowLength {
            ty,
            cols,
            block: ty.block_elems(),
        })?;
        let expected = row_bytes
            .checked_mul(rows)
            .ok_or(KernelError::TooLarge { rows, cols })?;
        if data.len() != expected || rows == 0 || cols == 0 {
            return Err(KernelError::DataSize {
                ty,
                rows,
                cols,
                expected,
                got: data.len(),
            });
        }
        Ok(Self {
            ty,
            rows,
            cols,
            row_bytes,
            data: Aligned::from_bytes(data),
        })
    }

    /// An f32 matrix from its values (row-major).
    pub fn from_f32(rows: usize, cols: usize, values: &[f32]) -> Result<Self, KernelError> {
        Self::new(WeightType::F32, rows, cols, bytemuck::cast_slice(values))
    }

    pub fn ty(&self) -> WeightType {
        self.ty
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes held in memory.
    pub fn size_in_bytes(&self) -> usize {
        self.data.len
    }

    /// The stored bytes of row `r`.
    pub fn row(&self, r: usize) -> &[u8] {
        &self.data.bytes()[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// Row `r` as f32 into `out` (`cols` long).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        dequantize_row(self.ty, self.row(r), out)
    }

    /// The whole matrix as f32 (rows × cols).
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        for (r, o) in out.chunks_exact_mut(self.cols).enumerate() {
            self.dequantize_row(r, o);
        }
        out
    }

    /// `y` (t × rows) = `x` (t × cols) times this matrix transposed.
    pub fn matmul(&self, x: &Acts, y: &mut [f32]) -> Result<(), KernelError> {
        self.matmul_with(cpu::isa(), x, y)
    }

    /// [`Self::matmul`] with a chosen kernel family (tests compare them).
    pub fn matmul_with(&self, isa: Isa, x: &Acts, y: &mut [f32]) -> Result<(), KernelError> {
        let t = x.tokens();
        if x.cols() != self.cols || y.len() != t * self.rows {
            return Err(KernelError::MatmulShape {
                rows: self.rows,
                cols: self.cols,
                x_cols: x.cols(),
                tokens: t,
                y_len: y.len(),
            });
        }
        if t == 0 {
            return Ok(());
        }
        let widened = widen(isa, self.ty, t).zip(plan(isa, WeightType::F32, t));
        // Quantize the activations once, here, before any thread reads them.
        let (q8, q8k) = match self.ty {
            _ if widened.is_some() => (None, None),
            WeightType::F32 | WeightType::F16 => (None, None),
            WeightType::Q8_0 | WeightType::Q4_0 | WeightType::Q5_0 => (Some(x.q8()), None),
            WeightType::Q4K | WeightType::Q6K => (None, Some(x.q8k())),
        };
        let args = Args {
            w: self.data.bytes().as_ptr(),
            w_end: self.data.bytes().as_ptr_range().end,
            row_bytes: self.row_bytes,
            cols: self.cols,
            x: x.f32().as_ptr(),
            xq: q8
                .map(|q| q.qs.as_ptr())
                .or(q8k.map(|q| q.qs.as_ptr()))
                .unwrap_or(std::ptr::null()),
            xd: q8
                .map(|q| q.d.as_ptr())
                .or(q8k.map(|q| q.d.as_ptr()))
                .unwrap_or(std::ptr::null()),
            bsums: q8k.map(|q| q.bsums.as_ptr()).unwrap_or(std::ptr::null()),
            y: y.as_mut_ptr(),
            ldy: self.rows,
        };
        if let Some((widen, f32_plan)) = widened {
            self.matmul_widened(widen, &f32_plan, &args, t);
            return Ok(());
        }
        let plan = match isa {
            Isa::Scalar => None,
            _ => plan(isa, self.ty, t),
        };
        let Some(plan) = plan else {
            // Portable path: one dot product per output.
            let out = SendPtr(y.as_mut_ptr());
            let xf = x.f32();
            let chunks = split(self.rows, 1, cpu::threads());
            cpu::for_each(chunks.len(), |c| {
                let out = &out;
                for r in chunks[c].clone() {
                    for tok in 0..t {
                        let v = scalar::dot_row(self.ty, self.row(r), xf, q8, q8k, tok);
                        // SAFETY: rows are split without overlap, so each output is
                        // written by one task only.
                        unsafe { *out.0.add(tok * self.rows + r) = v };
                    }
                }
            });
            return Ok(());
        };
        let chunks = split(self.rows, plan.r, cpu::threads());
        cpu::for_each(chunks.len(), |c| {
            // SAFETY: `args` points into `self`, `x` and `y`, which outlive this call; the
            // row ranges do not overlap, so no output is written twice, and every tile
            // stays inside rows × t (checked above).
            unsafe { plan.run(&args, chunks[c].clone(), t) }
        });
        Ok(())
    }
}

impl QMatrix {
    /// `matmul` on many tokens for weights that [`widen`] turns into f32: rows are widened
    /// `plan.r` at a time (the block stays in L1 while every token passes over it), then
    /// multiplied by the f32 tile kernel. The conversion is paid once per weight per call
    /// instead of once per weight per token pair.
    fn matmul_widened(&self, widen: WidenFn, plan: &Plan, args: &Args, t: usize) {
        let chunks = split(self.rows, plan.r, cpu::threads());
        cpu::for_each(chunks.len(), |c| {
            let rows = chunks[c].clone();
            let mut block = vec![0f32; plan.r * self.cols];
            for r0 in rows.clone().step_by(plan.r) {
                let n = plan.r.min(rows.end - r0);
                for (i, out) in block.chunks_exact_mut(self.cols).take(n).enumerate() {
                    widen(self.row(r0 + i), out);
                }
                let a = Args {
                    w: block.as_ptr().cast(),
                    w_end: block.as_ptr_range().end.cast(),
                    row_bytes: 4 * self.cols,
                    // SAFETY: r0 < rows <= ldy, so this stays inside the output.
                    y: unsafe { args.y.add(r0) },
                    ..*args
                };
                // SAFETY: `block` holds n f32 rows of `cols`; outputs of rows r0..r0 + n are
                // written by this task only (the row ranges do not overlap).
                unsafe { plan.run(&a, 0..n, t) };
            }
        });
    }
}

/// From this many tokens on, the ISAs that [`widen`] names multiply f32 rows.
const WIDEN_MIN_TOKENS: usize = 8;

/// Weight row bytes to f32 values (`out.len()` of them).
type WidenFn = fn(&[u8], &mut [f32]);

/// Whether `isa` multiplies `t` tokens by `ty` weights widened to f32 (then the
/// activations stay f32 too: no 8-bit rounding of them), and how it widens a row.
///
/// SIMD128 only, measured in Chromium 148 (`cargo xtask bench`, 256M, one 512x512 tile
/// and a 512-token prefill): it has no f16 instructions, so its f16 tile kernels convert
/// each weight once per token pair at a cost above the product's, and no 8-bit dot
/// product, so its 8-bit blocks take more instructions per product (extend, multiply,
/// pairwise add, convert, scale) than f32 multiply-adds on rows dequantized once per call.
/// x86 keeps its integer kernels: VNNI and `maddubs` multiply 8-bit values faster than f32.
/// Decoding (fewer tokens) reads each weight once per call, so it keeps the compact form.
pub fn widen(isa: Isa, ty: WeightType, t: usize) -> Option<WidenFn> {
    if t < WIDEN_MIN_TOKENS {
        return None;
    }
    match (isa, ty) {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        (Isa::Simd128, ty) => Some(match ty {
            WeightType::F32 => return None,
            WeightType::F16 => super::wasm::widen_f16,
            WeightType::Q8_0 => |b, o| dequantize_row(WeightType::Q8_0, b, o),
            WeightType::Q4_0 => |b, o| dequantize_row(WeightType::Q4_0, b, o),
            WeightType::Q5_0 => |b, o| dequantize_row(WeightType::Q5_0, b, o),
            WeightType::Q4K => |b, o| dequantize_row(WeightType::Q4K, b, o),
            WeightType::Q6K => |b, o| dequantize_row(WeightType::Q6K, b, o),
        }),
        _ => None,
    }
}

/// Raw views of one matmul's operands, shared by the tile kernels.
#[derive(Clone, Copy)]
pub(crate) struct Args {
    pub w: *const u8,
    /// One past the weights' last byte: SIMD128's read-ahead stops there (x86 prefetches,
    /// which cannot fault, so it needs no bound).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub w_end: *const u8,
    pub row_bytes: usize,
    pub cols: usize,
    /// f32 activations (float weights).
    pub x: *const f32,
    /// Quantized activations: values, block scales, 16-element sums (Q8_K).
    pub xq: *const i8,
    pub xd: *const f32,
    pub bsums: *const i16,
    /// Output (t × ldy), written at `[t * ldy + r]`.
    pub y: *mut f32,
    pub ldy: usize,
}

// SAFETY: the pointers are only read, except `y`, which tasks write at disjoint rows.
unsafe impl Sync for Args {}
unsafe impl Send for Args {}

type TileFn = unsafe fn(&Args, usize, usize);

/// The tile kernels of one weight type: R rows × T tokens, and the edges.
struct Plan {
    r: usize,
    t: usize,
    full: TileFn,
    /// 1 row × T tokens.
    row1: TileFn,
    /// R rows × 1 token.
    tok1: TileFn,
    one: TileFn,
}

impl Plan {
    /// # Safety
    /// `a` must describe valid operands with at least `rows.end` rows and `t` tokens.
    unsafe fn run(&self, a: &Args, rows: std::ops::Range<usize>, t: usize) {
        let mut r = rows.start;
        while r + self.r <= rows.end {
            let mut k = 0;
            while k + self.t <= t {
                (self.full)(a, r, k);
                k += self.t;
            }
            while k < t {
                (self.tok1)(a, r, k);
                k += 1;
            }
            r += self.r;
        }
        while r < rows.end {
            let mut k = 0;
            while k + self.t <= t {
                (self.row1)(a, r, k);
                k += self.t;
            }
            while k < t {
                (self.one)(a, r, k);
                k += 1;
            }
            r += 1;
        }
    }
}

macro_rules! plan {
    ($m:ident :: $f:ident, $r:literal, $t:literal) => {
        Plan {
            r: $r,
            t: $t,
            full: $m::$f::<$r, $t>,
            row1: $m::$f::<1, $t>,
            tok1: $m::$f::<$r, 1>,
            one: $m::$f::<1, 1>,
        }
    };
}

/// Tile shapes, measured on the benchmark's shapes: decode wants several rows per pass
/// (one activation load serves R rows); prefill wants several tokens per weight block.
fn plan(isa: Isa, ty: WeightType, t: usize) -> Option<Plan> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => {
            use super::x86;
            Some(match (ty, t > 1) {
                (WeightType::Q8_0, false) => plan!(x86::q8_0_vnni, 4, 1),
                (WeightType::Q8_0, true) => plan!(x86::q8_0_vnni, 4, 6),
                (WeightType::Q4_0, false) => plan!(x86::q4_0_vnni, 4, 1),
                (WeightType::Q4_0, true) => plan!(x86::q4_0_vnni, 4, 4),
                (WeightType::Q5_0, false) => plan!(x86::q5_0_vnni, 4, 1),
                (WeightType::Q5_0, true) => plan!(x86::q5_0_vnni, 4, 4),
                _ => return plan(Isa::Avx2, ty, t),
            })
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            use super::x86;
            Some(match (ty, t > 1) {
                (WeightType::Q8_0, false) => plan!(x86::q8_0, 4, 1),
                (WeightType::Q8_0, true) => plan!(x86::q8_0, 4, 2),
                (WeightType::Q4_0, false) => plan!(x86::q4_0, 4, 1),
                (WeightType::Q4_0, true) => plan!(x86::q4_0, 4, 2),
                (WeightType::Q5_0, false) => plan!(x86::q5_0, 4, 1),
                (WeightType::Q5_0, true) => plan!(x86::q5_0, 4, 2),
                (WeightType::Q4K, false) => plan!(x86::q4_k, 2, 1),
                (WeightType::Q4K, true) => plan!(x86::q4_k, 1, 4),
                (WeightType::Q6K, false) => plan!(x86::q6_k, 2, 1),
                (WeightType::Q6K, true) => plan!(x86::q6_k, 1, 4),
                (WeightType::F32, false) => plan!(x86::f32, 4, 1),
                (WeightType::F32, true) => plan!(x86::f32, 4, 2),
                (WeightType::F16, false) => plan!(x86::f16, 4, 1),
                (WeightType::F16, true) => plan!(x86::f16, 4, 2),
            })
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => {
            use super::wasm;
            Some(match (ty, t > 1) {
                (WeightType::Q8_0, false) => plan!(wasm::q8_0, 4, 1),
                (WeightType::Q8_0, true) => plan!(wasm::q8_0, 4, 2),
                (WeightType::Q4_0, false) => plan!(wasm::q4_0, 4, 1),
                (WeightType::Q4_0, true) => plan!(wasm::q4_0, 4, 2),
                (WeightType::Q5_0, false) => plan!(wasm::q5_0, 4, 1),
                (WeightType::Q5_0, true) => plan!(wasm::q5_0, 4, 2),
                (WeightType::Q4K, false) => plan!(wasm::q4_k, 2, 1),
                (WeightType::Q4K, true) => plan!(wasm::q4_k, 1, 4),
                (WeightType::Q6K, false) => plan!(wasm::q6_k, 2, 1),
                (WeightType::Q6K, true) => plan!(wasm::q6_k, 1, 4),
                (WeightType::F32, false) => plan!(wasm::f32, 4, 1),
                (WeightType::F32, true) => plan!(wasm::f32, 4, 2),
                (WeightType::F16, false) => plan!(wasm::f16, 4, 1),
                (WeightType::F16, true) => plan!(wasm::f16, 4, 2),
            })
        }
        _ => None,
    }
}

/// Splits `n` rows into at most `parts` ranges whose sizes are multiples of `r` (except
/// the last), so tiles do not straddle two tasks.
fn split(n: usize, r: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.clamp(1, n.div_ceil(r).max(1));
    let per = n.div_ceil(parts).div_ceil(r) * r;
    (0..parts)
        .map(|i| (i * per).min(n)..((i + 1) * per).min(n))
        .filter(|r| !r.is_empty())
        .collect()
}
