//! `run-sdusc` end to end on the smoke scenario: artifacts, determinism,
//! refused inputs.

use std::path::{Path, PathBuf};

use sdusc_formats::parquet_io::{ParquetSource, column_f64, column_u64};

use crate::util::{fails, ok, s, smoke};

/// gen-traj → gen-rsrp → build-ckm on `scenario` into `dir`.
fn prepare(dir: &Path, scenario: &Path) -> (PathBuf, PathBuf) {
    let traj = dir.join("traj.parquet");
    let rsrp = dir.join("rsrp.parquet");
    let ckm = dir.join("ckm");
    ok("gen-traj", &["--scenario", s(scenario), "--out", s(&traj)]);
    ok("gen-rsrp", &["--scenario", s(scenario), "--out", s(&rsrp)]);
    ok(
        "build-ckm",
        &[
            "--scenario",
            s(scenario),
            "--rsrp",
            s(&rsrp),
            "--out-dir",
            s(&ckm),
        ],
    );
    (traj, ckm)
}

#[test]
fn every_scheme_runs_and_the_tables_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (traj, ckm) = prepare(dir.path(), &smoke());
    let out = dir.path().join("run");
    let dumps = dir.path().join("dumps");
    // One scheme with two options (`a:k=v,k2=v2`) in a comma-separated list.
    let labels = [
        "sd-uscb",
        "sd-uscb-slinr",
        "sd-uscb-hungarian",
        "sd-uscb-all-users",
        "sd-uscb-reference",
        "sd-uscb-robust",
        "sd-uscb:sensing=perfect,cbar=1e6",
        "sd-uscb:leakage=phase-aware",
        "fp-salinr-perfect",
        "cwmmse",
        "pwmmse",
    ];
    let schemes = &labels.join(",");
    let table = ok(
        "run-sdusc",
        &[
            "--scenario",
            s(&smoke()),
            "--trajectories",
            s(&traj),
            "--ckm-dir",
            s(&ckm),
            "--out-dir",
            s(&out),
            "--schemes",
            schemes,
            "--dump-instances",
            s(&dumps),
        ],
    );
    for scheme in labels {
        assert!(
            table.contains(&format!("| {scheme} |")),
            "summary lacks {scheme}:\n{table}"
        );
    }
    for f in [
        "epochs.parquet",
        "user_epochs.parquet",
        "bs_epochs.parquet",
        "manifest.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["inputs"]["ckm"].as_array().unwrap().len(), 3);
    assert_eq!(
        manifest["inputs"]["trajectories"]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    // DualOpt instances: <scheme>_d<drop>_e<epoch>_bs<id>.npz
    assert!(dumps.join("sd-uscb_d0_e1_bs0.npz").is_file());
    // Backhaul bytes in epochs.parquet are the sum over BSs of bs_epochs.parquet.
    let sum_col = |file: &str, col: &str| -> f64 {
        let path = out.join(file);
        let mut src = ParquetSource::open(&path).unwrap();
        let mut total = 0.0;
        while let Some(b) = src.next_batch() {
            let b = b.unwrap();
            total += match column_f64(&b, col, &path) {
                Ok(v) => v.iter().sum::<f64>(),
                Err(_) => column_u64(&b, col, &path)
                    .unwrap()
                    .iter()
                    .map(|&x| x as f64)
                    .sum(),
            };
        }
        total
    };
    // PF averages and the accumulated PFR, recomputed from user_epochs.parquet
    // alone, equal what epochs.parquet says.
    let read = |file: &str, cols: &[&str]| -> Vec<Vec<f64>> {
        let path = out.join(file);
        let mut src = ParquetSource::open(&path).unwrap();
        let mut outcols = vec![Vec::new(); cols.len()];
        while let Some(b) = src.next_batch() {
            let b = b.unwrap();
            for (i, c) in cols.iter().enumerate() {
                match column_f64(&b, c, &path) {
                    Ok(v) => outcols[i].extend(v),
                    Err(_) => outcols[i].extend(
                        column_u64(&b, c, &path)
                            .unwrap()
                            .into_iter()
                            .map(|x| x as f64),
                    ),
                }
            }
        }
        outcols
    };
    let schemes_col = |file: &str| -> Vec<String> {
        let path = out.join(file);
        let mut src = ParquetSource::open(&path).unwrap();
        let mut v = Vec::new();
        while let Some(b) = src.next_batch() {
            let b = b.unwrap();
            let a = b.column_by_name("scheme").unwrap();
            let a = a
                .as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .unwrap();
            v.extend(a.iter().map(|x| x.unwrap().to_string()));
        }
        v
    };
    let u = read(
        "user_epochs.parquet",
        &["drop", "epoch", "user_id", "rate_bps_hz", "avg_rate_bps_hz"],
    );
    let us = schemes_col("user_epochs.parquet");
    let e = read(
        "epochs.parquet",
        &["drop", "epoch", "accumulated_pfr", "users_unserved"],
    );
    let es = schemes_col("epochs.parquet");
    let mut sums: std::collections::HashMap<(String, u64, u64), f64> = Default::default();
    let mut pfr: std::collections::HashMap<(String, u64, u64), (f64, u64)> = Default::default();
    let mut order: Vec<usize> = (0..us.len()).collect();
    order.sort_by_key(|&i| {
        (
            us[i].clone(),
            u[0][i] as u64,
            u[1][i] as u64,
            u[2][i] as u64,
        )
    });
    for i in order {
        let (d, ep, user) = (u[0][i] as u64, u[1][i] as u64, u[2][i] as u64);
        let s = sums.entry((us[i].clone(), d, user)).or_default();
        *s += u[3][i];
        let avg = *s / ep as f64;
        assert!(
            (avg - u[4][i]).abs() <= 1e-9 * avg.max(1.0),
            "{} d{d} e{ep} u{user}",
            us[i]
        );
        let acc = pfr.entry((us[i].clone(), d, ep)).or_default();
        acc.0 += avg.max(0.01).ln();
        acc.1 += u64::from(avg == 0.0);
    }
    for i in 0..es.len() {
        let (acc, unserved) = pfr[&(es[i].clone(), e[0][i] as u64, e[1][i] as u64)];
        assert!(
            (acc - e[2][i]).abs() < 1e-6,
            "{}: {acc} vs {}",
            es[i],
            e[2][i]
        );
        assert_eq!(unserved, e[3][i] as u64);
    }

    let bs_tx = sum_col("bs_epochs.parquet", "backhaul_tx_bytes");
    let bs_rx = sum_col("bs_epochs.parquet", "backhaul_rx_bytes");
    let ep = sum_col("epochs.parquet", "backhaul_bytes");
    assert!(
        ep >= bs_tx && ep <= bs_tx + bs_rx,
        "{ep} vs tx {bs_tx} rx {bs_rx}"
    );
}

#[test]
fn outputs_are_identical_across_thread_counts_and_agent_order() {
    let dir = tempfile::tempdir().unwrap();
    let (traj, ckm) = prepare(dir.path(), &smoke());
    let scenario = smoke();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "--scenario",
            s(&scenario),
            "--trajectories",
            s(&traj),
            "--ckm-dir",
            s(&ckm),
            "--out-dir",
            s(&out),
            "--schemes",
            "sd-uscb,cwmmse",
            "--no-timing",
        ];
        args.extend_from_slice(extra);
        ok("run-sdusc", &args);
        out
    };
    let a = run("a", &["--threads", "1", "--serial-agents"]);
    let b = run("b", &["--threads", "3"]);
    for f in ["epochs.parquet", "user_epochs.parquet", "bs_epochs.parquet"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn mismatched_inputs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (traj, ckm) = prepare(dir.path(), &smoke());
    let out = dir.path().join("run");
    // A different scenario (Nt = 4): trajectories and CKMs no longer fit.
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(smoke())
            .unwrap()
            .replace("tx_antennas = 8", "tx_antennas = 4"),
    )
    .unwrap();
    let err = fails(
        "run-sdusc",
        &[
            "--scenario",
            s(&other),
            "--trajectories",
            s(&traj),
            "--ckm-dir",
            s(&ckm),
            "--out-dir",
            s(&out),
        ],
    );
    assert!(
        err.contains("trajectories") && err.contains("gen-traj"),
        "{err}"
    );
    let traj4 = dir.path().join("traj4.parquet");
    ok("gen-traj", &["--scenario", s(&other), "--out", s(&traj4)]);
    let err = fails(
        "run-sdusc",
        &[
            "--scenario",
            s(&other),
            "--trajectories",
            s(&traj4),
            "--ckm-dir",
            s(&ckm),
            "--out-dir",
            s(&out),
        ],
    );
    assert!(err.contains("bs0.ckm") && err.contains("Nt"), "{err}");
    // A missing CKM names its path.
    std::fs::remove_file(ckm.join("bs2.ckm")).unwrap();
    let err = fails(
        "run-sdusc",
        &[
            "--scenario",
            s(&smoke()),
            "--trajectories",
            s(&traj),
            "--ckm-dir",
            s(&ckm),
            "--out-dir",
            s(&out),
        ],
    );
    assert!(err.contains("bs2.ckm"), "{err}");
    // An unknown scheme lists the known ones.
    let err = fails(
        "run-sdusc",
        &[
            "--scenario",
            s(&smoke()),
            "--trajectories",
            s(&traj),
            "--out-dir",
            s(&out),
            "--schemes",
            "cwmse",
        ],
    );
    assert!(err.contains("cwmse") && err.contains("cwmmse"), "{err}");
    assert!(!out.join("epochs.parquet").exists());
}
