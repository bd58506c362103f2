//! The problem rescaled to unit noise and budget (module docs of [`super`],
//! "Normalisation"), and STEPS 1–2 of an outer iteration on it: the FP
//! variables ξ (19) and ζ (22) that turn the SALINR objective into the
//! subproblem (26).

use super::{SubSensing, Subproblem, ZERO};
use crate::c64;
use crate::linalg::dotc;
use crate::problem::{Leakage, SalinrProblem};
use crate::salinr::sinr_from;

/// The problem in normalised units (module docs).
#[derive(Debug, Clone)]
pub(crate) struct Normalized {
    pub k: usize,
    pub nt: usize,
    pub h: Vec<c64>,
    pub d: Vec<c64>,
    pub per_user: bool,
    pub w: Vec<f64>,
    pub w_scale: f64,
    pub v_scale: f64,
    pub budget: f64,
    pub sensing: Option<NormSensing>,
}

/// v_jᴴ D v_j and h_uᴴ v_j (`amp[u·K + j]`) at one point.
#[derive(Debug, Clone)]
pub(crate) struct PointProducts {
    leak: Vec<f64>,
    amp: Vec<c64>,
}

#[derive(Debug, Clone)]
pub(crate) struct NormSensing {
    pub a: Vec<c64>,
    pub s: Vec<f64>,
    pub c: f64,
}

impl Normalized {
    pub(crate) fn new(p: &SalinrProblem) -> Self {
        let (k, nt) = p.channels.dim();
        let gain = (p.power_budget / p.noise_power).sqrt();
        let h = p.channels.iter().map(|x| x * gain).collect();
        let d = p
            .leakage
            .matrix()
            .iter()
            .map(|x| x * (gain * gain))
            .collect();
        let w_scale = p.weights.iter().copied().fold(0.0, f64::max);
        let w = p.weights.iter().map(|w| w / w_scale).collect();
        let sensing = p.sensing.as_ref().map(|s| NormSensing {
            a: s.steering.iter().copied().collect(),
            s: s.echo_gain
                .iter()
                .map(|b| s.sensing_noise / (p.power_budget * b))
                .collect(),
            c: s.threshold / s.error_scale_sq,
        });
        Self {
            k,
            nt,
            h,
            d,
            per_user: matches!(p.leakage, Leakage::PerUser(_)),
            w,
            w_scale,
            v_scale: p.power_budget.sqrt(),
            budget: p.power_budget,
            sensing,
        }
    }

    /// The products at v that γ̃, the objective and the linearisation share.
    pub(super) fn at(&self, v: &[c64]) -> PointProducts {
        let (k, nt) = (self.k, self.nt);
        PointProducts {
            leak: crate::linalg::leakages(&self.d, v, k, nt),
            amp: crate::linalg::gram(&self.h, v, k, nt),
        }
    }

    /// Objective with the original weights.
    pub(super) fn objective(&self, at: &PointProducts) -> f64 {
        sinr_from(&at.leak, &at.amp, self.per_user, 1.0)
            .iter()
            .zip(&self.w)
            .map(|(g, w)| w * self.w_scale * g.ln_1p())
            .sum()
    }

    /// σ²_k/c̄ − 1 for user k (normalised form: (Σ_{j≠k}|a_kᴴv_j|² + s_k)/(c|a_kᴴv_k|²) − 1).
    pub(super) fn sensing_excess(&self, v: &[c64], u: usize) -> f64 {
        let Some(s) = &self.sensing else {
            return f64::NEG_INFINITY;
        };
        let nt = self.nt;
        let a = &s.a[u * nt..(u + 1) * nt];
        let mut interf = s.s[u];
        let mut own = 0.0;
        for j in 0..self.k {
            let g = dotc(a, &v[j * nt..(j + 1) * nt]).norm_sqr();
            if j == u {
                own = g;
            } else {
                interf += g;
            }
        }
        if own > 0.0 {
            interf / (s.c * own) - 1.0
        } else {
            f64::INFINITY
        }
    }

    /// Step 1–3 of an outer iteration: the subproblem (26) at v (`at` = its products).
    pub(crate) fn linearize(
        &self,
        v: &[c64],
        at: &PointProducts,
        constrained: &[bool],
    ) -> Subproblem {
        let (k, nt) = (self.k, self.nt);
        let (leak, amp) = (&at.leak, &at.amp);
        let total: f64 = leak.iter().sum();
        let mut z = vec![ZERO; k * nt];
        let mut a_common = vec![ZERO; nt * nt];
        let mut zeta_sq = vec![0.0; k];
        for u in 0..k {
            let hu = &self.h[u * nt..(u + 1) * nt];
            let mut sig = ZERO;
            let mut b = 1.0 + if self.per_user { leak[u] } else { total };
            for j in 0..k {
                let g = amp[u * k + j];
                b += g.norm_sqr();
                if j == u {
                    sig = g;
                }
            }
            // STEP 1: ξ_k = γ̃_k.
            let xi = sig.norm_sqr() / (b - sig.norm_sqr());
            // STEP 2: ζ_k (complex, see module docs).
            let s = (self.w[u] * (1.0 + xi)).sqrt();
            let zeta = sig * (s / b);
            zeta_sq[u] = zeta.norm_sqr();
            for (zi, hi) in z[u * nt..(u + 1) * nt].iter_mut().zip(hu) {
                *zi = hi * zeta * s;
            }
        }
        crate::linalg::add_weighted_outers(&mut a_common, &zeta_sq, &self.h, nt);
        let own_leakage = if self.per_user {
            Some((zeta_sq, self.d.clone()))
        } else {
            let zs: f64 = zeta_sq.iter().sum();
            for (x, y) in a_common.iter_mut().zip(&self.d) {
                *x += y * zs;
            }
            None
        };
        let sensing = self.sensing.as_ref().map(|s| SubSensing {
            steering: s.a.clone(),
            noise: s.s.clone(),
            c: s.c,
            alpha: (0..k)
                .map(|u| dotc(&s.a[u * nt..(u + 1) * nt], &v[u * nt..(u + 1) * nt]))
                .collect(),
            constrained: constrained.to_vec(),
        });
        Subproblem {
            num_users: k,
            num_antennas: nt,
            z,
            a_common,
            own_leakage,
            power: 1.0,
            sensing,
        }
    }
}
