//! Every experiment definition of `pipelines/experiments/`, shrunk to the
//! smoke scenario (few drops, oracle CKMs), runs end to end and writes
//! well-formed Parquet, a PNG and an SVG; the report covers all of them and
//! nothing else (run-sdusc's `run/` folder beside them is not an experiment).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sdusc_experiments::inputs::CkmSource;
use sdusc_experiments::runs::Runner;
use sdusc_experiments::table::Loaded;
use sdusc_experiments::{Definition, Kind, run_experiment, sections};

const IDS: [&str; 8] = [
    "fig5", "table1", "fig6", "fig7", "fig8", "fig9", "thm1", "gap",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shipped definition, shrunk to a miniature.
fn miniature(id: &str) -> Definition {
    let mut def =
        Definition::load(&root().join(format!("pipelines/experiments/{id}.toml"))).unwrap();
    def.scenario = root().join("pipelines/smoke.toml");
    match def.kind {
        Kind::Pfr | Kind::Gap => {
            def.drops = 2;
            for arm in &mut def.arms {
                // The smoke scenario has Nt = 8 and 6 users per cell.
                if arm.overrides.contains_key("users.max_scheduled") {
                    arm.overrides
                        .insert("users.max_scheduled".into(), toml::Value::Integer(4));
                }
            }
        }
        Kind::Convergence | Kind::Timing => {
            def.drops = 2;
            let s = def.solvers.as_mut().unwrap();
            s.per_bs_scheduled = if def.kind == Kind::Timing {
                vec![2, 3]
            } else {
                vec![3]
            };
            s.epochs = 2;
            s.max_outer = 6;
        }
        Kind::Theorem1 => {
            let t = def.theorem1.as_mut().unwrap();
            t.scheduled = vec![1, 2, 4];
            t.trials = 200;
            t.antennas = 8;
        }
    }
    def
}

/// gap.parquet against the per-drop values of epochs.parquet, by hand.
fn assert_gap_table(def: &Definition, dir: &Path, epochs: &Loaded) {
    let (scheme, drop, epoch, pfr) = (
        epochs.str("scheme").unwrap(),
        epochs.u64("drop").unwrap(),
        epochs.u64("epoch").unwrap(),
        epochs.f64("accumulated_pfr").unwrap(),
    );
    let last = *epoch.iter().max().unwrap();
    let mut at_last: BTreeMap<&str, BTreeMap<u64, f64>> = BTreeMap::new();
    for i in (0..epochs.rows()).filter(|i| epoch[*i] == last) {
        at_last
            .entry(scheme[i].as_str())
            .or_default()
            .insert(drop[i], pfr[i]);
    }
    let mean_diff = |a: &str, b: &str| {
        let (a, b) = (&at_last[a], &at_last[b]);
        a.iter().map(|(d, x)| x - b[d]).sum::<f64>() / a.len() as f64
    };
    let w = def.waterfall.as_ref().unwrap();
    let gap = Loaded::read(&dir.join("gap.parquet")).unwrap();
    let (label, role, reference) = (
        gap.str("label").unwrap(),
        gap.str("role").unwrap(),
        gap.str("reference").unwrap(),
    );
    let (delta, floor) = (
        gap.opt_f64("delta_mean").unwrap(),
        gap.opt_f64("delta_floor_mean").unwrap(),
    );
    let order: Vec<&String> = w.steps.iter().chain(&w.extras).chain([&w.floor]).collect();
    assert_eq!(label.iter().collect::<Vec<_>>(), order);
    assert_eq!(gap.u64("epoch").unwrap(), vec![last; label.len()]);
    let last_step = w.steps.last().unwrap();
    for i in 0..gap.rows() {
        let expected_ref = match role[i].as_str() {
            "step" => (i > 0).then(|| w.steps[i - 1].as_str()),
            "extra" => Some(last_step.as_str()),
            _ => None,
        };
        assert_eq!(
            (!reference[i].is_empty()).then_some(reference[i].as_str()),
            expected_ref
        );
        match expected_ref {
            Some(r) => {
                let d = delta[i].unwrap();
                assert!((d - mean_diff(&label[i], r)).abs() < 1e-9, "{}", label[i]);
            }
            None => assert!(delta[i].is_none()),
        }
        if role[i] != "floor" {
            let f = floor[i].unwrap();
            assert!((f - mean_diff(&label[i], &w.floor)).abs() < 1e-9);
        }
    }
}

fn assert_figure(dir: &Path, id: &str) {
    for ext in ["png", "svg"] {
        let p = dir.join(format!("{id}.{ext}"));
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 1000, "{} missing or tiny ({len} bytes)", p.display());
    }
}

#[test]
fn every_experiment_runs_in_miniature_and_the_report_covers_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let runner = Runner::new(None, CkmSource::Oracle, false);
    let noop = |_: u64| {};
    for id in IDS {
        let def = miniature(id);
        run_experiment(&def, &runner, out, &noop).unwrap_or_else(|e| panic!("{id}: {e}"));
        let dir = out.join(id);
        assert_figure(&dir, id);
        match def.kind {
            Kind::Pfr | Kind::Gap => {
                let epochs = Loaded::read(&dir.join("epochs.parquet")).unwrap();
                // arms × drops × epochs (the smoke scenario has 4 epochs)
                assert_eq!(epochs.rows(), def.arms.len() * 2 * 4, "{id}");
                assert_eq!(epochs.meta("experiment").unwrap(), id);
                assert!(
                    epochs
                        .f64("accumulated_pfr")
                        .unwrap()
                        .iter()
                        .all(|x| x.is_finite())
                );
                let labels = epochs.str("scheme").unwrap();
                for arm in &def.arms {
                    assert!(
                        labels.contains(&arm.label),
                        "{id}: no rows of {}",
                        arm.label
                    );
                }
                let summary = Loaded::read(&dir.join("summary.parquet")).unwrap();
                assert_eq!(summary.rows(), def.arms.len() * 4);
                assert!(
                    Loaded::read(&dir.join("user_epochs.parquet"))
                        .unwrap()
                        .rows()
                        > 0
                );
                assert!(Loaded::read(&dir.join("bs_epochs.parquet")).unwrap().rows() > 0);
                if def.kind == Kind::Gap {
                    assert_gap_table(&def, &dir, &epochs);
                }
            }
            Kind::Convergence | Kind::Timing => {
                let solves = Loaded::read(&dir.join("solves.parquet")).unwrap();
                let sizes = def.solvers.as_ref().unwrap().per_bs_scheduled.len();
                assert_eq!(
                    solves.rows(),
                    2 * 2 * sizes,
                    "{id}: 2 solvers × 2 instances × sizes"
                );
                assert!(solves.f64("time_s").unwrap().iter().all(|t| *t > 0.0));
                let fin = solves.f64("objective_final").unwrap();
                assert!(fin.iter().all(|x| x.is_finite()));
                let conv = Loaded::read(&dir.join("convergence.parquet")).unwrap();
                assert!(
                    conv.rows() >= solves.rows() * 2,
                    "an initial and at least one FP iterate per solve"
                );
            }
            Kind::Theorem1 => {
                let t = Loaded::read(&dir.join("thm1.parquet")).unwrap();
                assert_eq!(t.rows(), 3);
                let (sa, sl) = (
                    t.f64("salinr_rate_err_mean").unwrap(),
                    t.f64("slinr_rate_err_mean").unwrap(),
                );
                // |S| = 1: the two surrogates coincide.
                assert!((sa[0] - sl[0]).abs() < 1e-12);
                assert!(sa.iter().chain(&sl).all(|x| x.is_finite() && *x >= 0.0));
            }
        }
    }
    // run-sdusc's output of `just all` beside the experiments: not one of them.
    std::fs::create_dir_all(out.join("run")).unwrap();
    std::fs::copy(
        out.join("fig6/epochs.parquet"),
        out.join("run/epochs.parquet"),
    )
    .unwrap();
    strip_definition(&out.join("run/epochs.parquet"));
    let text = sections::write_report(out).unwrap();
    assert!(out.join("REPORT.md").is_file());
    assert!(!text.contains("## run"), "run/ reported as an experiment");
    for id in IDS {
        assert!(text.contains(&format!("## {id} — ")), "report lacks {id}");
        assert!(
            text.contains(&format!("]({id}/{id}.png)")),
            "report lacks the figure of {id}"
        );
    }
    assert!(text.contains("Backhaul per epoch"));
    // The gap section: its table, sentences and comparisons.
    for want in [
        "| **total: SD-USCB − FP-SALINR** |",
        "What each ingredient costs",
        "zero-phase CKM estimate (36) of the true paths (step *oracle CKM",
        "Beat PWMMSE (paired CI above 0):",
        "The paper's claim SD-USCB ≈ FP-SALINR ≫ PWMMSE:",
    ] {
        assert!(text.contains(want), "report lacks `{want}`");
    }
}

/// Rewrite a Parquet file with the same rows and a provenance without the
/// experiment definition (as run-sdusc writes it).
fn strip_definition(path: &Path) {
    let l = Loaded::read(path).unwrap();
    let mut prov = l.provenance.clone();
    prov.extra.clear();
    prov.tool = "run-sdusc".into();
    sdusc_formats::parquet_io::write_batch(path, &l.batch, &prov).unwrap();
}
