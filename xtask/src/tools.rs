//! Finding and installing the tools the build and the tests need.
//!
//! Each tool is checked first and installed only when missing, so a second run costs a few
//! process starts. Nothing here downloads a prebuilt binary: Rust tools are compiled by
//! `cargo install` from crates.io, system tools come from Debian's apt, test libraries from
//! npm (with Playwright's browser download switched off: the tests drive Debian's Chromium).

use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};

use crate::{cargo, run};

/// Trunk's version: 0.22 needs a newer rustc than some machines have (DESIGN.md).
pub const TRUNK_VERSION: &str = "0.21.14";
/// Where the browser tests find Chromium (Debian's package).
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The nightly that builds the threaded worker (`-Z build-std` with `+atomics`: the shipped
/// wasm32 std is built without atomics). Pinned, so a site builds the same way next month;
/// everything else stays on stable.
pub const NIGHTLY: &str = "nightly-2026-05-19";
/// binaryen's wasm-opt from npm (tools/wasm-opt), first on Trunk's PATH. Debian 12's
/// binaryen 108 corrupts the externref table wasm-bindgen makes (the app fails to start);
/// npm's build is JS/wasm run by Node, so nothing prebuilt for this machine is fetched.
pub const WASM_OPT_DIR: &str = "tools/wasm-opt";

/// Debian packages: (package, a file it installs that tells it is there, why).
const APT_PACKAGES: &[(&str, &str, &str)] = &[
    (
        "chromium",
        CHROMIUM,
        "the browser the Playwright tests drive",
    ),
    (
        "fonts-dejavu-core",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "a font for Chromium's pages and screenshots",
    ),
    (
        "python3-venv",
        "/usr/share/doc/python3-venv",
        "a Python venv with llama.cpp's gguf package, for the GGUF file checks",
    ),
    (
        "mesa-vulkan-drivers",
        "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
        "Vulkan (lavapipe) for the GPU tests",
    ),
    (
        "postgresql",
        "/usr/share/doc/postgresql",
        "PostgreSQL for the votes tests and bench-votes (started in a temporary directory)",
    ),
];

/// What a command needs installed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// `dist` and `serve`: the wasm target, trunk, wasm-bindgen, wasm-opt.
    Build,
    /// `test` and `install`: the above plus the Debian packages (Chromium, the GPU tests'
    /// Vulkan driver, ...) and the npm packages of `tests/`.
    Test,
}

pub fn install(need: Need) -> Result<()> {
    let apt_missing: Vec<_> = APT_PACKAGES
        .iter()
        .filter(|(_, file, _)| need >= Need::Test && !Path::new(file).exists())
        .collect();
    if !apt_missing.is_empty() {
        let names: Vec<&str> = apt_missing.iter().map(|(p, _, _)| *p).collect();
        if is_root() {
            run(Command::new("apt-get").arg("update"))?;
            run(Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(&names)
                .env("DEBIAN_FRONTEND", "noninteractive"))?;
        } else {
            let why: Vec<String> = apt_missing
                .iter()
                .map(|(p, _, w)| format!("  {p}: {w}"))
                .collect();
            bail!(
                "missing Debian packages:\n{}\ninstall them with:\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends {}\nthen run this command again",
                why.join("\n"),
                names.join(" ")
            );
        }
    }

    if !wasm_target_installed() {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }

    if installed_version("trunk").as_deref() != Some(TRUNK_VERSION) {
        run(cargo().args(["install", "--locked", &format!("trunk@{TRUNK_VERSION}")]))?;
    }

    let wbg = wasm_bindgen_version()?;
    if installed_version("wasm-bindgen").as_deref() != Some(wbg.as_str()) {
        // Without --locked: wasm-bindgen-cli's own lockfile pins a crate the registry lacks.
        run(cargo().args(["install", "--force", &format!("wasm-bindgen-cli@{wbg}")]))?;
    }

    if !nightly_installed() {
        // Optional: without it `dist` builds the single-threaded workers only, and says so.
        if let Err(e) = install_nightly() {
            eprintln!(
                "xtask: could not install {NIGHTLY} with rust-src ({e:#}): the site will have \
                 no threaded worker (one thread in every browser)"
            );
        }
    }

    npm_ci(Path::new(WASM_OPT_DIR))?;
    if need >= Need::Test {
        npm_ci(Path::new("tests"))?;
    }
    Ok(())
}

/// `npm ci` in `dir` unless its `node_modules` is already as the lockfile says.
fn npm_ci(dir: &Path) -> Result<()> {
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let fresh = match (modified(&lock), modified(&installed)) {
        (Some(l), Some(i)) => i >= l,
        _ => false,
    };
    if !fresh {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir)
            // The tests drive Debian's Chromium: never download a browser.
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"))?;
    }
    Ok(())
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    p.metadata().and_then(|m| m.modified()).ok()
}

pub fn doctor() -> Result<()> {
    let mut missing = 0;
    let mut line = |ok: bool, what: &str, detail: String| {
        if !ok {
            missing += 1;
        }
        println!(
            "{} {what:<22} {detail}",
            if ok { "ok     " } else { "MISSING" }
        );
    };
    line(wasm_target_installed(), WASM_TARGET, "rustup target".into());
    let trunk = installed_version("trunk");
    line(
        trunk.as_deref() == Some(TRUNK_VERSION),
        "trunk",
        format!(
            "want {TRUNK_VERSION}, have {}",
            trunk.as_deref().unwrap_or("none")
        ),
    );
    let want = wasm_bindgen_version().unwrap_or_else(|e| format!("? ({e})"));
    let have = installed_version("wasm-bindgen");
    line(
        have.as_deref() == Some(want.as_str()),
        "wasm-bindgen-cli",
        format!(
            "want {want} (Cargo.lock), have {}",
            have.as_deref().unwrap_or("none")
        ),
    );
    line(
        nightly_installed(),
        NIGHTLY,
        "rustup toolchain with rust-src, for the threaded worker (optional)".into(),
    );
    for (pkg, file, why) in APT_PACKAGES {
        line(Path::new(file).exists(), pkg, format!("{why} ({file})"));
    }
    let wasm_opt = Path::new(WASM_OPT_DIR).join("node_modules/.bin/wasm-opt");
    line(
        wasm_opt.exists(),
        "wasm-opt (npm binaryen)",
        format!("{} (npm ci)", wasm_opt.display()),
    );
    let npm = Path::new("tests/node_modules/.package-lock.json").exists();
    line(npm, "npm packages", "tests/node_modules (npm ci)".into());
    if missing > 0 {
        println!("\n{missing} missing: `cargo xtask install` installs them (apt needs root).");
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn wasm_target_installed() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET)
        })
        .unwrap_or(false)
}

/// cargo-fuzz's version (`cargo xtask fuzz`), compiled from crates.io.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// The pinned nightly with `rust-src` (for `-Z build-std`).
fn install_nightly() -> Result<()> {
    run(Command::new("rustup").args([
        "toolchain",
        "install",
        NIGHTLY,
        "--profile",
        "minimal",
        "--component",
        "rust-src",
    ]))
}

/// What `cargo xtask fuzz` needs: the pinned nightly (libFuzzer's sanitizer flags are
/// nightly-only) and cargo-fuzz.
pub fn install_fuzz() -> Result<()> {
    if !nightly_installed() {
        install_nightly()?;
    }
    if installed_version("cargo-fuzz").as_deref() != Some(CARGO_FUZZ_VERSION) {
        run(cargo().args([
            "install",
            "--locked",
            &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"),
        ]))?;
    }
    Ok(())
}

/// Whether the pinned nightly and its `rust-src` (for `-Z build-std`) are installed.
pub fn nightly_installed() -> bool {
    Command::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", NIGHTLY])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.trim() == "rust-src")
        })
        .unwrap_or(false)
}

/// The version a tool prints with `--version` ("trunk 0.21.14" → "0.21.14"), if it runs.
fn installed_version(tool: &str) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .map(str::to_owned)
}

/// The wasm-bindgen version that Cargo.lock pins: the CLI must be exactly that version.
pub fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string("Cargo.lock").context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines
                .next()
                .and_then(|v| v.trim().strip_prefix("version = "))
            {
                return Ok(v.trim_matches('"').to_owned());
            }
        }
    }
    bail!("Cargo.lock has no wasm-bindgen package (is crates/web-app in the workspace?)")
}
