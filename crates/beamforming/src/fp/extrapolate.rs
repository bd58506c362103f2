//! STEP 0 of an outer iteration: the extrapolated SCA point (Nesterov
//! momentum, module docs of [`super`], "Extrapolation"), repaired to stay
//! feasible.

use super::Normalized;
use crate::c64;
use crate::linalg::{dotc, norm_sqr};

/// y = v + β (v − v_old), repaired to stay feasible (power ≤ 1, the sensing
/// constraints of the `constrained` users). Returns false if no repair was found.
///
/// Repair: let W be the users whose constraint y violates and Q an orthonormal
/// basis of span{a_u : u ∈ W}. Resetting the Q-components of every row to those
/// of v (y ← y + QQᴴ(v − y)) makes a_uᴴ y_j = a_uᴴ v_j for u ∈ W, so those
/// constraints hold as at v; W grows until no constraint is violated. Power is
/// then restored by shrinking only the part orthogonal to Q (a uniform scaling
/// would break the active sensing constraints, whose noise term does not scale).
pub(super) fn extrapolate(
    n: &Normalized,
    v: &[c64],
    v_old: &[c64],
    beta: f64,
    constrained: &[bool],
    y: &mut [c64],
) -> bool {
    let nt = n.nt;
    for ((yi, a), b) in y.iter_mut().zip(v).zip(v_old) {
        *yi = a + (a - b) * beta;
    }
    let mut basis: Vec<Vec<c64>> = Vec::new();
    let mut in_w = vec![false; n.k];
    let mut coef: Vec<c64> = Vec::with_capacity(n.k);
    // Each round adds at least one user to W, so this ends within K + 1 rounds.
    for _ in 0..=n.k {
        let mut added = false;
        for u in 0..n.k {
            if !constrained[u] || in_w[u] || n.sensing_excess(y, u) <= 0.0 {
                continue;
            }
            let Some(s) = &n.sensing else { return false };
            in_w[u] = true;
            added = true;
            let mut q = s.a[u * nt..(u + 1) * nt].to_vec();
            let n0 = norm_sqr(&q).sqrt();
            for b in &basis {
                let c = dotc(b, &q);
                q.iter_mut().zip(b).for_each(|(x, y)| *x -= y * c);
            }
            let nq = norm_sqr(&q).sqrt();
            if nq <= 1e-10 * n0 {
                continue;
            }
            q.iter_mut().for_each(|x| *x /= nq);
            for (yj, vj) in y.chunks_exact_mut(nt).zip(v.chunks_exact(nt)) {
                let c = dotc(&q, vj) - dotc(&q, yj);
                yj.iter_mut().zip(&q).for_each(|(x, e)| *x += e * c);
            }
            basis.push(q);
        }
        // Power: ‖y‖² = ‖P y‖² + ‖(I−P) y‖², P = QQᴴ; shrink the second part.
        let p_all = norm_sqr(y);
        if p_all > 1.0 {
            let p_in: f64 = y
                .chunks_exact(nt)
                .map(|yj| basis.iter().map(|b| dotc(b, yj).norm_sqr()).sum::<f64>())
                .sum();
            let p_out = p_all - p_in;
            if p_in >= 1.0 || p_out <= 0.0 {
                return false;
            }
            let t = ((1.0 - p_in) / p_out).sqrt() * (1.0 - 1e-12);
            for yj in y.chunks_exact_mut(nt) {
                coef.clear();
                coef.extend(basis.iter().map(|b| dotc(b, yj)));
                yj.iter_mut().for_each(|x| *x *= t);
                for (b, c) in basis.iter().zip(&coef) {
                    yj.iter_mut()
                        .zip(b)
                        .for_each(|(x, e)| *x += e * (c * (1.0 - t)));
                }
            }
            if norm_sqr(y) > 1.0 {
                return false;
            }
            added = true;
        }
        if !added {
            break;
        }
    }
    (0..n.k).all(|u| !constrained[u] || n.sensing_excess(y, u) <= 0.0)
}
