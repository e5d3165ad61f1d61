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

/// Runs `f(i)` for `i` in `0..n`, spread over the kernel threads when there are several
/// (over the [`team`] inside one).
pub(crate) fn for_each(n: usize, f: impl Fn(usize) + Sync + Send) {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if n > 1 && team::run(n, &f) {
        return;
    }
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
    if out.len() > chunk && team::leads() {
        let n = out.len().div_ceil(chunk);
        let len = out.len();
        let base = SendPtr(out.as_mut_ptr());
        let ran = team::run(n, &|i| {
            let start = i * chunk;
            let end = (start + chunk).min(len);
            let base = &base;
            // SAFETY: chunk i is base[start..end], inside `out` and disjoint from every
            // other task's; `out` is borrowed mutably for the whole call.
            let c = unsafe { std::slice::from_raw_parts_mut(base.0.add(start), end - start) };
            f(i, c)
        });
        if ran {
            return;
        }
    }
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
    if a.len() > ca && team::leads() {
        let (alen, blen) = (a.len(), b.len());
        let (pa, pb) = (SendPtr(a.as_mut_ptr()), SendPtr(b.as_mut_ptr()));
        let ran = team::run(alen.div_ceil(ca), &|i| {
            let (pa, pb) = (&pa, &pb);
            let (sa, sb) = (i * ca, (i * cb).min(blen));
            // SAFETY: the i-th chunks of `a` and `b`, inside them and disjoint from every
            // other task's; both are borrowed mutably for the whole call.
            let (x, y) = unsafe {
                (
                    std::slice::from_raw_parts_mut(pa.0.add(sa), (sa + ca).min(alen) - sa),
                    std::slice::from_raw_parts_mut(pb.0.add(sb), (sb + cb).min(blen) - sb),
                )
            };
            f(i, x, y)
        });
        if ran {
            return;
        }
    }
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

/// Runs `f` with the other kernel threads spinning, ready for [`for_each`]'s work, and
/// returns what it returns. Where there is one thread, another team is running, or this
/// thread is not one of rayon's (the CLI's and the worker's are), `f` simply runs.
///
/// Why: a decoded token is about 150 parallel regions of tens of microseconds each (one
/// per matmul, attention, norm). rayon puts idle threads to sleep after a few spins, and
/// waking one costs more than such a region in wasm32 (`Atomics.notify` across Web
/// Workers), so two threads decoded slower than one there. llama.cpp's thread pool spins
/// between the operations of a graph for the same reason; a team does so for one step.
pub fn with_team<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    return team::with_team(f);
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    f()
}

/// The spinning team behind [`with_team`]. One team at a time, led by the thread that
/// started it: only that thread's `for_each` calls go to the team (others, e.g. another
/// model in another thread, use rayon as usual).
///
/// A job is published as one atomic word, `epoch << 32 | n << 16 | next`: a thread claims
/// index `next` by a compare-exchange on the whole word, so a late thread holding a
/// previous job's pointer can never claim an index of the next job (its epoch no longer
/// matches), and the leader returns only when all `n` claimed indices are done.
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
mod team {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

    type Task<'a> = &'a (dyn Fn(usize) + Sync);

    /// The current job's work (points into the leader's stack while the job runs).
    static JOB: AtomicPtr<Task<'static>> = AtomicPtr::new(std::ptr::null_mut());
    /// `epoch << 32 | n << 16 | next`.
    static STATE: AtomicU64 = AtomicU64::new(0);
    /// Indices of the current job finished.
    static DONE: AtomicUsize = AtomicUsize::new(0);
    /// Whether a team runs (helpers spin while it does).
    static ACTIVE: AtomicBool = AtomicBool::new(false);
    /// Most indices one job may have (16 bits of the state word).
    const MAX_TASKS: usize = u16::MAX as usize;

    thread_local! {
        /// Whether this thread leads the running team and is not inside one of its tasks.
        static LEADER: Cell<bool> = const { Cell::new(false) };
    }

    pub(super) fn leads() -> bool {
        LEADER.with(Cell::get)
    }

    pub(super) fn with_team<R: Send>(f: impl FnOnce() -> R + Send) -> R {
        let helpers = super::threads().saturating_sub(1);
        // Only a thread of the pool leads: while the others spin, a rayon call of the
        // leader's (a candle op, say) must run on the leader itself, which rayon does for
        // its own threads; from outside the pool it would wait for the spinning ones.
        if helpers == 0
            || rayon::current_thread_index().is_none()
            || leads()
            || ACTIVE
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return f();
        }
        // Clears the flags even if `f` panics, so a later team can start.
        struct End;
        impl Drop for End {
            fn drop(&mut self) {
                LEADER.with(|l| l.set(false));
                ACTIVE.store(false, Ordering::Release);
            }
        }
        rayon::in_place_scope(|scope| {
            for _ in 0..helpers {
                scope.spawn(|_| help());
            }
            let _end = End;
            LEADER.with(|l| l.set(true));
            f()
        })
    }

    /// A helper's loop: claim and run indices until the team ends.
    fn help() {
        while ACTIVE.load(Ordering::Acquire) {
            if !claim_and_run() {
                std::hint::spin_loop();
            }
        }
    }

    /// Claims one index of the current job and runs it; false when there was none.
    fn claim_and_run() -> bool {
        let s = STATE.load(Ordering::Acquire);
        let (n, next) = ((s >> 16) & 0xffff, s & 0xffff);
        if next >= n {
            return false;
        }
        // Read before the claim; the claim's success proves it is this epoch's job.
        let job = JOB.load(Ordering::Acquire);
        if STATE
            .compare_exchange_weak(s, s + 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return true; // someone else moved the state: look again at once
        }
        // Counts the index as done even if the task panics, so the leader never waits
        // forever (the panic then reaches the team's scope).
        struct Finish;
        impl Drop for Finish {
            fn drop(&mut self) {
                DONE.fetch_add(1, Ordering::Release);
            }
        }
        let _finish = Finish;
        // SAFETY: the claim succeeded at this epoch, so the job is still running: the
        // leader waits for this index before it returns and its stack frame ends.
        unsafe { (*job)(next as usize) };
        true
    }

    /// Runs `f(i)` for `i` in `0..n` over the team if this thread leads one (true), else
    /// does nothing (false).
    pub(super) fn run(n: usize, f: &(dyn Fn(usize) + Sync)) -> bool {
        if !leads() || n > MAX_TASKS {
            return false;
        }
        // Tasks the leader runs must not publish jobs of their own.
        LEADER.with(|l| l.set(false));
        let task: Task<'_> = f;
        // SAFETY (lifetime): the pointer is only dereferenced by a claim of this epoch,
        // and this function returns only after every claimed index is done.
        let task: *const Task<'_> = &task;
        JOB.store(task as *mut Task<'static>, Ordering::Release);
        DONE.store(0, Ordering::Release);
        let epoch = (STATE.load(Ordering::Relaxed) >> 32).wrapping_add(1) & 0xffff_ffff;
        STATE.store(epoch << 32 | (n as u64) << 16, Ordering::Release);
        while claim_and_run() {}
        while DONE.load(Ordering::Acquire) < n {
            std::hint::spin_loop();
        }
        LEADER.with(|l| l.set(true));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Many short jobs through a team: every index runs exactly once per job, chunks
    /// cover the output, rayon calls and quantization inside the team finish (the leader
    /// runs them), and a nested team or a second team at the same time still work (they
    /// run without one).
    fn jobs() {
        with_team(|| {
            for job in 0..2000usize {
                let n = 1 + job % 37;
                let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                for_each(n, |i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                    "job {job}"
                );
                let mut out = vec![0u32; 1000 + job];
                for_each_chunk_mut(&mut out, 64, |i, c| c.fill(i as u32 + 1));
                assert!(out
                    .iter()
                    .enumerate()
                    .all(|(j, &v)| v == (j / 64) as u32 + 1));
                if job % 100 == 0 {
                    use rayon::prelude::*;
                    let total: usize = (0..10_000usize).into_par_iter().sum();
                    assert_eq!(total, 10_000 * 9_999 / 2);
                    let x: Vec<f32> = (0..512 * 256).map(|i| (i % 251) as f32 - 125.0).collect();
                    let q = super::super::acts::Q8Blocks::quantize(&x, 256);
                    assert_eq!(q.d.len(), 512 * 256 / 32);
                    assert!(q.d.iter().all(|&d| d > 0.0));
                }
            }
            with_team(|| for_each(3, |_| {}));
        })
    }

    #[test]
    fn a_team_runs_every_index_once() {
        // Two pools of two threads, each leading from one of its threads (only one team
        // forms at a time), and a thread outside any pool (which never leads one).
        let in_pool = || {
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap()
                .install(jobs)
        };
        let other = std::thread::spawn(in_pool);
        in_pool();
        jobs();
        other.join().unwrap();
    }
}
