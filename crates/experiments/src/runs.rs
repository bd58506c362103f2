//! Accumulated-PFR experiments (fig6–fig9, and the gap waterfall): every arm
//! on the same drops through the epoch engine, metrics as run-sdusc writes
//! them (with the arm label in the `scheme` column), a per-(arm, epoch)
//! summary and the figure.
//!
//! A [`Runner`] caches (scenario, scheme, drop, seed, CKM source) → metrics,
//! so `all` runs a scheme shared by several figures (sd-uscb in fig6, fig8,
//! fig9, gap) once, and keeps apart the same scheme on two CKM sources (the
//! gap experiment's oracle and built CKMs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use sdusc_ckm::query::CkmMap;
use sdusc_formats::metrics::{bs_epochs_batch, epochs_batch, user_epochs_batch};
use sdusc_formats::parquet_io::write_batch;
use sdusc_formats::provenance::Provenance;
use sdusc_model::Scenario;
use sdusc_sim::{DropTruth, RunOptions, RunOutput, Scheme, World, run_scheme_drop};
use sdusc_stats::mean_ci;

use crate::definition::{Definition, Kind, kind_name};
use crate::inputs::{self, CkmSource};
use crate::stats::PfrData;
use crate::table::{Col, Table};
use crate::{ExperimentError, Progress, Result, ensure_dir};
use sdusc_report::fig::{self, Figure, PfrChart, Series};

/// (scenario hash, scheme label, drop, seed, CKM source key).
type CacheKey = (String, String, u32, u64, String);

/// Shared state of the runs of one `sdusc-paper` invocation.
#[derive(Debug)]
pub struct Runner {
    /// Folder holding `trajectories.parquet` (reused when it matches).
    pub data_dir: Option<PathBuf>,
    /// The CKMs of every arm without its own `ckm` source.
    pub ckm: CkmSource,
    /// Measure beamforming times (off: 0, byte-identical outputs).
    pub timing: bool,
    cache: Mutex<HashMap<CacheKey, RunOutput>>,
    /// (source key, world hash) → CKMs.
    ckms: Mutex<HashMap<(String, String), Ckms>>,
}

/// The CKMs of one world from one source.
#[derive(Debug, Clone)]
pub struct Ckms {
    /// [`CkmSource::key`] of the source; empty when no CKM is loaded.
    pub source: String,
    /// One per BS.
    pub maps: Vec<Option<Arc<CkmMap>>>,
}

impl Ckms {
    /// No CKM for any of `num_bs` BSs (schemes that use none).
    pub fn none(num_bs: usize) -> Self {
        Self {
            source: String::new(),
            maps: vec![None; num_bs],
        }
    }
}

impl Runner {
    pub fn new(data_dir: Option<PathBuf>, ckm: CkmSource, timing: bool) -> Self {
        Self {
            data_dir,
            ckm,
            timing,
            cache: Mutex::new(HashMap::new()),
            ckms: Mutex::new(HashMap::new()),
        }
    }

    /// The CKMs of `world` from `source` (loaded once per source and world hash).
    pub fn ckms_for(&self, world: &World, source: &CkmSource) -> Result<Ckms> {
        let key = (source.key(), world.scenario.world_hash());
        if let Some(c) = self.ckms.lock().map_err(poisoned)?.get(&key) {
            return Ok(c.clone());
        }
        let c = Ckms {
            source: key.0.clone(),
            maps: inputs::ckms(world, source)?,
        };
        self.ckms.lock().map_err(poisoned)?.insert(key, c.clone());
        Ok(c)
    }

    /// The CKMs `scheme` runs with on `world`: `source`'s if the scheme uses
    /// a CKM, none otherwise (so its runs are shared whatever the source).
    pub fn ckms_of_scheme(
        &self,
        world: &World,
        scheme: &Scheme,
        source: &CkmSource,
    ) -> Result<Ckms> {
        // The CKM is queried at sensed locations: only the sensing schemes read it.
        if scheme.uses_sensing() {
            self.ckms_for(world, source)
        } else {
            Ok(Ckms::none(world.scenario.num_bs()))
        }
    }

    /// World, truths of `drops` and (with `need_ckm`) the runner's CKMs for a scenario.
    pub fn prepare(
        &self,
        scenario: &Scenario,
        drops: usize,
        seed: u64,
        need_ckm: bool,
    ) -> Result<Prepared> {
        let world = World::new(scenario.clone());
        let rows = inputs::trajectories(scenario, self.data_dir.as_deref(), drops)?;
        let truths = (0..drops as u32)
            .into_par_iter()
            .map(|d| world.drop_truth(&rows, d, seed))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let ckms = if need_ckm {
            self.ckms_for(&world, &self.ckm)?
        } else {
            Ckms::none(scenario.num_bs())
        };
        Ok(Prepared {
            world,
            truths,
            ckms,
        })
    }

    fn run_one(
        &self,
        p: &Prepared,
        ckms: &Ckms,
        d: usize,
        scheme: &Scheme,
        seed: u64,
        dump_dir: Option<PathBuf>,
    ) -> std::result::Result<RunOutput, sdusc_sim::SimError> {
        let key = (
            p.world.scenario.hash(),
            scheme.label.clone(),
            p.truths[d].drop,
            seed,
            ckms.source.clone(),
        );
        if dump_dir.is_none()
            && let Some(out) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned())
        {
            return Ok(out);
        }
        let opts = RunOptions {
            seed,
            timing: self.timing,
            dump_dir: dump_dir.clone(),
            ..RunOptions::default()
        };
        let out = run_scheme_drop(&p.world, &p.truths[d], &ckms.maps, scheme, &opts)?;
        if dump_dir.is_none()
            && let Ok(mut c) = self.cache.lock()
        {
            c.insert(key, out.clone());
        }
        Ok(out)
    }

    /// Run one scheme on one drop with `ckms` (e.g. `&p.ckms`), optionally
    /// dumping its DualOpt instances.
    pub fn run_drop(
        &self,
        p: &Prepared,
        ckms: &Ckms,
        d: usize,
        scheme: &Scheme,
        seed: u64,
        dump: Option<PathBuf>,
    ) -> Result<RunOutput> {
        self.run_one(p, ckms, d, scheme, seed, dump)
            .map_err(|source| ExperimentError::Sim {
                arm: scheme.label.clone(),
                drop: p.truths[d].drop,
                source,
            })
    }
}

fn poisoned<T>(_: T) -> ExperimentError {
    ExperimentError::Data("a worker thread panicked".into())
}

/// A scenario ready to run: its world, the truths of its drops, the runner's CKMs.
#[derive(Debug)]
pub struct Prepared {
    pub world: World,
    pub truths: Vec<DropTruth>,
    pub ckms: Ckms,
}

/// Provenance of an experiment's files: the definition travels with the data.
pub fn provenance(def: &Definition, base: &Scenario, seed: u64) -> Provenance {
    Provenance::new("sdusc-paper", &base.name, &base.hash(), seed)
        .with("experiment", &def.id)
        .with("kind", kind_name(def.kind))
        .with("title", &def.title)
        .with("claim", &def.claim)
        .with("drops", def.drops)
        .with("definition", serde_json::to_string(def).unwrap_or_default())
}

/// Total work units (epochs) of a PFR experiment, for progress bars.
pub fn work_units(def: &Definition, base: &Scenario) -> u64 {
    (def.arms.len() * def.drops * base.epochs) as u64
}

/// Run a PFR experiment into `out_dir` (`epochs.parquet`, `user_epochs.parquet`,
/// `bs_epochs.parquet`, `summary.parquet`, `<id>.png`, `<id>.svg`).
pub fn run_pfr(
    def: &Definition,
    base: &Scenario,
    runner: &Runner,
    out_dir: &Path,
    progress: Progress,
) -> Result<RunOutput> {
    debug_assert_eq!(def.kind, Kind::Pfr);
    let (all, data) = run_arms(def, base, runner, out_dir, progress)?;
    plot_pfr(&data, &def.title, &out_dir.join(&def.id))?;
    Ok(all)
}

/// Every arm of `def` on its drops, written to `out_dir` as `epochs.parquet`,
/// `user_epochs.parquet`, `bs_epochs.parquet` and `summary.parquet`; returns
/// the metrics and their per-drop accumulated PFR.
pub fn run_arms(
    def: &Definition,
    base: &Scenario,
    runner: &Runner,
    out_dir: &Path,
    progress: Progress,
) -> Result<(RunOutput, PfrData)> {
    ensure_dir(out_dir)?;
    let seed = def.seed.unwrap_or(base.seed);
    // STEP 1: one prepared world per distinct scenario among the arms, and
    // each arm's CKMs from its source.
    let mut prepared: Vec<(String, Prepared)> = Vec::new();
    let mut arm_world = Vec::with_capacity(def.arms.len());
    let mut schemes = Vec::with_capacity(def.arms.len());
    let mut arm_ckms = Vec::with_capacity(def.arms.len());
    for arm in &def.arms {
        let s = def.scenario_for(base, Some(arm))?;
        let scheme = Scheme::parse(&arm.scheme)?;
        let h = s.hash();
        let idx = match prepared.iter().position(|(k, _)| *k == h) {
            Some(i) => i,
            None => {
                prepared.push((h, runner.prepare(&s, def.drops, seed, false)?));
                prepared.len() - 1
            }
        };
        let world = &prepared[idx].1.world;
        arm_ckms.push(runner.ckms_of_scheme(world, &scheme, &arm.ckm_source(&runner.ckm))?);
        arm_world.push(idx);
        schemes.push(scheme);
    }
    // STEP 2: every (arm, drop), in parallel; results in a fixed order.
    let jobs: Vec<(usize, usize)> = (0..def.arms.len())
        .flat_map(|a| (0..def.drops).map(move |d| (a, d)))
        .collect();
    let results: Vec<Result<RunOutput>> = jobs
        .par_iter()
        .map(|&(a, d)| {
            let p = &prepared[arm_world[a]].1;
            let mut out = runner.run_drop(p, &arm_ckms[a], d, &schemes[a], seed, None)?;
            relabel(&mut out, &def.arms[a].label);
            progress(p.world.scenario.epochs as u64);
            Ok(out)
        })
        .collect();
    let mut all = RunOutput::default();
    for r in results {
        all.extend(r?);
    }
    // STEP 3: Parquet and summary.
    let prov = provenance(def, base, seed);
    write_batch(
        &out_dir.join("epochs.parquet"),
        &epochs_batch(&all.epochs),
        &prov,
    )?;
    write_batch(
        &out_dir.join("user_epochs.parquet"),
        &user_epochs_batch(&all.users),
        &prov,
    )?;
    write_batch(
        &out_dir.join("bs_epochs.parquet"),
        &bs_epochs_batch(&all.bs),
        &prov,
    )?;
    let data = pfr_data(&all);
    summary_table(&data).write(&out_dir.join("summary.parquet"), &prov)?;
    Ok((all, data))
}

fn relabel(out: &mut RunOutput, label: &str) {
    out.epochs
        .iter_mut()
        .for_each(|r| r.scheme = label.to_string());
    out.users
        .iter_mut()
        .for_each(|r| r.scheme = label.to_string());
    out.bs.iter_mut().for_each(|r| r.scheme = label.to_string());
}

/// Per-drop accumulated PFR of a run, arms in order of first appearance.
pub fn pfr_data(out: &RunOutput) -> PfrData {
    let mut data = PfrData::default();
    for r in &out.epochs {
        data.push(&r.scheme, r.drop, r.epoch, r.accumulated_pfr);
    }
    data
}

/// Mean and 95% CI per (arm, epoch).
pub fn summary_table(data: &PfrData) -> Table {
    let (mut arm, mut epoch, mut mean, mut lo, mut hi, mut n) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for a in &data.arms {
        for e in 1..=data.last_epoch {
            let m = data.arm_ci(a, e);
            if m.n == 0 {
                continue;
            }
            arm.push(a.clone());
            epoch.push(e);
            mean.push(m.mean);
            lo.push(m.half_width.map(|h| m.mean - h));
            hi.push(m.half_width.map(|h| m.mean + h));
            n.push(m.n as u32);
        }
    }
    Table::new()
        .col("scheme", Col::Str(arm))
        .col("epoch", Col::U32(epoch))
        .col("accumulated_pfr_mean", Col::F64(mean))
        .col("accumulated_pfr_ci_low", Col::OptF64(lo))
        .col("accumulated_pfr_ci_high", Col::OptF64(hi))
        .col("drops", Col::U32(n))
}

/// First epoch of the PFR figures' zoom panel: at epoch 1 every unserved
/// user sits at R_floor, which sets a scale the later epochs are lost in.
const ZOOM_FROM: u32 = 3;

/// The PFR figure: mean accumulated PFR per epoch with its 95% CI band, all
/// epochs and from [`ZOOM_FROM`] on, and the last epoch's means with CIs.
pub fn plot_pfr(data: &PfrData, title: &str, stem: &Path) -> Result<(PathBuf, PathBuf)> {
    let series = data
        .arms
        .iter()
        .map(|a| {
            let epochs: Vec<u32> = (1..=data.last_epoch)
                .filter(|e| data.arm_ci(a, *e).n > 0)
                .collect();
            let cis: Vec<_> = epochs.iter().map(|e| data.arm_ci(a, *e)).collect();
            let band = cis.iter().all(|m| m.half_width.is_some()).then(|| {
                (
                    cis.iter()
                        .map(|m| m.mean - m.half_width.unwrap_or(0.0))
                        .collect(),
                    cis.iter()
                        .map(|m| m.mean + m.half_width.unwrap_or(0.0))
                        .collect(),
                )
            });
            Series {
                label: a.clone(),
                x: epochs.iter().map(|e| *e as f64).collect(),
                y: cis.iter().map(|m| m.mean).collect(),
                band,
            }
        })
        .collect();
    let n = data
        .arms
        .first()
        .map_or(0, |a| data.arm_ci(a, data.last_epoch).n);
    let last = data.last_epoch;
    Ok(fig::save(
        &Figure::Pfr(PfrChart {
            title: format!("{title} (mean, 95% CI over {n} drops)"),
            x_label: "epoch n".into(),
            y_label: "accumulated PFR Σ ln R̂ₖ(n) (R̂ in bps/Hz)".into(),
            series,
            zoom_from: ZOOM_FROM as f64,
            zoom_caption: format!("(b) epochs ≥ {ZOOM_FROM} (zoom: where the schemes differ)"),
            final_caption: format!(
                "(c) epoch {last}: mean and 95% CI over {n} drops (legend of a, b)"
            ),
            final_label: format!("accumulated PFR at epoch {last}"),
        }),
        stem,
    )?)
}

/// Mean of a per-row value per arm (e.g. backhaul bytes per epoch).
pub fn mean_by_arm(labels: &[String], values: &[f64]) -> Vec<(String, f64, usize)> {
    let mut order: Vec<String> = Vec::new();
    let mut acc: HashMap<&str, Vec<f64>> = HashMap::new();
    for (l, v) in labels.iter().zip(values) {
        if !order.contains(l) {
            order.push(l.clone());
        }
        acc.entry(l).or_default().push(*v);
    }
    order
        .into_iter()
        .map(|l| {
            let m = mean_ci(&acc[l.as_str()]);
            (l, m.mean, m.n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARM: &str = r#"
id = "x"
kind = "pfr"
title = "t"
claim = "c"
drops = 2

[[arms]]
label = "A"
scheme = "sd-uscb:sensing=perfect,cbar=1e6"
"#;

    fn smoke() -> Scenario {
        Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke").unwrap()
    }

    /// CKMs that differ from the oracle: every path one angle bin off.
    fn write_wrong_ckms(s: &Scenario, dir: &Path) {
        let world = World::new(s.clone());
        for b in 0..s.num_bs() {
            let mut ckm = sdusc_ckm::truth::oracle_ckm(s, &world.env, b);
            let bins = ckm.header.bin_angles_rad.len() as u32;
            ckm.slots
                .iter_mut()
                .for_each(|p| p.bin = (p.bin + 1) % bins);
            ckm.write(&dir.join(format!("bs{b}.ckm"))).unwrap();
        }
    }

    fn pfr(def: &str, runner: &Runner, out: &Path) -> Vec<f64> {
        let def = Definition::from_toml(def, Path::new("x.toml")).unwrap();
        let (all, _) = run_arms(&def, &smoke(), runner, out, &|_| {}).unwrap();
        all.epochs.iter().map(|r| r.accumulated_pfr).collect()
    }

    #[test]
    fn an_oracle_arm_gets_oracle_ckms_and_its_own_cache_entries() {
        let tmp = tempfile::tempdir().unwrap();
        write_wrong_ckms(&smoke(), tmp.path());
        let runner = Runner::new(None, CkmSource::Dir(tmp.path().to_path_buf()), false);
        let out = tmp.path().join("out");
        // Built first: a cache keyed without the source would hand its
        // results to the oracle arm below.
        let built = pfr(ARM, &runner, &out);
        let oracle = pfr(&format!("{ARM}ckm = \"oracle\"\n"), &runner, &out);
        let reference = pfr(ARM, &Runner::new(None, CkmSource::Oracle, false), &out);
        assert_eq!(
            oracle, reference,
            "ckm = \"oracle\" runs on the oracle CKMs"
        );
        assert_ne!(oracle, built, "the two CKM sources give different runs");
        assert_eq!(
            pfr(ARM, &runner, &out),
            built,
            "the runner's source stays its own"
        );
    }
}
