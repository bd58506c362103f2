//! CWMMSE and PWMMSE (SPEC §10.4; Shi, Razaviyayn, Luo, He 2011) for the MISO
//! interfering broadcast channel, maximising Σ_k w_k ln(1 + SINR_k) with per-BS
//! power constraints. One iteration:
//!
//! ```text
//! u_k = h_{b_k,k}ᴴ v_k / (Σ_j |h_{b_j,k}ᴴ v_j|² + σc²)                 (MMSE receiver)
//! ω_k = 1 / (1 − u_k* h_{b_k,k}ᴴ v_k)  (= 1 + SINR_k)                  (MSE weight)
//! v_k = w_k ω_k u_k (Σ_j w_j ω_j |u_j|² h_{m,j} h_{m,j}ᴴ + ν_m I)⁻¹ h_{m,k},  m = b_k,
//! ```
//!
//! with ν_m ≥ 0 the smallest value meeting Σ_{k: b_k=m} ‖v_k‖² ≤ P_m, found by
//! geometric bisection on [ν_min, ν_max] (power is decreasing in ν);
//! ν_min = 1e−10·tr(A_m)/Nt keeps the factorisation regular when A_m is rank
//! deficient (fewer users than antennas), ν_max = sqrt(Σ‖rhs‖²/P_m) is always
//! feasible. The weighted sum rate is non-decreasing over iterations.
//!
//! PWMMSE is the same iteration ([`iterate`]) run by each BS on the network
//! restricted to its own users and its own channels, i.e. with the inter-cell
//! terms dropped from u_k and from the sum over j; its beams are then
//! evaluated with the true SINR ([`crate::evaluate`]) like every scheme.

use std::time::{Duration, Instant};

use ndarray::{Array2, Array3, Axis};

use crate::Beams;
use crate::c64;
use crate::error::{BeamformingError, dim_err, value_err};
use crate::evaluate::{amplitude, check_network, true_sinr, weighted_sum_rate_nats};
use crate::linalg::{Cholesky, add_outer, norm_sqr};

const ZERO: c64 = c64::new(0.0, 0.0);

/// A network-wide (or, for PWMMSE, per-cell) weighted-sum-rate problem.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkProblem {
    /// L×K×Nt: `channels[[m, k, ..]]` = h_{m,k}, the channel from BS m to scheduled user k.
    pub channels: Array3<c64>,
    /// Serving BS of each scheduled user (K entries, < L).
    pub serving: Vec<usize>,
    /// Weights w_k ≥ 0.
    pub weights: Vec<f64>,
    /// σc² (> 0).
    pub noise_power: f64,
    /// P_m per BS (L entries, > 0).
    pub power_budgets: Vec<f64>,
}

impl NetworkProblem {
    /// Validates shapes and values.
    pub fn validate(&self) -> Result<(), BeamformingError> {
        check_network(&self.channels, &self.serving, None)?;
        let (l, k, _) = self.channels.dim();
        if self.weights.len() != k {
            return Err(dim_err(
                "weights",
                format!("{k}"),
                format!("{}", self.weights.len()),
            ));
        }
        if self.weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(value_err(
                "weights",
                "finite and ≥ 0",
                format!("{:?}", self.weights),
            ));
        }
        if !(self.noise_power.is_finite() && self.noise_power > 0.0) {
            return Err(value_err(
                "noise_power",
                "finite and > 0",
                format!("{}", self.noise_power),
            ));
        }
        if self.power_budgets.len() != l {
            return Err(dim_err(
                "power_budgets",
                format!("{l}"),
                format!("{}", self.power_budgets.len()),
            ));
        }
        if self
            .power_budgets
            .iter()
            .any(|p| !(p.is_finite() && *p > 0.0))
        {
            return Err(value_err(
                "power_budgets",
                "finite and > 0",
                format!("{:?}", self.power_budgets),
            ));
        }
        Ok(())
    }
}

/// WMMSE parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct WmmseParams {
    /// Maximum iterations.
    pub max_iter: usize,
    /// Stop when the weighted sum rate improves by less than `rel_tol` (relative).
    pub rel_tol: f64,
}

impl Default for WmmseParams {
    fn default() -> Self {
        Self {
            max_iter: 200,
            rel_tol: 1e-6,
        }
    }
}

/// WMMSE diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct WmmseInfo {
    /// Iterations performed (per cell: the maximum over cells for PWMMSE).
    pub iterations: usize,
    /// Weighted sum rate Σ w ln(1+SINR) (nats) of the model the iteration sees:
    /// initial point, then after every iteration (PWMMSE: summed over cells,
    /// intra-cell model; the true value is in `true_weighted_sum_rate`).
    pub wsr_history: Vec<f64>,
    /// Σ w ln(1+SINR) with the true SINR at return (nats).
    pub true_weighted_sum_rate: f64,
    /// Power multiplier ν_m of each BS at the last iteration (normalised by nothing: problem units).
    pub power_multipliers: Vec<f64>,
    /// Whether the relative-improvement test stopped every run.
    pub converged: bool,
    /// Wall-clock time.
    pub elapsed: Duration,
}

/// Centralised WMMSE over all cells with perfect global CSI.
pub fn cwmmse(
    problem: &NetworkProblem,
    params: &WmmseParams,
) -> Result<(Beams, WmmseInfo), BeamformingError> {
    let start = Instant::now();
    problem.validate()?;
    let (beams, hist, nu, converged) = iterate(problem, params);
    let sinr = true_sinr(
        &problem.channels,
        &problem.serving,
        &beams,
        problem.noise_power,
    )?;
    Ok((
        beams,
        WmmseInfo {
            iterations: hist.len() - 1,
            wsr_history: hist,
            true_weighted_sum_rate: weighted_sum_rate_nats(&sinr, &problem.weights),
            power_multipliers: nu,
            converged,
            elapsed: start.elapsed(),
        },
    ))
}

/// Per-cell WMMSE: each BS runs [`iterate`] on its own users with its own channels only.
pub fn pwmmse(
    problem: &NetworkProblem,
    params: &WmmseParams,
) -> Result<(Beams, WmmseInfo), BeamformingError> {
    let start = Instant::now();
    problem.validate()?;
    let (l, k, nt) = problem.channels.dim();
    let mut beams = Array2::zeros((k, nt));
    let mut hist_total: Vec<f64> = Vec::new();
    let mut nu = vec![0.0; l];
    let mut converged = true;
    let mut iterations = 0;
    for m in 0..l {
        let users: Vec<usize> = (0..k).filter(|&u| problem.serving[u] == m).collect();
        if users.is_empty() {
            continue;
        }
        let cell = NetworkProblem {
            channels: Array3::from_shape_fn((1, users.len(), nt), |(_, i, n)| {
                problem.channels[[m, users[i], n]]
            }),
            serving: vec![0; users.len()],
            weights: users.iter().map(|&u| problem.weights[u]).collect(),
            noise_power: problem.noise_power,
            power_budgets: vec![problem.power_budgets[m]],
        };
        let (b, hist, cnu, conv) = iterate(&cell, params);
        for (i, &u) in users.iter().enumerate() {
            beams.row_mut(u).assign(&b.row(i));
        }
        nu[m] = cnu[0];
        converged &= conv;
        iterations = iterations.max(hist.len() - 1);
        if hist_total.len() < hist.len() {
            // Cells that stopped earlier keep contributing their final value.
            let last = hist_total.last().copied().unwrap_or(0.0);
            hist_total.resize(hist.len(), last);
        }
        let fin = *hist.last().unwrap_or(&0.0);
        for (t, x) in hist_total.iter_mut().enumerate() {
            *x += hist.get(t).copied().unwrap_or(fin);
        }
    }
    let sinr = true_sinr(
        &problem.channels,
        &problem.serving,
        &beams,
        problem.noise_power,
    )?;
    Ok((
        beams,
        WmmseInfo {
            iterations,
            wsr_history: hist_total,
            true_weighted_sum_rate: weighted_sum_rate_nats(&sinr, &problem.weights),
            power_multipliers: nu,
            converged,
            elapsed: start.elapsed(),
        },
    ))
}

/// The WMMSE iteration on a validated problem: (beams, WSR history, ν, converged).
pub fn iterate(p: &NetworkProblem, params: &WmmseParams) -> (Beams, Vec<f64>, Vec<f64>, bool) {
    let (l, k, nt) = p.channels.dim();
    let h = |m: usize, u: usize| p.channels.index_axis(Axis(0), m).row(u).to_vec();
    // Flat copies h[m][u].
    let hf: Vec<Vec<Vec<c64>>> = (0..l).map(|m| (0..k).map(|u| h(m, u)).collect()).collect();
    // Initial beams: MRT with equal power per served user.
    let mut v = vec![ZERO; k * nt];
    for m in 0..l {
        let users: Vec<usize> = (0..k).filter(|&u| p.serving[u] == m).collect();
        for &u in &users {
            let hu = &hf[m][u];
            let n = norm_sqr(hu).sqrt();
            let a = if n > 0.0 {
                (p.power_budgets[m] / users.len() as f64).sqrt() / n
            } else {
                0.0
            };
            for (x, y) in v[u * nt..(u + 1) * nt].iter_mut().zip(hu) {
                *x = y * a;
            }
        }
    }
    let wsr = |v: &[c64]| -> f64 {
        (0..k)
            .map(|u| {
                let mut sig = 0.0;
                let mut den = p.noise_power;
                for j in 0..k {
                    let g = amplitude(&hf[p.serving[j]][u], &v[j * nt..(j + 1) * nt]).norm_sqr();
                    if j == u { sig = g } else { den += g }
                }
                p.weights[u] * (sig / den).ln_1p()
            })
            .sum()
    };
    let mut hist = vec![wsr(&v)];
    let mut nu = vec![0.0; l];
    let mut converged = false;
    let mut chol = Cholesky::new(nt);
    let mut a = vec![ZERO; nt * nt];
    let mut uu = vec![ZERO; k];
    let mut om = vec![0.0; k];
    for _ in 0..params.max_iter {
        // STEP 1: receivers and MSE weights.
        for u in 0..k {
            let mut t = p.noise_power;
            let mut sig = ZERO;
            for j in 0..k {
                let g = amplitude(&hf[p.serving[j]][u], &v[j * nt..(j + 1) * nt]);
                t += g.norm_sqr();
                if j == u {
                    sig = g;
                }
            }
            uu[u] = sig / t;
            // 1 − u* hᴴv = (T − |s|²)/T.
            om[u] = t / (t - sig.norm_sqr()).max(p.noise_power);
        }
        // STEP 2: per-BS transmit update with the power multiplier.
        let mut v_new = vec![ZERO; k * nt];
        for m in 0..l {
            let users: Vec<usize> = (0..k).filter(|&u| p.serving[u] == m).collect();
            if users.is_empty() {
                continue;
            }
            a.iter_mut().for_each(|x| *x = ZERO);
            for j in 0..k {
                add_outer(&mut a, p.weights[j] * om[j] * uu[j].norm_sqr(), &hf[m][j]);
            }
            let rhs: Vec<Vec<c64>> = users
                .iter()
                .map(|&u| {
                    hf[m][u]
                        .iter()
                        .map(|x| x * (uu[u] * p.weights[u] * om[u]))
                        .collect()
                })
                .collect();
            let tr: f64 = (0..nt).map(|i| a[i * nt + i].re).sum::<f64>() / nt as f64;
            let rhs_pow: f64 = rhs.iter().map(|r| norm_sqr(r)).sum();
            let pm = p.power_budgets[m];
            let mut sol = vec![vec![ZERO; nt]; users.len()];
            let mut power_at = |nu_m: f64, sol: &mut Vec<Vec<c64>>| -> f64 {
                let mut b = a.clone();
                for i in 0..nt {
                    b[i * nt + i] += nu_m;
                }
                if !chol.factor(&b) {
                    return f64::INFINITY;
                }
                let mut tot = 0.0;
                for (s, r) in sol.iter_mut().zip(&rhs) {
                    s.copy_from_slice(r);
                    chol.solve_in_place(s);
                    tot += norm_sqr(s);
                }
                tot
            };
            let nu_min = 1e-10 * tr.max(f64::MIN_POSITIVE);
            let nu_m = if power_at(nu_min, &mut sol) <= pm {
                nu_min
            } else {
                let mut lo = nu_min;
                let mut hi = (rhs_pow / pm).sqrt().max(2.0 * nu_min);
                while power_at(hi, &mut sol) > pm {
                    hi *= 2.0;
                }
                for _ in 0..60 {
                    let mid = (lo * hi).sqrt();
                    if power_at(mid, &mut sol) > pm {
                        lo = mid
                    } else {
                        hi = mid
                    }
                }
                let _ = power_at(hi, &mut sol);
                hi
            };
            nu[m] = nu_m;
            for (s, &u) in sol.iter().zip(&users) {
                v_new[u * nt..(u + 1) * nt].copy_from_slice(s);
            }
        }
        v = v_new;
        let f = wsr(&v);
        let prev = *hist.last().unwrap_or(&f);
        hist.push(f);
        if (f - prev).abs() <= params.rel_tol * f.abs() {
            converged = true;
            break;
        }
    }
    (
        Array2::from_shape_vec((k, nt), v).unwrap_or_else(|_| Array2::zeros((k, nt))),
        hist,
        nu,
        converged,
    )
}
