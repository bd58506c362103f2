//! Grid alignment for foreign logs (issue 12, item 1): a regular log whose
//! points sit off the default lattice (edges at multiples of `grid_m`) builds
//! one measured cell per point, with cell centres on the measured points,
//! when the scenario places the grid (`ckm.grid_origin_m`) or lets build-ckm
//! find it (`ckm.grid_align = "data"`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sdusc_formats::parquet_io::{ParquetSource, column_f64, write_batch};
use sdusc_formats::provenance::Provenance;
use sdusc_formats::rsrp::{RsrpRow, to_batch};
use sdusc_model::Scenario;
use sdusc_model::channel::Environment;
use sdusc_model::codebook::dft_codebook;
use sdusc_model::drivetest::expected_rsrp;
use sdusc_model::geometry::{Cells, Point, in_ckm_area};
use sdusc_model::scenario::w_to_dbm;

use crate::util::{fails, ok, s, smoke};

/// A regular 2 m log on the lattice (0.7 + 2i, −0.3 + 2j), noise-free, every
/// beam, every in-area point of every BS; and its points per BS.
fn regular_log(dir: &Path) -> (PathBuf, Vec<BTreeSet<(i64, i64)>>) {
    let sc = Scenario::load(&smoke()).unwrap();
    let env = Environment::from_scenario(&sc);
    let cells = Cells::from_scenario(&sc);
    let w = dft_codebook(sc.tx_antennas, sc.beams);
    let mut rows = Vec::new();
    let mut points = vec![BTreeSet::new(); sc.num_bs()];
    for b in 0..sc.num_bs() {
        for i in -200..200 {
            for j in -200..200 {
                let p = Point::new(0.7 + 2.0 * i as f64, -0.3 + 2.0 * j as f64);
                // Every other point, so gap filling has work to do.
                if (i + j) % 2 != 0 || !in_ckm_area(&cells, b, p) {
                    continue;
                }
                points[b].insert(key(p.x, p.y));
                for (beam, r) in expected_rsrp(&env, &w, b, p, sc.power_w)
                    .into_iter()
                    .enumerate()
                {
                    rows.push(RsrpRow {
                        bs_id: b as u32,
                        x_m: p.x,
                        y_m: p.y,
                        beam_id: beam as u32,
                        rsrp_dbm: w_to_dbm(r),
                    });
                }
            }
        }
    }
    let path = dir.join("regular.parquet");
    write_batch(&path, &to_batch(&rows), &Provenance::default()).unwrap();
    (path, points)
}

/// A location in mm, for exact comparison.
fn key(x: f64, y: f64) -> (i64, i64) {
    ((x * 1000.0).round() as i64, (y * 1000.0).round() as i64)
}

/// Centres of the measured cells of an exported CKM.
fn measured_centres(export: &Path) -> BTreeSet<(i64, i64)> {
    let mut src = ParquetSource::open(export).unwrap();
    let mut out = BTreeSet::new();
    while let Some(b) = src.next_batch() {
        let b = b.unwrap();
        let (x, y) = (
            column_f64(&b, "x_m", export).unwrap(),
            column_f64(&b, "y_m", export).unwrap(),
        );
        let measured = b
            .column_by_name("measured")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::BooleanArray>()
            .unwrap()
            .clone();
        for i in 0..b.num_rows() {
            if measured.value(i) {
                out.insert(key(x[i], y[i]));
            }
        }
    }
    out
}

fn scenario_with(dir: &Path, name: &str, ckm_lines: &str) -> PathBuf {
    let text = std::fs::read_to_string(smoke()).unwrap();
    let path = dir.join(name);
    std::fs::write(
        &path,
        text.replacen("[ckm]\n", &format!("[ckm]\n{ckm_lines}\n"), 1),
    )
    .unwrap();
    path
}

#[test]
fn a_regular_off_origin_log_gets_one_cell_per_point_with_centres_on_the_points() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (log, points) = regular_log(d);
    let origin = scenario_with(d, "origin.toml", "grid_origin_m = [-0.3, -1.3]");
    let data = scenario_with(d, "data.toml", "grid_align = \"data\"");
    for (sc, name) in [(&origin, "origin"), (&data, "data")] {
        let out = d.join(format!("ckm-{name}"));
        ok(
            "build-ckm",
            &[
                "--scenario",
                s(sc),
                "--rsrp",
                s(&log),
                "--out-dir",
                s(&out),
                "--no-truth",
            ],
        );
        for (b, want) in points.iter().enumerate() {
            let export = d.join(format!("{name}-{b}.parquet"));
            ok(
                "ckm",
                &[
                    "export",
                    s(&out.join(format!("bs{b}.ckm"))),
                    "--out",
                    s(&export),
                ],
            );
            let got = measured_centres(&export);
            assert_eq!(
                got.len(),
                want.len(),
                "{name} BS {b}: one measured cell per point"
            );
            assert!(
                &got == want,
                "{name} BS {b}: measured cell centres are the measured points"
            );
        }
    }
    // On the default lattice the same log's cell centres are 1 m off the
    // points in each axis (the defect): the test can fail.
    let out = d.join("ckm-default");
    ok(
        "build-ckm",
        &[
            "--scenario",
            s(&smoke()),
            "--rsrp",
            s(&log),
            "--out-dir",
            s(&out),
            "--no-truth",
        ],
    );
    let export = d.join("default-0.parquet");
    ok(
        "ckm",
        &["export", s(&out.join("bs0.ckm")), "--out", s(&export)],
    );
    assert!(measured_centres(&export).is_disjoint(&points[0]));
    // run-sdusc takes the maps of a scenario on the same lattice, and
    // refuses maps of another lattice.
    let traj = d.join("traj.parquet");
    ok("gen-traj", &["--scenario", s(&origin), "--out", s(&traj)]);
    let run = |ckm: &Path, out: &Path| {
        vec![
            "--scenario".to_string(),
            s(&origin).into(),
            "--trajectories".into(),
            s(&traj).into(),
            "--ckm-dir".into(),
            s(ckm).into(),
            "--out-dir".into(),
            s(out).into(),
            "--schemes".into(),
            "sd-uscb".into(),
        ]
    };
    let args = run(&d.join("ckm-origin"), &d.join("run"));
    ok(
        "run-sdusc",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let args = run(&d.join("ckm-default"), &d.join("run2"));
    let err = fails(
        "run-sdusc",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(err.contains("not on the scenario's lattice"), "{err}");
}

#[test]
fn an_irregular_log_cannot_be_aligned_to_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = scenario_with(d, "data.toml", "grid_align = \"data\"");
    // A 2 m log with a third of its points shifted by 0.7 m.
    let rows: Vec<RsrpRow> = (0..3000)
        .map(|i| RsrpRow {
            bs_id: (i % 3) as u32,
            x_m: 2.0 * (i / 3 % 40) as f64 + if i % 3 == 0 { 0.7 } else { 0.0 },
            y_m: 2.0 * (i / 120) as f64,
            beam_id: 0,
            rsrp_dbm: -80.0,
        })
        .collect();
    let log = d.join("irregular.parquet");
    write_batch(&log, &to_batch(&rows), &Provenance::default()).unwrap();
    let err = fails(
        "build-ckm",
        &[
            "--scenario",
            s(&data),
            "--rsrp",
            s(&log),
            "--out-dir",
            s(&d.join("ckm")),
        ],
    );
    assert!(
        err.contains("needs a regular log") && err.contains("67 %"),
        "{err}"
    );
    // And grid_origin_m with grid_align = "data" is a contradiction.
    let both = scenario_with(
        d,
        "both.toml",
        "grid_align = \"data\"\ngrid_origin_m = [0.5, 0.5]",
    );
    let err = fails(
        "build-ckm",
        &[
            "--scenario",
            s(&both),
            "--rsrp",
            s(&log),
            "--out-dir",
            s(&d.join("ckm")),
        ],
    );
    assert!(err.contains("ckm.grid_origin_m"), "{err}");
}

#[test]
fn a_minimal_ckm_only_scenario_builds_maps_from_a_foreign_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (log, points) = regular_log(d);
    // Sites, Nt, power, carrier and the grid: nothing else.
    let minimal = d.join("site.toml");
    std::fs::write(
        &minimal,
        "name = \"site\"\n[network]\nlayout = \"paper\"\ntx_antennas = 8\npower_dbm = 36.0\ncarrier_ghz = 30.0\n\
         [ckm]\ngrid_m = 2.0\nbeams = 16\nangle_bins = 64\ngrid_align = \"data\"\n",
    )
    .unwrap();
    let out = d.join("ckm");
    ok(
        "build-ckm",
        &[
            "--scenario",
            s(&minimal),
            "--rsrp",
            s(&log),
            "--out-dir",
            s(&out),
        ],
    );
    let inspect = ok("ckm", &["inspect", s(&out.join("bs1.ckm"))]);
    assert!(inspect.contains("site"), "{inspect}");
    let export = d.join("bs1.parquet");
    ok(
        "ckm",
        &["export", s(&out.join("bs1.ckm")), "--out", s(&export)],
    );
    assert_eq!(measured_centres(&export), points[1]);
}
