//! Beamforming for SD-USCB (SPEC §10): the distributed ISAC-SALINR beamformer
//! (Algorithm 2 with the DualOpt inner solver), its exact conic reference
//! (clarabel), the SLINR / FP-SALINR / CWMMSE / PWMMSE baselines and the
//! true-SINR evaluator (SPEC §4.2) shared by every scheme.
//!
//! Conventions used throughout the crate:
//! - Complex numbers are [`c64`] (= `num_complex::Complex<f64>` = `faer::c64`).
//! - A set of K beams is an `ndarray::Array2<c64>` of shape K×Nt, **row k is
//!   v_k** ([`Beams`]); channels are stored the same way (row k is h_k, so
//!   h_kᴴ v = Σ_n conj(h_k[n]) v[n]).
//! - Powers are linear and in one consistent unit chosen by the caller (e.g.
//!   watts for `power_budget`, the noise powers and |h|²·W products); only
//!   ratios enter the algorithms, which internally normalise noise and budget
//!   to 1 ([`fp`] module docs).
//! - Objectives use the natural logarithm; rates from [`evaluate`] are in
//!   bit/s/Hz (log2).
//!
//! Module map (one module per equation group):
//! - [`problem`]: the per-BS problem data (SPEC §10.1) and validation.
//! - [`salinr`]: γ̃_k (11), the SALINR/SLINR PF objective, sensing variances (17).
//! - [`fp`]: the FP + SCA outer loop (Algorithm 2, SPEC §10.2), generic over the
//!   solver of the convex subproblem (26); feasible initialisation and
//!   sensing-infeasibility relaxation (SPEC §10.3).
//! - [`dualopt`]: DualOpt, the dual solver of (26) (SPEC §10.3, corrected form).
//! - [`reference`]: (26) solved exactly by clarabel (SPEC §10.5).
//! - [`wmmse`]: CWMMSE and PWMMSE (SPEC §10.4).
//! - [`evaluate`]: true SINR and rates (SPEC §4.2).
//! - [`npz`]: instance dumps readable by numpy.

pub mod dualopt;
pub mod error;
pub mod evaluate;
pub mod fp;
mod linalg;
pub mod npz;
pub mod problem;
pub mod reference;
pub mod salinr;
pub mod synthetic;
pub mod wmmse;

pub use error::BeamformingError;
pub use faer::c64;
pub use problem::{Leakage, SalinrProblem, SensingData};

/// K×Nt beams, row k is the beamformer v_k of user k.
pub type Beams = ndarray::Array2<c64>;
