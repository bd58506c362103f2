//! The dual Hessian for the projected Newton steps (module docs of
//! [`super`]): H_ab = Σ_k 2 Re(G_{a,k}ᴴ M_k⁻¹ G_{b,k}), from the factorisation
//! of the last evaluation.

use super::{DualOpt, ZERO};
use crate::c64;
use crate::fp::Subproblem;
use crate::linalg::gram_columns;

impl DualOpt {
    /// The dual Hessian at the duals of the last evaluation, from its
    /// factorisation: when `y` is that point of a shared-M evaluation (the usual
    /// case: the accepted point is the last one evaluated), no new factorisation.
    pub(super) fn hessian(
        &mut self,
        sub: &Subproblem,
        sidx: &[usize],
        y: &[f64],
    ) -> Option<Vec<f64>> {
        if self.ws.stamp.as_deref() == Some(y) && sub.own_leakage.is_none() {
            self.shared_hessian(sub, sidx)
        } else {
            self.eval(sub, sidx, y, true).map(|e| e.hess)
        }
    }

    /// Shared-M Hessian from the workspace of the last evaluation (`stamp`):
    /// with Z = L⁻¹ V, v_kᴴ M⁻¹ v_k = ‖z_k‖² and v_kᴴ M⁻¹ a_t = z_kᴴ w_t.
    pub(super) fn shared_hessian(&mut self, sub: &Subproblem, sidx: &[usize]) -> Option<Vec<f64>> {
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
pub(super) fn assemble_hessian(
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
