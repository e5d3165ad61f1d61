//! The GPU context: adapter choice, the device, and what is cached on it (pipelines, bind
//! groups, pooled buffers), plus errors and device loss turned into [`Error`]s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::tensor::{BufRef, DType, Pool, Tensor};

/// Which adapter may run the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AdapterChoice {
    /// A hardware adapter whose limits suffice; never a software or fallback adapter
    /// (lavapipe, SwiftShader, WARP): on those the CPU path is faster.
    #[default]
    Auto,
    /// Any adapter, software ones included (this is how the tests run on lavapipe).
    /// Hardware adapters are still preferred when there are several.
    Forced,
}

/// How to open a [`Gpu`].
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    pub choice: AdapterChoice,
    /// Only adapters whose name contains this (case-insensitive), when set.
    pub name_contains: Option<String>,
    /// Treat storage bindings as at most this many bytes even where the device allows
    /// more: tests use it to exercise the splitting that big models need.
    pub binding_limit: Option<u64>,
}

impl GpuOptions {
    pub fn auto() -> Self {
        Self::default()
    }

    pub fn forced() -> Self {
        Self {
            choice: AdapterChoice::Forced,
            ..Self::default()
        }
    }
}

/// What our kernels need from an adapter. These are WebGPU's guaranteed minimums except
/// for workgroup size 256 (also the WebGPU default) and a 128 MiB storage binding, which
/// SmolVLM2-256M's largest tensor (the 49280 x 576 F32 output layer, 113 MB) fits.
/// Larger weights are split into row chunks below `max_storage_buffer_binding_size`.
const NEED_INVOCATIONS: u32 = 256;
const NEED_WORKGROUP_STORAGE: u32 = 8 * 1024;
const NEED_STORAGE_BUFFERS: u32 = 5;
const NEED_BINDING_AUTO: u64 = 128 << 20;

/// A bound GPU: device, queue and caches. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Gpu {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub has_f16: bool,
    max_binding: u64,
    pub pool: Arc<Pool>,
    kernels: Mutex<HashMap<String, Arc<Kernel>>>,
    bind_groups: Mutex<HashMap<Vec<u64>, wgpu::BindGroup>>,
    state: Arc<Mutex<DeviceState>>,
    next_id: AtomicU64,
    /// Bound where a kernel's optional input (bias, residual, mask) is absent.
    pub dummy: Tensor,
}

#[derive(Default)]
struct DeviceState {
    lost: Option<String>,
    error: Option<String>,
}

/// A compiled compute pipeline with its bind group layout.
pub(crate) struct Kernel {
    pub id: u64,
    pub name: String,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    /// Access of bindings 1.. (binding 0 is the parameter slot).
    pub access: Vec<Access>,
}

/// How a kernel binds its storage buffers (binding 0 is always the uniform parameters).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Access {
    Read,
    ReadWrite,
}

/// Above this many cached bind groups the cache is emptied: they pin their buffers, and a
/// model run creates a bounded set, so this only triggers after churn (many weights loaded
/// and dropped).
const MAX_BIND_GROUPS: usize = 8192;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it; the maps it
    // guards stay consistent (every insert is a single call).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Gpu {
    /// Opens an adapter and device by the rule of `opts`. Async because WebGPU is; on native
    /// targets [`Gpu::new_blocking`] waits for it.
    pub async fn new(opts: &GpuOptions) -> Result<Gpu> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = select_adapter(&instance, opts).await?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let has_f16 = adapter.features().contains(wgpu::Features::SHADER_F16);
        // No kernel needs `shader-f16`: f16 data (F16 weights, the f16 scales of every
        // quantized block) is read from u32 words with `unpack2x16float`, which is core
        // WGSL, so it works on adapters without the feature (lavapipe here has none) and
        // all arithmetic stays f32. So none is requested.
        let required_features = wgpu::Features::empty();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("smolvlm-gpu"),
                required_features,
                // Everything the adapter offers: the big limits (buffer sizes) are the point.
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::RequestDevice(e.to_string()))?;
        let limits = device.limits();
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            // Offsets inside shaders are u32 byte addresses.
            .min(u32::MAX as u64 & !3)
            .min(opts.binding_limit.unwrap_or(u64::MAX) & !3);

        let state = Arc::new(Mutex::new(DeviceState::default()));
        let s = state.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut st = lock(&s);
            if st.error.is_none() {
                st.error = Some(e.to_string());
            }
        }));
        let s = state.clone();
        device.set_device_lost_callback(move |reason, msg| {
            lock(&s).lost = Some(format!("{reason:?}: {msg}"));
        });

        let pool = Arc::new(Pool::new());
        let dummy = Pool::alloc(&pool, &device, 16, 256, DType::F32, 4)?;
        Ok(Gpu {
            inner: Arc::new(Inner {
                device,
                queue,
                info,
                max_binding,
                limits,
                has_f16,
                pool,
                kernels: Mutex::new(HashMap::new()),
                bind_groups: Mutex::new(HashMap::new()),
                state,
                next_id: AtomicU64::new(1),
                dummy,
            }),
        })
    }

    /// [`Gpu::new`], waited for (native targets only: a browser cannot block).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking(opts: &GpuOptions) -> Result<Gpu> {
        pollster::block_on(Self::new(opts))
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.inner.info
    }

    /// Name, type and backend of the adapter, for logs and reports.
    pub fn describe(&self) -> String {
        let i = &self.inner.info;
        format!(
            "{} ({:?}, {:?}, driver {} {})",
            i.name, i.device_type, i.backend, i.driver, i.driver_info
        )
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// Whether the adapter offers `shader-f16` (reported for logs; not requested, see
    /// [`Gpu::new`]).
    pub fn adapter_has_f16(&self) -> bool {
        self.inner.has_f16
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// The largest buffer one binding may cover (and one buffer may be).
    pub fn max_binding(&self) -> u64 {
        self.inner.max_binding
    }

    /// Ends the device (frees everything on the GPU; tests use it to simulate a loss).
    /// Every later operation fails with [`Error::DeviceLost`].
    pub fn destroy(&self) {
        self.inner.device.destroy();
        let mut st = lock(&self.inner.state);
        st.lost
            .get_or_insert_with(|| "the device was destroyed".into());
    }

    /// `Err(DeviceLost)` once the device is gone, `Err(Gpu)` for the first error wgpu
    /// reported since the last check (which clears it).
    pub fn check(&self) -> Result<()> {
        let has_error = {
            let st = lock(&self.inner.state);
            if let Some(msg) = &st.lost {
                return Err(Error::DeviceLost(msg.clone()));
            }
            st.error.is_some()
        };
        if has_error {
            // A lost device shows first as errors on the objects made from it; polling
            // lets wgpu run the lost callback so the error can be told for what it is.
            #[cfg(not(target_arch = "wasm32"))]
            let _ = self.inner.device.poll(wgpu::PollType::Poll);
        }
        let mut st = lock(&self.inner.state);
        if let Some(msg) = st.lost.clone() {
            st.error = None;
            return Err(Error::DeviceLost(msg));
        }
        if let Some(msg) = st.error.take() {
            return Err(Error::Gpu(msg));
        }
        Ok(())
    }

    pub(crate) fn new_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A pooled, uninitialised f32 tensor of `len` values.
    pub fn tensor(&self, len: usize) -> Result<Tensor> {
        self.tensor_of(len, DType::F32)
    }

    /// A pooled, uninitialised u32 tensor (token ids).
    pub fn tensor_u32(&self, len: usize) -> Result<Tensor> {
        self.tensor_of(len, DType::U32)
    }

    fn tensor_of(&self, len: usize, dtype: DType) -> Result<Tensor> {
        self.check()?;
        let bytes = (len.max(1) * 4) as u64;
        if bytes > self.max_binding() {
            return Err(Error::TooLarge {
                what: format!("a tensor of {len} values"),
                bytes,
                limit: self.max_binding(),
            });
        }
        Pool::alloc(
            &self.inner.pool,
            &self.inner.device,
            bytes,
            self.max_binding(),
            dtype,
            len,
        )
    }

    /// A tensor holding `data`.
    pub fn upload(&self, data: &[f32]) -> Result<Tensor> {
        let t = self.tensor(data.len())?;
        if !data.is_empty() {
            self.inner
                .queue
                .write_buffer(t.buffer(), 0, bytemuck::cast_slice(data));
        }
        Ok(t)
    }

    /// A u32 tensor holding `data`.
    pub fn upload_u32(&self, data: &[u32]) -> Result<Tensor> {
        let t = self.tensor_u32(data.len())?;
        if !data.is_empty() {
            self.inner
                .queue
                .write_buffer(t.buffer(), 0, bytemuck::cast_slice(data));
        }
        Ok(t)
    }

    /// Overwrites the start of `t` with `data`.
    pub fn write(&self, t: &Tensor, data: &[f32]) -> Result<()> {
        if data.len() > t.len() {
            crate::error::invalid!("writing {} values into a tensor of {}", data.len(), t.len());
        }
        if !data.is_empty() {
            self.inner
                .queue
                .write_buffer(t.buffer(), 0, bytemuck::cast_slice(data));
        }
        Ok(())
    }

    /// Reads a whole f32 tensor back (one submit, waits for the GPU).
    pub async fn read(&self, t: &Tensor) -> Result<Vec<f32>> {
        let bytes = self.read_bytes(t, 0, t.len() as u64 * 4).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Reads a whole u32 tensor back.
    pub async fn read_u32(&self, t: &Tensor) -> Result<Vec<u32>> {
        let bytes = self.read_bytes(t, 0, t.len() as u64 * 4).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_blocking(&self, t: &Tensor) -> Result<Vec<f32>> {
        pollster::block_on(self.read(t))
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_u32_blocking(&self, t: &Tensor) -> Result<Vec<u32>> {
        pollster::block_on(self.read_u32(t))
    }

    pub(crate) async fn read_bytes(&self, t: &Tensor, offset: u64, size: u64) -> Result<Vec<u8>> {
        if size == 0 {
            self.check()?;
            return Ok(Vec::new());
        }
        let mut rec = self.recorder();
        let staging = rec.stage_read(t, offset, size)?;
        rec.submit()?;
        self.map_read(&staging, size).await
    }

    /// Maps a staging buffer filled by an already submitted copy and returns its bytes.
    pub(crate) async fn map_read(&self, staging: &Tensor, size: u64) -> Result<Vec<u8>> {
        let (tx, rx) = futures_channel::oneshot::channel();
        let buf = staging.buffer();
        buf.map_async(wgpu::MapMode::Read, 0..size, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        if let Err(e) = self.inner.device.poll(wgpu::PollType::wait_indefinitely()) {
            self.check()?;
            return Err(Error::Readback(e.to_string()));
        }
        let mapped = rx
            .await
            .map_err(|_| Error::Readback("the map callback was dropped".into()));
        self.check()?;
        mapped?.map_err(|e| Error::Readback(e.to_string()))?;
        let out = buf
            .slice(0..size)
            .get_mapped_range()
            .map_err(|e| Error::Readback(e.to_string()))?
            .to_vec();
        buf.unmap();
        Ok(out)
    }

    /// Waits until the GPU has finished everything submitted (native; a no-op in browsers,
    /// where reading back is the way to wait).
    pub fn wait(&self) -> Result<()> {
        #[cfg(not(target_arch = "wasm32"))]
        if let Err(e) = self.inner.device.poll(wgpu::PollType::wait_indefinitely()) {
            self.check()?;
            return Err(Error::Gpu(e.to_string()));
        }
        self.check()
    }

    /// The pipeline of `entry` in the WGSL `source`, compiled once per `key`.
    pub(crate) fn kernel(
        &self,
        key: &str,
        source: impl FnOnce() -> String,
        entry: &str,
        bindings: &[Access],
    ) -> Arc<Kernel> {
        if let Some(k) = lock(&self.inner.kernels).get(key) {
            return k.clone();
        }
        let device = &self.inner.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(key),
            source: wgpu::ShaderSource::Wgsl(source().into()),
        });
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: None,
            },
            count: None,
        }];
        for (i, a) in bindings.iter().enumerate() {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: i as u32 + 1,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage {
                        read_only: *a == Access::Read,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(key),
            entries: &entries,
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(key),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(key),
            layout: Some(&pl),
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        });
        let k = Arc::new(Kernel {
            id: self.new_id(),
            name: key.to_string(),
            pipeline,
            layout,
            access: bindings.to_vec(),
        });
        lock(&self.inner.kernels).insert(key.to_string(), k.clone());
        k
    }

    /// The bind group of `kernel` over `bufs` (binding 0 the uniform slot buffer, bound 256
    /// bytes wide at a dynamic offset), cached by buffer identity.
    pub(crate) fn bind_group(
        &self,
        kernel: &Kernel,
        uniform: BufRef<'_>,
        bufs: &[BufRef<'_>],
    ) -> wgpu::BindGroup {
        let mut key = Vec::with_capacity(bufs.len() + 2);
        key.push(kernel.id);
        key.push(uniform.id);
        key.extend(bufs.iter().map(|b| b.id));
        if let Some(bg) = lock(&self.inner.bind_groups).get(&key) {
            return bg.clone();
        }
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: uniform.buffer,
                offset: 0,
                size: wgpu::BufferSize::new(crate::recorder::SLOT),
            }),
        }];
        for (i, b) in bufs.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.buffer.as_entire_binding(),
            });
        }
        let bg = self
            .inner
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &kernel.layout,
                entries: &entries,
            });
        let mut cache = lock(&self.inner.bind_groups);
        if cache.len() >= MAX_BIND_GROUPS {
            cache.clear();
        }
        cache.insert(key, bg.clone());
        bg
    }

    /// Drops cached bind groups and idle pooled buffers (after unloading a model).
    pub fn trim(&self) {
        lock(&self.inner.bind_groups).clear();
        self.inner.pool.clear();
    }

    /// Bytes held by idle buffers in the pool.
    pub fn pooled_bytes(&self) -> u64 {
        self.inner.pool.idle_bytes()
    }
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({})", self.describe())
    }
}

fn type_rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Why `adapter` cannot run our kernels under `choice`, or `None` when it can.
fn unsuitable(
    info: &wgpu::AdapterInfo,
    limits: &wgpu::Limits,
    choice: &AdapterChoice,
) -> Option<String> {
    if *choice == AdapterChoice::Auto && info.device_type == wgpu::DeviceType::Cpu {
        return Some(
            "it is a software (CPU) adapter; auto never picks one, force the GPU backend to use it"
                .into(),
        );
    }
    if limits.max_compute_invocations_per_workgroup < NEED_INVOCATIONS
        || limits.max_compute_workgroup_size_x < NEED_INVOCATIONS
    {
        return Some(format!(
            "workgroups of {NEED_INVOCATIONS} invocations are not supported"
        ));
    }
    if limits.max_compute_workgroup_storage_size < NEED_WORKGROUP_STORAGE {
        return Some(format!(
            "workgroup storage is {} bytes, under the {NEED_WORKGROUP_STORAGE} needed",
            limits.max_compute_workgroup_storage_size
        ));
    }
    if limits.max_storage_buffers_per_shader_stage < NEED_STORAGE_BUFFERS {
        return Some(format!(
            "only {} storage buffers per stage",
            limits.max_storage_buffers_per_shader_stage
        ));
    }
    if *choice == AdapterChoice::Auto
        && limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            < NEED_BINDING_AUTO
    {
        return Some(format!(
            "storage bindings of {} bytes are too small",
            limits.max_storage_buffer_binding_size
        ));
    }
    None
}

async fn select_adapter(instance: &wgpu::Instance, opts: &GpuOptions) -> Result<wgpu::Adapter> {
    let mut adapters = candidate_adapters(instance, opts).await;
    if let Some(name) = &opts.name_contains {
        let name = name.to_lowercase();
        adapters.retain(|a| a.get_info().name.to_lowercase().contains(&name));
    }
    if adapters.is_empty() {
        return Err(Error::NoAdapter(match &opts.name_contains {
            Some(n) => format!("no adapter named like `{n}`"),
            None => "wgpu found none (natively: install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers; \
                     in a browser: WebGPU is missing or disabled)"
                .into(),
        }));
    }
    adapters.sort_by_key(|a| type_rank(a.get_info().device_type));
    let mut reasons = Vec::new();
    for a in adapters {
        let info = a.get_info();
        match unsuitable(&info, &a.limits(), &opts.choice) {
            None => return Ok(a),
            Some(reason) => reasons.push(format!("{} ({:?}): {reason}", info.name, info.backend)),
        }
    }
    Err(Error::NoAdapter(format!(
        "none suitable: {}",
        reasons.join("; ")
    )))
}

#[cfg(not(target_arch = "wasm32"))]
async fn candidate_adapters(instance: &wgpu::Instance, _opts: &GpuOptions) -> Vec<wgpu::Adapter> {
    instance.enumerate_adapters(wgpu::Backends::all()).await
}

/// Browsers hand out one adapter per request: ask for a high-performance one, and for
/// `Forced` also for the fallback adapter when there is no other.
#[cfg(target_arch = "wasm32")]
async fn candidate_adapters(instance: &wgpu::Instance, opts: &GpuOptions) -> Vec<wgpu::Adapter> {
    let mut out = Vec::new();
    let mut req = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        force_fallback_adapter: false,
        compatible_surface: None,
        apply_limit_buckets: false,
    };
    if let Ok(a) = instance.request_adapter(&req).await {
        out.push(a);
    }
    if out.is_empty() && opts.choice == AdapterChoice::Forced {
        req.force_fallback_adapter = true;
        if let Ok(a) = instance.request_adapter(&req).await {
            out.push(a);
        }
    }
    out
}
