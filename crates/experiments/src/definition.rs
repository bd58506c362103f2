//! An experiment definition: `pipelines/experiments/<id>.toml`.
//!
//! Two steps, as for scenarios: the TOML deserializes into [`Definition`]
//! (unknown keys are errors), then [`Definition::validate`] checks what serde
//! cannot (arm labels unique, checks naming existing arms, the section of the
//! kind present). Scenario overrides are dotted keys into the scenario TOML
//! (`"users.max_scheduled" = 22`), applied to the raw scenario and validated
//! again, so a bad override fails with the scenario's own error message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sdusc_model::Scenario;
use serde::{Deserialize, Serialize};

use crate::{ExperimentError, Result};

/// What an experiment measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Accumulated PFR vs epoch over drops (fig6–fig9).
    Pfr,
    /// SALINR objective per FP iteration, DualOpt vs reference (fig5).
    Convergence,
    /// Compute time per BS per epoch, DualOpt vs reference (table1).
    Timing,
    /// Monte Carlo of Theorem 1.
    Theorem1,
}

/// One experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Short id, also the output folder name (`fig6`).
    pub id: String,
    pub kind: Kind,
    /// Figure title.
    pub title: String,
    /// The paper's claim, quoted in the report.
    pub claim: String,
    /// Scenario TOML, relative to the working directory.
    #[serde(default = "default_scenario")]
    pub scenario: PathBuf,
    /// Drops (pfr) or instances per size (convergence, timing).
    #[serde(default = "default_drops")]
    pub drops: usize,
    /// Seed of fading and sensing draws [default: the scenario's run.seed].
    #[serde(default)]
    pub seed: Option<u64>,
    /// Overrides applied to the scenario for every arm.
    #[serde(default)]
    pub overrides: BTreeMap<String, toml::Value>,
    /// The compared schemes (pfr).
    #[serde(default)]
    pub arms: Vec<Arm>,
    /// What the report checks (pfr).
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Solver experiments (convergence, timing).
    #[serde(default)]
    pub solvers: Option<SolverSetup>,
    /// Theorem 1 Monte Carlo.
    #[serde(default)]
    pub theorem1: Option<Theorem1Setup>,
    /// Why a claim may fail, by check index (0-based) or `"all"`: printed
    /// beside a failing check in the report.
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
}

fn default_scenario() -> PathBuf {
    PathBuf::from("pipelines/paper.toml")
}
fn default_drops() -> usize {
    8
}

/// One curve of a PFR figure: a scheme on a (possibly modified) scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// Legend label, also the `scheme` column of the experiment's Parquet.
    pub label: String,
    /// Scheme spec as run-sdusc takes it (`sd-uscb:cbar=0.1,fixed=true`).
    pub scheme: String,
    /// Scenario overrides of this arm, on top of the experiment's.
    #[serde(default)]
    pub overrides: BTreeMap<String, toml::Value>,
}

/// A comparison the report evaluates on the per-drop accumulated PFR at the
/// last epoch (paired over drops: every arm sees the same drops).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// a > b: the 95% CI of the paired difference a − b is above 0.
    Greater { a: String, b: String },
    /// a ≥ b: the paired difference is not significantly below 0.
    AtLeast { a: String, b: String },
    /// a ≈ b: the CI of a − b lies within ±tol × (spread of the arms' means).
    Approx { a: String, b: String, tol: f64 },
    /// a ≫ b: the CI of a − b is above tol × (spread of the arms' means).
    MuchGreater { a: String, b: String, tol: f64 },
    /// The best (by mean) of `best` beats `b`.
    BestOf { best: Vec<String>, b: String },
    /// The gap a − b grows from epoch `from_epoch` to the last epoch.
    GapWidensEpochs {
        a: String,
        b: String,
        from_epoch: u32,
    },
    /// The gap a − b is larger than the gap c − d (at the last epoch).
    GapWidensArms {
        a: String,
        b: String,
        c: String,
        d: String,
    },
}

impl Check {
    /// The arms the check reads.
    pub fn arms(&self) -> Vec<&str> {
        match self {
            Check::Greater { a, b }
            | Check::AtLeast { a, b }
            | Check::Approx { a, b, .. }
            | Check::MuchGreater { a, b, .. }
            | Check::GapWidensEpochs { a, b, .. } => vec![a, b],
            Check::BestOf { best, b } => best
                .iter()
                .map(String::as_str)
                .chain([b.as_str()])
                .collect(),
            Check::GapWidensArms { a, b, c, d } => vec![a, b, c, d],
        }
    }
}

/// Instances for the solver experiments: the DualOpt problems the simulator
/// builds (run `scheme` on one drop and keep the dumped instances).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolverSetup {
    /// Scheme whose DualOpt instances are collected.
    #[serde(default = "default_instance_scheme")]
    pub scheme: String,
    /// Per-BS scheduled users |Sℓ| (network |S| = L × this).
    pub per_bs_scheduled: Vec<usize>,
    /// Epochs run to collect instances (the scenario's epoch count is cut to this).
    #[serde(default = "default_instance_epochs")]
    pub epochs: usize,
    /// Maximum FP iterations of both solvers.
    #[serde(default = "default_max_outer")]
    pub max_outer: usize,
    /// Relative-improvement stopping tolerance of both solvers (0: run all iterations).
    #[serde(default = "default_rel_tol")]
    pub rel_tol: f64,
}

fn default_instance_scheme() -> String {
    "sd-uscb".into()
}
fn default_instance_epochs() -> usize {
    3
}
fn default_max_outer() -> usize {
    30
}
fn default_rel_tol() -> f64 {
    1e-4
}

/// Theorem 1 Monte Carlo set-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Theorem1Setup {
    /// Transmit antennas Nt.
    pub antennas: usize,
    /// Cells L (M = (L − 1)|S| interfering beams per user).
    pub cells: usize,
    /// The |S| values swept.
    pub scheduled: Vec<usize>,
    /// Channel draws per |S|.
    pub trials: usize,
    /// SNR calibration P·E‖h‖²/(Nt σ²), dB.
    pub snr_db: f64,
    pub seed: u64,
}

impl Definition {
    /// Read and validate a definition file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ExperimentError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parse and validate; `path` names the source in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let def: Definition = toml::from_str(text).map_err(|e| ExperimentError::Definition {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        def.validate(path)?;
        Ok(def)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String| ExperimentError::Definition {
            path: path.to_path_buf(),
            message,
        };
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(format!(
                "id `{}`: expected letters, digits, `_` or `-`",
                self.id
            )));
        }
        if self.drops == 0 {
            return Err(bad("drops = 0; expected at least 1".into()));
        }
        match self.kind {
            Kind::Pfr => {
                if self.arms.is_empty() {
                    return Err(bad("kind = \"pfr\" needs at least one [[arms]]".into()));
                }
                let mut seen = std::collections::BTreeSet::new();
                for arm in &self.arms {
                    if !seen.insert(arm.label.as_str()) {
                        return Err(bad(format!("arm label `{}` appears twice", arm.label)));
                    }
                    sdusc_sim::Scheme::parse(&arm.scheme)
                        .map_err(|e| bad(format!("arm `{}`: {e}", arm.label)))?;
                }
                for (i, c) in self.checks.iter().enumerate() {
                    for a in c.arms() {
                        if !seen.contains(a) {
                            return Err(bad(format!(
                                "check {i} names arm `{a}`; the arms are {}",
                                self.arms
                                    .iter()
                                    .map(|a| a.label.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )));
                        }
                    }
                }
            }
            Kind::Convergence | Kind::Timing => {
                let s = self.solvers.as_ref().ok_or_else(|| {
                    bad("kinds convergence and timing need a [solvers] section".into())
                })?;
                if s.per_bs_scheduled.is_empty() || s.per_bs_scheduled.contains(&0) {
                    return Err(bad(
                        "solvers.per_bs_scheduled: expected a non-empty list of sizes ≥ 1".into(),
                    ));
                }
                if s.epochs == 0 || s.max_outer == 0 {
                    return Err(bad(
                        "solvers.epochs and solvers.max_outer must be ≥ 1".into()
                    ));
                }
            }
            Kind::Theorem1 => {
                let t = self
                    .theorem1
                    .as_ref()
                    .ok_or_else(|| bad("kind = \"theorem1\" needs a [theorem1] section".into()))?;
                if t.antennas == 0
                    || t.cells < 2
                    || t.trials < 2
                    || t.scheduled.is_empty()
                    || t.scheduled.contains(&0)
                {
                    return Err(bad(
                        "theorem1: expected antennas ≥ 1, cells ≥ 2, trials ≥ 2 and scheduled sizes ≥ 1".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The scenario of `arm` (or of the experiment when `None`): the base
    /// scenario with the experiment's overrides, then the arm's.
    pub fn scenario_for(&self, base: &Scenario, arm: Option<&Arm>) -> Result<Scenario> {
        let empty = BTreeMap::new();
        let arm_over = arm.map_or(&empty, |a| &a.overrides);
        apply_overrides(base, self.overrides.iter().chain(arm_over.iter()))
    }
}

/// Apply dotted-key overrides to a scenario and validate the result.
pub fn apply_overrides<'a>(
    base: &Scenario,
    overrides: impl IntoIterator<Item = (&'a String, &'a toml::Value)>,
) -> Result<Scenario> {
    let mut value = toml::Value::try_from(&base.raw)
        .map_err(|e| ExperimentError::Data(format!("scenario: {e}")))?;
    let mut any = false;
    for (key, v) in overrides {
        any = true;
        let mut node = &mut value;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let table = node.as_table_mut().ok_or_else(|| {
                ExperimentError::Data(format!("override `{key}`: `{part}` is not inside a table"))
            })?;
            if i + 1 == parts.len() {
                if !table.contains_key(*part) {
                    return Err(ExperimentError::Data(format!(
                        "override `{key}`: the scenario has no key `{part}`"
                    )));
                }
                table.insert((*part).to_string(), v.clone());
                break;
            }
            node = table.get_mut(*part).ok_or_else(|| {
                ExperimentError::Data(format!(
                    "override `{key}`: the scenario has no section `{part}`"
                ))
            })?;
        }
    }
    if !any {
        return Ok(base.clone());
    }
    let raw = value.try_into().map_err(|e: toml::de::Error| {
        ExperimentError::Data(format!("scenario after overrides: {e}"))
    })?;
    Ok(Scenario::validate(raw)?)
}
