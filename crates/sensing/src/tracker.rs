//! The per-BS tracker: each own user's last fix, a velocity estimate, and the
//! prediction of users without a fresh echo (SPEC §7 step 1, §8).
//!
//! A BS agent owns one [`Tracker`]. Every epoch it feeds the echoes of the
//! users it served with [`Tracker::update_from_echo`] and asks
//! [`Tracker::predict`] for the location of every user it needs (a user
//! sensed this epoch gets its fix back, age 0).
//!
//! # Velocity estimate (decision)
//!
//! An echo measures the radial speed well (Doppler; σ_v = c σ_μ/(2f_c)) but
//! says nothing about the tangential speed. The velocity is therefore formed
//! in the polar frame of the new fix, with u_r = u(θ̂) and u_t = u_r rotated
//! by +90°:
//!
//! ```text
//! v̂_r = radial speed from μ̂                       (clamped to ±v_max)
//! m_t = ((p̂_new − p̂_prev) / ((n − n_prev)·ΔT)) · u_t     (position differencing)
//! v̂_t = α·m_t + (1 − α)·(v̂_prev · u_t)              (α = velocity_smoothing)
//!        clamped to |v̂_t| ≤ sqrt(v_max² − v̂_r²)
//! v̂   = v̂_r·u_r + v̂_t·u_t
//! ```
//!
//! Differencing two noisy fixes has a tangential error of about
//! √2·d·σ_θ/(ΔT·gap), which is large at low sensing SINR; the smoothing and
//! the speed cap v_max (a known bound on user speed, e.g. twice the nominal
//! speed) keep it sane. On the first fix of a user v̂_t = 0 (only radial).
//!
//! # Fusion (decision)
//!
//! A fix is not taken at face value: with aτ = 6.7e−7 s the range error is
//! c·σ_τ/2 ≈ 100 m/√SINR, so a weak echo would throw the location far off.
//! The position is a 2-D Kalman filter: the prior is the previous fix moved
//! along the velocity estimate, its covariance grown by (v_max ΔT)² per
//! epoch; the measurement covariance is diag((c σ_τ/2)², (d̂ σ_θ)²) in the
//! echo's radial/tangential frame, from the variances the radar reports with
//! the detection (it measures the echo SINR). The tangential speed below is
//! differenced from the fused positions.
//!
//! # Prediction (decision)
//!
//! ```text
//! p̂(n) = p̂(n_fix) + v̂ · ΔT · min(n − n_fix, max_prediction_epochs)
//! ```
//!
//! then pushed radially out to at least `min_range_m` from the BS. The
//! horizon cap stops a stale, wrong velocity from walking a user out of any
//! sensible region; the speed cap bounds the step. `epoch` arguments are
//! the epochs whose (true) position a fix describes; the caller keeps them
//! causal.

use sdusc_model::geometry::{BsSite, Point};
use sdusc_model::scenario::SPEED_OF_LIGHT;

use crate::estimate::Echo;
use crate::{SensingError, check_finite, check_point};

/// Parameters of a [`Tracker`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerParams {
    /// v_max, a bound on user speed, m/s (e.g. twice the scenario speed).
    pub max_speed_mps: f64,
    /// α ∈ (0, 1], weight of the newest tangential-speed measurement.
    pub velocity_smoothing: f64,
    /// The most epochs a fix is extrapolated; beyond, the position is held.
    pub max_prediction_epochs: u64,
    /// Predicted locations are kept at least this far from the BS, m.
    pub min_range_m: f64,
}

impl Default for TrackerParams {
    fn default() -> Self {
        Self {
            max_speed_mps: 40.0,
            velocity_smoothing: 0.5,
            max_prediction_epochs: 5,
            min_range_m: 1.0,
        }
    }
}

/// A user's last fix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackState {
    pub position: Point,
    /// m/s.
    pub velocity: Point,
    /// The epoch the fix describes.
    pub epoch: u64,
    /// Covariance of `position`, m²: [xx, xy, yy].
    pub covariance: [f64; 3],
}

/// The tracker's belief about a user at a requested epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub position: Point,
    /// m/s.
    pub velocity: Point,
    /// Epochs since the fix (0: sensed at this epoch).
    pub age_epochs: u64,
    /// Epochs actually extrapolated: min(age, max_prediction_epochs).
    pub extrapolated_epochs: u64,
}

/// One BS's tracks of its own users (indexed 0..num_users within the cell).
#[derive(Debug, Clone, PartialEq)]
pub struct Tracker {
    site: BsSite,
    epoch_s: f64,
    params: TrackerParams,
    states: Vec<Option<TrackState>>,
}

impl Tracker {
    /// An empty tracker for `num_users` users of the BS at `site`, epochs of
    /// `epoch_s` seconds.
    pub fn new(
        site: BsSite,
        num_users: usize,
        epoch_s: f64,
        params: TrackerParams,
    ) -> Result<Self, SensingError> {
        check_point("site.position", site.position)?;
        check_finite(|| "site.broadside_rad".into(), site.broadside_rad)?;
        let invalid = |what: &str, value: f64, expected| SensingError::InvalidValue {
            what: what.into(),
            value,
            expected,
        };
        if !(epoch_s.is_finite() && epoch_s > 0.0) {
            return Err(invalid("epoch_s", epoch_s, "a finite number > 0"));
        }
        if !(params.max_speed_mps.is_finite() && params.max_speed_mps > 0.0) {
            return Err(invalid(
                "TrackerParams::max_speed_mps",
                params.max_speed_mps,
                "a finite number > 0",
            ));
        }
        if !(params.velocity_smoothing > 0.0 && params.velocity_smoothing <= 1.0) {
            return Err(invalid(
                "TrackerParams::velocity_smoothing",
                params.velocity_smoothing,
                "a number in (0, 1]",
            ));
        }
        if !(params.min_range_m.is_finite() && params.min_range_m >= 0.0) {
            return Err(invalid(
                "TrackerParams::min_range_m",
                params.min_range_m,
                "a finite number ≥ 0",
            ));
        }
        Ok(Self {
            site,
            epoch_s,
            params,
            states: vec![None; num_users],
        })
    }

    pub fn num_users(&self) -> usize {
        self.states.len()
    }

    pub fn params(&self) -> &TrackerParams {
        &self.params
    }

    /// The last fix of `user`, if any.
    pub fn state(&self, user: usize) -> Option<&TrackState> {
        self.states.get(user).and_then(Option::as_ref)
    }

    fn slot(&self, user: usize) -> Result<Option<&TrackState>, SensingError> {
        self.states
            .get(user)
            .map(Option::as_ref)
            .ok_or(SensingError::UnknownUser {
                user,
                users: self.states.len(),
            })
    }

    /// Set a fix directly (initial access before any echo); the velocity is
    /// clamped to the speed bound.
    pub fn initialise(
        &mut self,
        user: usize,
        position: Point,
        velocity: Point,
        epoch: u64,
    ) -> Result<(), SensingError> {
        self.slot(user)?;
        check_point("position", position)?;
        check_point("velocity", velocity)?;
        let speed = velocity.norm();
        let velocity = if speed > self.params.max_speed_mps {
            velocity.scale(self.params.max_speed_mps / speed)
        } else {
            velocity
        };
        let step = self.params.max_speed_mps * self.epoch_s;
        self.states[user] = Some(TrackState {
            position,
            velocity,
            epoch,
            covariance: [step * step, 0.0, step * step],
        });
        Ok(())
    }

    /// Record a fresh echo of `user` describing epoch `epoch` (see the module
    /// docs for the velocity estimate).
    pub fn update_from_echo(
        &mut self,
        user: usize,
        echo: &Echo,
        epoch: u64,
    ) -> Result<(), SensingError> {
        let previous = self.slot(user)?.copied();
        check_point("echo.position", echo.position)?;
        check_finite(|| "echo.angle_rad".into(), echo.angle_rad)?;
        check_finite(|| "echo.radial_speed_mps".into(), echo.radial_speed_mps)?;
        if let Some(prev) = previous
            && epoch < prev.epoch
        {
            return Err(SensingError::EpochInPast {
                user,
                requested: epoch,
                last: prev.epoch,
            });
        }
        let v_max = self.params.max_speed_mps;
        let u_r = self.site.direction(echo.angle_rad);
        let u_t = Point::new(-u_r.y, u_r.x);
        // STEP 1: fuse the fix with the prediction (inverse-variance / Kalman).
        let (position, covariance) = self.fuse(previous, echo, epoch, u_r, u_t);
        let v_r = echo.radial_speed_mps.clamp(-v_max, v_max);
        // STEP 2: velocity — radial from Doppler, tangential from fused fixes.
        let v_t = match previous {
            Some(prev) if prev.epoch < epoch => {
                let dt = (epoch - prev.epoch) as f64 * self.epoch_s;
                let measured = position.sub(prev.position).scale(1.0 / dt).dot(u_t);
                let alpha = self.params.velocity_smoothing;
                alpha * measured + (1.0 - alpha) * prev.velocity.dot(u_t)
            }
            // A second fix in the same epoch: keep the previous tangential estimate.
            Some(prev) => prev.velocity.dot(u_t),
            None => 0.0,
        };
        let v_t_max = (v_max * v_max - v_r * v_r).max(0.0).sqrt();
        let v_t = v_t.clamp(-v_t_max, v_t_max);
        let velocity = u_r.scale(v_r).add(u_t.scale(v_t));
        self.states[user] = Some(TrackState {
            position,
            velocity,
            epoch,
            covariance,
        });
        Ok(())
    }

    /// Kalman update of the position: prior = previous fix moved along its
    /// velocity, covariance grown by (v_max ΔT)² per epoch; measurement = the
    /// echo's location with covariance diag((c σ_τ/2)², (d̂ σ_θ)²) in the
    /// echo's (radial, tangential) frame. The variances are the ones the radar
    /// reports with its detection (it measures the echo SINR).
    fn fuse(
        &self,
        previous: Option<TrackState>,
        echo: &Echo,
        epoch: u64,
        u_r: Point,
        u_t: Point,
    ) -> (Point, [f64; 3]) {
        let var_r = (SPEED_OF_LIGHT / 2.0).powi(2) * echo.variances.tau_s2;
        let var_t = echo.range_m.powi(2) * echo.variances.theta_rad2;
        // R = var_r u_r u_rᵀ + var_t u_t u_tᵀ
        let r = [
            var_r * u_r.x * u_r.x + var_t * u_t.x * u_t.x,
            var_r * u_r.x * u_r.y + var_t * u_t.x * u_t.y,
            var_r * u_r.y * u_r.y + var_t * u_t.y * u_t.y,
        ];
        let usable = r.iter().all(|x| x.is_finite()) && var_r >= 0.0 && var_t >= 0.0;
        let Some(prev) = previous.filter(|p| p.epoch <= epoch) else {
            return (echo.position, if usable { r } else { [1e12, 0.0, 1e12] });
        };
        let ages = (epoch - prev.epoch) as f64;
        let step = self.params.max_speed_mps * self.epoch_s;
        let q = step * step * ages.max(1.0);
        let prior = prev.position.add(prev.velocity.scale(ages * self.epoch_s));
        let p = [
            prev.covariance[0] + q,
            prev.covariance[1],
            prev.covariance[2] + q,
        ];
        if !usable {
            return (prior, p);
        }
        // S = P + R; K = P S⁻¹.
        let s = [p[0] + r[0], p[1] + r[1], p[2] + r[2]];
        let det = s[0] * s[2] - s[1] * s[1];
        if !(det.is_finite() && det > 0.0) {
            return (echo.position, r);
        }
        let si = [s[2] / det, -s[1] / det, s[0] / det];
        let k = [
            p[0] * si[0] + p[1] * si[1],
            p[0] * si[1] + p[1] * si[2],
            p[1] * si[0] + p[2] * si[1],
            p[1] * si[1] + p[2] * si[2],
        ]; // row-major 2×2
        let innov = echo.position.sub(prior);
        let position = Point::new(
            prior.x + k[0] * innov.x + k[1] * innov.y,
            prior.y + k[2] * innov.x + k[3] * innov.y,
        );
        // P⁺ = (I − K) P
        let cov = [
            (1.0 - k[0]) * p[0] - k[1] * p[1],
            (1.0 - k[0]) * p[1] - k[1] * p[2],
            -k[2] * p[1] + (1.0 - k[3]) * p[2],
        ];
        (position, cov)
    }

    /// The predicted location of `user` at `epoch` (see the module docs).
    pub fn predict(&self, user: usize, epoch: u64) -> Result<Prediction, SensingError> {
        let state = self.slot(user)?.ok_or(SensingError::NoEstimate { user })?;
        if epoch < state.epoch {
            return Err(SensingError::EpochInPast {
                user,
                requested: epoch,
                last: state.epoch,
            });
        }
        let age_epochs = epoch - state.epoch;
        let extrapolated_epochs = age_epochs.min(self.params.max_prediction_epochs);
        let moved = state.position.add(
            state
                .velocity
                .scale(extrapolated_epochs as f64 * self.epoch_s),
        );
        Ok(Prediction {
            position: self.keep_off_site(moved),
            velocity: state.velocity,
            age_epochs,
            extrapolated_epochs,
        })
    }

    /// Predictions of every user at `epoch` (`None`: no fix yet).
    pub fn predict_all(&self, epoch: u64) -> Vec<Option<Prediction>> {
        (0..self.states.len())
            .map(|u| self.predict(u, epoch).ok())
            .collect()
    }

    fn keep_off_site(&self, p: Point) -> Point {
        let offset = p.sub(self.site.position);
        let r = offset.norm();
        if r >= self.params.min_range_m {
            return p;
        }
        let dir = if r > 0.0 {
            offset.scale(1.0 / r)
        } else {
            self.site.direction(0.0)
        };
        self.site.position.add(dir.scale(self.params.min_range_m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::{EchoErrors, TrueKinematics, echo_from_errors};
    use crate::test_util::{model, paper_params};

    const DT: f64 = 0.02;

    fn exact_echo(truth: TrueKinematics) -> Echo {
        let m = model(paper_params());
        let zero = EchoErrors {
            theta_rad: 0.0,
            tau_s: 0.0,
            mu_hz: 0.0,
        };
        echo_from_errors(&m, &truth, 1e12, m.variances(1e12), zero)
    }

    fn tracker(users: usize) -> Tracker {
        Tracker::new(
            model(paper_params()).site(),
            users,
            DT,
            TrackerParams {
                velocity_smoothing: 1.0,
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn exact_echoes_recover_velocity_and_predict_along_it() {
        let mut t = tracker(1);
        let v = Point::new(-12.0, 16.0); // 20 m/s
        let p0 = Point::new(60.0, 40.0);
        let at = |n: u64| TrueKinematics {
            position: p0.add(v.scale(n as f64 * DT)),
            velocity: v,
        };
        t.update_from_echo(0, &exact_echo(at(0)), 0).unwrap();
        // First fix: only the radial part is known.
        let first = t.state(0).unwrap().velocity;
        let u_r = p0.sub(model(paper_params()).site().position);
        let u_r = u_r.scale(1.0 / u_r.norm());
        assert!((first.dot(u_r) - v.dot(u_r)).abs() < 1e-9);
        assert!((first.norm() - v.dot(u_r).abs()).abs() < 1e-9);
        // Second fix two epochs later: full velocity.
        t.update_from_echo(0, &exact_echo(at(2)), 2).unwrap();
        let est = t.state(0).unwrap().velocity;
        assert!(est.distance(v) < 1e-6, "{est:?}");
        // Prediction moves along the velocity, exactly for straight motion.
        for n in 2..=7 {
            let p = t.predict(0, n).unwrap();
            assert_eq!(p.age_epochs, n - 2);
            assert!(p.position.distance(at(n).position) < 1e-6, "epoch {n}");
        }
        // Beyond the horizon (5 epochs) the position is held.
        let far = t.predict(0, 20).unwrap();
        assert_eq!(far.extrapolated_epochs, 5);
        assert!(far.position.distance(at(7).position) < 1e-6);
    }

    #[test]
    fn fusion_beats_raw_fixes_when_echoes_are_noisy() {
        use crate::estimate::{EchoKey, draw_errors};
        let m = model(paper_params());
        let mut t = tracker(1);
        let truth = TrueKinematics {
            position: Point::new(70.0, 30.0),
            velocity: Point::new(0.0, 0.0),
        };
        // A precise first fix, then 30 noisy ones (SINR 1e3: σ_range ≈ 3 m).
        t.update_from_echo(0, &exact_echo(truth), 0).unwrap();
        let (mut raw, mut fused) = (0.0, 0.0);
        for n in 1..=30u64 {
            let key = EchoKey {
                seed: 1,
                drop: 0,
                epoch: n,
                bs: 0,
                user: 0,
            };
            let v = m.variances(1e3);
            let echo = echo_from_errors(&m, &truth, 1e3, v, draw_errors(&key, &v));
            t.update_from_echo(0, &echo, n).unwrap();
            raw += echo.position.distance(truth.position);
            fused += t.state(0).unwrap().position.distance(truth.position);
        }
        assert!(fused < 0.7 * raw, "fused {fused} vs raw {raw}");
    }

    #[test]
    fn speed_is_clamped_and_predictions_stay_off_the_site() {
        let site = model(paper_params()).site();
        let params = TrackerParams {
            max_speed_mps: 30.0,
            velocity_smoothing: 1.0,
            max_prediction_epochs: 100,
            min_range_m: 2.0,
        };
        let mut t = Tracker::new(site, 2, DT, params).unwrap();
        // A 10 m jump in one epoch would be 500 m/s.
        let p = site.position.add(site.direction(0.2).scale(50.0));
        let q = site.position.add(site.direction(0.4).scale(50.0));
        t.update_from_echo(
            0,
            &exact_echo(TrueKinematics {
                position: p,
                velocity: Point::new(0.0, 0.0),
            }),
            0,
        )
        .unwrap();
        t.update_from_echo(
            0,
            &exact_echo(TrueKinematics {
                position: q,
                velocity: Point::new(0.0, 0.0),
            }),
            1,
        )
        .unwrap();
        assert!(t.state(0).unwrap().velocity.norm() <= 30.0 + 1e-9);
        // Heading straight at the BS: the prediction stops at min_range.
        let towards = site.position.sub(p).scale(1.0 / 50.0 * 25.0);
        t.initialise(1, p, towards, 0).unwrap();
        let pred = t.predict(1, 100).unwrap();
        assert!(
            (pred.position.distance(site.position) - 2.0).abs() < 1e-9,
            "{pred:?}"
        );
    }

    #[test]
    fn errors_for_unknown_users_missing_fixes_and_the_past() {
        let mut t = tracker(2);
        assert_eq!(
            t.predict(5, 0),
            Err(SensingError::UnknownUser { user: 5, users: 2 })
        );
        assert_eq!(t.predict(1, 0), Err(SensingError::NoEstimate { user: 1 }));
        t.initialise(1, Point::new(50.0, 0.0), Point::new(0.0, 0.0), 4)
            .unwrap();
        assert!(matches!(
            t.predict(1, 3),
            Err(SensingError::EpochInPast { .. })
        ));
        let e = exact_echo(TrueKinematics {
            position: Point::new(60.0, 0.0),
            velocity: Point::new(0.0, 0.0),
        });
        assert!(matches!(
            t.update_from_echo(1, &e, 2),
            Err(SensingError::EpochInPast { .. })
        ));
        assert!(
            t.initialise(0, Point::new(f64::NAN, 0.0), Point::new(0.0, 0.0), 0)
                .is_err()
        );
        assert_eq!(t.predict_all(4).iter().filter(|p| p.is_some()).count(), 1);
        let bad = TrackerParams {
            velocity_smoothing: 0.0,
            ..Default::default()
        };
        assert!(Tracker::new(model(paper_params()).site(), 1, DT, bad).is_err());
    }
}
