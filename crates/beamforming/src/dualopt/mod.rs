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
//!
//! Files: `mod.rs` the solver, its entry points and the feasibility repair of
//! a non-converged inner solve; `newton.rs` the projected Newton loop;
//! `eval.rs` one evaluation of q, ∇q and v (27)–(32); `hessian.rs` the dual
//! Hessian.

use crate::Beams;
use crate::c64;
use crate::error::BeamformingError;
use crate::fp::{self, FpInfo, FpParams, InnerOutcome, InnerSolver, Subproblem};
use crate::linalg::{Cholesky, norm_sqr};
use crate::problem::SalinrProblem;

mod eval;
mod hessian;
mod newton;

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
