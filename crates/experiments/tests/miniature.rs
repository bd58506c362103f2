//! Every experiment definition of `pipelines/experiments/`, shrunk to the
//! smoke scenario (few drops, oracle CKMs), runs end to end and writes
//! well-formed Parquet, a PNG and an SVG; the report covers all of them.

use std::path::{Path, PathBuf};

use sdusc_experiments::inputs::CkmSource;
use sdusc_experiments::runs::Runner;
use sdusc_experiments::table::Loaded;
use sdusc_experiments::{Definition, Kind, report, run_experiment};

const IDS: [&str; 7] = ["fig5", "table1", "fig6", "fig7", "fig8", "fig9", "thm1"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shipped definition, shrunk to a miniature.
fn miniature(id: &str) -> Definition {
    let mut def =
        Definition::load(&root().join(format!("pipelines/experiments/{id}.toml"))).unwrap();
    def.scenario = root().join("pipelines/smoke.toml");
    match def.kind {
        Kind::Pfr => {
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
            Kind::Pfr => {
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
    let text = report::write_report(out).unwrap();
    assert!(out.join("REPORT.md").is_file());
    for id in IDS {
        assert!(text.contains(&format!("## {id} — ")), "report lacks {id}");
        assert!(
            text.contains(&format!("]({id}/{id}.png)")),
            "report lacks the figure of {id}"
        );
    }
    assert!(text.contains("Backhaul per epoch"));
}
