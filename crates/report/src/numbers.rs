//! How numbers read in the figures and the report: 3–4 significant digits,
//! a mean with its 95% CI as "m ± h".

use sdusc_stats::MeanCi;

/// Format a mean with its 95% CI.
pub fn fmt_ci(m: &MeanCi) -> String {
    match m.half_width {
        Some(h) => format!("{} ± {}", sig(m.mean), sig(h)),
        None => format!("{} (n = 1, no CI)", sig(m.mean)),
    }
}

/// A number with 3–4 significant digits.
pub fn sig(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{x:.3e}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}
