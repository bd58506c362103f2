//! STEP 4 of the recovery: the swap refinement, and the exact least-squares
//! refit on a support from the Gram matrix.

use super::{Dictionary, Gram, OlsInfo, OlsParams, Work};

/// STEP 4: swap refinement. Greedy OLS can lock onto a bin next to a true
/// one (neighbouring RSRP columns are nearly parallel when bins are finer
/// than the beams); try moving each selected bin within ±radius, keep the
/// best strictly positive refit that lowers the residual, repeat.
///
/// For position p the other bins S' are factorised once (G_{S'} = LLᵀ,
/// y = L⁻¹c_{S'}); a candidate j then costs one triangular solve:
/// b = L⁻¹G_{S',j}, u = G_jj − ‖b‖², w = c_j − bᵀy, residual
/// ‖r̄‖² − ‖y‖² − w²/u, new coefficient w/u, old ones L⁻ᵀ(y − (w/u)·b).
#[inline(always)]
pub(super) fn refine<G: Gram>(
    dict: &Dictionary,
    gram: &G,
    params: &OlsParams,
    work: &mut Work,
    info: &mut OlsInfo,
) {
    let nq = dict.bins;
    let Work {
        x,
        support,
        c,
        trial,
        chol,
        y,
        b,
        fit,
        ..
    } = work;
    let k = support.len();
    if k == 0 || params.refine_passes == 0 {
        return;
    }
    let m = k - 1;
    let tol = params.rel_tol * info.initial_sq;
    let mut residual = info.residual_sq;
    for _pass in 0..params.refine_passes {
        let mut improved = false;
        for pos in 0..k {
            let cur = support[pos];
            trial.clear();
            trial.extend(
                support
                    .iter()
                    .enumerate()
                    .filter(|&(p, _)| p != pos)
                    .map(|(_, &j)| j),
            );
            if !cholesky(gram, trial, chol) {
                continue;
            }
            let mut base = info.initial_sq;
            for i in 0..m {
                let s: f64 = (0..i).map(|l| chol[i * m + l] * y[l]).sum();
                y[i] = (c[trial[i]] - s) / chol[i * m + i];
                base -= y[i] * y[i];
            }
            let mut best: Option<(usize, f64)> = None;
            let lo = cur.saturating_sub(params.refine_radius);
            let hi = (cur + params.refine_radius).min(nq - 1);
            for j in lo..=hi {
                if support.contains(&j) {
                    continue;
                }
                let mut uj = gram.diag()[j];
                let mut wj = c[j];
                for i in 0..m {
                    let s: f64 = (0..i).map(|l| chol[i * m + l] * b[l]).sum();
                    b[i] = (gram.at(trial[i], j) - s) / chol[i * m + i];
                    uj -= b[i] * b[i];
                    wj -= b[i] * y[i];
                }
                if uj <= gram.floor()[j] || wj <= 0.0 {
                    continue;
                }
                let res = base - wj * wj / uj;
                if best.is_some_and(|(_, br)| res >= br) {
                    continue;
                }
                let t = wj / uj;
                let mut positive = true;
                for i in (0..m).rev() {
                    let s: f64 = (i + 1..m).map(|l| chol[l * m + i] * fit[l]).sum();
                    fit[i] = (y[i] - t * b[i] - s) / chol[i * m + i];
                    positive &= fit[i] > 0.0;
                }
                if positive {
                    best = Some((j, res));
                }
            }
            if let Some((j, res)) = best
                && residual - res > tol
            {
                support[pos] = j;
                residual = res;
                info.swaps += 1;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    if info.swaps > 0 {
        let res = refit(gram, c, info.initial_sq, support, chol, fit)
            .expect("the accepted support was solvable");
        x[..k].copy_from_slice(&fit[..k]);
        info.residual_sq = res;
    }
}

/// Cholesky G_S = LLᵀ into `chol` (row-major |S|×|S|, lower); false if G_S
/// is numerically singular.
#[inline(always)]
fn cholesky<G: Gram>(gram: &G, support: &[usize], chol: &mut [f64]) -> bool {
    let k = support.len();
    for i in 0..k {
        for j in 0..=i {
            let mut s = gram.at(support[i], support[j]);
            for l in 0..j {
                s -= chol[i * k + l] * chol[j * k + l];
            }
            if i == j {
                if s <= gram.floor()[support[i]] {
                    return false;
                }
                chol[i * k + i] = s.sqrt();
            } else {
                chol[i * k + j] = s / chol[j * k + j];
            }
        }
    }
    true
}

/// Least squares on `support` from the Gram matrix: solves G_S x = c_S by
/// Cholesky into `fit`, returns ‖r̄ − Φ_S x‖² = ‖r̄‖² − xᵀc_S, or `None` if
/// G_S is numerically singular.
#[inline(always)]
fn refit<G: Gram>(
    gram: &G,
    c: &[f64],
    rr: f64,
    support: &[usize],
    chol: &mut [f64],
    fit: &mut [f64],
) -> Option<f64> {
    let k = support.len();
    if !cholesky(gram, support, chol) {
        return None;
    }
    for i in 0..k {
        let s: f64 = (0..i).map(|l| chol[i * k + l] * fit[l]).sum();
        fit[i] = (c[support[i]] - s) / chol[i * k + i];
    }
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|l| chol[l * k + i] * fit[l]).sum();
        fit[i] = (fit[i] - s) / chol[i * k + i];
    }
    let xc: f64 = (0..k).map(|i| fit[i] * c[support[i]]).sum();
    Some(rr - xc)
}
