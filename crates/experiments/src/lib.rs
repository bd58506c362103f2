//! The paper's experiments (SPEC §13): Figs. 5–9, Table I and a Monte Carlo
//! check of Theorem 1, and the attribution waterfall `gap` (beyond the
//! paper), each a pipeline definition under `pipelines/experiments/<id>.toml`
//! run by `sdusc-paper`.
//!
//! Module map:
//! - [`definition`]: the experiment TOML (scenario, arms, drops, checks).
//! - [`inputs`]: trajectories and CKMs for a (possibly modified) scenario.
//! - [`runs`]: accumulated-PFR experiments (fig6–fig9) on the epoch engine.
//! - [`gap`]: the paired waterfall from FP-SALINR (perfect CSI) to SD-USCB,
//!   one modelling ingredient per step.
//! - [`solvers`]: fig5 (FP convergence) and table1 (compute time), DualOpt
//!   against the conic reference on instances dumped by the simulator.
//! - [`thm1`]: Monte Carlo of Theorem 1 under Rayleigh fading.
//! - [`stats`]: paired comparisons over drops, the checks and verdicts.
//! - [`table`]: the Parquet tables every experiment writes and the report reads.
//! - [`redraw`]: every figure redrawn from the Parquet files (`sdusc-paper
//!   figures`).
//! - [`tracking`]: location-error quantiles and ellipse coverage of the
//!   sensed arms (fig6), against the tracking targets.
//! - [`sections`]: what `REPORT.md` says (checks, verdicts, measured
//!   numbers), computed from the Parquet files only.
//!
//! Every experiment writes into `<out>/<id>/`; the report reads nothing else.
//! The drawing itself (figures, fonts, number formatting) is
//! `sdusc_report`'s: the modules here compute the data and hand it over.

pub mod definition;
pub mod gap;
pub mod inputs;
pub mod redraw;
pub mod runs;
pub mod sections;
pub mod solvers;
pub mod stats;
pub mod table;
pub mod thm1;
pub mod tracking;

use std::path::PathBuf;

pub use definition::{Definition, Kind};

/// Errors of the experiments.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("experiment definition {path}: {message}")]
    Definition { path: PathBuf, message: String },
    #[error("scenario: {0}")]
    Scenario(#[from] sdusc_model::scenario::ScenarioError),
    #[error("{0}")]
    Scheme(#[from] sdusc_sim::scheme::SchemeError),
    #[error("simulation of `{arm}` drop {drop}: {source}")]
    Sim {
        arm: String,
        drop: u32,
        #[source]
        source: sdusc_sim::SimError,
    },
    #[error("trajectories: {0}")]
    Truth(#[from] sdusc_sim::world::TruthError),
    #[error("{0}")]
    Parquet(#[from] sdusc_formats::parquet_io::ParquetIoError),
    #[error("CKM {path}: {message}")]
    Ckm { path: PathBuf, message: String },
    #[error("CKM {path}: {cause}")]
    CkmFile {
        path: PathBuf,
        cause: sdusc_ckm::CkmFileError,
    },
    #[error("CKM {path}: does not serve the experiment's scenario `{scenario}`: {cause}")]
    CkmMismatch {
        path: PathBuf,
        scenario: String,
        cause: Box<sdusc_ckm::CkmMismatch>,
    },
    #[error("CKMs in {dir}: {cause}")]
    CkmSet {
        dir: PathBuf,
        cause: Box<sdusc_ckm::SetMismatch>,
    },
    #[error("experiment definition {path}: {cause}")]
    DefinitionSyntax {
        path: PathBuf,
        cause: toml::de::Error,
    },
    /// The scenario as a TOML table, to apply overrides to.
    #[error("scenario: {0}")]
    ScenarioToml(toml::ser::Error),
    #[error("scenario after overrides: {0}")]
    Overrides(toml::de::Error),
    /// An Arrow operation on a table read from or written to `path`.
    #[error("{path}: {what}: {cause}")]
    Arrow {
        path: PathBuf,
        what: String,
        cause: arrow::error::ArrowError,
    },
    /// A table's columns do not make a record batch (a bug of its builder).
    #[error("table: {0}")]
    Table(arrow::error::ArrowError),
    #[error("{path}: `sdusc.{key}` = {value:?}: {cause}")]
    Metadata {
        path: PathBuf,
        key: String,
        value: String,
        cause: std::num::ParseIntError,
    },
    #[error("beamforming: {0}")]
    Beamforming(#[from] sdusc_beamforming::BeamformingError),
    #[error("figure {0}")]
    Figure(#[from] sdusc_report::PlotError),
    /// The I/O error is part of the message (not a `source`), so a chain
    /// printer shows it once.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{0}")]
    Data(String),
}

pub type Result<T> = std::result::Result<T, ExperimentError>;

/// Progress callback: called with the number of work units just finished.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Create a folder (and parents), with the path in the error.
pub fn ensure_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| ExperimentError::Io {
        path: dir.to_path_buf(),
        cause: source,
    })
}

/// The scenario an experiment starts from (its `scenario` file).
pub fn base_scenario(def: &Definition) -> Result<sdusc_model::Scenario> {
    Ok(sdusc_model::Scenario::load(&def.scenario)?)
}

/// Work units of an experiment (epochs, solves or |S| values), for progress bars.
pub fn work_units(def: &Definition, base: Option<&sdusc_model::Scenario>) -> u64 {
    match (def.kind, base) {
        (Kind::Pfr, Some(b)) => runs::work_units(def, b),
        (Kind::Gap, Some(b)) => gap::work_units(def, b),
        (Kind::Convergence | Kind::Timing, _) => solvers::work_units(def),
        (Kind::Theorem1, _) => thm1::work_units(def),
        _ => 0,
    }
}

/// Run one experiment into `<out_root>/<id>/`.
pub fn run_experiment(
    def: &Definition,
    runner: &runs::Runner,
    out_root: &std::path::Path,
    progress: Progress,
) -> Result<()> {
    let out = out_root.join(&def.id);
    match def.kind {
        Kind::Theorem1 => {
            thm1::run_thm1(def, &out, progress)?;
        }
        Kind::Pfr => {
            runs::run_pfr(def, &base_scenario(def)?, runner, &out, progress)?;
        }
        Kind::Gap => {
            gap::run_gap(def, &base_scenario(def)?, runner, &out, progress)?;
        }
        Kind::Convergence | Kind::Timing => {
            solvers::run_solvers(def, &base_scenario(def)?, runner, &out, progress)?;
        }
    }
    Ok(())
}
