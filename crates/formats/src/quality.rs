//! `quality.parquet` — build-ckm's quality table, one row per BS; the
//! columns are documented in docs/ckm-format.md. Statistics over no cell are
//! null, never NaN.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt32Array, UInt64Array};

/// One BS's map: cell counts by state, RSRP row counts, the recovery's fit
/// and, when the RSRP was simulated from the scenario, its error against the
/// truth (dB).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityRow {
    pub bs_id: u32,
    pub cells_in_area: u64,
    pub cells_measured: u64,
    pub cells_filled: u64,
    pub cells_empty: u64,
    pub rows: u64,
    pub rows_repeated: u64,
    pub rows_outside_grid: u64,
    pub rows_outside_area: u64,
    pub cells_partial: u64,
    pub cells_incomplete: u64,
    pub paths_mean: Option<f64>,
    pub ols_rejected: u64,
    pub residual: Residuals,
    pub nmse_h_measured_db: Option<f64>,
    pub nmse_cov_measured_db: Option<f64>,
    pub nmse_h_measured_median_db: Option<f64>,
    pub nmse_cov_measured_median_db: Option<f64>,
    pub nmse_h_filled_db: Option<f64>,
    pub nmse_cov_filled_db: Option<f64>,
}

/// Mean, median, 95th percentile and maximum of ‖r̄ − Φᾱ‖/‖r̄‖ over the
/// measured cells (`None` without any).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Residuals {
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub max: Option<f64>,
}

impl Residuals {
    /// The statistics of `values` (quantiles by [`sdusc_stats::nearest_rank`]).
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut v = values.to_vec();
        v.sort_unstable_by(f64::total_cmp);
        let q = |q: f64| Some(sdusc_stats::nearest_rank(&v, q));
        Self {
            mean: Some(values.iter().sum::<f64>() / values.len() as f64),
            p50: q(0.5),
            p95: q(0.95),
            max: q(1.0),
        }
    }
}

/// The table of `rows`, columns in the documented order.
pub fn to_batch(rows: &[QualityRow]) -> RecordBatch {
    let u64c = |f: fn(&QualityRow) -> u64| {
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(f))) as ArrayRef
    };
    let optc = |f: fn(&QualityRow) -> Option<f64>| {
        Arc::new(Float64Array::from_iter(rows.iter().map(f))) as ArrayRef
    };
    RecordBatch::try_from_iter(vec![
        (
            "bs_id",
            Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.bs_id))) as ArrayRef,
        ),
        ("cells_in_area", u64c(|r| r.cells_in_area)),
        ("cells_measured", u64c(|r| r.cells_measured)),
        ("cells_filled", u64c(|r| r.cells_filled)),
        ("cells_empty", u64c(|r| r.cells_empty)),
        ("rows", u64c(|r| r.rows)),
        ("rows_repeated", u64c(|r| r.rows_repeated)),
        ("rows_outside_grid", u64c(|r| r.rows_outside_grid)),
        ("rows_outside_area", u64c(|r| r.rows_outside_area)),
        ("cells_partial", u64c(|r| r.cells_partial)),
        ("cells_incomplete", u64c(|r| r.cells_incomplete)),
        ("paths_mean", optc(|r| r.paths_mean)),
        ("ols_rejected", u64c(|r| r.ols_rejected)),
        ("residual_rel_mean", optc(|r| r.residual.mean)),
        ("residual_rel_p50", optc(|r| r.residual.p50)),
        ("residual_rel_p95", optc(|r| r.residual.p95)),
        ("residual_rel_max", optc(|r| r.residual.max)),
        ("nmse_h_measured_db", optc(|r| r.nmse_h_measured_db)),
        ("nmse_cov_measured_db", optc(|r| r.nmse_cov_measured_db)),
        (
            "nmse_h_measured_median_db",
            optc(|r| r.nmse_h_measured_median_db),
        ),
        (
            "nmse_cov_measured_median_db",
            optc(|r| r.nmse_cov_measured_median_db),
        ),
        ("nmse_h_filled_db", optc(|r| r.nmse_h_filled_db)),
        ("nmse_cov_filled_db", optc(|r| r.nmse_cov_filled_db)),
    ])
    .expect("columns of equal length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_statistics_are_nearest_rank_and_none_without_cells() {
        let r = Residuals::of(&[0.4, 0.1, 0.3, 0.2]);
        assert_eq!((r.p50, r.max), (Some(0.3), Some(0.4)));
        assert!((r.mean.unwrap() - 0.25).abs() < 1e-15);
        assert_eq!(Residuals::of(&[]), Residuals::default());
        let batch = to_batch(&[QualityRow::default()]);
        assert_eq!(batch.num_columns(), 23);
        assert_eq!(
            batch
                .column_by_name("residual_rel_mean")
                .unwrap()
                .null_count(),
            1
        );
    }
}
