//! Weight matrices uploaded once in their GGUF block layout, split into row chunks where a
//! matrix is larger than one storage binding may be.

use crate::error::{invalid, Error, Result};
use crate::gpu::Gpu;
use crate::tensor::{unpooled, BufRef};

/// The GGUF tensor types the kernels read directly: smolvlm's table of weight types.
pub use smolvlm::weight_type::WeightType;

/// Bytes of one row of `cols` values of `ty`, or why such a row cannot be read by the
/// WGSL kernels (stricter than [`WeightType::row_bytes`]: they move 4 values at a time).
pub fn row_bytes(ty: WeightType, cols: usize) -> Result<usize> {
    let unit = ty.block_elems().max(4);
    if cols == 0 || !cols.is_multiple_of(unit) {
        invalid!("a {ty:?} row must hold a positive multiple of {unit} values, got {cols}");
    }
    Ok(cols / ty.block_elems() * ty.block_bytes())
}

/// WGSL prelude for kernels over `ty`: the block constants, `w_load4` and the readers of
/// quant.wgsl. F32 and F16 rows are read as blocks of 4 values.
pub(crate) fn wgsl_prelude(ty: WeightType) -> String {
    let (elems, bytes) = match ty {
        WeightType::F32 | WeightType::F16 => (4, 4 * ty.block_bytes()),
        t => (t.block_elems(), t.block_bytes()),
    };
    format!(
        "const BLOCK_ELEMS: u32 = {elems}u;\nconst BLOCK_BYTES: u32 = {bytes}u;\n{}\
         fn w_load4(b: u32, i: u32) -> vec4<f32> {{ return load4_{}(b, i); }}\n{}\n",
        block_offsets(),
        ty.name(),
        include_str!("shaders/quant.wgsl")
    )
}

/// The field offsets quant.wgsl reads blocks at, as WGSL constants from smolvlm's table.
fn block_offsets() -> String {
    use smolvlm::weight_type::blocks::{Q4K, Q4_0, Q5_0, Q6K, Q8_0};
    // quant.wgsl reads the scale at the start of every block but Q6_K's.
    const _: () = assert!(Q8_0::D == 0 && Q4_0::D == 0 && Q5_0::D == 0 && Q4K::D == 0);
    const _: () = assert!(Q6K::QL == 0);
    [
        ("Q8_0_QS", Q8_0::QS),
        ("Q4_0_QS", Q4_0::QS),
        ("Q5_0_QH", Q5_0::QH),
        ("Q5_0_QS", Q5_0::QS),
        ("Q4K_DMIN", Q4K::DMIN),
        ("Q4K_SCALES", Q4K::SCALES),
        ("Q4K_QS", Q4K::QS),
        ("Q6K_QH", Q6K::QH),
        ("Q6K_SCALES", Q6K::SCALES),
        ("Q6K_D", Q6K::D),
    ]
    .iter()
    .map(|(name, at)| format!("const {name}: u32 = {at}u;\n"))
    .collect()
}

/// A `rows x cols` weight matrix (row-major, GGUF layout) on the GPU.
pub struct Weight {
    ty: WeightType,
    rows: usize,
    cols: usize,
    row_bytes: usize,
    pub(crate) chunks: Vec<Chunk>,
}

pub(crate) struct Chunk {
    pub id: u64,
    pub buffer: wgpu::Buffer,
    pub row0: usize,
    pub rows: usize,
}

impl Chunk {
    pub fn bref(&self) -> BufRef<'_> {
        BufRef {
            id: self.id,
            buffer: &self.buffer,
            tensor: None,
        }
    }
}

impl std::fmt::Debug for Weight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Weight({} {}x{}, {} chunk(s))",
            self.ty,
            self.rows,
            self.cols,
            self.chunks.len()
        )
    }
}

impl Weight {
    pub fn ty(&self) -> WeightType {
        self.ty
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }
    /// Number of buffers the matrix was split into.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }
    /// Bytes of the matrix in its GGUF layout.
    pub fn size_bytes(&self) -> usize {
        self.rows * self.row_bytes
    }
}

impl Gpu {
    /// Uploads a `rows x cols` matrix given as its raw GGUF bytes.
    pub fn upload_weight(
        &self,
        ty: WeightType,
        rows: usize,
        cols: usize,
        bytes: &[u8],
    ) -> Result<Weight> {
        self.upload_weight_limited(ty, rows, cols, bytes, self.max_binding())
    }

    /// [`Gpu::upload_weight`] with chunks of at most `max_chunk` bytes (tests use a small
    /// value to exercise the splitting that large matrices need).
    pub fn upload_weight_limited(
        &self,
        ty: WeightType,
        rows: usize,
        cols: usize,
        bytes: &[u8],
        max_chunk: u64,
    ) -> Result<Weight> {
        self.check()?;
        let row_bytes = row_bytes(ty, cols)?;
        if rows == 0 {
            invalid!("a weight needs at least one row");
        }
        let total = rows
            .checked_mul(row_bytes)
            .ok_or_else(|| Error::Invalid("weight size overflows".into()))?;
        if bytes.len() != total {
            invalid!(
                "a {rows} x {cols} {ty} weight is {total} bytes, got {}",
                bytes.len()
            );
        }
        // 4 bytes of padding: the unaligned readers may touch the word after the last byte.
        let max_chunk = max_chunk.min(self.max_binding());
        let rows_per_chunk = (max_chunk.saturating_sub(8) / row_bytes as u64) as usize;
        if rows_per_chunk == 0 {
            return Err(Error::TooLarge {
                what: format!("one row of a {ty} weight"),
                bytes: row_bytes as u64,
                limit: max_chunk,
            });
        }
        let mut chunks = Vec::new();
        let mut row0 = 0;
        while row0 < rows {
            let n = rows_per_chunk.min(rows - row0);
            let data = &bytes[row0 * row_bytes..(row0 + n) * row_bytes];
            let (id, buffer) = unpooled(
                &self.inner.device,
                self.new_id(),
                data.len() as u64 + 4,
                "weight",
            );
            let aligned = data.len() & !3;
            if aligned > 0 {
                self.inner.queue.write_buffer(&buffer, 0, &data[..aligned]);
            }
            let mut tail = [0u8; 4];
            tail[..data.len() - aligned].copy_from_slice(&data[aligned..]);
            self.inner
                .queue
                .write_buffer(&buffer, aligned as u64, &tail);
            chunks.push(Chunk {
                id,
                buffer,
                row0,
                rows: n,
            });
            row0 += n;
        }
        self.check()?;
        Ok(Weight {
            ty,
            rows,
            cols,
            row_bytes,
            chunks,
        })
    }
}
