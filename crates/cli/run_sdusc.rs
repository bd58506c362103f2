//! `run-sdusc`: the epoch engine over trajectories and CKMs → metrics Parquet,
//! a run manifest and a summary table.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::Parser;
use rayon::prelude::*;
use sdusc_ckm::query::CkmMap;
use sdusc_formats::manifest::{
    FileRecord, RunInputs, RunManifest, ScenarioRecord, TrajectoriesRecord,
};
use sdusc_formats::metrics::{bs_epochs_batch, epochs_batch, user_epochs_batch};
use sdusc_formats::parquet_io::write_batch;
use sdusc_formats::provenance::Provenance;
use sdusc_formats::traj;
use sdusc_report::numbers::fmt_ci;
use sdusc_sim::scheme::SCHEME_NAMES;
use sdusc_sim::{RunOptions, RunOutput, Scheme, World, run_scheme_drop};
use sdusc_stats::mean_ci;

use crate::common::{
    distinct_prefixes, file_sha256, is_run_output, load_scenario, progress, set_threads, stage_dir,
};

/// The schemes of the paper's Fig. 6 and SD-USCB-robust, the default.
pub const DEFAULT_SCHEMES: &str = "sd-uscb,sd-uscb-robust,fp-salinr-perfect,cwmmse,pwmmse";

/// Run SD-USCB and its baselines over the epochs of every drop: ISAC
/// sensing, per-cell scheduling, location exchange, CKM queries and
/// distributed beamforming, evaluated with the true SINR.
#[derive(Debug, Parser)]
#[command(
    name = "run-sdusc",
    version,
    after_help = "Example:\n  run-sdusc --scenario pipelines/paper.toml --trajectories data/paper/trajectories.parquet \\\n    \
--ckm-dir data/paper/ckm --out-dir data/paper/run --schemes sd-uscb,cwmmse,pwmmse\n\n\
Schemes: sd-uscb, sd-uscb-slinr, sd-uscb-hungarian, sd-uscb-all-users, sd-uscb-robust,\n\
sd-uscb-reference, fp-salinr-perfect, cwmmse, pwmmse; options as NAME:key=value,key=value\n\
with cbar=<c̄>, leakage=vector|covariance|phase-aware|robust, fixed=true (keep the epoch-1\n\
schedule), sensing=perfect (oracle fixes). A list item with `=` is an option of the scheme\n\
before it, so both of these are three schemes, the first with two options:\n  \
--schemes 'sd-uscb:sensing=perfect,cbar=1e6,sd-uscb-robust,pwmmse'\n  \
--schemes 'sd-uscb:sensing=perfect,cbar=1e6; sd-uscb-robust; pwmmse'\n\n\
Writes OUT/epochs.parquet, OUT/user_epochs.parquet, OUT/bs_epochs.parquet, OUT/manifest.json;\n\
see docs/artifacts.md."
)]
pub struct Args {
    /// Scenario TOML (the one the trajectories and CKMs were made for).
    #[arg(long)]
    pub scenario: PathBuf,
    /// Trajectories Parquet from gen-traj.
    #[arg(long)]
    pub trajectories: PathBuf,
    /// Folder with bs<id>.ckm from build-ckm (needed by the sd-uscb schemes).
    #[arg(long)]
    pub ckm_dir: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Schemes, separated by `,` or `;` (options of one scheme by `,` after its `:`).
    #[arg(long, default_value = DEFAULT_SCHEMES)]
    pub schemes: String,
    /// Use the first N drops of the trajectories [default: all].
    #[arg(long, conflicts_with = "drop_range")]
    pub drops: Option<usize>,
    /// Use drops A, A+1, …, B−1 (0-based, B excluded), e.g. `4..8`: one shard
    /// of a sweep. A drop's results do not depend on the other drops run.
    #[arg(long, value_name = "A..B", value_parser = parse_drop_range)]
    pub drop_range: Option<std::ops::Range<u32>>,
    /// Seed of fading and sensing draws [default: the trajectories' seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write every DualOpt problem as .npz into this folder.
    #[arg(long)]
    pub dump_instances: Option<PathBuf>,
    /// Worker threads [default: all cores]; the output does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write 0 for every wall time (the `*_s` columns: stage times, beamforming
    /// times), so outputs are byte-identical across runs.
    #[arg(long)]
    pub no_timing: bool,
    #[command(flatten)]
    pub memory: crate::budget::MemoryArg,
    /// Run the BS agents of an epoch one after another (results are identical).
    #[arg(long)]
    pub serial_agents: bool,
}

/// `A..B` with A < B, both drop indices (0-based).
fn parse_drop_range(s: &str) -> Result<std::ops::Range<u32>, String> {
    let expected = || format!("`{s}`: expected A..B with drop indices 0 ≤ A < B, e.g. 4..8");
    let (a, b) = s.split_once("..").ok_or_else(expected)?;
    let a: u32 = a.trim().parse().map_err(|_| expected())?;
    let b: u32 = b.trim().parse().map_err(|_| expected())?;
    if a >= b {
        return Err(expected());
    }
    Ok(a..b)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let wall = Instant::now();
    set_threads(args.threads)?;
    let scenario = load_scenario(&args.scenario)?;
    let schemes = Scheme::parse_list(&args.schemes)?;
    ensure!(
        !schemes.is_empty(),
        "--schemes is empty; expected some of {}",
        SCHEME_NAMES.join(", ")
    );
    let labels: BTreeSet<_> = schemes.iter().map(|s| s.label.as_str()).collect();
    ensure!(
        labels.len() == schemes.len(),
        "--schemes lists a scheme twice"
    );

    crate::budget::run_sdusc(
        &scenario,
        args.drops
            .or(args.drop_range.as_ref().map(|r| r.len()))
            .unwrap_or(scenario.drops),
        schemes.len(),
        schemes.iter().any(|s| s.uses_sensing()),
        rayon::current_num_threads(),
    )
    .check(
        "run-sdusc",
        args.memory.limit()?,
        "lower --drops, --schemes, epochs.count or users.per_cell",
    )?;

    // Inputs, validated against the scenario and each other.
    let (rows, traj_prov) = traj::read(&args.trajectories)
        .with_context(|| format!("cannot read trajectories {}", args.trajectories.display()))?;
    let hash = scenario.hash();
    if !traj_prov.scenario_hash.is_empty() && traj_prov.scenario_hash != hash {
        let (theirs, ours) = distinct_prefixes(&traj_prov.scenario_hash, &hash);
        bail!(
            "trajectories {} were generated for scenario `{}` (hash {}…), not for {} (`{}`, hash {}…); \
             regenerate them with gen-traj --scenario {}",
            args.trajectories.display(),
            traj_prov.scenario_name,
            theirs,
            args.scenario.display(),
            scenario.name,
            ours,
            args.scenario.display()
        );
    }
    let available: BTreeSet<u32> = rows.iter().map(|r| r.drop).collect();
    let drops: Vec<u32> = match args.drops {
        Some(n) => {
            ensure!(n >= 1, "--drops must be at least 1");
            ensure!(
                n <= available.len(),
                "--drops {n} but {} holds {} drops; generate more with gen-traj --drops {n}",
                args.trajectories.display(),
                available.len()
            );
            available.iter().copied().take(n).collect()
        }
        None => match &args.drop_range {
            Some(range) => {
                if let Some(missing) = range.clone().find(|d| !available.contains(d)) {
                    bail!(
                        "--drop-range {}..{} but {} has no drop {missing} (it holds {} drops); \
                         generate more with gen-traj --drops {}",
                        range.start,
                        range.end,
                        args.trajectories.display(),
                        available.len(),
                        range.end
                    );
                }
                range.clone().collect()
            }
            None => available.iter().copied().collect(),
        },
    };
    ensure!(
        !drops.is_empty(),
        "{} has no rows",
        args.trajectories.display()
    );
    let seed = args.seed.unwrap_or(traj_prov.seed);

    let needs_ckm = schemes.iter().any(|s| s.uses_sensing());
    let mut ckm_inputs = Vec::new();
    let ckms: Vec<Option<Arc<CkmMap>>> = if needs_ckm {
        let dir = args.ckm_dir.as_ref().context(
            "the sd-uscb schemes need CKMs: pass --ckm-dir DIR (the output folder of build-ckm)",
        )?;
        let maps: Vec<Option<Arc<CkmMap>>> = (0..scenario.num_bs())
            .map(|b| {
                let path = dir.join(format!("bs{b}.ckm"));
                ensure!(path.is_file(), "missing CKM file {} (build it with build-ckm)", path.display());
                let map = CkmMap::load(&path).with_context(|| format!("cannot load CKM {}", path.display()))?;
                sdusc_ckm::check_against(&map.ckm().header, &scenario, b).map_err(|why| {
                    anyhow::anyhow!(
                        "CKM {} does not match scenario {}: {why}; rebuild it with build-ckm --scenario {}",
                        path.display(),
                        args.scenario.display(),
                        args.scenario.display()
                    )
                })?;
                ckm_inputs.push(FileRecord { path: path.display().to_string(), sha256: file_sha256(&path)? });
                Ok(Some(Arc::new(map)))
            })
            .collect::<anyhow::Result<_>>()?;
        let headers: Vec<_> = maps.iter().flatten().map(|m| &m.ckm().header).collect();
        sdusc_ckm::check_set(&headers).with_context(|| format!("CKMs in {}", dir.display()))?;
        maps
    } else {
        vec![None; scenario.num_bs()]
    };

    let world = World::new(scenario.clone());
    let truths = drops
        .par_iter()
        .map(|&d| world.drop_truth(&rows, d, seed))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!(
                "trajectories {} do not fit scenario {}",
                args.trajectories.display(),
                args.scenario.display()
            )
        })?;
    // Every input is valid: only now stage the output set, so a refusal
    // leaves nothing behind; the set appears on commit, all at once.
    let set = stage_dir(&args.out_dir, is_run_output)?;

    let opts = RunOptions {
        seed,
        timing: !args.no_timing,
        parallel_agents: !args.serial_agents,
        dump_dir: args.dump_instances.clone(),
        ..RunOptions::default()
    };
    let jobs: Vec<(usize, usize)> = (0..schemes.len())
        .flat_map(|s| (0..truths.len()).map(move |d| (s, d)))
        .collect();
    let bar = progress((jobs.len() * scenario.epochs) as u64, "epochs");
    let results: Vec<anyhow::Result<RunOutput>> = jobs
        .par_iter()
        .map(|&(s, d)| {
            let out = run_scheme_drop(&world, &truths[d], &ckms, &schemes[s], &opts)
                .with_context(|| format!("scheme {} drop {}", schemes[s].label, truths[d].drop));
            bar.inc(scenario.epochs as u64);
            out
        })
        .collect();
    bar.finish_and_clear();
    let mut all = RunOutput::default();
    for r in results {
        all.extend(r?);
    }

    let provenance = Provenance::new("run-sdusc", &scenario.name, &hash, seed)
        .with("schemes", &args.schemes)
        .with("drops", drops.len())
        .with("noise_power_w", world.noise_w);
    let out = |name: &str| set.path().join(name);
    write_batch(
        &out("epochs.parquet"),
        &epochs_batch(&all.epochs),
        &provenance,
    )?;
    write_batch(
        &out("user_epochs.parquet"),
        &user_epochs_batch(&all.users),
        &provenance,
    )?;
    write_batch(
        &out("bs_epochs.parquet"),
        &bs_epochs_batch(&all.bs),
        &provenance,
    )?;

    let manifest = RunManifest {
        drops: drops.clone(),
        inputs: RunInputs {
            ckm: ckm_inputs,
            trajectories: TrajectoriesRecord {
                path: args.trajectories.display().to_string(),
                provenance: traj_prov,
                sha256: file_sha256(&args.trajectories)?,
            },
        },
        noise_power_w: world.noise_w,
        rate_floor_bps_hz: sdusc_sim::RATE_FLOOR_BPS_HZ,
        scenario: ScenarioRecord {
            name: scenario.name.clone(),
            path: args.scenario.display().to_string(),
            raw: scenario.raw.clone(),
            sha256_canonical: hash.clone(),
        },
        schemes: schemes.iter().map(|s| s.label.clone()).collect(),
        seed,
        threads: rayon::current_num_threads(),
        timing: !args.no_timing,
        tool: "run-sdusc".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        wall_time_s: wall.elapsed().as_secs_f64(),
    };
    sdusc_formats::atomic::write_bytes(
        &out("manifest.json"),
        // Through a JSON value: every object's keys sorted, nested ones too.
        serde_json::to_string_pretty(&serde_json::to_value(&manifest)?)?.as_bytes(),
    )
    .with_context(|| format!("cannot write {}", out("manifest.json").display()))?;
    set.commit()
        .with_context(|| format!("cannot publish the run into {}", args.out_dir.display()))?;

    print_summary(&schemes, &all, scenario.epochs as u32)?;
    crate::errln!(
        "run-sdusc: {} drops × {} schemes → {}",
        drops.len(),
        schemes.len(),
        args.out_dir.display()
    );
    Ok(())
}

/// The summary table: accumulated PFR at the last epoch with its 95% CI over
/// drops, the paired difference to the first scheme, backhaul and BF time.
pub fn print_summary(schemes: &[Scheme], all: &RunOutput, last_epoch: u32) -> anyhow::Result<()> {
    let pfr = |label: &str| -> Vec<(u32, f64)> {
        all.epochs
            .iter()
            .filter(|r| r.scheme == label && r.epoch == last_epoch)
            .map(|r| (r.drop, r.accumulated_pfr))
            .collect()
    };
    let base = pfr(&schemes[0].label);
    crate::outln!(
        "| scheme | accumulated PFR @ epoch {last_epoch} (95% CI) | Δ vs {} (paired 95% CI) | backhaul bytes / epoch | BF time / BS (ms) |",
        schemes[0].label
    );
    crate::outln!("|---|---|---|---|---|");
    for s in schemes {
        let mine = pfr(&s.label);
        let values: Vec<f64> = mine.iter().map(|x| x.1).collect();
        let diffs: Vec<f64> = mine
            .iter()
            .filter_map(|(d, v)| base.iter().find(|(bd, _)| bd == d).map(|(_, b)| v - b))
            .collect();
        let rows: Vec<_> = all.epochs.iter().filter(|r| r.scheme == s.label).collect();
        let bytes =
            rows.iter().map(|r| r.backhaul_bytes as f64).sum::<f64>() / rows.len().max(1) as f64;
        let bs: Vec<_> = all.bs.iter().filter(|r| r.scheme == s.label).collect();
        let time_ms = 1e3 * bs.iter().map(|r| r.bf_time_s).sum::<f64>() / bs.len().max(1) as f64;
        let delta = if s.label == schemes[0].label {
            "–".to_string()
        } else {
            fmt_ci(&mean_ci(&diffs))
        };
        crate::outln!(
            "| {} | {} | {} | {:.0} | {:.3} |",
            s.label,
            fmt_ci(&mean_ci(&values)),
            delta,
            bytes,
            time_ms
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_drop_range;

    #[test]
    fn drop_ranges_parse_or_say_what_is_expected() {
        for (text, want) in [
            ("0..1", Some(0..1)),
            ("4..8", Some(4..8)),
            (" 2 .. 3 ", Some(2..3)),
        ] {
            assert_eq!(parse_drop_range(text).ok(), want, "{text}");
        }
        for text in ["3..3", "5..2", "4", "-1..2", "a..b", "1..", "..4"] {
            let err = parse_drop_range(text).unwrap_err();
            assert!(err.contains("expected A..B"), "{text}: {err}");
        }
    }
}
