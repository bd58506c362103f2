//! Algorithm 2: the FP + SCA outer loop (SPEC §10.2), generic over the solver
//! of the convex subproblem (26), which is DualOpt ([`crate::dualopt`]) or
//! the conic reference ([`crate::reference`]).
//!
//! One outer iteration at the current point v (STEP labels in [`run`]):
//! 1. ξ_k = γ̃_k(v) (Lagrangian dual transform, (19));
//! 2. ζ_k = sqrt(w_k (1+ξ_k)) · (h_kᴴ v_k) / B_k(v),  B_k = Σ_i |h_kᴴ v_i|² + L_k + σc²
//!    (quadratic transform; **decision**: ζ_k is kept complex, the conjugate-phase
//!    form of the corrected (22). It equals SPEC's real form when h_kᴴ v_k is
//!    real and makes the surrogate tight for any phase, so the objective is
//!    non-decreasing from every starting point);
//! 3. the subproblem (26):
//!    maximise Σ_k 2 Re(z_kᴴ v_k) − v_kᴴ Ã_k v_k,  z_k = sqrt(w_k(1+ξ_k)) ζ_k h_k,
//!    Ã_k = Σ_j |ζ_j|² h_j h_jᴴ + (Σ_j |ζ_j|²) D̂   (SALINR; the same for all k), or
//!    Ã_k = Σ_j |ζ_j|² h_j h_jᴴ + |ζ_k|² D           (SLINR: own leakage only),
//!    s.t. Σ_k ‖v_k‖² ≤ P and, for each constrained k,
//!    Σ_{j≠k} v_jᴴ B_k v_j + σz² ≤ 2 Re(v_k^(r)ᴴ C_k v_k) − v_k^(r)ᴴ C_k v_k^(r)  (25);
//! 4. stop when the SALINR objective improves by less than `rel_tol` (relative).
//!
//! **Extrapolation (decision, `FpParams::extrapolate`).** FP converges slowly
//! (relative gains shrink by only ~8 % per iteration on the bench instances), so
//! the SCA point of step 3 is y = v + β (v − v_prev) with Nesterov's β, kept only
//! when y is feasible (power and the linearised users' sensing constraints,
//! repaired by [`extrapolate()`]) and f(y) ≥ f(v); otherwise y = v and β restarts.
//! Since the surrogate at any feasible y is tight at y and minorises f on a
//! feasible set containing y, f(v_new) ≥ f(y) ≥ f(v): the objective stays
//! non-decreasing. On the Nt = 32 bench instances this reaches rel_tol = 1e-4 in
//! 22/34/18 instead of 57/45/19 outer iterations (K = 6/12/18) with a smaller
//! gap to the converged objective (K = 6: 2.4e-5 instead of 1.7e-3).
//!
//! **Normalisation (decision).** Internally every problem is rescaled so that the
//! noise power and the budget are 1: h̃ = h·sqrt(P/σc²), D̃ = D·P/σc², ṽ = v/sqrt(P),
//! and the sensing constraint of user k is divided by P·b_k, giving
//! Σ_{j≠k} |a_kᴴ ṽ_j|² + s_k ≤ c |a_kᴴ ṽ_k|², s_k = σz²/(P b_k), c = c̄/a_ī².
//! Weights are divided by their maximum. γ̃ and the sensing variances are
//! invariant, so the iterates are those of the unscaled algorithm, but the dual
//! variables live on a unit scale whatever the link budget (path loss 1e-10 …).
//! [`Subproblem`] is expressed in these normalised units.
//!
//! **Feasible initialisation and infeasible sensing sets (SPEC §10.3).** Each
//! sensing constraint reads "SINR_k ≥ 1/c" for a virtual downlink with channels
//! a_k and noise s_k. The minimum-power beams meeting all of them (with a margin,
//! `FpParams::init_margin`) are found exactly by the uplink–downlink duality
//! fixed point (Yates' standard interference function) and a K×K linear
//! system. If that minimum power exceeds P (or the targets are unreachable at any
//! power), the user with the largest required power (or dual weight) is relaxed
//! and the test is repeated; relaxed users are reported in [`FpInfo`]. The initial
//! beams are these sensing beams plus regularised-ZF communication components
//! projected onto the orthogonal complement of the sensed steering vectors (so
//! they do not disturb any sensing constraint), scaled to the full budget. When a
//! caller supplies v0, the users whose constraint v0 violates are relaxed.
//!
//! Files: `mod.rs` the outer loop ([`run`]); `normalized.rs` the rescaled
//! problem and STEPS 1–2 (ξ, ζ); `subproblem.rs` the subproblem (26);
//! `extrapolate.rs` STEP 0; `init.rs` the feasible initialisation.

use std::time::{Duration, Instant};

use ndarray::Array2;

use crate::Beams;
use crate::c64;
use crate::error::BeamformingError;
use crate::linalg::norm_sqr;
use crate::problem::SalinrProblem;
use crate::salinr::check_beams;

mod extrapolate;
mod init;
mod normalized;
mod subproblem;

use extrapolate::extrapolate;
use init::init_normalized;
pub(crate) use normalized::Normalized;
pub use subproblem::{SubSensing, Subproblem};

const ZERO: c64 = c64::new(0.0, 0.0);

/// Parameters of the outer FP/SCA loop.
#[derive(Debug, Clone, PartialEq)]
pub struct FpParams {
    /// Maximum number of outer (FP) iterations.
    pub max_outer: usize,
    /// Stop when the objective improves by less than `rel_tol · |objective|`.
    pub rel_tol: f64,
    /// Initialisation margin on the sensing threshold: the initial beams meet
    /// σ² ≤ c̄/(1 + init_margin), so they are strictly feasible.
    pub init_margin: f64,
    /// A relative decrease of the objective larger than this ends the loop and
    /// returns the previous (better) iterate.
    pub decrease_tol: f64,
    /// Extrapolate the SCA point (Nesterov momentum, monotone safeguard; module
    /// docs). `false` gives the plain Algorithm 2.
    pub extrapolate: bool,
}

impl Default for FpParams {
    fn default() -> Self {
        Self {
            max_outer: 100,
            rel_tol: 1e-4,
            init_margin: 0.05,
            decrease_tol: 1e-7,
            extrapolate: true,
        }
    }
}

/// Diagnostics of one run of Algorithm 2.
#[derive(Debug, Clone, PartialEq)]
pub struct FpInfo {
    /// Outer iterations performed.
    pub outer_iterations: usize,
    /// Inner (dual or interior-point) iterations per outer iteration.
    pub inner_iterations: Vec<usize>,
    /// Whether every inner solve met its tolerance.
    pub inner_converged: bool,
    /// SALINR (or SLINR) PF objective Σ w_k ln(1+γ̃_k), natural log, original
    /// weights: entry 0 at the initial point, then after each outer iteration.
    pub objective_history: Vec<f64>,
    /// Whether the relative-improvement test stopped the loop.
    pub converged: bool,
    /// True if an outer iteration decreased the objective beyond `decrease_tol`
    /// (the previous iterate is returned).
    pub stopped_on_decrease: bool,
    /// Σ‖v_k‖²/P − 1 at return (≤ 0 always).
    pub power_residual: f64,
    /// max over constrained users of σ²_k/c̄ − 1 at return (≤ 0 when feasible; 0 if none).
    pub sensing_residual: f64,
    /// Users whose sensing constraint was relaxed (infeasible set), ascending.
    pub relaxed_users: Vec<usize>,
    /// Wall-clock time of the whole solve.
    pub elapsed: Duration,
}

/// Result of one inner solve of (26).
#[derive(Debug, Clone, PartialEq)]
pub struct InnerOutcome {
    /// The beams (normalised units, K×Nt row-major).
    pub v: Vec<c64>,
    /// Inner iterations (dual iterations, or interior-point iterations).
    pub iterations: usize,
    /// Whether the inner tolerance was met.
    pub converged: bool,
}

/// A solver of the convex subproblem (26).
pub trait InnerSolver {
    /// Solves `sub`; `v_prev` is the SCA point v^(r) (feasible for `sub`).
    fn solve(&mut self, sub: &Subproblem, v_prev: &[c64])
    -> Result<InnerOutcome, BeamformingError>;
}

/// The subproblem (26) of `problem` linearised at `beams` (original units),
/// with the beams in normalised units (ṽ = v/√P) for use as the SCA point.
/// Users whose sensing constraint `beams` violates are unconstrained.
pub fn linearize(
    problem: &SalinrProblem,
    beams: &Beams,
) -> Result<(Subproblem, Vec<c64>), BeamformingError> {
    problem.validate()?;
    check_beams(problem, beams)?;
    let n = Normalized::new(problem);
    let v: Vec<c64> = beams.iter().map(|x| x / n.v_scale).collect();
    let constrained = constrained_at(&n, &v);
    Ok((n.linearize(&v, &n.at(&v), &constrained), v))
}

fn constrained_at(n: &Normalized, v: &[c64]) -> Vec<bool> {
    (0..n.k)
        .map(|u| n.sensing.is_some() && n.sensing_excess(v, u) <= 1e-9)
        .collect()
}

/// The feasible initial beams of the module docs, in the problem's units.
pub fn initial_beams(
    problem: &SalinrProblem,
    params: &FpParams,
) -> Result<Beams, BeamformingError> {
    problem.validate()?;
    let n = Normalized::new(problem);
    let v = init_normalized(&n, params.init_margin);
    Ok(to_beams(&n, &v))
}

fn to_beams(n: &Normalized, v: &[c64]) -> Beams {
    let mut b = Array2::from_shape_fn((n.k, n.nt), |(i, j)| v[i * n.nt + j] * n.v_scale);
    // Rounding in the rescaling must not push Σ‖v_k‖² above P.
    let budget = n.budget;
    while b.iter().map(|x| x.norm_sqr()).sum::<f64>() > budget {
        b.mapv_inplace(|x| x * (1.0 - 1e-15));
    }
    b
}

/// Runs Algorithm 2 from `v0` (or from [`initial_beams`]) with `inner` solving (26).
pub fn run<S: InnerSolver>(
    problem: &SalinrProblem,
    v0: Option<&Beams>,
    params: &FpParams,
    inner: &mut S,
) -> Result<(Beams, FpInfo), BeamformingError> {
    let start = Instant::now();
    problem.validate()?;
    let n = Normalized::new(problem);
    let (k, nt) = (n.k, n.nt);
    // The initial point always goes through original units, so that a replay
    // from dumped v0 (`solve_from`) is bit-identical to the original solve.
    let init;
    let v0 = match v0 {
        Some(b) => {
            check_beams(problem, b)?;
            b
        }
        None => {
            init = to_beams(&n, &init_normalized(&n, params.init_margin));
            &init
        }
    };
    let mut v: Vec<c64> = v0.iter().map(|x| x / n.v_scale).collect();
    clip_power(&mut v);
    let constrained = constrained_at(&n, &v);
    let relaxed_users: Vec<usize> = match &n.sensing {
        Some(_) => (0..k).filter(|&u| !constrained[u]).collect(),
        None => Vec::new(),
    };
    // The products at v, and at y, are computed once per point: the objective
    // test and the linearisation share them.
    let mut at_v = n.at(&v);
    let mut obj = n.objective(&at_v);
    let mut info = FpInfo {
        outer_iterations: 0,
        inner_iterations: Vec::new(),
        inner_converged: true,
        objective_history: vec![obj],
        converged: false,
        stopped_on_decrease: false,
        power_residual: 0.0,
        sensing_residual: 0.0,
        relaxed_users,
        elapsed: Duration::ZERO,
    };
    let any_signal = n.h.iter().any(|x| *x != ZERO) && norm_sqr(&v) > 0.0;
    if any_signal {
        // Momentum state: previous iterate and Nesterov's t.
        let mut v_old = v.clone();
        let mut t_nes = 1.0_f64;
        let mut y = vec![ZERO; k * nt];
        for _ in 0..params.max_outer {
            // STEP 0: extrapolated SCA point y = v + β (v − v_old), kept only if
            // feasible and not worse than v (then the MM step from y is monotone).
            let t_next = 0.5 * (1.0 + (1.0 + 4.0 * t_nes * t_nes).sqrt());
            let beta = (t_nes - 1.0) / t_next;
            let mut at_y = None;
            if params.extrapolate
                && beta > 0.0
                && extrapolate(&n, &v, &v_old, beta, &constrained, &mut y)
            {
                let at = n.at(&y);
                if n.objective(&at) >= obj {
                    at_y = Some(at);
                }
            }
            let use_y = at_y.is_some();
            t_nes = if use_y || beta == 0.0 { t_next } else { 1.0 };
            let (point, at) = match &at_y {
                Some(at) => (&y, at),
                None => (&v, &at_v),
            };
            // STEPS 1–3: FP variables and SCA point → subproblem (26).
            let sub = n.linearize(point, at, &constrained);
            let out = inner.solve(&sub, point)?;
            info.outer_iterations += 1;
            info.inner_iterations.push(out.iterations);
            info.inner_converged &= out.converged;
            let mut v_new = out.v;
            if v_new.len() != k * nt
                || v_new
                    .iter()
                    .any(|x| !(x.re.is_finite() && x.im.is_finite()))
            {
                return Err(BeamformingError::Numerical(
                    "inner solver returned non-finite beams",
                ));
            }
            clip_power(&mut v_new);
            let at_new = n.at(&v_new);
            let obj_new = n.objective(&at_new);
            info.objective_history.push(obj_new);
            // STEP 4: monotonicity guard and stopping rule.
            if obj_new < obj - params.decrease_tol * obj.abs().max(f64::MIN_POSITIVE) {
                info.stopped_on_decrease = true;
                break;
            }
            let gain = obj_new - obj;
            v_old = std::mem::replace(&mut v, v_new);
            at_v = at_new;
            obj = obj_new;
            if gain <= params.rel_tol * obj.abs() {
                info.converged = true;
                break;
            }
        }
    } else {
        info.converged = true;
    }
    info.power_residual = norm_sqr(&v) - 1.0;
    info.sensing_residual = sensing_residual(&n, &v, &constrained);
    info.elapsed = start.elapsed();
    Ok((to_beams(&n, &v), info))
}

/// max over the `constrained` users of σ²_k/c̄ − 1 at `v` (0 if there are none).
fn sensing_residual(n: &Normalized, v: &[c64], constrained: &[bool]) -> f64 {
    let residual = (0..n.k)
        .filter(|&u| constrained[u])
        .map(|u| n.sensing_excess(v, u))
        .fold(f64::NEG_INFINITY, f64::max);
    if !residual.is_finite() && residual < 0.0 {
        0.0
    } else {
        residual
    }
}

/// Scales v down onto the power budget 1 if it exceeds it.
fn clip_power(v: &mut [c64]) {
    let p = norm_sqr(v);
    if p > 1.0 {
        let s = 1.0 / p.sqrt();
        v.iter_mut().for_each(|x| *x *= s);
        // Rounding can leave p·s² a few ulps above 1.
        while norm_sqr(v) > 1.0 {
            v.iter_mut().for_each(|x| *x *= 1.0 - 1e-15);
        }
    }
}
