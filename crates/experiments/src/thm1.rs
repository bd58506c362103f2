//! Monte Carlo of Theorem 1 (the SALINR surrogate approximates the true ICI
//! better than the SLINR one).
//!
//! Set-up of the theorem (Appendix A): L cells each scheduling |S| users,
//! fixed beams with ‖v‖² = P, independent Rayleigh channels h ~ CN(0, I_Nt).
//! For a user k of cell ℓ, with R(x) = ln(1 + S_k / (T_k + x + σ²)),
//!
//! ```text
//! S_k = |h_kᴴ v_k|²,  T_k = Σ_{i∈Sℓ, i≠k} |h_kᴴ v_i|²          signal, intra-cell interference
//! I_k = Σ_{m≠ℓ} Σ_{t∈Sm} |h_{m,k}ᴴ v_t|²                       true ICI
//! L̂_k = Σ_{m≠ℓ} Σ_{t∈Sm} |h_{ℓ,t}ᴴ v_k|²                       SLINR leakage (9)
//! L̃  = (1/|S|) Σ_{j∈Sℓ} L̂_j                                    SALINR averaged leakage (10)
//! ```
//!
//! the errors are |R(L̂_k) − R(I_k)| and |R(L̃) − R(I_k)|. With M = (L − 1)|S|
//! and Z̄ = E[Z²], Z = S/(σ²(σ² + S)), S ~ Exp(P), the proof's (45)–(47) give
//!
//! ```text
//! E|R(L̂) − R(I)| ≤ P √Z̄ √(2M),   E|R(L̃) − R(I)| ≤ P √Z̄ √(M (1 + 1/|S|)).
//! ```
//!
//! The theorem as printed swaps the two symbols (it names L̃ the SLINR term)
//! and writes P Z̄ for P √Z̄; the bounds above follow the proof. The ICI mean
//! squared errors of (46)–(47), 2MP² and MP²(1 + 1/|S|), are checked too.

use std::path::{Path, PathBuf};

use num_complex::Complex64 as C;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use sdusc_stats::{MeanCi, mean_ci};

use crate::definition::{Definition, Theorem1Setup};
use crate::table::{Col, Table};
use crate::{ExperimentError, Progress, Result, ensure_dir};
use sdusc_report::fig::{self, Figure, Panel, Series, StackedChart};

/// Result for one |S|.
#[derive(Debug, Clone, PartialEq)]
pub struct Thm1Row {
    pub scheduled: usize,
    pub interferers: usize,
    pub salinr_err: MeanCi,
    pub slinr_err: MeanCi,
    /// Paired per trial: SLINR error − SALINR error.
    pub diff: MeanCi,
    /// E[(L̃ − I)²]/(MP²) (theory 1 + 1/|S|) and E[(L̂ − I)²]/(MP²) (theory 2).
    pub salinr_ici_mse: f64,
    pub slinr_ici_mse: f64,
    pub salinr_bound: f64,
    pub slinr_bound: f64,
}

fn cn(rng: &mut impl Rng, n: usize) -> Vec<C> {
    let s = std::f64::consts::FRAC_1_SQRT_2;
    (0..n)
        .map(|_| {
            let re: f64 = StandardNormal.sample(rng);
            let im: f64 = StandardNormal.sample(rng);
            C::new(re * s, im * s)
        })
        .collect()
}

fn gain(h: &[C], v: &[C]) -> f64 {
    h.iter()
        .zip(v)
        .map(|(a, b)| a.conj() * b)
        .sum::<C>()
        .norm_sqr()
}

/// Z̄ = E[Z²] for S ~ Exp(P), by the trapezoid rule on s = P u, u ∈ [0, 60].
pub fn z_bar(power: f64, noise: f64) -> f64 {
    let n = 60_000;
    let du = 60.0 / n as f64;
    let f = |u: f64| {
        let s = power * u;
        let z = s / (noise * (noise + s));
        z * z * (-u).exp()
    };
    (0..=n)
        .map(|i| {
            let w = if i == 0 || i == n { 0.5 } else { 1.0 };
            w * f(i as f64 * du)
        })
        .sum::<f64>()
        * du
}

/// One |S|: `trials` channel draws against fixed beams.
pub fn simulate(setup: &Theorem1Setup, s: usize) -> Thm1Row {
    let nt = setup.antennas;
    let l = setup.cells;
    let m = (l - 1) * s;
    let power = 1.0;
    // SNR calibration of SPEC §4.4 with E‖h‖² = Nt: P / σ² = 10^(snr/10).
    let noise = power / 10f64.powf(setup.snr_db / 10.0);
    // Fixed beams, ‖v‖² = P: own cell's |S| beams, then the other cells' M.
    let mut rng = StdRng::seed_from_u64(setup.seed ^ (s as u64).wrapping_mul(0x9E37_79B9));
    let beam = |rng: &mut StdRng| {
        let v = cn(rng, nt);
        let norm = v.iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt();
        v.into_iter()
            .map(|x| x * (power.sqrt() / norm))
            .collect::<Vec<_>>()
    };
    let own: Vec<Vec<C>> = (0..s).map(|_| beam(&mut rng)).collect();
    let other: Vec<Vec<C>> = (0..m).map(|_| beam(&mut rng)).collect();
    let per_trial: Vec<[f64; 4]> = (0..setup.trials)
        .into_par_iter()
        .map(|trial| {
            let mut rng = StdRng::seed_from_u64(
                setup.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ ((s as u64) << 40) ^ trial as u64,
            );
            // Leakage channels h_{ℓ,t} from BS ℓ to the other cells' users.
            let leak: Vec<Vec<C>> = (0..m).map(|_| cn(&mut rng, nt)).collect();
            let lhat: Vec<f64> = own
                .iter()
                .map(|v| leak.iter().map(|h| gain(h, v)).sum())
                .collect();
            let ltilde = lhat.iter().sum::<f64>() / s as f64;
            let (mut e_sa, mut e_sl, mut q_sa, mut q_sl) = (0.0, 0.0, 0.0, 0.0);
            for k in 0..s {
                let h = cn(&mut rng, nt);
                let sig = gain(&h, &own[k]);
                let intra: f64 = (0..s).filter(|i| *i != k).map(|i| gain(&h, &own[i])).sum();
                // One channel per other BS, carrying that BS's |S| beams.
                let mut ici = 0.0;
                for b in 0..l - 1 {
                    let g = cn(&mut rng, nt);
                    ici += other[b * s..(b + 1) * s]
                        .iter()
                        .map(|v| gain(&g, v))
                        .sum::<f64>();
                }
                let r = |x: f64| (1.0 + sig / (intra + x + noise)).ln();
                e_sa += (r(ltilde) - r(ici)).abs();
                e_sl += (r(lhat[k]) - r(ici)).abs();
                q_sa += (ltilde - ici).powi(2);
                q_sl += (lhat[k] - ici).powi(2);
            }
            let n = s as f64;
            [e_sa / n, e_sl / n, q_sa / n, q_sl / n]
        })
        .collect();
    let col = |i: usize| per_trial.iter().map(|x| x[i]).collect::<Vec<f64>>();
    let mp2 = m as f64 * power * power;
    let zb = z_bar(power, noise).sqrt();
    Thm1Row {
        scheduled: s,
        interferers: m,
        salinr_err: mean_ci(&col(0)),
        slinr_err: mean_ci(&col(1)),
        diff: mean_ci(&per_trial.iter().map(|x| x[1] - x[0]).collect::<Vec<_>>()),
        salinr_ici_mse: mean_ci(&col(2)).mean / mp2,
        slinr_ici_mse: mean_ci(&col(3)).mean / mp2,
        salinr_bound: power * zb * (m as f64 * (1.0 + 1.0 / s as f64)).sqrt(),
        slinr_bound: power * zb * (2.0 * m as f64).sqrt(),
    }
}

/// Work units (|S| values), for progress bars.
pub fn work_units(def: &Definition) -> u64 {
    def.theorem1
        .as_ref()
        .map_or(0, |t| t.scheduled.len() as u64)
}

/// Run thm1 into `out_dir`: `thm1.parquet` (one row per |S|) and the figure.
pub fn run_thm1(def: &Definition, out_dir: &Path, progress: Progress) -> Result<Vec<Thm1Row>> {
    let setup = def
        .theorem1
        .as_ref()
        .ok_or_else(|| ExperimentError::Data(format!("{}: no [theorem1] section", def.id)))?;
    ensure_dir(out_dir)?;
    let rows: Vec<Thm1Row> = setup
        .scheduled
        .iter()
        .map(|&s| {
            let r = simulate(setup, s);
            progress(1);
            r
        })
        .collect();
    let prov = sdusc_formats::provenance::Provenance::new(
        "sdusc-paper",
        "theorem1-rayleigh",
        "",
        setup.seed,
    )
    .with("experiment", &def.id)
    .with("kind", "theorem1")
    .with("title", &def.title)
    .with("claim", &def.claim)
    .with("trials", setup.trials)
    .with("definition", serde_json::to_string(def).unwrap_or_default());
    table(&rows).write(&out_dir.join("thm1.parquet"), &prov)?;
    plot(&rows, &def.title, setup.trials, &out_dir.join(&def.id))?;
    Ok(rows)
}

fn lo(m: &MeanCi) -> Option<f64> {
    m.half_width.map(|h| m.mean - h)
}
fn hi(m: &MeanCi) -> Option<f64> {
    m.half_width.map(|h| m.mean + h)
}

pub fn table(rows: &[Thm1Row]) -> Table {
    let f = |g: &dyn Fn(&Thm1Row) -> f64| Col::F64(rows.iter().map(g).collect());
    let o = |g: &dyn Fn(&Thm1Row) -> Option<f64>| Col::OptF64(rows.iter().map(g).collect());
    Table::new()
        .col(
            "scheduled",
            Col::U32(rows.iter().map(|r| r.scheduled as u32).collect()),
        )
        .col(
            "interferers",
            Col::U32(rows.iter().map(|r| r.interferers as u32).collect()),
        )
        .col(
            "trials",
            Col::U32(rows.iter().map(|r| r.diff.n as u32).collect()),
        )
        .col("salinr_rate_err_mean", f(&|r| r.salinr_err.mean))
        .col("salinr_rate_err_ci_low", o(&|r| lo(&r.salinr_err)))
        .col("salinr_rate_err_ci_high", o(&|r| hi(&r.salinr_err)))
        .col("slinr_rate_err_mean", f(&|r| r.slinr_err.mean))
        .col("slinr_rate_err_ci_low", o(&|r| lo(&r.slinr_err)))
        .col("slinr_rate_err_ci_high", o(&|r| hi(&r.slinr_err)))
        .col("diff_mean", f(&|r| r.diff.mean))
        .col("diff_ci_low", o(&|r| lo(&r.diff)))
        .col("diff_ci_high", o(&|r| hi(&r.diff)))
        .col("salinr_ici_mse_over_mp2", f(&|r| r.salinr_ici_mse))
        .col("slinr_ici_mse_over_mp2", f(&|r| r.slinr_ici_mse))
        .col("salinr_bound", f(&|r| r.salinr_bound))
        .col("slinr_bound", f(&|r| r.slinr_bound))
}

/// The error ratio SALINR/SLINR with its 95% CI, from the two errors'
/// means and CIs and the CI of their paired difference (all over the same
/// draws, with the same Student-t quantile t): by the delta method,
/// r = a/b, (h_r/r)² = h_a²/a² + h_b²/b² − 2 c/(ab), where the covariance
/// term c = (h_a² + h_b² − h_d²)/2 follows from var(b − a) = var a + var b − 2 cov.
pub fn ratio_ci(salinr: &MeanCi, slinr: &MeanCi, diff: &MeanCi) -> MeanCi {
    let (a, b) = (salinr.mean, slinr.mean);
    let r = a / b;
    let half_width = match (salinr.half_width, slinr.half_width, diff.half_width) {
        (Some(ha), Some(hb), Some(hd)) if a != 0.0 && b != 0.0 => {
            let c = (ha * ha + hb * hb - hd * hd) / 2.0;
            let rel = ha * ha / (a * a) + hb * hb / (b * b) - 2.0 * c / (a * b);
            Some(r.abs() * rel.max(0.0).sqrt())
        }
        _ => None,
    };
    MeanCi {
        mean: r,
        half_width,
        n: diff.n,
    }
}

/// The rows of `thm1.parquet` read back (for redrawing the figure).
pub fn read_rows(l: &crate::table::Loaded) -> Result<Vec<Thm1Row>> {
    let (s, m, trials) = (l.u64("scheduled")?, l.u64("interferers")?, l.u64("trials")?);
    let f = |n: &str| l.f64(n);
    let triple = |name: &str| -> Result<Vec<MeanCi>> {
        let (mean, lo, hi) = (
            l.f64(&format!("{name}_mean"))?,
            l.opt_f64(&format!("{name}_ci_low"))?,
            l.opt_f64(&format!("{name}_ci_high"))?,
        );
        Ok((0..l.rows())
            .map(|i| MeanCi {
                mean: mean[i],
                half_width: lo[i].zip(hi[i]).map(|(a, b)| (b - a) / 2.0),
                n: trials[i] as usize,
            })
            .collect())
    };
    let (sa, sl, d) = (
        triple("salinr_rate_err")?,
        triple("slinr_rate_err")?,
        triple("diff")?,
    );
    let (qa, ql, ba, bl) = (
        f("salinr_ici_mse_over_mp2")?,
        f("slinr_ici_mse_over_mp2")?,
        f("salinr_bound")?,
        f("slinr_bound")?,
    );
    Ok((0..l.rows())
        .map(|i| Thm1Row {
            scheduled: s[i] as usize,
            interferers: m[i] as usize,
            salinr_err: sa[i],
            slinr_err: sl[i],
            diff: d[i],
            salinr_ici_mse: qa[i],
            slinr_ici_mse: ql[i],
            salinr_bound: ba[i],
            slinr_bound: bl[i],
        })
        .collect())
}

/// The figure: the two mean rate errors on a log axis (their CIs as
/// bands), and under them their ratio SALINR/SLINR with its CI against the
/// bounds' ratio √((1 + 1/|S|)/2) and parity. Labels are plain text (L~,
/// L^): the bitmap font cannot place a combining tilde or hat over L.
pub fn plot(
    rows: &[Thm1Row],
    title: &str,
    trials: usize,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let x: Vec<f64> = rows.iter().map(|r| r.scheduled as f64).collect();
    let series = |label: &str, ms: Vec<MeanCi>| Series {
        label: label.into(),
        x: x.clone(),
        y: ms.iter().map(|m| m.mean).collect(),
        band: Some((
            ms.iter().map(|m| lo(m).unwrap_or(m.mean)).collect(),
            ms.iter().map(|m| hi(m).unwrap_or(m.mean)).collect(),
        )),
    };
    let errors = vec![
        series(
            "SALINR: averaged leakage L~",
            rows.iter().map(|r| r.salinr_err).collect(),
        ),
        series(
            "SLINR: own leakage L^k",
            rows.iter().map(|r| r.slinr_err).collect(),
        ),
    ];
    // |S| = 1: the two surrogates coincide (ratio 1, no CI).
    let ratio: Vec<MeanCi> = rows
        .iter()
        .map(|r| ratio_ci(&r.salinr_err, &r.slinr_err, &r.diff))
        .collect();
    let bound = Series {
        label: "bounds' ratio √((1+1/|S|)/2)".into(),
        x: x.clone(),
        y: rows
            .iter()
            .map(|r| ((1.0 + 1.0 / r.scheduled as f64) / 2.0).sqrt())
            .collect(),
        band: None,
    };
    Ok(fig::save(
        &Figure::Stacked(StackedChart {
            title: format!("{title} ({trials} draws per |S|, 95% CI)"),
            x_label: "scheduled users per cell |S|".into(),
            panels: vec![
                Panel {
                    caption: "(a) mean rate error of each surrogate (log scale)".into(),
                    y_label: "E|R(surrogate) − R(true ICI)| (nats)".into(),
                    series: errors,
                    styles: vec![0, 1],
                    log_y: true,
                    refs: vec![],
                    weight: 3,
                },
                Panel {
                    caption: "(b) error ratio SALINR / SLINR (below 1: SALINR better)".into(),
                    y_label: "error ratio".into(),
                    series: vec![series("error ratio SALINR / SLINR", ratio), bound],
                    styles: vec![2, 2 + fig::COLOURS.len()],
                    log_y: false,
                    refs: vec![("ratio 1 (no advantage)".into(), 1.0)],
                    weight: 2,
                },
            ],
        }),
        stem,
    )?)
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use super::*;

    /// The delta-method CI of the ratio from the two CIs and the paired
    /// difference's CI equals the one from the samples' covariance.
    #[test]
    fn ratio_ci_matches_the_delta_method_on_the_samples() {
        let mut rng = StdRng::seed_from_u64(7);
        for (n, rho) in [(50usize, 0.9), (400, 0.5), (3000, 0.0)] {
            let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for _ in 0..n {
                let z: f64 = rng.random::<f64>();
                let e: f64 = rng.random::<f64>();
                a.push(0.8 + 0.3 * z);
                b.push(1.0 + 0.3 * (rho * z + (1.0 - rho * rho).sqrt() * e));
            }
            let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| y - x).collect();
            let (ma, mb, md) = (mean_ci(&a), mean_ci(&b), mean_ci(&d));
            let r = ratio_ci(&ma, &mb, &md);
            // Reference: var(r) ≈ (var a − 2r cov + r² var b) / (n b̄²).
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            let (xa, xb) = (mean(&a), mean(&b));
            let cov = |u: &[f64], mu: f64, v: &[f64], mv: f64| {
                u.iter()
                    .zip(v)
                    .map(|(x, y)| (x - mu) * (y - mv))
                    .sum::<f64>()
                    / (n - 1) as f64
            };
            let ratio = xa / xb;
            let var = (cov(&a, xa, &a, xa) - 2.0 * ratio * cov(&a, xa, &b, xb)
                + ratio * ratio * cov(&b, xb, &b, xb))
                / (n as f64 * xb * xb);
            let t = ma.half_width.unwrap() / (cov(&a, xa, &a, xa) / n as f64).sqrt();
            assert!((r.mean - ratio).abs() < 1e-12);
            let want = t * var.sqrt();
            let got = r.half_width.unwrap();
            assert!(
                (got - want).abs() < 1e-9 * want.max(1e-12),
                "n {n} rho {rho}: {got} vs {want}"
            );
        }
        // |S| = 1: the two errors are the same draws; ratio 1 with a zero CI.
        let m = MeanCi {
            mean: 0.3,
            half_width: Some(0.01),
            n: 10,
        };
        let zero = MeanCi {
            mean: 0.0,
            half_width: Some(0.0),
            n: 10,
        };
        let r = ratio_ci(&m, &m, &zero);
        assert_eq!(r.mean, 1.0);
        assert!(r.half_width.unwrap() < 1e-12);
    }
}
