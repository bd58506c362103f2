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
    /// A PFR experiment read as a paired waterfall (`[waterfall]`): the
    /// PFR lost or gained by each modelling ingredient, one per step.
    Gap,
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
    /// The steps, extra arms and floor of a gap experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waterfall: Option<Waterfall>,
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
    /// CKM source of this arm: `"oracle"` (the true large-scale paths,
    /// [`crate::inputs::CkmSource::Oracle`]); absent: the runner's source
    /// (build-ckm's CKMs in `<data>/ckm`, or oracle under `--oracle-ckm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ckm: Option<String>,
}

/// The values `Arm::ckm` accepts.
pub const ARM_CKM_SOURCES: &[&str] = &["oracle"];

impl Arm {
    /// The CKM source of this arm, given the runner's (a validated arm).
    pub fn ckm_source(
        &self,
        runner_default: &crate::inputs::CkmSource,
    ) -> crate::inputs::CkmSource {
        match self.ckm.as_deref() {
            Some("oracle") => crate::inputs::CkmSource::Oracle,
            _ => runner_default.clone(),
        }
    }
}

/// A gap experiment's reading of its arms (all labels of `[[arms]]`). Every
/// arm is in exactly one role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waterfall {
    /// The waterfall, in order: each step adds one modelling ingredient to
    /// the previous one; its Δ is paired against the previous step.
    pub steps: Vec<String>,
    /// Arms beyond the waterfall, compared with the last step and the floor.
    #[serde(default)]
    pub extras: Vec<String>,
    /// The floor arm (drawn as a line; every Δ to it is reported too).
    pub floor: String,
    /// What each step (but the first) adds, for the report's sentences
    /// ("<ingredient> costs X ± Y PFR"); the step label by default.
    #[serde(default)]
    pub ingredients: BTreeMap<String, String>,
    /// Short names of arms in the report's sentences and the figure's
    /// captions (`"+ tracked locations (SD-USCB)" = "SD-USCB"`); the label
    /// by default.
    #[serde(default)]
    pub names: BTreeMap<String, String>,
}

impl Waterfall {
    /// The ingredient that `step` adds (its label when none is given).
    pub fn ingredient<'a>(&'a self, step: &'a str) -> &'a str {
        self.ingredients.get(step).map_or(step, String::as_str)
    }

    /// The short name of arm `label` (the label when none is given).
    pub fn name<'a>(&'a self, label: &'a str) -> &'a str {
        self.names.get(label).map_or(label, String::as_str)
    }
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
            cause: source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parse and validate; `path` names the source in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let def: Definition =
            toml::from_str(text).map_err(|cause| ExperimentError::DefinitionSyntax {
                path: path.to_path_buf(),
                cause,
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
        if self.waterfall.is_some() && self.kind != Kind::Gap {
            return Err(bad("a [waterfall] section needs kind = \"gap\"".into()));
        }
        match self.kind {
            Kind::Pfr | Kind::Gap => {
                if self.arms.is_empty() {
                    return Err(bad(format!(
                        "kind = {:?} needs at least one [[arms]]",
                        kind_name(self.kind)
                    )));
                }
                let mut seen = std::collections::BTreeSet::new();
                for arm in &self.arms {
                    if !seen.insert(arm.label.as_str()) {
                        return Err(bad(format!("arm label `{}` appears twice", arm.label)));
                    }
                    let scheme = sdusc_sim::Scheme::parse(&arm.scheme)
                        .map_err(|e| bad(format!("arm `{}`: {e}", arm.label)))?;
                    if let Some(c) = &arm.ckm {
                        if !ARM_CKM_SOURCES.contains(&c.as_str()) {
                            return Err(bad(format!(
                                "arm `{}`: ckm = {c:?}; expected \"oracle\" (the true paths), \
                                 or no `ckm` key for the runner's CKMs (build-ckm's, in <data>/ckm)",
                                arm.label
                            )));
                        }
                        if !scheme.uses_sensing() {
                            return Err(bad(format!(
                                "arm `{}`: ckm = {c:?} has no effect: scheme `{}` uses no CKM \
                                 (only the sd-uscb schemes do)",
                                arm.label, arm.scheme
                            )));
                        }
                    }
                }
                if self.kind == Kind::Gap {
                    self.validate_waterfall(&seen).map_err(bad)?;
                }
                for (i, c) in self.checks.iter().enumerate() {
                    for a in c.arms() {
                        if !seen.contains(a) {
                            return Err(bad(format!(
                                "check {i} names arm `{a}`; the arms are {}",
                                self.arm_labels()
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

    /// Every arm in exactly one role of the `[waterfall]`, at least two steps.
    fn validate_waterfall(
        &self,
        labels: &std::collections::BTreeSet<&str>,
    ) -> std::result::Result<(), String> {
        let w = self
            .waterfall
            .as_ref()
            .ok_or("kind = \"gap\" needs a [waterfall] section (steps, extras, floor)")?;
        if w.steps.len() < 2 {
            return Err(format!(
                "waterfall.steps has {} arm(s); expected at least 2 (a start and one ingredient)",
                w.steps.len()
            ));
        }
        let mut roles: BTreeMap<&str, &str> = BTreeMap::new();
        let named = w
            .steps
            .iter()
            .map(|a| (a, "steps"))
            .chain(w.extras.iter().map(|a| (a, "extras")))
            .chain(std::iter::once((&w.floor, "floor")));
        for (a, role) in named {
            if !labels.contains(a.as_str()) {
                return Err(format!(
                    "waterfall.{role} names arm `{a}`; the arms are {}",
                    self.arm_labels()
                ));
            }
            if let Some(first) = roles.insert(a, role) {
                return Err(format!(
                    "arm `{a}` appears in waterfall.{first} and waterfall.{role}; expected one role per arm"
                ));
            }
        }
        if let Some(a) = labels.iter().find(|a| !roles.contains_key(*a)) {
            return Err(format!(
                "arm `{a}` is in no role of the [waterfall]; list it in steps, extras or floor"
            ));
        }
        if let Some(k) = w.ingredients.keys().find(|k| !w.steps[1..].contains(k)) {
            return Err(format!(
                "waterfall.ingredients names `{k}`, which is not a step after the first ({})",
                w.steps[1..].join(", ")
            ));
        }
        if let Some(k) = w.names.keys().find(|k| !labels.contains(k.as_str())) {
            return Err(format!(
                "waterfall.names names `{k}`; the arms are {}",
                self.arm_labels()
            ));
        }
        Ok(())
    }

    fn arm_labels(&self) -> String {
        self.arms
            .iter()
            .map(|a| a.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The scenario of `arm` (or of the experiment when `None`): the base
    /// scenario with the experiment's overrides, then the arm's.
    pub fn scenario_for(&self, base: &Scenario, arm: Option<&Arm>) -> Result<Scenario> {
        let empty = BTreeMap::new();
        let arm_over = arm.map_or(&empty, |a| &a.overrides);
        apply_overrides(base, self.overrides.iter().chain(arm_over.iter()))
    }
}

/// The TOML spelling of a kind.
pub fn kind_name(kind: Kind) -> String {
    serde_json::to_string(&kind)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

/// Apply dotted-key overrides to a scenario and validate the result.
pub fn apply_overrides<'a>(
    base: &Scenario,
    overrides: impl IntoIterator<Item = (&'a String, &'a toml::Value)>,
) -> Result<Scenario> {
    let mut value = toml::Value::try_from(&base.raw).map_err(ExperimentError::ScenarioToml)?;
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
    let raw = value.try_into().map_err(ExperimentError::Overrides)?;
    Ok(Scenario::validate(raw)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARMS: &str = r#"
id = "x"
kind = "KIND"
title = "t"
claim = "c"

[[arms]]
label = "A"
scheme = "fp-salinr-perfect"

[[arms]]
label = "B"
scheme = "sd-uscb:sensing=perfect,cbar=1e6"
ckm = "CKM"

[[arms]]
label = "C"
scheme = "sd-uscb"

[[arms]]
label = "F"
scheme = "pwmmse"
"#;

    fn def(kind: &str, ckm: &str, tail: &str) -> Result<Definition> {
        let text = ARMS.replace("KIND", kind).replace("CKM", ckm) + tail;
        Definition::from_toml(&text, Path::new("x.toml"))
    }

    fn message(r: Result<Definition>) -> String {
        match r {
            Err(ExperimentError::Definition { message, .. }) => message,
            Err(ExperimentError::DefinitionSyntax { cause, .. }) => cause.to_string(),
            other => panic!("expected a definition error, got {other:?}"),
        }
    }

    const WATERFALL: &str = r#"
[waterfall]
steps = ["A", "B", "C"]
floor = "F"
"#;

    #[test]
    fn an_arm_may_ask_for_oracle_ckms() {
        let d = def("pfr", "oracle", "").unwrap();
        assert_eq!(d.arms[1].ckm.as_deref(), Some("oracle"));
        assert_eq!(d.arms[0].ckm, None);
        let dir = crate::inputs::CkmSource::Dir("data/paper/ckm".into());
        assert_eq!(d.arms[1].ckm_source(&dir), crate::inputs::CkmSource::Oracle);
        assert_eq!(d.arms[2].ckm_source(&dir), dir);
        // The JSON in the Parquet metadata round-trips the field.
        let back: Definition = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn a_bad_ckm_source_is_refused_with_the_value_and_the_choices() {
        let m = message(def("pfr", "oracel", ""));
        assert!(m.contains("arm `B`") && m.contains("\"oracel\""), "{m}");
        assert!(m.contains("expected \"oracle\""), "{m}");
        // On a scheme that reads no CKM the field would silently do nothing.
        let text = ARMS.replace("KIND", "pfr").replace("CKM", "oracle")
            + "\n[[arms]]\nlabel = \"P\"\nscheme = \"pwmmse\"\nckm = \"oracle\"\n";
        let m = message(Definition::from_toml(&text, Path::new("x.toml")));
        assert!(m.contains("arm `P`") && m.contains("uses no CKM"), "{m}");
    }

    #[test]
    fn the_shipped_gap_definition_validates() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let d = Definition::load(&root.join("pipelines/experiments/gap.toml")).unwrap();
        assert_eq!(d.kind, Kind::Gap);
        let w = d.waterfall.as_ref().unwrap();
        assert_eq!(w.steps.len(), 5);
        assert_eq!(w.floor, "PWMMSE");
        let oracle: Vec<&str> = d
            .arms
            .iter()
            .filter(|a| a.ckm.is_some())
            .map(|a| a.label.as_str())
            .collect();
        assert_eq!(oracle, ["oracle CKM, true locations, no constraint"]);
        assert!(d.drops >= 8);
    }

    #[test]
    fn a_waterfall_gives_every_arm_one_role() {
        assert!(def("gap", "oracle", WATERFALL).is_ok());
        let cases: [(&str, String, &str); 6] = [
            ("gap", String::new(), "needs a [waterfall]"),
            ("pfr", WATERFALL.into(), "needs kind = \"gap\""),
            (
                "gap",
                WATERFALL.replace("\"C\"]", "\"Z\"]"),
                "names arm `Z`",
            ),
            (
                "gap",
                WATERFALL.replace("\"C\"]", "\"C\", \"A\"]"),
                "appears in waterfall.steps and waterfall.steps",
            ),
            (
                "gap",
                WATERFALL.replace(", \"C\"]", "]"),
                "arm `C` is in no role",
            ),
            (
                "gap",
                WATERFALL.replace("[\"A\", \"B\", \"C\"]", "[\"A\"]\nextras = [\"B\", \"C\"]"),
                "at least 2",
            ),
        ];
        for (kind, tail, want) in cases {
            let m = message(def(kind, "oracle", &tail));
            assert!(m.contains(want), "{kind} {tail}: {m}");
        }
        let m = message(def(
            "gap",
            "oracle",
            &format!("{WATERFALL}ingredients = {{ A = \"x\" }}\n"),
        ));
        assert!(m.contains("not a step after the first"), "{m}");
        let m = message(def(
            "gap",
            "oracle",
            &format!("{WATERFALL}names = {{ Z = \"x\" }}\n"),
        ));
        assert!(m.contains("waterfall.names names `Z`"), "{m}");
    }
}
