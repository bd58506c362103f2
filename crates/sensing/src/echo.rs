//! The echo model and the estimation-error variances, eqs. (15)–(16).
//!
//! Monostatic radar at the BS, κ² = Nt·Nr (full transmit and receive array
//! gain), matched-filter gain G. User k at distance d_k reflects with
//! amplitude β_k = η/(τ_k c), τ_k = 2 d_k/c, i.e. β_k = η/(2 d_k) (amplitude
//! ∝ 1/d). With the beams v_j of the scheduled set S actually transmitted,
//!
//! ```text
//! g_k        = G κ² |β_k|²                                           (echo gain)
//! SINR_k^s   = g_k |a(θ_k)ᴴ v_k|² / ( Σ_{j∈S, j≠k} g_k |a(θ_k)ᴴ v_j|² + σz² )
//! σ²_{k,i}   = a_i² / SINR_k^s,          i ∈ {τ, μ, θ}                 (16)
//! ```
//!
//! a(θ) is the Nt-element transmit steering vector (eq. (14)); the receive
//! beam is assumed matched (its gain is the Nr in κ²).
//!
//! # Decisions
//!
//! - **No echo**: if a user's own beam puts (almost) no power towards it,
//!   (16) gives infinite (or absurd) variances. An echo whose SINR is not
//!   above `min_detection_sinr` (default 1e−6: there σ²_θ = 10⁶·a_θ² = 10⁴ rad²
//!   with the paper's a_θ, the angle estimate carries no information; settable with
//!   [`EchoModel::with_min_detection_sinr`]) is treated as *no fresh echo*
//!   ([`EchoModel::variances_for`] returns `None`) and the tracker predicts
//!   that user instead. A beam with an exact null on the user always falls
//!   here, whatever rounding leaves of the null.
//! - **Range floor**: gains computed from a range use max(d, `min_range_m`)
//!   (default 1 m), so an estimate that lands on the BS does not make β
//!   infinite.
//! - **Dominant error ī = argmax_i a_i** for the sensing constraint (17): the
//!   three variances share the factor 1/SINR, so the constraint on the
//!   largest scale implies the other two. Ties go to θ, then μ, then τ: with
//!   the paper's values a_θ = a_μ = 0.1 > a_τ = 6.7e−7, ī = θ, the
//!   component that drives the location error. (Comparing scales with
//!   different units is the paper's rule, kept as is.)

use sdusc_model::C64;
use sdusc_model::array::{dot_h, steering};
use sdusc_model::geometry::{BsSite, Point};
use sdusc_model::scenario::{SPEED_OF_LIGHT, SensingParams};

use crate::{SensingError, check_finite, check_point};

/// One of the three estimated quantities of (16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorComponent {
    /// Angle θ, radians.
    Theta,
    /// Round-trip delay τ, seconds.
    Tau,
    /// Doppler shift μ, Hz.
    Mu,
}

/// The variances (16) of one user's estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorVariances {
    /// σ²_θ, rad².
    pub theta_rad2: f64,
    /// σ²_τ, s².
    pub tau_s2: f64,
    /// σ²_μ, Hz².
    pub mu_hz2: f64,
}

impl ErrorVariances {
    pub fn get(&self, component: ErrorComponent) -> f64 {
        match component {
            ErrorComponent::Theta => self.theta_rad2,
            ErrorComponent::Tau => self.tau_s2,
            ErrorComponent::Mu => self.mu_hz2,
        }
    }
}

/// The radar of one BS: site, arrays, carrier and the sensing parameters.
#[derive(Debug, Clone, Copy)]
pub struct EchoModel {
    site: BsSite,
    tx_antennas: usize,
    rx_antennas: usize,
    carrier_hz: f64,
    params: SensingParams,
    min_range_m: f64,
    min_detection_sinr: f64,
}

/// Default floor on ranges used in echo gains, metres.
pub const DEFAULT_MIN_RANGE_M: f64 = 1.0;

/// Default sensing SINR at or below which an echo counts as not detected.
pub const DEFAULT_MIN_DETECTION_SINR: f64 = 1e-6;

impl EchoModel {
    /// Validate and build. `params` usually comes from
    /// `Scenario::sensing`; the arrays and carrier from the scenario too.
    pub fn new(
        site: BsSite,
        tx_antennas: usize,
        rx_antennas: usize,
        carrier_hz: f64,
        params: SensingParams,
    ) -> Result<Self, SensingError> {
        check_point("site.position", site.position)?;
        check_finite(|| "site.broadside_rad".into(), site.broadside_rad)?;
        for (what, n) in [("tx_antennas", tx_antennas), ("rx_antennas", rx_antennas)] {
            if n == 0 {
                return Err(SensingError::InvalidValue {
                    what: what.into(),
                    value: 0.0,
                    expected: "at least 1 antenna",
                });
            }
        }
        let positive = [
            ("carrier_hz", carrier_hz),
            ("sensing.matched_filter_gain", params.matched_filter_gain),
            (
                "sensing.reflection_coefficient",
                params.reflection_coefficient,
            ),
            ("sensing.threshold", params.threshold),
        ];
        for (what, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(SensingError::InvalidValue {
                    what: what.into(),
                    value,
                    expected: "a finite number > 0",
                });
            }
        }
        let non_negative = [
            ("sensing.error_scale_theta", params.error_scale_theta),
            ("sensing.error_scale_tau", params.error_scale_tau),
            ("sensing.error_scale_mu", params.error_scale_mu),
            ("sensing.echo_noise_w", params.echo_noise_w),
        ];
        for (what, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(SensingError::InvalidValue {
                    what: what.into(),
                    value,
                    expected: "a finite number ≥ 0",
                });
            }
        }
        Ok(Self {
            site,
            tx_antennas,
            rx_antennas,
            carrier_hz,
            params,
            min_range_m: DEFAULT_MIN_RANGE_M,
            min_detection_sinr: DEFAULT_MIN_DETECTION_SINR,
        })
    }

    /// Replace the range floor of echo gains (default [`DEFAULT_MIN_RANGE_M`]).
    pub fn with_min_range(mut self, min_range_m: f64) -> Result<Self, SensingError> {
        if !(min_range_m.is_finite() && min_range_m > 0.0) {
            return Err(SensingError::InvalidValue {
                what: "min_range_m".into(),
                value: min_range_m,
                expected: "a finite number > 0",
            });
        }
        self.min_range_m = min_range_m;
        Ok(self)
    }

    /// Replace the detection floor (default [`DEFAULT_MIN_DETECTION_SINR`]; 0
    /// keeps every echo with non-zero power).
    pub fn with_min_detection_sinr(
        mut self,
        min_detection_sinr: f64,
    ) -> Result<Self, SensingError> {
        if !(min_detection_sinr.is_finite() && min_detection_sinr >= 0.0) {
            return Err(SensingError::InvalidValue {
                what: "min_detection_sinr".into(),
                value: min_detection_sinr,
                expected: "a finite number ≥ 0",
            });
        }
        self.min_detection_sinr = min_detection_sinr;
        Ok(self)
    }

    pub fn min_detection_sinr(&self) -> f64 {
        self.min_detection_sinr
    }

    pub fn site(&self) -> BsSite {
        self.site
    }
    pub fn tx_antennas(&self) -> usize {
        self.tx_antennas
    }
    pub fn rx_antennas(&self) -> usize {
        self.rx_antennas
    }
    pub fn carrier_hz(&self) -> f64 {
        self.carrier_hz
    }
    pub fn params(&self) -> &SensingParams {
        &self.params
    }
    pub fn min_range_m(&self) -> f64 {
        self.min_range_m
    }

    /// κ² = Nt·Nr.
    pub fn kappa_sq(&self) -> f64 {
        (self.tx_antennas * self.rx_antennas) as f64
    }

    /// β = η/(τc) with τ = 2d/c, i.e. η/(2d); d floored at `min_range_m`.
    pub fn echo_amplitude(&self, distance_m: f64) -> f64 {
        let tau = 2.0 * distance_m.max(self.min_range_m) / SPEED_OF_LIGHT;
        self.params.reflection_coefficient / (tau * SPEED_OF_LIGHT)
    }

    /// g = G κ² |β|².
    pub fn echo_gain(&self, distance_m: f64) -> f64 {
        self.params.matched_filter_gain * self.kappa_sq() * self.echo_amplitude(distance_m).powi(2)
    }

    /// a_i of (16).
    pub fn error_scale(&self, component: ErrorComponent) -> f64 {
        match component {
            ErrorComponent::Theta => self.params.error_scale_theta,
            ErrorComponent::Tau => self.params.error_scale_tau,
            ErrorComponent::Mu => self.params.error_scale_mu,
        }
    }

    /// ī = argmax_i a_i, ties to θ, then μ, then τ.
    pub fn dominant_error(&self) -> ErrorComponent {
        let mut best = ErrorComponent::Theta;
        for c in [ErrorComponent::Mu, ErrorComponent::Tau] {
            if self.error_scale(c) > self.error_scale(best) {
                best = c;
            }
        }
        best
    }

    /// σ²_i = a_i²/SINR (infinite for SINR = 0, zero for SINR = ∞).
    pub fn variances(&self, sinr: f64) -> ErrorVariances {
        let v = |c| self.error_scale(c).powi(2) / sinr;
        ErrorVariances {
            theta_rad2: v(ErrorComponent::Theta),
            tau_s2: v(ErrorComponent::Tau),
            mu_hz2: v(ErrorComponent::Mu),
        }
    }

    /// The sensing SINR and variances (16) of the user at `true_position`
    /// whose own beam is `beams[own]`, with every transmitted beam in `beams`.
    /// `None` if the SINR is not above the detection floor (no echo).
    pub fn variances_for(
        &self,
        true_position: Point,
        beams: &[Vec<C64>],
        own: usize,
    ) -> Result<Option<(f64, ErrorVariances)>, SensingError> {
        check_point("true_position", true_position)?;
        let theta = self.site.angle_to(true_position);
        let gain = self.echo_gain(true_position.distance(self.site.position));
        let a = steering(self.tx_antennas, theta);
        let sinr = echo_sinr(gain, &a, beams, own, self.params.echo_noise_w)?;
        Ok((sinr > self.min_detection_sinr && sinr > 0.0).then(|| (sinr, self.variances(sinr))))
    }

    /// The data of user k's sensing constraint (17), from the BS's own
    /// estimate of its location (sensed or predicted).
    pub fn constraint(&self, estimated_position: Point) -> Result<SensingConstraint, SensingError> {
        check_point("estimated_position", estimated_position)?;
        let angle_rad = self.site.angle_to(estimated_position);
        let range_m = estimated_position
            .distance(self.site.position)
            .max(self.min_range_m);
        let component = self.dominant_error();
        Ok(SensingConstraint {
            steering: steering(self.tx_antennas, angle_rad),
            angle_rad,
            range_m,
            echo_gain: self.echo_gain(range_m),
            noise_w: self.params.echo_noise_w,
            threshold: self.params.threshold,
            error_scale_sq: self.error_scale(component).powi(2),
            component,
        })
    }
}

/// Sensing SINR of the user seen at steering vector `a` with echo gain `gain`,
/// whose own beam is `beams[own]`:
/// `g|aᴴv_own|² / (Σ_{j≠own} g|aᴴv_j|² + σz²)`. Zero if the own beam puts no
/// power towards it; +∞ if there is neither interference nor noise.
pub fn echo_sinr(
    gain: f64,
    a: &[C64],
    beams: &[Vec<C64>],
    own: usize,
    noise_w: f64,
) -> Result<f64, SensingError> {
    if own >= beams.len() {
        return Err(SensingError::OwnBeamOutOfRange {
            own,
            beams: beams.len(),
        });
    }
    let mut signal = 0.0;
    let mut interference = 0.0;
    for (j, v) in beams.iter().enumerate() {
        if v.len() != a.len() {
            return Err(SensingError::BeamLength {
                beam: j,
                expected: a.len(),
                found: v.len(),
            });
        }
        let p = gain * dot_h(a, v).norm_sqr();
        check_finite(|| format!("echo power of beam {j}"), p)?;
        if j == own {
            signal = p;
        } else {
            interference += p;
        }
    }
    if signal == 0.0 {
        return Ok(0.0);
    }
    Ok(signal / (interference + noise_w))
}

/// What the beamformer needs for user k's sensing constraint (17),
/// `σ²_{k,ī}(v) ≤ c̄`, i.e. `ϕ_k(v) ≤ ψ_k(v_k)` with
///
/// ```text
/// B_k = echo_gain · a aᴴ,   ϕ_k(v) = Σ_{j≠k} v_jᴴ B_k v_j + σz²,   ψ_k(v_k) = (c̄ / a_ī²) v_kᴴ B_k v_k
/// ```
///
/// All built from the BS's estimate of the user's location, never the truth.
#[derive(Debug, Clone, PartialEq)]
pub struct SensingConstraint {
    /// a(θ̂_k), Nt entries, unit norm.
    pub steering: Vec<C64>,
    /// θ̂_k, radians from broadside.
    pub angle_rad: f64,
    /// d̂_k, metres (floored at the model's `min_range_m`).
    pub range_m: f64,
    /// G κ² |β̂_k|² with β̂ from d̂_k.
    pub echo_gain: f64,
    /// σz², W.
    pub noise_w: f64,
    /// c̄.
    pub threshold: f64,
    /// a_ī².
    pub error_scale_sq: f64,
    /// ī.
    pub component: ErrorComponent,
}

impl SensingConstraint {
    /// Sensing SINR of this user under `beams` (its own beam `beams[own]`).
    pub fn sinr(&self, beams: &[Vec<C64>], own: usize) -> Result<f64, SensingError> {
        echo_sinr(self.echo_gain, &self.steering, beams, own, self.noise_w)
    }

    /// σ²_{k,ī} = a_ī² / SINR as the BS predicts it (∞ if no echo).
    pub fn variance(&self, beams: &[Vec<C64>], own: usize) -> Result<f64, SensingError> {
        Ok(self.error_scale_sq / self.sinr(beams, own)?)
    }

    /// σ²_{k,ī} ≤ c̄·(1 + rel_tol).
    pub fn is_satisfied(
        &self,
        beams: &[Vec<C64>],
        own: usize,
        rel_tol: f64,
    ) -> Result<bool, SensingError> {
        Ok(self.variance(beams, own)? <= self.threshold * (1.0 + rel_tol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::paper_params;

    fn model() -> EchoModel {
        crate::test_util::model(paper_params())
    }

    #[test]
    fn amplitude_and_gain_follow_the_definitions() {
        let m = model();
        let d = 75.0;
        let tau = 2.0 * d / SPEED_OF_LIGHT;
        let beta = 3.6e-7 / (tau * SPEED_OF_LIGHT);
        assert!((m.echo_amplitude(d) - beta).abs() <= 1e-12 * beta);
        assert!((m.echo_amplitude(d) - 3.6e-7 / (2.0 * d)).abs() <= 1e-12 * beta);
        assert!((m.echo_gain(d) - 10.0 * 128.0 * beta * beta).abs() <= 1e-12 * m.echo_gain(d));
        // Range floor.
        assert_eq!(m.echo_gain(0.0), m.echo_gain(1.0));
    }

    #[test]
    fn variances_match_eq16() {
        let m = model();
        let p = m.site().position.add(m.site().direction(0.3).scale(50.0));
        let a = steering(8, 0.3);
        // Own beam matched, two interfering beams with known overlaps.
        let beams = vec![
            a.clone(),
            steering(8, -0.5),
            a.iter().map(|z| z * 0.5).collect(),
        ];
        let g = m.echo_gain(50.0);
        let interf = g * dot_h(&a, &beams[1]).norm_sqr() + g * 0.25;
        let sinr = g / (interf + 1e-11);
        let (s, v) = m.variances_for(p, &beams, 0).unwrap().unwrap();
        assert!((s - sinr).abs() <= 1e-9 * sinr);
        assert!((v.theta_rad2 - 0.01 / sinr).abs() <= 1e-9 * v.theta_rad2);
        assert!((v.tau_s2 - 6.7e-7f64.powi(2) / sinr).abs() <= 1e-9 * v.tau_s2);
        assert!((v.mu_hz2 - 0.01 / sinr).abs() <= 1e-9 * v.mu_hz2);
        // The constraint at the true location predicts the same variance.
        let c = m.constraint(p).unwrap();
        assert_eq!(c.component, ErrorComponent::Theta);
        assert!((c.variance(&beams, 0).unwrap() - v.theta_rad2).abs() <= 1e-9 * v.theta_rad2);
        assert!(c.is_satisfied(&beams, 0, 0.0).unwrap() == (v.theta_rad2 <= 1.0));
    }

    #[test]
    fn zero_own_beam_means_no_echo() {
        let m = model();
        let p = m.site().position.add(m.site().direction(0.0).scale(30.0));
        let null = steering(8, (2.0f64 / 8.0).asin()); // first null of broadside
        let beams = vec![null, steering(8, 0.0)];
        assert!(m.variances_for(p, &beams, 0).unwrap().is_none());
        assert!(m.variances_for(p, &beams, 1).unwrap().is_some());
        let zero = vec![vec![C64::new(0.0, 0.0); 8]];
        assert!(m.variances_for(p, &zero, 0).unwrap().is_none());
        // Without a floor only exact zeros are lost; rounding leaves the null at ~1e-32.
        let no_floor = m.with_min_detection_sinr(0.0).unwrap();
        assert!(no_floor.variances_for(p, &zero, 0).unwrap().is_none());
        let weak = vec![
            steering(8, 0.0)
                .iter()
                .map(|z| z * 1e-6)
                .collect::<Vec<_>>(),
        ];
        assert!(m.variances_for(p, &weak, 0).unwrap().is_none());
        assert!(no_floor.variances_for(p, &weak, 0).unwrap().is_some());
    }

    #[test]
    fn dominant_error_ties_go_to_theta() {
        let mut params = paper_params();
        let site = BsSite {
            position: Point::new(0.0, 0.0),
            broadside_rad: 0.0,
        };
        assert_eq!(
            EchoModel::new(site, 4, 4, 3e10, params)
                .unwrap()
                .dominant_error(),
            ErrorComponent::Theta
        );
        params.error_scale_mu = 0.2;
        assert_eq!(
            EchoModel::new(site, 4, 4, 3e10, params)
                .unwrap()
                .dominant_error(),
            ErrorComponent::Mu
        );
        params.error_scale_tau = 1.0;
        assert_eq!(
            EchoModel::new(site, 4, 4, 3e10, params)
                .unwrap()
                .dominant_error(),
            ErrorComponent::Tau
        );
    }

    #[test]
    fn bad_input_is_rejected() {
        let m = model();
        let p = Point::new(50.0, 0.0);
        let beams = vec![steering(8, 0.0)];
        assert!(matches!(
            m.variances_for(p, &beams, 1),
            Err(SensingError::OwnBeamOutOfRange { .. })
        ));
        assert!(matches!(
            m.variances_for(p, &[steering(7, 0.0)], 0),
            Err(SensingError::BeamLength { .. })
        ));
        assert!(matches!(
            m.variances_for(Point::new(f64::NAN, 0.0), &beams, 0),
            Err(SensingError::InvalidValue { .. })
        ));
        let mut bad = paper_params();
        bad.reflection_coefficient = 0.0;
        let err = EchoModel::new(m.site(), 8, 16, 30e9, bad).unwrap_err();
        assert!(err.to_string().contains("reflection_coefficient"), "{err}");
        assert!(EchoModel::new(m.site(), 0, 16, 30e9, paper_params()).is_err());
    }
}
