//! Time per BS solve (Table I): DualOpt vs the clarabel reference on the same
//! instances, network |S| = 18/36/54 (6/12/18 users per BS), Nt = 32, plus
//! Nt = 64/128. Both run Algorithm 2 with the same outer parameters; the
//! objectives reached are printed once per instance (stderr) so that the
//! times are compared at equal objective. The synthetic instances are then
//! checked against the simulator's own (`sim_K*`, benches/instances/): the
//! time per outer iteration is the same, the number of outer iterations is
//! not (at |Sℓ| = 6 the simulator's need about twice as many).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sdusc_beamforming::dualopt::{self, DualOptParams};
use sdusc_beamforming::npz;
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
    simulator_instances(&mut g);
    g.finish();
}

/// DualOpt on instances the simulator dumped: table1's first four at each
/// |Sℓ| (benches/instances/README.md), or any folder of `.npz` dumps
/// (`run-sdusc --dump-instances`) in `$SDUSC_BENCH_INSTANCES`. One benchmark
/// per size; an iteration solves the next instance in turn, so its time is
/// the mean over them, comparable with table1's mean DualOpt time and with
/// the in-run `bf_solve_s` of bs_epochs.parquet.
fn simulator_instances(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let dir = std::env::var_os("SDUSC_BENCH_INSTANCES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/instances")
        });
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "npz"))
        .collect();
    paths.sort();
    let dp = DualOptParams::default();
    let mut by_size: std::collections::BTreeMap<(usize, usize), Vec<_>> = Default::default();
    for path in &paths {
        let inst = npz::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (k, nt) = (inst.problem.num_users(), inst.problem.num_antennas());
        let (v, info) = dualopt::solve_from(&inst.problem, &inst.v0, &dp).expect("dualopt");
        eprintln!(
            "sim {}: K{k}_Nt{nt}, {} outer, {} inner, {:?} (first, cold), replays the dump: {}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            info.outer_iterations,
            info.inner_iterations.iter().sum::<usize>(),
            info.elapsed,
            v == inst.v
        );
        by_size.entry((k, nt)).or_default().push(inst);
    }
    for ((k, nt), insts) in &by_size {
        let mut next = 0;
        g.bench_function(
            BenchmarkId::new("dualopt", format!("sim_K{k}_Nt{nt}")),
            |b| {
                b.iter(|| {
                    let inst = &insts[next % insts.len()];
                    next += 1;
                    dualopt::solve_from(black_box(&inst.problem), &inst.v0, &dp)
                })
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
