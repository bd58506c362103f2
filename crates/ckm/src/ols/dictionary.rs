//! The dictionary Φ = P_T (|AᴴW|²)ᵀ of eq. (35) and its Gram matrix G = ΦᵀΦ,
//! precomputed for every beam or summed over the beams one cell measured.

use ndarray::Array2;
use sdusc_model::C64;
use sdusc_model::array::steering;

/// The RSRP dictionary Φ of one array, codebook and bin set, with its Gram matrix.
#[derive(Debug, Clone)]
pub struct Dictionary {
    pub(super) beams: usize,
    pub(super) bins: usize,
    /// Φ row-major, `phi[b * bins + i]` = P_T |w_bᴴ a(θ_i)|².
    pub(super) phi: Vec<f64>,
    /// G = ΦᵀΦ, `bins × bins`.
    pub(super) gram: Vec<f64>,
    /// diag G, and the level below which a deflated column counts as
    /// dependent on the support (1e-12 · diag G; ∞ for uncovered bins).
    pub(super) diag: Vec<f64>,
    pub(super) floor: Vec<f64>,
    /// max_b Φ[b, i]: the gain of the beam that looks most at bin i.
    pub(super) peak: Vec<f64>,
    /// peak_i ≥ [`COVERAGE_DB`] below the best bin's peak: some beam of the
    /// codebook looks at bin i. Uncovered bins get an infinite floor, so no
    /// greedy step or swap picks them (full or masked).
    pub(super) covered: Vec<bool>,
}

/// A bin counts as covered by the codebook when its best beam's gain is at
/// most this far (dB) below the best gain over all bins. A bin outside every
/// main lobe is seen only through sidelobes, where a fit of real data puts
/// ghost paths (issue 12: an operator codebook steering to ±64° and a ±90°
/// dictionary gave the dominant path at endfire in half the cells).
pub const COVERAGE_DB: f64 = 10.0;

impl Dictionary {
    /// Φ for the Nt×Nb `codebook` (column b = w_b), bin centres `bin_angles_rad`
    /// (from broadside) and transmit power `tx_power_w`.
    pub fn new(codebook: &Array2<C64>, bin_angles_rad: &[f64], tx_power_w: f64) -> Self {
        let (nt, nb) = codebook.dim();
        let nq = bin_angles_rad.len();
        let mut phi = vec![0.0; nb * nq];
        for (i, &theta) in bin_angles_rad.iter().enumerate() {
            let a = steering(nt, theta);
            for b in 0..nb {
                let g: C64 = codebook
                    .column(b)
                    .iter()
                    .zip(&a)
                    .map(|(w, x)| w.conj() * x)
                    .sum();
                phi[b * nq + i] = tx_power_w * g.norm_sqr();
            }
        }
        let mut gram = vec![0.0; nq * nq];
        for b in 0..nb {
            let row = &phi[b * nq..(b + 1) * nq];
            for i in 0..nq {
                let ri = row[i];
                for (g, &rj) in gram[i * nq..(i + 1) * nq].iter_mut().zip(row) {
                    *g += ri * rj;
                }
            }
        }
        let diag: Vec<f64> = (0..nq).map(|i| gram[i * nq + i]).collect();
        let peak: Vec<f64> = (0..nq)
            .map(|i| (0..nb).map(|b| phi[b * nq + i]).fold(0.0, f64::max))
            .collect();
        let best = peak.iter().copied().fold(0.0, f64::max);
        let level = best * 10f64.powf(-COVERAGE_DB / 10.0);
        let covered: Vec<bool> = peak.iter().map(|&p| p > 0.0 && p >= level).collect();
        let floor = diag
            .iter()
            .zip(&covered)
            .map(|(d, &c)| if c { 1e-12 * d } else { f64::INFINITY })
            .collect();
        Self {
            beams: nb,
            bins: nq,
            phi,
            gram,
            diag,
            floor,
            peak,
            covered,
        }
    }

    /// Whether some beam looks at bin i (within [`COVERAGE_DB`] of the best
    /// bin); recoveries never place a path in an uncovered bin.
    pub fn covered(&self, i: usize) -> bool {
        self.covered[i]
    }

    /// The number of covered bins.
    pub fn covered_bins(&self) -> usize {
        self.covered.iter().filter(|&&c| c).count()
    }

    pub fn beams(&self) -> usize {
        self.beams
    }

    pub fn bins(&self) -> usize {
        self.bins
    }

    /// Φ[b, i].
    pub fn phi(&self, b: usize, i: usize) -> f64 {
        self.phi[b * self.bins + i]
    }

    /// The modelled RSRP Φᾱ of a sparse APS, W per beam.
    pub fn predict(&self, paths: &[(usize, f64)], out: &mut [f64]) {
        for (b, o) in out.iter_mut().enumerate() {
            *o = paths.iter().map(|&(i, p)| self.phi(b, i) * p).sum();
        }
    }
}

/// The Gram matrix of the beams one cell measured.
pub(super) trait Gram {
    /// diag G.
    fn diag(&self) -> &[f64];
    /// 1e-12 · diag G: a deflated column below this counts as dependent.
    fn floor(&self) -> &[f64];
    /// Row j of G into `out`.
    fn row(&self, j: usize, out: &mut [f64]);
    /// G[i, j].
    fn at(&self, i: usize, j: usize) -> f64;
}

/// Every beam measured: the precomputed G.
impl Gram for Dictionary {
    #[inline(always)]
    fn diag(&self) -> &[f64] {
        &self.diag
    }

    #[inline(always)]
    fn floor(&self) -> &[f64] {
        &self.floor
    }

    #[inline(always)]
    fn row(&self, j: usize, out: &mut [f64]) {
        out.copy_from_slice(&self.gram[j * self.bins..(j + 1) * self.bins]);
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f64 {
        self.gram[i * self.bins + j]
    }
}

/// Some beams measured: G_M = Σ_{b ∈ M} φ_b φ_bᵀ, summed on demand (in the
/// order [`Dictionary::new`] sums, so M = all beams gives G bit for bit).
pub(super) struct Masked<'a> {
    pub(super) dict: &'a Dictionary,
    pub(super) rows: &'a [usize],
    pub(super) diag: &'a [f64],
    pub(super) floor: &'a [f64],
}

impl Gram for Masked<'_> {
    #[inline(always)]
    fn diag(&self) -> &[f64] {
        self.diag
    }

    #[inline(always)]
    fn floor(&self) -> &[f64] {
        self.floor
    }

    #[inline(always)]
    fn row(&self, j: usize, out: &mut [f64]) {
        let nq = self.dict.bins;
        out.fill(0.0);
        for &b in self.rows {
            let phi = &self.dict.phi[b * nq..(b + 1) * nq];
            let pj = phi[j];
            for (o, &pi) in out.iter_mut().zip(phi) {
                *o += pj * pi;
            }
        }
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f64 {
        let mut s = 0.0;
        for &b in self.rows {
            s += self.dict.phi(b, i) * self.dict.phi(b, j);
        }
        s
    }
}
