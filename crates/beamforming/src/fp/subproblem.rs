//! The convex subproblem (26) of one outer iteration, in normalised units:
//! its data, objective (20)–(21) and linearised constraints (23), (25).

use super::ZERO;
use crate::c64;
use crate::linalg::{dotc, norm_sqr};

/// The convex subproblem (26) in normalised units (module docs).
/// Row-major flat storage: `z` K×Nt, matrices Nt×Nt.
#[derive(Debug, Clone, PartialEq)]
pub struct Subproblem {
    pub num_users: usize,
    pub num_antennas: usize,
    /// z_k, row k.
    pub z: Vec<c64>,
    /// The part of Ã_k shared by all users.
    pub a_common: Vec<c64>,
    /// SLINR: (|ζ_k|² per user, D): Ã_k = a_common + |ζ_k|² D.
    pub own_leakage: Option<(Vec<f64>, Vec<c64>)>,
    /// Power budget (1 after normalisation).
    pub power: f64,
    /// Linearised sensing constraints.
    pub sensing: Option<SubSensing>,
}

/// Linearised sensing constraints of (26) in normalised units:
/// Σ_{j≠k} |a_kᴴ v_j|² + s_k ≤ c (2 Re(conj(α_k) a_kᴴ v_k) − |α_k|²), α_k = a_kᴴ v_k^(r).
#[derive(Debug, Clone, PartialEq)]
pub struct SubSensing {
    /// a_k, row k (K×Nt).
    pub steering: Vec<c64>,
    /// s_k.
    pub noise: Vec<f64>,
    /// c = c̄ / a_ī².
    pub c: f64,
    /// α_k = a_kᴴ v_k^(r).
    pub alpha: Vec<c64>,
    /// Which users carry a constraint (false: relaxed).
    pub constrained: Vec<bool>,
}

impl Subproblem {
    /// Ã_k as a dense row-major matrix.
    pub fn a_tilde(&self, k: usize) -> Vec<c64> {
        let mut a = self.a_common.clone();
        if let Some((coef, d)) = &self.own_leakage {
            for (x, y) in a.iter_mut().zip(d) {
                *x += y * coef[k];
            }
        }
        a
    }

    /// The objective of (26): Σ_k 2 Re(z_kᴴ v_k) − v_kᴴ Ã_k v_k.
    pub fn objective(&self, v: &[c64]) -> f64 {
        let nt = self.num_antennas;
        let mut tmp = vec![ZERO; nt];
        (0..self.num_users)
            .map(|k| {
                let vk = &v[k * nt..(k + 1) * nt];
                crate::linalg::matvec(&self.a_tilde(k), vk, &mut tmp);
                2.0 * dotc(&self.z[k * nt..(k + 1) * nt], vk).re - dotc(vk, &tmp).re
            })
            .sum()
    }

    /// Constraint values of (26), feasible when ≤ 0: entry 0 is Σ‖v_k‖² − P,
    /// then ϕ_k − ψ̃_k for each user (0 for unconstrained users).
    pub fn constraint_values(&self, v: &[c64]) -> Vec<f64> {
        let nt = self.num_antennas;
        let k = self.num_users;
        let mut out = vec![norm_sqr(v) - self.power];
        if let Some(s) = &self.sensing {
            for u in 0..k {
                if !s.constrained[u] {
                    out.push(0.0);
                    continue;
                }
                let a = &s.steering[u * nt..(u + 1) * nt];
                let phi: f64 = (0..k)
                    .filter(|&j| j != u)
                    .map(|j| dotc(a, &v[j * nt..(j + 1) * nt]).norm_sqr())
                    .sum::<f64>()
                    + s.noise[u];
                let al = s.alpha[u];
                let psi = s.c
                    * (2.0 * (al.conj() * dotc(a, &v[u * nt..(u + 1) * nt])).re - al.norm_sqr());
                out.push(phi - psi);
            }
        }
        out
    }
}
