//! Shared helpers of the CLI tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Root of the repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The smoke scenario.
pub fn smoke() -> PathBuf {
    repo().join("pipelines/smoke.toml")
}

/// The path of binary `name`.
pub fn exe(name: &str) -> &'static str {
    match name {
        "gen-traj" => env!("CARGO_BIN_EXE_gen-traj"),
        "gen-rsrp" => env!("CARGO_BIN_EXE_gen-rsrp"),
        "build-ckm" => env!("CARGO_BIN_EXE_build-ckm"),
        "ckm" => env!("CARGO_BIN_EXE_ckm"),
        "run-sdusc" => env!("CARGO_BIN_EXE_run-sdusc"),
        "sdusc-paper" => env!("CARGO_BIN_EXE_sdusc-paper"),
        other => panic!("unknown binary {other}"),
    }
}

/// Run binary `name` with `args`; returns the output.
pub fn run(name: &str, args: &[&str]) -> Output {
    Command::new(exe(name))
        .args(args)
        .output()
        .expect("binary runs")
}

/// The smoke scenario with `from` replaced by `to`, written to `dir/name`.
pub fn smoke_with(dir: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(smoke()).unwrap();
    assert!(text.contains(from), "smoke.toml has no {from:?}");
    let path = dir.join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

/// Run and require success, returning stdout.
pub fn ok(name: &str, args: &[&str]) -> String {
    let out = run(name, args);
    assert!(
        out.status.success(),
        "{name} {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run and require failure, returning stderr.
pub fn fails(name: &str, args: &[&str]) -> String {
    let out = run(name, args);
    assert!(
        !out.status.success(),
        "{name} {args:?} unexpectedly succeeded"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}
