//! PFZFG at the paper's size (40 users, Nt = 32, |S|max = 18): rank-one
//! (bordering) Gram-inverse updates against forming and inverting the Gram
//! matrix for every candidate.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use sdusc_scheduling::{C64, GramUpdate, PfzfgParams, ScheduleInput, Scheduler, schedule};

fn channels(seed: u64, k: usize, nt: usize) -> Vec<Vec<C64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..k)
        .map(|_| {
            (0..nt)
                .map(|_| {
                    let re: f64 = StandardNormal.sample(&mut rng);
                    let im: f64 = StandardNormal.sample(&mut rng);
                    C64::new(re, im) * 1e-4
                })
                .collect()
        })
        .collect()
}

fn bench_pfzfg(c: &mut Criterion) {
    let (k, nt, max) = (40, 32, 18);
    let h = channels(1, k, nt);
    let weights: Vec<f64> = (0..k).map(|i| 0.5 + (i as f64).sin().abs()).collect();
    let input = ScheduleInput {
        channels: &h,
        weights: &weights,
        forced: &[],
        power_w: 3.98,
        // High SNR so the greedy fills |S|max.
        noise_w: 1e-12,
        max_scheduled: max,
        codebook: None,
    };
    let mut group = c.benchmark_group("pfzfg_40users_nt32_s18");
    for (name, gram_update) in [
        ("rank_one", GramUpdate::RankOne),
        ("from_scratch", GramUpdate::FromScratch),
    ] {
        let scheduler = Scheduler::Pfzfg(PfzfgParams {
            gram_update,
            ..Default::default()
        });
        let s = schedule(&scheduler, &input).unwrap();
        eprintln!(
            "{name}: |S| = {}, objective {:.3}",
            s.users.len(),
            s.objective.unwrap_or(0.0)
        );
        group.bench_function(name, |b| {
            b.iter(|| schedule(&scheduler, std::hint::black_box(&input)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_pfzfg);
criterion_main!(benches);
