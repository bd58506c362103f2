//! Every experiment's figure redrawn from its Parquet files alone (no
//! rerun): `sdusc-paper figures`. The folders are those the report reads
//! (a Parquet file carrying the experiment definition); others are skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::definition::{Definition, Kind};
use crate::solvers::{DUALOPT, REFERENCE, Solve};
use crate::stats::PfrData;
use crate::table::Loaded;
use crate::{ExperimentError, Result, gap, runs, solvers, thm1, tracking};

/// Redraw the figures of every experiment folder under `data`; returns the
/// PNG paths written, in folder order.
pub fn redraw(data: &Path) -> Result<Vec<PathBuf>> {
    let listing = std::fs::read_dir(data).map_err(|e| {
        ExperimentError::Data(format!(
            "cannot read the data folder {} ({e}); expected the --out folder of `sdusc-paper run` or `all`",
            data.display()
        ))
    })?;
    let mut dirs: Vec<PathBuf> = listing
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        out.extend(redraw_dir(&dir)?);
    }
    Ok(out)
}

/// The experiment definition stored in `l`'s metadata, if any.
fn definition(l: &Loaded) -> Result<Option<Definition>> {
    let Some(text) = l.provenance.extra.get("definition") else {
        return Ok(None);
    };
    serde_json::from_str(text).map(Some).map_err(|e| {
        ExperimentError::Data(format!(
            "{}: bad definition metadata: {e}",
            l.path.display()
        ))
    })
}

fn redraw_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let epochs = dir.join("epochs.parquet");
    let solves = dir.join("solves.parquet");
    let theorem = dir.join("thm1.parquet");
    if epochs.is_file() {
        let l = Loaded::read(&epochs)?;
        let Some(def) = definition(&l)? else {
            return Ok(vec![]);
        };
        let stem = dir.join(&def.id);
        let mut out = Vec::new();
        if def.kind == Kind::Gap {
            let w = def.waterfall.as_ref().ok_or_else(|| {
                ExperimentError::Data(format!("experiment {}: no [waterfall] section", def.id))
            })?;
            let (rows, epoch) = gap::read_gap(&dir.join("gap.parquet"))?;
            out.push(gap::plot_gap(&rows, w, &def.title, epoch, &stem)?.0);
        } else {
            out.push(runs::plot_pfr(&pfr_data(&l, &def)?, &def.title, &stem)?.0);
        }
        // The tracking figure where the report drew one.
        let users = dir.join("user_epochs.parquet");
        if dir.join("tracking.png").is_file()
            && users.is_file()
            && let Ok(tr) = tracking::read_tracking(&users)
            && let Some(arm) = tr.figure_arm()
        {
            let t = tracking::Targets::default();
            out.push(tracking::plot(&tr, arm, &t, &dir.join("tracking"))?.0);
        }
        Ok(out)
    } else if solves.is_file() {
        let l = Loaded::read(&solves)?;
        let Some(def) = definition(&l)? else {
            return Ok(vec![]);
        };
        let all = read_solves(&l, &dir.join("convergence.parquet"))?;
        let stem = dir.join(&def.id);
        let png = match def.kind {
            Kind::Timing => {
                let value = l.meta("num_bs")?;
                let num_bs = value
                    .parse::<usize>()
                    .map_err(|cause| ExperimentError::Metadata {
                        path: l.path.clone(),
                        key: "num_bs".into(),
                        value: value.into(),
                        cause,
                    })?;
                solvers::plot_timing(&all, num_bs, &def.title, &stem)?.0
            }
            _ => solvers::plot_convergence(&all, &def.title, &stem)?.0,
        };
        Ok(vec![png])
    } else if theorem.is_file() {
        let l = Loaded::read(&theorem)?;
        let Some(def) = definition(&l)? else {
            return Ok(vec![]);
        };
        let rows = thm1::read_rows(&l)?;
        let trials = rows.first().map_or(0, |r| r.diff.n);
        Ok(vec![
            thm1::plot(&rows, &def.title, trials, &dir.join(&def.id))?.0,
        ])
    } else {
        Ok(vec![])
    }
}

/// Per-drop accumulated PFR of `epochs.parquet`, arms in the definition's order.
fn pfr_data(l: &Loaded, def: &Definition) -> Result<PfrData> {
    let (scheme, drop, epoch, pfr) = (
        l.str("scheme")?,
        l.u64("drop")?,
        l.u64("epoch")?,
        l.f64("accumulated_pfr")?,
    );
    let mut data = PfrData {
        arms: def.arms.iter().map(|a| a.label.clone()).collect(),
        ..PfrData::default()
    };
    for i in 0..l.rows() {
        data.push(&scheme[i], drop[i] as u32, epoch[i] as u32, pfr[i]);
    }
    let present: Vec<String> = data.values.keys().map(|k| k.0.clone()).collect();
    data.arms.retain(|a| present.contains(a));
    Ok(data)
}

/// The solves of `solves.parquet` with their objective histories from
/// `convergence.parquet`.
fn read_solves(l: &Loaded, convergence: &Path) -> Result<Vec<Solve>> {
    let c = Loaded::read(convergence)?;
    let (ci, cs, it, obj) = (
        c.str("instance")?,
        c.str("solver")?,
        c.u64("iteration")?,
        c.f64("objective")?,
    );
    let mut history: BTreeMap<(String, String), Vec<(u64, f64)>> = BTreeMap::new();
    for i in 0..c.rows() {
        history
            .entry((ci[i].clone(), cs[i].clone()))
            .or_default()
            .push((it[i], obj[i]));
    }
    let (inst, k, users, solver) = (
        l.str("instance")?,
        l.u64("per_bs_scheduled")?,
        l.u64("users")?,
        l.str("solver")?,
    );
    let (time, outer, pr, sr) = (
        l.f64("time_s")?,
        l.u64("outer_iterations")?,
        l.f64("power_residual")?,
        l.f64("sensing_residual")?,
    );
    (0..l.rows())
        .map(|i| {
            let name = match solver[i].as_str() {
                s if s == DUALOPT => DUALOPT,
                s if s == REFERENCE => REFERENCE,
                other => {
                    return Err(ExperimentError::Data(format!(
                        "{}: solver `{other}`; expected `{DUALOPT}` or `{REFERENCE}`",
                        l.path.display()
                    )));
                }
            };
            let mut h = history
                .remove(&(inst[i].clone(), solver[i].clone()))
                .unwrap_or_default();
            h.sort_by_key(|p| p.0);
            Ok(Solve {
                instance: inst[i].clone(),
                per_bs_scheduled: k[i] as u32,
                users: users[i] as u32,
                solver: name,
                time_s: time[i],
                outer_iterations: outer[i] as u32,
                objective_history: h.into_iter().map(|p| p.1).collect(),
                power_residual: pr[i],
                sensing_residual: sr[i],
            })
        })
        .collect()
}
