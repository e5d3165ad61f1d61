//! The OCR worker's extra builds, beside the one Trunk makes (`simd128`: SIMD128, one
//! thread, runs in every browser we target). `ocr-worker-loader.js` picks the fastest one
//! a browser runs (see its header) from the list written to `ocr-worker-builds.js`.
//!
//! - `relaxed-simd`: `+relaxed-simd` (fused multiply-adds in the f32 tiles). Stable Rust;
//!   a module using it does not load where it is missing, hence a build of its own.
//! - `simd128-threads`, `relaxed-simd-threads`: `+atomics,+bulk-memory` with std rebuilt
//!   for them (`-Z build-std`, on the pinned nightly [`tools::NIGHTLY`]): shared memory and
//!   a rayon pool of Web Workers (`crates/worker/src/web/pool.rs`). Without the nightly
//!   these are skipped, and the site says so (one thread everywhere).
//!
//! Each build is cargo (its own target dir: different flags rebuild every crate), then
//! wasm-bindgen `--target no-modules` (as Trunk does for a worker), then wasm-opt -O3.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{run, timed, tools};

struct Variant {
    name: &'static str,
    relaxed: bool,
    threads: bool,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "relaxed-simd",
        relaxed: true,
        threads: false,
    },
    Variant {
        name: "simd128-threads",
        relaxed: false,
        threads: true,
    },
    Variant {
        name: "relaxed-simd-threads",
        relaxed: true,
        threads: true,
    },
];

/// Builds the variants into `dist/` and writes `ocr-worker-builds.js`. A variant that
/// fails is left out with a warning (the site still works on the builds it has); the
/// list always holds Trunk's `simd128`.
pub fn build(root: &Path, dist: &Path) -> Result<()> {
    let nightly = tools::nightly_installed();
    let mut built = vec!["simd128"];
    for v in VARIANTS {
        if v.threads && !nightly {
            eprintln!(
                "xtask: no {} with rust-src: skipping the {} worker (`cargo xtask install` \
                 installs it); browsers will run the model on one thread",
                tools::NIGHTLY,
                v.name
            );
            continue;
        }
        match timed(&format!("worker build {}", v.name), || {
            build_one(root, dist, v)
        }) {
            Ok(()) => built.push(v.name),
            Err(e) => eprintln!(
                "xtask: the {} worker did not build, the site goes without it: {e:#}",
                v.name
            ),
        }
    }
    let list: Vec<String> = built.iter().map(|b| format!("{b:?}")).collect();
    std::fs::write(
        dist.join("ocr-worker-builds.js"),
        format!(
            "// The OCR worker builds of this site (cargo xtask dist), for ocr-worker-loader.js.\n\
             self.OCR_WORKER_BUILDS = [{}];\n",
            list.join(", ")
        ),
    )
    .context("writing ocr-worker-builds.js")?;
    eprintln!("xtask: OCR worker builds: {}", built.join(", "));
    Ok(())
}

fn build_one(root: &Path, dist: &Path, v: &Variant) -> Result<()> {
    let target_dir = root.join("target").join(format!("worker-{}", v.name));
    let mut features = vec!["+simd128"];
    if v.relaxed {
        features.push("+relaxed-simd");
    }
    if v.threads {
        features.extend(["+atomics", "+bulk-memory", "+mutable-globals"]);
    }
    // For the module only (through `cargo rustc`, so the dependencies do not rebuild when
    // they change): a memory shared with the pool workers, imported (each worker
    // instantiates the module on the same one), with its maximum stated as shared memories
    // must: wasm32's whole 4 GiB, as the single-threaded build may grow to. The TLS symbols
    // are what wasm-bindgen's thread transform sets each thread up with.
    let link_args: &[&str] = match v.threads {
        true => &[
            "--shared-memory",
            "--import-memory",
            "--max-memory=4294967296",
            "--export=__wasm_init_tls",
            "--export=__tls_size",
            "--export=__tls_align",
            "--export=__tls_base",
        ],
        false => &[],
    };
    let mut cargo = match v.threads {
        true => {
            let mut c = Command::new("rustup");
            c.args([
                "run",
                tools::NIGHTLY,
                "cargo",
                "rustc",
                "-Z",
                "build-std=panic_abort,std",
            ]);
            // Cargo's own variables from `cargo xtask` would point the nightly at stable's
            // tools. The stable build keeps them (RUSTUP_TOOLCHAIN above all: without it
            // rustup's rustc proxy obeys the rust-toolchain file that some crates ship).
            c.env_remove("RUSTC")
                .env_remove("RUSTDOC")
                .env_remove("CARGO")
                .env_remove("RUSTUP_TOOLCHAIN");
            c
        }
        false => {
            let mut c = crate::cargo();
            c.arg("rustc");
            c
        }
    };
    cargo
        .args(["--release", "--target", tools::WASM_TARGET])
        .args(["--package", "ocr-worker", "--lib"])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env(
            "RUSTFLAGS",
            format!("-C target-feature={}", features.join(",")),
        );
    if !link_args.is_empty() {
        cargo.arg("--");
        for a in link_args {
            cargo.arg(format!("-Clink-arg={a}"));
        }
    }
    run(&mut cargo)?;
    let wasm = target_dir
        .join(tools::WASM_TARGET)
        .join("release")
        .join("ocr_worker.wasm");
    let stem = format!("ocr-worker-{}", v.name);
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "no-modules",
            "--no-typescript",
            "--out-name",
            &stem,
        ])
        .arg("--out-dir")
        .arg(dist)
        .arg(&wasm))?;
    let out = dist.join(format!("{stem}_bg.wasm"));
    let wasm_opt = root
        .join(tools::WASM_OPT_DIR)
        .join("node_modules/.bin/wasm-opt");
    // The features the module uses (binaryen would otherwise refuse their instructions).
    let mut enable = vec![
        "--enable-simd",
        "--enable-bulk-memory",
        "--enable-mutable-globals",
        "--enable-nontrapping-float-to-int",
        "--enable-sign-ext",
        "--enable-reference-types",
        "--enable-multivalue",
    ];
    if v.relaxed {
        enable.push("--enable-relaxed-simd");
    }
    if v.threads {
        enable.push("--enable-threads");
    }
    run(Command::new(&wasm_opt)
        .arg("-O3")
        .args(&enable)
        .arg(&out)
        .arg("-o")
        .arg(&out))
}
