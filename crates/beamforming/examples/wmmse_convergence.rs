//! The WMMSE stopping rule's trade-off (`WmmseParams::rel_tol`, `::max_iter`)
//! at the paper size (L = 3 × 18 users, Nt = 32, [`synthetic::network`]):
//! iterations, time per call and the relative gap of the true weighted sum
//! rate to the same iteration run to rel_tol = 1e-8 (max_iter 10 000), as
//! mean and worst case over the seeds.
//!
//! `cargo run --release -p sdusc-beamforming --example wmmse_convergence [seeds]`

use std::time::Instant;

use sdusc_beamforming::synthetic;
use sdusc_beamforming::wmmse::{self, NetworkProblem, WmmseInfo, WmmseParams};

type Solver = fn(&NetworkProblem, &WmmseParams) -> (f64, WmmseInfo);

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let cw: Solver = |p, q| {
        let (_, i) = wmmse::cwmmse(p, q).expect("cwmmse");
        (i.true_weighted_sum_rate, i)
    };
    let pw: Solver = |p, q| {
        let (_, i) = wmmse::pwmmse(p, q).expect("pwmmse");
        (i.true_weighted_sum_rate, i)
    };
    let tight = WmmseParams {
        max_iter: 10_000,
        rel_tol: 1e-8,
    };
    let cases: Vec<WmmseParams> = [
        (1e-3, 100),
        (1e-4, 50),
        (1e-4, 100),
        (1e-5, 100),
        (1e-5, 200),
        (1e-6, 200),
    ]
    .iter()
    .map(|&(rel_tol, max_iter)| WmmseParams { max_iter, rel_tol })
    .collect();
    let def = WmmseParams::default();
    println!(
        "default: rel_tol {:.0e}, max_iter {}; {seeds} seeds",
        def.rel_tol, def.max_iter
    );
    println!(
        "scheme  rel_tol  max_iter  iters(mean/max)  time/call   gap mean   gap max   (PWMMSE gap: signed, true WSR)"
    );
    for (name, solve) in [("CWMMSE", cw), ("PWMMSE", pw)] {
        let probs: Vec<NetworkProblem> = (0..seeds)
            .map(|s| synthetic::network(3, 18, 32, 100 + s))
            .collect();
        let refs: Vec<(f64, usize)> = probs
            .iter()
            .map(|p| {
                let (w, i) = solve(p, &tight);
                (w, i.iterations)
            })
            .collect();
        let ref_it = refs.iter().map(|r| r.1).max().unwrap_or(0);
        println!("{name}  reference 1e-8: up to {ref_it} iterations");
        for c in &cases {
            let (mut gsum, mut gmax, mut isum, mut imax) = (0.0, 0.0_f64, 0, 0);
            let t0 = Instant::now();
            for (p, (wref, _)) in probs.iter().zip(&refs) {
                let (w, i) = solve(p, c);
                let gap = (wref - w) / wref.abs();
                gsum += gap;
                gmax = gmax.max(gap.abs());
                isum += i.iterations;
                imax = imax.max(i.iterations);
            }
            let t = t0.elapsed() / seeds as u32;
            println!(
                "{name}  {:7.0e}  {:8}  {:6.1}/{:<6}  {:>9.2?}  {:9.2e}  {:8.2e}",
                c.rel_tol,
                c.max_iter,
                isum as f64 / seeds as f64,
                imax,
                t,
                gsum / seeds as f64,
                gmax
            );
        }
    }
}
