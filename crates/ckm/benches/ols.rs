//! Recovery throughput on the paper dictionary (Nt = 32, Nb = 64, Nθ = 180,
//! Np = 4): one OLS per cell, single thread (cells per second per core).
//! Inputs: noisy RSRP of random 4-path APSs at off-grid angles; the
//! `partial` case fits each cell on its 32 strongest beams only
//! (`--missing-beams unknown`, Gram rows summed per cell).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sdusc_ckm::{Dictionary, OlsParams, OlsScratch, recover, recover_partial};
use sdusc_model::codebook::dft_codebook;

fn inputs(nt: usize, nb: usize, cells: usize) -> (Vec<f64>, Vec<f64>) {
    let bins: Vec<f64> = (0..180)
        .map(|i| (-90.0 + (i as f64 + 0.5)).to_radians())
        .collect();
    let w = dft_codebook(nt, nb);
    let mut rng = StdRng::seed_from_u64(1);
    let mut r = Vec::with_capacity(cells * nb);
    for _ in 0..cells {
        // Σ α |w_bᴴ a(θ)|² for 4 random paths, computed directly.
        let paths: Vec<(f64, f64)> = (0..4)
            .map(|_| {
                (
                    rng.random_range(-3.1..3.1),
                    rng.random_range(0.2..1.0) * 1e-9,
                )
            })
            .collect();
        for b in 0..nb {
            let mut v = 0.0;
            for &(theta, alpha) in &paths {
                let a = sdusc_model::array::steering(nt, theta);
                let g: sdusc_model::C64 =
                    w.column(b).iter().zip(&a).map(|(x, y)| x.conj() * y).sum();
                v += 4.0 * alpha * g.norm_sqr();
            }
            r.push(v * rng.random_range(0.8..1.2) + 1e-13);
        }
    }
    (bins, r)
}

fn bench(c: &mut Criterion) {
    let (nt, nb, cells) = (32, 64, 2048);
    let (bins, r) = inputs(nt, nb, cells);
    let dict = Dictionary::new(&dft_codebook(nt, nb), &bins, 4.0);
    let mut group = c.benchmark_group("ols_paper");
    group.throughput(Throughput::Elements(cells as u64));
    for (name, passes) in [
        ("greedy+refine", OlsParams::default().refine_passes),
        ("greedy", 0),
    ] {
        let params = OlsParams {
            refine_passes: passes,
            ..OlsParams::default()
        };
        let mut scratch = OlsScratch::new(&dict, params.max_paths);
        let mut out = Vec::new();
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let mut paths = 0;
                for cell in r.chunks_exact(nb) {
                    paths += recover(&dict, black_box(cell), &params, &mut scratch, &mut out).paths;
                }
                paths
            })
        });
    }
    let masks: Vec<bool> = r
        .chunks_exact(nb)
        .flat_map(|cell| {
            let mut order: Vec<usize> = (0..nb).collect();
            order.sort_by(|&a, &b| cell[b].total_cmp(&cell[a]));
            let mut m = vec![false; nb];
            order[..nb / 2].iter().for_each(|&b| m[b] = true);
            m
        })
        .collect();
    let params = OlsParams::default();
    let mut scratch = OlsScratch::new(&dict, params.max_paths);
    let mut out = Vec::new();
    group.bench_function("partial+refine", |bench| {
        bench.iter(|| {
            let mut paths = 0;
            for (cell, m) in r.chunks_exact(nb).zip(masks.chunks_exact(nb)) {
                paths += recover_partial(
                    &dict,
                    black_box(cell),
                    Some(m),
                    &params,
                    &mut scratch,
                    &mut out,
                )
                .paths;
            }
            paths
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
