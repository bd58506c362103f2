//! Hungarian scheduling — the paper's comparison scheduler ("SD-USCB
//! (Hungarian)"), whose details the paper leaves open; SPEC §9 decision.
//!
//! Assign at most s = min(|S|max, K, Nb) users to distinct beams of the
//! codebook W = [w_1 … w_Nb] (Nt×Nb), maximising
//!
//! ```text
//! Σ_{(k,b) assigned} w_k · log2(1 + SNR_k,b),     SNR_k,b = (P/|S|max) · |h_kᴴ w_b|² / σc²
//! ```
//!
//! (equal power P/|S|max per beam, noise only). The assigned users form S.
//!
//! # Reduction to a rectangular assignment
//!
//! `pathfinding::kuhn_munkres` finds a maximum-weight assignment of *every*
//! row to a distinct column and needs rows ≤ columns. A cardinality cap is
//! expressed with padding:
//!
//! ```text
//! rows    = K users  +  (Nb − s) blockers
//! columns = Nb beams +  K "unserved" slots
//! user  × beam  = value,   user  × unserved = 0
//! blocker × beam = 0,      blocker × unserved = −BIG  (never chosen)
//! ```
//!
//! The blockers occupy Nb − s beams, so at most s users get a beam; rows ≤
//! columns always holds, whatever K and Nb.
//!
//! # Decisions
//!
//! - **Integer weights**: values are scaled to integers with resolution
//!   `v_max · 2⁻⁴⁰` (v_max the largest entry; coarser only for huge problems,
//!   so that every padded total fits in i64 — reported in
//!   [`HungarianInfo::resolution`]), so the returned assignment is optimal to
//!   within s·resolution — far below any meaningful rate difference. The
//!   reported objective is recomputed in f64.
//! - **Forced users** (if [`HungarianParams::honour_forced`]): every positive
//!   entry of a forced user gets a bonus larger than any total of unforced
//!   values, so forced users are served first (at most s of them, chosen by
//!   value) and the rest of the assignment is optimal given them.
//! - Users assigned with zero value (zero weight or zero gain on the beam)
//!   are dropped from S.

use std::time::{Duration, Instant};

use pathfinding::kuhn_munkres::{Weights, kuhn_munkres};

use crate::{Schedule, ScheduleError, ScheduleInfo, ScheduleInput, validate};

/// Parameters of [`hungarian`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HungarianParams {
    /// Serve the forced users Ks first (see the module docs).
    pub honour_forced: bool,
}

impl Default for HungarianParams {
    fn default() -> Self {
        Self {
            honour_forced: true,
        }
    }
}

/// Diagnostics of one [`hungarian`] run.
#[derive(Debug, Clone, PartialEq)]
pub struct HungarianInfo {
    /// s = min(|S|max, K, Nb), the most users that could be assigned.
    pub slots: usize,
    /// Users matched to a beam with zero value, dropped from S.
    pub dropped_zero_value: usize,
    /// Objective units per integer weight step.
    pub resolution: f64,
    pub elapsed: Duration,
}

/// Integer weights scale: the largest value maps to 2⁴⁰.
const SCALE: f64 = (1u64 << 40) as f64;

/// The padded assignment matrix of the module docs.
#[derive(Debug)]
struct Padded {
    users: usize,
    beams: usize,
    blockers: usize,
    /// users × beams, integer values (bonus included).
    values: Vec<i64>,
    big: i64,
}

impl Weights<i64> for Padded {
    fn rows(&self) -> usize {
        self.users + self.blockers
    }

    fn columns(&self) -> usize {
        self.beams + self.users
    }

    fn at(&self, row: usize, col: usize) -> i64 {
        match (row < self.users, col < self.beams) {
            (true, true) => self.values[row * self.beams + col],
            (true, false) | (false, true) => 0,
            (false, false) => -self.big,
        }
    }

    fn neg(&self) -> Self {
        Self {
            values: self.values.iter().map(|v| -v).collect(),
            big: -self.big,
            ..*self
        }
    }
}

/// Hungarian user–beam assignment (see the module docs).
pub fn hungarian(
    input: &ScheduleInput<'_>,
    params: &HungarianParams,
) -> Result<Schedule, ScheduleError> {
    let start = Instant::now();
    let nt = validate(input)?;
    let codebook = input.codebook.ok_or(ScheduleError::MissingCodebook)?;
    if codebook.nrows() != nt && !input.channels.is_empty() {
        return Err(ScheduleError::CodebookRows {
            expected: nt,
            found: codebook.nrows(),
        });
    }
    if let Some(z) = codebook
        .iter()
        .find(|z| !z.re.is_finite() || !z.im.is_finite())
    {
        let value = if z.re.is_finite() { z.im } else { z.re };
        return Err(ScheduleError::InvalidValue {
            what: "codebook".into(),
            value,
            expected: "finite entries",
        });
    }
    let (k_users, nb) = (input.channels.len(), codebook.ncols());
    let slots = input.max_scheduled.min(k_users).min(nb);
    let empty = |resolution| Schedule {
        users: Vec::new(),
        beams: Some(Vec::new()),
        objective: Some(0.0),
        info: ScheduleInfo::Hungarian(HungarianInfo {
            slots,
            dropped_zero_value: 0,
            resolution,
            elapsed: start.elapsed(),
        }),
    };
    if slots == 0 {
        return Ok(empty(0.0));
    }

    // STEP 1: values w_k log2(1 + (P/|S|max)|h_kᴴ w_b|²/σc²).
    let snr = input.power_w / input.max_scheduled as f64 / input.noise_w;
    let mut values = vec![0.0; k_users * nb];
    for (k, h) in input.channels.iter().enumerate() {
        for b in 0..nb {
            let gain: f64 = h
                .iter()
                .zip(codebook.column(b))
                .map(|(h, w)| h.conj() * w)
                .sum::<crate::C64>()
                .norm_sqr();
            values[k * nb + b] = input.weights[k] * (1.0 + snr * gain).log2();
        }
    }
    let v_max = values.iter().copied().fold(0.0, f64::max);
    if !(v_max > 0.0 && v_max.is_finite()) {
        return Ok(empty(0.0));
    }

    // STEP 2: integer weights, forced bonus, padding. The largest value maps
    // to `scale`; totals stay below rows·(slots + 2)·scale ≤ 2⁶¹.
    let rows = k_users + nb - slots;
    let scale = SCALE
        .min((2f64.powi(61) / (rows as f64 * (slots as f64 + 2.0))).floor())
        .max(1.0);
    let unit = scale / v_max;
    let bonus = if params.honour_forced && !input.forced.is_empty() {
        (slots as i64 + 1) * scale as i64
    } else {
        0
    };
    let mut forced = vec![false; k_users];
    input.forced.iter().for_each(|&k| forced[k] = true);
    let int_values: Vec<i64> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let q = (v * unit).round() as i64;
            if q > 0 && forced[i / nb] {
                q + bonus
            } else {
                q
            }
        })
        .collect();
    let big = 1 + rows as i64 * (scale as i64 + bonus);
    let padded = Padded {
        users: k_users,
        beams: nb,
        blockers: nb - slots,
        values: int_values,
        big,
    };

    // STEP 3: assignment; keep users matched to a beam with positive value.
    let (_, assignment) = kuhn_munkres(&padded);
    let mut users = Vec::new();
    let mut beams = Vec::new();
    let mut objective = 0.0;
    let mut dropped = 0;
    for (k, &col) in assignment.iter().take(k_users).enumerate() {
        if col < nb {
            let v = values[k * nb + col];
            if v > 0.0 {
                users.push(k);
                beams.push(col);
                objective += v;
            } else {
                dropped += 1;
            }
        }
    }
    Ok(Schedule {
        users,
        beams: Some(beams),
        objective: Some(objective),
        info: ScheduleInfo::Hungarian(HungarianInfo {
            slots,
            dropped_zero_value: dropped,
            resolution: 1.0 / unit,
            elapsed: start.elapsed(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{gaussian_channels, rng};
    use crate::{C64, Scheduler, schedule};
    use ndarray::Array2;

    /// Oversampled DFT codebook (as in sdusc-model), columns unit norm.
    fn dft(nt: usize, nb: usize) -> Array2<C64> {
        Array2::from_shape_fn((nt, nb), |(n, b)| {
            let s = -1.0 + (2 * b + 1) as f64 / nb as f64;
            C64::from_polar(
                1.0 / (nt as f64).sqrt(),
                std::f64::consts::PI * s * n as f64,
            )
        })
    }

    /// Best total value over all assignments of ≤ `s` users to distinct beams.
    fn exhaustive(
        values: &[Vec<f64>],
        s: usize,
        user: usize,
        used: &mut Vec<bool>,
        count: usize,
    ) -> f64 {
        if user == values.len() {
            return 0.0;
        }
        let mut best = exhaustive(values, s, user + 1, used, count);
        if count < s {
            for b in 0..used.len() {
                if !used[b] {
                    used[b] = true;
                    best = best
                        .max(values[user][b] + exhaustive(values, s, user + 1, used, count + 1));
                    used[b] = false;
                }
            }
        }
        best
    }

    fn run(h: &[Vec<C64>], w: &[f64], forced: &[usize], max: usize, cb: &Array2<C64>) -> Schedule {
        let input = ScheduleInput {
            channels: h,
            weights: w,
            forced,
            power_w: 1.0,
            noise_w: 0.1,
            max_scheduled: max,
            codebook: Some(cb.view()),
        };
        schedule(&Scheduler::Hungarian(HungarianParams::default()), &input).unwrap()
    }

    #[test]
    fn matches_exhaustive_assignment() {
        // Sweep more users than beams, fewer, and caps below both.
        for (seed, k_users, nb, max) in [
            (1, 5, 3, 3),
            (2, 3, 6, 2),
            (3, 6, 6, 4),
            (4, 4, 8, 6),
            (5, 7, 4, 2),
            (6, 1, 5, 3),
            (7, 6, 2, 5),
        ] {
            let nt = 4;
            let h = gaussian_channels(&mut rng(seed), k_users, nt, 1.0);
            let w: Vec<f64> = (0..k_users)
                .map(|k| 0.5 + (k as f64 * 1.3).cos().abs())
                .collect();
            let cb = dft(nt, nb);
            let s = run(&h, &w, &[], max, &cb);
            let snr = 1.0 / max as f64 / 0.1;
            let values: Vec<Vec<f64>> = h
                .iter()
                .zip(&w)
                .map(|(hk, wk)| {
                    (0..nb)
                        .map(|b| {
                            let g: C64 =
                                hk.iter().zip(cb.column(b)).map(|(x, y)| x.conj() * y).sum();
                            wk * (1.0 + snr * g.norm_sqr()).log2()
                        })
                        .collect()
                })
                .collect();
            let best = exhaustive(&values, max.min(nb), 0, &mut vec![false; nb], 0);
            let f = s.objective.unwrap();
            assert!(
                (f - best).abs() <= 1e-9 * best,
                "seed {seed}: {f} vs {best}"
            );
            let beams = s.beams.unwrap();
            assert_eq!(beams.len(), s.users.len());
            assert!(s.users.len() <= max.min(nb).min(k_users));
            let distinct: std::collections::BTreeSet<_> = beams.iter().collect();
            assert_eq!(distinct.len(), beams.len());
            let recomputed: f64 = s
                .users
                .iter()
                .zip(&beams)
                .map(|(&k, &b)| values[k][b])
                .sum();
            assert!((recomputed - f).abs() < 1e-12 * f);
        }
    }

    #[test]
    fn zero_value_users_are_dropped_and_forced_users_served() {
        let nt = 4;
        let mut h = gaussian_channels(&mut rng(11), 6, nt, 1.0);
        h[2] = vec![C64::new(0.0, 0.0); nt];
        let mut w = vec![1.0; 6];
        w[4] = 0.0;
        let cb = dft(nt, 8);
        let s = run(&h, &w, &[], 8, &cb);
        assert!(
            !s.users.contains(&2) && !s.users.contains(&4),
            "{:?}",
            s.users
        );
        assert_eq!(s.users.len(), 4);
        // A forced user with a tiny weight is served even when it costs value.
        let mut w = vec![1.0; 6];
        w[5] = 1e-6;
        let s = run(&h, &w, &[5], 2, &cb);
        assert!(s.users.contains(&5), "{:?}", s.users);
        assert_eq!(s.users.len(), 2);
    }

    #[test]
    fn paper_size_assignment_is_valid() {
        // 40 users, Nt = 32, Nb = 64, |S|max = 18, with forced users.
        let (k_users, nt, nb, max) = (40, 32, 64, 18);
        let h = gaussian_channels(&mut rng(13), k_users, nt, 1e-4);
        let w: Vec<f64> = (0..k_users).map(|k| 0.5 + (k as f64).sin().abs()).collect();
        let cb = dft(nt, nb);
        let forced = [3, 17, 29];
        let input = ScheduleInput {
            channels: &h,
            weights: &w,
            forced: &forced,
            power_w: 4.0,
            noise_w: 1e-9,
            max_scheduled: max,
            codebook: Some(cb.view()),
        };
        let s = hungarian(&input, &HungarianParams::default()).unwrap();
        assert_eq!(s.users.len(), max);
        assert!(forced.iter().all(|k| s.users.contains(k)));
        let beams = s.beams.unwrap();
        let distinct: std::collections::BTreeSet<_> = beams.iter().collect();
        assert_eq!(distinct.len(), max);
        let ScheduleInfo::Hungarian(info) = s.info else {
            panic!("wrong info")
        };
        assert!(info.resolution <= s.objective.unwrap() * 1e-9);
    }

    #[test]
    fn codebook_shape_is_checked() {
        let h = gaussian_channels(&mut rng(12), 3, 4, 1.0);
        let cb = dft(5, 8);
        let input = ScheduleInput {
            channels: &h,
            weights: &[1.0; 3],
            forced: &[],
            power_w: 1.0,
            noise_w: 0.1,
            max_scheduled: 2,
            codebook: Some(cb.view()),
        };
        let err = hungarian(&input, &HungarianParams::default()).unwrap_err();
        assert_eq!(
            err,
            ScheduleError::CodebookRows {
                expected: 4,
                found: 5
            }
        );
    }
}
