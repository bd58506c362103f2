//! The metrics tables of `run-sdusc` (SPEC §11): `epochs.parquet`,
//! `user_epochs.parquet`, `bs_epochs.parquet`. Columns and units are
//! documented in `docs/artifacts.md`; nullable columns are null where a value
//! does not exist (e.g. the SINR of an unscheduled user), never NaN.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// One row of `epochs.parquet`: network-wide, per (scheme, drop, epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRow {
    pub scheme: String,
    pub drop: u32,
    pub epoch: u32,
    /// Σ_k ln(max(R̂_k(n), R_floor)) over all users of the network.
    pub accumulated_pfr: f64,
    /// Σ_k R_k(n), bps/Hz.
    pub sum_rate_bps_hz: f64,
    /// Users with R̂_k(n) = 0 (never served so far).
    pub users_unserved: u32,
    /// Backhaul bytes sent by all BSs in this epoch.
    pub backhaul_bytes: u64,
    /// Mean sensed-location error over the users the BSs scheduled, m.
    pub mean_location_error_m: Option<f64>,
    /// Users whose sensing constraint was relaxed as infeasible.
    pub relaxed_constraints: u32,
    /// Wall time of each step of the epoch over the whole network, s (0
    /// with `--no-timing`): the world's echoes and observations, the
    /// agents' sensing update + scheduling + messages, the backhaul, the
    /// beamformers, the true-SINR evaluation.
    pub sense_s: f64,
    pub plan_s: f64,
    pub exchange_s: f64,
    pub beamform_s: f64,
    pub evaluate_s: f64,
}

/// One row of `user_epochs.parquet`: per (scheme, drop, epoch, user).
#[derive(Debug, Clone, PartialEq)]
pub struct UserEpochRow {
    pub scheme: String,
    pub drop: u32,
    pub epoch: u32,
    pub bs_id: u32,
    pub user_id: u32,
    pub scheduled: bool,
    /// True SINR (SPEC §4.2), dB; null when not scheduled.
    pub sinr_db: Option<f64>,
    /// log2(1 + SINR), 0 when not scheduled.
    pub rate_bps_hz: f64,
    /// R̂_k(n): mean rate over epochs 1…n, unscheduled epochs count as 0.
    pub avg_rate_bps_hz: f64,
    /// |p̂ − p| of the BS's location estimate at this epoch, m; null for
    /// schemes that use true locations.
    pub location_error_m: Option<f64>,
    /// Sensing error variance σ²_{k,θ} (16) of the last echo; null without one.
    pub sensing_var_theta: Option<f64>,
    /// The BS's predicted σ²_{k,ī}/c̄ at its beams (≈ 1: constraint active,
    /// < 1: slack); null for unscheduled users and schemes without sensing.
    pub constraint_ratio: Option<f64>,
    /// Whether user k's sensing constraint was relaxed (infeasible).
    pub constraint_relaxed: bool,
    /// The BS's tracker refused the angle and range of this epoch's echo of
    /// the user (chi-square or reachability gate).
    pub echo_gated: bool,
    /// (p̂ − p)ᵀ Σ⁻¹ (p̂ − p) of the BS's estimate p̂ with covariance Σ: ≤ 5.99
    /// inside the 95 % ellipse (null: scheme without sensing).
    pub location_nees: Option<f64>,
}

/// One row of `bs_epochs.parquet`: per (scheme, drop, epoch, BS).
#[derive(Debug, Clone, PartialEq)]
pub struct BsEpochRow {
    pub scheme: String,
    pub drop: u32,
    pub epoch: u32,
    pub bs_id: u32,
    pub n_scheduled: u32,
    /// Beamforming wall time of this BS, s (0 when run with `--no-timing`;
    /// for centralized schemes, the central solve's time divided by L).
    pub bf_time_s: f64,
    pub bf_outer_iters: u32,
    pub bf_inner_iters: u64,
    /// The BS's beamforming objective at return (SALINR/SLINR PF objective,
    /// or the weighted sum rate for WMMSE), natural log.
    pub objective: f64,
    pub relaxed_constraints: u32,
    pub backhaul_tx_bytes: u64,
    pub backhaul_rx_bytes: u64,
    /// Wall time of the BS's tracker update and prediction, s (0 with `--no-timing`).
    pub sense_s: f64,
    /// Wall time of scheduling and encoding the backhaul messages, s.
    pub schedule_s: f64,
    /// Of `bf_time_s`: the CKM queries and the leakage matrix, s.
    pub ckm_query_s: f64,
    /// Of `bf_time_s`: the solver from its initial point to its return, s
    /// (what `cargo bench --bench per_bs_solve` measures).
    pub bf_solve_s: f64,
    /// The solver's outer loop stopped on its relative-improvement test
    /// (null: nobody scheduled, no solve).
    pub bf_converged: Option<bool>,
    /// Every inner (dual) solve met its tolerance (null: no inner solver).
    pub bf_inner_converged: Option<bool>,
    /// Σ‖v_k‖²/P − 1 at return, ≤ 0 (null: not an FP solver).
    pub bf_power_residual: Option<f64>,
    /// max over constrained users of σ²_k/c̄ − 1 at return, ≤ 0 when
    /// feasible, 0 without constraints (null: not an FP solver).
    pub bf_sensing_residual: Option<f64>,
}

fn field(name: &str, dt: DataType, nullable: bool) -> Field {
    Field::new(name, dt, nullable)
}

pub fn epoch_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("scheme", DataType::Utf8, false),
        field("drop", DataType::UInt32, false),
        field("epoch", DataType::UInt32, false),
        field("accumulated_pfr", DataType::Float64, false),
        field("sum_rate_bps_hz", DataType::Float64, false),
        field("users_unserved", DataType::UInt32, false),
        field("backhaul_bytes", DataType::UInt64, false),
        field("mean_location_error_m", DataType::Float64, true),
        field("relaxed_constraints", DataType::UInt32, false),
        field("sense_s", DataType::Float64, false),
        field("plan_s", DataType::Float64, false),
        field("exchange_s", DataType::Float64, false),
        field("beamform_s", DataType::Float64, false),
        field("evaluate_s", DataType::Float64, false),
    ]))
}

pub fn user_epoch_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("scheme", DataType::Utf8, false),
        field("drop", DataType::UInt32, false),
        field("epoch", DataType::UInt32, false),
        field("bs_id", DataType::UInt32, false),
        field("user_id", DataType::UInt32, false),
        field("scheduled", DataType::Boolean, false),
        field("sinr_db", DataType::Float64, true),
        field("rate_bps_hz", DataType::Float64, false),
        field("avg_rate_bps_hz", DataType::Float64, false),
        field("location_error_m", DataType::Float64, true),
        field("sensing_var_theta", DataType::Float64, true),
        field("constraint_ratio", DataType::Float64, true),
        field("constraint_relaxed", DataType::Boolean, false),
        field("echo_gated", DataType::Boolean, false),
        field("location_nees", DataType::Float64, true),
    ]))
}

pub fn bs_epoch_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("scheme", DataType::Utf8, false),
        field("drop", DataType::UInt32, false),
        field("epoch", DataType::UInt32, false),
        field("bs_id", DataType::UInt32, false),
        field("n_scheduled", DataType::UInt32, false),
        field("bf_time_s", DataType::Float64, false),
        field("bf_outer_iters", DataType::UInt32, false),
        field("bf_inner_iters", DataType::UInt64, false),
        field("objective", DataType::Float64, false),
        field("relaxed_constraints", DataType::UInt32, false),
        field("backhaul_tx_bytes", DataType::UInt64, false),
        field("backhaul_rx_bytes", DataType::UInt64, false),
        field("sense_s", DataType::Float64, false),
        field("schedule_s", DataType::Float64, false),
        field("ckm_query_s", DataType::Float64, false),
        field("bf_solve_s", DataType::Float64, false),
        field("bf_converged", DataType::Boolean, true),
        field("bf_inner_converged", DataType::Boolean, true),
        field("bf_power_residual", DataType::Float64, true),
        field("bf_sensing_residual", DataType::Float64, true),
    ]))
}

fn s<T>(rows: &[T], g: impl Fn(&T) -> &str) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(rows.iter().map(g)))
}
fn u32c<T>(rows: &[T], g: impl Fn(&T) -> u32) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(rows.iter().map(g)))
}
fn u64c<T>(rows: &[T], g: impl Fn(&T) -> u64) -> ArrayRef {
    Arc::new(UInt64Array::from_iter_values(rows.iter().map(g)))
}
fn f64c<T>(rows: &[T], g: impl Fn(&T) -> f64) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
}
fn f64o<T>(rows: &[T], g: impl Fn(&T) -> Option<f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter(rows.iter().map(g)))
}
fn boolo<T>(rows: &[T], g: impl Fn(&T) -> Option<bool>) -> ArrayRef {
    Arc::new(BooleanArray::from_iter(rows.iter().map(g)))
}
fn boolc<T>(rows: &[T], g: impl Fn(&T) -> bool) -> ArrayRef {
    Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(g(r)))))
}

pub fn epochs_batch(rows: &[EpochRow]) -> RecordBatch {
    RecordBatch::try_new(
        epoch_schema(),
        vec![
            s(rows, |r| &r.scheme),
            u32c(rows, |r| r.drop),
            u32c(rows, |r| r.epoch),
            f64c(rows, |r| r.accumulated_pfr),
            f64c(rows, |r| r.sum_rate_bps_hz),
            u32c(rows, |r| r.users_unserved),
            u64c(rows, |r| r.backhaul_bytes),
            f64o(rows, |r| r.mean_location_error_m),
            u32c(rows, |r| r.relaxed_constraints),
            f64c(rows, |r| r.sense_s),
            f64c(rows, |r| r.plan_s),
            f64c(rows, |r| r.exchange_s),
            f64c(rows, |r| r.beamform_s),
            f64c(rows, |r| r.evaluate_s),
        ],
    )
    .expect("columns match the schema")
}

pub fn user_epochs_batch(rows: &[UserEpochRow]) -> RecordBatch {
    RecordBatch::try_new(
        user_epoch_schema(),
        vec![
            s(rows, |r| &r.scheme),
            u32c(rows, |r| r.drop),
            u32c(rows, |r| r.epoch),
            u32c(rows, |r| r.bs_id),
            u32c(rows, |r| r.user_id),
            boolc(rows, |r| r.scheduled),
            f64o(rows, |r| r.sinr_db),
            f64c(rows, |r| r.rate_bps_hz),
            f64c(rows, |r| r.avg_rate_bps_hz),
            f64o(rows, |r| r.location_error_m),
            f64o(rows, |r| r.sensing_var_theta),
            f64o(rows, |r| r.constraint_ratio),
            boolc(rows, |r| r.constraint_relaxed),
            boolc(rows, |r| r.echo_gated),
            f64o(rows, |r| r.location_nees),
        ],
    )
    .expect("columns match the schema")
}

pub fn bs_epochs_batch(rows: &[BsEpochRow]) -> RecordBatch {
    RecordBatch::try_new(
        bs_epoch_schema(),
        vec![
            s(rows, |r| &r.scheme),
            u32c(rows, |r| r.drop),
            u32c(rows, |r| r.epoch),
            u32c(rows, |r| r.bs_id),
            u32c(rows, |r| r.n_scheduled),
            f64c(rows, |r| r.bf_time_s),
            u32c(rows, |r| r.bf_outer_iters),
            u64c(rows, |r| r.bf_inner_iters),
            f64c(rows, |r| r.objective),
            u32c(rows, |r| r.relaxed_constraints),
            u64c(rows, |r| r.backhaul_tx_bytes),
            u64c(rows, |r| r.backhaul_rx_bytes),
            f64c(rows, |r| r.sense_s),
            f64c(rows, |r| r.schedule_s),
            f64c(rows, |r| r.ckm_query_s),
            f64c(rows, |r| r.bf_solve_s),
            boolo(rows, |r| r.bf_converged),
            boolo(rows, |r| r.bf_inner_converged),
            f64o(rows, |r| r.bf_power_residual),
            f64o(rows, |r| r.bf_sensing_residual),
        ],
    )
    .expect("columns match the schema")
}
