//! The simulated drive test (SPEC §5.1, eq. (34)).
//!
//! The RSRP of beam b at location p is measured over T snapshots with fresh
//! path phases (the vehicle passes at different instants, so phases are drawn
//! U(0, 2π) per snapshot whatever the epoch phase model) and receiver noise:
//!
//! ```text
//! r_b = (1/T) Σ_t | sqrt(P_T) w_bᴴ h_t + n_t |²,   n_t ~ CN(0, σc²)
//! E[r_b] = P_T Σ_q α_q |w_bᴴ a(θ_q)|² + σc²
//! ```
//!
//! Which grid cells are measured: each cell of the BS's CKM area is visited
//! with probability `measured_fraction`, decided by a keyed draw per
//! (seed, BS, cell), so the selection does not depend on traversal order.

use std::f64::consts::TAU;

use ndarray::Array2;

use crate::C64;
use crate::array::steering_into;
use crate::channel::Environment;
use crate::geometry::Point;
use crate::rng;

/// Reusable buffers of [`measure_into`].
#[derive(Debug, Clone)]
pub struct Scratch {
    steer: Vec<C64>,
    /// w_bᴴ a(θ_q), row q.
    proj: Vec<C64>,
}

impl Scratch {
    pub fn new(nt: usize, nb: usize, np: usize) -> Self {
        Self {
            steer: vec![C64::new(0.0, 0.0); nt],
            proj: vec![C64::new(0.0, 0.0); nb * np],
        }
    }
}

/// Is grid cell (ix, iy) of BS `b` measured by the drive test?
pub fn is_measured(seed: u64, b: usize, ix: usize, iy: usize, fraction: f64) -> bool {
    fraction >= 1.0
        || rng::uniform(&[rng::tag::MEASURED, seed, b as u64, ix as u64, iy as u64]) < fraction
}

/// Measure the RSRP (W) of every beam of `codebook` (Nt×Nb, column b = w_b)
/// from BS `b` at `p`; `cell_key` addresses the randomness of this measurement.
pub fn measure_into(
    env: &Environment,
    codebook: &Array2<C64>,
    b: usize,
    p: Point,
    power_w: f64,
    noise_w: f64,
    snapshots: usize,
    seed: u64,
    cell_key: u64,
    scratch: &mut Scratch,
    out: &mut [f64],
) {
    let nb = codebook.ncols();
    let paths = env.paths(b, p);
    // STEP 1: project every path's steering vector on every beam once.
    for (q, path) in paths.iter().enumerate() {
        steering_into(path.theta, &mut scratch.steer);
        for beam in 0..nb {
            let w = codebook.column(beam);
            scratch.proj[q * nb + beam] = w
                .iter()
                .zip(&scratch.steer)
                .map(|(w, a)| w.conj() * a)
                .sum();
        }
    }
    // STEP 2: snapshots with fresh phases and noise.
    out.iter_mut().for_each(|r| *r = 0.0);
    let amp_noise = (noise_w / 2.0).sqrt();
    for t in 0..snapshots {
        let words = [rng::tag::RSRP, seed, b as u64, cell_key, t as u64];
        let gains: Vec<C64> = paths
            .iter()
            .enumerate()
            .map(|(q, path)| {
                let phase = TAU * rng::uniform(&[rng::key(&words), q as u64]);
                C64::from_polar((power_w * path.power).sqrt(), phase)
            })
            .collect();
        for (beam, r) in out.iter_mut().enumerate() {
            let mut y: C64 = gains
                .iter()
                .enumerate()
                .map(|(q, g)| g * scratch.proj[q * nb + beam])
                .sum();
            let k = rng::key(&[rng::key(&words), 1000 + beam as u64]);
            y += C64::new(
                amp_noise * rng::normal(&[k, 0]),
                amp_noise * rng::normal(&[k, 1]),
            );
            *r += y.norm_sqr();
        }
    }
    out.iter_mut().for_each(|r| *r /= snapshots as f64);
}

/// The noise-free expected RSRP P_T Σ_q α_q |w_bᴴ a(θ_q)|² (W) of every beam.
pub fn expected_rsrp(
    env: &Environment,
    codebook: &Array2<C64>,
    b: usize,
    p: Point,
    power_w: f64,
) -> Vec<f64> {
    let nt = codebook.nrows();
    let mut steer = vec![C64::new(0.0, 0.0); nt];
    let mut out = vec![0.0; codebook.ncols()];
    for path in env.paths(b, p) {
        steering_into(path.theta, &mut steer);
        for (beam, r) in out.iter_mut().enumerate() {
            let g: C64 = codebook
                .column(beam)
                .iter()
                .zip(&steer)
                .map(|(w, a)| w.conj() * a)
                .sum();
            *r += power_w * path.power * g.norm_sqr();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codebook::dft_codebook;
    use crate::scenario::Scenario;

    #[test]
    fn measured_rsrp_averages_to_its_expectation_plus_noise() {
        let s =
            Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke").unwrap();
        let env = Environment::from_scenario(&s);
        let w = dft_codebook(s.tx_antennas, s.beams);
        let site = s.sites[1];
        let p = site.position.add(site.direction(0.2).scale(60.0));
        let expected = expected_rsrp(&env, &w, 0, p, s.power_w);
        let noise = 1e-3 * expected.iter().cloned().fold(0.0, f64::max);
        let mut scratch = Scratch::new(s.tx_antennas, s.beams, s.paths);
        let mut acc = vec![0.0; s.beams];
        let mut r = vec![0.0; s.beams];
        let trials = 4000;
        for k in 0..trials {
            measure_into(
                &env,
                &w,
                0,
                p,
                s.power_w,
                noise,
                1,
                3,
                k,
                &mut scratch,
                &mut r,
            );
            acc.iter_mut()
                .zip(&r)
                .for_each(|(a, x)| *a += x / trials as f64);
        }
        let total_e: f64 = expected.iter().map(|e| e + noise).sum();
        let total_m: f64 = acc.iter().sum();
        assert!(
            (total_m / total_e - 1.0).abs() < 0.03,
            "{total_m} vs {total_e}"
        );
    }

    #[test]
    fn measured_fraction_is_respected() {
        let n = 20_000;
        let hits = (0..n).filter(|&i| is_measured(1, 0, i, 7, 0.3)).count();
        assert!((hits as f64 / n as f64 - 0.3).abs() < 0.015);
        assert!(is_measured(1, 0, 5, 5, 1.0));
    }
}
