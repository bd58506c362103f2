//! Aggregation over drops (SPEC §11) moved to [`sdusc_stats`]: mean and 95%
//! confidence interval per scheme, paired against a baseline scheme where
//! the drops match. Kept as a re-export until `pub mod summary` leaves
//! `lib.rs`; new code imports `sdusc_stats`.

pub use sdusc_stats::{MeanCi, mean_ci, t975};
