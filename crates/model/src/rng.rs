//! Keyed, order-independent randomness.
//!
//! Every random draw of the simulation is addressed by a key (seed, stream,
//! indices…), so the same draw comes out whatever order or thread asks for it.
//! That is what makes outputs identical for any thread count and gives common
//! random numbers across schemes.

use rand::SeedableRng;
use rand::rngs::StdRng;

/// SplitMix64 finaliser: a bijective 64-bit mixer with good avalanche.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash a sequence of words into one 64-bit key.
pub fn key(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0x5D_5C_0B_u64, |acc, &w| mix64(acc ^ mix64(w)))
}

/// A uniform draw in the open interval (0, 1) addressed by `words`.
pub fn uniform(words: &[u64]) -> f64 {
    // 53 random bits, shifted by half an ulp so 0 and 1 never occur.
    ((key(words) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// A standard normal draw addressed by `words` (Box–Muller on two keyed uniforms).
pub fn normal(words: &[u64]) -> f64 {
    let k = key(words);
    let u1 = ((mix64(k ^ 1) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = ((mix64(k ^ 2) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A full RNG for a stream addressed by `words`.
pub fn stream(words: &[u64]) -> StdRng {
    StdRng::seed_from_u64(key(words))
}

/// Stream tags, so different purposes never share draws.
pub mod tag {
    pub const FIELD: u64 = 1;
    pub const PHASE: u64 = 2;
    pub const DROP: u64 = 3;
    pub const MOBILITY: u64 = 4;
    pub const RSRP: u64 = 5;
    pub const SENSING: u64 = 6;
    pub const MEASURED: u64 = 7;
    pub const DIRECTION: u64 = 8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_in_open_interval_and_roughly_uniform() {
        let n = 20_000;
        let mut mean = 0.0;
        for i in 0..n {
            let u = uniform(&[7, i]);
            assert!(u > 0.0 && u < 1.0);
            mean += u;
        }
        mean /= n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn normal_has_unit_variance() {
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|i| normal(&[3, i])).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }

    #[test]
    fn keys_depend_on_every_word_and_order() {
        assert_ne!(key(&[1, 2]), key(&[2, 1]));
        assert_ne!(key(&[1, 2]), key(&[1, 3]));
        assert_eq!(key(&[1, 2]), key(&[1, 2]));
    }
}
