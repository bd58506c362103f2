//! One epoch as named steps (SPEC §7): [`EpochPipeline::step`] runs
//! [`sense`](EpochPipeline::sense) → [`plan`](EpochPipeline::plan) →
//! [`exchange`](EpochPipeline::exchange) →
//! [`beamform`](EpochPipeline::beamform) →
//! [`evaluate`](EpochPipeline::evaluate), each a function of its own with its
//! stage timer.
//!
//! Causal order within epoch n (the paper shifts indices; this is the order
//! of information): the echoes of the beams transmitted in epoch n−1 describe
//! the users' positions in n−1 and reach the BS before epoch n starts; each BS
//! predicts its users to epoch n, schedules with R̂(n−1) and the intra-cell
//! CSI of epoch n (pilots at the start of the epoch), exchanges locations
//! (delivered within the epoch since Td < ΔT), beamforms, and transmits; the
//! world evaluates the true SINR with the true channels of epoch n.
//!
//! Epoch 1 has no previous beams: each BS gets an initial-access fix of every
//! own user — an echo of a single beam steered at the user with power
//! P/|S|max and no interference (an initial beam sweep).
//!
//! The pipeline owns what carries over between epochs (R̂, the last rates,
//! each BS's beams of n−1) and its per-epoch buffers; the agents own
//! everything a BS knows. Stage times are wall-clock seconds, all 0 when the
//! run's `timing` is off, so an untimed run's tables are byte-identical.

use std::time::Instant;

use ndarray::{Array2, Array3};
use rayon::prelude::*;
use sdusc_beamforming::evaluate::true_sinr;
use sdusc_formats::metrics::{BsEpochRow, EpochRow, UserEpochRow};
use sdusc_model::C64;
use sdusc_model::array::steering;
use sdusc_model::mobility::UserState;
use sdusc_sensing::{
    Echo, EchoErrors, EchoKey, EchoModel, TrueKinematics, echo_from_errors, sense_echo,
};

use crate::agent::{BeamOutcome, BsAgent, Observation, Plan};
use crate::backhaul::{self, Inbox};
use crate::central::central_wmmse;
use crate::engine::{RunOptions, RunOutput, accumulated_pfr};
use crate::error::{SimError, WorldError};
use crate::scheme::{BeamformerKind, Scheme};
use crate::world::{DropTruth, World};

type Beams = Array2<C64>;

/// Wall time of each step of one epoch over the whole network, s.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub sense_s: f64,
    pub plan_s: f64,
    pub exchange_s: f64,
    pub beamform_s: f64,
    pub evaluate_s: f64,
}

/// What step 3 delivered: each BS's inbox and the bytes each BS sent and
/// received (the central unit's traffic included for CWMMSE).
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub inboxes: Vec<Inbox>,
    pub tx: Vec<u64>,
    pub rx: Vec<u64>,
}

/// The world's verdict on one epoch's beams.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Per global user: log2(1 + SINR), 0 when not scheduled.
    pub rate: Vec<f64>,
    /// Per global user: true SINR in dB, `None` when not scheduled.
    pub sinr_db: Vec<Option<f64>>,
    /// Global ids of the scheduled users, BS by BS in scheduler order.
    pub scheduled: Vec<usize>,
}

/// The epochs of one (scheme, drop), step by step.
#[derive(Debug)]
pub struct EpochPipeline<'a> {
    world: &'a World,
    truth: &'a DropTruth,
    scheme: &'a Scheme,
    opts: &'a RunOptions,
    /// The physical radars (world side), one per BS.
    radars: Vec<EchoModel>,
    sensing: bool,
    /// The own users report the channels from every BS (perfect-CSI schemes).
    needs_cross: bool,
    /// R̂_k(n) per global user.
    avg_rate: Vec<f64>,
    /// R_k(n−1) per global user: the rate feedback of the next epoch.
    last_rate: Vec<f64>,
    /// Per BS: (global users scheduled, their beams) of the previous epoch.
    previous: Vec<(Vec<usize>, Beams)>,
    /// Per global user: σ²_θ of this epoch's echo, if one arrived.
    echo_vars: Vec<Option<f64>>,
    times: StageTimes,
}

impl<'a> EpochPipeline<'a> {
    /// A pipeline before epoch 1; `radars[b]` is BS b's physical radar.
    pub fn new(
        world: &'a World,
        truth: &'a DropTruth,
        scheme: &'a Scheme,
        opts: &'a RunOptions,
        radars: Vec<EchoModel>,
    ) -> Self {
        let users = world.num_users();
        let l = world.scenario.num_bs();
        let nt = world.scenario.tx_antennas;
        Self {
            world,
            truth,
            scheme,
            opts,
            radars,
            sensing: scheme.uses_sensing(),
            needs_cross: matches!(
                scheme.beamformer,
                BeamformerKind::FpSalinrPerfect | BeamformerKind::Cwmmse
            ),
            avg_rate: vec![0.0; users],
            last_rate: vec![0.0; users],
            previous: vec![(Vec::new(), Array2::zeros((0, nt))); l],
            echo_vars: vec![None; users],
            times: StageTimes::default(),
        }
    }

    /// The stage times of the last [`step`](Self::step).
    pub fn times(&self) -> StageTimes {
        self.times
    }

    /// R̂_k(n) per global user after the last evaluated epoch.
    pub fn average_rates(&self) -> &[f64] {
        &self.avg_rate
    }

    fn clock(&self) -> Option<Instant> {
        self.opts.timing.then(Instant::now)
    }

    fn seconds(start: Option<Instant>) -> f64 {
        start.map_or(0.0, |t| t.elapsed().as_secs_f64())
    }

    /// Epoch n, all five steps; its metrics rows are appended to `out`.
    pub fn step(
        &mut self,
        n: u32,
        agents: &mut [BsAgent],
        out: &mut RunOutput,
    ) -> Result<(), SimError> {
        let t = self.clock();
        let observations = self.sense(n)?;
        self.times.sense_s = Self::seconds(t);
        let t = self.clock();
        let plans = self.plan(agents, observations)?;
        self.times.plan_s = Self::seconds(t);
        let t = self.clock();
        let mut exchange = self.exchange(&plans)?;
        self.times.exchange_s = Self::seconds(t);
        let t = self.clock();
        let outcomes = self.beamform(agents, &plans, &mut exchange)?;
        self.times.beamform_s = Self::seconds(t);
        let t = self.clock();
        let eval = self.evaluate(n, &plans, &outcomes)?;
        self.times.evaluate_s = Self::seconds(t);
        self.record(n, agents, &plans, &outcomes, &exchange, &eval, out);
        self.remember_beams(&plans, &outcomes);
        Ok(())
    }

    /// STEP 1 (world side): every BS's observation of epoch n — its own
    /// users' channels (pilots), their rate feedback, and the echoes of its
    /// beams of n−1 (or of the initial access at n = 1).
    pub fn sense(&mut self, n: u32) -> Result<Vec<Observation>, SimError> {
        let s = &self.world.scenario;
        let per_cell = s.users_per_cell;
        let l = s.num_bs();
        let et = &self.truth.epochs[n as usize - 1];
        self.echo_vars.fill(None);
        let mut observations = Vec::with_capacity(l);
        for b in 0..l {
            let echoes = if !self.sensing {
                Vec::new()
            } else if self.scheme.perfect_sensing {
                self.oracle_echoes(b, n)
            } else if n == 1 {
                self.initial_access_echoes(b)?
            } else {
                self.echoes_of_previous_beams(b, n)?
            };
            let own = b * per_cell..(b + 1) * per_cell;
            observations.push(Observation {
                epoch: n,
                own_channels: own.clone().map(|u| et.channel(b, u)).collect(),
                rate_feedback: own.clone().map(|u| self.last_rate[u]).collect(),
                echoes,
                cross_channels: self.needs_cross.then(|| {
                    own.map(|u| (0..l).map(|m| et.channel(m, u)).collect())
                        .collect()
                }),
            });
        }
        Ok(observations)
    }

    fn echo_key(&self, b: usize, epoch: u32, u: usize) -> EchoKey {
        EchoKey {
            seed: self.opts.seed,
            drop: self.truth.drop as u64,
            epoch: epoch as u64,
            bs: b as u64,
            user: u as u64,
        }
    }

    fn radar_error(b: usize) -> impl Fn(sdusc_sensing::SensingError) -> SimError {
        move |source| WorldError::Radar { bs: b, source }.into()
    }

    /// Perfect sensing: an exact fix of every own user at epoch n.
    fn oracle_echoes(&self, b: usize, n: u32) -> Vec<(usize, Echo, u32)> {
        let per_cell = self.world.scenario.users_per_cell;
        let states = &self.truth.epochs[n as usize - 1].states;
        let radar = &self.radars[b];
        let exact = EchoErrors {
            theta_rad: 0.0,
            tau_s: 0.0,
            mu_hz: 0.0,
        };
        (0..per_cell)
            .map(|local| {
                let kin = kinematics(&states[b * per_cell + local]);
                let echo =
                    echo_from_errors(radar, &kin, f64::INFINITY, radar.variances(1e12), exact);
                (local, echo, n)
            })
            .collect()
    }

    /// Epoch 1: one beam steered at each own user with power P/|S|max.
    fn initial_access_echoes(&self, b: usize) -> Result<Vec<(usize, Echo, u32)>, SimError> {
        let s = &self.world.scenario;
        let per_cell = s.users_per_cell;
        let states = &self.truth.epochs[0].states;
        let amp = (s.power_w / s.max_scheduled as f64).sqrt();
        let mut echoes = Vec::with_capacity(per_cell);
        for local in 0..per_cell {
            let u = b * per_cell + local;
            let st = &states[u];
            let a = steering(s.tx_antennas, s.sites[b].angle_to(st.position));
            let beam = vec![a.iter().map(|z| z * amp).collect::<Vec<C64>>()];
            let echo = sense_echo(
                &self.radars[b],
                &self.echo_key(b, 0, u),
                &kinematics(st),
                &beam,
                0,
            )
            .map_err(Self::radar_error(b))?
            .ok_or(WorldError::NoInitialEcho(u))?;
            echoes.push((local, echo, 1));
        }
        Ok(echoes)
    }

    /// Epoch n > 1: the echoes of BS b's beams of n−1 off the users they
    /// served, at those users' positions of n−1.
    fn echoes_of_previous_beams(
        &mut self,
        b: usize,
        n: u32,
    ) -> Result<Vec<(usize, Echo, u32)>, SimError> {
        let per_cell = self.world.scenario.users_per_cell;
        let (prev_users, prev_beams) = &self.previous[b];
        let beam_vecs: Vec<Vec<C64>> = prev_beams.rows().into_iter().map(|r| r.to_vec()).collect();
        let states = &self.truth.epochs[n as usize - 2].states;
        let mut echoes = Vec::with_capacity(prev_users.len());
        for (i, &u) in prev_users.iter().enumerate() {
            let key = self.echo_key(b, n - 1, u);
            let echo = sense_echo(
                &self.radars[b],
                &key,
                &kinematics(&states[u]),
                &beam_vecs,
                i,
            )
            .map_err(Self::radar_error(b))?;
            if let Some(echo) = echo {
                self.echo_vars[u] = Some(echo.variances.theta_rad2);
                echoes.push((u - b * per_cell, echo, n - 1));
            }
        }
        Ok(echoes)
    }

    /// STEPS 1–3 (agents): sensing update, scheduling, outgoing messages.
    pub fn plan(
        &self,
        agents: &mut [BsAgent],
        observations: Vec<Observation>,
    ) -> Result<Vec<Plan>, SimError> {
        map_agents(agents, observations, self.opts.parallel_agents, |a, o| {
            a.plan(o)
        })
    }

    /// STEP 3 (backhaul): deliver and decode the messages of every BS.
    pub fn exchange(&self, plans: &[Plan]) -> Result<Exchange, SimError> {
        let outgoing: Vec<_> = plans.iter().map(|p| p.outgoing.clone()).collect();
        let (inboxes, tx) = backhaul::deliver(&outgoing, plans.len())?;
        let rx = inboxes.iter().map(|i| i.rx_bytes).collect();
        Ok(Exchange { inboxes, tx, rx })
    }

    /// STEP 4: beams, by the agents from their inboxes (which this takes
    /// out of `exchange`), or by the central unit for CWMMSE.
    pub fn beamform(
        &self,
        agents: &mut [BsAgent],
        plans: &[Plan],
        exchange: &mut Exchange,
    ) -> Result<Vec<BeamOutcome>, SimError> {
        if self.scheme.beamformer == BeamformerKind::Cwmmse {
            let s = &self.world.scenario;
            return central_wmmse(
                plans,
                s.num_bs(),
                s.tx_antennas,
                self.world.noise_w,
                s.power_w,
                &self.opts.wmmse,
                &mut exchange.tx,
                &mut exchange.rx,
            );
        }
        let inboxes = std::mem::take(&mut exchange.inboxes);
        map_agents(agents, inboxes, self.opts.parallel_agents, |a, inbox| {
            a.beamform(&inbox)
        })
    }

    /// STEP 5 (world side): the true SINR of every scheduled user under
    /// every BS's beams, and the rates R_k(n) and R̂_k(n).
    pub fn evaluate(
        &mut self,
        n: u32,
        plans: &[Plan],
        outcomes: &[BeamOutcome],
    ) -> Result<Evaluation, SimError> {
        let per_cell = self.world.scenario.users_per_cell;
        let nt = self.world.scenario.tx_antennas;
        let l = self.world.scenario.num_bs();
        let users = self.world.num_users();
        let et = &self.truth.epochs[n as usize - 1];
        let sched: Vec<usize> = plans
            .iter()
            .enumerate()
            .flat_map(|(b, p)| p.scheduled.iter().map(move |&u| b * per_cell + u))
            .collect();
        let serving: Vec<usize> = sched.iter().map(|&u| self.world.serving_bs(u)).collect();
        let mut beams = Array2::<C64>::zeros((sched.len(), nt));
        for (row, r) in outcomes.iter().flat_map(|o| o.beams.rows()).enumerate() {
            beams.row_mut(row).assign(&r);
        }
        let channels = Array3::from_shape_fn((l, sched.len(), nt), |(m, k, i)| {
            et.channels[(m, sched[k], i)]
        });
        let sinr = if sched.is_empty() {
            Vec::new()
        } else {
            true_sinr(&channels, &serving, &beams, self.world.noise_w).map_err(WorldError::Sinr)?
        };
        let mut rate = vec![0.0; users];
        let mut sinr_db = vec![None; users];
        for (k, &u) in sched.iter().enumerate() {
            rate[u] = sinr[k].ln_1p() / std::f64::consts::LN_2;
            sinr_db[u] = Some(10.0 * sinr[k].max(1e-30).log10());
        }
        for u in 0..users {
            self.avg_rate[u] += (rate[u] - self.avg_rate[u]) / n as f64;
        }
        self.last_rate.clone_from(&rate);
        Ok(Evaluation {
            rate,
            sinr_db,
            scheduled: sched,
        })
    }

    /// Keep each BS's beams of this epoch: their echoes are next epoch's.
    fn remember_beams(&mut self, plans: &[Plan], outcomes: &[BeamOutcome]) {
        let per_cell = self.world.scenario.users_per_cell;
        self.previous = plans
            .iter()
            .zip(outcomes)
            .enumerate()
            .map(|(b, (p, o))| {
                (
                    p.scheduled.iter().map(|&u| b * per_cell + u).collect(),
                    o.beams.clone(),
                )
            })
            .collect();
    }

    /// The metrics rows of epoch n (SPEC §11).
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        n: u32,
        agents: &[BsAgent],
        plans: &[Plan],
        outcomes: &[BeamOutcome],
        exchange: &Exchange,
        eval: &Evaluation,
        out: &mut RunOutput,
    ) {
        let users = self.user_rows(n, agents, plans, outcomes, eval);
        let located: Vec<f64> = eval
            .scheduled
            .iter()
            .filter_map(|&u| users[u].location_error_m)
            .collect();
        let relaxed = users.iter().filter(|r| r.constraint_relaxed).count() as u32;
        let cwmmse = self.scheme.beamformer == BeamformerKind::Cwmmse;
        out.epochs.push(EpochRow {
            scheme: self.scheme.label.clone(),
            drop: self.truth.drop,
            epoch: n,
            accumulated_pfr: accumulated_pfr(&self.avg_rate),
            sum_rate_bps_hz: eval.rate.iter().sum(),
            users_unserved: self.avg_rate.iter().filter(|&&r| r == 0.0).count() as u32,
            backhaul_bytes: exchange.tx.iter().sum::<u64>()
                + if cwmmse {
                    exchange.rx.iter().sum::<u64>()
                } else {
                    0
                },
            mean_location_error_m: (!located.is_empty())
                .then(|| located.iter().sum::<f64>() / located.len() as f64),
            relaxed_constraints: relaxed,
            sense_s: self.times.sense_s,
            plan_s: self.times.plan_s,
            exchange_s: self.times.exchange_s,
            beamform_s: self.times.beamform_s,
            evaluate_s: self.times.evaluate_s,
        });
        out.users.extend(users);
        out.bs.extend(self.bs_rows(n, plans, outcomes, exchange));
    }

    fn user_rows(
        &self,
        n: u32,
        agents: &[BsAgent],
        plans: &[Plan],
        outcomes: &[BeamOutcome],
        eval: &Evaluation,
    ) -> Vec<UserEpochRow> {
        let per_cell = self.world.scenario.users_per_cell;
        let users = self.world.num_users();
        let et = &self.truth.epochs[n as usize - 1];
        let mut ratio = vec![None; users];
        let mut relaxed = vec![false; users];
        for (b, (p, o)) in plans.iter().zip(outcomes).enumerate() {
            for (&u, r) in p.scheduled.iter().zip(&o.constraint_ratio) {
                ratio[b * per_cell + u] = *r;
            }
            for &u in &o.relaxed {
                relaxed[b * per_cell + u] = true;
            }
        }
        let mut loc_err = vec![None; users];
        let mut nees = vec![None; users];
        let mut gated = vec![false; users];
        if self.sensing {
            for (b, agent) in agents.iter().enumerate() {
                for (local, est) in agent.predictions().iter().enumerate() {
                    let u = b * per_cell + local;
                    let truth = et.states[u].position;
                    loc_err[u] = est.map(|p| p.position.distance(truth));
                    nees[u] = est.and_then(|p| p.nees(truth));
                    gated[u] = agent.echo_gated()[local];
                }
            }
        }
        (0..users)
            .map(|u| UserEpochRow {
                scheme: self.scheme.label.clone(),
                drop: self.truth.drop,
                epoch: n,
                bs_id: self.world.serving_bs(u) as u32,
                user_id: u as u32,
                scheduled: eval.sinr_db[u].is_some(),
                sinr_db: eval.sinr_db[u],
                rate_bps_hz: eval.rate[u],
                avg_rate_bps_hz: self.avg_rate[u],
                location_error_m: loc_err[u],
                sensing_var_theta: self.echo_vars[u],
                constraint_ratio: ratio[u],
                constraint_relaxed: relaxed[u],
                echo_gated: gated[u],
                location_nees: nees[u],
            })
            .collect()
    }

    fn bs_rows(
        &self,
        n: u32,
        plans: &[Plan],
        outcomes: &[BeamOutcome],
        exchange: &Exchange,
    ) -> Vec<BsEpochRow> {
        let timed = |x: f64| if self.opts.timing { x } else { 0.0 };
        plans
            .iter()
            .zip(outcomes)
            .enumerate()
            .map(|(b, (p, o))| {
                let d = o.diagnostics;
                BsEpochRow {
                    scheme: self.scheme.label.clone(),
                    drop: self.truth.drop,
                    epoch: n,
                    bs_id: b as u32,
                    n_scheduled: p.scheduled.len() as u32,
                    bf_time_s: timed(o.elapsed_s),
                    bf_outer_iters: o.outer_iterations,
                    bf_inner_iters: o.inner_iterations,
                    objective: o.objective,
                    relaxed_constraints: o.relaxed.len() as u32,
                    backhaul_tx_bytes: exchange.tx[b],
                    backhaul_rx_bytes: exchange.rx[b],
                    sense_s: timed(p.sense_s),
                    schedule_s: timed(p.schedule_s),
                    ckm_query_s: timed(o.ckm_query_s),
                    bf_solve_s: timed(o.solve_s),
                    bf_converged: d.map(|d| d.converged),
                    bf_inner_converged: d.and_then(|d| d.inner_converged),
                    bf_power_residual: d.and_then(|d| d.power_residual),
                    bf_sensing_residual: d.and_then(|d| d.sensing_residual),
                }
            })
            .collect()
    }
}

fn kinematics(st: &UserState) -> TrueKinematics {
    TrueKinematics {
        position: st.position,
        velocity: st.velocity,
    }
}

/// `f` on every agent with its input, in parallel or not; results in BS
/// order either way.
fn map_agents<T: Send, I: Send>(
    agents: &mut [BsAgent],
    inputs: Vec<I>,
    parallel: bool,
    f: impl Fn(&mut BsAgent, I) -> Result<T, SimError> + Sync + Send,
) -> Result<Vec<T>, SimError> {
    let results: Vec<Result<T, SimError>> = if parallel {
        agents
            .par_iter_mut()
            .zip(inputs)
            .map(|(a, i)| f(a, i))
            .collect()
    } else {
        agents
            .iter_mut()
            .zip(inputs)
            .map(|(a, i)| f(a, i))
            .collect()
    };
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{build_agents, radar};
    use crate::fixture::{Fixture, scheme, smoke};

    fn pipeline<'a>(
        f: &'a Fixture,
        scheme: &'a Scheme,
        opts: &'a RunOptions,
    ) -> (EpochPipeline<'a>, Vec<BsAgent>) {
        let s = &f.world.scenario;
        let radars = (0..s.num_bs())
            .map(|b| radar(&f.world, b, s.sensing.threshold).unwrap())
            .collect();
        let agents = build_agents(&f.world, &f.truth, &f.ckms, scheme, opts).unwrap();
        (
            EpochPipeline::new(&f.world, &f.truth, scheme, opts, radars),
            agents,
        )
    }

    #[test]
    fn sense_gives_every_user_an_initial_fix_then_echoes_of_the_beams_that_served_it() {
        let f = smoke(3);
        let sd = scheme("sd-uscb");
        let (mut p, mut agents) = pipeline(&f, &sd, &f.opts);
        let per_cell = f.world.scenario.users_per_cell;
        let first = p.sense(1).unwrap();
        for obs in &first {
            let users: Vec<usize> = obs.echoes.iter().map(|e| e.0).collect();
            assert_eq!(users, (0..per_cell).collect::<Vec<_>>());
            assert!(obs.echoes.iter().all(|e| e.2 == 1));
            assert!(obs.cross_channels.is_none());
        }
        let mut out = RunOutput::default();
        p.step(1, &mut agents, &mut out).unwrap();
        let served: Vec<Vec<usize>> = agents.iter().map(|a| a.scheduled().to_vec()).collect();
        let second = p.sense(2).unwrap();
        for (b, obs) in second.iter().enumerate() {
            assert!(!obs.echoes.is_empty(), "BS {b} heard no echo at all");
            for (local, _, described) in &obs.echoes {
                assert!(
                    served[b].contains(local),
                    "BS {b}: echo of unserved user {local}"
                );
                assert_eq!(*described, 1, "the echo describes the epoch of the beam");
            }
            // The feedback is the true rate of epoch 1.
            for (local, r) in obs.rate_feedback.iter().enumerate() {
                assert_eq!(*r, out.users[b * per_cell + local].rate_bps_hz);
            }
        }
    }

    #[test]
    fn schemes_without_sensing_get_no_echoes_and_perfect_csi_gets_every_channel() {
        let f = smoke(1);
        let l = f.world.scenario.num_bs();
        for (name, cross) in [
            ("pwmmse", false),
            ("fp-salinr-perfect", true),
            ("cwmmse", true),
        ] {
            let sc = scheme(name);
            let (mut p, _) = pipeline(&f, &sc, &f.opts);
            for obs in p.sense(1).unwrap() {
                assert!(obs.echoes.is_empty(), "{name}");
                assert_eq!(obs.cross_channels.is_some(), cross, "{name}");
                if let Some(c) = &obs.cross_channels {
                    assert!(c.iter().all(|per_bs| per_bs.len() == l));
                }
            }
        }
    }

    #[test]
    fn exchange_counts_every_byte_once_on_each_side() {
        let f = smoke(1);
        let sd = scheme("sd-uscb");
        let (mut p, mut agents) = pipeline(&f, &sd, &f.opts);
        let obs = p.sense(1).unwrap();
        let plans = p.plan(&mut agents, obs).unwrap();
        let ex = p.exchange(&plans).unwrap();
        for (b, plan) in plans.iter().enumerate() {
            let sent: u64 = plan
                .outgoing
                .iter()
                .map(|(_, payload)| match payload {
                    crate::backhaul::Payload::Locations(x)
                    | crate::backhaul::Payload::Channels(x) => x.len() as u64,
                })
                .sum();
            assert_eq!(ex.tx[b], sent);
            let located: usize = ex.inboxes[b]
                .locations
                .iter()
                .map(|m| m.locations.len())
                .sum();
            let others: usize = (0..plans.len())
                .filter(|&m| m != b)
                .map(|m| plans[m].scheduled.len())
                .sum();
            assert_eq!(
                located, others,
                "BS {b} hears every other BS's scheduled users"
            );
        }
        assert_eq!(ex.tx.iter().sum::<u64>(), ex.rx.iter().sum::<u64>());
    }

    #[test]
    fn evaluate_gives_log2_rates_of_the_scheduled_and_running_means() {
        let f = smoke(3);
        let sd = scheme("sd-uscb");
        let (mut p, mut agents) = pipeline(&f, &sd, &f.opts);
        let users = f.world.num_users();
        let mut sums = vec![0.0; users];
        for n in 1..=3 {
            let obs = p.sense(n).unwrap();
            let plans = p.plan(&mut agents, obs).unwrap();
            let mut ex = p.exchange(&plans).unwrap();
            let outcomes = p.beamform(&mut agents, &plans, &mut ex).unwrap();
            assert!(ex.inboxes.is_empty(), "beamform takes the inboxes");
            let eval = p.evaluate(n, &plans, &outcomes).unwrap();
            p.remember_beams(&plans, &outcomes);
            for u in 0..users {
                let scheduled = eval.scheduled.contains(&u);
                assert_eq!(eval.sinr_db[u].is_some(), scheduled);
                match eval.sinr_db[u] {
                    Some(db) => {
                        let r = (1.0 + 10f64.powf(db / 10.0)).log2();
                        assert!((eval.rate[u] - r).abs() < 1e-9 * r.max(1.0));
                    }
                    None => assert_eq!(eval.rate[u], 0.0),
                }
                sums[u] += eval.rate[u];
                let mean = sums[u] / n as f64;
                assert!((p.average_rates()[u] - mean).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn stage_times_are_zero_untimed_and_measured_timed() {
        let f = smoke(2);
        let sd = scheme("sd-uscb");
        let (mut p, mut agents) = pipeline(&f, &sd, &f.opts);
        let mut out = RunOutput::default();
        p.step(1, &mut agents, &mut out).unwrap();
        assert_eq!(p.times(), StageTimes::default());
        let untimed_bs = &out.bs[0];
        assert_eq!(
            (
                untimed_bs.sense_s,
                untimed_bs.schedule_s,
                untimed_bs.bf_solve_s
            ),
            (0.0, 0.0, 0.0)
        );

        let timed = RunOptions {
            timing: true,
            ..f.opts.clone()
        };
        let (mut p, mut agents) = pipeline(&f, &sd, &timed);
        let mut out = RunOutput::default();
        p.step(1, &mut agents, &mut out).unwrap();
        let t = p.times();
        assert!(t.sense_s > 0.0 && t.plan_s > 0.0 && t.beamform_s > 0.0 && t.evaluate_s > 0.0);
        assert_eq!(out.epochs[0].beamform_s, t.beamform_s);
        for r in &out.bs {
            assert!(r.bf_time_s >= r.bf_solve_s + r.ckm_query_s, "{r:?}");
            assert!(r.bf_solve_s > 0.0 && r.schedule_s > 0.0);
        }
    }

    #[test]
    fn solver_diagnostics_reach_the_bs_rows() {
        let f = smoke(2);
        for (name, inner) in [("sd-uscb", true), ("pwmmse", false), ("cwmmse", false)] {
            let sc = scheme(name);
            let (mut p, mut agents) = pipeline(&f, &sc, &f.opts);
            let mut out = RunOutput::default();
            for n in 1..=2 {
                p.step(n, &mut agents, &mut out).unwrap();
            }
            for r in &out.bs {
                assert_eq!(r.bf_converged.is_some(), r.n_scheduled > 0, "{name}");
                assert_eq!(r.bf_inner_converged.is_some(), inner && r.n_scheduled > 0);
                if let Some(res) = r.bf_power_residual {
                    assert!(res <= 1e-9, "{name}: power residual {res}");
                }
                if let Some(res) = r.bf_sensing_residual {
                    assert!(res.is_finite(), "{name}");
                }
            }
        }
    }
}
