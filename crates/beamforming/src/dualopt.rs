//! DualOpt (SPEC §10.3, corrected (27)–(32)): the dual solver of the convex
//! subproblem (26), and Algorithm 2 with it as inner solver.
//!
//! For duals λ ≥ 0 (power) and μ_k ≥ 0 (sensing of user k), the Lagrangian is
//! maximised in closed form by
//!
//! ```text
//! v_k(λ, μ) = M_k⁻¹ r_k,   M_k = Ã_k + λ I + Σ_{j≠k} μ_j B_j,   r_k = z_k + μ_k C_k v_k^(r)
//! ```
//!
//! (B_j = a_j a_jᴴ and C_k = c B_k in normalised units). The Σ_{j≠k} μ_j B_j term
//! is SPEC's correction: v_k is interference in every other user's sensing
//! constraint. For SALINR, Ã_k = Ã is common, so M = Ã + λI + Σ_j μ_j B_j is
//! factorised **once per dual iteration** and M_k = M − μ_k B_k is a rank-one
//! change: Woodbury (32) gives
//! M_k⁻¹ x = M⁻¹x + β_k u_k (u_kᴴ x), u_k = M⁻¹ a_k, β_k = μ_k / (1 − μ_k a_kᴴ u_k).
//! (SLINR's Ã_k differ per user; there each M_k is factorised.)
//!
//! The dual function q(λ, μ) = Σ_k r_kᴴ v_k + λP − Σ_k μ_k (s_k + c|α_k|²) is
//! convex and smooth, with gradient ∂q/∂λ = P − Σ‖v_k‖², ∂q/∂μ_k = ψ̃_k − ϕ_k (31).
//! **Decision:** instead of the paper's fixed-step projected gradient (31), the
//! dual is minimised by a projected Newton method (Bertsekas 1982) with an
//! Armijo line search along the projection arc. The Hessian comes from the same
//! factorisation: with G_{a,k} = ∂g_a/∂v_k* ∈ span{v_k, a_j},
//! H_ab = Σ_k 2 Re(G_{a,k}ᴴ M_k⁻¹ G_{b,k}), assembled from a_iᴴM_k⁻¹a_j,
//! v_kᴴM_k⁻¹a_j, v_kᴴM_k⁻¹v_k (Woodbury again) in O(Nt²(K+|S|) + K|S|²).
//! It converges quadratically to the dual optimum, which is what lets DualOpt
//! match the interior-point reference to 1e-4 and beyond in a handful of
//! factorisations. Duals are warm-started across outer iterations. The
//! Hessian is computed lazily, only when a Newton step is taken, from the
//! factorisation of the accepted point (always the last one evaluated), so the
//! final (optimal) evaluation of each subproblem and rejected line-search
//! trials skip it.

use crate::Beams;
use crate::c64;
use crate::error::BeamformingError;
use crate::fp::{self, FpInfo, FpParams, InnerOutcome, InnerSolver, Subproblem};
use crate::linalg::{Cholesky, add_weighted_outers_upper, dotc, gram_columns, norm_sqr};
use crate::problem::SalinrProblem;

const ZERO: c64 = c64::new(0.0, 0.0);

/// Which per-user matrix the inner solver uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatrixForm {
    /// M_k = Ã_k + λI + Σ_{j≠k} μ_j B_j (SPEC §10.3, correct).
    #[default]
    Corrected,
    /// The paper's printed (27)–(29), which drops Σ_{j≠k} μ_j B_j. Kept only
    /// to show, in the tests, that it does not solve (26).
    PaperUncorrected,
}

/// Parameters of DualOpt.
#[derive(Debug, Clone, PartialEq)]
pub struct DualOptParams {
    /// Outer loop (Algorithm 2) parameters.
    pub fp: FpParams,
    /// Maximum dual (Newton) iterations per subproblem.
    pub max_dual_iterations: usize,
    /// Tolerance on the projected dual gradient, relative to the constraint
    /// scale (P = 1; s_k + c|α_k|² for sensing).
    pub dual_tol: f64,
    /// Per-user matrix form (keep `Corrected`).
    pub form: MatrixForm,
}

impl Default for DualOptParams {
    fn default() -> Self {
        Self {
            fp: FpParams::default(),
            max_dual_iterations: 100,
            dual_tol: 1e-9,
            form: MatrixForm::Corrected,
        }
    }
}

/// Diagnostics of a DualOpt run (the outer-loop info; inner = dual iterations).
pub type DualOptInfo = FpInfo;

/// Solves the per-BS SALINR/SLINR problem with Algorithm 2 + DualOpt from the
/// feasible initial point of [`fp::initial_beams`]. Beams in the problem's units.
pub fn solve(
    problem: &SalinrProblem,
    params: &DualOptParams,
) -> Result<(Beams, DualOptInfo), BeamformingError> {
    fp::run(problem, None, &params.fp, &mut DualOpt::new(params))
}

/// As [`solve`] but from the given initial beams (replays of dumped instances).
pub fn solve_from(
    problem: &SalinrProblem,
    v0: &Beams,
    params: &DualOptParams,
) -> Result<(Beams, DualOptInfo), BeamformingError> {
    fp::run(problem, Some(v0), &params.fp, &mut DualOpt::new(params))
}

/// The DualOpt inner solver; owns its scratch buffers and the warm-start duals.
#[derive(Debug, Clone)]
pub struct DualOpt {
    max_iter: usize,
    tol: f64,
    form: MatrixForm,
    warm: Option<(f64, Vec<f64>)>,
    ws: Workspace,
}

#[derive(Debug, Clone, Default)]
struct Workspace {
    nt: usize,
    m: Vec<c64>,
    chol: Option<Cholesky>,
    /// Per-user path: row t = M_k⁻¹ a_{S[t]}.
    u: Vec<c64>,
    v: Vec<c64>,
    r: Vec<c64>,
    tmp: Vec<c64>,
    /// Shared path, Nt × (|S| + K), row i = entry i of every vector:
    /// W = L⁻¹ [A_S | R] (M = L Lᴴ).
    xb: Vec<c64>,
    /// P0 = W_Sᴴ W_S, |S| × |S|.
    g: Vec<c64>,
    /// A_S, Nt × |S|.
    at: Vec<c64>,
    /// The beams as Nt × K (row i = entry i of every beam), and L⁻¹ of them.
    vt: Vec<c64>,
    zt: Vec<c64>,
    /// Woodbury coefficients β_k and a_jᴴ v_k of the last evaluation.
    betas: Vec<f64>,
    av: Vec<c64>,
    /// Duals of the last shared-M evaluation whose factorisation, W, P0, V,
    /// β and a_jᴴv_k are still in the workspace (lazy Hessian), if any.
    stamp: Option<Vec<f64>>,
}

/// One evaluation of the dual at y = (λ, μ_S).
#[derive(Debug, Clone)]
struct Eval {
    q: f64,
    grad: Vec<f64>,
    hess: Vec<f64>,
    v: Vec<c64>,
}

impl DualOpt {
    /// A fresh solver (no warm start).
    pub fn new(params: &DualOptParams) -> Self {
        Self {
            max_iter: params.max_dual_iterations,
            tol: params.dual_tol,
            form: params.form,
            warm: None,
            ws: Workspace::default(),
        }
    }

    /// Solves one subproblem (26) directly (the tests compare it with the reference).
    pub fn solve_subproblem(&mut self, sub: &Subproblem) -> Result<InnerOutcome, BeamformingError> {
        let k = sub.num_users;
        let sidx: Vec<usize> = match &sub.sensing {
            Some(s) => (0..k).filter(|&u| s.constrained[u]).collect(),
            None => Vec::new(),
        };
        let n = 1 + sidx.len();
        // Starting duals: warm start, else λ0 = sqrt(Σ‖z‖²/P) (the λ that meets the
        // budget when Ã = 0), μ = 0.
        let mut y = vec![0.0; n];
        match &self.warm {
            Some((lam, mu)) if mu.len() == k => {
                y[0] = *lam;
                for (s, &u) in sidx.iter().enumerate() {
                    y[1 + s] = mu[u];
                }
            }
            _ => y[0] = (norm_sqr(&sub.z) / sub.power).sqrt(),
        }
        if y[0].is_nan() || y[0] <= 0.0 {
            y[0] = 1e-6;
        }
        let scale: Vec<f64> = std::iter::once(sub.power)
            .chain(sidx.iter().map(|&u| {
                let s = sub
                    .sensing
                    .as_ref()
                    .map(|s| s.noise[u] + s.c * s.alpha[u].norm_sqr());
                s.unwrap_or(1.0).max(1e-300)
            }))
            .collect();
        // A point in the domain (all M_k positive definite).
        let mut cur = None;
        for _ in 0..200 {
            cur = self.eval(sub, &sidx, &y, false);
            if cur.is_some() {
                break;
            }
            y[0] = (y[0] * 4.0).max(1e-6);
        }
        let Some(mut cur) = cur else {
            return Err(BeamformingError::Numerical(
                "DualOpt: no positive-definite dual start",
            ));
        };
        let mut iterations = 0;
        let mut converged = false;
        while iterations < self.max_iter {
            // STEP 1: optimality test on the projected gradient.
            let opt = (0..n).all(|i| {
                let g = cur.grad[i] / scale[i];
                if y[i] > 0.0 {
                    g.abs() <= self.tol
                } else {
                    g >= -self.tol
                }
            });
            if opt {
                converged = true;
                break;
            }
            iterations += 1;
            // The Hessian only when a Newton step is needed: the last (optimal)
            // evaluation of every subproblem skips it, and it reuses the
            // factorisation of the accepted point (the last one evaluated).
            if cur.hess.is_empty() {
                match self.hessian(sub, &sidx, &y) {
                    Some(h) => cur.hess = h,
                    None => break,
                }
            }
            // STEP 2: Newton direction on the free variables (active: y_i = 0, ∂q/∂y_i > 0).
            let free: Vec<usize> = (0..n)
                .filter(|&i| !(y[i] <= 0.0 && cur.grad[i] > 0.0))
                .collect();
            let nf = free.len();
            let mut d = vec![0.0; n];
            if nf > 0 {
                let mut h = vec![0.0; nf * nf];
                let mut rhs = vec![0.0; nf];
                let tr: f64 = free.iter().map(|&i| cur.hess[i * n + i]).sum::<f64>() / nf as f64;
                for (a, &i) in free.iter().enumerate() {
                    rhs[a] = -cur.grad[i];
                    for (b, &j) in free.iter().enumerate() {
                        h[a * nf + b] = cur.hess[i * n + j];
                    }
                    h[a * nf + a] += 1e-12 * tr + 1e-300;
                }
                if crate::linalg::solve_real(&mut h, &mut rhs).is_none() {
                    // Fallback: scaled gradient.
                    for (a, &i) in free.iter().enumerate() {
                        rhs[a] = -cur.grad[i] / cur.hess[i * n + i].max(1e-300);
                    }
                }
                for (a, &i) in free.iter().enumerate() {
                    d[i] = rhs[a];
                }
            }
            // STEP 3: Armijo backtracking along the projection arc. First try the
            // boundary point where every variable that Newton decreases against a
            // positive gradient is set to 0: near a boundary optimum (λ* = 0 with
            // an ill-conditioned Ã, or an inactive μ_k) Newton only halves y_i per
            // step, while the optimum is exactly y_i = 0.
            let mut accepted = None;
            let jump: Vec<usize> = (0..n)
                .filter(|&i| y[i] > 0.0 && cur.grad[i] > 0.0 && d[i] < 0.0)
                .collect();
            if !jump.is_empty() {
                let mut yb: Vec<f64> = (0..n).map(|i| (y[i] + d[i]).max(0.0)).collect();
                for &i in &jump {
                    yb[i] = 0.0;
                }
                if let Some(e) = self.eval(sub, &sidx, &yb, false) {
                    let dec: f64 = (0..n).map(|i| cur.grad[i] * (yb[i] - y[i])).sum();
                    if e.q <= cur.q + 1e-4 * dec {
                        accepted = Some((yb, e));
                    }
                }
            }
            let mut t = 1.0;
            for _ in 0..if accepted.is_some() { 0 } else { 60 } {
                let yt: Vec<f64> = (0..n).map(|i| (y[i] + t * d[i]).max(0.0)).collect();
                if let Some(e) = self.eval(sub, &sidx, &yt, false) {
                    let dec: f64 = (0..n).map(|i| cur.grad[i] * (yt[i] - y[i])).sum();
                    if e.q <= cur.q + 1e-4 * dec
                        || e.q <= cur.q + 1e-15 * cur.q.abs() && dec.abs() < 1e-14 * cur.q.abs()
                    {
                        accepted = Some((yt, e));
                        break;
                    }
                }
                t *= 0.5;
            }
            let Some((yt, e)) = accepted else { break };
            let step: f64 = (0..n)
                .map(|i| (yt[i] - y[i]).abs() / (1.0 + y[i].abs()))
                .fold(0.0, f64::max);
            y = yt;
            cur = e;
            if step < 1e-15 {
                break;
            }
        }
        let mut mu = vec![0.0; k];
        for (s, &u) in sidx.iter().enumerate() {
            mu[u] = y[1 + s];
        }
        self.warm = Some((y[0], mu));
        Ok(InnerOutcome {
            v: cur.v,
            iterations,
            converged,
        })
    }

    /// q, ∇q, (Hessian) and v at duals y = (λ, μ_S). None when some M_k is not
    /// positive definite (q = +∞ there).
    fn eval(
        &mut self,
        sub: &Subproblem,
        sidx: &[usize],
        y: &[f64],
        want_hess: bool,
    ) -> Option<Eval> {
        let k = sub.num_users;
        let nt = sub.num_antennas;
        let ns = sidx.len();
        let n = 1 + ns;
        let lam = y[0];
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
        let sens = sub.sensing.as_ref();
        let steer = |u: usize| -> &[c64] {
            match sens {
                Some(s) => &s.steering[u * nt..(u + 1) * nt],
                None => &[],
            }
        };
        // μ of user u (0 if unconstrained) and its slot in S.
        let mut slot = vec![usize::MAX; k];
        for (s, &u) in sidx.iter().enumerate() {
            slot[u] = s;
        }
        // r_k = z_k + μ_k c α_k a_k.
        ws.r.copy_from_slice(&sub.z);
        if let Some(s) = sens {
            for (si, &u) in sidx.iter().enumerate() {
                let f = s.alpha[u] * (y[1 + si] * s.c);
                for (ri, ai) in ws.r[u * nt..(u + 1) * nt]
                    .iter_mut()
                    .zip(&s.steering[u * nt..(u + 1) * nt])
                {
                    *ri += ai * f;
                }
            }
        }
        let chol = ws.chol.as_mut()?;
        // Q_k blocks for the Hessian: qvv[k], qva[k*ns+t], qaa[k*ns*ns + t*ns + u].
        let mut qvv = vec![0.0; if want_hess { k } else { 0 }];
        let mut qva = vec![ZERO; if want_hess { k * ns } else { 0 }];
        let mut qaa = vec![ZERO; if want_hess { k * ns * ns } else { 0 }];
        // A ridge of 1e-10·tr(Ã)/Nt keeps M_k regular at λ = 0 when Ã is rank
        // deficient (K < Nt, weak leakage); it perturbs (26) by ≤ 1e-10·tr(Ã)/Nt·P,
        // and selects the minimum-norm maximiser in that case.
        let ridge = 1e-10
            * (0..nt)
                .map(|i| sub.a_common[i * nt + i].re)
                .sum::<f64>()
                .max(0.0)
            / nt as f64;
        // Only the upper triangle, the part the factorisation reads.
        let build_m = |m: &mut Vec<c64>, user: Option<usize>| {
            // user = Some(k): M_k directly (per-user path); None: shared M.
            match (user, &sub.own_leakage) {
                (Some(u), Some((coef, d))) => {
                    for ((x, a), dd) in m.iter_mut().zip(&sub.a_common).zip(d) {
                        *x = a + dd * coef[u];
                    }
                }
                _ => m.copy_from_slice(&sub.a_common),
            }
            for i in 0..nt {
                m[i * nt + i] += lam + ridge;
            }
            if let (true, Some(s)) = (corrected, sens) {
                // Σ_{j≠user} μ_j a_j a_jᴴ.
                let mut w = vec![0.0; k];
                for (si, &j) in sidx.iter().enumerate() {
                    if Some(j) != user && y[1 + si] > 0.0 {
                        w[j] = y[1 + si];
                    }
                }
                add_weighted_outers_upper(m, &w, &s.steering, nt);
            }
        };
        let shared = sub.own_leakage.is_none();
        ws.stamp = None;
        // Σ_k r_kᴴ v_k and a_jᴴ v_k (j ∈ S, row-major |S|×K).
        let mut rv = 0.0;
        let mut av = vec![ZERO; ns * k];
        if shared {
            // Shared M, one factorisation; Woodbury per user, in the L-space
            // (M = L Lᴴ): with W = L⁻¹ [A_S | R],
            // Lᴴ v_k = w_{r_k} + β_k (w_sᴴ w_{r_k}) w_s, s = slot of k,
            // so only the K beams need the back substitution, and β_k and
            // r_kᴴ v_k follow from Gram entries of W.
            build_m(&mut ws.m, None);
            if !chol.factor(&ws.m) {
                return None;
            }
            let m = ns + k;
            ws.xb.resize(nt * m, ZERO);
            let steering = sens.map_or(&[][..], |s| &s.steering);
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
            let p0 = &ws.g;
            // c[k] = w_sᴴ w_{r_k} = a_sᴴ M⁻¹ r_k (s = slot of k), and ‖w_{r_k}‖².
            let mut c = vec![ZERO; k];
            let mut wr = vec![0.0; k];
            for row in ws.xb.chunks_exact(m) {
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
            for u in 0..k {
                rv += wr[u] + betas[u] * c[u].norm_sqr();
            }
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
                gram_columns(&mut av, (&ws.at, 0..ns), (&ws.vt, 0..k), nt);
            }
            ws.betas = betas;
        } else {
            // SLINR: each user's own matrix.
            for u in 0..k {
                build_m(&mut ws.m, Some(u));
                if !chol.factor(&ws.m) {
                    return None;
                }
                let vk = &mut ws.v[u * nt..(u + 1) * nt];
                vk.copy_from_slice(&ws.r[u * nt..(u + 1) * nt]);
                chol.solve_in_place(vk);
                if want_hess {
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
            for u in 0..k {
                rv += dotc(&ws.r[u * nt..(u + 1) * nt], &v[u * nt..(u + 1) * nt]).re;
                for (si, &j) in sidx.iter().enumerate() {
                    av[si * k + u] = dotc(steer(j), &v[u * nt..(u + 1) * nt]);
                }
            }
        }
        let v = &ws.v;
        if v.iter().any(|x| !(x.re.is_finite() && x.im.is_finite())) {
            return None;
        }
        // q and ∇q.
        let mut q = lam * sub.power + rv;
        let mut grad = vec![0.0; n];
        grad[0] = sub.power - norm_sqr(v);
        if let Some(s) = sens {
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
            assemble_hessian(sub, sidx, &qvv, &qva, &qaa, &ws.av)?
        };
        Some(Eval { q, grad, hess, v })
    }

    /// The dual Hessian at the duals of the last evaluation, from its
    /// factorisation: when `y` is that point of a shared-M evaluation (the usual
    /// case: the accepted point is the last one evaluated), no new factorisation.
    fn hessian(&mut self, sub: &Subproblem, sidx: &[usize], y: &[f64]) -> Option<Vec<f64>> {
        if self.ws.stamp.as_deref() == Some(y) && sub.own_leakage.is_none() {
            self.shared_hessian(sub, sidx)
        } else {
            self.eval(sub, sidx, y, true).map(|e| e.hess)
        }
    }

    /// Shared-M Hessian from the workspace of the last evaluation (`stamp`):
    /// with Z = L⁻¹ V, v_kᴴ M⁻¹ v_k = ‖z_k‖² and v_kᴴ M⁻¹ a_t = z_kᴴ w_t.
    fn shared_hessian(&mut self, sub: &Subproblem, sidx: &[usize]) -> Option<Vec<f64>> {
        let k = sub.num_users;
        let nt = sub.num_antennas;
        let ns = sidx.len();
        let ws = &mut self.ws;
        let chol = ws.chol.as_ref()?;
        let mut slot = vec![usize::MAX; k];
        for (s, &u) in sidx.iter().enumerate() {
            slot[u] = s;
        }
        ws.zt.clone_from(&ws.vt);
        chol.forward_batch(&mut ws.zt, k);
        let mut qvv = vec![0.0; k];
        for row in ws.zt.chunks_exact(k) {
            for (acc, x) in qvv.iter_mut().zip(row) {
                *acc += x.norm_sqr();
            }
        }
        // qz[k][t] = z_kᴴ w_t = v_kᴴ M⁻¹ a_t.
        let mut qz = vec![ZERO; k * ns];
        gram_columns(&mut qz, (&ws.zt, 0..k), (&ws.xb, 0..ns), nt);
        let (g, betas) = (&ws.g, &ws.betas);
        let p0 = |s: usize, t: usize| g[s * ns + t];
        let mut qva = vec![ZERO; k * ns];
        let mut qaa = vec![ZERO; k * ns * ns];
        for u in 0..k {
            let s = slot[u];
            let beta = betas[u];
            let ve = if beta != 0.0 { qz[u * ns + s] } else { ZERO };
            qvv[u] += beta * ve.norm_sqr();
            for t in 0..ns {
                let mut x = qz[u * ns + t];
                if beta != 0.0 {
                    x += ve * p0(s, t) * beta;
                }
                qva[u * ns + t] = x;
                for w in 0..ns {
                    let mut a = p0(t, w);
                    if beta != 0.0 {
                        a += p0(t, s) * p0(s, w) * beta;
                    }
                    qaa[u * ns * ns + t * ns + w] = a;
                }
            }
        }
        assemble_hessian(sub, sidx, &qvv, &qva, &qaa, &ws.av)
    }
}

/// H_ab = Σ_k 2 Re(conj(c_{a,k}) c_{b,k} Q_k[a, b]) from the blocks
/// Q_k = [v_kᴴM_k⁻¹v_k, v_kᴴM_k⁻¹a_t; ·, a_tᴴM_k⁻¹a_w] (module docs).
fn assemble_hessian(
    sub: &Subproblem,
    sidx: &[usize],
    qvv: &[f64],
    qva: &[c64],
    qaa: &[c64],
    av: &[c64],
) -> Option<Vec<f64>> {
    let k = sub.num_users;
    let ns = sidx.len();
    let n = 1 + ns;
    let sens = sub.sensing.as_ref();
    let mut hess = vec![0.0; n * n];
    {
        let mut coef = vec![ZERO; n];
        for u in 0..k {
            coef[0] = c64::new(1.0, 0.0);
            for (si, &j) in sidx.iter().enumerate() {
                coef[1 + si] = if j == u {
                    let s = sens?;
                    -(s.alpha[u] * s.c)
                } else {
                    av[si * k + u]
                };
            }
            let qe = |a: usize, b: usize| -> c64 {
                match (a, b) {
                    (0, 0) => c64::new(qvv[u], 0.0),
                    (0, b) => qva[u * ns + b - 1],
                    (a, 0) => qva[u * ns + a - 1].conj(),
                    (a, b) => qaa[u * ns * ns + (a - 1) * ns + b - 1],
                }
            };
            for a in 0..n {
                for b in a..n {
                    let x = 2.0 * (coef[a].conj() * coef[b] * qe(a, b)).re;
                    hess[a * n + b] += x;
                    if a != b {
                        hess[b * n + a] += x;
                    }
                }
            }
        }
    }
    Some(hess)
}

impl InnerSolver for DualOpt {
    fn solve(
        &mut self,
        sub: &Subproblem,
        v_prev: &[c64],
    ) -> Result<InnerOutcome, BeamformingError> {
        let mut out = self.solve_subproblem(sub)?;
        // The Newton iterate is primal-feasible only up to `dual_tol`; if it still
        // violates the linearised constraints materially (non-convergence, e.g. a
        // dual so ill-conditioned at λ = 0 that Newton stalls), step from the SCA
        // point — feasible by construction — towards it as far as the constraints
        // allow (they are convex, so the feasible part of the segment is [0, t*]),
        // and keep the step only if it improves (26) (concave, so any t ≤ 1 does
        // when the end point does).
        if !out.converged {
            let scale = 1.0 + norm_sqr(v_prev);
            let worst = |v: &[c64]| {
                sub.constraint_values(v)
                    .into_iter()
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            if worst(&out.v) > 1e-6 * scale {
                let mut v = v_prev.to_vec();
                let (mut lo, mut hi) = (0.0, 1.0);
                for _ in 0..40 {
                    let t = 0.5 * (lo + hi);
                    for ((x, a), b) in v.iter_mut().zip(v_prev).zip(&out.v) {
                        *x = a + (b - a) * t;
                    }
                    if worst(&v) <= 0.0 {
                        lo = t;
                    } else {
                        hi = t;
                    }
                }
                for ((x, a), b) in v.iter_mut().zip(v_prev).zip(&out.v) {
                    *x = a + (b - a) * lo;
                }
                out.v = if lo > 0.0 && sub.objective(&v) > sub.objective(v_prev) {
                    v
                } else {
                    v_prev.to_vec()
                };
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fp;
    use crate::synthetic::{SyntheticParams, instance};
    use faer::linalg::solvers::Solve;
    use faer::{Mat, Side};

    /// The Woodbury per-user solve equals a direct solve of
    /// (Ã + λI + Σ_{j≠k} μ_j B_j) v_k = z_k + μ_k C_k v_k^(r) (plus the ridge).
    #[test]
    fn woodbury_equals_direct_solve() {
        for (k, nt, seed) in [(3, 8, 1), (6, 32, 2), (12, 32, 3)] {
            let p = instance(
                &SyntheticParams {
                    users: k,
                    antennas: nt,
                    sensing: Some((1.0, 1e-3)),
                    per_user_leakage: false,
                },
                seed,
            );
            let v0 = fp::initial_beams(&p, &FpParams::default()).unwrap();
            let (sub, _) = fp::linearize(&p, &v0).unwrap();
            let s = sub.sensing.as_ref().unwrap();
            let sidx: Vec<usize> = (0..k).filter(|&u| s.constrained[u]).collect();
            assert!(sidx.len() >= 2);
            let y: Vec<f64> = std::iter::once(0.7)
                .chain(sidx.iter().map(|&u| 0.3 + 0.1 * u as f64))
                .collect();
            let mut d = DualOpt::new(&DualOptParams::default());
            let e = d.eval(&sub, &sidx, &y, false).expect("PD");
            let ridge =
                1e-10 * (0..nt).map(|i| sub.a_common[i * nt + i].re).sum::<f64>() / nt as f64;
            for u in 0..k {
                let mut m = Mat::<c64>::from_fn(nt, nt, |i, j| sub.a_common[i * nt + j]);
                let mut rhs = Mat::<c64>::from_fn(nt, 1, |i, _| sub.z[u * nt + i]);
                for i in 0..nt {
                    m[(i, i)] += y[0] + ridge;
                }
                for (si, &j) in sidx.iter().enumerate() {
                    let a = &s.steering[j * nt..(j + 1) * nt];
                    if j != u {
                        for r in 0..nt {
                            for c in 0..nt {
                                m[(r, c)] += a[r] * a[c].conj() * y[1 + si];
                            }
                        }
                    } else {
                        for r in 0..nt {
                            rhs[(r, 0)] += a[r] * s.alpha[u] * (s.c * y[1 + si]);
                        }
                    }
                }
                let x = m.llt(Side::Lower).expect("PD").solve(&rhs);
                let scale = (0..nt).map(|i| x[(i, 0)].norm_sqr()).sum::<f64>().sqrt();
                for i in 0..nt {
                    assert!(
                        (x[(i, 0)] - e.v[u * nt + i]).norm() <= 1e-9 * scale,
                        "K={k} user {u}"
                    );
                }
            }
        }
    }

    /// The analytic dual Hessian matches finite differences of the gradient.
    #[test]
    fn dual_hessian_matches_finite_differences() {
        let p = instance(
            &SyntheticParams {
                users: 5,
                antennas: 16,
                sensing: Some((0.01, 0.05)),
                per_user_leakage: false,
            },
            4,
        );
        let v0 = fp::initial_beams(&p, &FpParams::default()).unwrap();
        let (sub, _) = fp::linearize(&p, &v0).unwrap();
        let s = sub.sensing.as_ref().unwrap();
        let sidx: Vec<usize> = (0..5).filter(|&u| s.constrained[u]).collect();
        let n = 1 + sidx.len();
        let y: Vec<f64> = (0..n).map(|i| 0.5 + 0.1 * i as f64).collect();
        let mut d = DualOpt::new(&DualOptParams::default());
        let e = d.eval(&sub, &sidx, &y, true).unwrap();
        // The lazy Hessian (from the workspace of an evaluation without it) is the same.
        let lazy = d.eval(&sub, &sidx, &y, false).unwrap();
        assert!(lazy.hess.is_empty());
        assert_eq!(d.hessian(&sub, &sidx, &y).unwrap(), e.hess);
        for b in 0..n {
            let h = 1e-6;
            let mut yp = y.clone();
            yp[b] += h;
            let mut ym = y.clone();
            ym[b] -= h;
            let gp = d.eval(&sub, &sidx, &yp, false).unwrap().grad;
            let gm = d.eval(&sub, &sidx, &ym, false).unwrap().grad;
            for a in 0..n {
                let fd = (gp[a] - gm[a]) / (2.0 * h);
                let an = e.hess[a * n + b];
                assert!(
                    (fd - an).abs() <= 1e-5 * (1.0 + an.abs()),
                    "H[{a}][{b}]: fd {fd} vs {an}"
                );
            }
        }
    }
}
