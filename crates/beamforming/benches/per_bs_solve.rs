//! Time per BS solve (Table I): DualOpt vs the clarabel reference on the same
//! instances, network |S| = 18/36/54 (6/12/18 users per BS), Nt = 32, plus
//! Nt = 64/128. Both run Algorithm 2 with the same outer parameters; the
//! objectives reached are printed once per instance (stderr) so that the
//! times are compared at equal objective.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sdusc_beamforming::dualopt::{self, DualOptParams};
use sdusc_beamforming::reference::{self, RefParams};
use sdusc_beamforming::salinr;
use sdusc_beamforming::synthetic::{SyntheticParams, instance};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("per_bs_solve");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    // (users per BS, Nt, run the reference too)
    for (k, nt, with_ref) in [
        (6, 32, true),
        (12, 32, true),
        (18, 32, true),
        (6, 64, true),
        (18, 64, false),
        (6, 128, false),
        (18, 128, false),
    ] {
        // Sensing at c̄ = 1 with the constraint active for some users.
        let p = instance(
            &SyntheticParams {
                users: k,
                antennas: nt,
                sensing: Some((1.0, 0.02)),
                per_user_leakage: false,
            },
            7,
        );
        let dp = DualOptParams::default();
        let rp = RefParams::default();
        let (vd, id) = dualopt::solve(&p, &dp).expect("dualopt");
        let od = salinr::objective(&p, &vd).expect("objective");
        let id_str = format!("K{k}_Nt{nt}");
        if with_ref {
            let (vr, ir) = reference::solve_fp(&p, &rp).expect("reference");
            let or = salinr::objective(&p, &vr).expect("objective");
            eprintln!(
                "{id_str}: objective DualOpt {od:.6} ({} outer, {:?}) reference {or:.6} ({} outer, {:?}), rel diff {:.1e}, relaxed {:?}",
                id.outer_iterations,
                id.elapsed,
                ir.outer_iterations,
                ir.elapsed,
                (od - or) / or,
                id.relaxed_users
            );
            g.bench_with_input(BenchmarkId::new("reference", &id_str), &p, |b, p| {
                b.iter(|| reference::solve_fp(black_box(p), &rp))
            });
        } else {
            eprintln!(
                "{id_str}: objective DualOpt {od:.6} ({} outer, {:?})",
                id.outer_iterations, id.elapsed
            );
        }
        g.bench_with_input(BenchmarkId::new("dualopt", &id_str), &p, |b, p| {
            b.iter(|| dualopt::solve(black_box(p), &dp))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
