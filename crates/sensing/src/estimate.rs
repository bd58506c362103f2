//! Estimates from one echo (SPEC §8): draw the errors of (16), then turn
//! (θ̂, τ̂, μ̂) into a location and a radial speed.
//!
//! ```text
//! θ̂ = θ + e_θ,   τ̂ = τ + e_τ,   μ̂ = μ + e_μ,      e_i ~ N(0, σ²_{k,i})
//! τ = 2d/c,      μ = 2 v_r f_c / c                  (v_r = range rate, > 0 receding)
//! d̂ = c τ̂ / 2,   p̂ = BS + d̂ · u(θ̂),   v̂_r = c μ̂ / (2 f_c)
//! ```
//!
//! u(θ) is the unit vector at angle θ from the array broadside.
//!
//! # Decisions
//!
//! - **Keyed draws**: e_i = σ_{k,i} · z_i with z_i a standard normal keyed by
//!   (SENSING tag, seed, drop, epoch, bs, user, component) through
//!   `sdusc_model::rng`, so an estimate does not depend on the order or the
//!   thread in which users are sensed, and schemes share the same z_i
//!   (common random numbers).
//! - d̂ and v̂_r are formed as d + c·e_τ/2 and v_r + c·e_μ/(2f_c) (equal to
//!   the formulas above, and exact when the error is zero); a negative
//!   d̂ (huge delay error) is clamped to 0; θ̂ is wrapped to (−π, π].

use sdusc_model::C64;
use sdusc_model::geometry::{BsSite, Point, wrap_angle};
use sdusc_model::rng;
use sdusc_model::scenario::SPEED_OF_LIGHT;

use crate::echo::{EchoModel, ErrorVariances};
use crate::{SensingError, check_point};

/// The simulator's truth about one user at the echo's epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrueKinematics {
    pub position: Point,
    /// m/s.
    pub velocity: Point,
}

/// The address of one echo's random draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EchoKey {
    pub seed: u64,
    pub drop: u64,
    pub epoch: u64,
    pub bs: u64,
    pub user: u64,
}

impl EchoKey {
    fn normal(&self, component: u64) -> f64 {
        rng::normal(&[
            rng::tag::SENSING,
            self.seed,
            self.drop,
            self.epoch,
            self.bs,
            self.user,
            component,
        ])
    }
}

/// The drawn estimation errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoErrors {
    pub theta_rad: f64,
    pub tau_s: f64,
    pub mu_hz: f64,
}

/// Draw errors with the variances `v` from the keyed standard normals.
pub fn draw_errors(key: &EchoKey, v: &ErrorVariances) -> EchoErrors {
    EchoErrors {
        theta_rad: v.theta_rad2.sqrt() * key.normal(0),
        tau_s: v.tau_s2.sqrt() * key.normal(1),
        mu_hz: v.mu_hz2.sqrt() * key.normal(2),
    }
}

/// What one echo tells the BS about one user.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Echo {
    /// Sensing SINR of the echo.
    pub sinr: f64,
    pub variances: ErrorVariances,
    pub errors: EchoErrors,
    /// θ̂, radians from broadside, in (−π, π].
    pub angle_rad: f64,
    /// τ̂, s.
    pub delay_s: f64,
    /// μ̂, Hz.
    pub doppler_hz: f64,
    /// d̂ = c τ̂ / 2 (≥ 0), m.
    pub range_m: f64,
    /// v̂_r = c μ̂ / (2 f_c), m/s, > 0 moving away from the BS.
    pub radial_speed_mps: f64,
    /// Variance of d̂: (c/2)² σ²_τ, m².
    pub range_var_m2: f64,
    /// Variance of v̂_r: (c/(2 f_c))² σ²_μ, (m/s)².
    pub radial_speed_var_m2s2: f64,
    /// p̂ = BS + d̂ · u(θ̂).
    pub position: Point,
}

/// `site.position + range · u(angle)`.
pub fn location_from_polar(site: &BsSite, angle_rad: f64, range_m: f64) -> Point {
    site.position.add(site.direction(angle_rad).scale(range_m))
}

/// Build the estimates of an echo from its errors (deterministic).
pub fn echo_from_errors(
    model: &EchoModel,
    truth: &TrueKinematics,
    sinr: f64,
    variances: ErrorVariances,
    errors: EchoErrors,
) -> Echo {
    let site = model.site();
    let offset = truth.position.sub(site.position);
    let distance = offset.norm();
    let radial = if distance > 0.0 {
        truth.velocity.dot(offset) / distance
    } else {
        0.0
    };
    let theta = site.angle_to(truth.position);
    let fc = model.carrier_hz();

    let angle_rad = wrap_angle(theta + errors.theta_rad);
    let delay_s = 2.0 * distance / SPEED_OF_LIGHT + errors.tau_s;
    let doppler_hz = 2.0 * radial * fc / SPEED_OF_LIGHT + errors.mu_hz;
    let range_m = (distance + SPEED_OF_LIGHT * errors.tau_s / 2.0).max(0.0);
    let radial_speed_mps = radial + SPEED_OF_LIGHT * errors.mu_hz / (2.0 * fc);
    Echo {
        sinr,
        variances,
        errors,
        angle_rad,
        delay_s,
        doppler_hz,
        range_m,
        radial_speed_mps,
        range_var_m2: (SPEED_OF_LIGHT / 2.0).powi(2) * variances.tau_s2,
        radial_speed_var_m2s2: (SPEED_OF_LIGHT / (2.0 * fc)).powi(2) * variances.mu_hz2,
        position: location_from_polar(&site, angle_rad, range_m),
    }
}

/// Sense the user with `truth` whose own beam is `beams[own]`, all of
/// `beams` being transmitted: variances (16), keyed errors, estimates.
/// `None` if the echo is not detected (SINR at or below the model's
/// detection floor): no fresh echo.
pub fn sense_echo(
    model: &EchoModel,
    key: &EchoKey,
    truth: &TrueKinematics,
    beams: &[Vec<C64>],
    own: usize,
) -> Result<Option<Echo>, SensingError> {
    check_point("truth.velocity", truth.velocity)?;
    let Some((sinr, variances)) = model.variances_for(truth.position, beams, own)? else {
        return Ok(None);
    };
    let errors = draw_errors(key, &variances);
    Ok(Some(echo_from_errors(
        model, truth, sinr, variances, errors,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::echo::ErrorComponent;
    use crate::test_util::{model, paper_params};
    use sdusc_model::array::steering;
    use sdusc_model::scenario::SensingParams;

    fn key(epoch: u64, user: u64) -> EchoKey {
        EchoKey {
            seed: 42,
            drop: 1,
            epoch,
            bs: 2,
            user,
        }
    }

    #[test]
    fn zero_errors_round_trip_location_and_speed() {
        let m = model(paper_params());
        let zero = EchoErrors {
            theta_rad: 0.0,
            tau_s: 0.0,
            mu_hz: 0.0,
        };
        let v = m.variances(1.0);
        for (theta, d) in [(0.0, 10.0), (0.7, 55.5), (-1.2, 120.0), (1.5, 3.0)] {
            let p = location_from_polar(&m.site(), theta, d);
            let vel = Point::new(3.0, -19.0);
            let e = echo_from_errors(
                &m,
                &TrueKinematics {
                    position: p,
                    velocity: vel,
                },
                1.0,
                v,
                zero,
            );
            assert!(e.position.distance(p) < 1e-9 * d, "{theta} {d}");
            assert!((e.angle_rad - theta).abs() < 1e-12);
            assert!((e.range_m - d).abs() < 1e-12 * d);
            assert!((e.delay_s - 2.0 * d / SPEED_OF_LIGHT).abs() < 1e-12 * e.delay_s);
            let radial = vel.dot(m.site().direction(theta));
            assert!((e.radial_speed_mps - radial).abs() < 1e-9);
            assert!((e.doppler_hz - 2.0 * radial * m.carrier_hz() / SPEED_OF_LIGHT).abs() < 1e-6);
        }
    }

    /// Chi-square check: with n draws of N(0, σ²), Σe²/σ² ~ χ²(n), mean n,
    /// sd √(2n); accept within 5 sd (fixed seed, so deterministic).
    fn assert_variance(samples: &[f64], variance: f64, what: &str) {
        let n = samples.len() as f64;
        let chi2: f64 = samples.iter().map(|e| e * e / variance).sum();
        let z = (chi2 - n) / (2.0 * n).sqrt();
        assert!(z.abs() < 5.0, "{what}: chi² = {chi2} for n = {n} (z = {z})");
        let mean = samples.iter().sum::<f64>() / n;
        assert!(
            mean.abs() < 5.0 * (variance / n).sqrt(),
            "{what}: mean {mean}"
        );
    }

    #[test]
    fn empirical_variances_match_eq16() {
        // Lower echo noise than the paper scenario so that the sweep spans
        // SINR ≈ 3…100 and θ errors stay far from wrapping.
        let m = model(SensingParams {
            echo_noise_w: 1e-15,
            ..paper_params()
        });
        let site = m.site();
        // Several interference levels: SINR swept over decades.
        for (case, (theta, d, leak)) in [(0.2, 40.0, 0.0), (-0.6, 90.0, 0.3), (1.0, 110.0, 1.0)]
            .into_iter()
            .enumerate()
        {
            let p = location_from_polar(&site, theta, d);
            let a = steering(m.tx_antennas(), theta);
            let beams = vec![
                a.iter().map(|z| z * 2.0).collect(),
                a.iter().map(|z| z * leak).collect(),
            ];
            let truth = TrueKinematics {
                position: p,
                velocity: Point::new(5.0, 5.0),
            };
            let n = 20_000;
            let mut e_theta = Vec::with_capacity(n);
            let mut e_tau = Vec::with_capacity(n);
            let mut e_mu = Vec::with_capacity(n);
            let mut expected = None;
            for i in 0..n as u64 {
                let echo = sense_echo(&m, &key(i, case as u64), &truth, &beams, 0)
                    .unwrap()
                    .unwrap();
                e_theta.push(wrap_angle(echo.angle_rad - site.angle_to(p)));
                e_tau.push(echo.errors.tau_s);
                e_mu.push(echo.errors.mu_hz);
                // The reported estimates carry exactly the drawn errors.
                assert!(
                    (echo.delay_s - 2.0 * d / SPEED_OF_LIGHT - echo.errors.tau_s).abs() < 1e-15
                );
                expected = Some(echo.variances);
            }
            // Variances recomputed from (16) independently of the crate's code path.
            let g = m.echo_gain(d);
            let sinr = g * 4.0 / (g * leak * leak + m.params().echo_noise_w);
            let v = expected.unwrap();
            assert!((v.get(ErrorComponent::Theta) - 0.01 / sinr).abs() <= 1e-9 * v.theta_rad2);
            // θ errors are small enough here that wrapping does not bias them.
            assert!(v.theta_rad2 < 0.1, "case {case}: σθ² = {}", v.theta_rad2);
            assert_variance(&e_theta, v.theta_rad2, "theta");
            assert_variance(&e_tau, v.tau_s2, "tau");
            assert_variance(&e_mu, v.mu_hz2, "mu");
        }
    }

    #[test]
    fn high_snr_without_interference_locates_precisely() {
        let mut params = paper_params();
        params.echo_noise_w = 1e-30;
        let m = model(params);
        let p = location_from_polar(&m.site(), 0.35, 80.0);
        let beams = vec![
            steering(m.tx_antennas(), 0.35)
                .iter()
                .map(|z| z * 2.0)
                .collect::<Vec<_>>(),
        ];
        let truth = TrueKinematics {
            position: p,
            velocity: Point::new(0.0, 20.0),
        };
        for epoch in 0..50 {
            let e = sense_echo(&m, &key(epoch, 3), &truth, &beams, 0)
                .unwrap()
                .unwrap();
            assert!(e.sinr > 1e6);
            assert!(
                e.position.distance(p) < 1e-2,
                "error {} m",
                e.position.distance(p)
            );
        }
        // With strong interference on the same angle the error is much larger.
        let mut interfered = beams.clone();
        interfered.push(beams[0].iter().map(|z| z * 30.0).collect());
        let err: f64 = (0..50)
            .map(|epoch| {
                sense_echo(&m, &key(epoch, 3), &truth, &interfered, 0)
                    .unwrap()
                    .unwrap()
                    .position
                    .distance(p)
            })
            .sum::<f64>()
            / 50.0;
        assert!(err > 1.0, "mean error {err} m");
    }

    #[test]
    fn keyed_draws_do_not_depend_on_call_order() {
        let m = model(paper_params());
        let beams: Vec<Vec<C64>> = [-0.4, 0.1, 0.6]
            .iter()
            .map(|&t| steering(m.tx_antennas(), t))
            .collect();
        let truths: Vec<TrueKinematics> = [-0.4, 0.1, 0.6]
            .iter()
            .map(|&t| TrueKinematics {
                position: location_from_polar(&m.site(), t, 60.0),
                velocity: Point::new(1.0, 2.0),
            })
            .collect();
        let forward: Vec<Echo> = (0..3)
            .map(|k| {
                sense_echo(&m, &key(5, k as u64), &truths[k], &beams, k)
                    .unwrap()
                    .unwrap()
            })
            .collect();
        let backward: Vec<Echo> = (0..3)
            .rev()
            .map(|k| {
                sense_echo(&m, &key(5, k as u64), &truths[k], &beams, k)
                    .unwrap()
                    .unwrap()
            })
            .collect();
        for k in 0..3 {
            assert_eq!(forward[k], backward[2 - k]);
        }
        // Different keys give different draws.
        let other = sense_echo(&m, &key(6, 0), &truths[0], &beams, 0)
            .unwrap()
            .unwrap();
        assert_ne!(other.errors, forward[0].errors);
    }
}
