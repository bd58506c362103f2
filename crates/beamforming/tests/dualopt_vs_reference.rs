//! DualOpt against the clarabel reference on the subproblem (26) and on the
//! whole FP loop (SPEC §10.5), plus the outer-loop invariants.

use sdusc_beamforming::dualopt::{self, DualOpt, DualOptParams, MatrixForm};
use sdusc_beamforming::fp::{self, FpParams, Subproblem};
use sdusc_beamforming::reference::{self, RefParams};
use sdusc_beamforming::synthetic::{SyntheticParams, instance};
use sdusc_beamforming::{Beams, SalinrProblem, salinr};

/// Sensing regimes: (c̄, mean s_k = σz²/(P b_k)).
const INACTIVE: Option<(f64, f64)> = Some((1.0, 1e-4));
const ACTIVE: Option<(f64, f64)> = Some((0.01, 0.05));
const INFEASIBLE: Option<(f64, f64)> = Some((0.01, 3.0));

/// Relative objective tolerance against the reference, and constraint tolerance
/// (normalised units: P = 1, sensing terms scaled by 1 + s_k + c|α_k|²).
const OBJ_TOL: f64 = 1e-4;
const CON_TOL: f64 = 1e-7;

fn problem(k: usize, nt: usize, sensing: Option<(f64, f64)>, seed: u64) -> SalinrProblem {
    instance(
        &SyntheticParams {
            users: k,
            antennas: nt,
            sensing,
            per_user_leakage: false,
        },
        seed,
    )
}

/// Subproblems at the initial point and after a few DualOpt outer iterations.
fn subproblems(p: &SalinrProblem) -> Vec<(Subproblem, Vec<sdusc_beamforming::c64>)> {
    let v0 = fp::initial_beams(p, &FpParams::default()).expect("init");
    let params = DualOptParams {
        fp: FpParams {
            max_outer: 3,
            ..FpParams::default()
        },
        ..Default::default()
    };
    let (v3, _) = dualopt::solve(p, &params).expect("dualopt");
    [v0, v3]
        .iter()
        .map(|v: &Beams| fp::linearize(p, v).expect("linearize"))
        .collect()
}

/// Ok(()) when the inner solution matches the reference; Err(why) otherwise.
fn check(sub: &Subproblem, form: MatrixForm) -> Result<bool, String> {
    let mut d = DualOpt::new(&DualOptParams {
        form,
        ..Default::default()
    });
    let ours = d.solve_subproblem(sub).map_err(|e| e.to_string())?;
    let refr = reference::solve_subproblem(sub, &RefParams::default()).expect("reference");
    let (fo, fr) = (sub.objective(&ours.v), sub.objective(&refr.v));
    let rel = (fo - fr) / fr.abs().max(1e-12);
    if rel.abs() > OBJ_TOL {
        return Err(format!("objective {fo} vs reference {fr} (rel {rel:e})"));
    }
    let cons = sub.constraint_values(&ours.v);
    let mut any_sensing_active = false;
    for (i, g) in cons.iter().enumerate() {
        let scale = if i == 0 {
            1.0
        } else {
            let s = sub.sensing.as_ref().expect("sensing");
            1.0 + s.noise[i - 1] + s.c * s.alpha[i - 1].norm_sqr()
        };
        if *g > CON_TOL * scale {
            return Err(format!("constraint {i} violated by {g:e}"));
        }
        // Active sensing constraint at the reference optimum.
        if i > 0 && sub.sensing.as_ref().is_some_and(|s| s.constrained[i - 1]) {
            let gr = sub.constraint_values(&refr.v)[i];
            any_sensing_active |= gr > -1e-5 * scale;
        }
    }
    Ok(any_sensing_active)
}

#[test]
fn dualopt_solves_subproblem_26_like_clarabel() {
    let mut cases = 0;
    let mut active_cases = Vec::new();
    for (k, nt) in [(2, 8), (4, 8), (9, 8), (2, 32), (6, 32), (12, 32), (18, 32)] {
        for (ri, regime) in [None, INACTIVE, ACTIVE, INFEASIBLE].into_iter().enumerate() {
            let p = problem(k, nt, regime, 100 + (k * 10 + ri) as u64);
            for sub in subproblems(&p) {
                let active = check(&sub.0, MatrixForm::Corrected)
                    .unwrap_or_else(|e| panic!("K={k} Nt={nt} regime {regime:?}: {e}"));
                cases += 1;
                let multi = sub
                    .0
                    .sensing
                    .as_ref()
                    .is_some_and(|s| s.constrained.iter().filter(|&&c| c).count() >= 2);
                if active && multi {
                    active_cases.push(sub.0);
                }
            }
        }
    }
    assert_eq!(cases, 56);
    // Instances where the Σ_{j≠k} μ_j B_j term matters: several active sensing
    // constraints. The paper's uncorrected per-user matrix must fail on them.
    assert!(
        active_cases.len() >= 4,
        "only {} active multi-constraint cases",
        active_cases.len()
    );
    let failures = active_cases
        .iter()
        .filter(|s| check(s, MatrixForm::PaperUncorrected).is_err())
        .count();
    assert!(
        failures * 2 >= active_cases.len(),
        "uncorrected form failed only {failures}/{}",
        active_cases.len()
    );
}

#[test]
fn full_fp_matches_reference_fp() {
    for (k, nt, regime, seed) in [
        (3, 8, None, 1),
        (6, 32, ACTIVE, 2),
        (6, 32, INACTIVE, 3),
        (8, 8, INFEASIBLE, 4),
    ] {
        let p = problem(k, nt, regime, seed);
        let (vd, id) = dualopt::solve(&p, &DualOptParams::default()).expect("dualopt");
        let (vr, ir) = reference::solve_fp(&p, &RefParams::default()).expect("reference");
        let (od, or) = (
            salinr::objective(&p, &vd).unwrap(),
            salinr::objective(&p, &vr).unwrap(),
        );
        assert!((od - or).abs() <= 1e-3 * or.abs(), "K={k}: {od} vs {or}");
        assert_eq!(id.relaxed_users, ir.relaxed_users);
        assert!((id.objective_history.last().unwrap() - od).abs() <= 1e-9 * od.abs());
    }
}

#[test]
fn objective_non_decreasing_power_respected_sensing_kept() {
    for seed in 0..12u64 {
        let k = 2 + (seed as usize * 5) % 17;
        let nt = if seed % 2 == 0 { 8 } else { 32 };
        let regime = [None, INACTIVE, ACTIVE, INFEASIBLE][seed as usize % 4];
        let p = problem(k, nt, regime, 1000 + seed);
        let (v, info) = dualopt::solve(&p, &DualOptParams::default()).expect("dualopt");
        for w in info.objective_history.windows(2) {
            assert!(
                w[1] >= w[0] - 1e-9 * w[0].abs(),
                "seed {seed}: {} → {}",
                w[0],
                w[1]
            );
        }
        let power: f64 = v.iter().map(|x| x.norm_sqr()).sum();
        assert!(
            power <= p.power_budget,
            "seed {seed}: power {power} > {}",
            p.power_budget
        );
        assert!(info.power_residual <= 0.0);
        assert!(v.iter().all(|x| x.re.is_finite() && x.im.is_finite()));
        if let Some(var) = salinr::sensing_variances(&p, &v).unwrap() {
            let cbar = p.sensing.as_ref().unwrap().threshold;
            for (u, s2) in var.iter().enumerate() {
                if !info.relaxed_users.contains(&u) {
                    assert!(
                        *s2 <= cbar * (1.0 + 1e-6),
                        "seed {seed} user {u}: σ² = {s2} > c̄ = {cbar}"
                    );
                }
            }
        }
    }
}

#[test]
fn infeasible_sensing_is_relaxed_and_reported() {
    // Huge sensing noise: no user can meet c̄ within the budget.
    let p = problem(6, 32, Some((0.01, 1e3)), 9);
    let (v, info) = dualopt::solve(&p, &DualOptParams::default()).expect("dualopt");
    assert_eq!(info.relaxed_users, vec![0, 1, 2, 3, 4, 5]);
    assert!(v.iter().all(|x| x.re.is_finite() && x.im.is_finite()));
    assert!(info.objective_history.last().unwrap().is_finite());
    // Partially infeasible: users 1 and 4 get a negligible echo, the rest are easy.
    let mut p = problem(6, 32, INACTIVE, 104);
    let s = p.sensing.as_mut().unwrap();
    s.echo_gain[1] *= 1e-9;
    s.echo_gain[4] *= 1e-9;
    let (_, info) = dualopt::solve(&p, &DualOptParams::default()).expect("dualopt");
    assert_eq!(info.relaxed_users, vec![1, 4]);
}

#[test]
fn slinr_per_user_leakage_matches_reference() {
    for (k, nt, regime, seed) in [(4, 8, None, 5), (6, 32, ACTIVE, 6)] {
        let p = instance(
            &SyntheticParams {
                users: k,
                antennas: nt,
                sensing: regime,
                per_user_leakage: true,
            },
            seed,
        );
        for (sub, _) in subproblems(&p) {
            check(&sub, MatrixForm::Corrected).unwrap_or_else(|e| panic!("SLINR K={k}: {e}"));
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut p = problem(3, 8, ACTIVE, 1);
    p.noise_power = f64::NAN;
    assert!(dualopt::solve(&p, &DualOptParams::default()).is_err());
    let mut p = problem(3, 8, ACTIVE, 1);
    p.power_budget = 0.0;
    assert!(dualopt::solve(&p, &DualOptParams::default()).is_err());
    let mut p = problem(3, 8, ACTIVE, 1);
    p.weights.pop();
    assert!(reference::solve_fp(&p, &RefParams::default()).is_err());
    let mut p = problem(3, 8, None, 1);
    p.channels[[0, 0]].re = f64::INFINITY;
    assert!(dualopt::solve(&p, &DualOptParams::default()).is_err());
}
