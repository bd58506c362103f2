//! The world: the truth of a drop and the evaluation of transmitted beams.
//!
//! Holds the scenario's environment (large-scale paths), the calibrated
//! noise, the true trajectories and every true channel of every epoch.
//! Channels are computed once per drop and shared by every scheme, so all
//! schemes see the same small-scale fading (common random numbers) and
//! scheme differences are paired comparisons.

use std::collections::BTreeMap;

use ndarray::Array3;
use sdusc_formats::traj::TrajRow;
use sdusc_model::channel::Environment;
use sdusc_model::geometry::Point;
use sdusc_model::mobility::{UserState, drop_seed};
use sdusc_model::noise::calibrated_noise_power;
use sdusc_model::{C64, Scenario};

/// Why trajectories do not fit the scenario.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TruthError {
    #[error("trajectories have no rows for drop {0}")]
    MissingDrop(u32),
    #[error(
        "drop {drop}: expected {expected} rows (epochs 1..={epochs} × {users} users of the scenario), found {found}; \
         regenerate the trajectories with gen-traj for this scenario"
    )]
    RowCount {
        drop: u32,
        expected: usize,
        found: usize,
        epochs: usize,
        users: usize,
    },
    #[error("drop {drop}: row for epoch {epoch}, user {user} is {problem}")]
    BadRow {
        drop: u32,
        epoch: u32,
        user: u32,
        problem: String,
    },
}

/// The static part of the world, shared by every drop.
#[derive(Debug, Clone)]
pub struct World {
    pub scenario: Scenario,
    pub env: Environment,
    /// σc², W.
    pub noise_w: f64,
}

impl World {
    pub fn new(scenario: Scenario) -> Self {
        let env = Environment::from_scenario(&scenario);
        let noise_w = calibrated_noise_power(&scenario, &env);
        Self {
            scenario,
            env,
            noise_w,
        }
    }

    pub fn num_users(&self) -> usize {
        self.scenario.num_bs() * self.scenario.users_per_cell
    }

    /// Serving BS of global user `u`.
    pub fn serving_bs(&self, u: usize) -> usize {
        u / self.scenario.users_per_cell
    }

    /// The truth of drop `drop`: trajectories from `rows` (all drops mixed is
    /// fine), channels of every epoch with phases keyed by (`seed`, drop).
    pub fn drop_truth(
        &self,
        rows: &[TrajRow],
        drop: u32,
        seed: u64,
    ) -> Result<DropTruth, TruthError> {
        let s = &self.scenario;
        let users = self.num_users();
        let mut states: BTreeMap<(u32, u32), UserState> = BTreeMap::new();
        let mut found = 0usize;
        for r in rows.iter().filter(|r| r.drop == drop) {
            found += 1;
            let bad = |problem: String| TruthError::BadRow {
                drop,
                epoch: r.epoch,
                user: r.user_id,
                problem,
            };
            if r.epoch == 0 || r.epoch as usize > s.epochs {
                return Err(bad(format!("outside epochs 1..={}", s.epochs)));
            }
            if r.user_id as usize >= users {
                return Err(bad(format!(
                    "a user id ≥ {users} (the scenario's user count)"
                )));
            }
            if r.bs_id as usize != self.serving_bs(r.user_id as usize) {
                return Err(bad(format!(
                    "served by BS {} but the scenario assigns user {} to BS {}",
                    r.bs_id,
                    r.user_id,
                    self.serving_bs(r.user_id as usize)
                )));
            }
            let p = Point::new(r.x_m, r.y_m);
            if !self.env.cells.contains(r.bs_id as usize, p) {
                return Err(bad(format!(
                    "at ({:.2}, {:.2}) m, outside the cell of BS {}",
                    p.x, p.y, r.bs_id
                )));
            }
            states.insert(
                (r.epoch, r.user_id),
                UserState {
                    position: p,
                    velocity: Point::new(r.vx_mps, r.vy_mps),
                },
            );
        }
        if found == 0 {
            return Err(TruthError::MissingDrop(drop));
        }
        let expected = s.epochs * users;
        if found != expected || states.len() != expected {
            return Err(TruthError::RowCount {
                drop,
                expected,
                found,
                epochs: s.epochs,
                users,
            });
        }
        let dseed = drop_seed(seed, drop as usize);
        let l = s.num_bs();
        let nt = s.tx_antennas;
        let epochs = (1..=s.epochs as u32)
            .map(|e| {
                let st: Vec<UserState> = (0..users as u32).map(|u| states[&(e, u)]).collect();
                let mut channels = Array3::zeros((l, users, nt));
                for m in 0..l {
                    for (u, state) in st.iter().enumerate() {
                        let h = self.env.epoch_channel(
                            m,
                            state.position,
                            self.serving_bs(u),
                            dseed,
                            e as u64,
                            u as u64,
                        );
                        for (i, z) in h.into_iter().enumerate() {
                            channels[(m, u, i)] = z;
                        }
                    }
                }
                EpochTruth {
                    states: st,
                    channels,
                }
            })
            .collect();
        Ok(DropTruth {
            drop,
            drop_seed: dseed,
            epochs,
        })
    }
}

/// The truth of one epoch.
#[derive(Debug, Clone)]
pub struct EpochTruth {
    /// Per global user.
    pub states: Vec<UserState>,
    /// `channels[[m, u, ..]]` = h_{m,u}, BS m → user u (L × users × Nt).
    pub channels: Array3<C64>,
}

impl EpochTruth {
    /// h_{m,u} as a vector.
    pub fn channel(&self, m: usize, u: usize) -> Vec<C64> {
        self.channels.slice(ndarray::s![m, u, ..]).to_vec()
    }
}

/// The truth of one drop: every epoch (index 0 = epoch 1).
#[derive(Debug, Clone)]
pub struct DropTruth {
    pub drop: u32,
    pub drop_seed: u64,
    pub epochs: Vec<EpochTruth>,
}
