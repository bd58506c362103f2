//! ISAC sensing at a BS (SPEC §8, eqs. (15)–(16)): how well the echoes of the
//! data beams locate the served users, the estimates they yield, and the
//! prediction of users that got no fresh echo.
//!
//! - [`echo`] — the echo model: amplitude β_k = η/(τ_k c), gain G κ² |β_k|²,
//!   the error variances (16) computed from the beams actually transmitted,
//!   and the per-user data the beamformer needs for its sensing constraint
//!   (17) ([`SensingConstraint`]).
//! - [`estimate`] — keyed Gaussian draws of the errors and the resulting
//!   estimates (θ̂, τ̂, μ̂ → location p̂ and radial speed v̂_r) ([`Echo`]).
//! - [`tracker`] — the per-BS [`Tracker`] holding each own user's last
//!   estimate, forming a velocity estimate and predicting users that were not
//!   served.
//!
//! Units: angles in radians from the array broadside, delays in seconds,
//! Doppler in Hz, distances in metres, speeds in m/s, powers in watts.
//! Conventions shared with `sdusc-model`: a beam `v` is a complex vector of Nt
//! entries, `a(θ)` is the unit-norm half-wavelength ULA steering vector.

pub mod echo;
pub mod estimate;
pub mod tracker;

pub use echo::{
    DEFAULT_MIN_DETECTION_SINR, DEFAULT_MIN_RANGE_M, EchoModel, ErrorComponent, ErrorVariances,
    SensingConstraint, echo_sinr,
};
pub use estimate::{
    Echo, EchoErrors, EchoKey, TrueKinematics, draw_errors, echo_from_errors, location_from_polar,
    sense_echo,
};
pub use sdusc_model::C64;
pub use tracker::{
    ELLIPSE95_CHI2, GATE_CHI2_1DOF, GATE_CHI2_2DOF, Prediction, TrackState, Tracker, TrackerParams,
    UpdateOutcome,
};

/// Bad sensing input or a query the tracker cannot answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SensingError {
    #[error("{what}: expected {expected}, found {value}")]
    InvalidValue {
        what: String,
        value: f64,
        expected: &'static str,
    },
    #[error("beam {beam} has {found} entries, expected Nt = {expected}")]
    BeamLength {
        beam: usize,
        expected: usize,
        found: usize,
    },
    #[error("own beam index {own} is out of range ({beams} beams transmitted)")]
    OwnBeamOutOfRange { own: usize, beams: usize },
    #[error("{what} has {found} entries, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("user {user} is not tracked by this BS (it tracks {users} users)")]
    UnknownUser { user: usize, users: usize },
    #[error("user {user} has no estimate yet (no echo and no initial fix)")]
    NoEstimate { user: usize },
    #[error("user {user}: epoch {requested} is before its last estimate (epoch {last})")]
    EpochInPast {
        user: usize,
        requested: u64,
        last: u64,
    },
}

pub(crate) fn check_finite(what: impl FnOnce() -> String, value: f64) -> Result<f64, SensingError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(SensingError::InvalidValue {
            what: what(),
            value,
            expected: "a finite number",
        })
    }
}

pub(crate) fn check_point(what: &str, p: sdusc_model::geometry::Point) -> Result<(), SensingError> {
    check_finite(|| format!("{what}.x"), p.x)?;
    check_finite(|| format!("{what}.y"), p.y)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::echo::EchoModel;
    use sdusc_model::geometry::{BsSite, Point};
    use sdusc_model::scenario::SensingParams;

    /// The paper's sensing parameters with the project's η and σz² order of magnitude.
    pub fn paper_params() -> SensingParams {
        SensingParams {
            error_scale_theta: 0.1,
            error_scale_tau: 6.7e-7,
            error_scale_mu: 0.1,
            matched_filter_gain: 10.0,
            threshold: 1.0,
            reflection_coefficient: 3.6e-7,
            echo_noise_w: 1e-11,
        }
    }

    /// An 8×16 radar at 30 GHz, off the origin and rotated.
    pub fn model(params: SensingParams) -> EchoModel {
        let site = BsSite {
            position: Point::new(10.0, -5.0),
            broadside_rad: 0.4,
        };
        EchoModel::new(site, 8, 16, 30e9, params).unwrap()
    }
}
