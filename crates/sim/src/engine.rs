//! The runs of one (scheme, drop), world side: builds the radars and the
//! agents, then steps the [`EpochPipeline`] through the epochs.

use std::path::PathBuf;
use std::sync::Arc;

use sdusc_beamforming::wmmse::WmmseParams;
use sdusc_beamforming::{dualopt::DualOptParams, reference::RefParams};
use sdusc_ckm::query::CkmMap;
use sdusc_formats::metrics::{BsEpochRow, EpochRow, UserEpochRow};
use sdusc_model::codebook::dft_codebook;
use sdusc_model::geometry::Cells;
use sdusc_model::scenario::PhaseModel;
use sdusc_sensing::EchoModel;

use crate::RATE_FLOOR_BPS_HZ;
use crate::agent::{AgentConfig, BsAgent};
use crate::epoch::EpochPipeline;
use crate::error::{SimError, WorldError};
use crate::scheme::Scheme;
use crate::world::{DropTruth, World};

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

/// Run every epoch of `scheme` on one drop.
pub fn run_scheme_drop(
    world: &World,
    truth: &DropTruth,
    ckms: &[Option<Arc<CkmMap>>],
    scheme: &Scheme,
    opts: &RunOptions,
) -> Result<RunOutput, SimError> {
    let s = &world.scenario;
    let radars = (0..s.num_bs())
        .map(|b| radar(world, b, s.sensing.threshold))
        .collect::<Result<Vec<_>, _>>()?;
    let mut agents = build_agents(world, truth, ckms, scheme, opts)?;
    let mut pipeline = EpochPipeline::new(world, truth, scheme, opts, radars);
    let mut out = RunOutput::default();
    for n in 1..=s.epochs as u32 {
        pipeline.step(n, &mut agents, &mut out)?;
    }
    Ok(out)
}

/// BS b's radar with sensing threshold c̄ = `threshold`: the physical one
/// (the world's, which draws the echoes) or an agent's model of it.
pub(crate) fn radar(world: &World, b: usize, threshold: f64) -> Result<EchoModel, SimError> {
    let s = &world.scenario;
    let mut params = s.sensing;
    params.threshold = threshold;
    EchoModel::new(
        s.sites[b],
        s.tx_antennas,
        s.rx_antennas,
        s.carrier_hz,
        params,
    )
    .map_err(|source| WorldError::Radar { bs: b, source }.into())
}

/// One agent per BS, each with its configuration, its own CKM and (for
/// sensing schemes) its radar model with the scheme's c̄.
pub(crate) fn build_agents(
    world: &World,
    truth: &DropTruth,
    ckms: &[Option<Arc<CkmMap>>],
    scheme: &Scheme,
    opts: &RunOptions,
) -> Result<Vec<BsAgent>, SimError> {
    let s = &world.scenario;
    let l = s.num_bs();
    let per_cell = s.users_per_cell;
    let nt = s.tx_antennas;
    let codebook = Arc::new(dft_codebook(nt, s.beams));
    let dump_prefix = format!("{}_d{}", sanitize(&scheme.label), truth.drop);
    if let Some(dir) = &opts.dump_dir {
        std::fs::create_dir_all(dir).map_err(|source| WorldError::DumpDir {
            path: dir.clone(),
            source,
        })?;
    }
    let cells = Cells::from_scenario(s);
    let phase_var_rad2 = match s.phase_model {
        PhaseModel::Paper => s.inter_cell_phase_std_rad.powi(2),
        PhaseModel::Uniform => f64::INFINITY,
    };
    (0..l)
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
                echo_model: if scheme.uses_sensing() {
                    Some(radar(
                        world,
                        b,
                        scheme.threshold.unwrap_or(s.sensing.threshold),
                    )?)
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
        .collect()
}

/// Σ_k ln(max(R̂_k, R_floor)) (SPEC §11).
pub fn accumulated_pfr(avg_rates: &[f64]) -> f64 {
    avg_rates
        .iter()
        .map(|r| r.max(RATE_FLOOR_BPS_HZ).ln())
        .sum()
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
