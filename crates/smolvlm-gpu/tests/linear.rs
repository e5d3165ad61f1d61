//! Weight kernels against candle's dequantization: matvec, matmul and embedding gather for
//! every GGUF type, at sizes that are not multiples of the workgroup shapes.

mod common;

use rand::Rng;

use common::{assert_close, awkward_cols, gpu, random_weight, rng, uniform, U};
use smolvlm_gpu::{Error, WeightType};

/// Reference y = W x (+ bias) (+ res) in f64, and sum |w x| per row for the tolerance.
fn linear_ref(
    w: &[f32],
    x: &[f32],
    rows: usize,
    cols: usize,
    extra: &[&[f32]],
) -> (Vec<f64>, Vec<f64>) {
    let mut y = vec![0.0; rows];
    let mut mag = vec![0.0; rows];
    for r in 0..rows {
        for c in 0..cols {
            let p = w[r * cols + c] as f64 * x[c] as f64;
            y[r] += p;
            mag[r] += p.abs();
        }
        for e in extra {
            y[r] += e[r] as f64;
            mag[r] += (e[r] as f64).abs();
        }
    }
    (y, mag)
}

/// Matvec tolerance: each lane adds cols/128 four-term dot products in sequence, then a
/// 5-level tree (32 lanes) and the bias/residual: at most cols/32 + 8 roundings on the
/// path of any term, plus one rounding of each dequantized weight (FMA contraction of
/// `d * q - m` may round differently from candle). Standard bound: k u sum|w x|.
fn matvec_tol(cols: usize, mag: f64) -> f64 {
    (cols as f64 / 32.0 + 10.0) * U * mag + 1e-30
}

#[test]
fn matvec_matches_candle_for_every_type() {
    let g = gpu();
    let rows = 67;
    for ty in WeightType::ALL {
        let mut r = rng(ty.ggml_id() as u64 + 1);
        let cols = awkward_cols(ty);
        let (bytes, deq) = random_weight(&mut r, ty, rows, cols);
        let x = uniform(&mut r, cols, 1.0);
        let w = g.upload_weight(ty, rows, cols, &bytes).unwrap();
        let xt = g.upload(&x).unwrap();
        let yt = g.tensor(rows).unwrap();
        let mut rec = g.recorder();
        rec.matvec(&w, &xt, &yt, None, None).unwrap();
        let got = rec.submit_read_blocking(&yt).unwrap();
        let (want, mag) = linear_ref(&deq, &x, rows, cols, &[]);
        assert_close(
            &format!("matvec {ty} {rows}x{cols}"),
            &got[..rows],
            &want,
            |i| matvec_tol(cols, mag[i]),
        );
    }
}

#[test]
fn matvec_adds_bias_and_residual_and_spans_chunks() {
    let g = gpu();
    let (rows, cols, ty) = (67, 160, WeightType::Q8_0);
    let mut r = rng(7);
    let (bytes, deq) = random_weight(&mut r, ty, rows, cols);
    let x = uniform(&mut r, cols + 8, 1.0);
    let bias = uniform(&mut r, rows, 1.0);
    let res = uniform(&mut r, rows, 1.0);
    // 10 rows per chunk: 7 chunks, the last one short.
    let w = g
        .upload_weight_limited(
            ty,
            rows,
            cols,
            &bytes,
            (10 * ty.row_bytes(cols).unwrap() + 8) as u64,
        )
        .unwrap();
    assert_eq!(w.chunk_count(), 7);
    let (xt, bt, rt, yt) = (
        g.upload(&x).unwrap(),
        g.upload(&bias).unwrap(),
        g.upload(&res).unwrap(),
        g.tensor(rows).unwrap(),
    );
    let mut rec = g.recorder();
    // The vector starts 8 values in, to exercise x offsets.
    rec.matvec_at(&w, &xt, 8, &yt, Some(&bt), Some(&rt))
        .unwrap();
    let got = rec.submit_read_blocking(&yt).unwrap();
    let (want, mag) = linear_ref(&deq, &x[8..], rows, cols, &[&bias, &res]);
    assert_close(
        "matvec with bias, residual, chunks",
        &got[..rows],
        &want,
        |i| matvec_tol(cols, mag[i]),
    );
}

/// Matmul tolerance: each output is one invocation's sequential sum over K (4 values per
/// staged vec4, so K additions), then bias and residual: (K + 3) roundings at most.
fn matmul_tol(k: usize, mag: f64) -> f64 {
    (k as f64 + 4.0) * U * mag + 1e-30
}

fn check_matmul(
    ty: WeightType,
    m: usize,
    n: usize,
    k: usize,
    with_extras: bool,
    max_chunk: Option<u64>,
    seed: u64,
) {
    let g = gpu();
    let mut r = rng(seed);
    let (bytes, deq) = random_weight(&mut r, ty, n, k);
    let x = uniform(&mut r, m * k, 1.0);
    let bias = uniform(&mut r, n, 1.0);
    let res = uniform(&mut r, m * n, 1.0);
    let w = match max_chunk {
        Some(c) => g.upload_weight_limited(ty, n, k, &bytes, c).unwrap(),
        None => g.upload_weight(ty, n, k, &bytes).unwrap(),
    };
    let (xt, bt, rt, yt) = (
        g.upload(&x).unwrap(),
        g.upload(&bias).unwrap(),
        g.upload(&res).unwrap(),
        g.tensor(m * n).unwrap(),
    );
    let mut rec = g.recorder();
    if with_extras {
        rec.matmul(&w, &xt, m, &yt, Some(&bt), Some(&rt)).unwrap();
    } else {
        rec.matmul(&w, &xt, m, &yt, None, None).unwrap();
    }
    let got = rec.submit_read_blocking(&yt).unwrap();
    let mut want = vec![0.0; m * n];
    let mut mag = vec![0.0; m * n];
    for i in 0..m {
        let extra_b: Vec<f32> = if with_extras {
            bias.clone()
        } else {
            vec![0.0; n]
        };
        let extra_r: Vec<f32> = if with_extras {
            res[i * n..(i + 1) * n].to_vec()
        } else {
            vec![0.0; n]
        };
        let (y, mg) = linear_ref(&deq, &x[i * k..(i + 1) * k], n, k, &[&extra_b, &extra_r]);
        want[i * n..(i + 1) * n].copy_from_slice(&y);
        mag[i * n..(i + 1) * n].copy_from_slice(&mg);
    }
    assert_close(
        &format!("matmul {ty} {m}x{n}x{k}"),
        &got[..m * n],
        &want,
        |i| matmul_tol(k, mag[i]),
    );
}

#[test]
fn matmul_matches_candle_for_every_type() {
    for ty in WeightType::ALL {
        check_matmul(
            ty,
            13,
            67,
            awkward_cols(ty),
            false,
            None,
            100 + ty.ggml_id() as u64,
        );
    }
}

#[test]
fn matmul_spans_tiles_chunks_bias_and_residual() {
    // 70 x 130: two tile rows (the second nearly empty), three tile columns; K = 100 ends
    // mid-way through a 16-deep K step.
    check_matmul(WeightType::F32, 70, 130, 100, true, None, 11);
    let ty = WeightType::Q4_0;
    let chunk = (50 * ty.row_bytes(160).unwrap() + 8) as u64;
    check_matmul(ty, 70, 130, 160, true, Some(chunk), 12);
}

#[test]
fn linear_picks_matvec_for_one_row() {
    let g = gpu();
    let ty = WeightType::Q6K;
    let mut r = rng(13);
    let (bytes, deq) = random_weight(&mut r, ty, 33, 256);
    let x = uniform(&mut r, 256, 1.0);
    let w = g.upload_weight(ty, 33, 256, &bytes).unwrap();
    let (xt, yt) = (g.upload(&x).unwrap(), g.tensor(33).unwrap());
    let mut rec = g.recorder();
    rec.linear(&w, &xt, 1, &yt, None, None).unwrap();
    let got = rec.submit_read_blocking(&yt).unwrap();
    let (want, mag) = linear_ref(&deq, &x, 33, 256, &[]);
    assert_close("linear m=1", &got, &want, |i| matvec_tol(256, mag[i]));
}

#[test]
fn embed_gathers_dequantized_rows_for_every_type() {
    let g = gpu();
    let vocab = 67;
    for ty in WeightType::ALL {
        let mut r = rng(200 + ty.ggml_id() as u64);
        let cols = awkward_cols(ty);
        let (bytes, deq) = random_weight(&mut r, ty, vocab, cols);
        // Split the table so ids land in different chunks.
        let table = g
            .upload_weight_limited(
                ty,
                vocab,
                cols,
                &bytes,
                (20 * ty.row_bytes(cols).unwrap() + 8) as u64,
            )
            .unwrap();
        let ids: Vec<u32> = (0..13)
            .map(|_| r.random_range(0..vocab as u32))
            .chain([0, 66, 20, 19])
            .collect();
        let idt = g.upload_u32(&ids).unwrap();
        let yt = g.tensor(ids.len() * cols).unwrap();
        let mut rec = g.recorder();
        rec.embed(&table, &idt, 0, ids.len(), &yt).unwrap();
        let got = rec.submit_read_blocking(&yt).unwrap();
        let want: Vec<f64> = ids
            .iter()
            .flat_map(|&id| {
                deq[id as usize * cols..(id as usize + 1) * cols]
                    .iter()
                    .map(|&v| v as f64)
            })
            .collect();
        // Dequantization alone: at most one rounding apart (FMA contraction in Q4_K).
        assert_close(&format!("embed {ty}"), &got, &want, |i| {
            2.0 * U * want[i].abs() + 1e-30
        });
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let g = gpu();
    let ty = WeightType::Q8_0;
    // A row that is not whole blocks.
    let err = g.upload_weight(ty, 2, 40, &[0u8; 2 * 34]).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    assert!(err.to_string().contains("multiple of 32"), "{err}");
    // Bytes that do not match the shape.
    let err = g.upload_weight(ty, 2, 32, &[0u8; 67]).unwrap_err();
    assert!(err.to_string().contains("68 bytes"), "{err}");
    let w = g.upload_weight(ty, 2, 32, &[0u8; 68]).unwrap();
    // x too short.
    let (x, y) = (g.tensor(16).unwrap(), g.tensor(2).unwrap());
    let err = g.recorder().matvec(&w, &x, &y, None, None).unwrap_err();
    assert!(err.to_string().contains("needs 32 values"), "{err}");
    // Output bound as an input too.
    let x = g.tensor(32).unwrap();
    let err = g.recorder().matvec(&w, &x, &x, None, None).unwrap_err();
    assert!(err.to_string().contains("also one of its inputs"), "{err}");
    // Token ids must be u32.
    let ids = g.tensor(1).unwrap();
    let err = g.recorder().embed(&w, &ids, 0, 1, &y).unwrap_err();
    assert!(err.to_string().contains("must be U32"), "{err}");
}
