//! CWMMSE / PWMMSE: monotone weighted sum rate, KKT at convergence, and the
//! value of coordination under strong interference.

use ndarray::Array3;
use sdusc_beamforming::c64;
use sdusc_beamforming::evaluate::{true_sinr, weighted_sum_rate_nats};
use sdusc_beamforming::synthetic::Rng;
use sdusc_beamforming::wmmse::{NetworkProblem, WmmseParams, cwmmse, pwmmse};

/// L cells × `per_cell` users, Rayleigh channels; inter-cell gain `cross` relative to intra.
fn network(l: usize, per_cell: usize, nt: usize, cross: f64, seed: u64) -> NetworkProblem {
    let mut rng = Rng::new(seed);
    let k = l * per_cell;
    let serving: Vec<usize> = (0..k).map(|u| u / per_cell).collect();
    let mut gauss = move || {
        let (u1, u2) = (rng.uniform().max(1e-300), rng.uniform());
        let r = (-u1.ln()).sqrt();
        c64::from_polar(r, std::f64::consts::TAU * u2)
    };
    let channels = Array3::from_shape_fn((l, k, nt), |(m, u, _)| {
        gauss() * if serving[u] == m { 1.0 } else { cross.sqrt() }
    });
    NetworkProblem {
        channels,
        serving,
        weights: (0..k).map(|u| 0.5 + (u % 3) as f64 * 0.5).collect(),
        noise_power: 0.1,
        power_budgets: vec![1.0; l],
    }
}

#[test]
fn weighted_sum_rate_is_non_decreasing() {
    for (l, kc, nt, seed) in [(1, 4, 4, 1), (3, 3, 4, 2), (3, 6, 8, 3)] {
        let p = network(l, kc, nt, 0.5, seed);
        let (_, info) = cwmmse(
            &p,
            &WmmseParams {
                max_iter: 300,
                rel_tol: 0.0,
            },
        )
        .unwrap();
        assert!(info.wsr_history.len() > 10);
        for w in info.wsr_history.windows(2) {
            assert!(
                w[1] >= w[0] - 1e-10 * w[0].abs(),
                "L={l}: {} → {}",
                w[0],
                w[1]
            );
        }
        let (_, pinfo) = pwmmse(
            &p,
            &WmmseParams {
                max_iter: 300,
                rel_tol: 0.0,
            },
        )
        .unwrap();
        for w in pinfo.wsr_history.windows(2) {
            assert!(w[1] >= w[0] - 1e-10 * w[0].abs());
        }
    }
}

/// ∂/∂v_k* of Σ_i w_i ln(1 + SINR_i) = Σ_i w_i [h h ᴴ v_k / T_i − 1{i≠k} h hᴴ v_k / I_i], h = h_{b_k,i}.
fn gradient(p: &NetworkProblem, v: &ndarray::Array2<c64>) -> Vec<Vec<c64>> {
    let (_, k, nt) = p.channels.dim();
    let amp = |m: usize, i: usize, j: usize| -> c64 {
        (0..nt)
            .map(|n| p.channels[[m, i, n]].conj() * v[[j, n]])
            .sum()
    };
    let mut t = vec![p.noise_power; k];
    let mut s = vec![0.0; k];
    for i in 0..k {
        for j in 0..k {
            let g = amp(p.serving[j], i, j).norm_sqr();
            t[i] += g;
            if i == j {
                s[i] = g;
            }
        }
    }
    (0..k)
        .map(|u| {
            let m = p.serving[u];
            let mut g = vec![c64::new(0.0, 0.0); nt];
            for i in 0..k {
                let a = amp(m, i, u);
                let c =
                    p.weights[i] * (1.0 / t[i] - if i != u { 1.0 / (t[i] - s[i]) } else { 0.0 });
                for n in 0..nt {
                    g[n] += p.channels[[m, i, n]] * a * c;
                }
            }
            g
        })
        .collect()
}

#[test]
fn converged_beams_satisfy_kkt() {
    for (l, kc, nt, seed) in [(2, 2, 4, 7), (3, 2, 4, 8)] {
        let p = network(l, kc, nt, 0.3, seed);
        let (v, info) = cwmmse(
            &p,
            &WmmseParams {
                max_iter: 20000,
                rel_tol: 1e-15,
            },
        )
        .unwrap();
        let g = gradient(&p, &v);
        for m in 0..l {
            let users: Vec<usize> = (0..p.serving.len())
                .filter(|&u| p.serving[u] == m)
                .collect();
            // Least-squares multiplier ν_m from ∇ = ν_m v on BS m's beams.
            let num: f64 = users
                .iter()
                .map(|&u| {
                    (0..nt)
                        .map(|n| (v[[u, n]].conj() * g[u][n]).re)
                        .sum::<f64>()
                })
                .sum();
            let pw: f64 = users
                .iter()
                .map(|&u| (0..nt).map(|n| v[[u, n]].norm_sqr()).sum::<f64>())
                .sum();
            let nu = num / pw;
            let mut res = 0.0;
            let mut gn = 0.0;
            for &u in &users {
                for n in 0..nt {
                    res += (g[u][n] - v[[u, n]] * nu).norm_sqr();
                    gn += g[u][n].norm_sqr();
                }
            }
            assert!(
                res.sqrt() <= 1e-4 * gn.sqrt().max(1e-12),
                "BS {m}: stationarity residual {} vs ‖∇‖ {}",
                res.sqrt(),
                gn.sqrt()
            );
            assert!(nu >= -1e-8, "BS {m}: negative multiplier {nu}");
            // Complementary slackness: ν_m (P_m − Σ‖v‖²) = 0.
            assert!(
                (nu * (p.power_budgets[m] - pw)).abs() <= 1e-6 * (1.0 + nu),
                "BS {m}: ν={nu}, slack {}",
                p.power_budgets[m] - pw
            );
            assert!(pw <= p.power_budgets[m] * (1.0 + 1e-12));
        }
        assert!(info.converged);
    }
}

#[test]
fn coordination_beats_per_cell_under_strong_interference() {
    for seed in 0..4 {
        let p = network(3, 4, 8, 0.8, 20 + seed);
        let params = WmmseParams::default();
        let (vc, ic) = cwmmse(&p, &params).unwrap();
        let (vp, ip) = pwmmse(&p, &params).unwrap();
        let tc = weighted_sum_rate_nats(
            &true_sinr(&p.channels, &p.serving, &vc, p.noise_power).unwrap(),
            &p.weights,
        );
        let tp = weighted_sum_rate_nats(
            &true_sinr(&p.channels, &p.serving, &vp, p.noise_power).unwrap(),
            &p.weights,
        );
        assert!(
            (tc - ic.true_weighted_sum_rate).abs() < 1e-12
                && (tp - ip.true_weighted_sum_rate).abs() < 1e-12
        );
        assert!(tc > tp, "seed {seed}: CWMMSE {tc} ≤ PWMMSE {tp}");
    }
}
