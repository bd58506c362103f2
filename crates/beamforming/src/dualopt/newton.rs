//! The dual minimisation of one subproblem (26) (module docs of [`super`]):
//! projected Newton on q(λ, μ) with an Armijo search along the projection
//! arc, from warm-started duals.

use super::{DualOpt, Eval};
use crate::error::BeamformingError;
use crate::fp::{InnerOutcome, Subproblem};
use crate::linalg::norm_sqr;

impl DualOpt {
    /// Solves one subproblem (26) directly (the tests compare it with the reference).
    pub fn solve_subproblem(&mut self, sub: &Subproblem) -> Result<InnerOutcome, BeamformingError> {
        let k = sub.num_users;
        let sidx: Vec<usize> = match &sub.sensing {
            Some(s) => (0..k).filter(|&u| s.constrained[u]).collect(),
            None => Vec::new(),
        };
        let n = 1 + sidx.len();
        let mut y = self.starting_duals(sub, &sidx);
        let scale = dual_scales(sub, &sidx);
        let mut cur = self.first_domain_point(sub, &sidx, &mut y)?;
        let mut iterations = 0;
        let mut converged = false;
        while iterations < self.max_iter {
            // STEP 1: optimality test on the projected gradient.
            if is_optimal(&cur, &y, &scale, self.tol) {
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
            // STEP 2: Newton direction on the free variables.
            let d = newton_direction(&cur, &y);
            // STEP 3: Armijo backtracking along the projection arc.
            let Some((yt, e)) = self.line_search(sub, &sidx, &y, &cur, &d) else {
                break;
            };
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

    /// Starting duals y = (λ, μ_S): the warm start, else λ0 = sqrt(Σ‖z‖²/P)
    /// (the λ that meets the budget when Ã = 0), μ = 0.
    fn starting_duals(&self, sub: &Subproblem, sidx: &[usize]) -> Vec<f64> {
        let k = sub.num_users;
        let mut y = vec![0.0; 1 + sidx.len()];
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
        y
    }

    /// A point in the domain (all M_k positive definite), raising λ from `y`.
    fn first_domain_point(
        &mut self,
        sub: &Subproblem,
        sidx: &[usize],
        y: &mut [f64],
    ) -> Result<Eval, BeamformingError> {
        let mut cur = None;
        for _ in 0..200 {
            cur = self.eval(sub, sidx, y, false);
            if cur.is_some() {
                break;
            }
            y[0] = (y[0] * 4.0).max(1e-6);
        }
        cur.ok_or(BeamformingError::Numerical(
            "DualOpt: no positive-definite dual start",
        ))
    }

    /// Armijo backtracking from `y` along the projection arc of direction `d`:
    /// the accepted duals and their evaluation, or `None`. First tries the
    /// boundary point where every variable that Newton decreases against a
    /// positive gradient is set to 0: near a boundary optimum (λ* = 0 with an
    /// ill-conditioned Ã, or an inactive μ_k) Newton only halves y_i per step,
    /// while the optimum is exactly y_i = 0.
    fn line_search(
        &mut self,
        sub: &Subproblem,
        sidx: &[usize],
        y: &[f64],
        cur: &Eval,
        d: &[f64],
    ) -> Option<(Vec<f64>, Eval)> {
        let n = y.len();
        let mut accepted = None;
        let jump: Vec<usize> = (0..n)
            .filter(|&i| y[i] > 0.0 && cur.grad[i] > 0.0 && d[i] < 0.0)
            .collect();
        if !jump.is_empty() {
            let mut yb: Vec<f64> = (0..n).map(|i| (y[i] + d[i]).max(0.0)).collect();
            for &i in &jump {
                yb[i] = 0.0;
            }
            if let Some(e) = self.eval(sub, sidx, &yb, false) {
                let dec: f64 = (0..n).map(|i| cur.grad[i] * (yb[i] - y[i])).sum();
                if e.q <= cur.q + 1e-4 * dec {
                    accepted = Some((yb, e));
                }
            }
        }
        let mut t = 1.0;
        for _ in 0..if accepted.is_some() { 0 } else { 60 } {
            let yt: Vec<f64> = (0..n).map(|i| (y[i] + t * d[i]).max(0.0)).collect();
            if let Some(e) = self.eval(sub, sidx, &yt, false) {
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
        accepted
    }
}

/// The scale of each dual's constraint (P for λ, s_k + c|α_k|² for μ_k), for
/// the relative optimality test.
fn dual_scales(sub: &Subproblem, sidx: &[usize]) -> Vec<f64> {
    std::iter::once(sub.power)
        .chain(sidx.iter().map(|&u| {
            let s = sub
                .sensing
                .as_ref()
                .map(|s| s.noise[u] + s.c * s.alpha[u].norm_sqr());
            s.unwrap_or(1.0).max(1e-300)
        }))
        .collect()
}

/// The projected gradient vanishes within `tol` (relative to `scale`).
fn is_optimal(cur: &Eval, y: &[f64], scale: &[f64], tol: f64) -> bool {
    (0..y.len()).all(|i| {
        let g = cur.grad[i] / scale[i];
        if y[i] > 0.0 {
            g.abs() <= tol
        } else {
            g >= -tol
        }
    })
}

/// The Newton direction on the free variables (active: y_i = 0,
/// ∂q/∂y_i > 0; their component is 0), a scaled gradient step if the reduced
/// Hessian is singular.
fn newton_direction(cur: &Eval, y: &[f64]) -> Vec<f64> {
    let n = y.len();
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
    d
}
