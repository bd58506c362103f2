//! Spatially consistent random fields (SPEC §4.1, cf. 3GPP TR 38.901 §7.6.3).
//!
//! A field assigns every point of the plane a U(0,1) value such that the same
//! point always gets the same value and nearby points get nearby values.
//! Construction: i.i.d. N(0,1) values on a square lattice of spacing
//! `d_corr`, addressed by a key (so the lattice is infinite and never stored);
//! at p, the four surrounding lattice values are combined with smoothstep
//! bilinear weights normalised to unit energy, z(p) = Σ wᵢ gᵢ / √(Σ wᵢ²),
//! which is exactly N(0,1) at every p and continuous in p; then u = Φ(z).
//! Any target marginal is obtained from u by its inverse CDF.

use crate::geometry::Point;
use crate::rng;

/// A field addressed by `key` words (environment seed, BS, path, parameter).
#[derive(Debug, Clone)]
pub struct UniformField {
    key: u64,
    spacing_m: f64,
}

impl UniformField {
    pub fn new(words: &[u64], spacing_m: f64) -> Self {
        Self {
            key: rng::key(words),
            spacing_m,
        }
    }

    fn lattice(&self, ix: i64, iy: i64) -> f64 {
        rng::normal(&[rng::tag::FIELD, self.key, ix as u64, iy as u64])
    }

    /// The Gaussian value z(p) ~ N(0, 1).
    pub fn gaussian(&self, p: Point) -> f64 {
        let fx = p.x / self.spacing_m;
        let fy = p.y / self.spacing_m;
        let ix = fx.floor();
        let iy = fy.floor();
        let sx = smoothstep(fx - ix);
        let sy = smoothstep(fy - iy);
        let (ix, iy) = (ix as i64, iy as i64);
        let w = [
            (1.0 - sx) * (1.0 - sy),
            sx * (1.0 - sy),
            (1.0 - sx) * sy,
            sx * sy,
        ];
        let g = [
            self.lattice(ix, iy),
            self.lattice(ix + 1, iy),
            self.lattice(ix, iy + 1),
            self.lattice(ix + 1, iy + 1),
        ];
        let num: f64 = w.iter().zip(&g).map(|(w, g)| w * g).sum();
        let energy: f64 = w.iter().map(|w| w * w).sum();
        num / energy.sqrt()
    }

    /// The uniform value u(p) ∈ (0, 1).
    pub fn uniform(&self, p: Point) -> f64 {
        normal_cdf(self.gaussian(p)).clamp(1e-12, 1.0 - 1e-12)
    }
}

fn smoothstep(t: f64) -> f64 {
    t * t * (3.0 - 2.0 * t)
}

/// Standard normal CDF Φ(z) = erfc(−z/√2)/2.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit, |rel err| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_point_same_value_nearby_points_close() {
        let f = UniformField::new(&[1, 2, 3], 10.0);
        let p = Point::new(12.3, -4.5);
        assert_eq!(f.uniform(p), f.uniform(p));
        let q = Point::new(12.4, -4.5);
        assert!((f.gaussian(p) - f.gaussian(q)).abs() < 0.1);
    }

    #[test]
    fn marginal_is_uniform() {
        // Points far apart (several lattice spacings) are independent draws.
        let f = UniformField::new(&[9], 1.0);
        let n = 4000;
        let mut hist = [0usize; 10];
        for i in 0..n {
            let p = Point::new(3.7 * i as f64, 1.3 * (i % 17) as f64);
            let u = f.uniform(p);
            hist[(u * 10.0) as usize] += 1;
        }
        // Chi-square with 9 dof; 27.9 is the 0.999 quantile.
        let expected = n as f64 / 10.0;
        let chi2: f64 = hist
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 27.9, "chi2 {chi2} hist {hist:?}");
    }

    #[test]
    fn different_keys_give_different_worlds() {
        let a = UniformField::new(&[1], 10.0);
        let b = UniformField::new(&[2], 10.0);
        let p = Point::new(5.0, 5.0);
        assert_ne!(a.uniform(p), b.uniform(p));
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_963_985) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_254).abs() < 1e-6);
    }
}
