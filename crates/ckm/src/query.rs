//! CKM queries (SPEC §5.4): location → grid cell → channel estimate.
//!
//! ```text
//! vector estimate, eq. (36):  ĥ = Σ_ia sqrt(ᾱ_ia) a(θ_ia)            (phases lost)
//! covariance estimate:        R̂ = Σ_ia ᾱ_ia a(θ_ia) a(θ_ia)ᴴ
//! leakage of a beam v:        vᴴR̂v = Σ_ia ᾱ_ia |a(θ_ia)ᴴ v|²    (= E|hᴴv|² for unknown phases)
//!                             |ĥᴴv|²                            (vector form)
//! ```
//!
//! A location outside the map's area (outside the grid, or on a cell with
//! no estimate) is answered from the nearest cell that has one, flagged
//! [`Coverage::OutsideArea`] with the distance, never a panic.

use std::path::Path;

use ndarray::Array2;
use sdusc_formats::ckm_file::{ApsPath, CellState, Ckm, CkmFileError};
use sdusc_model::C64;
use sdusc_model::array::steering_into;
use sdusc_model::geometry::Point;

use crate::fill::nearest_sources;

/// Whether the queried location lies in the map's area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Coverage {
    /// The location's own cell has an estimate.
    InArea,
    /// Outside the area: the answer is the nearest cell with an estimate,
    /// whose centre is `distance_m` from the location.
    OutsideArea { distance_m: f64 },
}

/// Why a query has no answer at all.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("location ({x}, {y}) is not finite")]
    NonFinite { x: f64, y: f64 },
    #[error("the CKM has no cell with an estimate (nothing was measured)")]
    NoEstimates,
}

/// The answer to one location.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate<'a> {
    /// Row-major index of the answering cell and its grid indices.
    pub cell: usize,
    pub ix: usize,
    pub iy: usize,
    pub state: CellState,
    pub coverage: Coverage,
    pub paths: &'a [ApsPath],
}

/// A loaded CKM ready for queries: steering vectors of every bin and the
/// nearest estimated cell of every grid cell are precomputed.
#[derive(Debug, Clone)]
pub struct CkmMap {
    ckm: Ckm,
    nt: usize,
    /// a(θ_i) for every bin, `bins × Nt` row-major.
    steering: Vec<C64>,
    /// Nearest cell with an estimate, per cell (`None`: no estimates).
    nearest: Option<Vec<u32>>,
}

impl CkmMap {
    pub fn new(ckm: Ckm) -> Self {
        let nt = ckm.header.tx_antennas as usize;
        let mut steering = vec![C64::new(0.0, 0.0); ckm.header.bin_angles_rad.len() * nt];
        for (i, &theta) in ckm.header.bin_angles_rad.iter().enumerate() {
            steering_into(theta, &mut steering[i * nt..(i + 1) * nt]);
        }
        let has: Vec<bool> = ckm.states.iter().map(|s| s.has_estimate()).collect();
        let nearest = nearest_sources(ckm.header.nx as usize, ckm.header.ny as usize, &has);
        Self {
            ckm,
            nt,
            steering,
            nearest,
        }
    }

    /// Read a CKM file and prepare it for queries.
    pub fn load(path: &Path) -> Result<Self, CkmFileError> {
        Ok(Self::new(Ckm::read(path)?))
    }

    pub fn ckm(&self) -> &Ckm {
        &self.ckm
    }

    /// Nt of the map's array (length of ĥ).
    pub fn tx_antennas(&self) -> usize {
        self.nt
    }

    /// a(θ) of bin `bin`.
    pub fn steering(&self, bin: u32) -> &[C64] {
        let i = bin as usize;
        &self.steering[i * self.nt..(i + 1) * self.nt]
    }

    /// The cell answering location `p`.
    pub fn lookup(&self, p: Point) -> Result<Estimate<'_>, QueryError> {
        if !(p.x.is_finite() && p.y.is_finite()) {
            return Err(QueryError::NonFinite { x: p.x, y: p.y });
        }
        let h = &self.ckm.header;
        let nearest = self.nearest.as_ref().ok_or(QueryError::NoEstimates)?;
        let fx = ((p.x - h.origin_x_m) / h.cell_m).floor();
        let fy = ((p.y - h.origin_y_m) / h.cell_m).floor();
        let inside_grid = fx >= 0.0 && fy >= 0.0 && fx < h.nx as f64 && fy < h.ny as f64;
        // Clamp to the grid; the cast saturates for far-away points.
        let ix = (fx.max(0.0) as usize).min(h.nx as usize - 1);
        let iy = (fy.max(0.0) as usize).min(h.ny as usize - 1);
        let own = iy * h.nx as usize + ix;
        let (cell, coverage) = if inside_grid && self.ckm.states[own].has_estimate() {
            (own, Coverage::InArea)
        } else {
            let c = nearest[own] as usize;
            let (cx, cy) = h.cell_centre(c % h.nx as usize, c / h.nx as usize);
            let distance_m = (p.x - cx).hypot(p.y - cy);
            (c, Coverage::OutsideArea { distance_m })
        };
        Ok(Estimate {
            cell,
            ix: cell % h.nx as usize,
            iy: cell / h.nx as usize,
            state: self.ckm.states[cell],
            coverage,
            paths: self.ckm.paths(cell),
        })
    }

    /// ĥ = Σ sqrt(ᾱ) a(θ) of an estimate, written into `out` (length Nt), eq. (36).
    pub fn channel_into(&self, est: &Estimate<'_>, out: &mut [C64]) {
        assert_eq!(out.len(), self.nt, "ĥ has Nt entries");
        out.fill(C64::new(0.0, 0.0));
        for p in est.paths {
            let g = p.power.sqrt();
            for (o, a) in out.iter_mut().zip(self.steering(p.bin)) {
                *o += a * g;
            }
        }
    }

    /// ĥ of an estimate.
    pub fn channel(&self, est: &Estimate<'_>) -> Vec<C64> {
        let mut out = vec![C64::new(0.0, 0.0); self.nt];
        self.channel_into(est, &mut out);
        out
    }

    /// R̂ = Σ ᾱ a(θ) a(θ)ᴴ of an estimate (Nt × Nt, Hermitian PSD).
    pub fn covariance(&self, est: &Estimate<'_>) -> Array2<C64> {
        let mut r = Array2::zeros((self.nt, self.nt));
        for p in est.paths {
            let a = self.steering(p.bin);
            for i in 0..self.nt {
                let ai = a[i] * p.power;
                for j in 0..self.nt {
                    r[(i, j)] += ai * a[j].conj();
                }
            }
        }
        r
    }

    /// Covariance-form leakage vᴴR̂v = Σ ᾱ |a(θ)ᴴv|² of beam `v` (O(Np·Nt)).
    pub fn leakage(&self, est: &Estimate<'_>, v: &[C64]) -> f64 {
        est.paths
            .iter()
            .map(|p| p.power * sdusc_model::array::dot_h(self.steering(p.bin), v).norm_sqr())
            .sum()
    }

    /// Vector-form leakage |ĥᴴv|² of beam `v`.
    pub fn vector_leakage(&self, est: &Estimate<'_>, v: &[C64]) -> f64 {
        let s: C64 = est
            .paths
            .iter()
            .map(|p| sdusc_model::array::dot_h(self.steering(p.bin), v) * p.power.sqrt())
            .sum();
        s.norm_sqr()
    }
}

#[cfg(test)]
mod tests {
    use sdusc_formats::ckm_file::CkmHeader;

    use super::*;

    fn map() -> CkmMap {
        let header = CkmHeader {
            bs_id: 0,
            bs_x_m: 0.0,
            bs_y_m: 0.0,
            broadside_rad: 0.0,
            tx_antennas: 8,
            origin_x_m: 10.0,
            origin_y_m: -2.0,
            cell_m: 2.0,
            nx: 5,
            ny: 4,
            max_paths: 3,
            bin_angles_rad: (0..16).map(|i| -1.4 + 0.18 * i as f64).collect(),
            beams: 8,
            tx_power_w: 1.0,
            noise_floor_w: 0.0,
            scenario_hash: String::new(),
            scenario_name: String::new(),
            codebook: "dft".into(),
            tool_version: String::new(),
            provenance: vec![],
        };
        let mut ckm = Ckm::empty(header);
        for c in 0..20 {
            if c % 5 == 4 {
                continue; // the last column is outside the area
            }
            let paths = [
                ApsPath {
                    bin: (c % 16) as u32,
                    power: 1e-9 * (1 + c) as f64,
                },
                ApsPath {
                    bin: ((c + 7) % 16) as u32,
                    power: 3e-10,
                },
            ];
            ckm.set(
                c,
                if c % 2 == 0 {
                    CellState::Measured
                } else {
                    CellState::Filled
                },
                &paths,
            );
        }
        CkmMap::new(ckm)
    }

    #[test]
    fn a_location_gets_its_own_cell() {
        let m = map();
        for c in 0..20 {
            let (ix, iy) = (c % 5, c / 5);
            let (x, y) = m.ckm().header.cell_centre(ix, iy);
            for (dx, dy) in [(0.0, 0.0), (-0.99, 0.99), (0.9, -0.9)] {
                let e = m.lookup(Point::new(x + dx, y + dy)).unwrap();
                if ix == 4 {
                    assert_eq!(e.ix, 3, "outside → nearest estimated cell");
                    assert!(
                        matches!(e.coverage, Coverage::OutsideArea { distance_m } if distance_m > 1.0)
                    );
                } else {
                    assert_eq!((e.cell, e.coverage), (c, Coverage::InArea));
                    assert_eq!(e.paths, m.ckm().paths(c));
                }
            }
        }
    }

    #[test]
    fn far_and_non_finite_locations_are_outcomes_not_panics() {
        let m = map();
        let e = m.lookup(Point::new(-1e300, 1e300)).unwrap();
        assert_eq!((e.ix, e.iy), (0, 3));
        assert!(matches!(e.coverage, Coverage::OutsideArea { .. }));
        assert!(matches!(
            m.lookup(Point::new(f64::NAN, 0.0)),
            Err(QueryError::NonFinite { .. })
        ));
        let empty = CkmMap::new(Ckm::empty(m.ckm().header.clone()));
        assert_eq!(
            empty.lookup(Point::new(11.0, -1.0)),
            Err(QueryError::NoEstimates)
        );
    }

    #[test]
    fn covariance_leakage_and_vector_forms_agree_with_their_definitions() {
        let m = map();
        let e = m.lookup(Point::new(13.0, 1.0)).unwrap();
        let h = m.channel(&e);
        let r = m.covariance(&e);
        let v: Vec<C64> = (0..8)
            .map(|i| C64::new((i as f64).cos(), (0.3 * i as f64).sin()))
            .collect();
        // vᴴ R̂ v.
        let mut quad = C64::new(0.0, 0.0);
        for i in 0..8 {
            for j in 0..8 {
                quad += v[i].conj() * r[(i, j)] * v[j];
            }
        }
        assert!(quad.im.abs() < 1e-20);
        assert!((quad.re - m.leakage(&e, &v)).abs() <= 1e-12 * quad.re);
        let hv = sdusc_model::array::dot_h(&h, &v).norm_sqr();
        assert!((hv - m.vector_leakage(&e, &v)).abs() <= 1e-12 * hv);
        // tr R̂ = ‖ĥ‖²'s incoherent part = Σ ᾱ.
        let tr: f64 = (0..8).map(|i| r[(i, i)].re).sum();
        let sum: f64 = e.paths.iter().map(|p| p.power).sum();
        assert!((tr - sum).abs() <= 1e-12 * sum);
    }
}
