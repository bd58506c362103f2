//! Algorithm 2, line 1: feasible initial beams (module docs of [`super`],
//! "Feasible initialisation"): minimum-power sensing beams by uplink–downlink
//! duality, relaxing users whose constraint cannot be met, plus regularised-ZF
//! communication components orthogonal to the sensed steering vectors.

use super::{Normalized, ZERO, clip_power};
use crate::c64;
use crate::linalg::{Cholesky, add_outer, dotc, norm_sqr, solve_real};

/// Beams of the sensed users and their powers.
type SensingBeams = (Vec<Vec<c64>>, Vec<f64>);

/// Minimum-power beams meeting |g_kᴴv_k|² ≥ γ(Σ_{j≠k}|g_kᴴv_j|² + 1) for the users in
/// `users` (g_k = a_k/√s_k). Ok((beams of those users, powers)) or Err(dual weights)
/// when the targets cannot be met at any power.
fn min_power_sensing(
    n: &Normalized,
    users: &[usize],
    gamma: f64,
) -> Result<SensingBeams, Vec<f64>> {
    let nt = n.nt;
    let Some(s) = &n.sensing else {
        return Ok((Vec::new(), Vec::new()));
    };
    let m = users.len();
    let g: Vec<Vec<c64>> = users
        .iter()
        .map(|&u| {
            s.a[u * nt..(u + 1) * nt]
                .iter()
                .map(|x| x / s.s[u].sqrt())
                .collect()
        })
        .collect();
    let mut lam = vec![0.0; m];
    let mut t = vec![ZERO; nt * nt];
    let mut chol = Cholesky::new(nt);
    let mut dirs = vec![vec![ZERO; nt]; m];
    // Yates' fixed point λ_k ← 1 / ((1 + 1/γ) g_kᴴ T(λ)⁻¹ g_k), T = I + Σ λ_i g_i g_iᴴ.
    for _ in 0..1000 {
        t.iter_mut().for_each(|x| *x = ZERO);
        for i in 0..nt {
            t[i * nt + i] = c64::new(1.0, 0.0);
        }
        for (li, gi) in lam.iter().zip(&g) {
            add_outer(&mut t, *li, gi);
        }
        if !chol.factor(&t) {
            return Err(lam);
        }
        let mut change: f64 = 0.0;
        for i in 0..m {
            dirs[i].copy_from_slice(&g[i]);
            chol.solve_in_place(&mut dirs[i]);
            let y = dotc(&g[i], &dirs[i]).re;
            let new = 1.0 / ((1.0 + 1.0 / gamma) * y);
            change = change.max((new - lam[i]).abs() / new.max(1e-300));
            lam[i] = new;
        }
        if lam.iter().sum::<f64>() > 1e14 || !lam.iter().all(|x| x.is_finite()) {
            return Err(lam);
        }
        if change < 1e-12 {
            break;
        }
    }
    for d in dirs.iter_mut() {
        let nn = norm_sqr(d).sqrt();
        d.iter_mut().for_each(|x| *x /= nn);
    }
    // Downlink powers: (1/γ)|g_kᴴw_k|² p_k − Σ_{j≠k} |g_kᴴw_j|² p_j = 1.
    let mut a = vec![0.0; m * m];
    let mut p = vec![1.0; m];
    for r in 0..m {
        for c in 0..m {
            let x = dotc(&g[r], &dirs[c]).norm_sqr();
            a[r * m + c] = if r == c { x / gamma } else { -x };
        }
    }
    if solve_real(&mut a, &mut p).is_none() || p.iter().any(|x| x.is_nan() || *x <= 0.0) {
        return Err(lam);
    }
    let beams = dirs
        .into_iter()
        .zip(&p)
        .map(|(d, pk)| d.into_iter().map(|x| x * pk.sqrt()).collect())
        .collect();
    Ok((beams, p))
}

/// Feasible initial beams (normalised units), see the module docs.
pub(super) fn init_normalized(n: &Normalized, margin: f64) -> Vec<c64> {
    let (k, nt) = (n.k, n.nt);
    let mut v = vec![ZERO; k * nt];
    let mut sensed: Vec<usize> = Vec::new();
    if let Some(s) = &n.sensing {
        sensed = (0..k).collect();
        let gamma = (1.0 + margin) / s.c;
        while !sensed.is_empty() {
            match min_power_sensing(n, &sensed, gamma) {
                Ok((beams, p)) if p.iter().sum::<f64>() <= 1.0 => {
                    for (u, b) in sensed.iter().zip(beams) {
                        v[u * nt..(u + 1) * nt].copy_from_slice(&b);
                    }
                    break;
                }
                Ok((_, cost)) | Err(cost) => {
                    let worst = (0..cost.len())
                        .max_by(|&i, &j| cost[i].total_cmp(&cost[j]))
                        .unwrap_or(0);
                    sensed.remove(worst);
                }
            }
        }
    }
    // Orthonormal basis of span{a_k : k sensed} (modified Gram–Schmidt).
    let mut basis: Vec<Vec<c64>> = Vec::new();
    if let Some(s) = &n.sensing {
        for &u in &sensed {
            let mut q = s.a[u * nt..(u + 1) * nt].to_vec();
            let n0 = norm_sqr(&q).sqrt();
            for b in &basis {
                let c = dotc(b, &q);
                q.iter_mut().zip(b).for_each(|(x, y)| *x -= y * c);
            }
            let nq = norm_sqr(&q).sqrt();
            if nq > 1e-10 * n0 {
                q.iter_mut().for_each(|x| *x /= nq);
                basis.push(q);
            }
        }
    }
    // Regularised ZF: (Σ h hᴴ + D + K I)⁻¹ h_k, projected, unit norm.
    let mut r = n.d.clone();
    for u in 0..k {
        add_outer(&mut r, 1.0, &n.h[u * nt..(u + 1) * nt]);
    }
    for i in 0..nt {
        r[i * nt + i] += k as f64;
    }
    let mut chol = Cholesky::new(nt);
    let ok = chol.factor(&r);
    let mut comm = vec![ZERO; k * nt];
    for u in 0..k {
        let c = &mut comm[u * nt..(u + 1) * nt];
        c.copy_from_slice(&n.h[u * nt..(u + 1) * nt]);
        if ok {
            chol.solve_in_place(c);
        }
        for b in &basis {
            let x = dotc(b, c);
            c.iter_mut().zip(b).for_each(|(ci, bi)| *ci -= bi * x);
        }
        let nc = norm_sqr(c).sqrt();
        if nc > 0.0 && nc.is_finite() {
            c.iter_mut().for_each(|x| *x /= nc);
        } else {
            c.iter_mut().for_each(|x| *x = ZERO);
        }
    }
    // Σ‖v_s + t u‖² = 1 → a t² + b t + c0 = 1.
    let qa = norm_sqr(&comm);
    let qb: f64 = 2.0 * dotc(&v, &comm).re;
    let c0 = norm_sqr(&v);
    if qa > 1e-20 && c0 < 1.0 {
        let t = (-qb + (qb * qb + 4.0 * qa * (1.0 - c0)).max(0.0).sqrt()) / (2.0 * qa);
        v.iter_mut().zip(&comm).for_each(|(x, y)| *x += y * t);
    } else if c0 > 0.0 {
        let s = 1.0 / c0.sqrt();
        v.iter_mut().for_each(|x| *x *= s);
    }
    clip_power(&mut v);
    v
}
