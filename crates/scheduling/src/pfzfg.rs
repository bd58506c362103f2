//! PF zero-forcing greedy scheduling — Algorithm 1 of the paper, SPEC §9.
//!
//! Start from the forced set Ks, then repeatedly add the user k that most
//! increases the PF objective of zero-forcing with equal power over S ∪ {k};
//! stop when no user increases it, |S| reaches |S|max, or |S| = Nt.
//!
//! # The ZF objective
//!
//! Let H (|S|×Nt) have rows h_iᴴ, so the Gram matrix is A = H Hᴴ with
//! A_ij = h_iᴴ h_j. The ZF directions are the columns g_i of Hᴴ A⁻¹ (they
//! satisfy h_jᴴ g_i = δ_ij). Decision: each user gets a *unit-norm* ZF
//! direction u_i = g_i/‖g_i‖ with equal power P/|S|, v_i = sqrt(P/|S|)·u_i, so
//! the power budget is met with equality. Since ‖g_i‖² = [A⁻¹]_ii and
//! |h_iᴴ u_i|² = 1/‖g_i‖²:
//!
//! ```text
//! SINR_i^ZF = (P/|S|) / (σc² · [A⁻¹]_ii)         (no intra-cell interference, noise only)
//! f(S)      = Σ_{i∈S} w_i · log2(1 + SINR_i^ZF)
//! ```
//!
//! # Rank-one (bordering) updates
//!
//! Adding user k borders A with b = (h_iᴴ h_k)_{i∈S} and c = ‖h_k‖². With
//! x_k = A⁻¹ b and the Schur complement s_k = c − bᴴ A⁻¹ b:
//!
//! ```text
//! [A'⁻¹]_ii = [A⁻¹]_ii + |x_k,i|² / s_k    (i ∈ S)
//! [A'⁻¹]_kk = 1 / s_k
//! ```
//!
//! so a candidate's objective costs O(|S|) once x_k and s_k are known. Both
//! are maintained for every remaining user as S grows, in O(Nt + |S|) per
//! user per step: s_k is the squared norm of the residual e_k of h_k after
//! projection onto span{h_i : i ∈ S}, kept by modified Gram–Schmidt (s_k is
//! computed as ‖e_k‖², not as c − bᴴx, which would cancel catastrophically
//! for nearly dependent channels). When user s joins with q = e_s/√s_s and
//! γ_k = qᴴ e_k:
//!
//! ```text
//! e_k ← e_k − q γ_k,     x_k ← [x_k − x_s · γ_k/√s_s ;  γ_k/√s_s]
//! ```
//!
//! (This is the QR form of the same update: with Hᴴ = QR, x_k = R⁻¹Qᴴh_k.)
//! A step therefore costs O(K·(Nt + |S|)) instead of the O(K·(|S|²Nt + |S|³))
//! of forming and inverting A for every candidate ([`GramUpdate::FromScratch`],
//! kept as the reference for tests and the benchmark).
//!
//! # Decisions
//!
//! - **Feasibility**: user k may join only if s_k > `min_residual_ratio`·‖h_k‖²
//!   (so a user with a zero channel, or one in the span of S, is never
//!   picked; ZF could not serve it).
//! - **Forced users** (Ks): capped at min(|S|max, Nt); when there are more,
//!   those with the largest PF weight go first (ties: lower index). A forced
//!   user that is infeasible in the sense above, or beyond the cap, is
//!   reported in [`PfzfgInfo::forced_dropped`].
//! - **Improvement** is strict: the greedy stops when the best candidate's
//!   objective is not larger than the current one (the paper's `R ≥ R′` would
//!   add users that contribute nothing). Ties between candidates go to the
//!   lower user index.

use std::time::{Duration, Instant};

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};

use crate::{C64, Schedule, ScheduleError, ScheduleInfo, ScheduleInput, validate};

/// How the Gram inverse of S ∪ {k} is obtained for each candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GramUpdate {
    /// Bordering / Schur-complement updates (the production path).
    #[default]
    RankOne,
    /// Form H Hᴴ and invert it (Cholesky, faer) for every candidate — the
    /// slow, obviously correct reference.
    FromScratch,
}

/// Parameters of [`pfzfg`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PfzfgParams {
    pub gram_update: GramUpdate,
    /// A user may join S only if the part of its channel orthogonal to the
    /// channels of S keeps more than this fraction of its energy.
    pub min_residual_ratio: f64,
}

impl Default for PfzfgParams {
    fn default() -> Self {
        Self {
            gram_update: GramUpdate::RankOne,
            min_residual_ratio: 1e-10,
        }
    }
}

/// Why the greedy loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PfzfgStop {
    /// No remaining user increases the objective.
    NoImprovement,
    /// |S| = |S|max.
    MaxScheduled,
    /// |S| = Nt (ZF cannot serve more).
    AntennaLimit,
    /// No remaining user is feasible (all in S, or zero/dependent channels).
    NoCandidate,
}

/// Diagnostics of one [`pfzfg`] run.
#[derive(Debug, Clone, PartialEq)]
pub struct PfzfgInfo {
    /// Forced users that were put in S, in cap order.
    pub forced_added: Vec<usize>,
    /// Forced users left out (beyond the cap, or zero/dependent channel).
    pub forced_dropped: Vec<usize>,
    /// Candidate sets S ∪ {k} whose objective was evaluated (greedy phase).
    pub candidates_evaluated: usize,
    /// Objective after the forced phase (R′ of line 3), then after every
    /// greedy addition; strictly increasing after the first entry.
    pub objective_trace: Vec<f64>,
    pub stop: PfzfgStop,
    pub elapsed: Duration,
}

/// PF zero-forcing greedy scheduling (Algorithm 1). See the module docs.
pub fn pfzfg(input: &ScheduleInput<'_>, params: &PfzfgParams) -> Result<Schedule, ScheduleError> {
    let start = Instant::now();
    let nt = validate(input)?;
    let ratio = params.min_residual_ratio;
    if !(ratio.is_finite() && (0.0..1.0).contains(&ratio)) {
        return Err(ScheduleError::InvalidValue {
            what: "PfzfgParams::min_residual_ratio".into(),
            value: ratio,
            expected: "a finite number in [0, 1)",
        });
    }
    let cap = input.max_scheduled.min(nt).min(input.channels.len());
    let p_over_noise = input.power_w / input.noise_w;
    let (users, objective, mut info) = match params.gram_update {
        GramUpdate::RankOne => run_greedy(
            RankOneSet::new(input.channels, input.weights, p_over_noise, ratio, cap),
            input,
            cap,
            nt,
        ),
        GramUpdate::FromScratch => run_greedy(
            ScratchSet::new(input.channels, input.weights, p_over_noise, ratio),
            input,
            cap,
            nt,
        ),
    };
    info.elapsed = start.elapsed();
    Ok(Schedule {
        users,
        beams: None,
        objective: Some(objective),
        info: ScheduleInfo::Pfzfg(info),
    })
}

/// The ZF SINRs of the set `users` with unit-norm ZF directions and equal
/// power (see the module docs), in the order of `users`; `None` if the
/// channels of the set are linearly dependent (or a user index is out of
/// range). Direct computation: forms and inverts the Gram matrix.
pub fn zf_sinrs(
    channels: &[Vec<C64>],
    users: &[usize],
    power_w: f64,
    noise_w: f64,
) -> Option<Vec<f64>> {
    let diag = gram_inverse_diag(channels, users)?;
    let snr = power_w / noise_w / users.len() as f64;
    Some(diag.iter().map(|d| snr / d).collect())
}

/// The PFZFG objective `Σ_{i∈users} w_i log2(1 + SINR_i^ZF)` of a set,
/// computed from scratch; `None` if the set's channels are linearly dependent.
pub fn zf_objective(
    channels: &[Vec<C64>],
    users: &[usize],
    weights: &[f64],
    power_w: f64,
    noise_w: f64,
) -> Option<f64> {
    let sinrs = zf_sinrs(channels, users, power_w, noise_w)?;
    Some(
        users
            .iter()
            .zip(&sinrs)
            .map(|(&u, s)| weights.get(u).copied().unwrap_or(0.0) * (1.0 + s).log2())
            .sum(),
    )
}

/// diag((H Hᴴ)⁻¹) for the rows `users`, via a Cholesky factorisation.
fn gram_inverse_diag(channels: &[Vec<C64>], users: &[usize]) -> Option<Vec<f64>> {
    if users.is_empty() {
        return Some(Vec::new());
    }
    let nt = channels.first()?.len();
    if users
        .iter()
        .any(|&u| u >= channels.len() || channels[u].len() != nt)
    {
        return None;
    }
    // Columns of Hᴴ are the channels h_i, so A = (Hᴴ)ᴴ Hᴴ.
    let h_adj = Mat::<C64>::from_fn(nt, users.len(), |n, i| channels[users[i]][n]);
    let gram = h_adj.adjoint() * &h_adj;
    let inverse = gram.llt(Side::Lower).ok()?.inverse();
    let diag: Vec<f64> = (0..users.len()).map(|i| inverse[(i, i)].re).collect();
    diag.iter()
        .all(|d| d.is_finite() && *d > 0.0)
        .then_some(diag)
}

/// A growing set S with the candidate evaluation of the greedy step.
trait GreedySet {
    fn len(&self) -> usize;
    fn contains(&self, k: usize) -> bool;
    /// f(S).
    fn objective(&self) -> f64;
    /// f(S ∪ {k}), or `None` if k is in S or infeasible.
    fn candidate(&mut self, k: usize) -> Option<f64>;
    /// Add a user for which `candidate` returned `Some`.
    fn add(&mut self, k: usize);
    fn into_users(self) -> Vec<usize>;
}

fn run_greedy<G: GreedySet>(
    mut set: G,
    input: &ScheduleInput<'_>,
    cap: usize,
    nt: usize,
) -> (Vec<usize>, f64, PfzfgInfo) {
    let k_users = input.channels.len();
    let w = input.weights;

    // STEP 1: forced users Ks, largest PF weight first, capped.
    let mut forced = input.forced.to_vec();
    forced.sort_by(|&a, &b| w[b].total_cmp(&w[a]).then(a.cmp(&b)));
    let mut forced_added = Vec::new();
    let mut forced_dropped = Vec::new();
    for &k in &forced {
        if set.len() < cap && set.candidate(k).is_some() {
            set.add(k);
            forced_added.push(k);
        } else {
            forced_dropped.push(k);
        }
    }

    // STEP 2: greedy additions while the objective strictly improves.
    let mut current = set.objective();
    let mut trace = vec![current];
    let mut evaluated = 0;
    let stop = loop {
        if set.len() >= input.max_scheduled {
            break PfzfgStop::MaxScheduled;
        }
        if set.len() >= nt {
            break PfzfgStop::AntennaLimit;
        }
        let mut best: Option<(usize, f64)> = None;
        for k in 0..k_users {
            if set.contains(k) {
                continue;
            }
            if let Some(f) = set.candidate(k) {
                evaluated += 1;
                if best.is_none_or(|(_, bf)| f > bf) {
                    best = Some((k, f));
                }
            }
        }
        match best {
            None => break PfzfgStop::NoCandidate,
            Some((k, f)) if f > current => {
                set.add(k);
                current = set.objective();
                trace.push(current);
            }
            Some(_) => break PfzfgStop::NoImprovement,
        }
    };
    let info = PfzfgInfo {
        forced_added,
        forced_dropped,
        candidates_evaluated: evaluated,
        objective_trace: trace,
        stop,
        elapsed: Duration::ZERO,
    };
    (set.into_users(), current, info)
}

/// Σ_i w_i log2(1 + snr / d_i) over the selected users.
fn objective_from_diag(selected: &[usize], diag: &[f64], weights: &[f64], snr: f64) -> f64 {
    selected
        .iter()
        .zip(diag)
        .map(|(&i, &d)| weights[i] * (1.0 + snr / d).log2())
        .sum()
}

/// The rank-one updated set (see the module docs for the recursions).
#[allow(non_snake_case)]
struct RankOneSet<'a> {
    h: &'a [Vec<C64>],
    w: &'a [f64],
    p_over_noise: f64,
    ratio: f64,
    nt: usize,
    /// Stride of `x` = the largest |S|.
    cap: usize,
    selected: Vec<usize>,
    in_set: Vec<bool>,
    /// [A⁻¹]_ii for the selected users, in selection order.
    diag: Vec<f64>,
    norm_sq: Vec<f64>,
    /// e_k (row k, Nt entries): h_k minus its projection onto span(S).
    resid: Vec<C64>,
    /// s_k = ‖e_k‖².
    resid_sq: Vec<f64>,
    /// x_k = A⁻¹ b_k (row k, first |S| of `cap` entries).
    x: Vec<C64>,
    /// Scratch: q and x_s of the user being added.
    q: Vec<C64>,
    x_new: Vec<C64>,
}

impl<'a> RankOneSet<'a> {
    fn new(h: &'a [Vec<C64>], w: &'a [f64], p_over_noise: f64, ratio: f64, cap: usize) -> Self {
        let k_users = h.len();
        let nt = h.first().map_or(0, Vec::len);
        let resid: Vec<C64> = h.iter().flatten().copied().collect();
        let norm_sq: Vec<f64> = h
            .iter()
            .map(|hk| hk.iter().map(|z| z.norm_sqr()).sum())
            .collect();
        Self {
            h,
            w,
            p_over_noise,
            ratio,
            nt,
            cap,
            selected: Vec::with_capacity(cap),
            in_set: vec![false; k_users],
            diag: Vec::with_capacity(cap),
            resid_sq: norm_sq.clone(),
            norm_sq,
            resid,
            x: vec![C64::new(0.0, 0.0); k_users * cap],
            q: vec![C64::new(0.0, 0.0); nt],
            x_new: vec![C64::new(0.0, 0.0); cap],
        }
    }

    fn feasible(&self, k: usize) -> bool {
        !self.in_set[k] && self.norm_sq[k] > 0.0 && self.resid_sq[k] > self.ratio * self.norm_sq[k]
    }
}

impl GreedySet for RankOneSet<'_> {
    fn len(&self) -> usize {
        self.selected.len()
    }

    fn contains(&self, k: usize) -> bool {
        self.in_set[k]
    }

    fn objective(&self) -> f64 {
        if self.selected.is_empty() {
            return 0.0;
        }
        let snr = self.p_over_noise / self.selected.len() as f64;
        objective_from_diag(&self.selected, &self.diag, self.w, snr)
    }

    fn candidate(&mut self, k: usize) -> Option<f64> {
        if !self.feasible(k) || self.selected.len() >= self.cap {
            return None;
        }
        let m = self.selected.len();
        let s_k = self.resid_sq[k];
        let snr = self.p_over_noise / (m + 1) as f64;
        let x_k = &self.x[k * self.cap..k * self.cap + m];
        let mut f = self.w[k] * (1.0 + snr * s_k).log2();
        for ((&i, &d), xi) in self.selected.iter().zip(&self.diag).zip(x_k) {
            f += self.w[i] * (1.0 + snr / (d + xi.norm_sqr() / s_k)).log2();
        }
        Some(f)
    }

    fn add(&mut self, s: usize) {
        let (nt, cap, m) = (self.nt, self.cap, self.selected.len());
        let rho2 = self.resid_sq[s];
        let rho = rho2.sqrt();
        // q = e_s / √s_s, x_s = A⁻¹ b_s (copied: the rows are updated below).
        for (q, e) in self.q.iter_mut().zip(&self.resid[s * nt..(s + 1) * nt]) {
            *q = e / rho;
        }
        self.x_new[..m].copy_from_slice(&self.x[s * cap..s * cap + m]);
        // Bordered inverse: [A'⁻¹]_ii = [A⁻¹]_ii + |x_s,i|²/s_s, [A'⁻¹]_ss = 1/s_s.
        for (d, xi) in self.diag.iter_mut().zip(&self.x_new[..m]) {
            *d += xi.norm_sqr() / rho2;
        }
        self.diag.push(1.0 / rho2);
        self.selected.push(s);
        self.in_set[s] = true;
        // Every remaining user: one Gram–Schmidt step and the x_k recursion.
        for k in 0..self.h.len() {
            if self.in_set[k] {
                continue;
            }
            let e = &mut self.resid[k * nt..(k + 1) * nt];
            let gamma: C64 = self.q.iter().zip(e.iter()).map(|(q, e)| q.conj() * e).sum();
            let mut e_sq = 0.0;
            for (e, q) in e.iter_mut().zip(&self.q) {
                *e -= q * gamma;
                e_sq += e.norm_sqr();
            }
            self.resid_sq[k] = e_sq;
            let t = gamma / rho;
            let x_k = &mut self.x[k * cap..k * cap + m + 1];
            for (xi, xs) in x_k.iter_mut().zip(&self.x_new[..m]) {
                *xi -= xs * t;
            }
            x_k[m] = t;
        }
    }

    fn into_users(self) -> Vec<usize> {
        self.selected
    }
}

/// The from-scratch reference: every candidate forms and inverts its Gram matrix.
struct ScratchSet<'a> {
    h: &'a [Vec<C64>],
    w: &'a [f64],
    p_over_noise: f64,
    ratio: f64,
    selected: Vec<usize>,
    in_set: Vec<bool>,
}

impl<'a> ScratchSet<'a> {
    fn new(h: &'a [Vec<C64>], w: &'a [f64], p_over_noise: f64, ratio: f64) -> Self {
        Self {
            h,
            w,
            p_over_noise,
            ratio,
            selected: Vec::new(),
            in_set: vec![false; h.len()],
        }
    }
}

impl GreedySet for ScratchSet<'_> {
    fn len(&self) -> usize {
        self.selected.len()
    }

    fn contains(&self, k: usize) -> bool {
        self.in_set[k]
    }

    fn objective(&self) -> f64 {
        if self.selected.is_empty() {
            return 0.0;
        }
        let diag = gram_inverse_diag(self.h, &self.selected).unwrap_or_default();
        let snr = self.p_over_noise / self.selected.len() as f64;
        objective_from_diag(&self.selected, &diag, self.w, snr)
    }

    fn candidate(&mut self, k: usize) -> Option<f64> {
        let norm_sq: f64 = self.h[k].iter().map(|z| z.norm_sqr()).sum();
        if self.in_set[k] || norm_sq <= 0.0 {
            return None;
        }
        self.selected.push(k);
        let diag = gram_inverse_diag(self.h, &self.selected);
        let f = diag.and_then(|diag| {
            // Schur complement of k: 1/[A'⁻¹]_kk.
            let s_k = 1.0 / diag[diag.len() - 1];
            (s_k > self.ratio * norm_sq).then(|| {
                let snr = self.p_over_noise / self.selected.len() as f64;
                objective_from_diag(&self.selected, &diag, self.w, snr)
            })
        });
        self.selected.pop();
        f
    }

    fn add(&mut self, k: usize) {
        self.selected.push(k);
        self.in_set[k] = true;
    }

    fn into_users(self) -> Vec<usize> {
        self.selected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{gaussian_channels, rng};
    use crate::{Scheduler, schedule};
    use proptest::prelude::*;

    fn input<'a>(
        h: &'a [Vec<C64>],
        w: &'a [f64],
        forced: &'a [usize],
        max: usize,
    ) -> ScheduleInput<'a> {
        ScheduleInput {
            channels: h,
            weights: w,
            forced,
            power_w: 2.0,
            noise_w: 0.05,
            max_scheduled: max,
            codebook: None,
        }
    }

    fn weights(seed: u64, k: usize) -> Vec<f64> {
        (0..k)
            .map(|i| 0.2 + ((seed * 31 + i as u64 * 17) % 23) as f64 / 7.0)
            .collect()
    }

    fn run(inp: &ScheduleInput<'_>, update: GramUpdate) -> (Vec<usize>, f64, PfzfgInfo) {
        let params = PfzfgParams {
            gram_update: update,
            ..Default::default()
        };
        let s = pfzfg(inp, &params).unwrap();
        let ScheduleInfo::Pfzfg(info) = s.info else {
            panic!("wrong info")
        };
        (s.users, s.objective.unwrap(), info)
    }

    #[test]
    fn rank_one_candidates_match_recomputation() {
        // Sizes swept up to the paper's (40 users, Nt = 32), including a
        // correlated case (channels = a few common directions + small noise).
        for (seed, k_users, nt, correlated) in [
            (1, 6, 4, false),
            (2, 12, 8, false),
            (3, 40, 32, false),
            (4, 20, 8, true),
            (5, 40, 32, true),
        ] {
            let mut r = rng(seed);
            let mut h = gaussian_channels(&mut r, k_users, nt, 1e-3);
            if correlated {
                let base = gaussian_channels(&mut r, 3, nt, 1e-3);
                for (k, hk) in h.iter_mut().enumerate() {
                    for (z, b) in hk.iter_mut().zip(&base[k % 3]) {
                        *z = *b + *z * 0.05;
                    }
                }
            }
            let w = weights(seed, k_users);
            let p_over_noise = 1e8;
            let mut set = RankOneSet::new(&h, &w, p_over_noise, 1e-10, nt.min(k_users));
            let mut users = Vec::new();
            while set.len() < nt.min(k_users) {
                let mut best = None;
                for k in 0..k_users {
                    let Some(f) = set.candidate(k) else { continue };
                    let mut with_k = users.clone();
                    with_k.push(k);
                    let reference = zf_objective(&h, &with_k, &w, p_over_noise, 1.0).unwrap();
                    let rel = (f - reference).abs() / reference.abs().max(1e-300);
                    assert!(
                        rel < 1e-9,
                        "seed {seed} |S| = {} k = {k}: {f} vs {reference} ({rel:e})",
                        users.len()
                    );
                    if best.is_none_or(|(_, bf)| f > bf) {
                        best = Some((k, f));
                    }
                }
                let Some((k, _)) = best else { break };
                set.add(k);
                users.push(k);
                let reference = zf_objective(&h, &users, &w, p_over_noise, 1.0).unwrap();
                assert!((set.objective() - reference).abs() <= 1e-9 * reference);
            }
            assert_eq!(users.len(), nt.min(k_users), "seed {seed}");
        }
    }

    #[test]
    fn rank_one_and_from_scratch_schedulers_agree() {
        for seed in 0..20 {
            let k_users = 10 + seed as usize;
            let nt = [4, 8, 16][seed as usize % 3];
            let h = gaussian_channels(&mut rng(100 + seed), k_users, nt, 1.0);
            let w = weights(seed, k_users);
            let forced = [1, 3];
            let inp = input(&h, &w, &forced, 6);
            let (a, fa, ia) = run(&inp, GramUpdate::RankOne);
            let (b, fb, ib) = run(&inp, GramUpdate::FromScratch);
            assert_eq!(a, b, "seed {seed}");
            assert!((fa - fb).abs() <= 1e-9 * fb.abs());
            assert_eq!(ia.candidates_evaluated, ib.candidates_evaluated);
            assert_eq!(ia.stop, ib.stop);
        }
    }

    /// Every subset of `0..k` of size ≤ `max`, as bit masks.
    fn subsets(k: usize, max: usize) -> impl Iterator<Item = Vec<usize>> {
        (0u32..1 << k)
            .filter(move |m| m.count_ones() as usize <= max)
            .map(move |m| (0..k).filter(|&i| m >> i & 1 == 1).collect())
    }

    #[test]
    fn greedy_follows_its_rule_and_is_bounded_by_the_exhaustive_optimum() {
        let (nt, max) = (4, 4);
        let mut optimal = 0;
        let cases = 200;
        for seed in 0..cases {
            let k_users = 3 + seed as usize % 6; // 3..=8 users
            // Unequal channel gains make the weights and the ZF loss matter.
            let mut h = gaussian_channels(&mut rng(1000 + seed), k_users, nt, 1.0);
            for (k, hk) in h.iter_mut().enumerate() {
                let g = 0.3 + (k as f64 * 0.7).sin().abs();
                hk.iter_mut().for_each(|z| *z *= g);
            }
            let w = weights(seed, k_users);
            let mut inp = input(&h, &w, &[], max);
            inp.noise_w = [0.05, 0.5, 2.0][seed as usize % 3];
            let (users, f, info) = run(&inp, GramUpdate::RankOne);

            // The greedy rule by brute force: at each step the best single addition.
            let mut brute: Vec<usize> = Vec::new();
            let mut current = 0.0;
            loop {
                if brute.len() >= max.min(nt) {
                    break;
                }
                let best = (0..k_users)
                    .filter(|k| !brute.contains(k))
                    .filter_map(|k| {
                        let mut s = brute.clone();
                        s.push(k);
                        zf_objective(&h, &s, &w, inp.power_w, inp.noise_w).map(|f| (k, f))
                    })
                    .fold(None, |acc: Option<(usize, f64)>, (k, f)| {
                        if acc.is_none_or(|(_, bf)| f > bf) {
                            Some((k, f))
                        } else {
                            acc
                        }
                    });
                match best {
                    Some((k, bf)) if bf > current => {
                        brute.push(k);
                        current = bf;
                    }
                    _ => break,
                }
            }
            assert_eq!(users, brute, "seed {seed}");
            assert!((f - current).abs() <= 1e-9 * current);
            assert!(info.objective_trace.windows(2).all(|p| p[1] > p[0]));

            let best = subsets(k_users, max)
                .filter_map(|s| zf_objective(&h, &s, &w, inp.power_w, inp.noise_w))
                .fold(0.0, f64::max);
            assert!(
                f <= best * (1.0 + 1e-12),
                "seed {seed}: greedy {f} > optimum {best}"
            );
            if f >= best * (1.0 - 1e-9) {
                optimal += 1;
            }
        }
        eprintln!(
            "PFZFG greedy = exhaustive optimum in {optimal}/{cases} cases (Nt = 4, |S|max = 4, 3–8 users)"
        );
        // Greedy is a heuristic, but on these small cases it is usually optimal.
        assert!(optimal * 2 > cases, "greedy optimal only {optimal}/{cases}");
    }

    #[test]
    fn forced_users_are_included_in_weight_order_and_capped() {
        let h = gaussian_channels(&mut rng(7), 12, 8, 1.0);
        let mut w = vec![1.0; 12];
        w[9] = 5.0;
        w[2] = 3.0;
        let forced = [2, 5, 9];
        let (users, _, info) = run(&input(&h, &w, &forced, 6), GramUpdate::RankOne);
        assert_eq!(&users[..3], &[9, 2, 5]);
        assert_eq!(info.forced_added, vec![9, 2, 5]);
        // Cap at |S|max = 2: the two largest weights survive.
        let (users, _, info) = run(&input(&h, &w, &forced, 2), GramUpdate::RankOne);
        assert_eq!(users, vec![9, 2]);
        assert_eq!(info.forced_dropped, vec![5]);
        assert_eq!(info.stop, PfzfgStop::MaxScheduled);
        // A forced user with a zero weight is still served.
        let mut w0 = vec![1.0; 12];
        w0[4] = 0.0;
        let (users, _, _) = run(&input(&h, &w0, &[4], 6), GramUpdate::RankOne);
        assert!(users.contains(&4));
    }

    #[test]
    fn zero_channels_are_never_picked_even_when_forced() {
        let mut h = gaussian_channels(&mut rng(8), 10, 4, 1.0);
        h[3] = vec![C64::new(0.0, 0.0); 4];
        h[6] = h[1].iter().map(|z| z * 2.0).collect(); // in the span of user 1
        let mut w = vec![1.0; 10];
        w[3] = 100.0;
        w[6] = 100.0;
        for forced in [&[][..], &[3], &[1, 6, 3]] {
            let (users, _, info) = run(&input(&h, &w, forced, 4), GramUpdate::RankOne);
            assert!(!users.contains(&3), "{users:?}");
            assert!(!(users.contains(&1) && users.contains(&6)), "{users:?}");
            if forced.contains(&3) {
                assert!(info.forced_dropped.contains(&3));
            }
        }
        // All channels zero: nothing to schedule.
        let z = vec![vec![C64::new(0.0, 0.0); 4]; 5];
        let (users, f, info) = run(&input(&z, &w[..5], &[], 4), GramUpdate::RankOne);
        assert!(users.is_empty() && f == 0.0);
        assert_eq!(info.stop, PfzfgStop::NoCandidate);
    }

    #[test]
    fn antenna_limit_stops_the_greedy() {
        // Very high SNR: every addition helps, so only Nt stops it.
        let h = gaussian_channels(&mut rng(9), 10, 3, 1.0);
        let w = vec![1.0; 10];
        let mut inp = input(&h, &w, &[], 8);
        inp.noise_w = 1e-9;
        let (users, _, info) = run(&inp, GramUpdate::RankOne);
        assert_eq!(users.len(), 3);
        assert_eq!(info.stop, PfzfgStop::AntennaLimit);
    }

    #[test]
    fn empty_cell_and_zero_max_give_empty_schedules() {
        let (users, f, _) = run(&input(&[], &[], &[], 4), GramUpdate::RankOne);
        assert!(users.is_empty() && f == 0.0);
        let h = gaussian_channels(&mut rng(10), 4, 4, 1.0);
        let (users, _, info) = run(&input(&h, &[1.0; 4], &[0], 0), GramUpdate::RankOne);
        assert!(users.is_empty());
        assert_eq!(info.forced_dropped, vec![0]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn schedule_respects_limits_and_forced_set(
            seed in 0u64..10_000,
            k_users in 1usize..20,
            nt in 1usize..10,
            max in 0usize..12,
            n_forced in 0usize..6,
        ) {
            let h = gaussian_channels(&mut rng(seed), k_users, nt, 1.0);
            let w = weights(seed, k_users);
            let forced: Vec<usize> = (0..n_forced.min(k_users)).map(|i| (i * 7 + seed as usize) % k_users).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            let inp = input(&h, &w, &forced, max);
            let s = schedule(&Scheduler::default(), &inp).unwrap();
            prop_assert!(s.users.len() <= max.min(nt));
            let distinct: std::collections::BTreeSet<_> = s.users.iter().collect();
            prop_assert_eq!(distinct.len(), s.users.len());
            let ScheduleInfo::Pfzfg(info) = &s.info else { panic!() };
            // Generic channels: every forced user fits unless the cap is hit.
            let cap = max.min(nt);
            prop_assert_eq!(info.forced_added.len(), forced.len().min(cap));
            for k in &info.forced_added {
                prop_assert!(s.users.contains(k));
            }
            let f = s.objective.unwrap();
            let direct = zf_objective(&h, &s.users, &w, inp.power_w, inp.noise_w).unwrap();
            prop_assert!((f - direct).abs() <= 1e-9 * direct.max(1e-12));
        }
    }
}
