//! What the CLI's end-to-end tests share: running the built `smolvlm`, and reading what it
//! printed.

use std::process::{Command, Output};

use serde_json::Value;

pub fn smolvlm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smolvlm"))
        .args(args)
        .output()
        .expect("running smolvlm")
}

pub fn last_json_line(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "last stdout line is not JSON ({e}): {line:?}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
