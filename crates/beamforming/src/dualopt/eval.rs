//! One evaluation of the dual function (module docs of [`super`]): the
//! Lagrangian maximiser v_k(λ, μ) = M_k⁻¹ r_k (29), corrected, and q, ∇q
//! (30)–(31); for SALINR through one factorisation of the shared M and the
//! Woodbury downdate (32) per user (Remark 1), for SLINR one factorisation
//! per user.

use super::{DualOpt, Eval, MatrixForm, Workspace, ZERO};
use crate::c64;
use crate::fp::Subproblem;
use crate::linalg::{Cholesky, add_weighted_outers_upper, dotc, gram_columns, norm_sqr};

/// The duals of one evaluation and what the matrices M_k depend on.
struct DualPoint<'a> {
    sub: &'a Subproblem,
    /// The constrained users S.
    sidx: &'a [usize],
    /// y = (λ, μ_S).
    y: &'a [f64],
    /// Regularising ridge added to λ.
    ridge: f64,
    /// Whether M_k carries Σ_{j≠k} μ_j B_j ([`MatrixForm::Corrected`]).
    corrected: bool,
}

/// The per-user blocks Q_k of the Hessian: qvv[k] = v_kᴴM_k⁻¹v_k,
/// qva[k*ns+t] = v_kᴴM_k⁻¹a_t, qaa[k*ns*ns + t*ns + u] = a_tᴴM_k⁻¹a_u.
struct HessianBlocks {
    qvv: Vec<f64>,
    qva: Vec<c64>,
    qaa: Vec<c64>,
}

impl DualOpt {
    /// q, ∇q, (Hessian) and v at duals y = (λ, μ_S). None when some M_k is not
    /// positive definite (q = +∞ there).
    pub(super) fn eval(
        &mut self,
        sub: &Subproblem,
        sidx: &[usize],
        y: &[f64],
        want_hess: bool,
    ) -> Option<Eval> {
        let k = sub.num_users;
        let nt = sub.num_antennas;
        let ns = sidx.len();
        let corrected = self.form == MatrixForm::Corrected;
        let ws = &mut self.ws;
        if ws.nt != nt || ws.chol.is_none() {
            ws.nt = nt;
            ws.chol = Some(Cholesky::new(nt));
        }
        ws.m.resize(nt * nt, ZERO);
        ws.v.resize(k * nt, ZERO);
        ws.r.resize(k * nt, ZERO);
        ws.tmp.resize(nt, ZERO);
        ws.u.resize(ns * nt, ZERO);
        // μ of user u (0 if unconstrained) and its slot in S.
        let mut slot = vec![usize::MAX; k];
        for (s, &u) in sidx.iter().enumerate() {
            slot[u] = s;
        }
        linear_terms(&mut ws.r, sub, sidx, y);
        let at = DualPoint {
            sub,
            sidx,
            y,
            ridge: ridge(sub),
            corrected,
        };
        let kh = if want_hess { k } else { 0 };
        let mut blocks = HessianBlocks {
            qvv: vec![0.0; kh],
            qva: vec![ZERO; kh * ns],
            qaa: vec![ZERO; kh * ns * ns],
        };
        let shared = sub.own_leakage.is_none();
        ws.stamp = None;
        // Σ_k r_kᴴ v_k and a_jᴴ v_k (j ∈ S, row-major |S|×K).
        let mut av = vec![ZERO; ns * k];
        let rv = if shared {
            shared_beams(ws, &at, &slot, &mut av)?
        } else {
            per_user_beams(ws, &at, want_hess.then_some(&mut blocks), &mut av)?
        };
        let v = &ws.v;
        if v.iter().any(|x| !(x.re.is_finite() && x.im.is_finite())) {
            return None;
        }
        let (q, grad) = dual_value_and_gradient(&at, rv, v, &av);
        ws.av = av;
        let v = ws.v.clone();
        let hess = if !want_hess {
            if shared {
                ws.stamp = Some(y.to_vec());
            }
            Vec::new()
        } else if shared {
            ws.stamp = Some(y.to_vec());
            self.shared_hessian(sub, sidx)?
        } else {
            let HessianBlocks { qvv, qva, qaa } = &blocks;
            super::hessian::assemble_hessian(sub, sidx, qvv, qva, qaa, &ws.av)?
        };
        Some(Eval { q, grad, hess, v })
    }
}

/// r_k = z_k + μ_k c α_k a_k, the linear term of user k's Lagrangian.
fn linear_terms(r: &mut [c64], sub: &Subproblem, sidx: &[usize], y: &[f64]) {
    let nt = sub.num_antennas;
    r.copy_from_slice(&sub.z);
    if let Some(s) = sub.sensing.as_ref() {
        for (si, &u) in sidx.iter().enumerate() {
            let f = s.alpha[u] * (y[1 + si] * s.c);
            for (ri, ai) in r[u * nt..(u + 1) * nt]
                .iter_mut()
                .zip(&s.steering[u * nt..(u + 1) * nt])
            {
                *ri += ai * f;
            }
        }
    }
}

/// A ridge of 1e-10·tr(Ã)/Nt keeps M_k regular at λ = 0 when Ã is rank
/// deficient (K < Nt, weak leakage); it perturbs (26) by ≤ 1e-10·tr(Ã)/Nt·P,
/// and selects the minimum-norm maximiser in that case.
fn ridge(sub: &Subproblem) -> f64 {
    let nt = sub.num_antennas;
    1e-10
        * (0..nt)
            .map(|i| sub.a_common[i * nt + i].re)
            .sum::<f64>()
            .max(0.0)
        / nt as f64
}

impl DualPoint<'_> {
    /// The upper triangle (the part the factorisation reads) of M_k =
    /// Ã_k + λI + Σ_{j≠k} μ_j a_j a_jᴴ for `user` = Some(k) (per-user path), or
    /// of the shared M = Ã + λI + Σ_j μ_j a_j a_jᴴ for `None`.
    fn build_m(&self, m: &mut [c64], user: Option<usize>) {
        let sub = self.sub;
        let (k, nt) = (sub.num_users, sub.num_antennas);
        let (y, lam) = (self.y, self.y[0]);
        match (user, &sub.own_leakage) {
            (Some(u), Some((coef, d))) => {
                for ((x, a), dd) in m.iter_mut().zip(&sub.a_common).zip(d) {
                    *x = a + dd * coef[u];
                }
            }
            _ => m.copy_from_slice(&sub.a_common),
        }
        for i in 0..nt {
            m[i * nt + i] += lam + self.ridge;
        }
        if let (true, Some(s)) = (self.corrected, sub.sensing.as_ref()) {
            // Σ_{j≠user} μ_j a_j a_jᴴ.
            let mut w = vec![0.0; k];
            for (si, &j) in self.sidx.iter().enumerate() {
                if Some(j) != user && y[1 + si] > 0.0 {
                    w[j] = y[1 + si];
                }
            }
            add_weighted_outers_upper(m, &w, &s.steering, nt);
        }
    }
}

/// Shared M, one factorisation; Woodbury per user, in the L-space
/// (M = L Lᴴ): with W = L⁻¹ [A_S | R],
/// Lᴴ v_k = w_{r_k} + β_k (w_sᴴ w_{r_k}) w_s, s = slot of k,
/// so only the K beams need the back substitution, and β_k and r_kᴴ v_k
/// follow from Gram entries of W. Writes the beams to `ws.v` (and W, P0, V,
/// β to the workspace for the lazy Hessian) and a_jᴴ v_k to `av`; returns
/// Σ_k r_kᴴ v_k, or `None` if M (or some M_k) is not positive definite.
fn shared_beams(ws: &mut Workspace, at: &DualPoint, slot: &[usize], av: &mut [c64]) -> Option<f64> {
    let (sub, sidx) = (at.sub, at.sidx);
    let (k, nt, ns) = (sub.num_users, sub.num_antennas, sidx.len());
    let chol = ws.chol.as_mut()?;
    at.build_m(&mut ws.m, None);
    if !chol.factor(&ws.m) {
        return None;
    }
    let m = ns + k;
    ws.xb.resize(nt * m, ZERO);
    let steering = sub.sensing.as_ref().map_or(&[][..], |s| &s.steering);
    for (i, row) in ws.xb.chunks_exact_mut(m).enumerate() {
        for (x, &j) in row[..ns].iter_mut().zip(sidx) {
            *x = steering[j * nt + i];
        }
        for (u, x) in row[ns..].iter_mut().enumerate() {
            *x = ws.r[u * nt + i];
        }
    }
    chol.forward_batch(&mut ws.xb, m);
    // P0 = W_Sᴴ W_S: P0[s][t] = a_sᴴ M⁻¹ a_t.
    ws.g.resize(ns * ns, ZERO);
    gram_columns(&mut ws.g, (&ws.xb, 0..ns), (&ws.xb, 0..ns), nt);
    let (betas, coef, rv) = woodbury_coefficients(&ws.xb, &ws.g, at, slot)?;
    // V (Nt×K, row i = entry i of every beam) = L⁻ᴴ (W_R + W_S-terms).
    ws.vt.resize(nt * k, ZERO);
    for (vi, wi) in ws.vt.chunks_exact_mut(k).zip(ws.xb.chunks_exact(m)) {
        vi.copy_from_slice(&wi[ns..]);
        for u in 0..k {
            if betas[u] != 0.0 {
                vi[u] += coef[u] * wi[slot[u]];
            }
        }
    }
    chol.backward_batch(&mut ws.vt, k);
    for (i, vi) in ws.vt.chunks_exact(k).enumerate() {
        for u in 0..k {
            ws.v[u * nt + i] = vi[u];
        }
    }
    // a_jᴴ v_k from the beams themselves, so that the gradient is that of
    // the returned point (the L-space form loses digits when M is
    // ill-conditioned, λ = 0).
    if ns > 0 {
        ws.at.resize(nt * ns, ZERO);
        for (i, row) in ws.at.chunks_exact_mut(ns).enumerate() {
            for (x, &j) in row.iter_mut().zip(sidx) {
                *x = steering[j * nt + i];
            }
        }
        gram_columns(av, (&ws.at, 0..ns), (&ws.vt, 0..k), nt);
    }
    ws.betas = betas;
    Some(rv)
}

/// From W (`xb`) and P0: the Woodbury coefficients
/// β_k = μ_k / (1 − μ_k a_sᴴ M⁻¹ a_s) (s = slot of k; 0 for unconstrained
/// users), coef[k] = β_k a_sᴴ M⁻¹ r_k, and Σ_k r_kᴴ v_k with
/// r_kᴴ v_k = ‖w_{r_k}‖² + β_k |a_sᴴ M⁻¹ r_k|². `None` if some M_k is not
/// positive definite.
fn woodbury_coefficients(
    xb: &[c64],
    p0: &[c64],
    at: &DualPoint,
    slot: &[usize],
) -> Option<(Vec<f64>, Vec<c64>, f64)> {
    let (k, ns) = (at.sub.num_users, at.sidx.len());
    let (y, corrected) = (at.y, at.corrected);
    let m = ns + k;
    // c[k] = w_sᴴ w_{r_k} = a_sᴴ M⁻¹ r_k (s = slot of k), and ‖w_{r_k}‖².
    let mut c = vec![ZERO; k];
    let mut wr = vec![0.0; k];
    for row in xb.chunks_exact(m) {
        for (u, x) in row[ns..].iter().enumerate() {
            wr[u] += x.norm_sqr();
            if slot[u] != usize::MAX {
                c[u] += row[slot[u]].conj() * x;
            }
        }
    }
    // coef[k] = β_k a_sᴴ M⁻¹ r_k.
    let mut betas = vec![0.0; k];
    let mut coef = vec![ZERO; k];
    for u in 0..k {
        let s = slot[u];
        if corrected && s != usize::MAX && y[1 + s] > 0.0 {
            let den = 1.0 - y[1 + s] * p0[s * ns + s].re;
            if den.is_nan() || den <= 0.0 {
                return None;
            }
            betas[u] = y[1 + s] / den;
            coef[u] = c[u] * betas[u];
        }
    }
    // r_kᴴ v_k = ‖w_{r_k}‖² + β_k |a_sᴴ M⁻¹ r_k|².
    let mut rv = 0.0;
    for u in 0..k {
        rv += wr[u] + betas[u] * c[u].norm_sqr();
    }
    Some((betas, coef, rv))
}

/// SLINR: each user's own matrix M_k, factorised. Writes the beams to `ws.v`,
/// the Hessian blocks to `blocks` (if wanted) and a_jᴴ v_k to `av`; returns
/// Σ_k r_kᴴ v_k, or `None` if some M_k is not positive definite.
fn per_user_beams(
    ws: &mut Workspace,
    at: &DualPoint,
    mut blocks: Option<&mut HessianBlocks>,
    av: &mut [c64],
) -> Option<f64> {
    let (sub, sidx) = (at.sub, at.sidx);
    let (k, nt, ns) = (sub.num_users, sub.num_antennas, sidx.len());
    let sens = sub.sensing.as_ref();
    let steer = |u: usize| -> &[c64] {
        match sens {
            Some(s) => &s.steering[u * nt..(u + 1) * nt],
            None => &[],
        }
    };
    let chol = ws.chol.as_mut()?;
    for u in 0..k {
        at.build_m(&mut ws.m, Some(u));
        if !chol.factor(&ws.m) {
            return None;
        }
        let vk = &mut ws.v[u * nt..(u + 1) * nt];
        vk.copy_from_slice(&ws.r[u * nt..(u + 1) * nt]);
        chol.solve_in_place(vk);
        if let Some(HessianBlocks { qvv, qva, qaa }) = blocks.as_deref_mut() {
            for t in 0..ns {
                let row = &mut ws.u[t * nt..(t + 1) * nt];
                row.copy_from_slice(steer(sidx[t]));
                chol.solve_in_place(row);
            }
            ws.tmp.copy_from_slice(&ws.v[u * nt..(u + 1) * nt]);
            chol.solve_in_place(&mut ws.tmp);
            let vk = &ws.v[u * nt..(u + 1) * nt];
            qvv[u] = dotc(vk, &ws.tmp).re;
            for t in 0..ns {
                qva[u * ns + t] = dotc(vk, &ws.u[t * nt..(t + 1) * nt]);
                for w in 0..ns {
                    qaa[u * ns * ns + t * ns + w] =
                        dotc(steer(sidx[t]), &ws.u[w * nt..(w + 1) * nt]);
                }
            }
        }
    }
    let v = &ws.v;
    let mut rv = 0.0;
    for u in 0..k {
        rv += dotc(&ws.r[u * nt..(u + 1) * nt], &v[u * nt..(u + 1) * nt]).re;
        for (si, &j) in sidx.iter().enumerate() {
            av[si * k + u] = dotc(steer(j), &v[u * nt..(u + 1) * nt]);
        }
    }
    Some(rv)
}

/// q(λ, μ) = Σ r_kᴴv_k + λP − Σ μ_k (s_k + c|α_k|²) (30) and its gradient
/// ∂q/∂λ = P − Σ‖v_k‖², ∂q/∂μ_k = ψ̃_k − ϕ_k (31), at beams `v` with
/// Σ r_kᴴv_k = `rv` and a_jᴴ v_k = `av`.
fn dual_value_and_gradient(at: &DualPoint, rv: f64, v: &[c64], av: &[c64]) -> (f64, Vec<f64>) {
    let (sub, sidx, y) = (at.sub, at.sidx, at.y);
    let k = sub.num_users;
    let lam = y[0];
    let mut q = lam * sub.power + rv;
    let mut grad = vec![0.0; 1 + sidx.len()];
    grad[0] = sub.power - norm_sqr(v);
    if let Some(s) = sub.sensing.as_ref() {
        for (si, &j) in sidx.iter().enumerate() {
            let al = s.alpha[j];
            q -= y[1 + si] * (s.noise[j] + s.c * al.norm_sqr());
            let phi: f64 = (0..k)
                .filter(|&u| u != j)
                .map(|u| av[si * k + u].norm_sqr())
                .sum::<f64>()
                + s.noise[j];
            let psi = s.c * (2.0 * (al.conj() * av[si * k + j]).re - al.norm_sqr());
            grad[1 + si] = psi - phi;
        }
    }
    (q, grad)
}
