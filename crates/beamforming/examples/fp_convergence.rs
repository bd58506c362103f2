//! The outer stopping rule's trade-off (FpParams::rel_tol, ::extrapolate) on
//! the bench instances: outer iterations, time per solve and the relative gap
//! to the objective of the same loop run to rel_tol = 1e-12.
//!
//! `cargo run --release -p sdusc-beamforming --example fp_convergence [rel_tol]`

use std::time::Instant;

use sdusc_beamforming::dualopt::{self, DualOptParams};
use sdusc_beamforming::fp::FpParams;
use sdusc_beamforming::salinr;
use sdusc_beamforming::synthetic::{SyntheticParams, instance};

fn main() {
    let tol: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(FpParams::default().rel_tol);
    println!("rel_tol {tol:.0e}");
    println!("case        extrap  outer  time/solve   objective    converged    gap");
    for (k, nt) in [
        (6, 32),
        (12, 32),
        (18, 32),
        (6, 64),
        (18, 64),
        (6, 128),
        (18, 128),
    ] {
        let p = instance(
            &SyntheticParams {
                users: k,
                antennas: nt,
                sensing: Some((1.0, 0.02)),
                per_user_leakage: false,
            },
            7,
        );
        for extrapolate in [false, true] {
            let fp = |rel_tol, max_outer| DualOptParams {
                fp: FpParams {
                    rel_tol,
                    max_outer,
                    extrapolate,
                    ..FpParams::default()
                },
                ..DualOptParams::default()
            };
            let (vf, _) = dualopt::solve(&p, &fp(1e-12, 3000)).expect("dualopt");
            let of = salinr::objective(&p, &vf).expect("objective");
            let params = fp(tol, FpParams::default().max_outer);
            let reps = 5;
            let t = Instant::now();
            let mut out = None;
            for _ in 0..reps {
                out = Some(dualopt::solve(&p, &params).expect("dualopt"));
            }
            let el = t.elapsed() / reps;
            let (v, info) = out.expect("reps > 0");
            let o = salinr::objective(&p, &v).expect("objective");
            println!(
                "K{k:<2} Nt{nt:<4} {extrapolate:<6} {:>5}  {el:>10.2?}  {o:>10.6}  {of:>10.6}  {:>8.1e}",
                info.outer_iterations,
                (of - o) / of
            );
        }
    }
}
