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

#[test]
fn area_data_drops_no_row_and_fills_only_near_the_measurements() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // BS 0 measured on a disc of 150 m around its site, its own cell
    // included (which the cells rule leaves out), every other 2 m point.
    let mut rows = Vec::new();
    for i in -75..75 {
        for j in -75..75 {
            let p = Point::new(0.7 + 2.0 * i as f64, -0.3 + 2.0 * j as f64);
            if (i + j) % 2 != 0 || p.x.hypot(p.y) > 150.0 {
                continue;
            }
            for beam in 0..16 {
                rows.push(RsrpRow {
                    bs_id: 0,
                    x_m: p.x,
                    y_m: p.y,
                    beam_id: beam,
                    rsrp_dbm: -70.0 - beam as f64,
                });
            }
        }
    }
    // BSs 1 and 2 at one point each.
    for b in 1..3 {
        for beam in 0..16 {
            rows.push(RsrpRow {
                bs_id: b,
                x_m: 40.7,
                y_m: 20.7,
                beam_id: beam,
                rsrp_dbm: -75.0,
            });
        }
    }
    let log = d.join("disc.parquet");
    write_batch(&log, &to_batch(&rows), &Provenance::default()).unwrap();
    let quality = |dir: &Path, col: &str| -> Vec<u64> {
        let mut q = ParquetSource::open(&dir.join("quality.parquet")).unwrap();
        let b = q.next_batch().unwrap().unwrap();
        sdusc_formats::parquet_io::column_u64(&b, col, &dir.join("quality.parquet")).unwrap()
    };
    let cells = scenario_with(d, "cells.toml", "grid_origin_m = [-0.3, -1.3]");
    let out = d.join("ckm-cells");
    ok(
        "build-ckm",
        &[
            "--scenario",
            s(&cells),
            "--rsrp",
            s(&log),
            "--out-dir",
            s(&out),
            "--no-truth",
        ],
    );
    assert!(
        quality(&out, "rows_outside_area")[0] > 10_000,
        "the cells rule skips BS 0's own cell"
    );
    let data = scenario_with(d, "data.toml", "grid_align = \"data\"\narea = \"data\"");
    let out = d.join("ckm-data");
    ok(
        "build-ckm",
        &[
            "--scenario",
            s(&data),
            "--rsrp",
            s(&log),
            "--out-dir",
            s(&out),
            "--no-truth",
        ],
    );
    assert_eq!(quality(&out, "rows_outside_area"), vec![0; 3]);
    assert_eq!(quality(&out, "rows_outside_grid"), vec![0; 3]);
    let points = (rows.len() - 32) as u64 / 16;
    assert_eq!(quality(&out, "cells_measured"), vec![points, 1, 1]);
    // Filled cells lie within fill_radius_m (2·grid_m = 4 m) of a measured
    // one; the grid's corners, farther from the disc, are outside the area.
    let export = d.join("data-0.parquet");
    ok(
        "ckm",
        &["export", s(&out.join("bs0.ckm")), "--out", s(&export)],
    );
    let measured = measured_centres(&export);
    let ckm = sdusc_formats::ckm_file::Ckm::read(&out.join("bs0.ckm")).unwrap();
    let h = &ckm.header;
    let mut in_area = 0;
    for iy in 0..h.ny as usize {
        for ix in 0..h.nx as usize {
            let state = ckm.states[iy * h.nx as usize + ix];
            if state == sdusc_formats::ckm_file::CellState::Outside {
                continue;
            }
            in_area += 1;
            let (x, y) = h.cell_centre(ix, iy);
            let near = measured.iter().any(|&(mx, my)| {
                (mx as f64 / 1000.0 - x).hypot(my as f64 / 1000.0 - y) <= 4.0 + 1e-6
            });
            assert!(
                near,
                "cell ({x}, {y}) is in the area but {state:?} far from every measurement"
            );
        }
    }
    assert!(
        in_area < h.nx as usize * h.ny as usize,
        "nothing beyond the fill radius"
    );
    assert_eq!(quality(&out, "cells_in_area")[0], in_area as u64);
    assert_eq!(quality(&out, "cells_empty")[0], 0);
}
