//! Aggregation over drops (SPEC §11): mean and 95% confidence interval per
//! scheme, paired against a baseline scheme where the drops match (every
//! scheme sees the same worlds, trajectories and fading draws).

/// Two-sided 97.5% quantile of Student's t with `dof` degrees of freedom.
pub fn t975(dof: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match dof {
        0 => f64::INFINITY,
        d if d <= 30 => TABLE[d - 1],
        d => 1.96 + 2.4 / d as f64,
    }
}

/// Mean and half-width of the 95% CI of `xs` (half-width NaN-free: ∞ for n < 2
/// is reported as `None`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanCi {
    pub mean: f64,
    pub half_width: Option<f64>,
    pub n: usize,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_of_known_sample() {
        let m = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m.mean - 2.5).abs() < 1e-12);
        // s = 1.291, se = 0.6455, t(3) = 3.182
        assert!((m.half_width.unwrap() - 3.182 * 0.645_497).abs() < 1e-3);
        assert_eq!(mean_ci(&[5.0]).half_width, None);
    }
}
