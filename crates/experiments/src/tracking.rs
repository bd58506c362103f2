//! Location tracking of an experiment's sensed arms, from its
//! `user_epochs.parquet` (the report's "Location tracking" section, on
//! fig6): per (arm, epoch), over all users and drops, the quantiles of the
//! location error |p̂ − p|, the coverage of the tracker's 95% ellipse and the
//! echoes its gate refused, checked against the project's tracking targets;
//! and the figure of the error quantiles per epoch.
//!
//! Quantiles interpolate linearly between order statistics (Hyndman–Fan
//! type 7, numpy's default): with x₍₀₎ ≤ … ≤ x₍ₙ₋₁₎ sorted,
//! h = (n − 1)·p, j = ⌊h⌋: q(p) = x₍ⱼ₎ + (h − j)(x₍ⱼ₊₁₎ − x₍ⱼ₎).
//!
//! Coverage: the share of user-epochs whose NEES (p̂ − p)ᵀΣ⁻¹(p̂ − p), Σ the
//! covariance the BS's tracker reports with p̂, is ≤ χ²₂(0.95) = 5.991; a
//! calibrated tracker covers 95%.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use arrow::array::{Array, BooleanArray};
use sdusc_stats::quantile;

use crate::definition::Definition;
use crate::table::Loaded;
use crate::{ExperimentError, Result};
use sdusc_report::fig::{self, Figure, Series, Target, TargetChart};

/// χ²₂(0.95): the NEES of a 2-D estimate inside its 95% ellipse is at most this.
pub const CHI2_2_95: f64 = 5.991;

/// The project's tracking targets, each to hold at every epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    pub p50_m: f64,
    pub p90_m: f64,
    pub p99_m: f64,
    /// (low, high) bounds of the 95%-ellipse coverage, as shares.
    pub coverage: (f64, f64),
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            p50_m: 0.5,
            p90_m: 1.5,
            p99_m: 4.0,
            coverage: (0.90, 0.98),
        }
    }
}

/// The tracking statistics of one arm at one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochTracking {
    pub epoch: u32,
    /// User-epochs with a location error (all users of all drops).
    pub n: usize,
    pub p50_m: f64,
    pub p90_m: f64,
    pub p99_m: f64,
    pub max_m: f64,
    /// Share of the user-epochs with a NEES that are inside the 95% ellipse;
    /// `None` when no NEES was recorded.
    pub coverage: Option<f64>,
    /// User-epochs with a NEES.
    pub nees_n: usize,
    /// Echoes received this epoch (user-epochs with a σ²_θ).
    pub echoes: usize,
    /// Echoes the tracker's gate refused.
    pub gated: usize,
}

/// One arm with location errors: its statistics per epoch, and the same
/// pooled over every epoch (`epoch` = 0).
#[derive(Debug, Clone, PartialEq)]
pub struct ArmTracking {
    pub label: String,
    /// The arm's scheme in the experiment definition, if it lists the arm.
    pub scheme: Option<String>,
    pub epochs: Vec<EpochTracking>,
    pub pooled: EpochTracking,
}

/// The arms of one experiment that have location errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    /// The experiment id (its definition's, else the folder's name).
    pub id: String,
    pub drops: usize,
    pub arms: Vec<ArmTracking>,
}

impl Tracking {
    /// The arm the figure shows: the one running the plain `sd-uscb`
    /// scheme, else the one labelled `SD-USCB`, else the first.
    pub fn figure_arm(&self) -> Option<&ArmTracking> {
        self.arms
            .iter()
            .find(|a| a.scheme.as_deref() == Some("sd-uscb"))
            .or_else(|| self.arms.iter().find(|a| a.label == "SD-USCB"))
            .or_else(|| self.arms.first())
    }
}

/// Rows of one (arm, epoch) being gathered.
#[derive(Debug, Clone, Default)]
struct Acc {
    errors: Vec<f64>,
    nees_n: usize,
    inside: usize,
    echoes: usize,
    gated: usize,
}

impl Acc {
    fn add(&mut self, other: &Acc) {
        self.errors.extend_from_slice(&other.errors);
        self.nees_n += other.nees_n;
        self.inside += other.inside;
        self.echoes += other.echoes;
        self.gated += other.gated;
    }

    fn stats(mut self, epoch: u32) -> EpochTracking {
        self.errors.sort_by(f64::total_cmp);
        let q = |p| quantile(&self.errors, p);
        EpochTracking {
            epoch,
            n: self.errors.len(),
            p50_m: q(0.5),
            p90_m: q(0.9),
            p99_m: q(0.99),
            max_m: q(1.0),
            coverage: (self.nees_n > 0).then(|| self.inside as f64 / self.nees_n as f64),
            nees_n: self.nees_n,
            echoes: self.echoes,
            gated: self.gated,
        }
    }
}

/// A bool column (nulls as false).
fn bools(l: &Loaded, name: &str) -> Result<Vec<bool>> {
    let col = l.batch.column_by_name(name).ok_or_else(|| {
        ExperimentError::Data(format!("{}: no column `{name}`", l.path.display()))
    })?;
    let arr = col.as_any().downcast_ref::<BooleanArray>().ok_or_else(|| {
        ExperimentError::Data(format!(
            "{}: column `{name}` has type {}; expected a bool",
            l.path.display(),
            col.data_type()
        ))
    })?;
    Ok((0..arr.len())
        .map(|i| arr.is_valid(i) && arr.value(i))
        .collect())
}

/// The tracking statistics of every arm of `user_epochs.parquet` at `path`
/// that has location errors, in the order of the experiment definition
/// (then of first appearance).
pub fn read_tracking(path: &Path) -> Result<Tracking> {
    let l = Loaded::read(path)?;
    let def: Option<Definition> = l
        .meta("definition")
        .ok()
        .and_then(|d| serde_json::from_str(d).ok());
    let (scheme, drop, epoch) = (l.str("scheme")?, l.u64("drop")?, l.u64("epoch")?);
    let error = l.opt_f64("location_error_m")?;
    let nees = l.opt_f64("location_nees")?;
    let var_theta = l.opt_f64("sensing_var_theta")?;
    let gated = bools(&l, "echo_gated")?;
    // STEP 1: gather the rows per arm and epoch, arms in the definition's order.
    let mut order: Vec<String> = def
        .iter()
        .flat_map(|d| d.arms.iter().map(|a| a.label.clone()))
        .collect();
    let mut acc: Vec<BTreeMap<u32, Acc>> = vec![BTreeMap::new(); order.len()];
    let mut drops = BTreeSet::new();
    for i in 0..l.rows() {
        let arm = match order.iter().position(|a| *a == scheme[i]) {
            Some(a) => a,
            None => {
                order.push(scheme[i].clone());
                acc.push(BTreeMap::new());
                order.len() - 1
            }
        };
        let a = acc[arm].entry(epoch[i] as u32).or_default();
        drops.insert(drop[i]);
        if let Some(x) = error[i] {
            a.errors.push(x);
        }
        if let Some(x) = nees[i] {
            a.nees_n += 1;
            a.inside += usize::from(x <= CHI2_2_95);
        }
        a.echoes += usize::from(var_theta[i].is_some());
        a.gated += usize::from(gated[i]);
    }
    // STEP 2: statistics of the arms with location errors, per epoch and pooled.
    let mut arms = Vec::new();
    for (label, by_epoch) in order.into_iter().zip(acc) {
        let mut pooled = Acc::default();
        let mut epochs = Vec::new();
        for (e, a) in by_epoch {
            if !a.errors.is_empty() {
                pooled.add(&a);
                epochs.push(a.stats(e));
            }
        }
        if epochs.is_empty() {
            continue;
        }
        let scheme = def.as_ref().and_then(|d| {
            d.arms
                .iter()
                .find(|a| a.label == label)
                .map(|a| a.scheme.clone())
        });
        arms.push(ArmTracking {
            label,
            scheme,
            epochs,
            pooled: pooled.stats(0),
        });
    }
    let id = def.map(|d| d.id).unwrap_or_else(|| {
        path.parent()
            .and_then(|p| p.file_name())
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    });
    Ok(Tracking {
        id,
        drops: drops.len(),
        arms,
    })
}

/// A bound as the text reads it: 0.5, 4, 92.5.
fn num(x: f64) -> String {
    format!("{}", (x * 1e6).round() / 1e6)
}

/// Sorted epochs as ranges: "3–10", "2, 4–6".
fn ranges(epochs: &[u32]) -> String {
    let mut parts: Vec<(u32, u32)> = Vec::new();
    for &e in epochs {
        match parts.last_mut() {
            Some((_, hi)) if *hi + 1 == e => *hi = e,
            _ => parts.push((e, e)),
        }
    }
    parts
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

type Quantity = (&'static str, fn(&EpochTracking) -> f64, fn(&Targets) -> f64);

/// The error quantiles with their targets.
const QUANTILES: [Quantity; 3] = [
    ("p50", |e| e.p50_m, |t| t.p50_m),
    ("p90", |e| e.p90_m, |t| t.p90_m),
    ("p99", |e| e.p99_m, |t| t.p99_m),
];

/// How far a coverage lies outside the target band (0 inside).
fn coverage_miss(c: f64, t: &Targets) -> f64 {
    (t.coverage.0 - c).max(c - t.coverage.1).max(0.0)
}

/// The epoch with the largest `value`.
fn worst<'a>(
    epochs: impl Iterator<Item = &'a EpochTracking>,
    value: fn(&EpochTracking) -> f64,
) -> Option<&'a EpochTracking> {
    epochs.max_by(|x, y| value(x).total_cmp(&value(y)))
}

/// The sentence under an arm's table: which targets hold at every epoch,
/// and for the others at how many epochs they are missed, the worst epoch
/// and its value.
pub fn target_sentence(arm: &ArmTracking, t: &Targets) -> String {
    let n = arm.epochs.len();
    let (mut holds, mut missed) = (Vec::new(), Vec::new());
    for (name, value, bound) in QUANTILES {
        let b = bound(t);
        let stmt = format!("{name} ≤ {} m", num(b));
        let over: Vec<&EpochTracking> = arm.epochs.iter().filter(|e| value(e) > b).collect();
        match worst(over.iter().copied(), value) {
            None => {
                if let Some(w) = worst(arm.epochs.iter(), value) {
                    holds.push(format!(
                        "{stmt} (at most {:.3} m, epoch {})",
                        value(w),
                        w.epoch
                    ));
                }
            }
            Some(w) => {
                let v = value(w);
                let epochs: Vec<u32> = over.iter().map(|e| e.epoch).collect();
                missed.push(format!(
                    "{stmt} at {} of {n} epochs ({}), worst at epoch {}: {v:.3} m, {:.3} m over ({:.2}× the target)",
                    over.len(),
                    ranges(&epochs),
                    w.epoch,
                    v - b,
                    v / b
                ));
            }
        }
    }
    let (lo, hi) = t.coverage;
    let stmt = format!(
        "95%-ellipse coverage within {}–{}%",
        num(100.0 * lo),
        num(100.0 * hi)
    );
    let cov: Vec<(u32, f64)> = arm
        .epochs
        .iter()
        .filter_map(|e| Some((e.epoch, e.coverage?)))
        .collect();
    let outside: Vec<(u32, f64)> = cov
        .iter()
        .copied()
        .filter(|(_, c)| coverage_miss(*c, t) > 0.0)
        .collect();
    let mut unchecked = String::new();
    if cov.is_empty() {
        unchecked = format!(" The {stmt} cannot be checked: no NEES was recorded.");
    } else if let Some(&(e, c)) = outside
        .iter()
        .max_by(|a, b| coverage_miss(a.1, t).total_cmp(&coverage_miss(b.1, t)))
    {
        let (side, bound) = if c < lo { ("under", lo) } else { ("over", hi) };
        let epochs: Vec<u32> = outside.iter().map(|x| x.0).collect();
        missed.push(format!(
            "{stmt} at {} of {} epochs ({}), worst at epoch {e}: {:.1}%, {:.1} points {side} {}%",
            outside.len(),
            cov.len(),
            ranges(&epochs),
            100.0 * c,
            100.0 * coverage_miss(c, t),
            num(100.0 * bound)
        ));
    } else {
        let (min, max) = cov
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x.1), b.max(x.1))
            });
        holds.push(format!(
            "{stmt} ({:.1}% to {:.1}%)",
            100.0 * min,
            100.0 * max
        ));
    }
    let text = match (holds.is_empty(), missed.is_empty()) {
        (_, true) => format!(
            "Against the targets: **every target holds** at every epoch: {}.",
            holds.join("; ")
        ),
        (true, false) => format!(
            "Against the targets: **none holds** at every epoch. **Missed:** {}.",
            missed.join("; ")
        ),
        (false, false) => format!(
            "Against the targets: **holds** at every epoch: {}. **Missed:** {}.",
            holds.join("; "),
            missed.join("; ")
        ),
    };
    text + &unchecked
}

/// One table row: values outside their targets in bold.
fn row(label: &str, e: &EpochTracking, t: &Targets) -> String {
    let bold = |s: String, out: bool| if out { format!("**{s}**") } else { s };
    let mut r = format!("| {label} | {} |", e.n);
    for (_, value, bound) in QUANTILES {
        let v = value(e);
        let _ = write!(r, " {} |", bold(format!("{v:.3}"), v > bound(t)));
    }
    let cov = e.coverage.map_or("–".to_string(), |c| {
        bold(format!("{:.1}%", 100.0 * c), coverage_miss(c, t) > 0.0)
    });
    let _ = write!(r, " {:.3} | {cov} | {} | {} |", e.max_m, e.echoes, e.gated);
    r
}

/// The report's "Location tracking" section (Markdown from its heading on),
/// with `figure` (a path relative to the report) embedded.
pub fn markdown(tr: &Tracking, t: &Targets, figure: Option<&str>) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "\n<a id=\"location-tracking\"></a>\n## Location tracking ({})\n",
        tr.id
    );
    let _ = writeln!(
        b,
        "How well the BSs' trackers know their users' locations in {id} (from `{id}/user_epochs.parquet`), for \
         every arm that senses. Per epoch, over all users (scheduled or not) and {drops} drops: the location \
         error |p̂ − p| at the 50th, 90th and 99th percentiles and its maximum, quantiles by linear \
         interpolation between order statistics (type 7, numpy's default: q(p) = x₍ⱼ₎ + (h − j)(x₍ⱼ₊₁₎ − x₍ⱼ₎), \
         h = (n − 1)p, j = ⌊h⌋, x sorted from index 0); the 95%-ellipse coverage, the share of user-epochs whose \
         NEES (p̂ − p)ᵀΣ⁻¹(p̂ − p) under the covariance Σ the tracker reports is ≤ {CHI2_2_95} = χ²₂(0.95) \
         (a calibrated tracker covers 95%); the echoes received (from the users scheduled the epoch before) \
         and those the tracker's gate refused. Targets at every epoch: p50 ≤ {} m, p90 ≤ {} m, p99 ≤ {} m, \
         coverage within {}–{}%; values outside them are in bold.",
        num(t.p50_m),
        num(t.p90_m),
        num(t.p99_m),
        num(100.0 * t.coverage.0),
        num(100.0 * t.coverage.1),
        id = tr.id,
        drops = tr.drops
    );
    if tr.arms.is_empty() {
        let _ = writeln!(b, "\nNo arm of {} has location errors.", tr.id);
    }
    for arm in &tr.arms {
        let _ = writeln!(
            b,
            "\n### {}\n\n| epoch | user-epochs | p50 (m) | p90 (m) | p99 (m) | max (m) | in 95% ellipse | echoes | gated |\n\
             |---|---|---|---|---|---|---|---|---|",
            arm.label
        );
        for e in &arm.epochs {
            let _ = writeln!(b, "{}", row(&e.epoch.to_string(), e, t));
        }
        let _ = writeln!(b, "{}", row("all", &arm.pooled, t));
        let _ = writeln!(b, "\n{}", target_sentence(arm, t));
    }
    if let (Some(f), Some(arm)) = (figure, tr.figure_arm()) {
        let _ = writeln!(
            b,
            "\nLocation error of {} per epoch (dashed: the targets):\n\n![tracking]({f})",
            arm.label
        );
    }
    b
}

/// The figure: p50, p90 and p99 of the location error of `arm` per epoch on
/// a log axis, each with its target dashed in its colour.
pub fn plot(
    tr: &Tracking,
    arm: &ArmTracking,
    t: &Targets,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let x: Vec<f64> = arm.epochs.iter().map(|e| e.epoch as f64).collect();
    let series = QUANTILES
        .iter()
        .map(|(name, value, _)| Series {
            label: if *name == "p50" {
                "p50 (median)".into()
            } else {
                name.to_string()
            },
            x: x.clone(),
            y: arm.epochs.iter().map(value).collect(),
            band: None,
        })
        .collect();
    let targets = QUANTILES
        .iter()
        .enumerate()
        .map(|(i, (name, _, bound))| Target {
            label: format!("target {name} ≤ {} m", num(bound(t))),
            y: bound(t),
            series: i,
        })
        .collect();
    Ok(fig::save(
        &Figure::Target(TargetChart {
            title: format!(
                "{}: location error of {} (all users, {} drops)",
                tr.id, arm.label, tr.drops
            ),
            x_label: "epoch n".into(),
            y_label: "location error |p̂ − p| (m, log scale)".into(),
            series,
            targets,
            log_y: true,
        }),
        stem,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_read_as_ranges() {
        assert_eq!(ranges(&[3, 4, 5, 6]), "3–6");
        assert_eq!(ranges(&[2, 4, 5, 6, 9]), "2, 4–6, 9");
        assert_eq!(ranges(&[7]), "7");
    }
}
