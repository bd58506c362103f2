//! `gen-traj` and `gen-rsrp`: artifacts, determinism, errors.

use sdusc_formats::parquet_io::{ParquetSource, column_f64, column_u64};
use sdusc_formats::traj;
use sdusc_model::Scenario;
use sdusc_model::geometry::{Cells, Point, in_ckm_area};

use crate::util::{fails, ok, s, smoke};

#[test]
fn gen_traj_keeps_every_user_in_its_cell_and_records_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.parquet");
    ok(
        "gen-traj",
        &[
            "--scenario",
            s(&smoke()),
            "--out",
            s(&out),
            "--drops",
            "3",
            "--seed",
            "9",
        ],
    );
    let scenario = Scenario::load(&smoke()).unwrap();
    let cells = Cells::from_scenario(&scenario);
    let (rows, prov) = traj::read(&out).unwrap();
    let users = scenario.users_per_cell * scenario.num_bs();
    assert_eq!(rows.len(), 3 * scenario.epochs * users);
    for r in &rows {
        assert!(
            cells.contains(r.bs_id as usize, Point::new(r.x_m, r.y_m)),
            "{r:?}"
        );
        assert_eq!(
            r.bs_id as usize,
            r.user_id as usize / scenario.users_per_cell
        );
        assert!(r.epoch >= 1 && r.epoch as usize <= scenario.epochs);
    }
    assert_eq!(prov.tool, "gen-traj");
    assert_eq!(prov.scenario_hash, scenario.hash());
    assert_eq!(prov.seed, 9);
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    for (bin, name) in [("gen-traj", "t"), ("gen-rsrp", "r")] {
        let a = dir.path().join(format!("{name}1.parquet"));
        let b = dir.path().join(format!("{name}2.parquet"));
        let c = dir.path().join(format!("{name}3.parquet"));
        ok(
            bin,
            &["--scenario", s(&smoke()), "--out", s(&a), "--threads", "1"],
        );
        ok(
            bin,
            &["--scenario", s(&smoke()), "--out", s(&b), "--threads", "3"],
        );
        ok(
            bin,
            &["--scenario", s(&smoke()), "--out", s(&c), "--seed", "77"],
        );
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{bin}"
        );
        assert_ne!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&c).unwrap(),
            "{bin}: seed ignored"
        );
    }
}

#[test]
fn gen_rsrp_measures_only_other_cells_with_every_beam() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.parquet");
    ok("gen-rsrp", &["--scenario", s(&smoke()), "--out", s(&out)]);
    let scenario = Scenario::load(&smoke()).unwrap();
    let cells = Cells::from_scenario(&scenario);
    let mut src = ParquetSource::open(&out).unwrap();
    assert_eq!(src.provenance.scenario_hash, scenario.hash());
    assert!(src.provenance.extra.contains_key("noise_power_w"));
    let mut per_bs = vec![0usize; scenario.num_bs()];
    while let Some(batch) = src.next_batch() {
        let batch = batch.unwrap();
        let bs = column_u64(&batch, "bs_id", &out).unwrap();
        let x = column_f64(&batch, "x_m", &out).unwrap();
        let y = column_f64(&batch, "y_m", &out).unwrap();
        let beam = column_u64(&batch, "beam_id", &out).unwrap();
        let rsrp = column_f64(&batch, "rsrp_dbm", &out).unwrap();
        for i in 0..batch.num_rows() {
            assert!(in_ckm_area(&cells, bs[i] as usize, Point::new(x[i], y[i])));
            assert!((beam[i] as usize) < scenario.beams);
            assert!(rsrp[i].is_finite() && rsrp[i] < 40.0);
            per_bs[bs[i] as usize] += 1;
        }
    }
    for (b, n) in per_bs.iter().enumerate() {
        assert!(*n > 0 && n % scenario.beams == 0, "BS {b}: {n} rows");
    }
}

#[test]
fn bad_scenarios_and_outputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.parquet");
    for bin in ["gen-traj", "gen-rsrp"] {
        let err = fails(
            bin,
            &["--scenario", "/nonexistent/scenario.toml", "--out", s(&out)],
        );
        assert!(err.contains("/nonexistent/scenario.toml"), "{err}");

        let bad = dir.path().join("bad.toml");
        let text = std::fs::read_to_string(smoke())
            .unwrap()
            .replace("per_cell = 6", "per_cell = 0");
        std::fs::write(&bad, text).unwrap();
        let err = fails(bin, &["--scenario", s(&bad), "--out", s(&out)]);
        assert!(
            err.contains("users.per_cell") && err.contains("expected"),
            "{err}"
        );

        let typo = dir.path().join("typo.toml");
        let text = std::fs::read_to_string(smoke())
            .unwrap()
            .replace("speed_mps", "speed_mph");
        std::fs::write(&typo, text).unwrap();
        let err = fails(bin, &["--scenario", s(&typo), "--out", s(&out)]);
        assert!(err.contains("speed_mph"), "{err}");

        let err = fails(
            bin,
            &[
                "--scenario",
                s(&smoke()),
                "--out",
                "/proc/forbidden/x.parquet",
            ],
        );
        assert!(err.contains("/proc/forbidden"), "{err}");
        assert!(!out.exists());
    }
}
