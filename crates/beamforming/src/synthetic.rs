//! Synthetic per-BS instances shaped like the simulator's (used by the tests
//! and the benchmarks; deterministic from a seed, no external RNG).
//!
//! Nt-element half-wavelength ULA, a(θ) = [1, e^{jπ sinθ}, …]ᵀ/√Nt; intra-cell
//! users at d ~ U(10, 120) m, θ ~ U(−π/3, π/3), channel = LoS + 3 NLoS paths
//! (power ratio U(4, 9)) with path loss α0 d^−2, α0 = 1e−6; D̂ from 2K users of
//! the other cells (4 NLoS paths each, d ~ U(100, 250) m); P = 10^0.6 W (36 dBm);
//! σc² set for a 15 dB SNR (SPEC §4.4); PF weights U(0.5, 2).

use ndarray::Array2;

use crate::c64;
use crate::problem::{Leakage, SalinrProblem, SensingData};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticParams {
    /// Scheduled users K.
    pub users: usize,
    /// Transmit antennas Nt.
    pub antennas: usize,
    /// Sensing: (threshold c̄, target mean of s_k = σz²/(P b_k)); None: no sensing.
    pub sensing: Option<(f64, f64)>,
    /// SLINR (per-user leakage) instead of SALINR.
    pub per_user_leakage: bool,
}

/// splitmix64: a tiny deterministic generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [a, b).
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.uniform()
    }
}

/// a(θ) of an Nt-element half-wavelength ULA, unit norm.
pub fn steering(nt: usize, theta: f64) -> Vec<c64> {
    let s = 1.0 / (nt as f64).sqrt();
    (0..nt)
        .map(|n| c64::from_polar(s, std::f64::consts::PI * n as f64 * theta.sin()))
        .collect()
}

fn channel(rng: &mut Rng, nt: usize, d: f64, los: Option<f64>) -> Vec<c64> {
    let alpha = 1e-6 / (d * d);
    let mut h = vec![c64::new(0.0, 0.0); nt];
    let mut add = |rng: &mut Rng, p: f64, th: f64| {
        let ph = c64::from_polar(
            p.sqrt() * (nt as f64).sqrt(),
            rng.range(0.0, std::f64::consts::TAU),
        );
        for (x, a) in h.iter_mut().zip(steering(nt, th)) {
            *x += a * ph;
        }
    };
    let nlos = if let Some(th) = los {
        add(rng, alpha, th);
        3
    } else {
        4
    };
    for _ in 0..nlos {
        let rho = rng.range(4.0, 9.0);
        let th = rng.range(-std::f64::consts::PI, std::f64::consts::PI);
        add(rng, alpha / rho, th);
    }
    h
}

/// One per-BS problem.
pub fn instance(params: &SyntheticParams, seed: u64) -> SalinrProblem {
    let mut rng = Rng::new(seed);
    let (k, nt) = (params.users, params.antennas);
    let p = 10f64.powf(0.6);
    let mut angles = Vec::with_capacity(k);
    let mut dists = Vec::with_capacity(k);
    let mut rows = Vec::with_capacity(k * nt);
    for _ in 0..k {
        let d = rng.range(10.0, 120.0);
        let th = rng.range(-std::f64::consts::FRAC_PI_3, std::f64::consts::FRAC_PI_3);
        rows.extend(channel(&mut rng, nt, d, Some(th)));
        angles.push(th);
        dists.push(d);
    }
    let mut dmat = Array2::<c64>::zeros((nt, nt));
    for _ in 0..2 * k {
        let d = rng.range(100.0, 250.0);
        let h = channel(&mut rng, nt, d, None);
        for i in 0..nt {
            for j in 0..nt {
                dmat[[i, j]] += h[i] * h[j].conj();
            }
        }
    }
    let channels = Array2::from_shape_vec((k, nt), rows).unwrap_or_else(|_| Array2::zeros((k, nt)));
    let mean_gain: f64 = channels.iter().map(|x| x.norm_sqr()).sum::<f64>() / k as f64;
    let noise_power = p * mean_gain / (nt as f64 * 10f64.powf(1.5));
    let leakage = if params.per_user_leakage {
        Leakage::PerUser(dmat)
    } else {
        Leakage::Averaged(dmat.mapv(|x| x / k as f64))
    };
    let weights = (0..k).map(|_| rng.range(0.5, 2.0)).collect();
    let sensing = params.sensing.map(|(threshold, s_mean)| {
        // Echo gain ∝ |β|² ∝ d⁻² (SPEC §8); σz² from the target s = σz²/(P b).
        let echo_gain: Vec<f64> = dists.iter().map(|d| 1e-9 * (50.0 / d).powi(2)).collect();
        let mean_b = echo_gain.iter().sum::<f64>() / k as f64;
        let mut st = Array2::<c64>::zeros((k, nt));
        for (u, th) in angles.iter().enumerate() {
            // Sensed angle: true angle plus a small error.
            let a = steering(nt, th + rng.range(-0.01, 0.01));
            for n in 0..nt {
                st[[u, n]] = a[n];
            }
        }
        SensingData {
            steering: st,
            echo_gain,
            sensing_noise: s_mean * p * mean_b,
            threshold,
            error_scale_sq: 0.01,
        }
    });
    SalinrProblem {
        channels,
        leakage,
        weights,
        noise_power,
        power_budget: p,
        sensing,
    }
}

/// A network-wide WMMSE instance shaped like the paper scenario (SPEC §2):
/// `cells` BSs (the first three at (0,0), (180,0), (90, 90√3) m, further ones
/// on a 180 m ring), `users_per_cell` users per cell at d ~ U(10, 120) m,
/// θ ~ U(−π/3, π/3) from their BS; the serving link is LoS + 3 NLoS, every
/// other BS–user link 4 NLoS (path loss from the true distance); P = 36 dBm per
/// BS, σc² for a 15 dB SNR, PF weights U(0.5, 2). The serving BS of user k is
/// k / users_per_cell.
pub fn network(
    cells: usize,
    users_per_cell: usize,
    antennas: usize,
    seed: u64,
) -> crate::wmmse::NetworkProblem {
    let mut rng = Rng::new(seed);
    let (l, nt) = (cells, antennas);
    let k = l * users_per_cell;
    let p = 10f64.powf(0.6);
    let bs: Vec<(f64, f64)> = (0..l)
        .map(|m| match m {
            0 => (0.0, 0.0),
            1 => (180.0, 0.0),
            2 => (90.0, 90.0 * 3f64.sqrt()),
            _ => {
                let a = std::f64::consts::TAU * m as f64 / l as f64;
                (180.0 * a.cos(), 180.0 * a.sin())
            }
        })
        .collect();
    let serving: Vec<usize> = (0..k).map(|u| u / users_per_cell.max(1)).collect();
    let mut channels = ndarray::Array3::<c64>::zeros((l, k, nt));
    for (u, &b) in serving.iter().enumerate() {
        let d = rng.range(10.0, 120.0);
        let th = rng.range(-std::f64::consts::FRAC_PI_3, std::f64::consts::FRAC_PI_3);
        let pos = (bs[b].0 + d * th.cos(), bs[b].1 + d * th.sin());
        for (m, &(x, y)) in bs.iter().enumerate() {
            let h = if m == b {
                channel(&mut rng, nt, d, Some(th))
            } else {
                let dm = ((pos.0 - x).powi(2) + (pos.1 - y).powi(2)).sqrt().max(1.0);
                channel(&mut rng, nt, dm, None)
            };
            for (i, hi) in h.into_iter().enumerate() {
                channels[[m, u, i]] = hi;
            }
        }
    }
    let mean_gain: f64 = (0..k)
        .map(|u| {
            (0..nt)
                .map(|i| channels[[serving[u], u, i]].norm_sqr())
                .sum::<f64>()
        })
        .sum::<f64>()
        / k.max(1) as f64;
    let noise_power = p * mean_gain / (nt as f64 * 10f64.powf(1.5));
    crate::wmmse::NetworkProblem {
        channels,
        serving,
        weights: (0..k).map(|_| rng.range(0.5, 2.0)).collect(),
        noise_power,
        power_budgets: vec![p; l],
    }
}
