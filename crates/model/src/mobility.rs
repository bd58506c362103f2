//! User drops and mobility (SPEC §6).
//!
//! Decision — the *random direction* model with specular reflection: each
//! user is dropped uniformly in its BS's cell, picks a heading uniformly in
//! [0, 2π) and moves in a straight line at the scenario speed; a step that
//! would leave the cell is reflected off the boundary it crosses (velocity
//! mirrored about that boundary's normal). Association is fixed for the run.
//! Every draw is keyed by (seed, drop, user), so a user's trajectory does not
//! depend on the others or on the thread that computes it.

use std::f64::consts::TAU;

use rand::RngExt;

use crate::geometry::{Cells, Point};
use crate::rng;
use crate::scenario::Scenario;

/// One user's state at one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserState {
    pub position: Point,
    /// Velocity, m/s.
    pub velocity: Point,
}

/// One user's trajectory over the epochs of a drop.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Global user id: `bs * users_per_cell + index in cell`.
    pub user: usize,
    pub bs: usize,
    /// State at epochs 1…N (index 0 is epoch 1).
    pub states: Vec<UserState>,
}

/// Seed of drop `drop` under master seed `seed`.
pub fn drop_seed(seed: u64, drop: usize) -> u64 {
    rng::key(&[rng::tag::DROP, seed, drop as u64])
}

/// Uniform point in cell `b` (rejection sampling over the annular sector).
pub fn sample_in_cell<R: rand::Rng>(cells: &Cells, b: usize, rng: &mut R) -> Point {
    let site = cells.sites[b];
    let r0 = cells.min_distance_m.powi(2);
    let r1 = cells.cell_radius_m.powi(2);
    for _ in 0..100_000 {
        let r = (r0 + (r1 - r0) * rng.random::<f64>()).sqrt();
        let theta = cells.sector_half_width_rad * (2.0 * rng.random::<f64>() - 1.0);
        let p = site.position.add(site.direction(theta).scale(r));
        if cells.contains(b, p) {
            return p;
        }
    }
    // Only a degenerate cell gets here (validation keeps cells non-empty in practice).
    site.position
        .add(site.direction(0.0).scale(cells.min_distance_m))
}

/// Advance one step of `dt` seconds with reflection at the cell border.
pub fn step(cells: &Cells, b: usize, state: UserState, dt: f64) -> UserState {
    let mut v = state.velocity;
    for _ in 0..8 {
        let next = state.position.add(v.scale(dt));
        match cells.violation(b, next) {
            None => {
                return UserState {
                    position: next,
                    velocity: v,
                };
            }
            Some(n) => {
                let vn = v.dot(n);
                if vn > 0.0 {
                    v = v.sub(n.scale(2.0 * vn));
                } else {
                    // Crossing this boundary is not the problem; turn around.
                    v = v.scale(-1.0);
                }
            }
        }
    }
    UserState {
        position: state.position,
        velocity: v.scale(-1.0),
    }
}

/// All users' tracks of drop `drop`.
pub fn generate_drop(s: &Scenario, cells: &Cells, seed: u64, drop: usize) -> Vec<Track> {
    let dseed = drop_seed(seed, drop);
    let mut tracks = Vec::with_capacity(s.num_bs() * s.users_per_cell);
    for b in 0..s.num_bs() {
        for i in 0..s.users_per_cell {
            let user = b * s.users_per_cell + i;
            let mut r = rng::stream(&[rng::tag::MOBILITY, dseed, user as u64]);
            let position = sample_in_cell(cells, b, &mut r);
            let heading = TAU * r.random::<f64>();
            let mut state = UserState {
                position,
                velocity: Point::new(heading.cos(), heading.sin()).scale(s.speed_mps),
            };
            let mut states = Vec::with_capacity(s.epochs);
            states.push(state);
            for _ in 1..s.epochs {
                state = step(cells, b, state, s.epoch_s);
                states.push(state);
            }
            tracks.push(Track {
                user,
                bs: b,
                states,
            });
        }
    }
    tracks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smoke() -> Scenario {
        Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke").unwrap()
    }

    #[test]
    fn users_stay_in_their_cell_and_move_at_speed() {
        let mut raw = smoke().raw;
        raw.epochs.count = 400;
        raw.users.speed_mps = 200.0; // 4 m steps: many reflections
        let s = Scenario::validate(raw).unwrap();
        let cells = Cells::from_scenario(&s);
        for drop in 0..2 {
            for t in generate_drop(&s, &cells, 5, drop) {
                assert_eq!(t.states.len(), s.epochs);
                for w in t.states.windows(2) {
                    assert!(
                        cells.contains(t.bs, w[1].position),
                        "user {} left cell",
                        t.user
                    );
                    let moved = w[0].position.distance(w[1].position);
                    assert!(moved <= s.speed_mps * s.epoch_s + 1e-9);
                    assert!((w[1].velocity.norm() - s.speed_mps).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn drops_are_reproducible_and_distinct() {
        let s = smoke();
        let cells = Cells::from_scenario(&s);
        assert_eq!(
            generate_drop(&s, &cells, 1, 0),
            generate_drop(&s, &cells, 1, 0)
        );
        assert_ne!(
            generate_drop(&s, &cells, 1, 0),
            generate_drop(&s, &cells, 1, 1)
        );
    }
}
