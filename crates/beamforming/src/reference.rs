//! The reference solver (SPEC §10.5): the convex subproblem (26) solved exactly
//! by the interior-point conic solver `clarabel`, and Algorithm 2 with it in
//! place of DualOpt (the paper's SDR+CVX comparison point, Fig. 5 / Table I).
//!
//! Real form of (26) (normalised units, [`crate::fp`]): with x = (Re v_k, Im v_k)_k,
//!
//! ```text
//! minimise  ½ xᵀ P x + qᵀ x,   P = blockdiag_k 2 [[Re Ã_k, −Im Ã_k], [Im Ã_k, Re Ã_k]],
//!                               q = −2 (Re z_k, Im z_k)_k
//! s.t.  ‖x‖ ≤ √P                                              (power, one SOC)
//!       ‖(2 y_k, t_k − 1)‖ ≤ t_k + 1   for each constrained k   (rotated cone ‖y_k‖² ≤ t_k)
//!       y_k = (a_kᴴ v_j)_{j≠k} (real and imaginary parts),
//!       t_k = c (2 Re(conj(α_k) a_kᴴ v_k) − |α_k|²) − s_k        (affine)
//! ```
//!
//! The quadratic objective is passed to clarabel directly (it handles convex
//! QPs with conic constraints), so no Cholesky epigraph of Ã is needed.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};

use crate::Beams;
use crate::c64;
use crate::error::BeamformingError;
use crate::fp::{self, FpInfo, FpParams, InnerOutcome, InnerSolver, Subproblem};
use crate::problem::SalinrProblem;

/// Parameters of the reference solver.
#[derive(Debug, Clone, PartialEq)]
pub struct RefParams {
    /// Outer loop (Algorithm 2) parameters.
    pub fp: FpParams,
    /// clarabel's absolute/relative gap and feasibility tolerances.
    pub tol: f64,
    /// clarabel's iteration limit.
    pub max_iter: u32,
}

impl Default for RefParams {
    fn default() -> Self {
        Self {
            fp: FpParams::default(),
            tol: 1e-9,
            max_iter: 200,
        }
    }
}

/// Algorithm 2 with the clarabel solver of (26) as inner solver, from the
/// feasible initial point.
pub fn solve_fp(
    problem: &SalinrProblem,
    params: &RefParams,
) -> Result<(Beams, FpInfo), BeamformingError> {
    fp::run(
        problem,
        None,
        &params.fp,
        &mut Reference {
            params: params.clone(),
        },
    )
}

/// As [`solve_fp`] from the given initial beams.
pub fn solve_fp_from(
    problem: &SalinrProblem,
    v0: &Beams,
    params: &RefParams,
) -> Result<(Beams, FpInfo), BeamformingError> {
    fp::run(
        problem,
        Some(v0),
        &params.fp,
        &mut Reference {
            params: params.clone(),
        },
    )
}

/// The clarabel inner solver.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Solver parameters.
    pub params: RefParams,
}

impl InnerSolver for Reference {
    fn solve(
        &mut self,
        sub: &Subproblem,
        _v_prev: &[c64],
    ) -> Result<InnerOutcome, BeamformingError> {
        solve_subproblem(sub, &self.params)
    }
}

/// Solves (26) exactly; `iterations` are clarabel's interior-point iterations.
#[allow(non_snake_case)]
pub fn solve_subproblem(
    sub: &Subproblem,
    params: &RefParams,
) -> Result<InnerOutcome, BeamformingError> {
    let k = sub.num_users;
    let nt = sub.num_antennas;
    let nx = 2 * nt * k;
    let re = |u: usize, i: usize| 2 * nt * u + i;
    let im = |u: usize, i: usize| 2 * nt * u + nt + i;

    // Objective: P (upper triangle) and q.
    let (mut pi, mut pj, mut pv) = (Vec::new(), Vec::new(), Vec::new());
    let mut push_p = |r: usize, c: usize, x: f64| {
        if r <= c && x != 0.0 {
            pi.push(r);
            pj.push(c);
            pv.push(x);
        }
    };
    for u in 0..k {
        let a = sub.a_tilde(u);
        for i in 0..nt {
            for j in 0..nt {
                let x = a[i * nt + j];
                push_p(re(u, i), re(u, j), 2.0 * x.re);
                push_p(im(u, i), im(u, j), 2.0 * x.re);
                push_p(re(u, i), im(u, j), -2.0 * x.im);
                push_p(im(u, i), re(u, j), 2.0 * x.im);
            }
        }
    }
    let P = CscMatrix::new_from_triplets(nx, nx, pi, pj, pv);
    let mut q = vec![0.0; nx];
    for u in 0..k {
        for i in 0..nt {
            let z = sub.z[u * nt + i];
            q[re(u, i)] = -2.0 * z.re;
            q[im(u, i)] = -2.0 * z.im;
        }
    }

    // Constraints A x + s = b, s ∈ cones.
    let (mut ai, mut aj, mut av) = (Vec::new(), Vec::new(), Vec::new());
    let mut b = Vec::new();
    let mut cones = Vec::new();
    // Power: s = (√P, x).
    b.push(sub.power.sqrt());
    for col in 0..nx {
        ai.push(1 + col);
        aj.push(col);
        av.push(-1.0);
        b.push(0.0);
    }
    cones.push(SupportedConeT::SecondOrderConeT(1 + nx));
    if let Some(s) = &sub.sensing {
        for u in (0..k).filter(|&u| s.constrained[u]) {
            let a = &s.steering[u * nt..(u + 1) * nt];
            let al = s.alpha[u];
            let row0 = b.len();
            // t = gᵀx + t0.
            let t0 = -s.c * al.norm_sqr() - s.noise[u];
            for i in 0..nt {
                let e = al * a[i];
                for r in [row0, row0 + 1] {
                    ai.push(r);
                    aj.push(re(u, i));
                    av.push(-2.0 * s.c * e.re);
                    ai.push(r);
                    aj.push(im(u, i));
                    av.push(-2.0 * s.c * e.im);
                }
            }
            b.push(t0 + 1.0);
            b.push(t0 - 1.0);
            for j in (0..k).filter(|&j| j != u) {
                let (rr, ri) = (b.len(), b.len() + 1);
                for i in 0..nt {
                    let x = a[i];
                    // 2 Re(a_kᴴ v_j) = 2 Σ (ar xr + ai xi); 2 Im = 2 Σ (ar xi − ai xr).
                    ai.extend([rr, rr, ri, ri]);
                    aj.extend([re(j, i), im(j, i), im(j, i), re(j, i)]);
                    av.extend([-2.0 * x.re, -2.0 * x.im, -2.0 * x.re, 2.0 * x.im]);
                }
                b.push(0.0);
                b.push(0.0);
            }
            cones.push(SupportedConeT::SecondOrderConeT(b.len() - row0));
        }
    }
    let A = CscMatrix::new_from_triplets(b.len(), nx, ai, aj, av);
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .tol_gap_abs(params.tol)
        .tol_gap_rel(params.tol)
        .tol_feas(params.tol)
        .max_iter(params.max_iter)
        .build()
        .map_err(|e| BeamformingError::Reference(format!("settings: {e:?}")))?;
    let mut solver = DefaultSolver::new(&P, &q, &A, &b, &cones, settings)
        .map_err(|e| BeamformingError::Reference(format!("setup: {e}")))?;
    solver.solve();
    let sol = &solver.solution;
    match sol.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => {}
        other => return Err(BeamformingError::Reference(format!("status {other:?}"))),
    }
    let v = (0..k)
        .flat_map(|u| (0..nt).map(move |i| (u, i)))
        .map(|(u, i)| c64::new(sol.x[re(u, i)], sol.x[im(u, i)]))
        .collect();
    Ok(InnerOutcome {
        v,
        iterations: sol.iterations as usize,
        converged: sol.status == SolverStatus::Solved,
    })
}
