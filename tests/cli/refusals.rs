//! Hostile inputs every CLI must refuse with a message that says what was
//! wrong, where (file, row, field) and what was expected — and refusals that
//! leave nothing behind (no temporary file, no empty output folder).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use sdusc_formats::ckm_file::Ckm;
use sdusc_formats::parquet_io::{ParquetSource, column_f64, column_u64, write_batch};
use sdusc_formats::provenance::Provenance;
use sdusc_formats::rsrp::{RsrpRow, to_batch};
use sdusc_formats::traj;
use sdusc_model::scenario::{MAX_NAME_BYTES, dbm_to_w};

use crate::util::{fails, ok, s, smoke, smoke_with};

/// gen-rsrp on the smoke scenario (≈ 110 000 rows: more than one read batch).
fn smoke_rsrp(dir: &Path) -> PathBuf {
    let path = dir.join("rsrp.parquet");
    ok("gen-rsrp", &["--scenario", s(&smoke()), "--out", s(&path)]);
    path
}

/// Every row of an RSRP file and its provenance.
fn read_rsrp_rows(path: &Path) -> (Vec<RsrpRow>, Provenance) {
    let mut src = ParquetSource::open(path).unwrap();
    let mut rows = Vec::new();
    while let Some(b) = src.next_batch() {
        let b = b.unwrap();
        let (bs, x, y, beam, r) = (
            column_u64(&b, "bs_id", path).unwrap(),
            column_f64(&b, "x_m", path).unwrap(),
            column_f64(&b, "y_m", path).unwrap(),
            column_u64(&b, "beam_id", path).unwrap(),
            column_f64(&b, "rsrp_dbm", path).unwrap(),
        );
        for i in 0..b.num_rows() {
            rows.push(RsrpRow {
                bs_id: bs[i] as u32,
                x_m: x[i],
                y_m: y[i],
                beam_id: beam[i] as u32,
                rsrp_dbm: r[i],
            });
        }
    }
    (rows, src.provenance)
}

fn build_ckm(rsrp: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    build_ckm_with(&smoke(), rsrp, out, extra)
}

fn build_ckm_with(
    scenario: &Path,
    rsrp: &Path,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "--scenario",
        s(scenario),
        "--rsrp",
        s(rsrp),
        "--out-dir",
        s(out),
    ];
    args.extend_from_slice(extra);
    crate::util::run("build-ckm", &args)
}

fn assert_contains(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "expected {n:?} in:\n{text}");
    }
}

/// A: `[f64; 2]` fields used to keep the first two numbers of a longer array.
#[test]
fn scenario_pairs_with_extra_elements_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.parquet");
    for (from, to, field) in [
        (
            "nlos_power_ratio = [4.0, 9.0]",
            "nlos_power_ratio = [4.0, 9.0, 10.0]",
            "channel.nlos_power_ratio",
        ),
        (
            "angle_range_deg = [-90.0, 90.0]",
            "angle_range_deg = [-90.0, 0.0, 90.0]",
            "ckm.angle_range_deg",
        ),
    ] {
        let bad = smoke_with(dir.path(), "pair.toml", from, to);
        let err = fails("gen-traj", &["--scenario", s(&bad), "--out", s(&out)]);
        assert_contains(
            &err,
            &["pair.toml", field, "3 numbers", "exactly 2 numbers"],
        );
        assert!(!out.exists());
    }
}

/// B: a name longer than the CKM reader's string limit used to be accepted,
/// and build-ckm wrote CKMs that `ckm inspect` refused.
#[test]
fn scenario_names_are_capped_at_the_ckm_string_limit() {
    let dir = tempfile::tempdir().unwrap();
    let rsrp = smoke_rsrp(dir.path());
    let long = smoke_with(
        dir.path(),
        "long.toml",
        "name = \"smoke\"",
        &format!("name = \"{}\"", "n".repeat(70_000)),
    );
    let out = dir.path().join("ckm");
    let args = [
        "--scenario",
        s(&long),
        "--rsrp",
        s(&rsrp),
        "--out-dir",
        s(&out),
    ];
    let err = fails("build-ckm", &args);
    assert_contains(
        &err,
        &[
            "long.toml",
            "`name`",
            "70000 bytes",
            &MAX_NAME_BYTES.to_string(),
        ],
    );
    assert!(err.len() < 2000, "the message echoes the name");
    assert!(!out.exists());

    // The longest accepted name builds CKMs that read back.
    let longest = smoke_with(
        dir.path(),
        "longest.toml",
        "name = \"smoke\"",
        &format!("name = \"{}\"", "n".repeat(MAX_NAME_BYTES)),
    );
    ok(
        "build-ckm",
        &[
            "--scenario",
            s(&longest),
            "--rsrp",
            s(&rsrp),
            "--out-dir",
            s(&out),
            "--no-truth",
        ],
    );
    let ckm = Ckm::read(&out.join("bs0.ckm")).unwrap();
    assert_eq!(ckm.header.scenario_name.len(), MAX_NAME_BYTES);
    ok("ckm", &["inspect", s(&out.join("bs2.ckm"))]);
}

/// C: a second `bs_id` column used to be ignored (the first one read).
#[test]
fn rsrp_with_a_repeated_required_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two_bs_id.parquet");
    let n = 4;
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("bs_id", Arc::new(Int64Array::from(vec![0; n]))),
        ("x_m", Arc::new(Float64Array::from(vec![60.0; n]))),
        ("y_m", Arc::new(Float64Array::from(vec![60.0; n]))),
        ("beam_id", Arc::new(Int64Array::from(vec![0, 1, 2, 3]))),
        ("rsrp_dbm", Arc::new(Float64Array::from(vec![-80.0; n]))),
        ("bs_id", Arc::new(Int64Array::from(vec![1; n]))),
    ];
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    write_batch(&path, &batch, &Provenance::default()).unwrap();
    let out = dir.path().join("ckm");
    let o = build_ckm(&path, &out, &["--min-beams", "1"]);
    assert!(!o.status.success(), "a repeated bs_id column was accepted");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_contains(&err, &["two_bs_id.parquet", "`bs_id` appears 2 times"]);
    assert!(!out.exists());
}

/// D: `--noise-floor-dbm 1e10` wrote an infinite noise floor into every CKM;
/// `--noise-floor-dbm -95` (as docs/real-measurements.md writes it) was
/// parsed as an unknown flag `-9`.
#[test]
fn noise_floor_is_a_finite_power_and_may_be_negative() {
    let dir = tempfile::tempdir().unwrap();
    let rsrp = smoke_rsrp(dir.path());
    for bad in ["1e10", "inf", "NaN", "101"] {
        let out = dir.path().join("bad");
        let o = build_ckm(&rsrp, &out, &["--noise-floor-dbm", bad]);
        assert!(!o.status.success(), "--noise-floor-dbm {bad} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_contains(&err, &["--noise-floor-dbm", bad, "expected", "dBm"]);
        assert!(!out.exists(), "{bad}: output folder created");
    }
    let out = dir.path().join("ckm");
    let o = build_ckm(&rsrp, &out, &["--noise-floor-dbm", "-95", "--no-truth"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let floor = Ckm::read(&out.join("bs0.ckm"))
        .unwrap()
        .header
        .noise_floor_w;
    assert!((floor / dbm_to_w(-95.0) - 1.0).abs() < 1e-12, "{floor}");

    // Negative numbers reach the validation of other numeric options too.
    let err = fails(
        "gen-rsrp",
        &[
            "--scenario",
            s(&smoke()),
            "--out",
            s(&dir.path().join("r.parquet")),
            "--measured-fraction",
            "-0.5",
        ],
    );
    assert_contains(&err, &["--measured-fraction", "(0, 1]", "-0.5"]);
}

/// E: one RSRP of 1e5 dBm is an infinite power in W, and quality.parquet's
/// residual_rel_mean became NaN.
#[test]
fn rsrp_above_the_ceiling_is_refused_with_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rows, prov) = read_rsrp_rows(&smoke_rsrp(dir.path()));
    // Past the first read batch (65 536 rows): the row number is absolute.
    let bad_row = 100_000;
    assert!(rows.len() > bad_row);
    rows[bad_row].rsrp_dbm = 1e5;
    let path = dir.path().join("hot.parquet");
    write_batch(&path, &to_batch(&rows), &prov).unwrap();
    let out = dir.path().join("ckm");
    let o = build_ckm(&path, &out, &[]);
    assert!(!o.status.success(), "an RSRP of 1e5 dBm was accepted");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_contains(
        &err,
        &[
            "hot.parquet",
            "`rsrp_dbm`",
            &format!("1 of {} rows", rows.len()),
            "above 100 dBm",
            &format!("first at row {bad_row},"),
        ],
    );
    assert!(!out.exists());
}

/// F: trajectories with a velocity of 1e300 m/s were run.
#[test]
fn trajectories_out_of_range_are_refused_with_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("traj.parquet");
    ok("gen-traj", &["--scenario", s(&smoke()), "--out", s(&good)]);
    let (rows, prov) = traj::read(&good).unwrap();
    let bad_row = 7;
    type Spoil = fn(&mut traj::TrajRow);
    let cases: [(&str, Spoil); 3] = [
        ("vx_mps", |r| r.vx_mps = 1e300),
        ("vy_mps", |r| r.vy_mps = f64::NEG_INFINITY),
        ("x_m", |r| r.x_m = f64::NAN),
    ];
    for (column, spoil) in cases {
        let mut rs = rows.clone();
        spoil(&mut rs[bad_row]);
        let path = dir.path().join(format!("bad_{column}.parquet"));
        write_batch(&path, &traj::to_batch(&rs), &prov).unwrap();
        let out = dir.path().join("run");
        let err = fails(
            "run-sdusc",
            &[
                "--scenario",
                s(&smoke()),
                "--trajectories",
                s(&path),
                "--out-dir",
                s(&out),
                "--schemes",
                "cwmmse",
            ],
        );
        assert_contains(
            &err,
            &[
                &format!("bad_{column}.parquet"),
                &format!("row {bad_row} "),
                &format!("`{column}`"),
                "expected",
            ],
        );
        assert!(!out.exists(), "{column}: output folder created");
    }
}

/// G: a refused run left an empty --out-dir; a failed rename left the
/// complete temporary file beside the destination.
#[test]
fn refusals_leave_no_output_folder_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // Trajectories of a foreign tool (no scenario hash) with too few rows:
    // refused when fitted to the scenario, after the hash checks.
    let traj_path = dir.path().join("short.parquet");
    let row = traj::TrajRow {
        drop: 0,
        epoch: 1,
        user_id: 0,
        bs_id: 0,
        x_m: 50.0,
        y_m: 20.0,
        vx_mps: 1.0,
        vy_mps: 0.0,
    };
    write_batch(&traj_path, &traj::to_batch(&[row]), &Provenance::default()).unwrap();
    let out = dir.path().join("run");
    let err = fails(
        "run-sdusc",
        &[
            "--scenario",
            s(&smoke()),
            "--trajectories",
            s(&traj_path),
            "--out-dir",
            s(&out),
            "--schemes",
            "cwmmse",
        ],
    );
    assert_contains(&err, &["short.parquet", "do not fit"]);
    assert!(!out.exists(), "run-sdusc created --out-dir before refusing");

    // The output path is a folder: the rename fails, the temp file goes.
    let busy = dir.path().join("busy");
    let target = busy.join("t.parquet");
    std::fs::create_dir_all(&target).unwrap();
    let err = fails(
        "gen-traj",
        &["--scenario", s(&smoke()), "--out", s(&target)],
    );
    assert_contains(&err, &["t.parquet", "rename"]);
    let left: Vec<_> = std::fs::read_dir(&busy)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["t.parquet"], "temporary files left behind");
}

/// Beyond the report, same class as B: a scenario whose CKM grid has more
/// cells than the CKM reader accepts (the scenario's own guard is a coarser
/// 5e8) used to be built into CKMs that could not be read back.
#[test]
fn ckm_grids_larger_than_a_ckm_file_holds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(smoke()).unwrap();
    let mut big = text.clone();
    for (from, to) in [
        (
            "layout = \"paper\"",
            "layout = \"explicit\"\nsites = [{ x_m = 0.0, y_m = 0.0, broadside_deg = 0.0 }]",
        ),
        ("cell_radius_m = 120.0", "cell_radius_m = 1000.0"),
        (
            "sector_half_width_deg = 60.0",
            "sector_half_width_deg = 90.0",
        ),
        ("grid_m = 2.0", "grid_m = 0.12"),
    ] {
        assert!(big.contains(from), "{from}");
        big = big.replacen(from, to, 1);
    }
    let scenario = dir.path().join("big.toml");
    std::fs::write(&scenario, big).unwrap();
    let out = dir.path().join("ckm");
    // Refused from the scenario alone, before the RSRP is read.
    let err = fails(
        "build-ckm",
        &[
            "--scenario",
            s(&scenario),
            "--rsrp",
            s(&dir.path().join("unread.parquet")),
            "--out-dir",
            s(&out),
        ],
    );
    assert_contains(
        &err,
        &[
            "big.toml",
            "CKM grid of BS 0",
            &sdusc_formats::ckm_file::MAX_CELLS.to_string(),
            "ckm.grid_m",
        ],
    );
    assert!(!out.exists());
}

/// Beyond the report, same class as B: the RSRP file's `sdusc.*` metadata is
/// copied into every CKM header, so an overlong value (e.g. a foreign tool's
/// 70 000-byte scenario name) used to make CKMs the reader refuses.
#[test]
fn rsrp_metadata_too_long_for_a_ckm_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = read_rsrp_rows(&smoke_rsrp(dir.path()));
    let path = dir.path().join("chatty.parquet");
    let prov = Provenance::new("other-tool", &"n".repeat(70_000), "", 1);
    write_batch(&path, &to_batch(&rows), &prov).unwrap();
    let out = dir.path().join("ckm");
    let o = build_ckm(&path, &out, &[]);
    assert!(!o.status.success(), "overlong metadata accepted");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_contains(
        &err,
        &[
            "chatty.parquet",
            "sdusc.scenario_name",
            "70000 bytes",
            &sdusc_formats::ckm_file::MAX_STRING.to_string(),
        ],
    );
    assert!(!out.exists());
}

/// A codebook whose beams all look away from `[ckm] angle_range_deg` leaves
/// no bin that can hold a path: refused (every map would be empty), naming
/// the range and where the beams look; with the default range it builds and
/// says which bins it covers.
#[test]
fn a_codebook_that_looks_nowhere_in_the_angle_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rsrp = smoke_rsrp(dir.path());
    // 16 beams of the smoke's 8-element ULA steered within ±30°.
    let mut w = ndarray::Array2::zeros((8, 16));
    for b in 0..16 {
        let sin = -0.5 + b as f64 / 15.0;
        for (i, z) in sdusc_model::array::steering(8, sin.asin())
            .into_iter()
            .enumerate()
        {
            w[(i, b)] = z;
        }
    }
    let npy = dir.path().join("narrow.npy");
    ndarray_npy::write_npy(&npy, &w).unwrap();
    let scenario = smoke_with(
        dir.path(),
        "endfire.toml",
        "angle_range_deg = [-90.0, 90.0]",
        "angle_range_deg = [60.0, 90.0]",
    );
    let out = dir.path().join("ckm");
    let o = build_ckm_with(&scenario, &rsrp, &out, &["--codebook", s(&npy)]);
    assert!(
        !o.status.success(),
        "build-ckm accepted a range no beam looks at"
    );
    assert_contains(
        &String::from_utf8_lossy(&o.stderr),
        &[
            "angle_range_deg = [60.0, 90.0]",
            "look at -",
            "expected a range",
        ],
    );
    assert!(!out.exists(), "build-ckm created --out-dir before refusing");

    let o = build_ckm(&rsrp, &out, &["--codebook", s(&npy)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_contains(
        &String::from_utf8_lossy(&o.stderr),
        &["the codebook covers", "of 64 angular bins"],
    );
}
