//! `build-ckm` and `ckm` on the smoke scenario, with RSRP written here from
//! the model (expected RSRP, no noise), plus foreign-file and corruption cases.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float32Array, Float64Array, Int16Array, Int64Array, RecordBatch, StringArray,
};
use sdusc_formats::ckm_file::{CellState, Ckm};
use sdusc_formats::parquet_io::{ParquetSource, column_f64, column_u64, write_batch};
use sdusc_formats::provenance::Provenance;
use sdusc_formats::rsrp::{RsrpRow, to_batch};
use sdusc_model::Scenario;
use sdusc_model::channel::Environment;
use sdusc_model::codebook::dft_codebook;
use sdusc_model::drivetest::expected_rsrp;
use sdusc_model::geometry::{Cells, in_ckm_area};
use sdusc_model::scenario::w_to_dbm;

use crate::util::{self, s};

/// Noise-free RSRP rows of every other in-area cell of every BS, at
/// off-centre locations (so binning is exercised).
fn smoke_rows() -> Vec<RsrpRow> {
    let sc = Scenario::load(&util::smoke()).unwrap();
    let env = Environment::from_scenario(&sc);
    let cells = Cells::from_scenario(&sc);
    let w = dft_codebook(sc.tx_antennas, sc.beams);
    let mut rows = Vec::new();
    for b in 0..sc.num_bs() {
        let g = sc.ckm_grid(&cells, b);
        for c in (0..g.len()).step_by(2) {
            let p = g.centre(c % g.nx, c / g.nx);
            if !in_ckm_area(&cells, b, p) {
                continue;
            }
            let q = sdusc_model::geometry::Point::new(p.x + 0.3 * sc.grid_m, p.y - 0.2 * sc.grid_m);
            for (beam, r) in expected_rsrp(&env, &w, b, p, sc.power_w)
                .into_iter()
                .enumerate()
            {
                rows.push(RsrpRow {
                    bs_id: b as u32,
                    x_m: q.x,
                    y_m: q.y,
                    beam_id: beam as u32,
                    rsrp_dbm: w_to_dbm(r),
                });
            }
        }
    }
    rows
}

/// Run `build-ckm` on the smoke scenario with `--rsrp rsrp --out-dir out`
/// and `extra`; requires success (stdout) or failure (stderr).
fn build_ckm(succeed: bool, rsrp: &Path, out: &Path, extra: &[&str]) -> String {
    let smoke = util::smoke();
    let mut args = vec![
        "--scenario",
        s(&smoke),
        "--rsrp",
        s(rsrp),
        "--out-dir",
        s(out),
    ];
    args.extend_from_slice(extra);
    if succeed {
        util::ok("build-ckm", &args)
    } else {
        util::fails("build-ckm", &args)
    }
}

fn write_rsrp(path: &Path, scenario_hash: &str) {
    let prov = Provenance::new("test", "smoke", scenario_hash, 1);
    write_batch(path, &to_batch(&smoke_rows()), &prov).unwrap();
}

#[test]
fn build_inspect_export_plot() {
    let dir = tempfile::tempdir().unwrap();
    let rsrp = dir.path().join("rsrp.parquet");
    let scenario = Scenario::load(&util::smoke()).unwrap();
    let hash = scenario.world_hash();
    write_rsrp(&rsrp, &scenario.hash());
    let out = dir.path().join("ckm");
    build_ckm(true, &rsrp, &out, &["--threads", "2"]);
    for b in 0..3 {
        let ckm = Ckm::read(&out.join(format!("bs{b}.ckm"))).unwrap();
        assert_eq!(ckm.header.bs_id, b);
        assert_eq!(ckm.header.scenario_hash, hash);
        let n = ckm.state_counts();
        assert!(
            n[CellState::Measured as usize] > 500 && n[CellState::Filled as usize] > 500,
            "{n:?}"
        );
        assert_eq!(n[CellState::Empty as usize], 0);
    }

    // Quality table: one row per BS, truth NMSE present (same scenario hash).
    let mut q = ParquetSource::open(&out.join("quality.parquet")).unwrap();
    let batch = q.next_batch().unwrap().unwrap();
    assert_eq!(batch.num_rows(), 3);
    let nmse = column_f64(&batch, "nmse_cov_measured_db", Path::new("q")).unwrap();
    assert!(
        nmse.iter().all(|&v| v < -10.0),
        "noise-free covariance NMSE {nmse:?}"
    );
    let measured = column_u64(&batch, "cells_measured", Path::new("q")).unwrap();
    assert!(measured.iter().all(|&m| m > 500));

    // Same bytes with another thread count.
    let out1 = dir.path().join("ckm1");
    build_ckm(true, &rsrp, &out1, &["--threads", "1"]);
    for name in ["bs0.ckm", "bs1.ckm", "bs2.ckm", "quality.parquet"] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(out1.join(name)).unwrap(),
            "{name}"
        );
    }

    let bs0 = out.join("bs0.ckm");
    let text = util::ok("ckm", &["inspect", s(&bs0)]);
    assert!(
        text.contains("bs_id         0") && text.contains("measured"),
        "{text}"
    );

    let export = dir.path().join("bs0.parquet");
    util::ok("ckm", &["export", s(&bs0), "--out", s(&export)]);
    let ckm = Ckm::read(&bs0).unwrap();
    let total: usize = ckm.counts.iter().map(|&c| c as usize).sum();
    let mut src = ParquetSource::open(&export).unwrap();
    assert_eq!(src.rows, total);
    let batch = src.next_batch().unwrap().unwrap();
    let power = column_f64(&batch, "power", Path::new("e")).unwrap();
    let ix = column_u64(&batch, "ix", Path::new("e")).unwrap();
    let iy = column_u64(&batch, "iy", Path::new("e")).unwrap();
    let c = (iy[0] * ckm.header.nx as u64 + ix[0]) as usize;
    assert_eq!(power[0], ckm.paths(c)[0].power);

    let png = dir.path().join("bs0.png");
    util::ok(
        "ckm",
        &[
            "plot",
            s(&bs0),
            "--out",
            s(&png),
            "--colour",
            "power",
            "--scenario",
            s(&util::smoke()),
        ],
    );
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
}

/// A UE-style log: each (BS, location) reports only its `n` strongest beams.
fn strongest_beams(rows: Vec<RsrpRow>, n: usize) -> Vec<RsrpRow> {
    let mut out = Vec::new();
    for group in rows.chunk_by(|a, b| (a.bs_id, a.x_m, a.y_m) == (b.bs_id, b.x_m, b.y_m)) {
        let mut g = group.to_vec();
        g.sort_by(|a, b| b.rsrp_dbm.total_cmp(&a.rsrp_dbm));
        out.extend(g.into_iter().take(n));
    }
    out
}

/// cells_partial, cells_incomplete and (if any cell was measured)
/// nmse_cov_measured_db per BS of a quality table.
fn quality(dir: &Path) -> (Vec<u64>, Vec<u64>, Option<Vec<f64>>) {
    let mut q = ParquetSource::open(&dir.join("quality.parquet")).unwrap();
    let batch = q.next_batch().unwrap().unwrap();
    let p = Path::new("q");
    (
        column_u64(&batch, "cells_partial", p).unwrap(),
        column_u64(&batch, "cells_incomplete", p).unwrap(),
        column_f64(&batch, "nmse_cov_measured_db", p).ok(),
    )
}

#[test]
fn logs_reporting_only_the_strongest_beams_build_usable_maps() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::load(&util::smoke()).unwrap();
    let rsrp = dir.path().join("top8.parquet");
    let prov = Provenance::new("test", "smoke", &scenario.hash(), 1);
    write_batch(&rsrp, &to_batch(&strongest_beams(smoke_rows(), 8)), &prov).unwrap();
    let build = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        build_ckm(true, &rsrp, &out, extra);
        out
    };
    let out = build("below", &[]);
    let (partial, incomplete, nmse) = quality(&out);
    let nmse = nmse.unwrap();
    assert!(
        partial.iter().all(|&p| p > 500) && incomplete == vec![0; 3],
        "{partial:?}"
    );
    // Nearly as good as the complete log's < −10 dB.
    assert!(nmse.iter().all(|&v| v < -10.0), "{nmse:?}");

    let out = build("unknown", &["--missing-beams", "unknown"]);
    let nmse_unknown = quality(&out).2.unwrap();
    assert!(
        nmse_unknown.iter().all(|v| v.is_finite()),
        "{nmse_unknown:?}"
    );

    // Asking for more beams than the log has skips every cell: refused,
    // saying why, unless empty maps are asked for.
    let e = build_ckm(
        false,
        &rsrp,
        &dir.path().join("refused"),
        &["--min-beams", "9"],
    );
    assert!(
        e.contains("no usable measured cell")
            && e.contains("2337 cells with fewer than --min-beams 9"),
        "{e}"
    );
    let out = build("strict", &["--min-beams", "9", "--allow-empty-maps"]);
    let (partial, incomplete, nmse) = quality(&out);
    assert!(nmse.is_none(), "no measured cell, no recovery error");
    assert_eq!(partial, vec![0; 3]);
    assert!(incomplete.iter().all(|&c| c > 500), "{incomplete:?}");
    let e = build_ckm(false, &rsrp, &out, &["--min-beams", "0"]);
    assert!(e.contains("min-beams"), "{e}");
}

#[test]
fn user_codebook_equal_to_dft_gives_the_same_maps() {
    let dir = tempfile::tempdir().unwrap();
    let rsrp = dir.path().join("rsrp.parquet");
    write_rsrp(&rsrp, "foreign");
    let sc = Scenario::load(&util::smoke()).unwrap();
    let npy = dir.path().join("beams.npy");
    ndarray_npy::write_npy(&npy, &dft_codebook(sc.tx_antennas, sc.beams)).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    build_ckm(true, &rsrp, &a, &[]);
    build_ckm(true, &rsrp, &b, &["--codebook", s(&npy)]);
    let (ca, cb) = (
        Ckm::read(&a.join("bs2.ckm")).unwrap(),
        Ckm::read(&b.join("bs2.ckm")).unwrap(),
    );
    assert!(
        cb.header.codebook.starts_with("npy:beams.npy:"),
        "{}",
        cb.header.codebook
    );
    assert!(
        ca.states == cb.states && ca.slots == cb.slots,
        "the maps differ"
    );

    // A codebook with the wrong Nt is refused by name.
    let bad = dir.path().join("bad.npy");
    ndarray_npy::write_npy(&bad, &dft_codebook(sc.tx_antennas + 1, 4)).unwrap();
    let err = build_ckm(false, &rsrp, &b, &["--codebook", s(&bad)]);
    assert!(err.contains("bad.npy") && err.contains("Nt = 8"), "{err}");
}

fn foreign(dir: &Path, name: &str, cols: Vec<(&str, ArrayRef)>) -> String {
    let path = dir.join(name);
    write_batch(
        &path,
        &RecordBatch::try_from_iter(cols).unwrap(),
        &Provenance::default(),
    )
    .unwrap();
    s(&path).to_string()
}

#[test]
fn foreign_rsrp_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let build = |file: &str| {
        util::run(
            "build-ckm",
            &[
                "--scenario",
                s(&util::smoke()),
                "--rsrp",
                file,
                "--out-dir",
                s(&out),
            ],
        )
    };
    let rows = smoke_rows();
    // Any order, extra columns, f32 RSRP, i16 beam, i64 bs.
    let ok = foreign(
        dir.path(),
        "real.parquet",
        vec![
            (
                "rsrp_dbm",
                Arc::new(Float32Array::from_iter_values(
                    rows.iter().map(|r| r.rsrp_dbm as f32),
                )) as ArrayRef,
            ),
            (
                "operator",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|_| "x"))),
            ),
            (
                "y_m",
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.y_m))),
            ),
            (
                "x_m",
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.x_m))),
            ),
            (
                "beam_id",
                Arc::new(Int16Array::from_iter_values(
                    rows.iter().map(|r| r.beam_id as i16),
                )),
            ),
            (
                "bs_id",
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| r.bs_id as i64),
                )),
            ),
        ],
    );
    let o = build(&ok);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(Ckm::read(&out.join("bs0.ckm")).is_ok());

    let base = |rsrp: Vec<f64>, beam: Vec<i64>| -> Vec<(&'static str, ArrayRef)> {
        vec![
            (
                "bs_id",
                Arc::new(Int64Array::from(vec![0; rsrp.len()])) as ArrayRef,
            ),
            ("x_m", Arc::new(Float64Array::from(vec![60.0; rsrp.len()]))),
            ("y_m", Arc::new(Float64Array::from(vec![60.0; rsrp.len()]))),
            ("beam_id", Arc::new(Int64Array::from(beam))),
            ("rsrp_dbm", Arc::new(Float64Array::from(rsrp))),
        ]
    };
    // (case, columns of the foreign file, fragments the error must contain)
    type Case<'a> = (&'a str, Vec<(&'a str, ArrayRef)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "nan.parquet",
            base(vec![-80.0, f64::NAN, f64::INFINITY], vec![0, 1, 2]),
            vec!["rsrp_dbm", "2 of 3 rows", "NaN"],
        ),
        (
            "beam.parquet",
            base(vec![-80.0, -81.0, -82.0], vec![0, 16, 99]),
            vec!["beam_id", "2 of 3 rows"],
        ),
        (
            "missing.parquet",
            base(vec![-80.0], vec![0])
                .into_iter()
                .filter(|(n, _)| *n != "y_m")
                .collect(),
            vec!["missing column `y_m`"],
        ),
        ("empty.parquet", base(vec![], vec![]), vec!["no RSRP rows"]),
    ];
    for (name, cols, needles) in cases {
        let file = foreign(dir.path(), name, cols);
        let o = build(&file);
        assert!(!o.status.success(), "{name} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(name), "{name}: {err}");
        for n in needles {
            assert!(err.contains(n), "{name}: expected {n:?} in {err}");
        }
    }
}

#[test]
fn inspect_rejects_corrupt_files() {
    let dir = tempfile::tempdir().unwrap();
    let rsrp = dir.path().join("rsrp.parquet");
    write_rsrp(&rsrp, "x");
    let out = dir.path().join("ckm");
    build_ckm(true, &rsrp, &out, &["--no-truth"]);
    let good = std::fs::read(out.join("bs1.ckm")).unwrap();
    let path = dir.path().join("bad.ckm");
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x10;
    for (bytes, needle) in [
        (flipped, "checksum"),
        (good[..good.len() - 7].to_vec(), "truncated"),
        (b"PAR1 not a ckm".to_vec(), "not a CKM file"),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let err = util::fails("ckm", &["inspect", s(&path)]);
        assert!(err.contains("bad.ckm") && err.contains(needle), "{err}");
    }
}
