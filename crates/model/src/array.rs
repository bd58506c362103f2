//! Half-wavelength uniform linear arrays, eq. (14):
//! a(θ) = [1, e^{jπ sinθ}, …, e^{jπ(N−1) sinθ}]ᵀ / √N, θ from broadside.

use crate::C64;

/// Steering vector a(θ) of an `n`-element half-wavelength ULA, unit norm.
pub fn steering(n: usize, theta: f64) -> Vec<C64> {
    let mut out = vec![C64::new(0.0, 0.0); n];
    steering_into(theta, &mut out);
    out
}

/// Steering vector written into `out` (its length is the element count).
pub fn steering_into(theta: f64, out: &mut [C64]) {
    let n = out.len();
    let scale = 1.0 / (n as f64).sqrt();
    let phase = std::f64::consts::PI * theta.sin();
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = C64::from_polar(scale, phase * i as f64);
    }
}

/// Inner product xᴴy.
pub fn dot_h(x: &[C64], y: &[C64]) -> C64 {
    x.iter().zip(y).map(|(a, b)| a.conj() * b).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steering_has_unit_norm_and_matches_definition() {
        for &n in &[1usize, 8, 32] {
            for &theta in &[-1.2, 0.0, 0.3, 2.0] {
                let a = steering(n, theta);
                let norm2: f64 = a.iter().map(|z| z.norm_sqr()).sum();
                assert!((norm2 - 1.0).abs() < 1e-12);
                let k = n - 1;
                let expected = C64::from_polar(
                    1.0 / (n as f64).sqrt(),
                    std::f64::consts::PI * k as f64 * theta.sin(),
                );
                assert!((a[k] - expected).norm() < 1e-12);
            }
        }
    }

    #[test]
    fn broadside_beam_is_matched_to_itself_only() {
        let a = steering(32, 0.0);
        assert!((dot_h(&a, &a).norm() - 1.0).abs() < 1e-12);
        // sinθ = 2/32 is the first null of a 32-element array.
        let b = steering(32, (2.0f64 / 32.0).asin());
        assert!(dot_h(&a, &b).norm() < 1e-12);
    }
}
