//! Recording many kernels into one command encoder and one submit.
//!
//! Each dispatch gets its parameters in its own 256-byte slot of a uniform buffer, bound at
//! a dynamic offset, so a whole decode step (hundreds of dispatches, each with different
//! sizes and offsets) is one `write_buffer` per 64 KiB of parameters plus one `submit`,
//! and the bind groups stay the same from step to step (same buffers, same slot buffers
//! from the pool), so they come from the cache.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::{Access, Gpu, Kernel};
use crate::tensor::{BufRef, DType, Pool, Tensor};

/// Bytes per parameter slot: WebGPU's largest `minUniformBufferOffsetAlignment`.
pub(crate) const SLOT: u64 = 256;
/// Bytes per uniform buffer (256 slots; WebGPU guarantees 64 KiB uniform bindings, and
/// this keeps one slot buffer small even where a recording is short).
const CHUNK: u64 = 64 * 1024;

enum Op {
    Dispatch {
        kernel: Arc<Kernel>,
        bind_group: wgpu::BindGroup,
        offset: u32,
        groups: [u32; 3],
    },
    Copy {
        src: wgpu::Buffer,
        src_off: u64,
        dst: wgpu::Buffer,
        dst_off: u64,
        size: u64,
    },
}

/// Commands waiting for one [`Recorder::submit`]. Kernels are recorded by the methods in
/// [`crate::ops`]; nothing runs until the submit.
pub struct Recorder<'g> {
    pub(crate) gpu: &'g Gpu,
    ops: Vec<Op>,
    chunks: Vec<(Tensor, Vec<u8>)>,
    /// Every tensor bound by a recorded command (and scratch made by ops), kept until the
    /// submit so the pool cannot recycle a buffer that recorded commands still use.
    keep: Vec<Tensor>,
}

impl Gpu {
    /// A new, empty recording.
    pub fn recorder(&self) -> Recorder<'_> {
        Recorder {
            gpu: self,
            ops: Vec::new(),
            chunks: Vec::new(),
            keep: Vec::new(),
        }
    }
}

impl<'g> Recorder<'g> {
    /// Number of dispatches and copies recorded so far.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Keeps `t` alive until the submit (scratch buffers made by an op).
    pub(crate) fn keep(&mut self, t: Tensor) {
        self.keep.push(t);
    }

    /// The next parameter slot: (chunk index, byte offset).
    fn slot(&mut self, params: &[u8]) -> Result<(usize, u32)> {
        if params.len() as u64 > SLOT {
            return Err(Error::Invalid(format!(
                "kernel parameters of {} bytes exceed a slot",
                params.len()
            )));
        }
        let need_new = self
            .chunks
            .last()
            .is_none_or(|(_, data)| data.len() as u64 + SLOT > CHUNK);
        if need_new {
            let inner = &self.gpu.inner;
            let t = Pool::alloc_usage(
                &inner.pool,
                &inner.device,
                CHUNK,
                CHUNK,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                DType::U32,
                (CHUNK / 4) as usize,
            );
            self.chunks.push((t, Vec::with_capacity(CHUNK as usize)));
        }
        let idx = self.chunks.len() - 1;
        let data = &mut self.chunks[idx].1;
        let offset = data.len() as u32;
        data.extend_from_slice(params);
        data.resize(offset as usize + SLOT as usize, 0);
        Ok((idx, offset))
    }

    /// Records `kernel` over `bufs` with `params` in its uniform slot, as `groups`
    /// workgroups (x, y, z).
    pub(crate) fn dispatch<P: bytemuck::Pod>(
        &mut self,
        kernel: &Arc<Kernel>,
        params: &P,
        bufs: &[BufRef<'_>],
        groups: [u32; 3],
    ) -> Result<()> {
        let max = self.gpu.inner.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(Error::Invalid(format!(
                "dispatch of {groups:?} workgroups exceeds the limit of {max} per dimension"
            )));
        }
        if bufs.len() != kernel.access.len() {
            return Err(Error::Invalid(format!(
                "{} takes {} buffers, got {}",
                kernel.name,
                kernel.access.len(),
                bufs.len()
            )));
        }
        // WebGPU forbids a buffer bound writable and bound again in the same dispatch.
        for (i, (b, a)) in bufs.iter().zip(&kernel.access).enumerate() {
            if *a == Access::ReadWrite
                && bufs.iter().enumerate().any(|(j, o)| j != i && o.id == b.id)
            {
                return Err(Error::Invalid(format!(
                    "{}: the output buffer is also one of its inputs",
                    kernel.name
                )));
            }
        }
        if groups.contains(&0) {
            return Ok(());
        }
        self.keep
            .extend(bufs.iter().filter_map(|b| b.tensor.cloned()));
        let (chunk, offset) = self.slot(bytemuck::bytes_of(params))?;
        let uniform = self.chunks[chunk].0.bref();
        let bind_group = self.gpu.bind_group(kernel, uniform, bufs);
        self.ops.push(Op::Dispatch {
            kernel: kernel.clone(),
            bind_group,
            offset,
            groups,
        });
        Ok(())
    }

    /// Records `n` workgroups laid out as (x, y) within the per-dimension limit; kernels
    /// recover the linear index as `wg.y * num_workgroups.x + wg.x` and bound-check it.
    pub(crate) fn dispatch_linear<P: bytemuck::Pod>(
        &mut self,
        kernel: &Arc<Kernel>,
        params: &P,
        bufs: &[BufRef<'_>],
        n: u32,
    ) -> Result<()> {
        let max = self
            .gpu
            .inner
            .limits
            .max_compute_workgroups_per_dimension
            .max(1);
        let x = n.min(max);
        let y = if x == 0 { 0 } else { n.div_ceil(x) };
        self.dispatch(kernel, params, bufs, [x, y, 1])
    }

    /// Copies `n` values from `src[src_off..]` to `dst[dst_off..]`.
    pub fn copy(
        &mut self,
        src: &Tensor,
        src_off: usize,
        dst: &Tensor,
        dst_off: usize,
        n: usize,
    ) -> Result<()> {
        if src_off + n > src.len() || dst_off + n > dst.len() {
            return Err(Error::Invalid(format!(
                "copy of {n} values from {src_off} of {} to {dst_off} of {}",
                src.len(),
                dst.len()
            )));
        }
        if src.buffer() == dst.buffer() {
            return Err(Error::Invalid(
                "copy within one buffer (WebGPU needs two)".into(),
            ));
        }
        if n > 0 {
            self.keep.push(src.clone());
            self.keep.push(dst.clone());
            self.ops.push(Op::Copy {
                src: src.buffer().clone(),
                src_off: src_off as u64 * 4,
                dst: dst.buffer().clone(),
                dst_off: dst_off as u64 * 4,
                size: n as u64 * 4,
            });
        }
        Ok(())
    }

    /// Records a copy of `size` bytes of `t` from `offset` into a mappable staging buffer.
    pub(crate) fn stage_read(&mut self, t: &Tensor, offset: u64, size: u64) -> Result<Tensor> {
        if !offset.is_multiple_of(4)
            || !size.is_multiple_of(4)
            || offset + size > t.len() as u64 * 4
        {
            return Err(Error::Invalid(format!(
                "reading bytes {offset}..{} of a tensor of {} values",
                offset + size,
                t.len()
            )));
        }
        let inner = &self.gpu.inner;
        let staging = Pool::alloc_usage(
            &inner.pool,
            &inner.device,
            size.max(4),
            self.gpu.max_binding(),
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            DType::U32,
            (size / 4) as usize,
        );
        if size > 0 {
            self.keep.push(t.clone());
            self.ops.push(Op::Copy {
                src: t.buffer().clone(),
                src_off: offset,
                dst: staging.buffer().clone(),
                dst_off: 0,
                size,
            });
        }
        Ok(staging)
    }

    /// Encodes everything into one command buffer and submits it.
    pub fn submit(self) -> Result<()> {
        let gpu = self.gpu;
        gpu.check()?;
        let inner = &gpu.inner;
        for (t, data) in &self.chunks {
            inner.queue.write_buffer(t.buffer(), 0, data);
        }
        let mut enc = inner
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("smolvlm-gpu"),
            });
        let mut i = 0;
        while i < self.ops.len() {
            match &self.ops[i] {
                Op::Copy {
                    src,
                    src_off,
                    dst,
                    dst_off,
                    size,
                } => {
                    enc.copy_buffer_to_buffer(src, *src_off, dst, *dst_off, *size);
                    i += 1;
                }
                Op::Dispatch { .. } => {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    while let Some(Op::Dispatch {
                        kernel,
                        bind_group,
                        offset,
                        groups,
                    }) = self.ops.get(i)
                    {
                        pass.set_pipeline(&kernel.pipeline);
                        pass.set_bind_group(0, bind_group, &[*offset]);
                        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                        i += 1;
                    }
                }
            }
        }
        inner.queue.submit([enc.finish()]);
        drop(self.keep);
        gpu.check()
    }

    /// Submits, then reads back `t[index]` only: the end of a greedy decode step.
    pub async fn submit_read_u32(mut self, t: &Tensor, index: usize) -> Result<u32> {
        if t.dtype() != DType::U32 {
            return Err(Error::Invalid(format!(
                "reading a token id from a {:?} tensor",
                t.dtype()
            )));
        }
        let gpu = self.gpu;
        let staging = self.stage_read(t, index as u64 * 4, 4)?;
        self.submit()?;
        let bytes = gpu.map_read(&staging, 4).await?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// Submits, then reads back the whole of `t` (f32).
    pub async fn submit_read(mut self, t: &Tensor) -> Result<Vec<f32>> {
        let gpu = self.gpu;
        let size = t.len() as u64 * 4;
        let staging = self.stage_read(t, 0, size)?;
        self.submit()?;
        Ok(bytemuck::pod_collect_to_vec(
            &gpu.map_read(&staging, size).await?,
        ))
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn submit_read_u32_blocking(self, t: &Tensor, index: usize) -> Result<u32> {
        pollster::block_on(self.submit_read_u32(t, index))
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn submit_read_blocking(self, t: &Tensor) -> Result<Vec<f32>> {
        pollster::block_on(self.submit_read(t))
    }
}
