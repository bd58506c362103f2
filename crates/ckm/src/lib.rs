//! Channel knowledge maps (SPEC §5, paper section IV): OLS recovery of the
//! angular power spectrum (APS) from drive-test RSRP, gap filling, and the
//! queries the BS agents use.
//!
//! - [`ols`]: eq. (35), non-negative orthogonal least squares over the
//!   dictionary Φ = P_T (|AᴴW|²)ᵀ with a precomputed Gram matrix.
//! - [`fill`]: unmeasured cells from the nearest measured cell.
//! - [`build`]: one BS's map from its binned RSRP (parallel over cells).
//! - [`query`]: location → cell → ĥ (eq. (36)), R̂, leakage.
//! - [`truth`]: recovery error against the simulated world.
//! - [`check`]: whether a CKM (and a set of them) serves a scenario.
//!
//! The map type and its file format live in `sdusc_formats::ckm_file`.

pub mod build;
pub mod check;
pub mod fill;
pub mod ols;
pub mod query;
pub mod truth;

pub use build::{BuildError, BuildInfo, BuildParams, MissingBeams, build};
pub use check::{CkmMismatch, SetMismatch, check_against, check_set};
pub use ols::{Dictionary, OlsInfo, OlsParams, OlsScratch, OlsStop, recover, recover_partial};
pub use query::{CkmMap, Coverage, Estimate, QueryError};
pub use sdusc_formats::ckm_file::{ApsPath, CellState, Ckm, CkmFileError, CkmHeader};
