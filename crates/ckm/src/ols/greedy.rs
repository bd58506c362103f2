//! STEPS 1–3 of the recovery (module docs of [`super`]): correlations
//! c = Φᵀr̄, then greedy selection of the admissible bin of least refit
//! residual, by Gram–Schmidt in coefficient space.

use super::{Dictionary, Gram, OlsInfo, OlsParams, OlsStop, Work};

/// STEPS 1–3: correlations, then greedy selection with exact refits.
#[inline(always)]
pub(super) fn greedy<G: Gram>(
    dict: &Dictionary,
    gram: &G,
    r: &[f64],
    params: &OlsParams,
    work: &mut Work,
) -> OlsInfo {
    let (nq, np) = (dict.bins, params.max_paths);

    // STEP 1: correlations c = Φᵀr̄.
    correlations(dict, r, &mut work.v);
    work.u.copy_from_slice(gram.diag());
    work.c.copy_from_slice(&work.v);
    let initial_sq: f64 = r.iter().map(|v| v * v).sum();
    let mut info = OlsInfo {
        paths: 0,
        initial_sq,
        residual_sq: initial_sq,
        rejected: 0,
        swaps: 0,
        stop: OlsStop::MaxPaths,
    };
    if initial_sq <= 0.0 {
        info.stop = OlsStop::ZeroInput;
        return info;
    }
    let tol = params.rel_tol * initial_sq;

    // STEP 2: greedy selection.
    while work.support.len() < np {
        score_candidates(gram, work);
        let Some((j, t, gain_j)) = best_admissible(nq, np, tol, work, &mut info) else {
            if info.stop != OlsStop::Converged {
                info.stop = OlsStop::NoAdmissible;
            }
            break;
        };
        // STEP 3: accept j.
        accept(gram, nq, np, j, t, work);
        info.residual_sq -= gain_j;
    }
    info
}

/// c = Φᵀr̄ into `v`, four beams per pass over the bins so each pass loads
/// and stores `v` once.
#[inline(always)]
fn correlations(dict: &Dictionary, r: &[f64], v: &mut [f64]) {
    let (nq, nb) = (dict.bins, dict.beams);
    v.fill(0.0);
    let quads = nb / 4 * 4;
    for (rb, rows) in r[..quads]
        .chunks_exact(4)
        .zip(dict.phi[..quads * nq].chunks_exact(4 * nq))
    {
        let (p0, rest) = rows.split_at(nq);
        let (p1, rest) = rest.split_at(nq);
        let (p2, p3) = rest.split_at(nq);
        let (r0, r1, r2, r3) = (rb[0], rb[1], rb[2], rb[3]);
        for ((((vj, a0), a1), a2), a3) in v.iter_mut().zip(p0).zip(p1).zip(p2).zip(p3) {
            *vj += r0 * a0 + r1 * a1 + r2 * a2 + r3 * a3;
        }
    }
    for (b, &rb) in r.iter().enumerate().skip(quads) {
        for (vj, &p) in v.iter_mut().zip(&dict.phi[b * nq..(b + 1) * nq]) {
            *vj += rb * p;
        }
    }
}

/// Every candidate's score v_j²/u_j, the residual drop of adding bin j (bins
/// already chosen have u ≈ 0 and drop out).
#[inline(always)]
fn score_candidates<G: Gram>(gram: &G, work: &mut Work) {
    let Work { u, v, gain, .. } = work;
    for (((gj, &vj), &uj), &fj) in gain
        .iter_mut()
        .zip(v.iter())
        .zip(u.iter())
        .zip(gram.floor())
    {
        let ok = (vj > 0.0) & (uj > fj);
        *gj = if ok { vj * vj / uj } else { 0.0 };
    }
}

/// The best admissible candidate: by score, then the positivity of the
/// refit (candidates with a non-positive coefficient are rejected and their
/// score cleared). (bin, its coefficient t, its score), or `None` with
/// `info.stop = Converged` when the best score is within `tol`, or `None` when
/// no candidate is left. On success `work.g` holds R⁻¹β_j.
#[inline(always)]
#[allow(non_snake_case)]
fn best_admissible(
    nq: usize,
    np: usize,
    tol: f64,
    work: &mut Work,
    info: &mut OlsInfo,
) -> Option<(usize, f64, f64)> {
    let Work {
        u,
        v,
        gain,
        beta,
        r: R,
        x,
        g,
        support,
        ..
    } = work;
    let k = support.len();
    loop {
        let mut best = None;
        let mut best_gain = 0.0;
        for (j, &gj) in gain.iter().enumerate() {
            if gj > best_gain {
                best_gain = gj;
                best = Some(j);
            }
        }
        let j = best?;
        if best_gain <= tol {
            info.stop = OlsStop::Converged;
            return None;
        }
        // New coefficient t = v_j/u_j > 0; old ones become x − t R⁻¹β_j.
        let t = v[j] / u[j];
        for i in (0..k).rev() {
            let mut s = beta[i * nq + j];
            for l in i + 1..k {
                s -= R[i * np + l] * g[l];
            }
            g[i] = s / R[i * np + i];
        }
        if (0..k).all(|i| x[i] - t * g[i] > 0.0) {
            return Some((j, t, best_gain));
        }
        gain[j] = 0.0;
        info.rejected += 1;
    }
}

/// Accept bin `j` with coefficient `t`: extend R, z, the coefficients and β;
/// deflate u, v.
#[inline(always)]
#[allow(non_snake_case)]
fn accept<G: Gram>(gram: &G, nq: usize, np: usize, j: usize, t: f64, work: &mut Work) {
    let Work {
        u,
        v,
        beta,
        r: R,
        z,
        x,
        g,
        support,
        ..
    } = work;
    let k = support.len();
    let su = u[j].sqrt();
    for i in 0..k {
        R[i * np + k] = beta[i * nq + j];
        x[i] -= t * g[i];
    }
    R[k * np + k] = su;
    z[k] = v[j] / su;
    x[k] = t;
    support.push(j);
    let (done, rest) = beta.split_at_mut(k * nq);
    let row = &mut rest[..nq];
    gram.row(j, row);
    for l in 0..k {
        let blj = done[l * nq + j];
        for (bi, &bl) in row.iter_mut().zip(&done[l * nq..(l + 1) * nq]) {
            *bi -= blj * bl;
        }
    }
    let (inv, zk) = (1.0 / su, z[k]);
    for ((bi, ui), vi) in row.iter_mut().zip(u.iter_mut()).zip(v.iter_mut()) {
        let b = *bi * inv;
        *bi = b;
        *ui -= b * b;
        *vi -= b * zk;
    }
}
