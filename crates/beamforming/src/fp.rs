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
//! repaired by [`extrapolate`]) and f(y) ≥ f(v); otherwise y = v and β restarts.
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

use std::time::{Duration, Instant};

use ndarray::Array2;

use crate::Beams;
use crate::c64;
use crate::error::BeamformingError;
use crate::linalg::{Cholesky, add_outer, dotc, norm_sqr, solve_real};
use crate::problem::{Leakage, SalinrProblem};
use crate::salinr::{check_beams, sinr_from};

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

/// The convex subproblem (26) in normalised units (module docs).
/// Row-major flat storage: `z` K×Nt, matrices Nt×Nt.
#[derive(Debug, Clone, PartialEq)]
pub struct Subproblem {
    pub num_users: usize,
    pub num_antennas: usize,
    /// z_k, row k.
    pub z: Vec<c64>,
    /// The part of Ã_k shared by all users.
    pub a_common: Vec<c64>,
    /// SLINR: (|ζ_k|² per user, D): Ã_k = a_common + |ζ_k|² D.
    pub own_leakage: Option<(Vec<f64>, Vec<c64>)>,
    /// Power budget (1 after normalisation).
    pub power: f64,
    /// Linearised sensing constraints.
    pub sensing: Option<SubSensing>,
}

/// Linearised sensing constraints of (26) in normalised units:
/// Σ_{j≠k} |a_kᴴ v_j|² + s_k ≤ c (2 Re(conj(α_k) a_kᴴ v_k) − |α_k|²), α_k = a_kᴴ v_k^(r).
#[derive(Debug, Clone, PartialEq)]
pub struct SubSensing {
    /// a_k, row k (K×Nt).
    pub steering: Vec<c64>,
    /// s_k.
    pub noise: Vec<f64>,
    /// c = c̄ / a_ī².
    pub c: f64,
    /// α_k = a_kᴴ v_k^(r).
    pub alpha: Vec<c64>,
    /// Which users carry a constraint (false: relaxed).
    pub constrained: Vec<bool>,
}

impl Subproblem {
    /// Ã_k as a dense row-major matrix.
    pub fn a_tilde(&self, k: usize) -> Vec<c64> {
        let mut a = self.a_common.clone();
        if let Some((coef, d)) = &self.own_leakage {
            for (x, y) in a.iter_mut().zip(d) {
                *x += y * coef[k];
            }
        }
        a
    }

    /// The objective of (26): Σ_k 2 Re(z_kᴴ v_k) − v_kᴴ Ã_k v_k.
    pub fn objective(&self, v: &[c64]) -> f64 {
        let nt = self.num_antennas;
        let mut tmp = vec![ZERO; nt];
        (0..self.num_users)
            .map(|k| {
                let vk = &v[k * nt..(k + 1) * nt];
                crate::linalg::matvec(&self.a_tilde(k), vk, &mut tmp);
                2.0 * dotc(&self.z[k * nt..(k + 1) * nt], vk).re - dotc(vk, &tmp).re
            })
            .sum()
    }

    /// Constraint values of (26), feasible when ≤ 0: entry 0 is Σ‖v_k‖² − P,
    /// then ϕ_k − ψ̃_k for each user (0 for unconstrained users).
    pub fn constraint_values(&self, v: &[c64]) -> Vec<f64> {
        let nt = self.num_antennas;
        let k = self.num_users;
        let mut out = vec![norm_sqr(v) - self.power];
        if let Some(s) = &self.sensing {
            for u in 0..k {
                if !s.constrained[u] {
                    out.push(0.0);
                    continue;
                }
                let a = &s.steering[u * nt..(u + 1) * nt];
                let phi: f64 = (0..k)
                    .filter(|&j| j != u)
                    .map(|j| dotc(a, &v[j * nt..(j + 1) * nt]).norm_sqr())
                    .sum::<f64>()
                    + s.noise[u];
                let al = s.alpha[u];
                let psi = s.c
                    * (2.0 * (al.conj() * dotc(a, &v[u * nt..(u + 1) * nt])).re - al.norm_sqr());
                out.push(phi - psi);
            }
        }
        out
    }
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

/// The problem in normalised units (module docs).
#[derive(Debug, Clone)]
pub(crate) struct Normalized {
    pub k: usize,
    pub nt: usize,
    pub h: Vec<c64>,
    pub d: Vec<c64>,
    pub per_user: bool,
    pub w: Vec<f64>,
    pub w_scale: f64,
    pub v_scale: f64,
    pub budget: f64,
    pub sensing: Option<NormSensing>,
}

/// v_jᴴ D v_j and h_uᴴ v_j (`amp[u·K + j]`) at one point.
#[derive(Debug, Clone)]
pub(crate) struct PointProducts {
    leak: Vec<f64>,
    amp: Vec<c64>,
}

#[derive(Debug, Clone)]
pub(crate) struct NormSensing {
    pub a: Vec<c64>,
    pub s: Vec<f64>,
    pub c: f64,
}

impl Normalized {
    pub(crate) fn new(p: &SalinrProblem) -> Self {
        let (k, nt) = p.channels.dim();
        let gain = (p.power_budget / p.noise_power).sqrt();
        let h = p.channels.iter().map(|x| x * gain).collect();
        let d = p
            .leakage
            .matrix()
            .iter()
            .map(|x| x * (gain * gain))
            .collect();
        let w_scale = p.weights.iter().copied().fold(0.0, f64::max);
        let w = p.weights.iter().map(|w| w / w_scale).collect();
        let sensing = p.sensing.as_ref().map(|s| NormSensing {
            a: s.steering.iter().copied().collect(),
            s: s.echo_gain
                .iter()
                .map(|b| s.sensing_noise / (p.power_budget * b))
                .collect(),
            c: s.threshold / s.error_scale_sq,
        });
        Self {
            k,
            nt,
            h,
            d,
            per_user: matches!(p.leakage, Leakage::PerUser(_)),
            w,
            w_scale,
            v_scale: p.power_budget.sqrt(),
            budget: p.power_budget,
            sensing,
        }
    }

    /// The products at v that γ̃, the objective and the linearisation share.
    fn at(&self, v: &[c64]) -> PointProducts {
        let (k, nt) = (self.k, self.nt);
        PointProducts {
            leak: crate::linalg::leakages(&self.d, v, k, nt),
            amp: crate::linalg::gram(&self.h, v, k, nt),
        }
    }

    /// Objective with the original weights.
    fn objective(&self, at: &PointProducts) -> f64 {
        sinr_from(&at.leak, &at.amp, self.per_user, 1.0)
            .iter()
            .zip(&self.w)
            .map(|(g, w)| w * self.w_scale * g.ln_1p())
            .sum()
    }

    /// σ²_k/c̄ − 1 for user k (normalised form: (Σ_{j≠k}|a_kᴴv_j|² + s_k)/(c|a_kᴴv_k|²) − 1).
    fn sensing_excess(&self, v: &[c64], u: usize) -> f64 {
        let Some(s) = &self.sensing else {
            return f64::NEG_INFINITY;
        };
        let nt = self.nt;
        let a = &s.a[u * nt..(u + 1) * nt];
        let mut interf = s.s[u];
        let mut own = 0.0;
        for j in 0..self.k {
            let g = dotc(a, &v[j * nt..(j + 1) * nt]).norm_sqr();
            if j == u {
                own = g;
            } else {
                interf += g;
            }
        }
        if own > 0.0 {
            interf / (s.c * own) - 1.0
        } else {
            f64::INFINITY
        }
    }

    /// Step 1–3 of an outer iteration: the subproblem (26) at v (`at` = its products).
    pub(crate) fn linearize(
        &self,
        v: &[c64],
        at: &PointProducts,
        constrained: &[bool],
    ) -> Subproblem {
        let (k, nt) = (self.k, self.nt);
        let (leak, amp) = (&at.leak, &at.amp);
        let total: f64 = leak.iter().sum();
        let mut z = vec![ZERO; k * nt];
        let mut a_common = vec![ZERO; nt * nt];
        let mut zeta_sq = vec![0.0; k];
        for u in 0..k {
            let hu = &self.h[u * nt..(u + 1) * nt];
            let mut sig = ZERO;
            let mut b = 1.0 + if self.per_user { leak[u] } else { total };
            for j in 0..k {
                let g = amp[u * k + j];
                b += g.norm_sqr();
                if j == u {
                    sig = g;
                }
            }
            // STEP 1: ξ_k = γ̃_k.
            let xi = sig.norm_sqr() / (b - sig.norm_sqr());
            // STEP 2: ζ_k (complex, see module docs).
            let s = (self.w[u] * (1.0 + xi)).sqrt();
            let zeta = sig * (s / b);
            zeta_sq[u] = zeta.norm_sqr();
            for (zi, hi) in z[u * nt..(u + 1) * nt].iter_mut().zip(hu) {
                *zi = hi * zeta * s;
            }
        }
        crate::linalg::add_weighted_outers(&mut a_common, &zeta_sq, &self.h, nt);
        let own_leakage = if self.per_user {
            Some((zeta_sq, self.d.clone()))
        } else {
            let zs: f64 = zeta_sq.iter().sum();
            for (x, y) in a_common.iter_mut().zip(&self.d) {
                *x += y * zs;
            }
            None
        };
        let sensing = self.sensing.as_ref().map(|s| SubSensing {
            steering: s.a.clone(),
            noise: s.s.clone(),
            c: s.c,
            alpha: (0..k)
                .map(|u| dotc(&s.a[u * nt..(u + 1) * nt], &v[u * nt..(u + 1) * nt]))
                .collect(),
            constrained: constrained.to_vec(),
        });
        Subproblem {
            num_users: k,
            num_antennas: nt,
            z,
            a_common,
            own_leakage,
            power: 1.0,
            sensing,
        }
    }
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
    info.sensing_residual = (0..k)
        .filter(|&u| constrained[u])
        .map(|u| n.sensing_excess(&v, u))
        .fold(f64::NEG_INFINITY, f64::max);
    if !info.sensing_residual.is_finite() && info.sensing_residual < 0.0 {
        info.sensing_residual = 0.0;
    }
    info.elapsed = start.elapsed();
    Ok((to_beams(&n, &v), info))
}

/// y = v + β (v − v_old), repaired to stay feasible (power ≤ 1, the sensing
/// constraints of the `constrained` users). Returns false if no repair was found.
///
/// Repair: let W be the users whose constraint y violates and Q an orthonormal
/// basis of span{a_u : u ∈ W}. Resetting the Q-components of every row to those
/// of v (y ← y + QQᴴ(v − y)) makes a_uᴴ y_j = a_uᴴ v_j for u ∈ W, so those
/// constraints hold as at v; W grows until no constraint is violated. Power is
/// then restored by shrinking only the part orthogonal to Q (a uniform scaling
/// would break the active sensing constraints, whose noise term does not scale).
fn extrapolate(
    n: &Normalized,
    v: &[c64],
    v_old: &[c64],
    beta: f64,
    constrained: &[bool],
    y: &mut [c64],
) -> bool {
    let nt = n.nt;
    for ((yi, a), b) in y.iter_mut().zip(v).zip(v_old) {
        *yi = a + (a - b) * beta;
    }
    let mut basis: Vec<Vec<c64>> = Vec::new();
    let mut in_w = vec![false; n.k];
    let mut coef: Vec<c64> = Vec::with_capacity(n.k);
    // Each round adds at least one user to W, so this ends within K + 1 rounds.
    for _ in 0..=n.k {
        let mut added = false;
        for u in 0..n.k {
            if !constrained[u] || in_w[u] || n.sensing_excess(y, u) <= 0.0 {
                continue;
            }
            let Some(s) = &n.sensing else { return false };
            in_w[u] = true;
            added = true;
            let mut q = s.a[u * nt..(u + 1) * nt].to_vec();
            let n0 = norm_sqr(&q).sqrt();
            for b in &basis {
                let c = dotc(b, &q);
                q.iter_mut().zip(b).for_each(|(x, y)| *x -= y * c);
            }
            let nq = norm_sqr(&q).sqrt();
            if nq <= 1e-10 * n0 {
                continue;
            }
            q.iter_mut().for_each(|x| *x /= nq);
            for (yj, vj) in y.chunks_exact_mut(nt).zip(v.chunks_exact(nt)) {
                let c = dotc(&q, vj) - dotc(&q, yj);
                yj.iter_mut().zip(&q).for_each(|(x, e)| *x += e * c);
            }
            basis.push(q);
        }
        // Power: ‖y‖² = ‖P y‖² + ‖(I−P) y‖², P = QQᴴ; shrink the second part.
        let p_all = norm_sqr(y);
        if p_all > 1.0 {
            let p_in: f64 = y
                .chunks_exact(nt)
                .map(|yj| basis.iter().map(|b| dotc(b, yj).norm_sqr()).sum::<f64>())
                .sum();
            let p_out = p_all - p_in;
            if p_in >= 1.0 || p_out <= 0.0 {
                return false;
            }
            let t = ((1.0 - p_in) / p_out).sqrt() * (1.0 - 1e-12);
            for yj in y.chunks_exact_mut(nt) {
                coef.clear();
                coef.extend(basis.iter().map(|b| dotc(b, yj)));
                yj.iter_mut().for_each(|x| *x *= t);
                for (b, c) in basis.iter().zip(&coef) {
                    yj.iter_mut()
                        .zip(b)
                        .for_each(|(x, e)| *x += e * (c * (1.0 - t)));
                }
            }
            if norm_sqr(y) > 1.0 {
                return false;
            }
            added = true;
        }
        if !added {
            break;
        }
    }
    (0..n.k).all(|u| !constrained[u] || n.sensing_excess(y, u) <= 0.0)
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

/// Beams of the sensed users and their powers.
type SensingBeams = (Vec<Vec<c64>>, Vec<f64>);

/// Minimum-power beams meeting |g_kᴴv_k|² ≥ γ(Σ_{j≠k}|g_kᴴv_j|² + 1) for the users in
/// `users` (g_k = a_k/√s_k). Ok((beams of those users, powers)) or Err(dual weights)
/// when the targets cannot be met at any power.
fn min_power_sensing(
    n: &Normalized,
    users: &[usize],
    gamma: f64,
) -> Result<SensingBeams, Vec<f64>> {
    let nt = n.nt;
    let Some(s) = &n.sensing else {
        return Ok((Vec::new(), Vec::new()));
    };
    let m = users.len();
    let g: Vec<Vec<c64>> = users
        .iter()
        .map(|&u| {
            s.a[u * nt..(u + 1) * nt]
                .iter()
                .map(|x| x / s.s[u].sqrt())
                .collect()
        })
        .collect();
    let mut lam = vec![0.0; m];
    let mut t = vec![ZERO; nt * nt];
    let mut chol = Cholesky::new(nt);
    let mut dirs = vec![vec![ZERO; nt]; m];
    // Yates' fixed point λ_k ← 1 / ((1 + 1/γ) g_kᴴ T(λ)⁻¹ g_k), T = I + Σ λ_i g_i g_iᴴ.
    for _ in 0..1000 {
        t.iter_mut().for_each(|x| *x = ZERO);
        for i in 0..nt {
            t[i * nt + i] = c64::new(1.0, 0.0);
        }
        for (li, gi) in lam.iter().zip(&g) {
            add_outer(&mut t, *li, gi);
        }
        if !chol.factor(&t) {
            return Err(lam);
        }
        let mut change: f64 = 0.0;
        for i in 0..m {
            dirs[i].copy_from_slice(&g[i]);
            chol.solve_in_place(&mut dirs[i]);
            let y = dotc(&g[i], &dirs[i]).re;
            let new = 1.0 / ((1.0 + 1.0 / gamma) * y);
            change = change.max((new - lam[i]).abs() / new.max(1e-300));
            lam[i] = new;
        }
        if lam.iter().sum::<f64>() > 1e14 || !lam.iter().all(|x| x.is_finite()) {
            return Err(lam);
        }
        if change < 1e-12 {
            break;
        }
    }
    for d in dirs.iter_mut() {
        let nn = norm_sqr(d).sqrt();
        d.iter_mut().for_each(|x| *x /= nn);
    }
    // Downlink powers: (1/γ)|g_kᴴw_k|² p_k − Σ_{j≠k} |g_kᴴw_j|² p_j = 1.
    let mut a = vec![0.0; m * m];
    let mut p = vec![1.0; m];
    for r in 0..m {
        for c in 0..m {
            let x = dotc(&g[r], &dirs[c]).norm_sqr();
            a[r * m + c] = if r == c { x / gamma } else { -x };
        }
    }
    if solve_real(&mut a, &mut p).is_none() || p.iter().any(|x| x.is_nan() || *x <= 0.0) {
        return Err(lam);
    }
    let beams = dirs
        .into_iter()
        .zip(&p)
        .map(|(d, pk)| d.into_iter().map(|x| x * pk.sqrt()).collect())
        .collect();
    Ok((beams, p))
}

/// Feasible initial beams (normalised units), see the module docs.
fn init_normalized(n: &Normalized, margin: f64) -> Vec<c64> {
    let (k, nt) = (n.k, n.nt);
    let mut v = vec![ZERO; k * nt];
    let mut sensed: Vec<usize> = Vec::new();
    if let Some(s) = &n.sensing {
        sensed = (0..k).collect();
        let gamma = (1.0 + margin) / s.c;
        while !sensed.is_empty() {
            match min_power_sensing(n, &sensed, gamma) {
                Ok((beams, p)) if p.iter().sum::<f64>() <= 1.0 => {
                    for (u, b) in sensed.iter().zip(beams) {
                        v[u * nt..(u + 1) * nt].copy_from_slice(&b);
                    }
                    break;
                }
                Ok((_, cost)) | Err(cost) => {
                    let worst = (0..cost.len())
                        .max_by(|&i, &j| cost[i].total_cmp(&cost[j]))
                        .unwrap_or(0);
                    sensed.remove(worst);
                }
            }
        }
    }
    // Orthonormal basis of span{a_k : k sensed} (modified Gram–Schmidt).
    let mut basis: Vec<Vec<c64>> = Vec::new();
    if let Some(s) = &n.sensing {
        for &u in &sensed {
            let mut q = s.a[u * nt..(u + 1) * nt].to_vec();
            let n0 = norm_sqr(&q).sqrt();
            for b in &basis {
                let c = dotc(b, &q);
                q.iter_mut().zip(b).for_each(|(x, y)| *x -= y * c);
            }
            let nq = norm_sqr(&q).sqrt();
            if nq > 1e-10 * n0 {
                q.iter_mut().for_each(|x| *x /= nq);
                basis.push(q);
            }
        }
    }
    // Regularised ZF: (Σ h hᴴ + D + K I)⁻¹ h_k, projected, unit norm.
    let mut r = n.d.clone();
    for u in 0..k {
        add_outer(&mut r, 1.0, &n.h[u * nt..(u + 1) * nt]);
    }
    for i in 0..nt {
        r[i * nt + i] += k as f64;
    }
    let mut chol = Cholesky::new(nt);
    let ok = chol.factor(&r);
    let mut comm = vec![ZERO; k * nt];
    for u in 0..k {
        let c = &mut comm[u * nt..(u + 1) * nt];
        c.copy_from_slice(&n.h[u * nt..(u + 1) * nt]);
        if ok {
            chol.solve_in_place(c);
        }
        for b in &basis {
            let x = dotc(b, c);
            c.iter_mut().zip(b).for_each(|(ci, bi)| *ci -= bi * x);
        }
        let nc = norm_sqr(c).sqrt();
        if nc > 0.0 && nc.is_finite() {
            c.iter_mut().for_each(|x| *x /= nc);
        } else {
            c.iter_mut().for_each(|x| *x = ZERO);
        }
    }
    // Σ‖v_s + t u‖² = 1 → a t² + b t + c0 = 1.
    let qa = norm_sqr(&comm);
    let qb: f64 = 2.0 * dotc(&v, &comm).re;
    let c0 = norm_sqr(&v);
    if qa > 1e-20 && c0 < 1.0 {
        let t = (-qb + (qb * qb + 4.0 * qa * (1.0 - c0)).max(0.0).sqrt()) / (2.0 * qa);
        v.iter_mut().zip(&comm).for_each(|(x, y)| *x += y * t);
    } else if c0 > 0.0 {
        let s = 1.0 / c0.sqrt();
        v.iter_mut().for_each(|x| *x *= s);
    }
    clip_power(&mut v);
    v
}
