//! Small dense kernels for the hot loops: dot products, the products of the
//! FP loop (leakages, Hᴴ V, Σ w h hᴴ), a complex Hermitian Cholesky
//! factorisation with batched in-place solves (row-major interface, scratch
//! owned by the caller and reused across dual iterations), Gram blocks of the
//! solved right-hand sides, and a tiny real linear solver.
//!
//! **Run-time SIMD (decision).** The crate is compiled for baseline x86-64
//! (SSE2), so the O(Nt²)–O(Nt³) kernels run under pulp's run-time dispatch
//! (`pulp::Arch::new().dispatch(op)`, every callee `#[inline(always)]`), with
//! pulp's complex FMA on two complex numbers per AVX2 vector. pulp's scalar
//! fallback performs the same fused operations, and no sum is split across
//! vector lanes, so the bits do not depend on the SIMD level or the thread
//! count. The Cholesky is tested against faer's high-level solver.

use std::ops::Range;

use pulp::{Scalar, Simd, WithSimd};

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

/// The row-major K×Nt `v` as Nt×K (row i = entry i of every row of `v`), the
/// layout of the batched kernels.
pub(crate) fn transpose(v: &[c64], k: usize, nt: usize) -> Vec<c64> {
    let mut t = vec![c64::new(0.0, 0.0); nt * k];
    for (j, vj) in v.chunks_exact(nt).take(k).enumerate() {
        for (i, x) in vj.iter().enumerate() {
            t[i * k + j] = *x;
        }
    }
    t
}

/// v_jᴴ D v_j (clamped at 0) for the K beams of the row-major K×Nt `v`, with D
/// the row-major Hermitian Nt×Nt `d`: W = D V row by row, then the K column
/// dots of V and W.
pub(crate) fn leakages(d: &[c64], v: &[c64], k: usize, nt: usize) -> Vec<f64> {
    let vt = transpose(v, k, nt);
    pulp::Arch::new().dispatch(Leakages { d, vt: &vt, k })
}

/// G[u·K + j] = h_uᴴ v_j for the row-major K×Nt `h` and `v` (Hᴴ V).
pub(crate) fn gram(h: &[c64], v: &[c64], k: usize, nt: usize) -> Vec<c64> {
    let mut g = vec![c64::new(0.0, 0.0); k * k];
    let (ht, vt) = (transpose(h, k, nt), transpose(v, k, nt));
    gram_columns(&mut g, (&ht, 0..k), (&vt, 0..k), nt);
    g
}

/// A += Σ_u w_u h_u h_uᴴ for the row-major Hermitian Nt×Nt `a` and K×Nt `h`,
/// w_u ≥ 0: the upper triangle, mirrored (so A is exactly Hermitian after).
pub(crate) fn add_weighted_outers(a: &mut [c64], w: &[f64], h: &[c64], nt: usize) {
    let w: Vec<f64> = w.iter().map(|x| x.max(0.0)).collect();
    add_weighted_outers_upper(a, &w, h, nt);
    for i in 0..nt {
        for j in i + 1..nt {
            a[j * nt + i] = a[i * nt + j].conj();
        }
    }
}

/// The upper triangle (j ≥ i) of A += Σ_u w_u x_u x_uᴴ, for the row-major
/// n×n `a` and the rows x_u of the row-major `x`; users with w_u = 0 are
/// skipped. Half the work of the full product, all [`Cholesky::factor`] reads.
pub(crate) fn add_weighted_outers_upper(a: &mut [c64], w: &[f64], x: &[c64], n: usize) {
    debug_assert!(a.len() == n * n && x.len() >= w.len() * n);
    pulp::Arch::new().dispatch(RankUpdate { a, w, x, n });
}

/// out = Xᴴ Y (row-major |x.1|×|y.1|) for the vectors stored as the columns
/// `x.1` of the row-major matrix `x.0` and `y.1` of `y.0` (same row count):
/// the Gram blocks of the right-hand sides of [`Cholesky::forward_batch`].
/// Each entry is summed over the rows in order.
pub(crate) fn gram_columns(
    out: &mut [c64],
    x: (&[c64], Range<usize>),
    y: (&[c64], Range<usize>),
    rows: usize,
) {
    debug_assert_eq!(out.len(), x.1.len() * y.1.len());
    pulp::Arch::new().dispatch(Gram { out, x, y, rows });
}

/// Lower Cholesky factor L of a Hermitian matrix M = L Lᴴ given row-major,
/// with in-place solves for right-hand sides stored row-major (row p = entry p
/// of every right-hand side), the layout the dual solver builds them in.
///
/// Stored as U = Lᴴ, row-major, so that the right-looking factorisation and
/// both substitutions are sequences of contiguous complex axpys (rows of U and
/// of the right-hand sides): no horizontal sums, no layout copies. The
/// kernels run under pulp's run-time dispatch, with its complex FMA, so they
/// use AVX2 although the crate is compiled for baseline x86-64; at Nt = 32
/// they solve 1.5–2.5× faster than faer's general kernels (whose blocking and
/// dispatch do not pay off at this size). They allocate nothing and do not
/// depend on the thread count.
#[derive(Debug, Clone)]
pub(crate) struct Cholesky {
    n: usize,
    /// U = Lᴴ, row-major; only the upper triangle is used.
    u: Vec<c64>,
    /// 1 / U[p][p].
    inv_diag: Vec<f64>,
}

impl Cholesky {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            n,
            u: vec![c64::new(0.0, 0.0); n * n],
            inv_diag: vec![0.0; n],
        }
    }

    /// Factorises the Hermitian row-major matrix `a` (only its upper triangle
    /// is read). Returns false if `a` is not numerically positive definite.
    pub(crate) fn factor(&mut self, a: &[c64]) -> bool {
        debug_assert_eq!(a.len(), self.n * self.n);
        pulp::Arch::new().dispatch(Factor { chol: self, a })
    }

    /// X ← L⁻¹ X (forward substitution only) for the m right-hand sides in the
    /// columns of the row-major n×m `x`: ‖L⁻¹x‖² = xᴴ M⁻¹ x and
    /// (L⁻¹x)ᴴ(L⁻¹y) = xᴴ M⁻¹ y at half the cost of a full solve.
    pub(crate) fn forward_batch(&self, x: &mut [c64], m: usize) {
        self.substitute(x, m, true, false);
    }

    /// X ← L⁻ᴴ X (back substitution only), layout of [`Self::forward_batch`].
    pub(crate) fn backward_batch(&self, x: &mut [c64], m: usize) {
        self.substitute(x, m, false, true);
    }

    /// X ← M⁻¹ X, layout of [`Self::forward_batch`].
    pub(crate) fn solve_batch(&self, x: &mut [c64], m: usize) {
        self.substitute(x, m, true, true);
    }

    /// x ← M⁻¹ x.
    pub(crate) fn solve_in_place(&self, x: &mut [c64]) {
        self.solve_batch(&mut x[..self.n], 1);
    }

    fn substitute(&self, x: &mut [c64], m: usize, forward: bool, backward: bool) {
        debug_assert_eq!(x.len(), self.n * m);
        pulp::Arch::new().dispatch(Substitute {
            chol: self,
            x,
            m,
            forward,
            backward,
        });
    }
}

/// y += c·conj(x) with pulp's complex FMA: two complex numbers per AVX2
/// vector, and the same fused operations (so the same bits) at every SIMD
/// level, the scalar tail included.
#[inline(always)]
fn axpy_conj<S: Simd>(simd: S, y: &mut [c64], c: c64, x: &[c64]) {
    debug_assert_eq!(y.len(), x.len());
    let cs = simd.splat_c64s(c);
    let (yh, yt) = S::as_mut_simd_c64s(y);
    let (xh, xt) = S::as_simd_c64s(x);
    for (yv, xv) in yh.iter_mut().zip(xh) {
        *yv = simd.conj_mul_add_c64s(*xv, cs, *yv);
    }
    for (yv, xv) in yt.iter_mut().zip(xt) {
        *yv = Scalar.conj_mul_add_c64s(*xv, c, *yv);
    }
}

/// y −= Σ_r c_r x_r over the terms (c_r, x_r), x_r as long as y, in
/// registers: chunks of y of up to four vectors are loaded and stored once,
/// where an axpy per term would load and store them every time (and wait for
/// its own stores). The even and the odd terms are summed separately (each in
/// order) and added at the end: two chains of complex FMAs, so the latency of
/// one does not bound the throughput. The split is by term, not by lane, so
/// every SIMD level gives the same bits.
#[inline(always)]
fn sub_products<'a, S: Simd>(
    simd: S,
    y: &mut [c64],
    terms: impl Iterator<Item = (c64, &'a [c64])> + Clone,
) {
    let full = y.len() - y.len() % S::C64_LANES;
    let (yv, yt) = S::as_mut_simd_c64s(y);
    let mut v0 = 0;
    for chunk in yv.chunks_mut(4) {
        let nv = chunk.len();
        match chunk {
            [a, b, c, d] => sub_products_chunk(simd, [a, b, c, d], v0, terms.clone()),
            [a, b, c] => sub_products_chunk(simd, [a, b, c], v0, terms.clone()),
            [a, b] => sub_products_chunk(simd, [a, b], v0, terms.clone()),
            [a, ..] => sub_products_chunk(simd, [a], v0, terms.clone()),
            [] => {}
        }
        v0 += nv;
    }
    for (j, yj) in yt.iter_mut().enumerate() {
        let terms = terms
            .clone()
            .map(|(c, x)| (c, std::slice::from_ref(&x[full + j])));
        sub_products_chunk(Scalar, [yj], 0, terms);
    }
}

/// acc −= c x[v0..][..NV] (vectors).
#[inline(always)]
fn sub_product<S: Simd, const NV: usize>(
    simd: S,
    acc: &mut [S::c64s; NV],
    v0: usize,
    (c, x): (c64, &[c64]),
) {
    let cs = simd.splat_c64s(-c);
    let xv = &S::as_simd_c64s(x).0[v0..v0 + NV];
    for (a, xi) in acc.iter_mut().zip(xv) {
        *a = simd.mul_add_c64s(cs, *xi, *a);
    }
}

/// [`sub_products`] on the NV vectors `y`, which start at vector `v0` of the
/// full row.
#[inline(always)]
fn sub_products_chunk<'a, S: Simd, const NV: usize>(
    simd: S,
    y: [&mut S::c64s; NV],
    v0: usize,
    mut terms: impl Iterator<Item = (c64, &'a [c64])>,
) {
    let mut even = y.each_ref().map(|v| **v);
    let mut odd = [simd.splat_c64s(c64::new(0.0, 0.0)); NV];
    while let Some(t) = terms.next() {
        sub_product(simd, &mut even, v0, t);
        match terms.next() {
            Some(t) => sub_product(simd, &mut odd, v0, t),
            None => break,
        }
    }
    // even + 1·odd: a complex FMA with 1 + 0i is an exact complex addition.
    let one = simd.splat_c64s(c64::new(1.0, 0.0));
    for ((v, e), o) in y.into_iter().zip(even).zip(odd) {
        *v = simd.mul_add_c64s(one, o, e);
    }
}

struct Leakages<'a> {
    d: &'a [c64],
    vt: &'a [c64],
    k: usize,
}

impl WithSimd for Leakages<'_> {
    type Output = Vec<f64>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Vec<f64> {
        let Leakages { d, vt, k } = self;
        let nt = vt.len() / k;
        let mut w = vec![c64::new(0.0, 0.0); k];
        let mut leak = vec![0.0; k];
        for (di, vi) in d.chunks_exact(nt).zip(vt.chunks_exact(k)) {
            // Row i of D V: Σ_l D[i][l] V[l].
            w.fill(c64::new(0.0, 0.0));
            sub_products(simd, &mut w, di.iter().map(|x| -x).zip(vt.chunks_exact(k)));
            for ((l, x), y) in leak.iter_mut().zip(vi).zip(&w) {
                *l += (x.conj() * y).re;
            }
        }
        leak.iter().map(|l| l.max(0.0)).collect()
    }
}

struct RankUpdate<'a> {
    a: &'a mut [c64],
    w: &'a [f64],
    x: &'a [c64],
    n: usize,
}

impl WithSimd for RankUpdate<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let RankUpdate { a, w, x, n } = self;
        for (&wu, xu) in w.iter().zip(x.chunks_exact(n)) {
            if wu == 0.0 {
                continue;
            }
            // Row i: A[i][i..] += (w_u x_u[i]) conj(x_u[i..]).
            for (i, ai) in a.chunks_exact_mut(n).enumerate() {
                axpy_conj(simd, &mut ai[i..], xu[i] * wu, &xu[i..]);
            }
        }
    }
}

struct Gram<'a> {
    out: &'a mut [c64],
    x: (&'a [c64], Range<usize>),
    y: (&'a [c64], Range<usize>),
    rows: usize,
}

impl WithSimd for Gram<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Gram { out, x, y, rows } = self;
        out.fill(c64::new(0.0, 0.0));
        let nb = y.1.len();
        if nb == 0 {
            return;
        }
        let (ldx, ldy) = (x.0.len() / rows, y.0.len() / rows);
        for (o, a) in out.chunks_exact_mut(nb).zip(x.1) {
            let terms = (0..rows).map(|i| {
                let yi = &y.0[i * ldy..(i + 1) * ldy];
                (-x.0[i * ldx + a].conj(), &yi[y.1.clone()])
            });
            sub_products(simd, o, terms);
        }
    }
}

struct Factor<'a> {
    chol: &'a mut Cholesky,
    a: &'a [c64],
}

impl WithSimd for Factor<'_> {
    type Output = bool;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> bool {
        let Factor { chol, a } = self;
        let n = chol.n;
        let (u, inv_diag) = (&mut chol.u, &mut chol.inv_diag);
        // Row q of U from the finished rows above it:
        // U[q][q..] = (A[q][q..] − Σ_{p<q} conj(U[p][q]) U[p][q..]) / U[q][q].
        for q in 0..n {
            let (done, rest) = u.split_at_mut(q * n);
            let row = &mut rest[q..n];
            row.copy_from_slice(&a[q * n + q..(q + 1) * n]);
            let terms = done.chunks_exact(n).map(|up| (up[q].conj(), &up[q..]));
            sub_products(simd, row, terms);
            let d = row[0].re;
            if !(d > 0.0 && d.is_finite()) {
                return false;
            }
            let s = d.sqrt();
            let inv = 1.0 / s;
            inv_diag[q] = inv;
            row[0] = c64::new(s, 0.0);
            for x in &mut row[1..] {
                *x *= inv;
            }
        }
        true
    }
}

struct Substitute<'a> {
    chol: &'a Cholesky,
    x: &'a mut [c64],
    m: usize,
    forward: bool,
    backward: bool,
}

impl WithSimd for Substitute<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Substitute {
            chol,
            x,
            m,
            forward,
            backward,
        } = self;
        let n = chol.n;
        let u = &chol.u;
        if forward && m == 1 {
            // One right-hand side: x[i] −= conj(U[p][i]) x[p], i > p, along row p of U.
            for p in 0..n {
                let (done, rest) = x.split_at_mut(p + 1);
                done[p] *= chol.inv_diag[p];
                axpy_conj(simd, rest, -done[p], &u[p * n + p + 1..(p + 1) * n]);
            }
        } else if forward {
            // X[i] = (X[i] − Σ_{p<i} L[i][p] X[p]) / L[i][i], L[i][p] = conj(U[p][i]).
            for i in 0..n {
                let (done, rest) = x.split_at_mut(i * m);
                let xi = &mut rest[..m];
                let terms = (u.chunks_exact(n).zip(done.chunks_exact(m)))
                    .map(|(up, xp)| (up[i].conj(), xp));
                sub_products(simd, xi, terms);
                let inv = chol.inv_diag[i];
                for e in xi.iter_mut() {
                    *e *= inv;
                }
            }
        }
        if backward && m == 1 {
            // One right-hand side: dots along the rows of U.
            for i in (0..n).rev() {
                let (head, done) = x.split_at_mut(i + 1);
                head[i] = (head[i] - dotu(&u[i * n + i + 1..(i + 1) * n], done)) * chol.inv_diag[i];
            }
        } else if backward {
            // X[i] = (X[i] − Σ_{q>i} U[i][q] X[q]) / U[i][i].
            for i in (0..n).rev() {
                let (head, done) = x.split_at_mut((i + 1) * m);
                let xi = &mut head[i * m..];
                let terms = u[i * n + i + 1..(i + 1) * n]
                    .iter()
                    .copied()
                    .zip(done.chunks_exact(m));
                sub_products(simd, xi, terms);
                let inv = chol.inv_diag[i];
                for e in xi.iter_mut() {
                    *e *= inv;
                }
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
                ch.forward_batch(&mut f, 1);
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
