//! Paired comparisons over drops and the outcomes of the checks.
//!
//! Every arm of an experiment runs on the same drops (trajectories, fading
//! and sensing draws), so a comparison uses the per-drop difference a − b and
//! its 95% Student-t interval ([`sdusc_stats::mean_ci`]); a claim
//! "a > b" holds when the whole interval is above 0, is *not separated* when
//! it contains 0, and fails when it is below 0.

use std::collections::BTreeMap;

use sdusc_report::markdown::{CheckResult, Outcome};
use sdusc_report::numbers::{fmt_ci, sig};
use sdusc_stats::{MeanCi, mean_ci};

use crate::definition::Check;

/// Where the interval of `m` lies relative to `threshold`.
pub fn above(m: &MeanCi, threshold: f64) -> Outcome {
    match m.half_width {
        Some(h) if m.mean - h > threshold => Outcome::Pass,
        Some(h) if m.mean + h < threshold => Outcome::Fail,
        Some(_) => Outcome::NotSeparated,
        // One drop: the sign of the mean, no better.
        None if m.mean > threshold => Outcome::NotSeparated,
        None => Outcome::Fail,
    }
}

/// Per-drop accumulated PFR of every arm at every epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PfrData {
    /// Arms in definition order.
    pub arms: Vec<String>,
    /// (arm, epoch) → drop → accumulated PFR.
    pub values: BTreeMap<(String, u32), BTreeMap<u32, f64>>,
    pub last_epoch: u32,
}

impl PfrData {
    pub fn push(&mut self, arm: &str, drop: u32, epoch: u32, pfr: f64) {
        if !self.arms.iter().any(|a| a == arm) {
            self.arms.push(arm.to_string());
        }
        self.last_epoch = self.last_epoch.max(epoch);
        self.values
            .entry((arm.to_string(), epoch))
            .or_default()
            .insert(drop, pfr);
    }

    fn at(&self, arm: &str, epoch: u32) -> BTreeMap<u32, f64> {
        self.values
            .get(&(arm.to_string(), epoch))
            .cloned()
            .unwrap_or_default()
    }

    /// Mean and CI of one arm at one epoch.
    pub fn arm_ci(&self, arm: &str, epoch: u32) -> MeanCi {
        mean_ci(&self.at(arm, epoch).values().copied().collect::<Vec<_>>())
    }

    /// Per-drop combination of several arms at `epoch`, over the drops all have.
    fn paired(&self, arms: &[&str], epoch: u32, f: impl Fn(&[f64]) -> f64) -> MeanCi {
        let cols: Vec<_> = arms.iter().map(|a| self.at(a, epoch)).collect();
        let xs: Vec<f64> = cols[0]
            .keys()
            .filter_map(|d| {
                let vals: Option<Vec<f64>> = cols.iter().map(|c| c.get(d).copied()).collect();
                vals.map(|v| f(&v))
            })
            .collect();
        mean_ci(&xs)
    }

    /// Paired difference a − b at `epoch`.
    pub fn diff(&self, a: &str, b: &str, epoch: u32) -> MeanCi {
        self.paired(&[a, b], epoch, |v| v[0] - v[1])
    }

    /// Spread of the arms' means at the last epoch (the scale of ≈ and ≫).
    pub fn spread(&self) -> f64 {
        let means: Vec<f64> = self
            .arms
            .iter()
            .map(|a| self.arm_ci(a, self.last_epoch).mean)
            .collect();
        let max = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = means.iter().copied().fold(f64::INFINITY, f64::min);
        if means.is_empty() { 0.0 } else { max - min }
    }

    /// Evaluate a check at the last epoch.
    pub fn check(&self, c: &Check) -> CheckResult {
        let n = self.last_epoch;
        let d = |m: &MeanCi| format!("paired Δ = {} over {} drops", fmt_ci(m), m.n);
        match c {
            Check::Greater { a, b } => {
                let m = self.diff(a, b, n);
                CheckResult {
                    statement: format!("{a} > {b}"),
                    outcome: above(&m, 0.0),
                    detail: d(&m),
                }
            }
            Check::AtLeast { a, b } => {
                let m = self.diff(a, b, n);
                let outcome = match above(&m, 0.0) {
                    Outcome::Fail => Outcome::Fail,
                    _ => Outcome::Pass,
                };
                CheckResult {
                    statement: format!("{a} ≥ {b} (not significantly below)"),
                    outcome,
                    detail: d(&m),
                }
            }
            Check::Approx { a, b, tol } => {
                let m = self.diff(a, b, n);
                let band = tol * self.spread();
                let h = m.half_width.unwrap_or(f64::INFINITY);
                let outcome = if m.mean.abs() + h <= band {
                    Outcome::Pass
                } else if m.mean.abs() - h > band {
                    Outcome::Fail
                } else {
                    Outcome::NotSeparated
                };
                CheckResult {
                    statement: format!(
                        "{a} ≈ {b} (|Δ| within {tol} × spread of the arms = {})",
                        sig(band)
                    ),
                    outcome,
                    detail: d(&m),
                }
            }
            Check::MuchGreater { a, b, tol } => {
                let m = self.diff(a, b, n);
                let band = tol * self.spread();
                CheckResult {
                    statement: format!(
                        "{a} ≫ {b} (Δ above {tol} × spread of the arms = {})",
                        sig(band)
                    ),
                    outcome: above(&m, band),
                    detail: d(&m),
                }
            }
            Check::BestOf { best, b } => {
                let top = best
                    .iter()
                    .max_by(|x, y| self.arm_ci(x, n).mean.total_cmp(&self.arm_ci(y, n).mean))
                    .cloned()
                    .unwrap_or_default();
                let m = self.diff(&top, b, n);
                CheckResult {
                    statement: format!("best of {{{}}} (= {top}) > {b}", best.join(", ")),
                    outcome: above(&m, 0.0),
                    detail: d(&m),
                }
            }
            Check::GapWidensEpochs { a, b, from_epoch } => {
                let last = self.paired(&[a, b], n, |v| v[0] - v[1]);
                let first = self.paired(&[a, b], *from_epoch, |v| v[0] - v[1]);
                let m = self.paired_epochs(a, b, *from_epoch, n);
                CheckResult {
                    statement: format!(
                        "the gap {a} − {b} widens from epoch {from_epoch} to epoch {n}"
                    ),
                    outcome: above(&m, 0.0),
                    detail: format!(
                        "gap at epoch {from_epoch}: {}, at epoch {n}: {}; widening {} over {} drops",
                        fmt_ci(&first),
                        fmt_ci(&last),
                        fmt_ci(&m),
                        m.n
                    ),
                }
            }
            Check::GapWidensArms { a, b, c, d: dd } => {
                let m = self.paired(&[a, b, c, dd], n, |v| (v[0] - v[1]) - (v[2] - v[3]));
                CheckResult {
                    statement: format!("the gap {a} − {b} exceeds the gap {c} − {dd}"),
                    outcome: above(&m, 0.0),
                    detail: format!(
                        "{a} − {b}: {}; {c} − {dd}: {}; difference {} over {} drops",
                        fmt_ci(&self.diff(a, b, n)),
                        fmt_ci(&self.diff(c, dd, n)),
                        fmt_ci(&m),
                        m.n
                    ),
                }
            }
        }
    }

    /// Per drop: (a − b at epoch `to`) − (a − b at epoch `from`).
    fn paired_epochs(&self, a: &str, b: &str, from: u32, to: u32) -> MeanCi {
        let (a0, b0, a1, b1) = (
            self.at(a, from),
            self.at(b, from),
            self.at(a, to),
            self.at(b, to),
        );
        let xs: Vec<f64> = a1
            .keys()
            .filter_map(|d| Some((a1.get(d)? - b1.get(d)?) - (a0.get(d)? - b0.get(d)?)))
            .collect();
        mean_ci(&xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(delta: &[f64]) -> PfrData {
        let mut p = PfrData::default();
        for (d, x) in delta.iter().enumerate() {
            p.push("a", d as u32, 1, 10.0 + x);
            p.push("b", d as u32, 1, 10.0);
        }
        p
    }

    #[test]
    fn greater_follows_the_paired_interval() {
        let c = Check::Greater {
            a: "a".into(),
            b: "b".into(),
        };
        assert_eq!(data(&[1.0, 1.1, 0.9, 1.0]).check(&c).outcome, Outcome::Pass);
        assert_eq!(
            data(&[1.0, -1.1, 0.9, -1.0]).check(&c).outcome,
            Outcome::NotSeparated
        );
        assert_eq!(
            data(&[-1.0, -1.1, -0.9, -1.0]).check(&c).outcome,
            Outcome::Fail
        );
    }
}
