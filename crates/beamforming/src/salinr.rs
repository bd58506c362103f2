//! The SALINR surrogate and its PF objective (SPEC §10.1):
//!
//! ```text
//! γ̃_k = |h_kᴴ v_k|² / ( Σ_{i≠k} |h_kᴴ v_i|² + L_k + σc² ),
//! L_k = Σ_j v_jᴴ D̂ v_j   (SALINR, eq. (10)–(11))   or   L_k = v_kᴴ D v_k   (SLINR, eq. (9)),
//! objective = Σ_k w_k ln(1 + γ̃_k)   (natural log),
//! ```
//!
//! and the sensing error variance of eq. (17):
//! σ²_{k,ī} = a_ī² (Σ_{j≠k} b_k |a_kᴴ v_j|² + σz²) / (b_k |a_kᴴ v_k|²).

use crate::Beams;
use crate::c64;
use crate::error::{BeamformingError, dim_err};
use crate::linalg::{dotc, gram, leakages};
use crate::problem::{Leakage, SalinrProblem};

/// γ̃_k of every scheduled user at `beams` (K×Nt, row k = v_k), in the problem's units.
pub fn sinr(problem: &SalinrProblem, beams: &Beams) -> Result<Vec<f64>, BeamformingError> {
    problem.validate()?;
    check_beams(problem, beams)?;
    let (k, nt) = problem.channels.dim();
    let h: Vec<c64> = problem.channels.iter().copied().collect();
    let v: Vec<c64> = beams.iter().copied().collect();
    let d: Vec<c64> = problem.leakage.matrix().iter().copied().collect();
    let per_user = matches!(problem.leakage, Leakage::PerUser(_));
    Ok(sinr_flat(&h, &d, per_user, problem.noise_power, &v, k, nt))
}

/// The PF objective Σ_k w_k ln(1 + γ̃_k) at `beams`.
pub fn objective(problem: &SalinrProblem, beams: &Beams) -> Result<f64, BeamformingError> {
    let g = sinr(problem, beams)?;
    Ok(problem
        .weights
        .iter()
        .zip(&g)
        .map(|(w, g)| w * g.ln_1p())
        .sum())
}

/// σ²_{k,ī}(v) of every user (None if the problem has no sensing data).
/// A user with a(θ̂_k)ᴴ v_k = 0 gets +∞.
pub fn sensing_variances(
    problem: &SalinrProblem,
    beams: &Beams,
) -> Result<Option<Vec<f64>>, BeamformingError> {
    problem.validate()?;
    check_beams(problem, beams)?;
    let Some(s) = &problem.sensing else {
        return Ok(None);
    };
    let k = problem.num_users();
    let mut out = Vec::with_capacity(k);
    for u in 0..k {
        let a = s.steering.row(u);
        let a = a
            .as_slice()
            .map(<[c64]>::to_vec)
            .unwrap_or_else(|| a.to_vec());
        let mut interf = 0.0;
        let mut own = 0.0;
        for j in 0..k {
            let vj = beams.row(j).to_vec();
            let g = dotc(&a, &vj).norm_sqr() * s.echo_gain[u];
            if j == u {
                own = g;
            } else {
                interf += g;
            }
        }
        out.push(if own > 0.0 {
            s.error_scale_sq * (interf + s.sensing_noise) / own
        } else {
            f64::INFINITY
        });
    }
    Ok(Some(out))
}

pub(crate) fn check_beams(problem: &SalinrProblem, beams: &Beams) -> Result<(), BeamformingError> {
    if beams.dim() != problem.channels.dim() {
        return Err(dim_err(
            "beams",
            format!("{:?}", problem.channels.dim()),
            format!("{:?}", beams.dim()),
        ));
    }
    crate::problem::check_finite_c("beams", beams.iter())
}

/// γ̃ on flat row-major data: h K×Nt, d Nt×Nt, v K×Nt.
pub(crate) fn sinr_flat(
    h: &[c64],
    d: &[c64],
    per_user: bool,
    noise: f64,
    v: &[c64],
    k: usize,
    nt: usize,
) -> Vec<f64> {
    sinr_from(&leakages(d, v, k, nt), &gram(h, v, k, nt), per_user, noise)
}

/// γ̃ from the leakages v_jᴴ D v_j and the amplitudes `amp[u·K + j]` = h_uᴴ v_j.
pub(crate) fn sinr_from(leak: &[f64], amp: &[c64], per_user: bool, noise: f64) -> Vec<f64> {
    let k = leak.len();
    let total: f64 = leak.iter().sum();
    (0..k)
        .map(|u| {
            let mut sig = 0.0;
            let mut den = noise + if per_user { leak[u] } else { total };
            for j in 0..k {
                let g = amp[u * k + j].norm_sqr();
                if j == u {
                    sig = g;
                } else {
                    den += g;
                }
            }
            sig / den
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn single_user_snr_and_leakage_models() {
        // One antenna, two users: h = [1, 2], v = [1, 1], D = [0.5].
        let ch = array![[c64::new(1.0, 0.0)], [c64::new(2.0, 0.0)]];
        let v = array![[c64::new(1.0, 0.0)], [c64::new(0.0, 1.0)]];
        let mut p = SalinrProblem {
            channels: ch,
            leakage: Leakage::Averaged(array![[c64::new(0.5, 0.0)]]),
            weights: vec![1.0, 2.0],
            noise_power: 1.0,
            power_budget: 2.0,
            sensing: None,
        };
        // L̃ = 0.5 + 0.5 = 1: γ0 = 1/(1 + 1 + 1), γ1 = 4/(4 + 1 + 1).
        let g = sinr(&p, &v).unwrap();
        assert!((g[0] - 1.0 / 3.0).abs() < 1e-15 && (g[1] - 4.0 / 6.0).abs() < 1e-15);
        let obj = objective(&p, &v).unwrap();
        assert!((obj - ((4.0f64 / 3.0).ln() + 2.0 * (10.0f64 / 6.0).ln())).abs() < 1e-14);
        // SLINR: L̂_k = 0.5 each.
        p.leakage = Leakage::PerUser(array![[c64::new(0.5, 0.0)]]);
        let g = sinr(&p, &v).unwrap();
        assert!((g[0] - 1.0 / 2.5).abs() < 1e-15 && (g[1] - 4.0 / 5.5).abs() < 1e-15);
    }
}
