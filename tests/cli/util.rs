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

/// Run binary `name` with `args`; returns the output.
pub fn run(name: &str, args: &[&str]) -> Output {
    let exe = match name {
        "gen-traj" => env!("CARGO_BIN_EXE_gen-traj"),
        "gen-rsrp" => env!("CARGO_BIN_EXE_gen-rsrp"),
        "build-ckm" => env!("CARGO_BIN_EXE_build-ckm"),
        "ckm" => env!("CARGO_BIN_EXE_ckm"),
        "run-sdusc" => env!("CARGO_BIN_EXE_run-sdusc"),
        other => panic!("unknown binary {other}"),
    };
    Command::new(exe).args(args).output().expect("binary runs")
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
