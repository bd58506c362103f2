//! A BS agent (SPEC §7): everything one BS knows and decides.
//!
//! An agent is built from its configuration and its own CKM, and then only
//! ever receives message types: an [`Observation`] at the start of an epoch
//! (its own users' channels from uplink pilots, their rate feedback, the
//! echoes of its own beams) and an [`Inbox`] of decoded backhaul messages.
//! It has no handle on the world: true positions and inter-cell channels are
//! out of its reach by construction.
//!
//! Per epoch n: [`BsAgent::plan`] (steps 1–3: sensing update, scheduling,
//! outgoing messages to the BSs that coordinate with this one — all others
//! unless `[coordination]` limits them) then [`BsAgent::beamform`] (step 4;
//! the leakage sums over the received locations, i.e. the neighbours' users).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ndarray::{Array2, Array3};
use sdusc_beamforming::dualopt::{self, DualOptParams};
use sdusc_beamforming::reference::{self, RefParams};
use sdusc_beamforming::wmmse::{self, NetworkProblem, WmmseParams};
use sdusc_beamforming::{Beams, Leakage, SalinrProblem, SensingData, fp, npz};
use sdusc_ckm::query::{CkmMap, LeakageSum};
use sdusc_model::C64;
use sdusc_model::geometry::{BsSite, Cells};
use sdusc_scheduling::{ScheduleInput, Scheduler, overdue_users, pf_weights, schedule};
use sdusc_sensing::{Echo, EchoModel, Prediction, Tracker, TrackerParams};

use crate::backhaul::{Inbox, LocationMessage, Payload, VectorsMessage};
use crate::error::{AgentError, SimError};
use crate::scheme::{BeamformerKind, LeakageModel, SchedulerKind, Scheme};

/// What a BS is configured with (from the scenario and the scheme).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub id: usize,
    pub num_bs: usize,
    pub site: BsSite,
    /// The network's cells (a planning fact every BS knows): the tracker
    /// keeps its users inside cell `id`; its neighbour sets say whom to send
    /// locations to; its wrap-around maps a received location to the image
    /// this BS's CKM covers.
    pub cells: Cells,
    /// σ² of the inter-cell path phases for `leakage=phase-aware` (∞ for
    /// uniform phases). A real BS would estimate it from its CKM's residuals.
    pub phase_var_rad2: f64,
    /// Global ids of the own users; the agent indexes them 0..K locally.
    pub users: Vec<usize>,
    pub tx_antennas: usize,
    pub power_w: f64,
    pub noise_w: f64,
    pub max_scheduled: usize,
    pub force_schedule_after: u32,
    pub epoch_s: f64,
    pub max_speed_mps: f64,
    pub scheme: Scheme,
    pub codebook: Arc<Array2<C64>>,
    /// The radar model with the scheme's threshold c̄ (sensing schemes).
    pub echo_model: Option<EchoModel>,
    pub dualopt: DualOptParams,
    pub reference: RefParams,
    pub wmmse: WmmseParams,
    /// Write every DualOpt instance here (`--dump-instances`), with this name prefix.
    pub dump: Option<(PathBuf, String)>,
}

/// What a BS observes at the start of epoch n.
#[derive(Debug, Clone)]
pub struct Observation {
    pub epoch: u32,
    /// h_{ℓ,k} of every own user this epoch (uplink pilots), local order.
    pub own_channels: Vec<Vec<C64>>,
    /// Rates the own users achieved in epoch n−1 (feedback), 0 if not served.
    pub rate_feedback: Vec<f64>,
    /// Fresh echoes (local user, echo, epoch the echo describes).
    pub echoes: Vec<(usize, Echo, u32)>,
    /// Perfect-CSI schemes only: the own users' feedback of the channel from
    /// every BS, `[local user][bs]`.
    pub cross_channels: Option<Vec<Vec<Vec<C64>>>>,
}

/// The agent's decisions of steps 1–3.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Scheduled users, local indices, in the scheduler's order.
    pub scheduled: Vec<usize>,
    /// Encoded backhaul messages: (destination BS, payload).
    pub outgoing: Vec<(usize, Payload)>,
    /// CWMMSE: the upload to the central unit (channels from every BS to
    /// each scheduled user, `[user][bs]`, and PF weights).
    pub central_upload: Option<(Vec<u8>, Vec<f64>)>,
    /// Wall time of the sensing update (step 1), s.
    pub sense_s: f64,
    /// Wall time of scheduling and encoding the messages (steps 2–3), s.
    pub schedule_s: f64,
}

/// The agent's beams of step 4 and the solver's diagnostics.
#[derive(Debug, Clone)]
pub struct BeamOutcome {
    /// |S|×Nt, row i is the beam of `scheduled[i]`.
    pub beams: Beams,
    pub outer_iterations: u32,
    pub inner_iterations: u64,
    pub objective: f64,
    /// Local indices of users whose sensing constraint was relaxed.
    pub relaxed: Vec<usize>,
    /// Per scheduled user: the BS's predicted σ²_{k,ī}/c̄ at the returned
    /// beams (≈ 1: the constraint is active); `None` without sensing.
    pub constraint_ratio: Vec<Option<f64>>,
    /// The solver's own convergence report; `None` without a solve.
    pub diagnostics: Option<SolveDiagnostics>,
    /// Wall time of the whole step, s.
    pub elapsed_s: f64,
    /// Of which: CKM queries and the leakage matrix, s.
    pub ckm_query_s: f64,
    /// Of which: the solver from its initial point to its return, s.
    pub solve_s: f64,
}

/// How a beamforming solve ended (from `FpInfo` / `WmmseInfo`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolveDiagnostics {
    /// The outer loop stopped on its relative-improvement test.
    pub converged: bool,
    /// Every inner solve met its tolerance (`None`: no inner solver).
    pub inner_converged: Option<bool>,
    /// Σ‖v_k‖²/P − 1 at return (≤ 0), FP solvers only.
    pub power_residual: Option<f64>,
    /// max over constrained users of σ²_k/c̄ − 1 at return, FP solvers only.
    pub sensing_residual: Option<f64>,
}

impl BeamOutcome {
    fn empty(nt: usize) -> Self {
        Self {
            beams: Array2::zeros((0, nt)),
            outer_iterations: 0,
            inner_iterations: 0,
            objective: 0.0,
            relaxed: Vec::new(),
            constraint_ratio: Vec::new(),
            diagnostics: None,
            elapsed_s: 0.0,
            ckm_query_s: 0.0,
            solve_s: 0.0,
        }
    }
}

/// One BS.
#[derive(Debug)]
pub struct BsAgent {
    cfg: AgentConfig,
    ckm: Option<Arc<CkmMap>>,
    tracker: Option<Tracker>,
    /// R̂_k(n−1) per own user.
    avg_rate: Vec<f64>,
    epochs_seen: u32,
    unserved_streak: Vec<u32>,
    fixed_schedule: Option<Vec<usize>>,
    // State of the current epoch, set by `plan`.
    epoch: u32,
    own_channels: Vec<Vec<C64>>,
    cross_channels: Option<Vec<Vec<Vec<C64>>>>,
    scheduled: Vec<usize>,
    /// The agent's belief about each own user this epoch.
    predictions: Vec<Option<Prediction>>,
    /// Own users whose echo of this epoch the tracker gated.
    echo_gated: Vec<bool>,
}

impl BsAgent {
    pub fn new(cfg: AgentConfig, ckm: Option<Arc<CkmMap>>) -> Result<Self, SimError> {
        let k = cfg.users.len();
        let tracker = if cfg.scheme.uses_sensing() {
            let params = TrackerParams {
                max_speed_mps: cfg.max_speed_mps,
                ..TrackerParams::default()
            };
            Some(
                Tracker::new(cfg.site, k, cfg.epoch_s, params)
                    .and_then(|t| t.with_cell(cfg.cells.clone(), cfg.id))
                    .map_err(|e| AgentError::from(e).at(cfg.id))?,
            )
        } else {
            None
        };
        Ok(Self {
            ckm,
            tracker,
            avg_rate: vec![0.0; k],
            epochs_seen: 0,
            unserved_streak: vec![0; k],
            fixed_schedule: None,
            epoch: 0,
            own_channels: Vec::new(),
            cross_channels: None,
            scheduled: Vec::new(),
            predictions: vec![None; k],
            echo_gated: vec![false; k],
            cfg,
        })
    }

    pub fn id(&self) -> usize {
        self.cfg.id
    }

    /// The agent's current beliefs about its own users (local order):
    /// location, velocity and the location's covariance.
    pub fn predictions(&self) -> &[Option<Prediction>] {
        &self.predictions
    }

    /// Own users (local order) whose echo of this epoch was gated.
    pub fn echo_gated(&self) -> &[bool] {
        &self.echo_gated
    }

    /// The users scheduled by the last [`plan`](Self::plan), local order.
    pub fn scheduled(&self) -> &[usize] {
        &self.scheduled
    }

    fn estimate(&self, u: usize) -> Result<Prediction, AgentError> {
        self.predictions[u].ok_or(AgentError::NoEstimate(u))
    }

    /// The agent's own view of R̂_k(n−1).
    pub fn average_rates(&self) -> &[f64] {
        &self.avg_rate
    }

    /// Steps 1–3 of epoch n: fold in the feedback and echoes, schedule, and
    /// encode the outgoing backhaul messages.
    pub fn plan(&mut self, obs: Observation) -> Result<Plan, SimError> {
        self.plan_local(obs).map_err(|e| e.at(self.cfg.id))
    }

    fn plan_local(&mut self, obs: Observation) -> Result<Plan, AgentError> {
        let k = self.cfg.users.len();
        if obs.own_channels.len() != k || obs.rate_feedback.len() != k {
            return Err(AgentError::ObservationSize {
                got: obs.own_channels.len(),
                expected: k,
            });
        }
        self.absorb_feedback(obs.epoch, &obs.rate_feedback);
        let start = Instant::now();
        self.sense(&obs)?;
        let sense_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let weights = pf_weights(&self.avg_rate, sdusc_scheduling::DEFAULT_RATE_FLOOR_BPS_HZ);
        let scheduled = self.schedule_users(&obs.own_channels, &weights)?;
        let (outgoing, central_upload) =
            self.outgoing(&scheduled, &weights, obs.cross_channels.as_deref())?;
        let schedule_s = start.elapsed().as_secs_f64();
        self.own_channels = obs.own_channels;
        self.cross_channels = obs.cross_channels;
        self.scheduled = scheduled.clone();
        Ok(Plan {
            scheduled,
            outgoing,
            central_upload,
            sense_s,
            schedule_s,
        })
    }

    /// PF state: R̂(n−1) from the rate feedback of epoch n−1.
    fn absorb_feedback(&mut self, epoch: u32, rate_feedback: &[f64]) {
        if epoch > 1 {
            let n = self.epochs_seen as f64 + 1.0;
            for (avg, r) in self.avg_rate.iter_mut().zip(rate_feedback) {
                *avg += (r - *avg) / n;
            }
            self.epochs_seen += 1;
        }
        self.epoch = epoch;
    }

    /// STEP 1: sensing — fold in the echoes, predict every own user to epoch n.
    fn sense(&mut self, obs: &Observation) -> Result<(), AgentError> {
        self.echo_gated.fill(false);
        if let Some(tracker) = self.tracker.as_mut() {
            for (u, echo, described) in &obs.echoes {
                let outcome = tracker.update_from_echo(*u, echo, *described as u64)?;
                if let Some(g) = self.echo_gated.get_mut(*u) {
                    *g |= outcome.position_gated;
                }
            }
            self.predictions = tracker.predict_all(obs.epoch as u64);
        }
        Ok(())
    }

    /// STEP 2: scheduling with PF weights 1/R̂(n−1) and intra-cell CSI; the
    /// fixed-schedule schemes keep their first epoch's set.
    fn schedule_users(
        &mut self,
        channels: &[Vec<C64>],
        weights: &[f64],
    ) -> Result<Vec<usize>, AgentError> {
        let scheduled = match (&self.fixed_schedule, self.cfg.scheme.fixed_schedule) {
            (Some(fixed), true) => fixed.clone(),
            _ => {
                let forced = overdue_users(&self.unserved_streak, self.cfg.force_schedule_after);
                let scheduler = match self.cfg.scheme.scheduler {
                    SchedulerKind::Pfzfg => Scheduler::Pfzfg(Default::default()),
                    SchedulerKind::Hungarian => Scheduler::Hungarian(Default::default()),
                    SchedulerKind::AllUsers => Scheduler::AllUsers,
                };
                let input = ScheduleInput {
                    channels,
                    weights,
                    forced: &forced,
                    power_w: self.cfg.power_w,
                    noise_w: self.cfg.noise_w,
                    max_scheduled: self.cfg.max_scheduled,
                    codebook: Some(self.cfg.codebook.view()),
                };
                schedule(&scheduler, &input)?.users
            }
        };
        if self.cfg.scheme.fixed_schedule && self.fixed_schedule.is_none() {
            self.fixed_schedule = Some(scheduled.clone());
        }
        for (u, streak) in self.unserved_streak.iter_mut().enumerate() {
            *streak = if scheduled.contains(&u) {
                0
            } else {
                *streak + 1
            };
        }
        Ok(scheduled)
    }

    /// STEP 3: the messages to the BSs that coordinate with this one (all
    /// others by default), and CWMMSE's upload to the central unit.
    #[allow(clippy::type_complexity)]
    fn outgoing(
        &self,
        scheduled: &[usize],
        weights: &[f64],
        cross: Option<&[Vec<Vec<C64>>]>,
    ) -> Result<(Vec<(usize, Payload)>, Option<(Vec<u8>, Vec<f64>)>), AgentError> {
        let sender = self.cfg.id as u16;
        let id = self.cfg.id;
        let cells = &self.cfg.cells;
        let others = (0..self.cfg.num_bs).filter(|&m| cells.coordinates_with(m, id));
        let mut outgoing = Vec::new();
        let mut central_upload = None;
        match self.cfg.scheme.beamformer {
            BeamformerKind::Salinr | BeamformerKind::Slinr | BeamformerKind::SalinrReference => {
                let estimates = scheduled
                    .iter()
                    .map(|&u| self.estimate(u))
                    .collect::<Result<Vec<_>, _>>()?;
                let message = LocationMessage {
                    sender,
                    locations: estimates.iter().map(|p| p.position).collect(),
                    covariances: self
                        .cfg
                        .scheme
                        .leakage
                        .needs_location_covariance()
                        .then(|| estimates.iter().map(|p| p.covariance).collect()),
                };
                let bytes = message.encode();
                outgoing.extend(others.map(|m| (m, Payload::Locations(bytes.clone()))));
            }
            BeamformerKind::FpSalinrPerfect => {
                let cross = cross.ok_or(AgentError::NoChannelFeedback("perfect-CSI"))?;
                for m in others {
                    let msg = VectorsMessage {
                        sender,
                        nt: self.cfg.tx_antennas as u16,
                        vectors: scheduled.iter().map(|&u| cross[u][m].clone()).collect(),
                    };
                    outgoing.push((m, Payload::Channels(msg.encode())));
                }
            }
            BeamformerKind::Cwmmse => {
                let cross = cross.ok_or(AgentError::NoChannelFeedback("centralized"))?;
                let msg = VectorsMessage {
                    sender,
                    nt: self.cfg.tx_antennas as u16,
                    vectors: scheduled
                        .iter()
                        .flat_map(|&u| cross[u].iter().cloned())
                        .collect(),
                };
                central_upload = Some((
                    msg.encode(),
                    scheduled.iter().map(|&u| weights[u]).collect(),
                ));
            }
            BeamformerKind::Pwmmse => {}
        }
        Ok((outgoing, central_upload))
    }

    /// Step 4: beams for the scheduled users from what the inbox holds.
    /// (CWMMSE beams come from the central unit instead.)
    pub fn beamform(&self, inbox: &Inbox) -> Result<BeamOutcome, SimError> {
        self.beamform_local(inbox).map_err(|e| e.at(self.cfg.id))
    }

    fn beamform_local(&self, inbox: &Inbox) -> Result<BeamOutcome, AgentError> {
        let nt = self.cfg.tx_antennas;
        let s = &self.scheduled;
        if s.is_empty() {
            return Ok(BeamOutcome::empty(nt));
        }
        let start = Instant::now();
        let channels = Array2::from_shape_fn((s.len(), nt), |(i, j)| self.own_channels[s[i]][j]);
        let weights_all = pf_weights(&self.avg_rate, sdusc_scheduling::DEFAULT_RATE_FLOOR_BPS_HZ);
        let weights: Vec<f64> = s.iter().map(|&u| weights_all[u]).collect();
        let kind = self.cfg.scheme.beamformer;
        if kind == BeamformerKind::Pwmmse {
            let mut outcome = self.pwmmse(&channels, weights)?;
            outcome.elapsed_s = start.elapsed().as_secs_f64();
            outcome.solve_s = outcome.elapsed_s;
            return Ok(outcome);
        }
        let query_start = Instant::now();
        let d = self.leakage_matrix(inbox)?;
        let ckm_query_s = query_start.elapsed().as_secs_f64();
        let leakage = match kind {
            BeamformerKind::Slinr => Leakage::PerUser(d),
            _ => Leakage::Averaged(d.mapv(|x| x / s.len() as f64)),
        };
        let problem = SalinrProblem {
            channels,
            leakage,
            weights,
            noise_power: self.cfg.noise_w,
            power_budget: self.cfg.power_w,
            sensing: self.sensing_data()?,
        };
        let solve_start = Instant::now();
        let v0 = fp::initial_beams(&problem, &self.cfg.dualopt.fp)?;
        let (beams, info) = match kind {
            BeamformerKind::SalinrReference => {
                reference::solve_fp_from(&problem, &v0, &self.cfg.reference)
            }
            _ => dualopt::solve_from(&problem, &v0, &self.cfg.dualopt),
        }?;
        let solve_s = solve_start.elapsed().as_secs_f64();
        let elapsed_s = start.elapsed().as_secs_f64();
        let objective = info.objective_history.last().copied().unwrap_or(0.0);
        let constraint_ratio = match (
            sdusc_beamforming::salinr::sensing_variances(&problem, &beams),
            &problem.sensing,
        ) {
            (Ok(Some(vars)), Some(sd)) => vars.iter().map(|v| Some(v / sd.threshold)).collect(),
            _ => vec![None; s.len()],
        };
        if let Some((dir, prefix)) = &self.cfg.dump {
            let path = dir.join(format!("{prefix}_e{}_bs{}.npz", self.epoch, self.cfg.id));
            let inst = npz::Instance {
                problem,
                v0,
                v: beams.clone(),
                objective,
            };
            npz::save(&path, &inst)?;
        }
        Ok(BeamOutcome {
            beams,
            outer_iterations: info.outer_iterations as u32,
            inner_iterations: info.inner_iterations.iter().map(|&x| x as u64).sum(),
            objective,
            relaxed: info.relaxed_users.iter().map(|&i| s[i]).collect(),
            constraint_ratio,
            diagnostics: Some(SolveDiagnostics {
                converged: info.converged,
                inner_converged: Some(info.inner_converged),
                power_residual: Some(info.power_residual),
                sensing_residual: Some(info.sensing_residual),
            }),
            elapsed_s,
            ckm_query_s,
            solve_s,
        })
    }

    /// PWMMSE: the intra-cell WMMSE of this cell alone.
    fn pwmmse(&self, channels: &Array2<C64>, weights: Vec<f64>) -> Result<BeamOutcome, AgentError> {
        let k = channels.nrows();
        let problem = NetworkProblem {
            channels: Array3::from_shape_fn((1, k, channels.ncols()), |(_, i, j)| channels[(i, j)]),
            serving: vec![0; k],
            weights,
            noise_power: self.cfg.noise_w,
            power_budgets: vec![self.cfg.power_w],
        };
        let (beams, info) = wmmse::pwmmse(&problem, &self.cfg.wmmse)?;
        Ok(BeamOutcome {
            beams,
            outer_iterations: info.iterations as u32,
            objective: info.wsr_history.last().copied().unwrap_or(0.0),
            constraint_ratio: vec![None; k],
            diagnostics: Some(SolveDiagnostics {
                converged: info.converged,
                inner_converged: None,
                power_residual: None,
                sensing_residual: None,
            }),
            ..BeamOutcome::empty(channels.ncols())
        })
    }

    /// The inter-cell leakage Σ E[g gᴴ] over the neighbours' users: the
    /// CKM at the received locations (in this BS's frame: the image it
    /// sees), or the fed-back channels of the perfect-CSI scheme.
    fn leakage_matrix(&self, inbox: &Inbox) -> Result<Array2<C64>, AgentError> {
        let nt = self.cfg.tx_antennas;
        let mut d = Array2::<C64>::zeros((nt, nt));
        if self.cfg.scheme.beamformer == BeamformerKind::FpSalinrPerfect {
            for h in inbox.channels.iter().flat_map(|msg| &msg.vectors) {
                for i in 0..nt {
                    for j in 0..nt {
                        d[(i, j)] += h[i] * h[j].conj();
                    }
                }
            }
            return Ok(d);
        }
        let ckm = self.ckm.as_ref().ok_or(AgentError::NoCkm)?;
        let mut sum = LeakageSum::new(ckm);
        for msg in &inbox.locations {
            for (i, &p) in msg.locations.iter().enumerate() {
                let p = self.cfg.cells.image(self.cfg.id, p);
                let est = ckm.lookup(p)?;
                match self.cfg.scheme.leakage {
                    LeakageModel::Vector => sum.add_vector(&est, 1.0),
                    LeakageModel::Covariance => sum.add_covariance(&est, 1.0),
                    LeakageModel::PhaseAware => sum.add_phase_aware(&est, self.cfg.phase_var_rad2),
                    LeakageModel::Robust => {
                        let cov = msg
                            .covariances
                            .as_ref()
                            .and_then(|c| c.get(i))
                            .ok_or(AgentError::NoCovariances(msg.sender))?;
                        sum.add_robust(p, *cov)?;
                    }
                }
            }
        }
        d += &sum.matrix();
        Ok(d)
    }

    /// The sensing constraints (17) of the scheduled users, at the agent's
    /// own location estimates; `None` for schemes without sensing.
    fn sensing_data(&self) -> Result<Option<SensingData>, AgentError> {
        let kind = self.cfg.scheme.beamformer;
        let model = match (&self.cfg.echo_model, kind) {
            (
                Some(model),
                BeamformerKind::Salinr | BeamformerKind::Slinr | BeamformerKind::SalinrReference,
            ) => model,
            _ => return Ok(None),
        };
        let s = &self.scheduled;
        let nt = self.cfg.tx_antennas;
        let mut steering = Array2::zeros((s.len(), nt));
        let mut echo_gain = Vec::with_capacity(s.len());
        let mut first = None;
        for (i, &u) in s.iter().enumerate() {
            let p = self.estimate(u)?.position;
            let c = model.constraint(p)?;
            for (j, z) in c.steering.iter().enumerate() {
                steering[(i, j)] = *z;
            }
            echo_gain.push(c.echo_gain);
            first.get_or_insert(c);
        }
        let c = first.expect("at least one scheduled user");
        Ok(Some(SensingData {
            steering,
            echo_gain,
            sensing_noise: c.noise_w,
            threshold: c.threshold,
            error_scale_sq: c.error_scale_sq,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;
    use crate::engine::build_agents;
    use crate::epoch::EpochPipeline;
    use crate::fixture::{Fixture, scheme, smoke};

    fn agents(f: &Fixture, name: &str, ckms: bool) -> Vec<BsAgent> {
        let none = vec![None; f.ckms.len()];
        let ckms = if ckms { &f.ckms } else { &none };
        build_agents(&f.world, &f.truth, ckms, &scheme(name), &f.opts).unwrap()
    }

    /// Epoch-1 observations from the world side of the pipeline.
    fn observations(f: &Fixture, name: &str) -> Vec<Observation> {
        let sc = scheme(name);
        let s = &f.world.scenario;
        let radars = (0..s.num_bs())
            .map(|b| crate::engine::radar(&f.world, b, s.sensing.threshold).unwrap())
            .collect();
        EpochPipeline::new(&f.world, &f.truth, &sc, &f.opts, radars)
            .sense(1)
            .unwrap()
    }

    /// Every agent of `name` after planning epoch 1, with the inboxes the
    /// backhaul delivers to them.
    fn planned(f: &Fixture, name: &str, ckms: bool) -> (Vec<BsAgent>, Vec<Inbox>) {
        let mut a = agents(f, name, ckms);
        let plans: Vec<Plan> = a
            .iter_mut()
            .zip(observations(f, name))
            .map(|(a, o)| a.plan(o).unwrap())
            .collect();
        let outgoing: Vec<_> = plans.iter().map(|p| p.outgoing.clone()).collect();
        let (inboxes, _) = crate::backhaul::deliver(&outgoing, plans.len()).unwrap();
        (a, inboxes)
    }

    #[test]
    fn a_wrong_sized_observation_is_a_typed_error_of_that_bs() {
        let f = smoke(1);
        let mut a = agents(&f, "sd-uscb", true);
        let mut obs = observations(&f, "sd-uscb").remove(1);
        obs.own_channels.pop();
        let e = a[1].plan(obs).unwrap_err();
        assert!(matches!(
            e,
            SimError::Agent {
                bs: 1,
                source: AgentError::ObservationSize { .. }
            }
        ));
        assert!(e.to_string().starts_with("BS 1: observation for"), "{e}");
        assert!(e.source().is_some());
    }

    #[test]
    fn pf_averages_follow_the_rate_feedback_from_epoch_two_on() {
        let f = smoke(1);
        let mut a = agents(&f, "pwmmse", true).remove(0);
        let mut obs = observations(&f, "pwmmse").remove(0);
        let k = obs.rate_feedback.len();
        obs.rate_feedback = vec![9.0; k];
        a.plan(obs.clone()).unwrap();
        assert!(
            a.average_rates().iter().all(|&r| r == 0.0),
            "epoch 1 has no feedback"
        );
        for (n, r) in [(2, 1.0), (3, 3.0)] {
            obs.epoch = n;
            obs.rate_feedback = (0..k).map(|u| r * u as f64).collect();
            a.plan(obs.clone()).unwrap();
        }
        for (u, avg) in a.average_rates().iter().enumerate() {
            assert_eq!(*avg, 2.0 * u as f64, "mean of 1·u and 3·u");
        }
    }

    #[test]
    fn fixed_schedule_schemes_keep_their_first_set() {
        let f = smoke(1);
        let mut a = agents(&f, "sd-uscb:fixed=true", true).remove(0);
        let obs = observations(&f, "sd-uscb:fixed=true").remove(0);
        let first = a.plan(obs.clone()).unwrap().scheduled;
        let mut later = obs;
        later.epoch = 2;
        later.echoes.clear();
        later.rate_feedback = vec![5.0; later.rate_feedback.len()];
        assert_eq!(a.plan(later).unwrap().scheduled, first);
    }

    #[test]
    fn perfect_csi_leakage_is_the_sum_of_the_fed_back_outer_products() {
        let f = smoke(1);
        let (a, inboxes) = planned(&f, "fp-salinr-perfect", false);
        let d = a[0].leakage_matrix(&inboxes[0]).unwrap();
        let nt = f.world.scenario.tx_antennas;
        let mut want = Array2::<C64>::zeros((nt, nt));
        for msg in &inboxes[0].channels {
            for h in &msg.vectors {
                let h = ndarray::Array1::from(h.clone());
                let col = h.clone().into_shape_with_order((nt, 1)).unwrap();
                let row = h.mapv(|z| z.conj()).into_shape_with_order((1, nt)).unwrap();
                want += &col.dot(&row);
            }
        }
        assert!(!inboxes[0].channels.is_empty());
        let err = (&d - &want).iter().map(|z| z.norm()).fold(0.0, f64::max);
        assert!(err < 1e-12 * want.iter().map(|z| z.norm()).fold(0.0, f64::max));
    }

    #[test]
    fn a_ckm_scheme_without_its_ckm_says_so() {
        let f = smoke(1);
        let (a, inboxes) = planned(&f, "sd-uscb", false);
        let e = a[2].beamform(&inboxes[2]).unwrap_err();
        assert!(matches!(
            e,
            SimError::Agent {
                bs: 2,
                source: AgentError::NoCkm
            }
        ));
    }

    #[test]
    fn nobody_scheduled_means_no_beams_and_no_solve() {
        let f = smoke(1);
        let a = agents(&f, "sd-uscb", true).remove(0);
        let o = a.beamform(&Inbox::default()).unwrap();
        assert_eq!(o.beams.nrows(), 0);
        assert!(o.diagnostics.is_none());
        assert_eq!((o.elapsed_s, o.solve_s), (0.0, 0.0));
    }

    #[test]
    fn sensing_constraints_sit_at_the_agents_own_estimates() {
        let f = smoke(1);
        let mut a = agents(&f, "sd-uscb", true).remove(0);
        a.plan(observations(&f, "sd-uscb").remove(0)).unwrap();
        let sd = a.sensing_data().unwrap().expect("sd-uscb senses");
        let model = a.cfg.echo_model.as_ref().unwrap();
        for (i, &u) in a.scheduled().iter().enumerate() {
            let c = model
                .constraint(a.predictions()[u].unwrap().position)
                .unwrap();
            assert_eq!(sd.echo_gain[i], c.echo_gain);
            assert_eq!(sd.steering.row(i).to_vec(), c.steering);
        }
        let mut pw = agents(&f, "pwmmse", true).remove(0);
        pw.plan(observations(&f, "pwmmse").remove(0)).unwrap();
        assert!(pw.sensing_data().unwrap().is_none());
    }
}
