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
    /// P_T · (best gain of the codebook in any direction) · 10^(−COVERAGE_DB/10):
    /// a bin whose peak is below it is outside every main lobe.
    pub(super) level: f64,
    /// peak_i ≥ `level`: some beam of the codebook looks at bin i. Uncovered
    /// bins get an infinite floor, so no greedy step or swap picks them
    /// (full or masked).
    pub(super) covered: Vec<bool>,
}

/// A direction counts as covered by the codebook when its best beam's gain
/// is at most this far (dB) below the codebook's best gain in any direction.
/// A bin outside every main lobe is seen only through sidelobes, where a fit
/// of real data puts ghost paths (issue 12: an operator codebook steering to
/// ±64° and a ±90° dictionary gave the dominant path at endfire in half the
/// cells).
pub const COVERAGE_DB: f64 = 10.0;

/// Where a codebook's beams look, on a grid of 16·Nt + 1 directions uniform
/// in sin θ over [−90°, 90°].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    /// max over the grid and the beams of |w_bᴴ a(θ)|².
    pub best_gain: f64,
    /// The first and last grid direction (rad) within [`COVERAGE_DB`] of
    /// `best_gain`; `None` for an all-zero codebook.
    pub range_rad: Option<(f64, f64)>,
}

impl Coverage {
    /// The coverage of the Nt×Nb `codebook` (column b = w_b).
    pub fn of(codebook: &Array2<C64>) -> Self {
        let (nt, nb) = codebook.dim();
        let n = 16 * nt.max(1);
        let gains: Vec<(f64, f64)> = (0..=n)
            .map(|k| {
                let theta = (-1.0 + 2.0 * k as f64 / n as f64).clamp(-1.0, 1.0).asin();
                let a = steering(nt, theta);
                let g = (0..nb)
                    .map(|b| beam_gain(codebook, b, &a))
                    .fold(0.0, f64::max);
                (theta, g)
            })
            .collect();
        let best_gain = gains.iter().map(|g| g.1).fold(0.0, f64::max);
        let level = best_gain * coverage_factor();
        let mut seen = gains.iter().filter(|g| best_gain > 0.0 && g.1 >= level);
        let range_rad = seen
            .next()
            .map(|first| (first.0, seen.next_back().map_or(first.0, |last| last.0)));
        Self {
            best_gain,
            range_rad,
        }
    }
}

/// 10^(−COVERAGE_DB/10).
fn coverage_factor() -> f64 {
    10f64.powf(-COVERAGE_DB / 10.0)
}

/// |w_bᴴ a|².
fn beam_gain(codebook: &Array2<C64>, b: usize, a: &[C64]) -> f64 {
    let g: C64 = codebook
        .column(b)
        .iter()
        .zip(a)
        .map(|(w, x)| w.conj() * x)
        .sum();
    g.norm_sqr()
}

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
                phi[b * nq + i] = tx_power_w * beam_gain(codebook, b, &a);
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
        let level = tx_power_w * Coverage::of(codebook).best_gain * coverage_factor();
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
            level,
            covered,
        }
    }

    /// Whether some beam looks at bin i (within [`COVERAGE_DB`] of the
    /// codebook's best gain in any direction); recoveries never place a path
    /// in an uncovered bin.
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
