//! Typed errors of the beamforming crate.

use thiserror::Error;

/// Everything that can go wrong when building or solving a beamforming problem.
#[derive(Debug, Error)]
pub enum BeamformingError {
    /// An input array has the wrong shape.
    #[error("{what}: expected shape {expected}, found {found}")]
    Dimension {
        what: &'static str,
        expected: String,
        found: String,
    },
    /// An input contains NaN/inf or a value outside its domain.
    #[error("{what}: expected {expected}, found {found}")]
    InvalidValue {
        what: &'static str,
        expected: &'static str,
        found: String,
    },
    /// The conic reference solver did not return a usable solution.
    #[error("reference solver (clarabel) failed: {0}")]
    Reference(String),
    /// A numerical breakdown that validation could not rule out
    /// (e.g. a matrix that should be positive definite is not).
    #[error("numerical failure in {0}")]
    Numerical(&'static str),
    /// Reading or writing an instance dump failed.
    #[error("instance dump {path}: {message}")]
    Dump { path: String, message: String },
}

pub(crate) fn dim_err(what: &'static str, expected: String, found: String) -> BeamformingError {
    BeamformingError::Dimension {
        what,
        expected,
        found,
    }
}

pub(crate) fn value_err(
    what: &'static str,
    expected: &'static str,
    found: String,
) -> BeamformingError {
    BeamformingError::InvalidValue {
        what,
        expected,
        found,
    }
}
