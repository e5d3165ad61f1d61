//! The runtime around the kernels: adapter choice, device loss, one-submit decode steps,
//! buffer pooling.

mod common;

use common::{gpu, random_weight, rng, uniform};
use smolvlm_gpu::{AdapterChoice, Error, Gpu, GpuOptions, WeightType};

#[test]
fn auto_never_picks_a_software_adapter() {
    // Whatever this machine has: auto must either find a hardware adapter or refuse,
    // saying why, when there are only software ones (lavapipe in CI).
    let forced = gpu();
    match Gpu::new_blocking(&GpuOptions::auto()) {
        Ok(g) => assert_ne!(
            g.adapter_info().device_type,
            smolvlm_gpu::wgpu::DeviceType::Cpu,
            "auto picked {}",
            g.describe()
        ),
        Err(e) => {
            assert_eq!(
                forced.adapter_info().device_type,
                smolvlm_gpu::wgpu::DeviceType::Cpu,
                "auto refused although {} exists: {e}",
                forced.describe()
            );
            assert!(matches!(e, Error::NoAdapter(_)), "{e}");
            assert!(
                e.to_string().contains("software"),
                "the refusal should say why: {e}"
            );
        }
    }
}

#[test]
fn adapter_name_filter_reports_a_missing_name() {
    let opts = GpuOptions {
        choice: AdapterChoice::Forced,
        name_contains: Some("no such adapter 1234".into()),
        ..GpuOptions::default()
    };
    let err = Gpu::new_blocking(&opts).expect_err("no adapter has that name");
    assert!(err.to_string().contains("no such adapter 1234"), "{err}");
}

#[test]
fn a_lost_device_is_an_error_not_a_panic() {
    // A device of its own: losing the shared one would break the other tests.
    let g = Gpu::new_blocking(&GpuOptions::forced()).expect("an adapter (see common::gpu)");
    let x = g.upload(&[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(g.read_blocking(&x).unwrap(), vec![1.0, 2.0, 3.0]);
    g.destroy();
    let mut rec = g.recorder();
    let y = match g.tensor(3) {
        Ok(y) => y,
        Err(e) => {
            assert!(matches!(e, Error::DeviceLost(_)), "{e}");
            return;
        }
    };
    // Recording may still succeed; the submit or the read must report the loss.
    let _ = rec.add(&x, &x, 3, 3, &y);
    let err = rec
        .submit_read_blocking(&y)
        .expect_err("reading from a destroyed device");
    assert!(
        matches!(err, Error::DeviceLost(_)),
        "expected DeviceLost, got {err}"
    );
}

#[test]
fn a_device_lost_underneath_is_reported_as_lost() {
    // Loss that does not go through `Gpu::destroy` (as a driver reset would not): wgpu's
    // lost callback must be what turns it into `DeviceLost`.
    let g = Gpu::new_blocking(&GpuOptions::forced()).expect("an adapter (see common::gpu)");
    let x = g.upload(&[1.0, 2.0]).unwrap();
    g.device().destroy();
    let err = g
        .read_blocking(&x)
        .expect_err("reading from a destroyed device");
    assert!(
        matches!(err, Error::DeviceLost(_)),
        "expected DeviceLost, got {err}"
    );
    assert!(
        err.wants_cpu_fallback(),
        "a lost device should send callers to the CPU"
    );
}

#[test]
fn a_decode_step_is_one_submit_that_reads_back_only_the_token() {
    // embed -> rms_norm -> lm_head matvec -> argmax, recorded once, fed its own output for
    // a few steps: the shape of a greedy decode loop, against the same loop on the CPU.
    let g = gpu();
    let (vocab, dim) = (300, 64);
    let mut r = rng(21);
    let (emb_bytes, emb) = random_weight(&mut r, WeightType::Q8_0, vocab, dim);
    let (head_bytes, head) = random_weight(&mut r, WeightType::Q4_0, vocab, dim);
    let norm_w = uniform(&mut r, dim, 1.0);
    let emb_w = g
        .upload_weight(WeightType::Q8_0, vocab, dim, &emb_bytes)
        .unwrap();
    let head_w = g
        .upload_weight(WeightType::Q4_0, vocab, dim, &head_bytes)
        .unwrap();
    let norm_t = g.upload(&norm_w).unwrap();
    let ids = g.upload_u32(&[5]).unwrap();

    let cpu_step = |id: usize| -> usize {
        let x = &emb[id * dim..(id + 1) * dim];
        let ms = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / dim as f64;
        let inv = 1.0 / (ms + 1e-5).sqrt();
        let h: Vec<f64> = (0..dim)
            .map(|i| norm_w[i] as f64 * x[i] as f64 * inv)
            .collect();
        let logits: Vec<f64> = (0..vocab)
            .map(|rw| (0..dim).map(|c| head[rw * dim + c] as f64 * h[c]).sum())
            .collect();
        // Random logits of this size have no near-ties at f32 precision (checked below).
        let mut best = 0;
        for (i, l) in logits.iter().enumerate() {
            if *l > logits[best] {
                best = i;
            }
        }
        let mut sorted = logits.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        assert!(
            sorted[0] - sorted[1] > 1e-4,
            "near-tie in the reference logits; pick another seed"
        );
        best
    };

    let mut cpu_id = 5;
    for _ in 0..6 {
        let (x, h, logits) = (
            g.tensor(dim).unwrap(),
            g.tensor(dim).unwrap(),
            g.tensor(vocab).unwrap(),
        );
        let mut rec = g.recorder();
        rec.embed(&emb_w, &ids, 0, 1, &x).unwrap();
        rec.rms_norm(&x, &norm_t, 1, dim, 1e-5, &h).unwrap();
        rec.matvec(&head_w, &h, &logits, None, None).unwrap();
        rec.argmax(&logits, vocab, &ids, 0).unwrap();
        assert_eq!(rec.len(), 4);
        let id = rec.submit_read_u32_blocking(&ids, 0).unwrap();
        cpu_id = cpu_step(cpu_id);
        assert_eq!(id as usize, cpu_id);
    }
    // The same temporaries came back from the pool each step instead of new ones.
    assert!(g.pooled_bytes() > 0);
}

#[test]
fn pooled_buffers_are_reused() {
    let g = Gpu::new_blocking(&GpuOptions::forced()).expect("an adapter (see common::gpu)");
    let a = g.tensor(1000).unwrap();
    let first = a.buffer().clone();
    drop(a);
    let idle = g.pooled_bytes();
    assert!(idle >= 4000);
    // A nearby size falls in the same class and gets the same buffer back.
    let b = g.tensor(990).unwrap();
    assert_eq!(b.buffer(), &first);
    assert_eq!(g.pooled_bytes(), idle - first.size());
    g.trim();
    assert_eq!(g.pooled_bytes(), 0);
}

#[test]
fn a_recording_keeps_its_tensors_from_the_pool_until_submitted() {
    // The input of a recorded add is dropped before the submit, and an upload of the same
    // size follows: the upload must not get (and overwrite) the buffer the add reads.
    let g = Gpu::new_blocking(&GpuOptions::forced()).expect("an adapter (see common::gpu)");
    let y = g.tensor(64).unwrap();
    let mut rec = g.recorder();
    {
        let a = g.upload(&[1.0; 64]).unwrap();
        rec.add(&a, &a, 64, 64, &y).unwrap();
    }
    let other = g.upload(&[100.0; 64]).unwrap();
    assert_eq!(rec.submit_read_blocking(&y).unwrap(), vec![2.0; 64]);
    drop(other);
}

#[test]
fn tensors_beyond_the_binding_limit_are_refused() {
    let g = gpu();
    let too_many = (g.max_binding() / 4 + 1) as usize;
    let err = g.tensor(too_many).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}
