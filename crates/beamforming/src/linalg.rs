//! Small dense kernels for the hot loops: a complex Hermitian Cholesky
//! factorisation with in-place solves (row-major, scratch owned by the caller
//! and reused across dual iterations), and a tiny real linear solver.
//!
//! Why hand-rolled: at Nt = 32…128 the per-call overhead of a general library
//! factorisation dominates; this one allocates nothing after construction and
//! is deterministic (no thread-count dependence). It is tested against faer.

use crate::c64;

/// h ᴴ v = Σ conj(h_n) v_n.
///
/// Four independent partial sums: a single accumulator makes every complex
/// multiply-add wait for the previous one (a latency chain), which made the
/// dot products, the Cholesky factorisation and the triangular solves of
/// DualOpt 3–4× slower than the arithmetic requires.
#[inline]
pub(crate) fn dotc(h: &[c64], v: &[c64]) -> c64 {
    let n = h.len().min(v.len());
    let (h, v) = (&h[..n], &v[..n]);
    let mut re = [0.0; 4];
    let mut im = [0.0; 4];
    let (hc, vc) = (h.chunks_exact(4), v.chunks_exact(4));
    let (hr, vr) = (hc.remainder(), vc.remainder());
    for (a, b) in hc.zip(vc) {
        for l in 0..4 {
            re[l] += a[l].re * b[l].re + a[l].im * b[l].im;
            im[l] += a[l].re * b[l].im - a[l].im * b[l].re;
        }
    }
    for (a, b) in hr.iter().zip(vr) {
        re[0] += a.re * b.re + a.im * b.im;
        im[0] += a.re * b.im - a.im * b.re;
    }
    c64::new(
        (re[0] + re[1]) + (re[2] + re[3]),
        (im[0] + im[1]) + (im[2] + im[3]),
    )
}

/// Σ a_n b_n (no conjugation), with the partial sums of [`dotc`].
#[inline]
pub(crate) fn dotu(a: &[c64], b: &[c64]) -> c64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut re = [0.0; 4];
    let mut im = [0.0; 4];
    let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..4 {
            re[l] += x[l].re * y[l].re - x[l].im * y[l].im;
            im[l] += x[l].re * y[l].im + x[l].im * y[l].re;
        }
    }
    for (x, y) in ar.iter().zip(br) {
        re[0] += x.re * y.re - x.im * y.im;
        im[0] += x.re * y.im + x.im * y.re;
    }
    c64::new(
        (re[0] + re[1]) + (re[2] + re[3]),
        (im[0] + im[1]) + (im[2] + im[3]),
    )
}

#[inline]
pub(crate) fn norm_sqr(v: &[c64]) -> f64 {
    v.iter().map(|x| x.norm_sqr()).sum()
}

/// y = M x for a row-major n×n matrix.
pub(crate) fn matvec(m: &[c64], x: &[c64], y: &mut [c64]) {
    let n = x.len();
    for i in 0..n {
        y[i] = dotu(&m[i * n..(i + 1) * n], x);
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
                // s = A[i][j] − Σ_{p<j} L[i][p] conj(L[j][p])
                let (ri, rj) = (i * n, j * n);
                let s = a[i * n + j] - dotc(&l[rj..rj + j], &l[ri..ri + j]);
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

    /// x ← L⁻¹ x (forward substitution only): ‖L⁻¹x‖² = xᴴ M⁻¹ x and
    /// (L⁻¹x)ᴴ(L⁻¹y) = xᴴ M⁻¹ y at half the cost of a full solve.
    pub(crate) fn forward_in_place(&self, x: &mut [c64]) {
        let n = self.n;
        let l = &self.l;
        for i in 0..n {
            x[i] = (x[i] - dotu(&l[i * n..i * n + i], &x[..i])) / l[i * n + i].re;
        }
    }

    /// X ← L⁻¹ X for m right-hand sides stored as the columns of the row-major
    /// n×m matrix `x` (row p = entry p of every right-hand side): the inner loop
    /// runs over the right-hand sides, an axpy with no dependency chain.
    pub(crate) fn forward_batch(&self, x: &mut [c64], m: usize) {
        let n = self.n;
        let l = &self.l;
        debug_assert_eq!(x.len(), n * m);
        for i in 0..n {
            let (done, rest) = x.split_at_mut(i * m);
            let xi = &mut rest[..m];
            for p in 0..i {
                let lip = l[i * n + p];
                for (a, b) in xi.iter_mut().zip(&done[p * m..(p + 1) * m]) {
                    *a -= lip * b;
                }
            }
            let d = 1.0 / l[i * n + i].re;
            xi.iter_mut().for_each(|a| *a *= d);
        }
    }

    /// X ← M⁻¹ X, layout of [`Self::forward_batch`].
    pub(crate) fn solve_batch(&self, x: &mut [c64], m: usize) {
        self.forward_batch(x, m);
        let n = self.n;
        let l = &self.l;
        // Lᴴ X = Y by rows of L: row i of X is final once rows > i are.
        for i in (0..n).rev() {
            let (head, rest) = x.split_at_mut(i * m);
            let xi = &mut rest[..m];
            let d = 1.0 / l[i * n + i].re;
            xi.iter_mut().for_each(|a| *a *= d);
            for p in 0..i {
                let lc = l[i * n + p].conj();
                for (a, b) in head[p * m..(p + 1) * m].iter_mut().zip(xi.iter()) {
                    *a -= lc * b;
                }
            }
        }
    }

    /// x ← M⁻¹ x.
    pub(crate) fn solve_in_place(&self, x: &mut [c64]) {
        let n = self.n;
        let l = &self.l;
        // STEP 1: forward substitution L y = x.
        self.forward_in_place(x);
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
    fn batched_solves_match_single_solves() {
        let mut rng = StdRng::seed_from_u64(8);
        for (n, m) in [(1, 1), (5, 3), (32, 7)] {
            let a = random_hpd(n, &mut rng);
            let mut ch = Cholesky::new(n);
            assert!(ch.factor(&a));
            let cols: Vec<Vec<c64>> = (0..m)
                .map(|_| {
                    (0..n)
                        .map(|_| c64::new(rng.random(), rng.random()))
                        .collect()
                })
                .collect();
            let mut xf = vec![c64::new(0.0, 0.0); n * m];
            for (j, c) in cols.iter().enumerate() {
                for i in 0..n {
                    xf[i * m + j] = c[i];
                }
            }
            let mut xs = xf.clone();
            ch.forward_batch(&mut xf, m);
            ch.solve_batch(&mut xs, m);
            for (j, c) in cols.iter().enumerate() {
                let mut f = c.clone();
                ch.forward_in_place(&mut f);
                let mut x = c.clone();
                ch.solve_in_place(&mut x);
                let (sf, sx) = (norm_sqr(&f).sqrt(), norm_sqr(&x).sqrt());
                for i in 0..n {
                    assert!((xf[i * m + j] - f[i]).norm() <= 1e-12 * sf, "n={n} forward");
                    assert!((xs[i * m + j] - x[i]).norm() <= 1e-10 * sx, "n={n} solve");
                }
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
