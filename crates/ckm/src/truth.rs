//! Recovery error against the simulated truth (for the quality table of
//! `build-ckm`, when the RSRP was generated in the scenario's world).
//!
//! ```text
//! true vector     h̄ = Σ_q sqrt(α_q) a(θ_q)          (zero phases, the form of eq. (36))
//! true covariance R = Σ_q α_q a(θ_q) a(θ_q)ᴴ
//! NMSE_h = ‖ĥ − h̄‖² / ‖h̄‖²,   NMSE_R = ‖R̂ − R‖_F² / ‖R‖_F²
//! ```
//!
//! Both are evaluated in closed form from the ULA's inner products
//! a(θ)ᴴa(φ) = (1/N) Σ_n e^{jπn(sinφ − sinθ)} (a Dirichlet kernel), so a
//! cell costs O((Np + Np)²), not O(Nt²).

use rayon::prelude::*;
use sdusc_formats::ckm_file::{CellState, Ckm};
use sdusc_model::C64;
use sdusc_model::channel::Environment;
use sdusc_model::geometry::Point;

/// a(θ)ᴴa(φ) of an `n`-element half-wavelength ULA.
pub fn steering_inner(n: usize, theta: f64, phi: f64) -> C64 {
    let x = std::f64::consts::PI * (phi.sin() - theta.sin());
    let nf = n as f64;
    let half = 0.5 * x;
    let ratio = if half.sin().abs() < 1e-12 {
        nf * (nf * half).cos() / half.cos()
    } else {
        (nf * half).sin() / half.sin()
    };
    C64::from_polar(ratio / nf, (nf - 1.0) * half)
}

/// NMSE of ĥ and R̂ of one cell against the true paths `(θ, α)`.
pub fn cell_nmse(n: usize, est: &[(f64, f64)], truth: &[(f64, f64)]) -> (f64, f64) {
    // Signed coefficients over the union of angles: estimate +, truth −.
    let terms: Vec<(f64, f64, f64)> = est
        .iter()
        .map(|&(t, a)| (t, a.sqrt(), a))
        .chain(truth.iter().map(|&(t, a)| (t, -a.sqrt(), -a)))
        .collect();
    let (mut eh, mut er, mut th, mut tr) = (0.0, 0.0, 0.0, 0.0);
    for (i, &(ti, si, ai)) in terms.iter().enumerate() {
        for (j, &(tj, sj, aj)) in terms.iter().enumerate() {
            let g = steering_inner(n, ti, tj);
            eh += si * sj * g.re;
            er += ai * aj * g.norm_sqr();
            if i >= est.len() && j >= est.len() {
                th += si * sj * g.re;
                tr += ai * aj * g.norm_sqr();
            }
        }
    }
    (eh.max(0.0) / th, er.max(0.0) / tr)
}

/// Summary of NMSEs over a set of cells (linear means and medians).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NmseSummary {
    pub cells: usize,
    pub h_mean: f64,
    pub h_median: f64,
    pub cov_mean: f64,
    pub cov_median: f64,
}

impl NmseSummary {
    fn of(mut h: Vec<f64>, mut r: Vec<f64>) -> Self {
        let n = h.len();
        if n == 0 {
            return Self {
                cells: 0,
                h_mean: f64::NAN,
                h_median: f64::NAN,
                cov_mean: f64::NAN,
                cov_median: f64::NAN,
            };
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let median = |v: &mut [f64]| {
            v.sort_unstable_by(f64::total_cmp);
            v[v.len() / 2]
        };
        Self {
            cells: n,
            h_mean: mean(&h),
            h_median: median(&mut h),
            cov_mean: mean(&r),
            cov_median: median(&mut r),
        }
    }
}

/// NMSE of every measured and every filled cell of `ckm` (the map of BS
/// `bs`) against the true paths of `env` at the cell centres.
pub fn truth_nmse(ckm: &Ckm, env: &Environment, bs: usize) -> (NmseSummary, NmseSummary) {
    let h = &ckm.header;
    let n = h.tx_antennas as usize;
    let per_cell: Vec<Option<(bool, f64, f64)>> = (0..ckm.num_cells())
        .into_par_iter()
        .map(|c| {
            let state = ckm.states[c];
            if !state.has_estimate() {
                return None;
            }
            let (x, y) = h.cell_centre(c % h.nx as usize, c / h.nx as usize);
            let truth: Vec<(f64, f64)> = env
                .paths(bs, Point::new(x, y))
                .iter()
                .map(|p| (p.theta, p.power))
                .collect();
            let est: Vec<(f64, f64)> = ckm
                .paths(c)
                .iter()
                .map(|p| (h.bin_angles_rad[p.bin as usize], p.power))
                .collect();
            let (eh, er) = cell_nmse(n, &est, &truth);
            Some((state == CellState::Measured, eh, er))
        })
        .collect();
    let split = |measured: bool| {
        let (hs, rs): (Vec<f64>, Vec<f64>) = per_cell
            .iter()
            .flatten()
            .filter(|t| t.0 == measured)
            .map(|t| (t.1, t.2))
            .unzip();
        NmseSummary::of(hs, rs)
    };
    (split(true), split(false))
}

#[cfg(test)]
mod tests {
    use sdusc_model::array::{dot_h, steering};

    use super::*;

    #[test]
    fn closed_form_inner_product_matches_the_vectors() {
        for n in [1usize, 2, 8, 32] {
            for &(t, p) in &[
                (0.1, 0.4),
                (-1.2, 2.0),
                (0.3, 0.3),
                (1.5, -1.5),
                (0.5, std::f64::consts::PI - 0.5),
            ] {
                let want = dot_h(&steering(n, t), &steering(n, p));
                let got = steering_inner(n, t, p);
                assert!(
                    (want - got).norm() < 1e-9,
                    "n={n} ({t},{p}): {want} vs {got}"
                );
            }
        }
    }

    #[test]
    fn nmse_is_zero_for_the_truth_and_one_for_nothing() {
        let truth = [(0.2, 1e-9), (-0.7, 3e-10)];
        let (h, r) = cell_nmse(16, &truth, &truth);
        assert!(h < 1e-12 && r < 1e-12);
        let (h, r) = cell_nmse(16, &[], &truth);
        assert!((h - 1.0).abs() < 1e-12 && (r - 1.0).abs() < 1e-12);
    }
}
