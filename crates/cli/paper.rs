//! `sdusc-paper`: the paper's experiments (SPEC §13) as pipelines, their
//! figures, and `REPORT.md` generated from their Parquet files.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::{Parser, Subcommand};
use sdusc_experiments::inputs::CkmSource;
use sdusc_experiments::runs::Runner;
use sdusc_experiments::{Definition, base_scenario, run_experiment, sections, work_units};

use crate::common::{progress, set_threads};

/// Reproduce the paper's section V: fig5 (FP convergence), table1 (compute
/// time), fig6–fig9 (accumulated PFR), thm1 (Theorem 1 Monte Carlo); and gap
/// (beyond the paper: the PFR each modelling ingredient costs, FP-SALINR with
/// perfect CSI → SD-USCB).
#[derive(Debug, Parser)]
#[command(
    name = "sdusc-paper",
    version,
    after_help = "Examples:\n  sdusc-paper run thm1\n  sdusc-paper run fig6 --drops 12\n  sdusc-paper all\n  \
sdusc-paper report --data data/paper\n  sdusc-paper figures --data data/paper\n\n\
Inputs, per experiment (under --data, default --out):\n  \
thm1                 none (Monte Carlo under Rayleigh fading)\n  \
fig5, table1,        ckm/bs<b>.ckm of every BS, built for pipelines/paper.toml (`just all`),\n  \
fig6-fig9, gap       unless --oracle-ckm; trajectories.parquet is used when it was made for\n                       \
the experiment's scenario and seed, else the trajectories are generated\n  \
report, figures      the Parquet files of earlier runs only\n\
Writes <out>/<id>/*.parquet, <id>.png, <id>.svg and <out>/REPORT.md."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one experiment (an id of pipelines/experiments/ or a definition file), then refresh the report.
    Run {
        /// Experiment id (fig5, table1, fig6, fig7, fig8, fig9, thm1, gap) or a path to a definition TOML.
        id: String,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Run every experiment of the definitions folder (every *.toml, gap included), then write the report.
    All {
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Redraw every experiment's figures (<id>.png, <id>.svg, fig6's tracking) from its
    /// Parquet files, without rerunning anything.
    Figures {
        /// Folder holding the experiments' outputs.
        #[arg(long, default_value = "data/paper")]
        data: PathBuf,
    },
    /// Regenerate REPORT.md from the Parquet files only (folders whose Parquet carries no
    /// experiment definition, such as run-sdusc's run/, are skipped).
    Report {
        /// Folder holding the experiments' outputs.
        #[arg(long, default_value = "data/paper")]
        data: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunOpts {
    /// Drops (PFR figures) or instances per size (fig5, table1) [default: the definition's].
    #[arg(long)]
    pub drops: Option<usize>,
    /// Output folder: one subfolder per experiment, REPORT.md at the top.
    #[arg(long, default_value = "data/paper")]
    pub out: PathBuf,
    /// Folder with the paper pipeline's trajectories.parquet and ckm/ [default: --out].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder of the experiment definitions.
    #[arg(long, alias = "scenario-dir", default_value = "pipelines/experiments")]
    pub experiments_dir: PathBuf,
    /// Use oracle CKMs (true paths) instead of data/ckm for every arm (diagnostics, tests;
    /// an arm with `ckm = "oracle"` uses them anyway).
    #[arg(long)]
    pub oracle_ckm: bool,
    /// Write 0 for beamforming times in the metrics (byte-identical PFR outputs).
    #[arg(long)]
    pub no_timing: bool,
    /// Worker threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
}

fn load_definition(id: &str, dir: &Path, drops: Option<usize>) -> anyhow::Result<Definition> {
    let as_path = PathBuf::from(id);
    let path = if as_path.extension().is_some_and(|e| e == "toml") {
        as_path
    } else {
        dir.join(format!("{id}.toml"))
    };
    ensure!(
        path.is_file(),
        "no experiment definition {} (ids are the file names in {})",
        path.display(),
        dir.display()
    );
    let mut def = Definition::load(&path)?;
    if let Some(n) = drops {
        ensure!(n >= 1, "--drops must be at least 1");
        def.drops = n;
    }
    Ok(def)
}

fn runner(opts: &RunOpts) -> Runner {
    let data = opts.data.clone().unwrap_or_else(|| opts.out.clone());
    let ckm = if opts.oracle_ckm {
        CkmSource::Oracle
    } else {
        CkmSource::Dir(data.join("ckm"))
    };
    Runner::new(Some(data), ckm, !opts.no_timing)
}

/// Refuse, before anything runs, an experiment whose built CKMs are missing
/// (thm1 needs none; an arm with `ckm = "oracle"` or `--oracle-ckm` needs none).
fn check_inputs(def: &Definition, opts: &RunOpts) -> anyhow::Result<()> {
    let needs_ckm = match def.kind {
        sdusc_experiments::Kind::Theorem1 => false,
        sdusc_experiments::Kind::Pfr | sdusc_experiments::Kind::Gap => {
            def.arms.iter().any(|a| a.ckm.as_deref() != Some("oracle"))
        }
        _ => true,
    };
    if !needs_ckm || opts.oracle_ckm {
        return Ok(());
    }
    let dir = opts.data.as_ref().unwrap_or(&opts.out).join("ckm");
    let base = base_scenario(def).with_context(|| format!("experiment {}", def.id))?;
    let missing: Vec<String> = (0..base.num_bs())
        .map(|b| dir.join(format!("bs{b}.ckm")))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    ensure!(
        missing.is_empty(),
        "experiment {} needs the CKM of every BS, built for its scenario {}; missing: {}. \
         Build them with `just all` (gen-traj, gen-rsrp, build-ckm into {}), point --data at \
         the folder that holds ckm/, or pass --oracle-ckm; thm1 needs no input",
        def.id,
        def.scenario.display(),
        missing.join(", "),
        dir.display()
    );
    Ok(())
}

fn run_one(def: &Definition, runner: &Runner, out: &Path) -> anyhow::Result<f64> {
    let t = Instant::now();
    let base = match def.kind {
        sdusc_experiments::Kind::Theorem1 => None,
        _ => Some(base_scenario(def).with_context(|| format!("experiment {}", def.id))?),
    };
    let bar = progress(work_units(def, base.as_ref()), &def.id);
    let inc = |n: u64| bar.inc(n);
    run_experiment(def, runner, out, &inc).with_context(|| format!("experiment {}", def.id))?;
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    crate::errln!(
        "sdusc-paper: {} done in {secs:.1} s → {}",
        def.id,
        out.join(&def.id).display()
    );
    Ok(secs)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Run { id, opts } => {
            set_threads(opts.threads)?;
            let def = load_definition(&id, &opts.experiments_dir, opts.drops)?;
            check_inputs(&def, &opts)?;
            run_one(&def, &runner(&opts), &opts.out)?;
            sections::write_report(&opts.out).context("cannot write the report")?;
        }
        Command::All { opts } => {
            set_threads(opts.threads)?;
            let wall = Instant::now();
            let mut ids: Vec<String> = std::fs::read_dir(&opts.experiments_dir)
                .with_context(|| format!("cannot list {}", opts.experiments_dir.display()))?
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let p = e.path();
                    (p.extension().is_some_and(|x| x == "toml"))
                        .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                        .flatten()
                })
                .collect();
            ids.sort();
            ensure!(
                !ids.is_empty(),
                "no *.toml in {}",
                opts.experiments_dir.display()
            );
            let defs = ids
                .iter()
                .map(|id| load_definition(id, &opts.experiments_dir, opts.drops))
                .collect::<anyhow::Result<Vec<_>>>()?;
            for def in &defs {
                check_inputs(def, &opts)?;
            }
            let r = runner(&opts);
            for def in &defs {
                run_one(def, &r, &opts.out)?;
            }
            sections::write_report(&opts.out).context("cannot write the report")?;
            crate::errln!(
                "sdusc-paper: {} experiments in {:.1} s; report {}",
                defs.len(),
                wall.elapsed().as_secs_f64(),
                opts.out.join("REPORT.md").display()
            );
        }
        Command::Figures { data } => {
            let pngs = sdusc_experiments::redraw::redraw(&data)
                .with_context(|| format!("cannot redraw the figures of {}", data.display()))?;
            ensure!(
                !pngs.is_empty(),
                "no experiment folder under {} (expected <id>/ folders written by `sdusc-paper run` or `all`)",
                data.display()
            );
            for png in &pngs {
                crate::errln!("sdusc-paper: figure → {}", png.display());
            }
        }
        Command::Report { data } => {
            let text = sections::write_report(&data)
                .with_context(|| format!("cannot make the report of {}", data.display()))?;
            crate::errln!(
                "sdusc-paper: report ({} lines) → {}",
                text.lines().count(),
                data.join("REPORT.md").display()
            );
        }
    }
    Ok(())
}
