//! Schemes, selectable by name (SPEC §10.4, §13), with options appended as
//! `name:key=value,key=value` (e.g. `sd-uscb:cbar=0.1`,
//! `sd-uscb:leakage=covariance`, `sd-uscb:fixed=true`, and the diagnostic
//! oracle `sd-uscb:sensing=perfect`).
//!
//! # Lists of schemes ([`Scheme::parse_list`])
//!
//! `a,b:k=v,k2=v2,c` or `a; b:k=v,k2=v2; c`. Options contain `=` and scheme
//! names never do, so a comma-separated item with `=` is one more option of
//! the scheme before it, an item without `=` starts a new scheme; `;`
//! always separates schemes. So `sd-uscb:sensing=perfect,cbar=1e6,pwmmse` is
//! two schemes, the first with two options.
//!
//! | name | scheduling | inter-cell knowledge | beamforming |
//! |---|---|---|---|
//! | `sd-uscb` | PFZFG | CKM at sensed locations | DualOpt ISAC-SALINR |
//! | `sd-uscb-slinr` | PFZFG | CKM at sensed locations | DualOpt ISAC-SLINR |
//! | `sd-uscb-hungarian` | Hungarian | CKM at sensed locations | DualOpt ISAC-SALINR |
//! | `sd-uscb-all-users` | all users | CKM at sensed locations | DualOpt ISAC-SALINR |
//! | `sd-uscb-robust` | PFZFG | CKM averaged over each location's uncertainty (`leakage=robust`) | DualOpt ISAC-SALINR |
//! | `sd-uscb-reference` | PFZFG | CKM at sensed locations | Algorithm 2 with the clarabel reference |
//! | `fp-salinr-perfect` | PFZFG | true inter-cell channels | FP-SALINR, no sensing constraint |
//! | `cwmmse` | PFZFG | global CSI at a central unit | centralized WMMSE |
//! | `pwmmse` | PFZFG | none | per-cell WMMSE |

use std::fmt;

/// Per-cell scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    Pfzfg,
    Hungarian,
    AllUsers,
}

/// How a BS obtains its beams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeamformerKind {
    /// SALINR with CKM + sensing constraints, DualOpt inner solver.
    Salinr,
    /// SLINR (per-user leakage) with CKM + sensing, DualOpt.
    Slinr,
    /// SALINR with CKM + sensing, the clarabel reference inner solver.
    SalinrReference,
    /// SALINR with true inter-cell channels, no sensing constraints.
    FpSalinrPerfect,
    /// Centralized WMMSE with global CSI.
    Cwmmse,
    /// Per-cell WMMSE without inter-cell knowledge.
    Pwmmse,
}

/// CKM leakage model (SPEC §5.4, §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakageModel {
    /// ĥĥᴴ with the zero-phase vector estimate (36): the paper's choice.
    Vector,
    /// R̂ = Σ ᾱ a aᴴ: the expected leakage for unknown phases.
    Covariance,
    /// e^{−σ²} ĥĥᴴ + (1 − e^{−σ²}) R̂: the expected leakage for path phases
    /// N(0, σ²), σ the scenario's inter-cell phase spread.
    PhaseAware,
    /// E_{p∼N(p̂,Σ)} R̂(p): the covariance estimate averaged over the
    /// location's uncertainty Σ (sent with the location).
    Robust,
}

impl LeakageModel {
    /// Does the location message carry each location's covariance?
    pub fn needs_location_covariance(self) -> bool {
        self == LeakageModel::Robust
    }
}

/// A fully specified scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheme {
    /// The name as given (with options), written in the metrics' `scheme` column.
    pub label: String,
    pub scheduler: SchedulerKind,
    pub beamformer: BeamformerKind,
    pub leakage: LeakageModel,
    /// c̄ override (else the scenario's).
    pub threshold: Option<f64>,
    /// Keep the epoch-1 schedule for every later epoch (Fig. 7).
    pub fixed_schedule: bool,
    /// Diagnostic oracle (`sensing=perfect`): every own user gets an exact,
    /// fresh fix every epoch, isolating the CKM's share of the gap from the
    /// sensing error's. The sensing constraints still apply.
    pub perfect_sensing: bool,
}

/// Every base scheme name.
pub const SCHEME_NAMES: &[&str] = &[
    "sd-uscb",
    "sd-uscb-slinr",
    "sd-uscb-hungarian",
    "sd-uscb-all-users",
    "sd-uscb-robust",
    "sd-uscb-reference",
    "fp-salinr-perfect",
    "cwmmse",
    "pwmmse",
];

/// Why a scheme name was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemeError {
    #[error("unknown scheme `{0}`; expected one of: {list}", list = SCHEME_NAMES.join(", "))]
    Unknown(String),
    #[error(
        "`{0}` in a list of schemes is an option with no scheme before it; expected NAME:{0} (e.g. sd-uscb:{0})"
    )]
    OrphanOption(String),
    #[error("scheme `{scheme}`: bad option `{option}`; expected {expected}")]
    BadOption {
        scheme: String,
        option: String,
        expected: &'static str,
    },
}

impl Scheme {
    /// Parse `name[:key=value,...]`.
    pub fn parse(spec: &str) -> Result<Self, SchemeError> {
        let spec = spec.trim();
        let (name, options) = match spec.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (spec, None),
        };
        use BeamformerKind as B;
        use SchedulerKind as S;
        let mut leakage = LeakageModel::Vector;
        let (scheduler, beamformer) = match name {
            "sd-uscb" => (S::Pfzfg, B::Salinr),
            "sd-uscb-robust" => {
                leakage = LeakageModel::Robust;
                (S::Pfzfg, B::Salinr)
            }
            "sd-uscb-slinr" => (S::Pfzfg, B::Slinr),
            "sd-uscb-hungarian" => (S::Hungarian, B::Salinr),
            "sd-uscb-all-users" => (S::AllUsers, B::Salinr),
            "sd-uscb-reference" => (S::Pfzfg, B::SalinrReference),
            "fp-salinr-perfect" => (S::Pfzfg, B::FpSalinrPerfect),
            "cwmmse" => (S::Pfzfg, B::Cwmmse),
            "pwmmse" => (S::Pfzfg, B::Pwmmse),
            other => return Err(SchemeError::Unknown(other.to_string())),
        };
        let mut scheme = Scheme {
            label: spec.to_string(),
            scheduler,
            beamformer,
            leakage,
            threshold: None,
            fixed_schedule: false,
            perfect_sensing: false,
        };
        for opt in options
            .into_iter()
            .flat_map(|o| o.split(','))
            .filter(|o| !o.is_empty())
        {
            let bad = |expected| SchemeError::BadOption {
                scheme: spec.to_string(),
                option: opt.to_string(),
                expected,
            };
            let (k, v) = opt.split_once('=').ok_or_else(|| bad("key=value"))?;
            match k {
                "cbar" => {
                    let c: f64 = v.parse().map_err(|_| bad("cbar=<number > 0>"))?;
                    if !(c.is_finite() && c > 0.0) {
                        return Err(bad("cbar=<number > 0>"));
                    }
                    scheme.threshold = Some(c);
                }
                "leakage" => {
                    scheme.leakage = match v {
                        "vector" => LeakageModel::Vector,
                        "covariance" => LeakageModel::Covariance,
                        "phase-aware" => LeakageModel::PhaseAware,
                        "robust" => LeakageModel::Robust,
                        _ => {
                            return Err(bad("leakage=vector, covariance, phase-aware or robust"));
                        }
                    }
                }
                "fixed" => {
                    scheme.fixed_schedule =
                        v.parse().map_err(|_| bad("fixed=true or fixed=false"))?;
                }
                "sensing" => {
                    scheme.perfect_sensing = match v {
                        "echo" => false,
                        "perfect" => true,
                        _ => return Err(bad("sensing=echo or sensing=perfect")),
                    }
                }
                _ => return Err(bad("one of cbar=, leakage=, fixed=, sensing=")),
            }
        }
        Ok(scheme)
    }

    /// Parse a list of schemes (see the module docs for the syntax):
    /// `sd-uscb:sensing=perfect,cbar=1e6,pwmmse` or `sd-uscb:cbar=0.1; pwmmse`.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, SchemeError> {
        let mut specs: Vec<String> = Vec::new();
        for group in list.split(';') {
            let mut open = false;
            for item in group.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                match specs.last_mut() {
                    Some(last) if open && item.contains('=') && !item.contains(':') => {
                        last.push(',');
                        last.push_str(item);
                    }
                    _ if item.contains('=') && !item.contains(':') => {
                        return Err(SchemeError::OrphanOption(item.to_string()));
                    }
                    _ => {
                        open = item.contains(':');
                        specs.push(item.to_string());
                    }
                }
            }
        }
        specs.iter().map(|s| Self::parse(s)).collect()
    }

    /// Does this scheme sense its users (and so report location errors)?
    pub fn uses_sensing(&self) -> bool {
        matches!(
            self.beamformer,
            BeamformerKind::Salinr | BeamformerKind::Slinr | BeamformerKind::SalinrReference
        )
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_options_apply() {
        for name in SCHEME_NAMES {
            assert_eq!(Scheme::parse(name).unwrap().label, *name);
        }
        let s = Scheme::parse("sd-uscb:cbar=0.1,leakage=covariance,fixed=true").unwrap();
        assert_eq!(s.threshold, Some(0.1));
        assert_eq!(s.leakage, LeakageModel::Covariance);
        assert!(s.fixed_schedule);
    }

    #[test]
    fn lists_keep_several_options_with_their_scheme() {
        let labels = |list: &str| -> Vec<String> {
            Scheme::parse_list(list)
                .unwrap()
                .into_iter()
                .map(|s| s.label)
                .collect()
        };
        assert_eq!(
            labels("sd-uscb:sensing=perfect,cbar=1e6"),
            ["sd-uscb:sensing=perfect,cbar=1e6"]
        );
        assert_eq!(
            labels("sd-uscb:sensing=perfect,cbar=1e6,pwmmse,cwmmse:"),
            ["sd-uscb:sensing=perfect,cbar=1e6", "pwmmse", "cwmmse:"]
        );
        assert_eq!(
            labels("sd-uscb,cwmmse , pwmmse"),
            ["sd-uscb", "cwmmse", "pwmmse"]
        );
        assert_eq!(
            labels("sd-uscb:cbar=0.1,fixed=true; sd-uscb:leakage=robust;pwmmse"),
            [
                "sd-uscb:cbar=0.1,fixed=true",
                "sd-uscb:leakage=robust",
                "pwmmse"
            ]
        );
        let both = Scheme::parse_list("sd-uscb:sensing=perfect,cbar=1e6").unwrap();
        assert!(both[0].perfect_sensing);
        assert_eq!(both[0].threshold, Some(1e6));
        // An option with no scheme (with options) before it says so.
        for bad in [
            "cbar=1,sd-uscb",
            "pwmmse,cbar=1",
            "sd-uscb:cbar=1;fixed=true",
        ] {
            let e = Scheme::parse_list(bad).unwrap_err();
            assert!(matches!(e, SchemeError::OrphanOption(_)), "{bad}: {e}");
            assert!(e.to_string().contains("sd-uscb:"), "{e}");
        }
        let robust = Scheme::parse("sd-uscb-robust").unwrap();
        assert_eq!(robust.leakage, LeakageModel::Robust);
        assert_eq!(
            Scheme::parse("sd-uscb:leakage=phase-aware")
                .unwrap()
                .leakage,
            LeakageModel::PhaseAware
        );
    }

    #[test]
    fn bad_names_and_options_say_what_is_expected() {
        let e = Scheme::parse("sd-uscbb").unwrap_err().to_string();
        assert!(e.contains("sd-uscbb") && e.contains("cwmmse"), "{e}");
        let e = Scheme::parse("sd-uscb:cbar=-1").unwrap_err().to_string();
        assert!(e.contains("cbar"), "{e}");
        assert!(Scheme::parse("sd-uscb:colour=red").is_err());
    }
}
