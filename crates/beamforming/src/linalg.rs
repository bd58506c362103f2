//! Small dense kernels for the hot loops: a complex Hermitian Cholesky
//! factorisation with in-place solves (row-major, scratch owned by the caller
//! and reused across dual iterations), and a tiny real linear solver.
//!
//! Why hand-rolled: at Nt = 32…128 the per-call overhead of a general library
//! factorisation dominates; this one allocates nothing after construction and
//! is deterministic (no thread-count dependence). It is tested against faer.

use crate::c64;

/// h ᴴ v = Σ conj(h_n) v_n.
#[inline]
pub(crate) fn dotc(h: &[c64], v: &[c64]) -> c64 {
    let mut re = 0.0;
    let mut im = 0.0;
    for (a, b) in h.iter().zip(v) {
        re += a.re * b.re + a.im * b.im;
        im += a.re * b.im - a.im * b.re;
    }
    c64::new(re, im)
}

#[inline]
pub(crate) fn norm_sqr(v: &[c64]) -> f64 {
    v.iter().map(|x| x.norm_sqr()).sum()
}

/// y = M x for a row-major n×n matrix.
pub(crate) fn matvec(m: &[c64], x: &[c64], y: &mut [c64]) {
    let n = x.len();
    for i in 0..n {
        let row = &m[i * n..(i + 1) * n];
        let mut s = c64::new(0.0, 0.0);
        for (a, b) in row.iter().zip(x) {
            s += a * b;
        }
        y[i] = s;
    }
}

/// M += c · x xᴴ (row-major n×n), only where it matters for Cholesky: the full matrix.
pub(crate) fn add_outer(m: &mut [c64], c: f64, x: &[c64]) {
    let n = x.len();
    for i in 0..n {
        let xi = x[i] * c;
        let row = &mut m[i * n..(i + 1) * n];
        for (r, xj) in row.iter_mut().zip(x) {
            *r += xi * xj.conj();
        }
    }
}

/// Lower Cholesky factor L (row-major, M = L Lᴴ) of a Hermitian matrix.
#[derive(Debug, Clone)]
pub(crate) struct Cholesky {
    n: usize,
    l: Vec<c64>,
}

impl Cholesky {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            n,
            l: vec![c64::new(0.0, 0.0); n * n],
        }
    }

    /// Factorises the Hermitian row-major matrix `a` (only its lower triangle is
    /// read). Returns false if `a` is not numerically positive definite.
    pub(crate) fn factor(&mut self, a: &[c64]) -> bool {
        let n = self.n;
        debug_assert_eq!(a.len(), n * n);
        let l = &mut self.l;
        for i in 0..n {
            for j in 0..=i {
                let mut s = a[i * n + j];
                // s -= Σ_{p<j} L[i][p] conj(L[j][p])
                let (ri, rj) = (i * n, j * n);
                let mut re = 0.0;
                let mut im = 0.0;
                for p in 0..j {
                    let x = l[ri + p];
                    let y = l[rj + p];
                    re += x.re * y.re + x.im * y.im;
                    im += x.im * y.re - x.re * y.im;
                }
                s -= c64::new(re, im);
                if i == j {
                    let d = s.re;
                    if d.is_nan() || d <= 0.0 || !d.is_finite() {
                        return false;
                    }
                    l[ri + i] = c64::new(d.sqrt(), 0.0);
                } else {
                    l[ri + j] = s / l[rj + j].re;
                }
            }
        }
        true
    }

    /// x ← M⁻¹ x.
    pub(crate) fn solve_in_place(&self, x: &mut [c64]) {
        let n = self.n;
        let l = &self.l;
        // STEP 1: forward substitution L y = x.
        for i in 0..n {
            let row = &l[i * n..i * n + i];
            let mut s = x[i];
            for (a, b) in row.iter().zip(&x[..i]) {
                s -= a * b;
            }
            x[i] = s / l[i * n + i].re;
        }
        // STEP 2: backward substitution Lᴴ x = y, by rows of L (contiguous).
        for i in (0..n).rev() {
            let xi = x[i] / l[i * n + i].re;
            x[i] = xi;
            let row = &l[i * n..i * n + i];
            for (p, a) in row.iter().enumerate() {
                x[p] -= a.conj() * xi;
            }
        }
    }
}

/// Solves the small dense real system A x = b (row-major n×n) by Gaussian
/// elimination with partial pivoting. Returns None if A is singular.
pub(crate) fn solve_real(a: &mut [f64], b: &mut [f64]) -> Option<()> {
    let n = b.len();
    for col in 0..n {
        let piv =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[piv * n + col].abs() < 1e-300 || !a[piv * n + col].is_finite() {
            return None;
        }
        if piv != col {
            for c in 0..n {
                a.swap(piv * n + c, col * n + c);
            }
            b.swap(piv, col);
        }
        let d = a[col * n + col];
        for r in col + 1..n {
            let f = a[r * n + col] / d;
            if f != 0.0 {
                for c in col..n {
                    a[r * n + c] -= f * a[col * n + c];
                }
                b[r] -= f * b[col];
            }
        }
    }
    for r in (0..n).rev() {
        let mut s = b[r];
        for c in r + 1..n {
            s -= a[r * n + c] * b[c];
        }
        b[r] = s / a[r * n + r];
    }
    b.iter().all(|x| x.is_finite()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::linalg::solvers::Solve;
    use faer::{Mat, Side};
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    fn random_hpd(n: usize, rng: &mut StdRng) -> Vec<c64> {
        let g: Vec<c64> = (0..n * n)
            .map(|_| c64::new(rng.random::<f64>() - 0.5, rng.random::<f64>() - 0.5))
            .collect();
        let mut a = vec![c64::new(0.0, 0.0); n * n];
        for i in 0..n {
            for j in 0..n {
                let mut s = c64::new(0.0, 0.0);
                for p in 0..n {
                    s += g[i * n + p] * g[j * n + p].conj();
                }
                a[i * n + j] = s;
            }
            a[i * n + i] += 0.1;
        }
        a
    }

    #[test]
    fn cholesky_solve_matches_faer() {
        let mut rng = StdRng::seed_from_u64(7);
        for n in [1, 3, 8, 32, 64] {
            let a = random_hpd(n, &mut rng);
            let b: Vec<c64> = (0..n).map(|i| c64::new(i as f64, 1.0 - i as f64)).collect();
            let mut ch = Cholesky::new(n);
            assert!(ch.factor(&a));
            let mut x = b.clone();
            ch.solve_in_place(&mut x);
            let fa = Mat::<c64>::from_fn(n, n, |i, j| a[i * n + j]);
            let fb = Mat::<c64>::from_fn(n, 1, |i, _| b[i]);
            let fx = fa.llt(Side::Lower).expect("HPD").solve(&fb);
            let scale = norm_sqr(&x).sqrt();
            for i in 0..n {
                assert!((x[i] - fx[(i, 0)]).norm() <= 1e-10 * scale, "n={n} i={i}");
            }
        }
    }

    #[test]
    fn cholesky_rejects_indefinite() {
        let a = vec![
            c64::new(1.0, 0.0),
            c64::new(2.0, 0.0),
            c64::new(2.0, 0.0),
            c64::new(1.0, 0.0),
        ];
        assert!(!Cholesky::new(2).factor(&a));
    }

    #[test]
    fn real_solver() {
        let mut a = vec![0.0, 2.0, 1.0, 1.0];
        let mut b = vec![4.0, 3.0];
        solve_real(&mut a, &mut b).expect("regular");
        assert!((b[0] - 1.0).abs() < 1e-14 && (b[1] - 2.0).abs() < 1e-14);
        let mut s = vec![1.0, 1.0, 1.0, 1.0];
        assert!(solve_real(&mut s, &mut [1.0, 2.0]).is_none());
    }
}
