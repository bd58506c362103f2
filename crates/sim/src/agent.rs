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

use ndarray::Array2;
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
use crate::engine::SimError;
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
    pub elapsed_s: f64,
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
                    .map_err(|e| SimError::Agent(cfg.id, e.to_string()))?,
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

    fn estimate(&self, u: usize) -> Result<Prediction, SimError> {
        self.predictions[u].ok_or_else(|| self.err(format!("no location estimate of user {u}")))
    }

    /// The agent's own view of R̂_k(n−1).
    pub fn average_rates(&self) -> &[f64] {
        &self.avg_rate
    }

    fn err(&self, e: impl ToString) -> SimError {
        SimError::Agent(self.cfg.id, e.to_string())
    }

    /// Steps 1–3 of epoch n: fold in the feedback and echoes, schedule, and
    /// encode the outgoing backhaul messages.
    pub fn plan(&mut self, obs: Observation) -> Result<Plan, SimError> {
        let k = self.cfg.users.len();
        if obs.own_channels.len() != k || obs.rate_feedback.len() != k {
            return Err(self.err(format!(
                "observation for {} users, expected {k}",
                obs.own_channels.len()
            )));
        }
        // PF state: R̂(n−1) from the feedback of epoch n−1.
        if obs.epoch > 1 {
            let n = self.epochs_seen as f64 + 1.0;
            for (avg, r) in self.avg_rate.iter_mut().zip(&obs.rate_feedback) {
                *avg += (r - *avg) / n;
            }
            self.epochs_seen += 1;
        }
        self.epoch = obs.epoch;

        // STEP 1: sensing — fold in echoes, predict every own user to epoch n.
        self.echo_gated.fill(false);
        if let Some(tracker) = self.tracker.as_mut() {
            for (u, echo, described) in &obs.echoes {
                let outcome = tracker
                    .update_from_echo(*u, echo, *described as u64)
                    .map_err(|e| SimError::Agent(self.cfg.id, e.to_string()))?;
                if let Some(g) = self.echo_gated.get_mut(*u) {
                    *g |= outcome.position_gated;
                }
            }
            self.predictions = tracker.predict_all(obs.epoch as u64);
        }

        // STEP 2: scheduling with PF weights 1/R̂(n−1) and intra-cell CSI.
        let weights = pf_weights(&self.avg_rate, sdusc_scheduling::DEFAULT_RATE_FLOOR_BPS_HZ);
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
                    channels: &obs.own_channels,
                    weights: &weights,
                    forced: &forced,
                    power_w: self.cfg.power_w,
                    noise_w: self.cfg.noise_w,
                    max_scheduled: self.cfg.max_scheduled,
                    codebook: Some(self.cfg.codebook.view()),
                };
                schedule(&scheduler, &input).map_err(|e| self.err(e))?.users
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

        // STEP 3: outgoing messages.
        let sender = self.cfg.id as u16;
        // The BSs that coordinate with this one (all others by default).
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
                let cross = obs
                    .cross_channels
                    .as_ref()
                    .ok_or_else(|| self.err("perfect-CSI scheme without channel feedback"))?;
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
                let cross = obs
                    .cross_channels
                    .as_ref()
                    .ok_or_else(|| self.err("centralized scheme without channel feedback"))?;
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
        self.own_channels = obs.own_channels;
        self.cross_channels = obs.cross_channels;
        self.scheduled = scheduled.clone();
        Ok(Plan {
            scheduled,
            outgoing,
            central_upload,
        })
    }

    /// Step 4: beams for the scheduled users from what the inbox holds.
    /// (CWMMSE beams come from the central unit instead.)
    pub fn beamform(&self, inbox: &Inbox) -> Result<BeamOutcome, SimError> {
        let nt = self.cfg.tx_antennas;
        let s = &self.scheduled;
        if s.is_empty() {
            return Ok(BeamOutcome {
                beams: Array2::zeros((0, nt)),
                outer_iterations: 0,
                inner_iterations: 0,
                objective: 0.0,
                relaxed: Vec::new(),
                constraint_ratio: Vec::new(),
                elapsed_s: 0.0,
            });
        }
        let start = Instant::now();
        let channels = Array2::from_shape_fn((s.len(), nt), |(i, j)| self.own_channels[s[i]][j]);
        let weights_all = pf_weights(&self.avg_rate, sdusc_scheduling::DEFAULT_RATE_FLOOR_BPS_HZ);
        let weights: Vec<f64> = s.iter().map(|&u| weights_all[u]).collect();
        let kind = self.cfg.scheme.beamformer;
        if kind == BeamformerKind::Pwmmse {
            let problem = NetworkProblem {
                channels: channels
                    .clone()
                    .into_shape_with_order((1, s.len(), nt))
                    .map_err(|e| self.err(e))?,
                serving: vec![0; s.len()],
                weights,
                noise_power: self.cfg.noise_w,
                power_budgets: vec![self.cfg.power_w],
            };
            let (beams, info) =
                wmmse::pwmmse(&problem, &self.cfg.wmmse).map_err(|e| self.err(e))?;
            return Ok(BeamOutcome {
                beams,
                outer_iterations: info.iterations as u32,
                inner_iterations: 0,
                objective: info.wsr_history.last().copied().unwrap_or(0.0),
                relaxed: Vec::new(),
                constraint_ratio: vec![None; s.len()],
                elapsed_s: start.elapsed().as_secs_f64(),
            });
        }

        // Inter-cell leakage: CKM at received locations, or fed-back channels.
        let mut d = Array2::<C64>::zeros((nt, nt));
        let mut add_outer = |h: &[C64]| {
            for i in 0..nt {
                for j in 0..nt {
                    d[(i, j)] += h[i] * h[j].conj();
                }
            }
        };
        match kind {
            BeamformerKind::FpSalinrPerfect => {
                for msg in &inbox.channels {
                    msg.vectors.iter().for_each(|h| add_outer(h));
                }
            }
            _ => {
                let ckm = self
                    .ckm
                    .as_ref()
                    .ok_or_else(|| self.err("scheme needs a CKM, none loaded"))?;
                let mut sum = LeakageSum::new(ckm);
                for msg in &inbox.locations {
                    for (i, &p) in msg.locations.iter().enumerate() {
                        // The CKM is in this BS's frame: the image it sees.
                        let p = self.cfg.cells.image(self.cfg.id, p);
                        let est = ckm.lookup(p).map_err(|e| self.err(e))?;
                        match self.cfg.scheme.leakage {
                            LeakageModel::Vector => sum.add_vector(&est, 1.0),
                            LeakageModel::Covariance => sum.add_covariance(&est, 1.0),
                            LeakageModel::PhaseAware => {
                                sum.add_phase_aware(&est, self.cfg.phase_var_rad2)
                            }
                            LeakageModel::Robust => {
                                let cov = msg
                                    .covariances
                                    .as_ref()
                                    .and_then(|c| c.get(i))
                                    .ok_or_else(|| {
                                        self.err(format!(
                                            "leakage=robust: BS {}'s locations came without covariances",
                                            msg.sender
                                        ))
                                    })?;
                                sum.add_robust(p, *cov).map_err(|e| self.err(e))?;
                            }
                        }
                    }
                }
                d += &sum.matrix();
            }
        }
        let leakage = match kind {
            BeamformerKind::Slinr => Leakage::PerUser(d),
            _ => Leakage::Averaged(d.mapv(|x| x / s.len() as f64)),
        };

        // Sensing constraints from the agent's own location estimates.
        let sensing = match (&self.cfg.echo_model, kind) {
            (
                Some(model),
                BeamformerKind::Salinr | BeamformerKind::Slinr | BeamformerKind::SalinrReference,
            ) => {
                let mut steering = Array2::zeros((s.len(), nt));
                let mut echo_gain = Vec::with_capacity(s.len());
                let mut first = None;
                for (i, &u) in s.iter().enumerate() {
                    let p = self.estimate(u)?.position;
                    let c = model.constraint(p).map_err(|e| self.err(e))?;
                    for (j, z) in c.steering.iter().enumerate() {
                        steering[(i, j)] = *z;
                    }
                    echo_gain.push(c.echo_gain);
                    first.get_or_insert(c);
                }
                let c = first.expect("at least one scheduled user");
                Some(SensingData {
                    steering,
                    echo_gain,
                    sensing_noise: c.noise_w,
                    threshold: c.threshold,
                    error_scale_sq: c.error_scale_sq,
                })
            }
            _ => None,
        };
        let problem = SalinrProblem {
            channels,
            leakage,
            weights,
            noise_power: self.cfg.noise_w,
            power_budget: self.cfg.power_w,
            sensing,
        };
        let v0 = fp::initial_beams(&problem, &self.cfg.dualopt.fp).map_err(|e| self.err(e))?;
        let (beams, info) = match kind {
            BeamformerKind::SalinrReference => {
                reference::solve_fp_from(&problem, &v0, &self.cfg.reference)
            }
            _ => dualopt::solve_from(&problem, &v0, &self.cfg.dualopt),
        }
        .map_err(|e| self.err(e))?;
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
            npz::save(&path, &inst).map_err(|e| self.err(e))?;
        }
        Ok(BeamOutcome {
            beams,
            outer_iterations: info.outer_iterations as u32,
            inner_iterations: info.inner_iterations.iter().map(|&x| x as u64).sum(),
            objective,
            relaxed: info.relaxed_users.iter().map(|&i| s[i]).collect(),
            constraint_ratio,
            elapsed_s,
        })
    }
}
