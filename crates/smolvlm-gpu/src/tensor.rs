//! GPU buffers: activation tensors drawn from a pool, and the pool itself.
//!
//! A decode step allocates and drops the same set of temporaries every time, so buffers
//! are recycled by size class instead of created and destroyed per step; recycled buffers
//! keep their id, which is what lets cached bind groups be reused across steps.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::error::Result;

/// Element type of an activation tensor (weights have their own type, [`crate::WeightType`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
}

/// A 1-D run of 4-byte values on the GPU. Shapes are the caller's business: kernels take
/// their sizes as arguments. Cloning shares the buffer; it returns to the pool when the
/// last clone is dropped (the GPU may still be using it: later commands that reuse it are
/// ordered after earlier ones by the queue).
#[derive(Clone)]
pub struct Tensor {
    buf: Arc<Pooled>,
    len: usize,
    dtype: DType,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor({:?} x {}, buffer #{})",
            self.dtype, self.len, self.buf.id
        )
    }
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buf.buffer
    }

    pub(crate) fn bref(&self) -> BufRef<'_> {
        BufRef {
            id: self.buf.id,
            buffer: &self.buf.buffer,
            tensor: Some(self),
        }
    }

    /// `Err` unless this tensor is `dtype` and holds at least `len` values.
    pub(crate) fn expect(&self, what: &str, dtype: DType, len: usize) -> Result<()> {
        if self.dtype != dtype {
            crate::error::invalid!("{what} must be {dtype:?}, got {:?}", self.dtype);
        }
        if self.len < len {
            crate::error::invalid!("{what} needs {len} values, has {}", self.len);
        }
        Ok(())
    }
}

/// A buffer and the id caches know it by; for a pooled tensor, the tensor itself, which a
/// recording keeps alive until it is submitted (else the pool could hand the buffer to an
/// upload that the queue would run before the recorded commands).
#[derive(Clone, Copy)]
pub(crate) struct BufRef<'a> {
    pub id: u64,
    pub buffer: &'a wgpu::Buffer,
    pub tensor: Option<&'a Tensor>,
}

struct Pooled {
    id: u64,
    buffer: wgpu::Buffer,
    pool: Weak<Pool>,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.give_back(self.id, self.buffer.clone());
        }
    }
}

/// Idle buffers (with their ids) by (size class, usage bits).
type FreeLists = HashMap<(u64, u32), Vec<(u64, wgpu::Buffer)>>;

/// Free buffers by (size class, usage).
pub(crate) struct Pool {
    free: Mutex<FreeLists>,
    idle: AtomicU64,
}

/// Sizes round up to a multiple of a quarter of their power of two (at least 256 bytes),
/// so a reused buffer wastes at most a quarter and nearby sizes share a class.
pub(crate) fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(256);
    let p = b.next_power_of_two();
    let q = (p / 4).max(256);
    b.div_ceil(q) * q
}

static NEXT_POOLED_ID: AtomicU64 = AtomicU64::new(1 << 40);

impl Pool {
    pub fn new() -> Self {
        Pool {
            free: Mutex::new(HashMap::new()),
            idle: AtomicU64::new(0),
        }
    }

    fn usage_storage() -> wgpu::BufferUsages {
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
    }

    /// A storage tensor of at least `bytes`.
    pub fn alloc(
        pool: &Arc<Pool>,
        device: &wgpu::Device,
        bytes: u64,
        cap: u64,
        dtype: DType,
        len: usize,
    ) -> Result<Tensor> {
        Ok(Self::alloc_usage(
            pool,
            device,
            bytes,
            cap,
            Self::usage_storage(),
            dtype,
            len,
        ))
    }

    /// A buffer of at least `bytes` with `usage`, wrapped as a tensor; its size class is
    /// capped at `cap` (the device's binding limit).
    pub fn alloc_usage(
        pool: &Arc<Pool>,
        device: &wgpu::Device,
        bytes: u64,
        cap: u64,
        usage: wgpu::BufferUsages,
        dtype: DType,
        len: usize,
    ) -> Tensor {
        let mut size = size_class(bytes);
        if size > cap {
            size = bytes.next_multiple_of(4);
        }
        let reused = pool
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&(size, usage.bits()))
            .and_then(|v| v.pop());
        let (id, buffer) = match reused {
            Some(b) => {
                pool.idle.fetch_sub(size, Ordering::Relaxed);
                b
            }
            None => {
                let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("smolvlm-gpu pooled"),
                    size,
                    usage,
                    mapped_at_creation: false,
                });
                (NEXT_POOLED_ID.fetch_add(1, Ordering::Relaxed), buffer)
            }
        };
        Tensor {
            buf: Arc::new(Pooled {
                id,
                buffer,
                pool: Arc::downgrade(pool),
            }),
            len,
            dtype,
        }
    }

    fn give_back(&self, id: u64, buffer: wgpu::Buffer) {
        let size = buffer.size();
        self.idle.fetch_add(size, Ordering::Relaxed);
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((size, buffer.usage().bits()))
            .or_default()
            .push((id, buffer));
    }

    pub fn clear(&self) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        for (_, bufs) in free.drain() {
            for (_, b) in bufs {
                b.destroy();
            }
        }
        self.idle.store(0, Ordering::Relaxed);
    }

    pub fn idle_bytes(&self) -> u64 {
        self.idle.load(Ordering::Relaxed)
    }
}

/// A buffer outside the pool (weights, caches): created once, freed on drop.
pub(crate) fn unpooled(
    device: &wgpu::Device,
    id: u64,
    bytes: u64,
    label: &str,
) -> (u64, wgpu::Buffer) {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4).next_multiple_of(4),
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    (id, buffer)
}
