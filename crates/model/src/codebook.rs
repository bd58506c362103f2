//! The RSRP beam codebook (SPEC §5.1): an Nb-point oversampled DFT on the
//! Nt-element ULA. Column b is w_b = a(θ_b) with spatial frequency
//! sin θ_b = −1 + (2b + 1)/Nb, b = 0…Nb−1, so the beams tile sinθ ∈ (−1, 1)
//! uniformly (oversampling factor Nb/Nt), each with ‖w_b‖ = 1.

use ndarray::Array2;

use crate::C64;
use crate::array::steering;

/// The Nt×Nb DFT codebook, column b = w_b.
pub fn dft_codebook(nt: usize, nb: usize) -> Array2<C64> {
    let mut w = Array2::zeros((nt, nb));
    for b in 0..nb {
        let theta = beam_angle(b, nb);
        for (i, z) in steering(nt, theta).into_iter().enumerate() {
            w[(i, b)] = z;
        }
    }
    w
}

/// Boresight angle θ_b (radians from broadside) of DFT beam b of Nb.
pub fn beam_angle(b: usize, nb: usize) -> f64 {
    (-1.0 + (2 * b + 1) as f64 / nb as f64).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_have_unit_norm_and_point_where_stated() {
        let w = dft_codebook(32, 64);
        assert_eq!(w.dim(), (32, 64));
        for b in 0..64 {
            let col = w.column(b);
            let n2: f64 = col.iter().map(|z| z.norm_sqr()).sum();
            assert!((n2 - 1.0).abs() < 1e-12);
            let a = steering(32, beam_angle(b, 64));
            let gain: C64 = col.iter().zip(&a).map(|(x, y)| x.conj() * y).sum();
            assert!((gain.norm() - 1.0).abs() < 1e-12);
        }
    }
}
