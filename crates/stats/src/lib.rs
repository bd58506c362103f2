//! The statistics every crate shares, in one place: the mean and 95%
//! Student-t confidence interval of a sample (SPEC §11: aggregation over
//! drops), and quantiles of a sorted sample.
//!
//! - [`mean_ci`]: x̄ ± t₀.₉₇₅(n − 1) · s/√n, s² = Σ(x − x̄)²/(n − 1); the
//!   t quantile [`t975`] is statrs' `StudentsT::inverse_cdf`.
//! - [`quantile`]: the one definition of a quantile, linear interpolation
//!   between order statistics (Hyndman & Fan type 7, R's and numpy's
//!   default): q(p) = x₍⌊h⌋₎ + (h − ⌊h⌋)(x₍⌊h⌋+1₎ − x₍⌊h⌋₎), h = (n − 1)p,
//!   0-based.
//! - [`nearest_rank`]: x₍round((n − 1)p)₎, the rule the CKM quality table
//!   (`quality.parquet`: residual p50/p95, NMSE medians) has been written
//!   with; kept for those columns only so their numbers do not change. It
//!   equals [`quantile`] whenever (n − 1)p is an integer (e.g. the median of
//!   an odd-sized sample) and otherwise picks the nearer order statistic.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Two-sided 95% quantile t₀.₉₇₅ of Student's t with `dof` degrees of
/// freedom (∞ for 0).
pub fn t975(dof: usize) -> f64 {
    if dof == 0 {
        return f64::INFINITY;
    }
    StudentsT::new(0.0, 1.0, dof as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::INFINITY)
}

/// Mean and half-width of the 95% CI of a sample (`None` for n < 2, where
/// the interval is unbounded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanCi {
    pub mean: f64,
    pub half_width: Option<f64>,
    pub n: usize,
}

/// The mean of `xs` with the half-width of its 95% Student-t interval
/// (mean 0 for an empty sample).
pub fn mean_ci(xs: &[f64]) -> MeanCi {
    let n = xs.len();
    if n == 0 {
        return MeanCi {
            mean: 0.0,
            half_width: None,
            n,
        };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let half_width = (n >= 2).then(|| {
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        t975(n - 1) * (var / n as f64).sqrt()
    });
    MeanCi {
        mean,
        half_width,
        n,
    }
}

/// q(p) of `sorted` (ascending) by linear interpolation between order
/// statistics (type 7); NaN for an empty sample, p clamped to [0, 1].
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let h = last as f64 * p.clamp(0.0, 1.0);
    let j = h.floor() as usize;
    match sorted.get(j + 1) {
        Some(next) => sorted[j] + (h - j as f64) * (next - sorted[j]),
        None => sorted[last],
    }
}

/// The order statistic of `sorted` (ascending) nearest to the type-7
/// position: x₍round((n − 1)p)₎, halves rounded up; NaN for an empty sample.
/// Only for the columns of `quality.parquet` (see the module docs).
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    sorted[(last as f64 * p.clamp(0.0, 1.0)).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_printed_table() {
        // Two-sided 95% t values as printed (3 decimals) in any table.
        for (dof, want) in [
            (1, 12.706),
            (2, 4.303),
            (3, 3.182),
            (5, 2.571),
            (10, 2.228),
            (20, 2.086),
            (29, 2.045),
            (30, 2.042),
            (40, 2.021),
            (60, 2.000),
            (120, 1.980),
            (1000, 1.962),
        ] {
            let got = t975(dof);
            assert!((got - want).abs() < 5e-4, "dof {dof}: {got} vs {want}");
        }
        assert_eq!(t975(0), f64::INFINITY);
        // Towards the normal quantile 1.959964 from above.
        assert!(t975(100_000) > 1.959_96 && t975(100_000) < 1.96);
    }

    #[test]
    fn ci_of_known_sample() {
        let m = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m.mean - 2.5).abs() < 1e-12);
        assert_eq!(m.n, 4);
        // s = √(5/3), se = s/2 = 0.645 497, t(3) = 3.182 446.
        let want = 3.182_446_305 * (5.0f64 / 3.0).sqrt() / 2.0;
        assert!((m.half_width.unwrap() - want).abs() < 1e-8, "{m:?}");
        // 41 draws (dof 40, beyond the old table): 1..=41, s² = 143.5.
        let xs: Vec<f64> = (1..=41).map(f64::from).collect();
        let m = mean_ci(&xs);
        assert!((m.mean - 21.0).abs() < 1e-12);
        let want = 2.021_075_39 * (143.5f64 / 41.0).sqrt();
        assert!((m.half_width.unwrap() - want).abs() < 1e-6, "{m:?}");
        assert_eq!(mean_ci(&[5.0]).half_width, None);
        assert_eq!(mean_ci(&[]).n, 0);
    }

    /// q(p) = x₍⌊m⌋₎ + (m − ⌊m⌋)(x₍⌊m⌋+1₎ − x₍⌊m⌋₎), m = 1 + (n − 1)p (1-based).
    fn reference(sorted: &[f64], p: f64) -> f64 {
        let m = 1.0 + (sorted.len() - 1) as f64 * p;
        let lo = m.floor() as usize;
        let hi = (lo + 1).min(sorted.len());
        sorted[lo - 1] + (m - lo as f64) * (sorted[hi - 1] - sorted[lo - 1])
    }

    #[test]
    fn quantiles_interpolate_linearly_between_order_statistics() {
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        for (p, want) in [
            (0.0, 1.0),
            (0.5, 3.0),
            (0.9, 7.6),
            (0.99, 9.76),
            (1.0, 10.0),
        ] {
            assert!((quantile(&x, p) - want).abs() < 1e-12, "q({p})");
        }
        assert_eq!(quantile(&[2.5], 0.9), 2.5);
        assert!(quantile(&[], 0.5).is_nan());
        for n in [2usize, 3, 7, 100, 101] {
            let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).powi(2)).collect();
            for p in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
                assert!(
                    (quantile(&x, p) - reference(&x, p)).abs() < 1e-9 * x[n - 1],
                    "n = {n}, p = {p}"
                );
            }
        }
    }

    #[test]
    fn nearest_rank_picks_the_nearer_order_statistic() {
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        // (n − 1)p integral: the same as the interpolated quantile.
        for p in [0.0, 0.25, 0.5, 1.0] {
            assert_eq!(nearest_rank(&x, p), quantile(&x, p), "p = {p}");
        }
        assert_eq!(nearest_rank(&x, 0.9), 10.0);
        assert_eq!(nearest_rank(&x, 0.8), 4.0);
        // Even n: the upper of the two middle values (type 7 averages them).
        let even = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(nearest_rank(&even, 0.5), 3.0);
        assert_eq!(quantile(&even, 0.5), 2.5);
        assert!(nearest_rank(&[], 0.5).is_nan());
    }
}
