//! CWMMSE / PWMMSE at the paper size (SPEC §2, §10.4): L = 3 BSs × 18
//! scheduled users, Nt = 32, default [`WmmseParams`], on
//! [`synthetic::network`] instances. The WSR reached and the iteration count
//! are printed once per instance (stderr).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sdusc_beamforming::synthetic;
use sdusc_beamforming::wmmse::{self, WmmseParams};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("wmmse");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let params = WmmseParams::default();
    for (l, kc, nt) in [(3, 18, 32), (3, 6, 32)] {
        let p = synthetic::network(l, kc, nt, 11);
        let id = format!("L{l}_K{kc}_Nt{nt}");
        let (_, ic) = wmmse::cwmmse(&p, &params).expect("cwmmse");
        let (_, ip) = wmmse::pwmmse(&p, &params).expect("pwmmse");
        eprintln!(
            "{id}: CWMMSE WSR {:.6} ({} it, {:?}); PWMMSE WSR {:.6} ({} it, {:?})",
            ic.true_weighted_sum_rate,
            ic.iterations,
            ic.elapsed,
            ip.true_weighted_sum_rate,
            ip.iterations,
            ip.elapsed
        );
        g.bench_with_input(BenchmarkId::new("cwmmse", &id), &p, |b, p| {
            b.iter(|| wmmse::cwmmse(black_box(p), &params))
        });
        g.bench_with_input(BenchmarkId::new("pwmmse", &id), &p, |b, p| {
            b.iter(|| wmmse::pwmmse(black_box(p), &params))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
