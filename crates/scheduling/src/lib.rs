//! Per-cell user scheduling (SPEC §9): which of its own users a BS serves in
//! an epoch, from the intra-cell CSI of this epoch and the PF weights.
//!
//! Three schedulers behind one entry point, [`schedule`], selected by the
//! [`Scheduler`] enum:
//!
//! - [`Scheduler::Pfzfg`] — PF zero-forcing greedy, Algorithm 1 ([`pfzfg`]);
//! - [`Scheduler::Hungarian`] — users assigned to distinct DFT beams by the
//!   Hungarian algorithm, the paper's comparison ([`hungarian`]);
//! - [`Scheduler::AllUsers`] — "no scheduling": every user is served.
//!
//! Conventions: user k's channel `h_k` is a complex vector of Nt entries, the
//! user receives `h_kᴴ v` from a beam `v`; powers are in watts (linear), rates
//! in bit/s/Hz (log2). PF weights are `w_k = 1/R̂_k(n−1)`, built by
//! [`pf_weights`] with a documented floor on R̂.

pub mod hungarian;
pub mod pfzfg;

use std::time::Duration;

use num_complex::Complex;

pub use hungarian::{HungarianInfo, HungarianParams};
pub use pfzfg::{GramUpdate, PfzfgInfo, PfzfgParams, PfzfgStop, zf_objective};

/// Complex double (the same type as `sdusc_model::C64` and `faer::c64`).
pub type C64 = Complex<f64>;

/// Default floor on the average rate R̂ in [`pf_weights`], bit/s/Hz: caps a PF
/// weight at 1000.
pub const DEFAULT_RATE_FLOOR_BPS_HZ: f64 = 1e-3;

/// PF weights `w_k = 1 / max(R̂_k, floor)`.
///
/// Decision: R̂ = 0 is common in early epochs (40 users, at most 18 served),
/// and `1/0` would make every never-served user infinitely important. The
/// floor turns that into a large *finite* weight (1000 with the default
/// floor), equal for every never-served user, so among them the scheduler
/// maximises their ZF sum rate, and they still dominate users with R̂ > floor.
/// Non-finite or negative R̂ is treated as 0.
pub fn pf_weights(average_rates: &[f64], rate_floor: f64) -> Vec<f64> {
    let floor = if rate_floor.is_finite() && rate_floor > 0.0 {
        rate_floor
    } else {
        DEFAULT_RATE_FLOOR_BPS_HZ
    };
    average_rates
        .iter()
        .map(|&r| {
            let r = if r.is_finite() && r > 0.0 { r } else { 0.0 };
            1.0 / r.max(floor)
        })
        .collect()
}

/// Users that must be scheduled (Ks of Algorithm 1): those not served in any
/// of the last `ts − 1` epochs, i.e. whose count of consecutive most recent
/// unserved epochs `unserved_streak[k]` is at least `ts − 1`.
///
/// `ts = 0` disables forcing. (`ts = 1` forces every user; the cap in the
/// scheduler then decides.) Returned in ascending user order; the schedulers
/// apply their own cap order.
pub fn overdue_users(unserved_streak: &[u32], ts: u32) -> Vec<usize> {
    if ts == 0 {
        return Vec::new();
    }
    unserved_streak
        .iter()
        .enumerate()
        .filter(|&(_, &streak)| streak >= ts - 1)
        .map(|(k, _)| k)
        .collect()
}

/// Everything a BS hands a scheduler in one epoch.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleInput<'a> {
    /// Intra-cell channels of all users of the cell, `channels[k] = h_k` (Nt entries each).
    pub channels: &'a [Vec<C64>],
    /// PF weights `w_k ≥ 0`, one per user (see [`pf_weights`]).
    pub weights: &'a [f64],
    /// Users that must be served (Ks, see [`overdue_users`]); distinct indices.
    pub forced: &'a [usize],
    /// Transmit power budget P, W.
    pub power_w: f64,
    /// Noise power σc², W.
    pub noise_w: f64,
    /// |S|max, the most users served per epoch.
    pub max_scheduled: usize,
    /// Beam codebook, Nt×Nb with column b = w_b (only the Hungarian scheduler
    /// reads it; e.g. `sdusc_model::codebook::dft_codebook(nt, nb).view()`).
    pub codebook: Option<ndarray::ArrayView2<'a, C64>>,
}

/// Which scheduler to run, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scheduler {
    Pfzfg(PfzfgParams),
    Hungarian(HungarianParams),
    AllUsers,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::Pfzfg(PfzfgParams::default())
    }
}

/// The scheduled set of one BS in one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Served users. PFZFG: in selection order (forced users first, in cap
    /// order). Hungarian: ascending user index. All users: `0..K`.
    pub users: Vec<usize>,
    /// Hungarian only: the codebook beam assigned to `users[i]`.
    pub beams: Option<Vec<usize>>,
    /// The scheduler's own objective for the set: PFZFG the ZF-equal-power PF
    /// objective `Σ w_i log2(1 + SINR_i^ZF)`; Hungarian the assignment value
    /// `Σ w_k log2(1 + SNR_k,b)`; all users: none.
    pub objective: Option<f64>,
    pub info: ScheduleInfo,
}

/// Diagnostics of the scheduler that ran.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleInfo {
    Pfzfg(PfzfgInfo),
    Hungarian(HungarianInfo),
    AllUsers { elapsed: Duration },
}

/// Bad scheduler input. Messages say what was expected and what was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    #[error("channels have zero antennas (expected Nt ≥ 1)")]
    NoAntennas,
    #[error(
        "channel of user {user} has {found} entries, expected Nt = {expected} (the first user's length)"
    )]
    ChannelLength {
        user: usize,
        expected: usize,
        found: usize,
    },
    #[error("{what} has {found} entries, expected {expected} (one per user)")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{what}: expected {expected}, found {value}")]
    InvalidValue {
        what: String,
        value: f64,
        expected: &'static str,
    },
    #[error("forced user {user} does not exist (the cell has {users} users)")]
    ForcedOutOfRange { user: usize, users: usize },
    #[error("forced user {user} is listed twice")]
    ForcedDuplicate { user: usize },
    #[error("the Hungarian scheduler needs a codebook, none was given")]
    MissingCodebook,
    #[error("codebook has {found} rows, expected Nt = {expected}")]
    CodebookRows { expected: usize, found: usize },
}

/// Run `scheduler` on one cell's input.
pub fn schedule(
    scheduler: &Scheduler,
    input: &ScheduleInput<'_>,
) -> Result<Schedule, ScheduleError> {
    match scheduler {
        Scheduler::Pfzfg(params) => pfzfg::pfzfg(input, params),
        Scheduler::Hungarian(params) => hungarian::hungarian(input, params),
        Scheduler::AllUsers => all_users(input),
    }
}

/// "No scheduling": S = every user of the cell (SPEC §9).
pub fn all_users(input: &ScheduleInput<'_>) -> Result<Schedule, ScheduleError> {
    let start = std::time::Instant::now();
    validate(input)?;
    Ok(Schedule {
        users: (0..input.channels.len()).collect(),
        beams: None,
        objective: None,
        info: ScheduleInfo::AllUsers {
            elapsed: start.elapsed(),
        },
    })
}

/// Check dimensions and values; returns Nt (0 users is valid and returns 0
/// only if there are no channels).
pub(crate) fn validate(input: &ScheduleInput<'_>) -> Result<usize, ScheduleError> {
    let k = input.channels.len();
    let nt = input.channels.first().map_or(0, Vec::len);
    if k > 0 && nt == 0 {
        return Err(ScheduleError::NoAntennas);
    }
    for (user, h) in input.channels.iter().enumerate() {
        if h.len() != nt {
            return Err(ScheduleError::ChannelLength {
                user,
                expected: nt,
                found: h.len(),
            });
        }
        if let Some(z) = h.iter().find(|z| !z.re.is_finite() || !z.im.is_finite()) {
            let value = if z.re.is_finite() { z.im } else { z.re };
            return Err(ScheduleError::InvalidValue {
                what: format!("channel of user {user}"),
                value,
                expected: "finite entries",
            });
        }
    }
    if input.weights.len() != k {
        return Err(ScheduleError::LengthMismatch {
            what: "weights",
            expected: k,
            found: input.weights.len(),
        });
    }
    if let Some((i, &w)) = input
        .weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
    {
        return Err(ScheduleError::InvalidValue {
            what: format!("weight of user {i}"),
            value: w,
            expected: "a finite number ≥ 0",
        });
    }
    for (name, value) in [("power_w", input.power_w), ("noise_w", input.noise_w)] {
        if !(value.is_finite() && value > 0.0) {
            return Err(ScheduleError::InvalidValue {
                what: name.to_string(),
                value,
                expected: "a finite number > 0",
            });
        }
    }
    let mut seen = vec![false; k];
    for &user in input.forced {
        if user >= k {
            return Err(ScheduleError::ForcedOutOfRange { user, users: k });
        }
        if std::mem::replace(&mut seen[user], true) {
            return Err(ScheduleError::ForcedDuplicate { user });
        }
    }
    Ok(nt)
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::C64;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, StandardNormal};

    /// `k` i.i.d. CN(0, scale²·I) channels of `nt` antennas.
    pub fn gaussian_channels(rng: &mut StdRng, k: usize, nt: usize, scale: f64) -> Vec<Vec<C64>> {
        (0..k)
            .map(|_| {
                (0..nt)
                    .map(|_| {
                        let re: f64 = StandardNormal.sample(rng);
                        let im: f64 = StandardNormal.sample(rng);
                        C64::new(re, im) * (scale / 2f64.sqrt())
                    })
                    .collect()
            })
            .collect()
    }

    pub fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(
        channels: &'a [Vec<C64>],
        weights: &'a [f64],
        forced: &'a [usize],
    ) -> ScheduleInput<'a> {
        ScheduleInput {
            channels,
            weights,
            forced,
            power_w: 1.0,
            noise_w: 0.1,
            max_scheduled: 4,
            codebook: None,
        }
    }

    #[test]
    fn pf_weights_cap_zero_rates() {
        let w = pf_weights(&[0.0, 2.0, f64::NAN, 1e-6], 1e-3);
        assert_eq!(w, vec![1000.0, 0.5, 1000.0, 1000.0]);
    }

    #[test]
    fn overdue_users_follow_streak_rule() {
        assert_eq!(overdue_users(&[0, 1, 2, 5], 3), vec![2, 3]);
        assert!(overdue_users(&[9, 9], 0).is_empty());
        assert_eq!(overdue_users(&[0, 0], 1), vec![0, 1]);
    }

    #[test]
    fn all_users_serves_everyone() {
        let h = vec![vec![C64::new(1.0, 0.0); 2]; 5];
        let w = [1.0; 5];
        let s = schedule(&Scheduler::AllUsers, &input(&h, &w, &[])).unwrap();
        assert_eq!(s.users, vec![0, 1, 2, 3, 4]);
        assert!(s.objective.is_none());
    }

    #[test]
    fn bad_inputs_give_typed_errors() {
        let h = vec![vec![C64::new(1.0, 0.0); 2]; 3];
        let w = [1.0; 3];
        let s = Scheduler::default();
        let short = [1.0; 2];
        assert!(matches!(
            schedule(&s, &input(&h, &short, &[])),
            Err(ScheduleError::LengthMismatch { .. })
        ));
        assert!(matches!(
            schedule(&s, &input(&h, &w, &[3])),
            Err(ScheduleError::ForcedOutOfRange { .. })
        ));
        assert!(matches!(
            schedule(&s, &input(&h, &w, &[1, 1])),
            Err(ScheduleError::ForcedDuplicate { .. })
        ));
        let mut ragged = h.clone();
        ragged[2].push(C64::new(0.0, 0.0));
        assert!(matches!(
            schedule(&s, &input(&ragged, &w, &[])),
            Err(ScheduleError::ChannelLength { user: 2, .. })
        ));
        let mut nan = h.clone();
        nan[1][0].re = f64::NAN;
        let err = schedule(&s, &input(&nan, &w, &[])).unwrap_err();
        assert!(err.to_string().contains("user 1"), "{err}");
        let neg = [1.0, -1.0, 1.0];
        assert!(matches!(
            schedule(&s, &input(&h, &neg, &[])),
            Err(ScheduleError::InvalidValue { .. })
        ));
        let mut zero_noise = input(&h, &w, &[]);
        zero_noise.noise_w = 0.0;
        assert!(matches!(
            schedule(&s, &zero_noise),
            Err(ScheduleError::InvalidValue { .. })
        ));
        let hung = Scheduler::Hungarian(HungarianParams::default());
        assert!(matches!(
            schedule(&hung, &input(&h, &w, &[])),
            Err(ScheduleError::MissingCodebook)
        ));
    }
}
