//! The epoch loop of one (scheme, drop) (SPEC §7), world side.
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

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::{Array2, Array3};
use rayon::prelude::*;
use sdusc_beamforming::evaluate::true_sinr;
use sdusc_beamforming::wmmse::{self, NetworkProblem, WmmseParams};
use sdusc_beamforming::{dualopt::DualOptParams, reference::RefParams};
use sdusc_ckm::query::CkmMap;
use sdusc_formats::metrics::{BsEpochRow, EpochRow, UserEpochRow};
use sdusc_model::C64;
use sdusc_model::array::steering;
use sdusc_model::codebook::dft_codebook;
use sdusc_model::geometry::Cells;
use sdusc_model::scenario::PhaseModel;
use sdusc_sensing::{EchoErrors, EchoKey, EchoModel, TrueKinematics, echo_from_errors, sense_echo};

use crate::RATE_FLOOR_BPS_HZ;
use crate::agent::{AgentConfig, BeamOutcome, BsAgent, Observation, Plan};
use crate::backhaul::{self, DecodeError, VectorsMessage};
use crate::scheme::{BeamformerKind, Scheme};
use crate::world::{DropTruth, TruthError, World};

/// Errors of a simulation run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("BS {0}: {1}")]
    Agent(usize, String),
    #[error(transparent)]
    Truth(#[from] TruthError),
    #[error("backhaul: {0}")]
    Backhaul(#[from] DecodeError),
    #[error("world: {0}")]
    World(String),
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Seed of the small-scale fading and sensing draws.
    pub seed: u64,
    /// Measure beamforming wall time (off ⇒ 0 in the metrics: byte-identical files).
    pub timing: bool,
    /// Run the agents of an epoch in parallel (results are identical either way).
    pub parallel_agents: bool,
    pub dump_dir: Option<PathBuf>,
    pub dualopt: DualOptParams,
    pub reference: RefParams,
    pub wmmse: WmmseParams,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            timing: true,
            parallel_agents: true,
            dump_dir: None,
            dualopt: DualOptParams::default(),
            reference: RefParams::default(),
            wmmse: WmmseParams::default(),
        }
    }
}

/// Metrics of one (scheme, drop).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOutput {
    pub epochs: Vec<EpochRow>,
    pub users: Vec<UserEpochRow>,
    pub bs: Vec<BsEpochRow>,
}

impl RunOutput {
    pub fn extend(&mut self, other: RunOutput) {
        self.epochs.extend(other.epochs);
        self.users.extend(other.users);
        self.bs.extend(other.bs);
    }
}

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

/// Run every epoch of `scheme` on one drop.
pub fn run_scheme_drop(
    world: &World,
    truth: &DropTruth,
    ckms: &[Option<Arc<CkmMap>>],
    scheme: &Scheme,
    opts: &RunOptions,
) -> Result<RunOutput, SimError> {
    let s = &world.scenario;
    let l = s.num_bs();
    let per_cell = s.users_per_cell;
    let users = world.num_users();
    let nt = s.tx_antennas;
    let codebook = Arc::new(dft_codebook(nt, s.beams));
    let sensing = scheme.uses_sensing();
    let needs_cross = matches!(
        scheme.beamformer,
        BeamformerKind::FpSalinrPerfect | BeamformerKind::Cwmmse
    );

    // The physical radars (world side) and the agents' models (with c̄).
    let radar = |b: usize, threshold: f64| {
        let mut params = s.sensing;
        params.threshold = threshold;
        EchoModel::new(s.sites[b], nt, s.rx_antennas, s.carrier_hz, params)
            .map_err(|e| SimError::World(e.to_string()))
    };
    let radars: Vec<EchoModel> = (0..l)
        .map(|b| radar(b, s.sensing.threshold))
        .collect::<Result<_, _>>()?;
    let dump_prefix = format!("{}_d{}", sanitize(&scheme.label), truth.drop);
    if let Some(dir) = &opts.dump_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| SimError::World(format!("cannot create {}: {e}", dir.display())))?;
    }
    let cells = Cells::from_scenario(s);
    let phase_var_rad2 = match s.phase_model {
        PhaseModel::Paper => s.inter_cell_phase_std_rad.powi(2),
        PhaseModel::Uniform => f64::INFINITY,
    };
    let mut agents = (0..l)
        .map(|b| {
            let cfg = AgentConfig {
                id: b,
                num_bs: l,
                site: s.sites[b],
                cells: cells.clone(),
                phase_var_rad2,
                users: (b * per_cell..(b + 1) * per_cell).collect(),
                tx_antennas: nt,
                power_w: s.power_w,
                noise_w: world.noise_w,
                max_scheduled: s.max_scheduled,
                force_schedule_after: s.force_schedule_after as u32,
                epoch_s: s.epoch_s,
                max_speed_mps: (2.0 * s.speed_mps).max(1.0),
                scheme: scheme.clone(),
                codebook: Arc::clone(&codebook),
                echo_model: if sensing {
                    Some(radar(b, scheme.threshold.unwrap_or(s.sensing.threshold))?)
                } else {
                    None
                },
                dualopt: opts.dualopt.clone(),
                reference: opts.reference.clone(),
                wmmse: opts.wmmse.clone(),
                dump: opts.dump_dir.clone().map(|d| (d, dump_prefix.clone())),
            };
            BsAgent::new(cfg, ckms.get(b).cloned().flatten())
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut out = RunOutput::default();
    let mut avg_rate = vec![0.0; users];
    let mut last_rate = vec![0.0; users];
    // Per BS: (global users scheduled, their beams) of the previous epoch.
    let mut previous: Vec<(Vec<usize>, Beams)> = vec![(Vec::new(), Array2::zeros((0, nt))); l];

    for n in 1..=s.epochs as u32 {
        let et = &truth.epochs[n as usize - 1];
        // STEP 1 (world side): echoes of last epoch's beams, or initial access.
        let mut observations = Vec::with_capacity(l);
        let mut echo_vars = vec![None; users];
        for b in 0..l {
            let mut echoes = Vec::new();
            if sensing {
                let key = |epoch: u32, u: usize| EchoKey {
                    seed: opts.seed,
                    drop: truth.drop as u64,
                    epoch: epoch as u64,
                    bs: b as u64,
                    user: u as u64,
                };
                if scheme.perfect_sensing {
                    // Oracle: an exact fix of every own user at this epoch.
                    for local in 0..per_cell {
                        let u = b * per_cell + local;
                        let st = et.states[u];
                        let kin = TrueKinematics {
                            position: st.position,
                            velocity: st.velocity,
                        };
                        let exact = EchoErrors {
                            theta_rad: 0.0,
                            tau_s: 0.0,
                            mu_hz: 0.0,
                        };
                        let echo = echo_from_errors(
                            &radars[b],
                            &kin,
                            f64::INFINITY,
                            radars[b].variances(1e12),
                            exact,
                        );
                        echoes.push((local, echo, n));
                    }
                } else if n == 1 {
                    let amp = (s.power_w / s.max_scheduled as f64).sqrt();
                    for local in 0..per_cell {
                        let u = b * per_cell + local;
                        let st = et.states[u];
                        let a = steering(nt, s.sites[b].angle_to(st.position));
                        let beam = vec![a.iter().map(|z| z * amp).collect::<Vec<C64>>()];
                        let kin = TrueKinematics {
                            position: st.position,
                            velocity: st.velocity,
                        };
                        let echo = sense_echo(&radars[b], &key(0, u), &kin, &beam, 0)
                            .map_err(|e| SimError::World(e.to_string()))?
                            .ok_or_else(|| {
                                SimError::World(format!("initial access of user {u} got no echo"))
                            })?;
                        echoes.push((local, echo, 1));
                    }
                } else {
                    let (prev_users, prev_beams) = &previous[b];
                    let beam_vecs: Vec<Vec<C64>> =
                        prev_beams.rows().into_iter().map(|r| r.to_vec()).collect();
                    let prev_truth = &truth.epochs[n as usize - 2];
                    for (i, &u) in prev_users.iter().enumerate() {
                        let st = prev_truth.states[u];
                        let kin = TrueKinematics {
                            position: st.position,
                            velocity: st.velocity,
                        };
                        if let Some(echo) =
                            sense_echo(&radars[b], &key(n - 1, u), &kin, &beam_vecs, i)
                                .map_err(|e| SimError::World(e.to_string()))?
                        {
                            echo_vars[u] = Some(echo.variances.theta_rad2);
                            echoes.push((u - b * per_cell, echo, n - 1));
                        }
                    }
                }
            }
            let own = b * per_cell..(b + 1) * per_cell;
            observations.push(Observation {
                epoch: n,
                own_channels: own.clone().map(|u| et.channel(b, u)).collect(),
                rate_feedback: own.clone().map(|u| last_rate[u]).collect(),
                echoes,
                cross_channels: needs_cross.then(|| {
                    own.map(|u| (0..l).map(|m| et.channel(m, u)).collect())
                        .collect()
                }),
            });
        }

        // STEPS 2–3: agents schedule and send.
        let plans: Vec<Plan> =
            map_agents(&mut agents, observations, opts.parallel_agents, |a, o| {
                a.plan(o)
            })?;
        let outgoing: Vec<_> = plans.iter().map(|p| p.outgoing.clone()).collect();
        let (inboxes, mut tx) = backhaul::deliver(&outgoing, l)?;
        let mut rx: Vec<u64> = inboxes.iter().map(|i| i.rx_bytes).collect();

        // STEP 4: beams (agents, or the central unit for CWMMSE).
        let outcomes: Vec<BeamOutcome> = if scheme.beamformer == BeamformerKind::Cwmmse {
            central_wmmse(
                &plans,
                l,
                nt,
                world.noise_w,
                s.power_w,
                &opts.wmmse,
                &mut tx,
                &mut rx,
            )?
        } else {
            let inputs: Vec<_> = inboxes.into_iter().collect();
            map_agents(&mut agents, inputs, opts.parallel_agents, |a, inbox| {
                a.beamform(&inbox)
            })?
        };

        // STEP 5 (world side): true SINR with every BS's beams.
        let sched: Vec<usize> = plans
            .iter()
            .enumerate()
            .flat_map(|(b, p)| p.scheduled.iter().map(move |&u| b * per_cell + u))
            .collect();
        let serving: Vec<usize> = sched.iter().map(|&u| world.serving_bs(u)).collect();
        let mut beams = Array2::<C64>::zeros((sched.len(), nt));
        let mut row = 0;
        for o in &outcomes {
            for r in o.beams.rows() {
                beams.row_mut(row).assign(&r);
                row += 1;
            }
        }
        let channels = Array3::from_shape_fn((l, sched.len(), nt), |(m, k, i)| {
            et.channels[(m, sched[k], i)]
        });
        let sinr = if sched.is_empty() {
            Vec::new()
        } else {
            true_sinr(&channels, &serving, &beams, world.noise_w)
                .map_err(|e| SimError::World(e.to_string()))?
        };
        let mut rate = vec![0.0; users];
        let mut user_sinr = vec![None; users];
        for (k, &u) in sched.iter().enumerate() {
            rate[u] = sinr[k].ln_1p() / std::f64::consts::LN_2;
            user_sinr[u] = Some(10.0 * sinr[k].max(1e-30).log10());
        }
        for u in 0..users {
            avg_rate[u] += (rate[u] - avg_rate[u]) / n as f64;
        }
        last_rate.clone_from(&rate);

        // Metrics.
        let relaxed: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .flat_map(|(b, o)| o.relaxed.iter().map(move |&u| b * per_cell + u))
            .collect();
        let mut ratio = vec![None; users];
        for (b, (p, o)) in plans.iter().zip(&outcomes).enumerate() {
            for (&u, r) in p.scheduled.iter().zip(&o.constraint_ratio) {
                ratio[b * per_cell + u] = *r;
            }
        }
        let mut loc_err = vec![None; users];
        let mut nees = vec![None; users];
        let mut gated = vec![false; users];
        if sensing {
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
        let sched_err: Vec<f64> = sched.iter().filter_map(|&u| loc_err[u]).collect();
        for u in 0..users {
            out.users.push(UserEpochRow {
                scheme: scheme.label.clone(),
                drop: truth.drop,
                epoch: n,
                bs_id: world.serving_bs(u) as u32,
                user_id: u as u32,
                scheduled: user_sinr[u].is_some(),
                sinr_db: user_sinr[u],
                rate_bps_hz: rate[u],
                avg_rate_bps_hz: avg_rate[u],
                location_error_m: loc_err[u],
                sensing_var_theta: echo_vars[u],
                constraint_ratio: ratio[u],
                constraint_relaxed: relaxed.contains(&u),
                echo_gated: gated[u],
                location_nees: nees[u],
            });
        }
        for (b, o) in outcomes.iter().enumerate() {
            out.bs.push(BsEpochRow {
                scheme: scheme.label.clone(),
                drop: truth.drop,
                epoch: n,
                bs_id: b as u32,
                n_scheduled: plans[b].scheduled.len() as u32,
                bf_time_s: if opts.timing { o.elapsed_s } else { 0.0 },
                bf_outer_iters: o.outer_iterations,
                bf_inner_iters: o.inner_iterations,
                objective: o.objective,
                relaxed_constraints: o.relaxed.len() as u32,
                backhaul_tx_bytes: tx[b],
                backhaul_rx_bytes: rx[b],
            });
        }
        out.epochs.push(EpochRow {
            scheme: scheme.label.clone(),
            drop: truth.drop,
            epoch: n,
            accumulated_pfr: accumulated_pfr(&avg_rate),
            sum_rate_bps_hz: rate.iter().sum(),
            users_unserved: avg_rate.iter().filter(|&&r| r == 0.0).count() as u32,
            backhaul_bytes: tx.iter().sum::<u64>()
                + if scheme.beamformer == BeamformerKind::Cwmmse {
                    rx.iter().sum::<u64>()
                } else {
                    0
                },
            mean_location_error_m: (!sched_err.is_empty())
                .then(|| sched_err.iter().sum::<f64>() / sched_err.len() as f64),
            relaxed_constraints: relaxed.len() as u32,
        });

        previous = plans
            .iter()
            .zip(&outcomes)
            .enumerate()
            .map(|(b, (p, o))| {
                (
                    p.scheduled.iter().map(|&u| b * per_cell + u).collect(),
                    o.beams.clone(),
                )
            })
            .collect();
    }
    Ok(out)
}

type Beams = Array2<C64>;

/// Σ_k ln(max(R̂_k, R_floor)) (SPEC §11).
pub fn accumulated_pfr(avg_rates: &[f64]) -> f64 {
    avg_rates
        .iter()
        .map(|r| r.max(RATE_FLOOR_BPS_HZ).ln())
        .sum()
}

/// The central unit of CWMMSE: decode the uploads, solve, send beams back.
#[allow(clippy::too_many_arguments)]
fn central_wmmse(
    plans: &[Plan],
    l: usize,
    nt: usize,
    noise_w: f64,
    power_w: f64,
    params: &WmmseParams,
    tx: &mut [u64],
    rx: &mut [u64],
) -> Result<Vec<BeamOutcome>, SimError> {
    let mut channels: Vec<Vec<Vec<C64>>> = Vec::new(); // [user][bs]
    let mut serving = Vec::new();
    let mut weights = Vec::new();
    for (b, p) in plans.iter().enumerate() {
        let (bytes, w) = p
            .central_upload
            .as_ref()
            .ok_or_else(|| SimError::Agent(b, "no upload to the central unit".into()))?;
        tx[b] += bytes.len() as u64 + 4 * w.len() as u64;
        let msg = VectorsMessage::decode(bytes)?;
        for (k, chunk) in msg.vectors.chunks(l).enumerate() {
            channels.push(chunk.to_vec());
            serving.push(b);
            weights.push(w[k]);
        }
    }
    let k = serving.len();
    let start = std::time::Instant::now();
    let (beams, info) = if k == 0 {
        (Array2::zeros((0, nt)), None)
    } else {
        let problem = NetworkProblem {
            channels: Array3::from_shape_fn((l, k, nt), |(m, u, i)| channels[u][m][i]),
            serving: serving.clone(),
            weights,
            noise_power: noise_w,
            power_budgets: vec![power_w; l],
        };
        let (beams, info) =
            wmmse::cwmmse(&problem, params).map_err(|e| SimError::World(format!("CWMMSE: {e}")))?;
        (beams, Some(info))
    };
    let elapsed = start.elapsed().as_secs_f64() / l as f64;
    let mut outcomes = Vec::with_capacity(l);
    for b in 0..l {
        let rows: Vec<usize> = (0..k).filter(|&u| serving[u] == b).collect();
        let mine = Array2::from_shape_fn((rows.len(), nt), |(i, j)| beams[(rows[i], j)]);
        let down = VectorsMessage {
            sender: u16::MAX,
            nt: nt as u16,
            vectors: mine.rows().into_iter().map(|r| r.to_vec()).collect(),
        }
        .encode();
        rx[b] += down.len() as u64;
        // The BS transmits what it decoded (complex64 precision).
        let decoded = VectorsMessage::decode(&down)?;
        let beams_b = Array2::from_shape_fn((rows.len(), nt), |(i, j)| decoded.vectors[i][j]);
        outcomes.push(BeamOutcome {
            beams: beams_b,
            outer_iterations: info.as_ref().map_or(0, |i| i.iterations as u32),
            inner_iterations: 0,
            objective: info.as_ref().map_or(0.0, |i| i.true_weighted_sum_rate),
            relaxed: Vec::new(),
            constraint_ratio: vec![None; rows.len()],
            elapsed_s: elapsed,
        });
    }
    Ok(outcomes)
}

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
