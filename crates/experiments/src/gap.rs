//! The attribution experiment (beyond the paper, `kind = "gap"`): a paired
//! waterfall from FP-SALINR with perfect CSI down to SD-USCB, one modelling
//! ingredient per step, then extra arms compared with the last step, and a
//! floor (PWMMSE) every arm is compared with.
//!
//! With PFR_a(d) the accumulated PFR of arm a at the last epoch of drop d,
//! every arm on the same drops d = 1..D, and 95% Student-t intervals over d:
//!
//! ```text
//! level_a     = mean_d PFR_a(d)
//! Δ_s         = mean_d [PFR_s(d) − PFR_{s−1}(d)]      step s against the previous step
//! Δ_x         = mean_d [PFR_x(d) − PFR_last(d)]       an extra arm against the last step
//! Δfloor_a    = mean_d [PFR_a(d) − PFR_floor(d)]
//! Σ_{s≥2} Δ_s = level_last − level_first              (per drop, the sum telescopes)
//! ```
//!
//! `gap.parquet` holds one row per step, extra arm and the floor (column
//! `role`); the report and the figure read nothing else.

use std::path::{Path, PathBuf};

use sdusc_model::Scenario;
use sdusc_report::numbers::sig;
use sdusc_sim::{RunOutput, Scheme};
use sdusc_stats::MeanCi;

use crate::definition::{Definition, Kind, Waterfall};
use crate::inputs::CkmSource;
use crate::runs::{Runner, provenance, run_arms};
use crate::stats::PfrData;
use crate::table::{Col, Loaded, Table};
use crate::{ExperimentError, Progress, Result};
use sdusc_report::fig::{self, Figure, WaterfallBar, WaterfallChart};

/// The role of an arm in the waterfall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Step,
    Extra,
    Floor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Step => "step",
            Role::Extra => "extra",
            Role::Floor => "floor",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Role::Step, Role::Extra, Role::Floor]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// One row of `gap.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct GapRow {
    pub label: String,
    pub role: Role,
    /// Scheme spec of the arm.
    pub scheme: String,
    /// The CKM source the arm ran with ([`CkmSource::key`]: `oracle`,
    /// `dir:<folder>`), `none` for a scheme that uses no CKM.
    pub ckm: String,
    /// What the step adds (steps after the first), else empty.
    pub ingredient: String,
    /// Mean accumulated PFR at the last epoch over drops.
    pub level: MeanCi,
    /// What [`GapRow::delta`] is relative to: the previous step (steps), the
    /// last step (extras); `None` for the first step and the floor.
    pub reference: Option<String>,
    /// Paired Δ = this − reference.
    pub delta: Option<MeanCi>,
    /// Paired Δ = this − floor (`None` for the floor itself).
    pub delta_floor: Option<MeanCi>,
}

/// The rows of the waterfall `w` at the last epoch of `data`; arms without
/// their own `ckm` ran with `runner_ckm`.
pub fn gap_rows(
    def: &Definition,
    w: &Waterfall,
    data: &PfrData,
    runner_ckm: &CkmSource,
) -> Vec<GapRow> {
    let n = data.last_epoch;
    let row = |label: &str, role: Role, reference: Option<&String>| {
        let arm = def.arms.iter().find(|a| a.label == label);
        let uses_ckm = arm
            .and_then(|a| Scheme::parse(&a.scheme).ok())
            .is_some_and(|s| s.uses_sensing());
        GapRow {
            label: label.to_string(),
            role,
            scheme: arm.map(|a| a.scheme.clone()).unwrap_or_default(),
            ckm: match arm {
                Some(a) if uses_ckm => a.ckm_source(runner_ckm).key(),
                _ => "none".into(),
            },
            ingredient: if role == Role::Step && reference.is_some() {
                w.ingredient(label).to_string()
            } else {
                String::new()
            },
            level: data.arm_ci(label, n),
            reference: reference.cloned(),
            delta: reference.map(|r| data.diff(label, r, n)),
            delta_floor: (role != Role::Floor).then(|| data.diff(label, &w.floor, n)),
        }
    };
    let mut rows: Vec<GapRow> = w
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| row(s, Role::Step, i.checked_sub(1).map(|p| &w.steps[p])))
        .collect();
    let last = w.steps.last();
    rows.extend(w.extras.iter().map(|x| row(x, Role::Extra, last)));
    rows.push(row(&w.floor, Role::Floor, None));
    rows
}

fn ci_bounds(m: Option<&MeanCi>) -> (Option<f64>, Option<f64>, Option<f64>) {
    match m {
        Some(m) => (
            Some(m.mean),
            m.half_width.map(|h| m.mean - h),
            m.half_width.map(|h| m.mean + h),
        ),
        None => (None, None, None),
    }
}

/// `gap.parquet`: one row per arm, in waterfall order (steps, extras, floor).
///
/// Columns: `label`, `role` (step / extra / floor), `scheme`, `ckm` (source
/// key, `none` without CKM), `ingredient`, `epoch` (the last), `drops`;
/// `level_mean`, `level_ci_low`, `level_ci_high` (accumulated PFR over
/// drops); `reference` (the arm Δ is taken against, empty for none),
/// `delta_mean`, `delta_ci_low`, `delta_ci_high` (paired Δ to it, null
/// without a reference); `delta_floor_mean`, `delta_floor_ci_low`,
/// `delta_floor_ci_high` (paired Δ to the floor, null on the floor's row).
/// CI bounds are null with a single drop.
pub fn gap_table(rows: &[GapRow], epoch: u32) -> Table {
    let strs = |f: &dyn Fn(&GapRow) -> String| Col::Str(rows.iter().map(f).collect());
    let triple = |f: &dyn Fn(&GapRow) -> Option<MeanCi>| {
        let t: Vec<_> = rows.iter().map(|r| ci_bounds(f(r).as_ref())).collect();
        (
            Col::OptF64(t.iter().map(|x| x.0).collect()),
            Col::OptF64(t.iter().map(|x| x.1).collect()),
            Col::OptF64(t.iter().map(|x| x.2).collect()),
        )
    };
    let (lm, ll, lh) = triple(&|r| Some(r.level));
    let (dm, dl, dh) = triple(&|r| r.delta);
    let (fm, fl, fh) = triple(&|r| r.delta_floor);
    Table::new()
        .col("label", strs(&|r| r.label.clone()))
        .col("role", strs(&|r| r.role.as_str().into()))
        .col("scheme", strs(&|r| r.scheme.clone()))
        .col("ckm", strs(&|r| r.ckm.clone()))
        .col("ingredient", strs(&|r| r.ingredient.clone()))
        .col("epoch", Col::U32(vec![epoch; rows.len()]))
        .col(
            "drops",
            Col::U32(rows.iter().map(|r| r.level.n as u32).collect()),
        )
        .col("level_mean", lm)
        .col("level_ci_low", ll)
        .col("level_ci_high", lh)
        .col(
            "reference",
            strs(&|r| r.reference.clone().unwrap_or_default()),
        )
        .col("delta_mean", dm)
        .col("delta_ci_low", dl)
        .col("delta_ci_high", dh)
        .col("delta_floor_mean", fm)
        .col("delta_floor_ci_low", fl)
        .col("delta_floor_ci_high", fh)
}

/// `gap.parquet` read back: its rows and the epoch they are at.
pub fn read_gap(path: &Path) -> Result<(Vec<GapRow>, u32)> {
    let l = Loaded::read(path)?;
    let (label, role, scheme, ckm, ingredient, reference) = (
        l.str("label")?,
        l.str("role")?,
        l.str("scheme")?,
        l.str("ckm")?,
        l.str("ingredient")?,
        l.str("reference")?,
    );
    let (epoch, drops) = (l.u64("epoch")?, l.u64("drops")?);
    let triple = |name: &str| -> Result<Vec<Option<MeanCi>>> {
        let (m, lo, hi) = (
            l.opt_f64(&format!("{name}_mean"))?,
            l.opt_f64(&format!("{name}_ci_low"))?,
            l.opt_f64(&format!("{name}_ci_high"))?,
        );
        Ok((0..l.rows())
            .map(|i| {
                m[i].map(|mean| MeanCi {
                    mean,
                    half_width: lo[i].zip(hi[i]).map(|(a, b)| (b - a) / 2.0),
                    n: drops[i] as usize,
                })
            })
            .collect())
    };
    let (level, delta, floor) = (triple("level")?, triple("delta")?, triple("delta_floor")?);
    let rows = (0..l.rows())
        .map(|i| {
            Ok(GapRow {
                label: label[i].clone(),
                role: Role::parse(&role[i]).ok_or_else(|| {
                    ExperimentError::Data(format!(
                        "{}: role `{}`; expected step, extra or floor",
                        path.display(),
                        role[i]
                    ))
                })?,
                scheme: scheme[i].clone(),
                ckm: ckm[i].clone(),
                ingredient: ingredient[i].clone(),
                level: level[i].ok_or_else(|| {
                    ExperimentError::Data(format!("{}: null level_mean", path.display()))
                })?,
                reference: (!reference[i].is_empty()).then(|| reference[i].clone()),
                delta: delta[i],
                delta_floor: floor[i],
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, epoch.first().copied().unwrap_or(0) as u32))
}

/// Total work units (epochs), for progress bars.
pub fn work_units(def: &Definition, base: &Scenario) -> u64 {
    crate::runs::work_units(def, base)
}

/// Run a gap experiment into `out_dir`: the PFR files of every arm
/// ([`run_arms`]), `gap.parquet` and the waterfall `<id>.png`, `<id>.svg`.
pub fn run_gap(
    def: &Definition,
    base: &Scenario,
    runner: &Runner,
    out_dir: &Path,
    progress: Progress,
) -> Result<RunOutput> {
    debug_assert_eq!(def.kind, Kind::Gap);
    let w = def.waterfall.as_ref().ok_or_else(|| {
        ExperimentError::Data(format!("experiment {}: no [waterfall] section", def.id))
    })?;
    let (all, data) = run_arms(def, base, runner, out_dir, progress)?;
    let rows = gap_rows(def, w, &data, &runner.ckm);
    let prov = provenance(def, base, def.seed.unwrap_or(base.seed));
    gap_table(&rows, data.last_epoch).write(&out_dir.join("gap.parquet"), &prov)?;
    plot_gap(
        &rows,
        w,
        &def.title,
        data.last_epoch,
        &out_dir.join(&def.id),
    )?;
    Ok(all)
}

/// "−3.21 ± 1.05" (a Δ with its sign, typographic minus), or the mean alone.
/// A Δ that is zero up to rounding (|Δ| < 1e-9: the same run twice) is "0".
pub fn fmt_delta(m: &MeanCi) -> String {
    let mean = if m.mean.abs() < 1e-9 {
        "0".to_string()
    } else if m.mean > 0.0 {
        format!("+{}", sig(m.mean))
    } else {
        sig(m.mean)
    };
    let s = match m.half_width {
        Some(h) => format!("{mean} ± {}", sig(h)),
        None => mean,
    };
    s.replace('-', "−")
}

fn fmt_level(m: &MeanCi) -> String {
    match m.half_width {
        Some(h) => format!("{} ± {}", sig(m.mean), sig(h)),
        None => sig(m.mean),
    }
    .replace('-', "−")
}

/// The waterfall figure of `rows` (as [`gap_rows`] orders them).
pub fn plot_gap(
    rows: &[GapRow],
    w: &Waterfall,
    title: &str,
    epoch: u32,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let steps: Vec<&GapRow> = rows.iter().filter(|r| r.role == Role::Step).collect();
    let bar = |r: &GapRow, from: Option<f64>| WaterfallBar {
        label: r.label.clone(),
        from,
        to: r.level.mean,
        // The start's CI over drops is not what the steps are read against
        // (they are paired) and would set the scale: its text states it.
        whisker: match (&r.delta, from) {
            (Some(d), Some(_)) => d.half_width,
            _ => None,
        },
        text: match (&r.delta, from) {
            (Some(d), Some(_)) => fmt_delta(d),
            _ => fmt_level(&r.level),
        },
    };
    let mut prev = None;
    let step_bars = steps
        .iter()
        .map(|r| {
            let b = bar(r, prev);
            prev = Some(r.level.mean);
            b
        })
        .collect();
    let last = steps.last().map_or("", |r| w.name(&r.label));
    let extra_bars = rows
        .iter()
        .filter(|r| r.role == Role::Extra)
        .map(|r| bar(r, prev))
        .collect();
    let floor = rows.iter().find(|r| r.role == Role::Floor).map(|r| {
        (
            format!("{} (floor): {}", w.name(&r.label), fmt_level(&r.level)),
            r.level.mean,
        )
    });
    let n = rows.first().map_or(0, |r| r.level.n);
    Ok(fig::save(
        &Figure::Waterfall(WaterfallChart {
            title: format!("{title} (epoch {epoch}, {n} drops)"),
            y_label: format!("accumulated PFR at epoch {epoch} (mean over drops)"),
            steps: step_bars,
            steps_heading: "one ingredient per step: bar = paired Δ to the previous step".into(),
            extras: extra_bars,
            extras_heading: format!("beyond the paper: Δ to {last}"),
            floor,
            whisker_note: "95% CI of the paired Δ".into(),
        }),
        stem,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: &str = r#"
id = "gapx"
kind = "gap"
title = "t"
claim = "c"
drops = 3

[[arms]]
label = "A"
scheme = "fp-salinr-perfect"

[[arms]]
label = "B"
scheme = "sd-uscb:sensing=perfect,cbar=1e6"
ckm = "oracle"

[[arms]]
label = "C"
scheme = "sd-uscb"

[[arms]]
label = "X"
scheme = "sd-uscb:leakage=covariance"

[[arms]]
label = "F"
scheme = "pwmmse"

[waterfall]
steps = ["A", "B", "C"]
extras = ["X"]
floor = "F"
ingredients = { B = "the zero-phase estimate" }
"#;

    /// Per-drop values with different per-arm offsets and drop noise.
    fn data() -> (Definition, PfrData, [[f64; 3]; 5]) {
        let def = Definition::from_toml(DEF, Path::new("gapx.toml")).unwrap();
        let v = [
            [10.0, 12.5, 9.0],
            [8.0, 11.0, 8.5],
            [7.5, 9.0, 6.0],
            [9.0, 8.0, 7.0],
            [1.0, 2.0, 0.5],
        ];
        let mut p = PfrData::default();
        for (a, label) in ["A", "B", "C", "X", "F"].iter().enumerate() {
            for d in 0..3 {
                // Epoch 1 differs: the table must read the last epoch.
                p.push(label, d as u32, 1, 0.0);
                p.push(label, d as u32, 2, v[a][d]);
            }
        }
        (def, p, v)
    }

    fn by_hand(xs: [f64; 3]) -> (f64, f64) {
        let m = xs.iter().sum::<f64>() / 3.0;
        let s2 = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 2.0;
        // t₀.₉₇₅(2) = 4.302 653 (4.303 in printed tables).
        (m, 4.302_652_729_749_5 * (s2 / 3.0).sqrt())
    }

    #[test]
    fn deltas_are_the_paired_per_drop_differences() {
        let (def, data, v) = data();
        let rows = gap_rows(
            &def,
            def.waterfall.as_ref().unwrap(),
            &data,
            &CkmSource::Dir("ckm".into()),
        );
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["A", "B", "C", "X", "F"]);
        let diff = |a: usize, b: usize| [0, 1, 2].map(|d| v[a][d] - v[b][d]);
        // (row, reference row) pairs: steps against the previous, X against C.
        for (r, reference) in [(1, 0), (2, 1), (3, 2)] {
            let d = rows[r].delta.unwrap();
            let (m, h) = by_hand(diff(r, reference));
            assert!((d.mean - m).abs() < 1e-12, "row {r}");
            assert!((d.half_width.unwrap() - h).abs() < 1e-9, "row {r}");
            assert_eq!(rows[r].reference.as_deref(), Some(labels[reference]));
            let f = rows[r].delta_floor.unwrap();
            let (m, h) = by_hand(diff(r, 4));
            assert!((f.mean - m).abs() < 1e-12 && (f.half_width.unwrap() - h).abs() < 1e-9);
        }
        assert!(rows[0].delta.is_none() && rows[4].delta.is_none());
        assert!(rows[4].delta_floor.is_none());
        let (m, h) = by_hand(v[1]);
        assert!((rows[1].level.mean - m).abs() < 1e-12);
        assert!((rows[1].level.half_width.unwrap() - h).abs() < 1e-9);
        assert_eq!(rows[1].ingredient, "the zero-phase estimate");
        assert_eq!(rows[2].ingredient, "C");
        assert_eq!(rows[1].ckm, "oracle");
        assert_eq!(rows[2].ckm, "dir:ckm");
        assert_eq!(rows[0].ckm, "none");
        // The steps' Δs add up to last − first (telescoping).
        let total: f64 = rows[1..3].iter().map(|r| r.delta.unwrap().mean).sum();
        assert!((total - (rows[2].level.mean - rows[0].level.mean)).abs() < 1e-12);
    }

    #[test]
    fn gap_parquet_reads_back_what_was_written() {
        let (def, data, _) = data();
        let rows = gap_rows(
            &def,
            def.waterfall.as_ref().unwrap(),
            &data,
            &CkmSource::Dir("ckm".into()),
        );
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("gap.parquet");
        let base =
            Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke").unwrap();
        gap_table(&rows, 2)
            .write(&path, &provenance(&def, &base, 1))
            .unwrap();
        let (back, epoch) = read_gap(&path).unwrap();
        assert_eq!(epoch, 2);
        assert_eq!(back.len(), rows.len());
        for (a, b) in rows.iter().zip(&back) {
            assert_eq!(
                (&a.label, a.role, &a.reference),
                (&b.label, b.role, &b.reference)
            );
            for (x, y) in [(Some(a.level), Some(b.level)), (a.delta, b.delta)] {
                assert_eq!(x.is_some(), y.is_some());
                if let (Some(x), Some(y)) = (x, y) {
                    assert!((x.mean - y.mean).abs() < 1e-12);
                    assert!((x.half_width.unwrap() - y.half_width.unwrap()).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn the_waterfall_renders() {
        let (def, data, _) = data();
        let rows = gap_rows(
            &def,
            def.waterfall.as_ref().unwrap(),
            &data,
            &CkmSource::Dir("ckm".into()),
        );
        let tmp = tempfile::tempdir().unwrap();
        let w = def.waterfall.as_ref().unwrap();
        let (png, svg) = plot_gap(&rows, w, "Gap", 2, &tmp.path().join("gapx")).unwrap();
        for p in [png, svg] {
            assert!(std::fs::metadata(&p).unwrap().len() > 1000);
        }
    }
}
