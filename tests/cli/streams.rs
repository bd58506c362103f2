//! Standard streams and I/O errors: a closed or full stderr does not abort a
//! run, and I/O failures say what failed and where, once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use arrow::array::{ArrayRef, UInt64Array};
use sdusc_formats::parquet_io::{ParquetSource, write_batch};

use crate::util::{exe, fails, ok, s, smoke};

fn gen_rsrp(dir: &Path) -> PathBuf {
    let path = dir.join("rsrp.parquet");
    ok("gen-rsrp", &["--scenario", s(&smoke()), "--out", s(&path)]);
    path
}

fn build_ckm_args<'a>(rsrp: &'a Path, out: &'a Path, smoke: &'a Path) -> [&'a str; 6] {
    [
        "--scenario",
        s(smoke),
        "--rsrp",
        s(rsrp),
        "--out-dir",
        s(out),
    ]
}

fn assert_ran(name: &str, status: std::process::ExitStatus, stderr: &str) {
    assert_ne!(status.code(), Some(101), "{name} panicked: {stderr}");
    assert!(status.success(), "{name} failed: {status}");
}

#[test]
fn a_full_stderr_neither_panics_nor_loses_the_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let Ok(full) = File::create("/dev/full") else {
        return; // no /dev/full on this system
    };
    let traj = dir.path().join("t.parquet");
    let status = Command::new(exe("gen-traj"))
        .args(["--scenario", s(&smoke()), "--out", s(&traj)])
        .stderr(Stdio::from(full))
        .status()
        .unwrap();
    assert_ran("gen-traj", status, "");
    assert!(ParquetSource::open(&traj).unwrap().rows > 0);

    let rsrp = gen_rsrp(dir.path());
    let out = dir.path().join("ckm");
    let smoke = smoke();
    let status = Command::new(exe("build-ckm"))
        .args(build_ckm_args(&rsrp, &out, &smoke))
        .stderr(Stdio::from(File::create("/dev/full").unwrap()))
        .status()
        .unwrap();
    assert_ran("build-ckm", status, "");
    assert!(out.join("bs0.ckm").is_file(), "no CKM written");
}

#[test]
fn a_closed_stderr_pipe_neither_panics_nor_loses_the_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let rsrp = gen_rsrp(dir.path());
    let out = dir.path().join("ckm");
    let smoke = smoke();
    // `build-ckm … 2>&1 | head -1`: the reader is gone before the first line.
    let mut child = Command::new(exe("build-ckm"))
        .args(build_ckm_args(&rsrp, &out, &smoke))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_ran("build-ckm", status, "");
    assert!(out.join("bs0.ckm").is_file(), "no CKM written");
}

/// A beam id of 2⁶⁴−1 was reported as "1 null values", without a row.
#[test]
fn ids_above_i64_max_are_reported_with_their_row_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let rsrp = gen_rsrp(dir.path());
    let mut src = ParquetSource::open(&rsrp).unwrap();
    let mut batches = Vec::new();
    while let Some(b) = src.next_batch() {
        batches.push(b.unwrap());
    }
    let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    // Past the first read batch (65 536 rows): the row number is absolute.
    let bad_row = 100_000;
    assert!(all.num_rows() > bad_row);
    let mut beams: Vec<u64> = (0..all.num_rows()).map(|_| 0).collect();
    beams[bad_row] = u64::MAX;
    let cols: Vec<(&str, ArrayRef)> = all
        .schema()
        .fields()
        .iter()
        .zip(all.columns())
        .map(|(f, c)| match f.name().as_str() {
            "beam_id" => (
                "beam_id",
                Arc::new(UInt64Array::from(beams.clone())) as ArrayRef,
            ),
            name => (
                ["bs_id", "x_m", "y_m", "rsrp_dbm"]
                    .into_iter()
                    .find(|n| *n == name)
                    .expect("RSRP column"),
                Arc::clone(c),
            ),
        })
        .collect();
    let batch = arrow::array::RecordBatch::try_from_iter(cols).unwrap();
    let path = dir.path().join("huge_beam.parquet");
    write_batch(&path, &batch, &src.provenance).unwrap();
    let out = dir.path().join("ckm");
    let smoke = smoke();
    let err = fails("build-ckm", &build_ckm_args(&path, &out, &smoke));
    for needle in ["huge_beam.parquet", "`beam_id`", &format!("row {bad_row}")] {
        assert!(err.contains(needle), "expected {needle:?} in:\n{err}");
    }
    assert!(!err.contains("null"), "{err}");
}

/// An I/O error printed its cause twice ("…: No such file…: No such file…").
#[test]
fn io_errors_print_their_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.parquet");
    let out = dir.path().join("ckm");
    let smoke = smoke();
    let err = fails("build-ckm", &build_ckm_args(&missing, &out, &smoke));
    assert!(err.contains("missing.parquet"), "{err}");
    let os = std::io::Error::from_raw_os_error(2).to_string();
    let cause = os.split(" (os error").next().unwrap();
    assert_eq!(err.matches(cause).count(), 1, "{err}");
    // The same for a missing CKM (its error type carried the cause twice).
    let err = fails("ckm", &["inspect", s(&dir.path().join("bs0.ckm"))]);
    assert!(err.contains("bs0.ckm"), "{err}");
    assert_eq!(err.matches(cause).count(), 1, "{err}");
}

/// Two hashes sharing their first 12 characters were printed as two
/// identical prefixes.
#[test]
fn hash_mismatches_print_prefixes_that_differ() {
    use sdusc_cli::common::distinct_prefixes;
    let a = "0123456789abcdef0123";
    let b = "0123456789abcdefXYZ";
    assert_eq!(
        distinct_prefixes(a, b),
        ("0123456789abcdef0", "0123456789abcdefX")
    );
    assert_eq!(
        distinct_prefixes("aaaaaaaaaaaaaaaa", "baaaaaaaaaaaaaaa"),
        ("aaaaaaaaaaaa", "baaaaaaaaaaa")
    );
    assert_eq!(distinct_prefixes("", "abc"), ("", "abc"));
}

/// `report --data <missing>` said "cannot write …/REPORT.md".
#[test]
fn report_of_a_missing_data_folder_names_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no_such_data");
    let o = Command::new(exe("sdusc-paper"))
        .args(["report", "--data", s(&missing)])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("data folder"), "{err}");
    assert!(err.contains("no_such_data"), "{err}");
    assert!(!err.contains("cannot write"), "{err}");
    assert!(!missing.exists());
}
