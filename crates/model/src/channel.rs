//! The simulated channel (SPEC §4.1), eqs. (33), (37), (38):
//!
//! ```text
//! h_{b}(p, n) = Σ_q sqrt(α_q(p)) · e^{j w_{q,n}} · a(θ_q(p))
//! ```
//!
//! - LoS path iff p is in b's cell: θ = geometric angle of p from b's
//!   broadside, α = α0 d^−η.
//! - NLoS paths (Np−1 with LoS, Np without): θ_q(p) ~ U(−π, π) and
//!   α_q(p) = α0 d^−η / ρ_q(p), ρ_q ~ U(ρ_lo, ρ_hi), both spatially consistent
//!   fields of p keyed by (environment seed, BS, path index).
//! - With wrap-around (hex layouts) every quantity of the link b → p is
//!   that of the image of p nearest b (SPEC §14.3), fields included.
//! - Phases w_{q,n} are redrawn every epoch (block fading), keyed by
//!   (drop seed, epoch, BS, user, path): intra-cell U(0, 2π); inter-cell
//!   N(0, std²) under the paper model, U(0, 2π) under the uniform model.

use std::f64::consts::{PI, TAU};

use crate::C64;
use crate::array::steering_into;
use crate::field::UniformField;
use crate::geometry::{Cells, Point};
use crate::rng;
use crate::scenario::{PhaseModel, Scenario};

/// One propagation path of a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Path {
    /// Angle of departure from the BS broadside, radians.
    pub theta: f64,
    /// Power α_q (linear).
    pub power: f64,
    pub los: bool,
}

/// The world's large-scale propagation: fixed by the environment seed.
#[derive(Debug, Clone)]
pub struct Environment {
    pub cells: Cells,
    pub tx_antennas: usize,
    alpha0: f64,
    exponent: f64,
    paths: usize,
    rho: (f64, f64),
    phase_model: PhaseModel,
    inter_phase_std: f64,
    /// Per BS, per NLoS path: (angle field, power-ratio field).
    fields: Vec<Vec<(UniformField, UniformField)>>,
}

const PARAM_ANGLE: u64 = 0;
const PARAM_RATIO: u64 = 1;

impl Environment {
    pub fn from_scenario(s: &Scenario) -> Self {
        let fields = (0..s.num_bs())
            .map(|b| {
                (0..s.paths)
                    .map(|q| {
                        let key = |param| [s.environment_seed, b as u64, q as u64, param];
                        (
                            UniformField::new(&key(PARAM_ANGLE), s.correlation_distance_m),
                            UniformField::new(&key(PARAM_RATIO), s.correlation_distance_m),
                        )
                    })
                    .collect()
            })
            .collect();
        Self {
            cells: Cells::from_scenario(s),
            tx_antennas: s.tx_antennas,
            alpha0: s.reference_path_loss,
            exponent: s.path_loss_exponent,
            paths: s.paths,
            rho: s.nlos_power_ratio,
            phase_model: s.phase_model,
            inter_phase_std: s.inter_cell_phase_std_rad,
            fields,
        }
    }

    pub fn num_bs(&self) -> usize {
        self.cells.sites.len()
    }

    /// Paths per link, Np.
    pub fn num_paths(&self) -> usize {
        self.paths
    }

    /// The paths of link BS `b` → location `p` (LoS first when present).
    /// With wrap-around, of the image of `p` nearest `b` (distance, angle,
    /// LoS and the path fields alike).
    pub fn paths(&self, b: usize, p: Point) -> Vec<Path> {
        self.paths_with_los(b, p, self.cells.has_los(b, p))
    }

    /// [`Environment::paths`] when the caller already knows whether `b` sees
    /// `p` in LoS (`los` must equal `self.cells.has_los(b, p)`): e.g. `p` is
    /// known to lie in cell `c`, so LoS iff `b == c`. Skips the O(L) cell test.
    pub fn paths_with_los(&self, b: usize, p: Point, los: bool) -> Vec<Path> {
        let site = self.cells.sites[b];
        let p = self.cells.image(b, p);
        let d = p.distance(site.position).max(1.0);
        let los_power = self.alpha0 * d.powf(-self.exponent);
        let mut out = Vec::with_capacity(self.paths);
        if los {
            out.push(Path {
                theta: site.angle_to(p),
                power: los_power,
                los: true,
            });
        }
        let nlos = if los { self.paths - 1 } else { self.paths };
        for (angle, ratio) in &self.fields[b][..nlos] {
            let theta = -PI + TAU * angle.uniform(p);
            let rho = self.rho.0 + (self.rho.1 - self.rho.0) * ratio.uniform(p);
            out.push(Path {
                theta,
                power: los_power / rho,
                los: false,
            });
        }
        out
    }

    /// Small-scale phases of link `b` → user `user` in `epoch` of the drop
    /// with seed `drop_seed`, one per path of `paths`.
    pub fn phases(
        &self,
        paths: &[Path],
        b: usize,
        intra_cell: bool,
        drop_seed: u64,
        epoch: u64,
        user: u64,
    ) -> Vec<f64> {
        paths
            .iter()
            .enumerate()
            .map(|(q, _)| {
                let words = [rng::tag::PHASE, drop_seed, epoch, b as u64, user, q as u64];
                if intra_cell || self.phase_model == PhaseModel::Uniform {
                    TAU * rng::uniform(&words)
                } else {
                    self.inter_phase_std * rng::normal(&words)
                }
            })
            .collect()
    }

    /// h = Σ_q sqrt(α_q) e^{j w_q} a(θ_q), written into `out` (length Nt).
    pub fn channel_into(&self, paths: &[Path], phases: &[f64], out: &mut [C64]) {
        out.iter_mut().for_each(|z| *z = C64::new(0.0, 0.0));
        let mut a = vec![C64::new(0.0, 0.0); out.len()];
        for (path, &w) in paths.iter().zip(phases) {
            steering_into(path.theta, &mut a);
            let g = C64::from_polar(path.power.sqrt(), w);
            for (o, ai) in out.iter_mut().zip(&a) {
                *o += g * ai;
            }
        }
    }

    /// The channel of epoch `epoch` from BS `b` to user `user` (served by
    /// `serving_bs`) at `p`, for the drop with seed `drop_seed`.
    pub fn epoch_channel(
        &self,
        b: usize,
        p: Point,
        serving_bs: usize,
        drop_seed: u64,
        epoch: u64,
        user: u64,
    ) -> Vec<C64> {
        let paths = self.paths(b, p);
        let phases = self.phases(&paths, b, b == serving_bs, drop_seed, epoch, user);
        let mut h = vec![C64::new(0.0, 0.0); self.tx_antennas];
        self.channel_into(&paths, &phases, &mut h);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn smoke() -> Scenario {
        Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke").unwrap()
    }

    #[test]
    fn intra_cell_links_have_los_and_inter_cell_do_not() {
        let s = smoke();
        let env = Environment::from_scenario(&s);
        let site = s.sites[0];
        let p = site.position.add(site.direction(0.1).scale(40.0));
        let intra = env.paths(0, p);
        assert_eq!(intra.len(), s.paths);
        assert!(intra[0].los && intra[1..].iter().all(|q| !q.los));
        assert!((intra[0].theta - 0.1).abs() < 1e-12);
        let inter = env.paths(1, p);
        assert_eq!(inter.len(), s.paths);
        assert!(inter.iter().all(|q| !q.los));
        for q in &intra[1..] {
            let ratio = intra[0].power / q.power;
            assert!(ratio >= s.nlos_power_ratio.0 - 1e-9 && ratio <= s.nlos_power_ratio.1 + 1e-9);
        }
    }

    /// With wrap-around a user at the cluster border has the channel
    /// statistics of a user in the centre: over the same offsets in a
    /// border cell and in a centre cell, the mean interference power
    /// Σ_{b ≠ serving} E‖h_b‖² agrees (the path fields differ between the
    /// two places, so only statistically), and the serving LoS path is the
    /// same; without wrap-around the border user misses a third of its
    /// interferers (≈ 19 % less interference power; the co-located sectors
    /// dominate).
    #[test]
    fn a_user_at_the_wrap_border_has_the_channel_statistics_of_the_centre() {
        let hex = |wrap: bool| {
            let text = include_str!("../../../pipelines/smoke.toml").replace(
                "layout = \"paper\"",
                &format!("layout = \"hex\"\nrings = 2\nisd_m = 200.0\nwraparound = {wrap}"),
            );
            Environment::from_scenario(&Scenario::from_toml(&text, "hex").unwrap())
        };
        // Site 0 (centre) and site 7 (400, 0) on the border, sector 0 each.
        let (centre, border) = (0, 21);
        let mean_interference = |env: &Environment, b: usize| {
            let site = env.cells.sites[b];
            let mut sum = 0.0;
            let mut n = 0;
            for i in 0..20 {
                for j in 0..20 {
                    let theta = -1.0 + 2.0 * (i as f64 + 0.5) / 20.0;
                    let p = site
                        .position
                        .add(site.direction(theta).scale(12.0 + 5.0 * j as f64));
                    if !env.cells.contains(b, p) {
                        continue;
                    }
                    let serving = env.paths(b, p);
                    assert!(serving[0].los);
                    sum += (0..env.num_bs())
                        .filter(|&m| m != b)
                        .map(|m| env.paths(m, p).iter().map(|q| q.power).sum::<f64>())
                        .sum::<f64>();
                    n += 1;
                }
            }
            sum / n as f64
        };
        let wrapped = hex(true);
        let ratio = mean_interference(&wrapped, border) / mean_interference(&wrapped, centre);
        assert!(
            (ratio - 1.0).abs() < 0.05,
            "wrapped: border/centre = {ratio}"
        );
        let plain = hex(false);
        let ratio = mean_interference(&plain, border) / mean_interference(&plain, centre);
        assert!(ratio < 0.9, "plain: border/centre = {ratio}");
    }

    #[test]
    fn paths_are_spatially_consistent() {
        let s = smoke();
        let env = Environment::from_scenario(&s);
        let p = Point::new(120.0, 40.0);
        assert_eq!(env.paths(0, p), env.paths(0, p));
        let near = env.paths(0, Point::new(120.05, 40.0));
        for (a, b) in env.paths(0, p).iter().zip(&near) {
            assert!((a.theta - b.theta).abs() < 0.05);
        }
        let mut other = s.raw.clone();
        other.channel.environment_seed += 1;
        let env2 = Environment::from_scenario(&Scenario::validate(other).unwrap());
        assert_ne!(env.paths(0, p), env2.paths(0, p));
    }

    #[test]
    fn channel_energy_is_sum_of_path_powers_on_average() {
        let s = smoke();
        let env = Environment::from_scenario(&s);
        let site = s.sites[0];
        let p = site.position.add(site.direction(-0.3).scale(35.0));
        let paths = env.paths(0, p);
        let total: f64 = paths.iter().map(|q| q.power).sum();
        let n = 4000;
        let mean = (0..n)
            .map(|e| {
                env.epoch_channel(0, p, 0, 11, e, 3)
                    .iter()
                    .map(|z| z.norm_sqr())
                    .sum::<f64>()
            })
            .sum::<f64>()
            / n as f64;
        assert!((mean / total - 1.0).abs() < 0.05, "{mean} vs {total}");
    }
}
