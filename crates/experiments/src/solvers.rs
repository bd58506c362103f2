//! fig5 (SALINR objective per FP iteration) and table1 (compute time per BS
//! per epoch): DualOpt (SPEC §10.3) against the conic reference solver of the
//! same subproblem (26) (SPEC §10.5, clarabel in place of the paper's
//! SDR + CVX), both inside the same FP/SCA loop from the same initial beams.
//!
//! Instances are the simulator's own: the scheme runs on drop 0, 1, … of the
//! scenario with |Sℓ|max set to each size and dumps every DualOpt problem
//! (`<out>/<id>/instances/s<K>/*.npz`, readable by numpy); the first
//! `drops` instances with the most scheduled users are solved. Solves run one
//! after another (no other work in parallel) so the times are comparable.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sdusc_beamforming::dualopt::{self, DualOptParams};
use sdusc_beamforming::fp::{FpInfo, FpParams};
use sdusc_beamforming::npz::{self, Instance};
use sdusc_beamforming::reference::{self, RefParams};
use sdusc_model::Scenario;
use sdusc_sim::Scheme;
use sdusc_stats::mean_ci;

use crate::definition::{Definition, Kind, SolverSetup};
use crate::runs::{Runner, provenance};
use crate::table::{Col, Table};
use crate::{ExperimentError, Progress, Result, ensure_dir};
use sdusc_report::fig::{self, BarChart, BarGroup, Figure, LineChart, Series};

/// The two solvers, as labelled in the tables.
pub const DUALOPT: &str = "DualOpt";
pub const REFERENCE: &str = "reference (clarabel)";

/// One solve of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Solve {
    pub instance: String,
    /// |Sℓ|max of the run that produced the instance.
    pub per_bs_scheduled: u32,
    /// Users K actually in the instance.
    pub users: u32,
    pub solver: &'static str,
    pub time_s: f64,
    pub outer_iterations: u32,
    pub objective_history: Vec<f64>,
    pub power_residual: f64,
    pub sensing_residual: f64,
}

/// Work units of a solver experiment (solves), for progress bars.
pub fn work_units(def: &Definition) -> u64 {
    def.solvers
        .as_ref()
        .map_or(0, |s| (2 * s.per_bs_scheduled.len() * def.drops) as u64)
}

/// Collect `count` simulator instances at |Sℓ|max = `k` into `dir`.
pub fn collect_instances(
    def: &Definition,
    base: &Scenario,
    setup: &SolverSetup,
    runner: &Runner,
    k: usize,
    count: usize,
    dir: &Path,
) -> Result<Vec<(String, Instance)>> {
    let mut s = def.scenario_for(base, None)?;
    let mut raw = s.raw.clone();
    raw.users.max_scheduled = k;
    raw.epochs.count = setup.epochs.min(raw.epochs.count);
    s = Scenario::validate(raw)?;
    let scheme = Scheme::parse(&setup.scheme)?;
    let seed = def.seed.unwrap_or(base.seed);
    // Fresh folder: stale dumps of another run must not mix in.
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|source| ExperimentError::Io {
            path: dir.to_path_buf(),
            cause: source,
        })?;
    }
    ensure_dir(dir)?;
    let per_drop = s.epochs * s.num_bs();
    let drops = count.div_ceil(per_drop).max(1) + 1;
    let prepared = runner.prepare(&s, drops, seed, scheme.uses_sensing())?;
    let mut found: Vec<(String, Instance)> = Vec::new();
    for d in 0..drops {
        runner.run_drop(
            &prepared,
            &prepared.ckms,
            d,
            &scheme,
            seed,
            Some(dir.to_path_buf()),
        )?;
        found = read_instances(dir)?;
        if found
            .iter()
            .filter(|(_, i)| i.problem.num_users() == k)
            .count()
            >= count
        {
            break;
        }
    }
    // Prefer instances with exactly K users (the size of the table), then larger K first.
    found.sort_by(|a, b| {
        let (ka, kb) = (a.1.problem.num_users(), b.1.problem.num_users());
        (ka != k)
            .cmp(&(kb != k))
            .then(kb.cmp(&ka))
            .then(a.0.cmp(&b.0))
    });
    found.truncate(count);
    if found.is_empty() {
        return Err(ExperimentError::Data(format!(
            "scheme {} dumped no DualOpt instance at |Sℓ|max = {k} (is it a SALINR scheme?)",
            setup.scheme
        )));
    }
    Ok(found)
}

fn read_instances(dir: &Path) -> Result<Vec<(String, Instance)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ExperimentError::Io {
            path: dir.to_path_buf(),
            cause: source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "npz"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, npz::load(&p)?))
        })
        .collect()
}

fn fp_params(setup: &SolverSetup) -> FpParams {
    FpParams {
        max_outer: setup.max_outer,
        rel_tol: setup.rel_tol,
        ..FpParams::default()
    }
}

fn solve(
    name: &str,
    k_max: usize,
    inst: &Instance,
    setup: &SolverSetup,
    which: &'static str,
) -> Result<Solve> {
    let fp = fp_params(setup);
    let t = Instant::now();
    let (_, info): (_, FpInfo) = if which == DUALOPT {
        dualopt::solve_from(
            &inst.problem,
            &inst.v0,
            &DualOptParams {
                fp,
                ..DualOptParams::default()
            },
        )?
    } else {
        reference::solve_fp_from(
            &inst.problem,
            &inst.v0,
            &RefParams {
                fp,
                ..RefParams::default()
            },
        )?
    };
    let wall = t.elapsed().as_secs_f64();
    Ok(Solve {
        instance: name.to_string(),
        per_bs_scheduled: k_max as u32,
        users: inst.problem.num_users() as u32,
        solver: which,
        time_s: if info.elapsed.as_secs_f64() > 0.0 {
            info.elapsed.as_secs_f64()
        } else {
            wall
        },
        outer_iterations: info.outer_iterations as u32,
        objective_history: info.objective_history,
        power_residual: info.power_residual,
        sensing_residual: info.sensing_residual,
    })
}

/// Run fig5 or table1 into `out_dir`: `solves.parquet` (one row per solve),
/// `convergence.parquet` (one row per FP iteration) and the figure.
pub fn run_solvers(
    def: &Definition,
    base: &Scenario,
    runner: &Runner,
    out_dir: &Path,
    progress: Progress,
) -> Result<Vec<Solve>> {
    let setup = def
        .solvers
        .as_ref()
        .ok_or_else(|| ExperimentError::Data(format!("{}: no [solvers] section", def.id)))?;
    ensure_dir(out_dir)?;
    let mut solves = Vec::new();
    for &k in &setup.per_bs_scheduled {
        let dir = out_dir.join("instances").join(format!("s{k}"));
        let instances = collect_instances(def, base, setup, runner, k, def.drops, &dir)?;
        for (name, inst) in &instances {
            for which in [DUALOPT, REFERENCE] {
                solves.push(solve(name, k, inst, setup, which)?);
                progress(1);
            }
        }
    }
    let seed = def.seed.unwrap_or(base.seed);
    let prov = provenance(def, base, seed).with("num_bs", base.num_bs());
    solves_table(&solves).write(&out_dir.join("solves.parquet"), &prov)?;
    convergence_table(&solves).write(&out_dir.join("convergence.parquet"), &prov)?;
    let stem = out_dir.join(&def.id);
    match def.kind {
        Kind::Timing => plot_timing(&solves, base.num_bs(), &def.title, &stem)?,
        _ => plot_convergence(&solves, &def.title, &stem)?,
    };
    Ok(solves)
}

pub fn solves_table(solves: &[Solve]) -> Table {
    Table::new()
        .col(
            "instance",
            Col::Str(solves.iter().map(|s| s.instance.clone()).collect()),
        )
        .col(
            "per_bs_scheduled",
            Col::U32(solves.iter().map(|s| s.per_bs_scheduled).collect()),
        )
        .col("users", Col::U32(solves.iter().map(|s| s.users).collect()))
        .col(
            "solver",
            Col::Str(solves.iter().map(|s| s.solver.to_string()).collect()),
        )
        .col(
            "time_s",
            Col::F64(solves.iter().map(|s| s.time_s).collect()),
        )
        .col(
            "outer_iterations",
            Col::U32(solves.iter().map(|s| s.outer_iterations).collect()),
        )
        .col(
            "objective_initial",
            Col::F64(
                solves
                    .iter()
                    .map(|s| s.objective_history.first().copied().unwrap_or(f64::NAN))
                    .collect(),
            ),
        )
        .col(
            "objective_final",
            Col::F64(
                solves
                    .iter()
                    .map(|s| s.objective_history.last().copied().unwrap_or(f64::NAN))
                    .collect(),
            ),
        )
        .col(
            "power_residual",
            Col::F64(solves.iter().map(|s| s.power_residual).collect()),
        )
        .col(
            "sensing_residual",
            Col::F64(solves.iter().map(|s| s.sensing_residual).collect()),
        )
}

pub fn convergence_table(solves: &[Solve]) -> Table {
    let (mut inst, mut solver, mut it, mut obj, mut k) = (vec![], vec![], vec![], vec![], vec![]);
    for s in solves {
        for (i, o) in s.objective_history.iter().enumerate() {
            inst.push(s.instance.clone());
            solver.push(s.solver.to_string());
            it.push(i as u32);
            obj.push(*o);
            k.push(s.per_bs_scheduled);
        }
    }
    Table::new()
        .col("instance", Col::Str(inst))
        .col("per_bs_scheduled", Col::U32(k))
        .col("solver", Col::Str(solver))
        .col("iteration", Col::U32(it))
        .col("objective", Col::F64(obj))
}

/// fig5: mean objective per FP iteration over the instances (a solver that
/// stopped early keeps its final value), 95% CI band.
pub fn plot_convergence(solves: &[Solve], title: &str, stem: &Path) -> Result<(PathBuf, PathBuf)> {
    let len = solves
        .iter()
        .map(|s| s.objective_history.len())
        .max()
        .unwrap_or(1);
    let series = [DUALOPT, REFERENCE]
        .iter()
        .map(|w| {
            let mine: Vec<&Solve> = solves.iter().filter(|s| s.solver == *w).collect();
            let cis: Vec<_> = (0..len)
                .map(|i| {
                    let xs: Vec<f64> = mine
                        .iter()
                        .filter_map(|s| {
                            s.objective_history
                                .get(i)
                                .or(s.objective_history.last())
                                .copied()
                        })
                        .collect();
                    mean_ci(&xs)
                })
                .collect();
            Series {
                label: w.to_string(),
                x: (0..len).map(|i| i as f64).collect(),
                y: cis.iter().map(|m| m.mean).collect(),
                band: cis.iter().all(|m| m.half_width.is_some()).then(|| {
                    (
                        cis.iter()
                            .map(|m| m.mean - m.half_width.unwrap_or(0.0))
                            .collect(),
                        cis.iter()
                            .map(|m| m.mean + m.half_width.unwrap_or(0.0))
                            .collect(),
                    )
                }),
            }
        })
        .collect();
    let n = solves.iter().filter(|s| s.solver == DUALOPT).count();
    Ok(fig::save(
        &Figure::Line(LineChart {
            title: format!("{title} (mean, 95% CI over {n} instances)"),
            x_label: "FP iteration".into(),
            y_label: "SALINR PF objective Σ wₖ ln(1+γ̃ₖ) (nats)".into(),
            series,
        }),
        stem,
    )?)
}

/// table1: mean time per BS per epoch (one per-BS solve), per size and solver.
pub fn plot_timing(
    solves: &[Solve],
    num_bs: usize,
    title: &str,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let mut sizes: Vec<u32> = solves.iter().map(|s| s.per_bs_scheduled).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let groups = sizes
        .iter()
        .map(|k| BarGroup {
            label: format!("|S| = {} ({k}/BS)", *k as usize * num_bs),
            values: [DUALOPT, REFERENCE]
                .iter()
                .map(|w| {
                    let xs: Vec<f64> = solves
                        .iter()
                        .filter(|s| s.per_bs_scheduled == *k && s.solver == *w)
                        .map(|s| s.time_s * 1e3)
                        .collect();
                    let m = mean_ci(&xs);
                    (m.mean, m.half_width.unwrap_or(0.0))
                })
                .collect(),
        })
        .collect();
    Ok(fig::save(
        &Figure::Bar(BarChart {
            title: title.to_string(),
            x_label: "network-wide scheduled users".into(),
            y_label: "compute time per BS per epoch (ms)".into(),
            bars: vec![DUALOPT.into(), REFERENCE.into()],
            groups,
        }),
        stem,
    )?)
}
