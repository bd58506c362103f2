//! Scenarios: a TOML file deserialized into [`RawScenario`] (unknown keys are
//! rejected by name), then validated into [`Scenario`] with errors that name
//! the field, the bad value and the expected range.
//!
//! Every field is documented on [`RawScenario`]'s sections; `pipelines/paper.toml`
//! lists the paper's defaults (SPEC §2).

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::coordination::{self, NeighbourRule};
use crate::geometry::{BsSite, Cells, Point, paper_sites, wrap_angle};
use crate::layout::{self, Wraparound};

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario {path} is not valid TOML for a scenario: {message}")]
    Parse { path: String, message: String },
    #[error("scenario field `{field}` = {value}: expected {expected}")]
    Invalid {
        field: String,
        value: String,
        expected: String,
    },
}

fn invalid(field: &str, value: impl std::fmt::Display, expected: &str) -> ScenarioError {
    ScenarioError::Invalid {
        field: field.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// Longest scenario `name`, in bytes of UTF-8: the CKM file stores the name
/// as a length-prefixed string and its reader refuses longer strings, so
/// this equals `sdusc_formats::ckm_file::MAX_STRING` (asserted at compile
/// time where build-ckm writes CKMs).
pub const MAX_NAME_BYTES: usize = 1 << 16;

/// Largest |x|, |y| of an explicit BS site, m.
pub const MAX_SITE_COORDINATE_M: f64 = 1e6;

/// Largest `network.cell_radius_m`, m.
pub const MAX_CELL_RADIUS_M: f64 = 1e5;

/// Largest `users.speed_mps`, m/s.
pub const MAX_SPEED_MPS: f64 = 1000.0;

/// The scenario file as written. All sections are required except where a
/// field has a documented default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// A short name, recorded in every artifact.
    pub name: String,
    pub network: RawNetwork,
    /// Optional (a CKM-only scenario needs none of it): the paper's values.
    #[serde(default)]
    pub users: RawUsers,
    #[serde(default)]
    pub epochs: RawEpochs,
    #[serde(default)]
    pub channel: RawChannel,
    pub ckm: RawCkm,
    #[serde(default)]
    pub sensing: RawSensing,
    #[serde(default)]
    pub run: RawRun,
    /// `[coordination]` (optional; absent = every BS coordinates with all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordination: Option<RawCoordination>,
}

/// `[coordination]`: which BSs each BS coordinates with (SPEC §14.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCoordination {
    /// "all" (default: every other BS, the paper), "radius" (every BS whose
    /// site is within `radius_m`, wrapped) or "count" (the `count` BSs whose
    /// mean received power over their cell is strongest).
    #[serde(default = "default_neighbours")]
    pub neighbours: String,
    /// `neighbours = "radius"`: site-to-site distance, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    /// `neighbours = "count"`: neighbours per BS, 1…L−1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

fn default_neighbours() -> String {
    "all".to_string()
}

/// `[network]`: base stations and arrays.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// Site layout: "paper" (3 BSs at (0,0), (180,0), (90,90√3) m, broadsides
    /// facing the centroid), "explicit" (use `sites`) or "hex" (use `rings`,
    /// `isd_m`, `sectors`, `sector_broadsides_deg`, `wraparound`).
    #[serde(default = "defaults::layout")]
    pub layout: String,
    /// Explicit sites, one table per BS (`layout = "explicit"` only):
    /// `{ x_m, y_m, broadside_deg }`, broadside azimuth counter-clockwise from +x.
    #[serde(default)]
    pub sites: Vec<RawSite>,
    /// Nt, transmit ULA elements (half-wavelength spacing). 1…1024.
    pub tx_antennas: usize,
    /// Nr, receive ULA elements. 1…1024.
    #[serde(default = "defaults::rx_antennas")]
    pub rx_antennas: usize,
    /// Pℓ, per-BS transmit power budget, dBm.
    pub power_dbm: f64,
    /// Carrier frequency fc, GHz.
    pub carrier_ghz: f64,
    /// R_cell: users are within this distance of their BS, metres.
    #[serde(default = "defaults::cell_radius_m")]
    pub cell_radius_m: f64,
    /// Users are at least this far from their BS, metres.
    #[serde(default = "defaults::min_distance_m")]
    pub min_distance_m: f64,
    /// Half-width of each BS's sector around its broadside, degrees (0, 90].
    #[serde(default = "defaults::sector_half_width_deg")]
    pub sector_half_width_deg: f64,
    /// `layout = "hex"`: rings of sites around the centre, 0…6 (0, 1, 2 →
    /// 1, 7, 19 sites).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rings: Option<usize>,
    /// `layout = "hex"`: inter-site distance, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isd_m: Option<f64>,
    /// `layout = "hex"`: co-located sectors per site, 1 or 3 (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sectors: Option<usize>,
    /// `layout = "hex"`: the sectors' broadside azimuths, degrees CCW from
    /// +x, one per sector (default the first `sectors` of 30, 150, 270).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_broadsides_deg: Option<Vec<f64>>,
    /// `layout = "hex"`: 3GPP wrap-around (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wraparound: Option<bool>,
}

/// One explicit BS site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub x_m: f64,
    pub y_m: f64,
    /// Azimuth of the array broadside, degrees counter-clockwise from +x.
    pub broadside_deg: f64,
}

/// `[users]`: population, scheduling limits, mobility.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsers {
    /// |Uℓ|, users per cell.
    pub per_cell: usize,
    /// |Sℓ|max, maximum users scheduled per BS per epoch.
    pub max_scheduled: usize,
    /// User speed v, m/s.
    pub speed_mps: f64,
    /// Ts: a user not served for Ts−1 consecutive epochs is force-scheduled.
    pub force_schedule_after: usize,
}

/// `[epochs]`: time structure.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEpochs {
    /// N, epochs per run.
    pub count: usize,
    /// ΔT, epoch length, milliseconds.
    pub duration_ms: f64,
    /// Td, backhaul delay, milliseconds (must be < ΔT: messages of epoch n
    /// arrive within epoch n).
    pub backhaul_delay_ms: f64,
}

/// `[channel]`: the simulated propagation (SPEC §4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// α0, path loss at 1 m, dB (negative).
    pub reference_path_loss_db: f64,
    /// Path-loss exponent.
    pub path_loss_exponent: f64,
    /// Np, paths per link (intra-cell: 1 LoS + Np−1 NLoS; inter-cell: Np NLoS).
    pub paths: usize,
    /// [lo, hi] of the LoS-to-NLoS power ratio ρ ~ U(lo, hi), linear.
    #[serde(deserialize_with = "nlos_power_ratio")]
    pub nlos_power_ratio: [f64; 2],
    /// Standard deviation of inter-cell path phases (paper: π/5), radians.
    pub inter_cell_phase_std_rad: f64,
    /// Small-scale phase model: "paper" (intra U(0,2π), inter N(0, std²)) or
    /// "uniform" (all U(0,2π)).
    pub phase_model: String,
    /// SNR that calibrates the noise power σc² (SPEC §4.4), dB.
    pub snr_calibration_db: f64,
    /// Lattice spacing of the spatially consistent path fields, metres.
    pub correlation_distance_m: f64,
    /// Seed of the environment (the world's large-scale parameters).
    pub environment_seed: u64,
}

/// `[ckm]`: the drive test and the channel knowledge maps (SPEC §5).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCkm {
    /// Grid cell edge, metres.
    pub grid_m: f64,
    /// Nb, beams of the DFT codebook.
    #[serde(default = "defaults::beams")]
    pub beams: usize,
    /// Fraction of grid cells the drive test measures, (0, 1].
    #[serde(default = "defaults::measured_fraction")]
    pub measured_fraction: f64,
    /// T, RSRP snapshots averaged per measurement (fresh phases each).
    #[serde(default = "defaults::snapshots")]
    pub snapshots: usize,
    /// Nθ, angular bins of the APS dictionary.
    #[serde(default = "defaults::angle_bins")]
    pub angle_bins: usize,
    /// [θmin, θmax] of the bins, degrees from broadside.
    #[serde(
        default = "defaults::angle_range_deg",
        deserialize_with = "angle_range_deg"
    )]
    pub angle_range_deg: [f64; 2],
    /// [x0, y0]: grid cell edges at x0 + i·grid_m, y0 + j·grid_m (default
    /// [0, 0]). Absent, the scenario's hash is what it was before the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_origin_m: Option<[f64; 2]>,
    /// `origin` (edges from `grid_origin_m`) or `data` (build-ckm puts the
    /// cell centres on the lattice of a regular log's measured points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_align: Option<GridAlign>,
    /// Which cells a BS's CKM covers: `cells` (the cells of the BSs it
    /// coordinates with; rows elsewhere are skipped) or `data` (every grid
    /// cell holding a measurement of that BS, plus gap filling within
    /// `fill_radius_m` of them; for real deployments, no row is dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<CkmArea>,
    /// `area = "data"`: unmeasured cells within this distance of a measured
    /// cell are filled, none beyond (default 2·grid_m), metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_radius_m: Option<f64>,
}

/// What a CKM covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CkmArea {
    /// The cells of the coordinating BSs (the simulated pipeline's rule).
    Cells,
    /// Where the drive test measured that BS, and a stated radius around it.
    Data,
}

/// How the CKM grid's lattice is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GridAlign {
    /// Cell edges at `grid_origin_m` + multiples of `grid_m`.
    Origin,
    /// Cell centres on the measured points of a regular log (detected by
    /// build-ckm from the RSRP file).
    Data,
}

/// `[sensing]`: the ISAC echo model (SPEC §8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSensing {
    /// a_θ, angle error scale (16).
    pub error_scale_theta: f64,
    /// a_τ, delay error scale (16), seconds.
    pub error_scale_tau: f64,
    /// a_μ, Doppler error scale (16), Hz.
    pub error_scale_mu: f64,
    /// G, matched-filter gain.
    pub matched_filter_gain: f64,
    /// c̄, threshold of the sensing constraint (17).
    pub threshold: f64,
    /// η, reflection coefficient in β = η/(τc) (amplitude ∝ 1/d), metres.
    pub reflection_coefficient: f64,
    /// σz², echo noise power, dBm.
    pub echo_noise_dbm: f64,
}

/// `[run]`: defaults for the runs of this scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// Independent drops (user placements and trajectories).
    #[serde(default = "default_drops")]
    pub drops: usize,
    /// Master seed of drops, trajectories and measurements.
    #[serde(default)]
    pub seed: u64,
}

/// A `[a, b]` pair of numbers. Serde's `[f64; 2]` reads the first two
/// elements of a longer array and drops the rest, so read any length and
/// refuse all but 2, naming the field.
fn pair<'de, D: serde::Deserializer<'de>>(
    d: D,
    field: &str,
    form: &str,
) -> Result<[f64; 2], D::Error> {
    let v = Vec::<f64>::deserialize(d)?;
    <[f64; 2]>::try_from(v.as_slice()).map_err(|_| {
        let shown: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
        serde::de::Error::custom(invalid(
            field,
            format!("[{}] ({} numbers)", shown.join(", "), v.len()),
            &format!("exactly 2 numbers {form}"),
        ))
    })
}

fn nlos_power_ratio<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[f64; 2], D::Error> {
    pair(d, "channel.nlos_power_ratio", "[lo, hi]")
}

fn angle_range_deg<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[f64; 2], D::Error> {
    pair(d, "ckm.angle_range_deg", "[min, max]")
}

fn default_drops() -> usize {
    1
}

impl Default for RawRun {
    fn default() -> Self {
        Self {
            drops: default_drops(),
            seed: 0,
        }
    }
}

/// Small-scale phase model (SPEC §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseModel {
    /// Intra-cell U(0, 2π); inter-cell N(0, std²).
    Paper,
    /// All paths U(0, 2π).
    Uniform,
}

/// A validated scenario, in SI units (W, m, s, rad, Hz).
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub sites: Vec<BsSite>,
    /// The wrap-around of a hex layout with `wraparound = true`.
    pub wraparound: Option<Wraparound>,
    /// The `[coordination]` rule (`All` when the section is absent).
    pub coordination: NeighbourRule,
    /// Per BS, the BSs it coordinates with, ascending; `None`: every other
    /// BS (`NeighbourRule::All`).
    pub neighbours: Option<Vec<Vec<usize>>>,
    pub tx_antennas: usize,
    pub rx_antennas: usize,
    /// Per-BS power budget, W.
    pub power_w: f64,
    pub carrier_hz: f64,
    pub cell_radius_m: f64,
    pub min_distance_m: f64,
    pub sector_half_width_rad: f64,
    pub users_per_cell: usize,
    pub max_scheduled: usize,
    pub speed_mps: f64,
    pub force_schedule_after: usize,
    pub epochs: usize,
    pub epoch_s: f64,
    pub backhaul_delay_s: f64,
    /// α0, linear.
    pub reference_path_loss: f64,
    pub path_loss_exponent: f64,
    pub paths: usize,
    pub nlos_power_ratio: (f64, f64),
    pub inter_cell_phase_std_rad: f64,
    pub phase_model: PhaseModel,
    /// Calibration SNR, linear.
    pub snr_calibration: f64,
    pub correlation_distance_m: f64,
    pub environment_seed: u64,
    pub grid_m: f64,
    /// Cell edges at grid_origin_m + multiples of grid_m.
    pub grid_origin_m: Point,
    pub grid_align: GridAlign,
    pub ckm_area: CkmArea,
    /// `ckm_area = Data`: fill radius, metres.
    pub fill_radius_m: f64,
    pub beams: usize,
    pub measured_fraction: f64,
    pub snapshots: usize,
    pub angle_bins: usize,
    pub angle_range_rad: (f64, f64),
    pub sensing: SensingParams,
    pub drops: usize,
    pub seed: u64,
    /// The raw form this was validated from (for provenance).
    pub raw: RawScenario,
}

/// Sensing parameters in SI units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensingParams {
    pub error_scale_theta: f64,
    pub error_scale_tau: f64,
    pub error_scale_mu: f64,
    pub matched_filter_gain: f64,
    pub threshold: f64,
    pub reflection_coefficient: f64,
    /// σz², W.
    pub echo_noise_w: f64,
}

/// Speed of light, m/s.
pub const SPEED_OF_LIGHT: f64 = 299_792_458.0;

/// dBm → W.
pub fn dbm_to_w(dbm: f64) -> f64 {
    10f64.powf((dbm - 30.0) / 10.0)
}

/// W → dBm.
pub fn w_to_dbm(w: f64) -> f64 {
    10.0 * w.log10() + 30.0
}

fn check_range(field: &str, value: f64, lo: f64, hi: f64) -> Result<f64, ScenarioError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(value)
    } else {
        Err(invalid(
            field,
            value,
            &format!("a finite number in [{lo}, {hi}]"),
        ))
    }
}

fn check_positive(field: &str, value: f64) -> Result<f64, ScenarioError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(invalid(field, value, "a finite number > 0"))
    }
}

fn check_count(field: &str, value: usize, lo: usize, hi: usize) -> Result<usize, ScenarioError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            field,
            value,
            &format!("an integer in [{lo}, {hi}]"),
        ))
    }
}

impl Scenario {
    /// Read and validate a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parse and validate scenario TOML; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        Self::validate(raw)
    }

    /// Validate a raw scenario.
    pub fn validate(raw: RawScenario) -> Result<Self, ScenarioError> {
        if raw.name.len() > MAX_NAME_BYTES {
            let head: String = raw.name.chars().take(32).collect();
            return Err(invalid(
                "name",
                format!("{head:?}… ({} bytes)", raw.name.len()),
                &format!("a name of at most {MAX_NAME_BYTES} bytes (the CKM file's string limit)"),
            ));
        }
        let n = &raw.network;
        let (sites, wraparound) = network_sites(n)?;
        let tx_antennas = check_count("network.tx_antennas", n.tx_antennas, 1, 1024)?;
        let rx_antennas = check_count("network.rx_antennas", n.rx_antennas, 1, 1024)?;
        let power_dbm = check_range("network.power_dbm", n.power_dbm, -30.0, 80.0)?;
        let carrier_ghz = check_range("network.carrier_ghz", n.carrier_ghz, 0.1, 300.0)?;
        let cell_radius_m = check_range(
            "network.cell_radius_m",
            n.cell_radius_m,
            1.0,
            MAX_CELL_RADIUS_M,
        )?;
        let min_distance_m = check_range(
            "network.min_distance_m",
            n.min_distance_m,
            0.1,
            cell_radius_m,
        )?;
        if min_distance_m >= cell_radius_m {
            return Err(invalid(
                "network.min_distance_m",
                min_distance_m,
                "a distance smaller than network.cell_radius_m",
            ));
        }
        let sector = check_range(
            "network.sector_half_width_deg",
            n.sector_half_width_deg,
            1.0,
            90.0,
        )?;

        let u = &raw.users;
        let users_per_cell = check_count("users.per_cell", u.per_cell, 1, 100_000)?;
        let max_scheduled = check_count("users.max_scheduled", u.max_scheduled, 1, 100_000)?;
        let speed_mps = check_range("users.speed_mps", u.speed_mps, 0.0, MAX_SPEED_MPS)?;
        let force_schedule_after = check_count(
            "users.force_schedule_after",
            u.force_schedule_after,
            1,
            1_000_000,
        )?;

        let e = &raw.epochs;
        let epochs = check_count("epochs.count", e.count, 1, 1_000_000)?;
        let duration_ms = check_positive("epochs.duration_ms", e.duration_ms)?;
        let delay_ms = check_range(
            "epochs.backhaul_delay_ms",
            e.backhaul_delay_ms,
            0.0,
            f64::MAX,
        )?;
        if delay_ms >= duration_ms {
            return Err(invalid(
                "epochs.backhaul_delay_ms",
                delay_ms,
                "a delay shorter than epochs.duration_ms (messages must arrive within the epoch)",
            ));
        }

        let c = &raw.channel;
        let alpha0_db = check_range(
            "channel.reference_path_loss_db",
            c.reference_path_loss_db,
            -200.0,
            0.0,
        )?;
        let exponent = check_range("channel.path_loss_exponent", c.path_loss_exponent, 1.0, 6.0)?;
        let paths = check_count("channel.paths", c.paths, 1, 64)?;
        let [rho_lo, rho_hi] = c.nlos_power_ratio;
        check_positive("channel.nlos_power_ratio[0]", rho_lo)?;
        check_positive("channel.nlos_power_ratio[1]", rho_hi)?;
        if rho_lo > rho_hi {
            return Err(invalid(
                "channel.nlos_power_ratio",
                format!("[{rho_lo}, {rho_hi}]"),
                "[lo, hi] with lo <= hi",
            ));
        }
        let phase_std = check_range(
            "channel.inter_cell_phase_std_rad",
            c.inter_cell_phase_std_rad,
            0.0,
            10.0,
        )?;
        let phase_model = match c.phase_model.as_str() {
            "paper" => PhaseModel::Paper,
            "uniform" => PhaseModel::Uniform,
            other => {
                return Err(invalid(
                    "channel.phase_model",
                    format!("{other:?}"),
                    "\"paper\" or \"uniform\"",
                ));
            }
        };
        let snr_db = check_range(
            "channel.snr_calibration_db",
            c.snr_calibration_db,
            -50.0,
            100.0,
        )?;
        let corr = check_range(
            "channel.correlation_distance_m",
            c.correlation_distance_m,
            0.01,
            1e4,
        )?;

        let k = &raw.ckm;
        let grid_m = check_range("ckm.grid_m", k.grid_m, 0.01, 1000.0)?;
        let [x0, y0] = k.grid_origin_m.unwrap_or([0.0, 0.0]);
        let grid_origin_m = Point::new(
            check_range(
                "ckm.grid_origin_m[0]",
                x0,
                -MAX_SITE_COORDINATE_M,
                MAX_SITE_COORDINATE_M,
            )?,
            check_range(
                "ckm.grid_origin_m[1]",
                y0,
                -MAX_SITE_COORDINATE_M,
                MAX_SITE_COORDINATE_M,
            )?,
        );
        let grid_align = k.grid_align.unwrap_or(GridAlign::Origin);
        let ckm_area = k.area.unwrap_or(CkmArea::Cells);
        let fill_radius_m = match k.fill_radius_m {
            None => 2.0 * grid_m,
            Some(r) => check_range("ckm.fill_radius_m", r, 0.0, 50.0 * grid_m)?,
        };
        if k.fill_radius_m.is_some() && ckm_area != CkmArea::Data {
            return Err(invalid(
                "ckm.fill_radius_m",
                fill_radius_m,
                "no fill_radius_m without area = \"data\" (the cells rule fills the whole area)",
            ));
        }
        if grid_align == GridAlign::Data && k.grid_origin_m.is_some() {
            return Err(invalid(
                "ckm.grid_origin_m",
                format!("[{x0}, {y0}]"),
                "no grid_origin_m with grid_align = \"data\" (the lattice comes from the log)",
            ));
        }
        let beams = check_count("ckm.beams", k.beams, 1, 4096)?;
        let measured_fraction =
            check_range("ckm.measured_fraction", k.measured_fraction, 1e-6, 1.0)?;
        let snapshots = check_count("ckm.snapshots", k.snapshots, 1, 10_000)?;
        let angle_bins = check_count("ckm.angle_bins", k.angle_bins, 1, 100_000)?;
        let [amin, amax] = k.angle_range_deg;
        check_range("ckm.angle_range_deg[0]", amin, -90.0, 90.0)?;
        check_range("ckm.angle_range_deg[1]", amax, -90.0, 90.0)?;
        if amin >= amax {
            return Err(invalid(
                "ckm.angle_range_deg",
                format!("[{amin}, {amax}]"),
                "[min, max] with min < max",
            ));
        }
        // The CKM area must not be absurdly large for the grid (guards memory).
        let extent = 2.0
            * (cell_radius_m
                + sites
                    .iter()
                    .map(|s| s.position.x.abs().max(s.position.y.abs()))
                    .fold(0.0, f64::max));
        let cells_per_bs = (extent / grid_m).powi(2);
        if cells_per_bs > 5e8 {
            return Err(invalid(
                "ckm.grid_m",
                grid_m,
                &format!(
                    "a grid with fewer than 5e8 cells over the {extent:.0} m area (got {cells_per_bs:.2e})"
                ),
            ));
        }

        let s = &raw.sensing;
        let sensing = SensingParams {
            error_scale_theta: check_positive("sensing.error_scale_theta", s.error_scale_theta)?,
            error_scale_tau: check_positive("sensing.error_scale_tau", s.error_scale_tau)?,
            error_scale_mu: check_positive("sensing.error_scale_mu", s.error_scale_mu)?,
            matched_filter_gain: check_positive(
                "sensing.matched_filter_gain",
                s.matched_filter_gain,
            )?,
            threshold: check_positive("sensing.threshold", s.threshold)?,
            reflection_coefficient: check_positive(
                "sensing.reflection_coefficient",
                s.reflection_coefficient,
            )?,
            echo_noise_w: dbm_to_w(check_range(
                "sensing.echo_noise_dbm",
                s.echo_noise_dbm,
                -250.0,
                50.0,
            )?),
        };
        let drops = check_count("run.drops", raw.run.drops, 1, 100_000)?;
        if n.layout == "hex" {
            check_hex_cells(n, cell_radius_m, sector)?;
        }
        let cells = Cells {
            wraparound,
            ..Cells::new(
                sites.clone(),
                min_distance_m,
                cell_radius_m,
                sector.to_radians(),
            )
        };
        let coordination = coordination::rule(raw.coordination.as_ref(), sites.len())?;
        let neighbours = coordination::neighbour_sets(&cells, coordination, exponent)?;

        Ok(Scenario {
            name: raw.name.clone(),
            sites,
            wraparound,
            coordination,
            neighbours,
            tx_antennas,
            rx_antennas,
            power_w: dbm_to_w(power_dbm),
            carrier_hz: carrier_ghz * 1e9,
            cell_radius_m,
            min_distance_m,
            sector_half_width_rad: sector.to_radians(),
            users_per_cell,
            max_scheduled,
            speed_mps,
            force_schedule_after,
            epochs,
            epoch_s: duration_ms * 1e-3,
            backhaul_delay_s: delay_ms * 1e-3,
            reference_path_loss: 10f64.powf(alpha0_db / 10.0),
            path_loss_exponent: exponent,
            paths,
            nlos_power_ratio: (rho_lo, rho_hi),
            inter_cell_phase_std_rad: phase_std,
            phase_model,
            snr_calibration: 10f64.powf(snr_db / 10.0),
            correlation_distance_m: corr,
            environment_seed: c.environment_seed,
            grid_m,
            grid_origin_m,
            grid_align,
            ckm_area,
            fill_radius_m,
            beams,
            measured_fraction,
            snapshots,
            angle_bins,
            angle_range_rad: (amin.to_radians(), amax.to_radians()),
            sensing,
            drops,
            seed: raw.run.seed,
            raw,
        })
    }

    /// Number of BSs, L.
    pub fn num_bs(&self) -> usize {
        self.sites.len()
    }

    /// BS `b`'s CKM grid on the scenario's lattice (`ckm.grid_m`,
    /// `ckm.grid_origin_m`); with `grid_align = "data"`, build-ckm uses
    /// [`crate::geometry::ckm_grid_on`] with the lattice of the log instead.
    pub fn ckm_grid(&self, cells: &Cells, b: usize) -> crate::geometry::Grid {
        crate::geometry::ckm_grid_on(cells, b, self.grid_m, self.grid_origin_m)
    }

    /// SHA-256 of the scenario's canonical form (the validated raw fields),
    /// hex; two files that differ only in layout or comments hash the same.
    pub fn hash(&self) -> String {
        let canonical = toml::to_string(&self.raw).expect("a deserialized scenario serializes");
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// SHA-256 of the sections the *world* depends on — `[network]`,
    /// `[channel]` and `[ckm]` — hex. Drive tests and CKMs carry this hash:
    /// changing users, epochs, sensing or run settings keeps them valid.
    pub fn world_hash(&self) -> String {
        // `[coordination]` shapes the CKM areas; absent, it is left out, so
        // the hash of a scenario without it is what it always was.
        #[derive(Serialize)]
        struct WorldPart<'a> {
            network: &'a RawNetwork,
            channel: &'a RawChannel,
            ckm: &'a RawCkm,
            #[serde(skip_serializing_if = "Option::is_none")]
            coordination: Option<&'a RawCoordination>,
        }
        let part = WorldPart {
            network: &self.raw.network,
            channel: &self.raw.channel,
            ckm: &self.raw.ckm,
            coordination: self.raw.coordination.as_ref(),
        };
        let canonical = toml::to_string(&part).expect("scenario sections serialize");
        Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Centres of the angular bins θ_1…θ_Nθ of the APS dictionary (SPEC §5.2).
    pub fn angle_bin_centres(&self) -> Vec<f64> {
        let (lo, hi) = self.angle_range_rad;
        let step = (hi - lo) / self.angle_bins as f64;
        (0..self.angle_bins)
            .map(|i| lo + (i as f64 + 0.5) * step)
            .collect()
    }

    /// Wavelength, m.
    pub fn wavelength_m(&self) -> f64 {
        SPEED_OF_LIGHT / self.carrier_hz
    }
}

impl Cells {
    /// The cells of a validated scenario, with its wrap-around and
    /// neighbour sets. Here rather than in `geometry`, which knows nothing of
    /// scenarios.
    pub fn from_scenario(s: &Scenario) -> Self {
        Self {
            sites: s.sites.clone(),
            min_distance_m: s.min_distance_m,
            cell_radius_m: s.cell_radius_m,
            sector_half_width_rad: s.sector_half_width_rad,
            wraparound: s.wraparound,
            neighbours: s.neighbours.clone(),
        }
    }
}

/// The sites of `[network]` and, for a hex layout with wrap-around, its
/// wrap-around.
fn network_sites(n: &RawNetwork) -> Result<(Vec<BsSite>, Option<Wraparound>), ScenarioError> {
    if n.layout != "hex" {
        let hex_only = [
            ("rings", n.rings.is_some()),
            ("isd_m", n.isd_m.is_some()),
            ("sectors", n.sectors.is_some()),
            ("sector_broadsides_deg", n.sector_broadsides_deg.is_some()),
            ("wraparound", n.wraparound.is_some()),
        ];
        if let Some((key, _)) = hex_only.iter().find(|(_, set)| *set) {
            return Err(invalid(
                &format!("network.{key}"),
                format!("set with layout = {:?}", n.layout),
                "no hex fields unless layout = \"hex\"",
            ));
        }
    }
    match n.layout.as_str() {
        "paper" => {
            if !n.sites.is_empty() {
                return Err(invalid(
                    "network.sites",
                    format!("{} sites", n.sites.len()),
                    "no sites with layout = \"paper\" (use layout = \"explicit\")",
                ));
            }
            Ok((paper_sites(), None))
        }
        "explicit" => explicit_sites(&n.sites).map(|s| (s, None)),
        "hex" => hex_layout(n),
        other => Err(invalid(
            "network.layout",
            format!("{other:?}"),
            "\"paper\", \"explicit\" or \"hex\"",
        )),
    }
}

/// Explicit sites: coordinates in range; two sites closer than 1 m must be
/// co-located sectors (the same position, broadsides at least 1° apart).
fn explicit_sites(raw: &[RawSite]) -> Result<Vec<BsSite>, ScenarioError> {
    if raw.is_empty() {
        return Err(invalid(
            "network.sites",
            "[]",
            "at least one site with layout = \"explicit\"",
        ));
    }
    let mut sites = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let field = |f: &str| format!("network.sites[{i}].{f}");
        let lim = MAX_SITE_COORDINATE_M;
        check_range(&field("x_m"), s.x_m, -lim, lim)?;
        check_range(&field("y_m"), s.y_m, -lim, lim)?;
        check_range(&field("broadside_deg"), s.broadside_deg, -360.0, 360.0)?;
        sites.push(BsSite {
            position: Point::new(s.x_m, s.y_m),
            broadside_rad: s.broadside_deg.to_radians(),
        });
    }
    for i in 0..sites.len() {
        for j in 0..i {
            let (a, b) = (sites[i], sites[j]);
            let apart = a.position.distance(b.position);
            let turn = wrap_angle(a.broadside_rad - b.broadside_rad).abs();
            let sector_of_site = apart == 0.0 && turn >= 1f64.to_radians() - 1e-12;
            if apart < 1.0 && !sector_of_site {
                return Err(invalid(
                    &format!("network.sites[{i}]"),
                    format!(
                        "({}, {}) with broadside {}°",
                        a.position.x, a.position.y, raw[i].broadside_deg
                    ),
                    &format!(
                        "a site at least 1 m from site {j}, or a co-located sector of it \
                         (the same x_m, y_m and a broadside_deg at least 1° from its)"
                    ),
                ));
            }
        }
    }
    Ok(sites)
}

/// Largest `network.rings` of a hex layout (127 sites).
pub const MAX_HEX_RINGS: usize = 6;

/// The sites (and wrap-around) of `layout = "hex"`.
fn hex_layout(n: &RawNetwork) -> Result<(Vec<BsSite>, Option<Wraparound>), ScenarioError> {
    if !n.sites.is_empty() {
        return Err(invalid(
            "network.sites",
            format!("{} sites", n.sites.len()),
            "no sites with layout = \"hex\" (they follow from rings and isd_m)",
        ));
    }
    let rings = n.rings.ok_or_else(|| {
        invalid(
            "network.rings",
            "missing",
            &format!("an integer in [0, {MAX_HEX_RINGS}] with layout = \"hex\""),
        )
    })?;
    let rings = check_count("network.rings", rings, 0, MAX_HEX_RINGS)?;
    let isd_m = n.isd_m.ok_or_else(|| {
        invalid(
            "network.isd_m",
            "missing",
            "an inter-site distance in m with layout = \"hex\"",
        )
    })?;
    let isd_m = check_range("network.isd_m", isd_m, 1.0, 1e5)?;
    let sectors = n.sectors.unwrap_or(3);
    if sectors != 1 && sectors != 3 {
        return Err(invalid("network.sectors", sectors, "1 or 3"));
    }
    let broadsides_deg = match &n.sector_broadsides_deg {
        None => layout::DEFAULT_SECTOR_BROADSIDES_DEG[..sectors].to_vec(),
        Some(v) if v.len() != sectors => {
            return Err(invalid(
                "network.sector_broadsides_deg",
                format!("{v:?} ({} numbers)", v.len()),
                &format!("one broadside per sector ({sectors} numbers, network.sectors)"),
            ));
        }
        Some(v) => v.clone(),
    };
    for (i, &deg) in broadsides_deg.iter().enumerate() {
        let field = format!("network.sector_broadsides_deg[{i}]");
        check_range(&field, deg, -360.0, 360.0)?;
        for (j, &other) in broadsides_deg[..i].iter().enumerate() {
            if wrap_angle((deg - other).to_radians()).abs() < 1f64.to_radians() - 1e-12 {
                return Err(invalid(
                    &field,
                    deg,
                    &format!("a broadside at least 1° from sector {j}'s ({other}°)"),
                ));
            }
        }
    }
    let rad: Vec<f64> = broadsides_deg.iter().map(|d| d.to_radians()).collect();
    let wrap = n.wraparound.unwrap_or(false);
    Ok((
        layout::hex_sites(rings, isd_m, &rad),
        wrap.then(|| Wraparound::hex(rings, isd_m)),
    ))
}

/// Hex cells must reach their Voronoi hexagon's corners (no gaps at the
/// corners), and 3 sectors must cover their site's full circle.
fn check_hex_cells(
    n: &RawNetwork,
    cell_radius_m: f64,
    half_width_deg: f64,
) -> Result<(), ScenarioError> {
    let isd_m = n.isd_m.unwrap_or(0.0);
    let corner = isd_m / 3f64.sqrt();
    if cell_radius_m < corner - 1e-9 {
        return Err(invalid(
            "network.cell_radius_m",
            cell_radius_m,
            &format!(
                "at least isd_m/√3 = {corner:.3} m with layout = \"hex\" (the site hexagon's \
                 corner; a smaller radius leaves gaps between cells)"
            ),
        ));
    }
    if n.sectors.unwrap_or(3) == 3 && half_width_deg < 60.0 {
        return Err(invalid(
            "network.sector_half_width_deg",
            half_width_deg,
            "at least 60 with 3 sectors per site (3 × ±60° cover the circle; less leaves gaps)",
        ));
    }
    Ok(())
}

/// The defaults of optional fields and sections: the paper's values
/// (`pipelines/paper.toml`, docs/scenario.md), so that a scenario for
/// build-ckm alone needs only the sites, Nt, the power, the carrier and the
/// CKM grid. Filled in before hashing: omitting a field and writing its
/// default give the same scenario hash.
mod defaults {
    pub fn layout() -> String {
        "explicit".into()
    }
    pub fn rx_antennas() -> usize {
        64
    }
    pub fn cell_radius_m() -> f64 {
        120.0
    }
    pub fn min_distance_m() -> f64 {
        10.0
    }
    pub fn sector_half_width_deg() -> f64 {
        60.0
    }
    pub fn beams() -> usize {
        64
    }
    pub fn measured_fraction() -> f64 {
        0.5
    }
    pub fn snapshots() -> usize {
        4
    }
    pub fn angle_bins() -> usize {
        180
    }
    pub fn angle_range_deg() -> [f64; 2] {
        [-90.0, 90.0]
    }
}

impl Default for RawUsers {
    fn default() -> Self {
        Self {
            per_cell: 40,
            max_scheduled: 18,
            speed_mps: 20.0,
            force_schedule_after: 3,
        }
    }
}

impl Default for RawEpochs {
    fn default() -> Self {
        Self {
            count: 10,
            duration_ms: 20.0,
            backhaul_delay_ms: 4.0,
        }
    }
}

impl Default for RawChannel {
    fn default() -> Self {
        Self {
            reference_path_loss_db: -60.0,
            path_loss_exponent: 2.0,
            paths: 4,
            nlos_power_ratio: [4.0, 9.0],
            inter_cell_phase_std_rad: std::f64::consts::PI / 5.0,
            phase_model: "paper".into(),
            snr_calibration_db: 15.0,
            correlation_distance_m: 50.0,
            environment_seed: 7,
        }
    }
}

impl Default for RawSensing {
    fn default() -> Self {
        Self {
            error_scale_theta: 0.1,
            error_scale_tau: 6.7e-7,
            error_scale_mu: 0.1,
            matched_filter_gain: 10.0,
            threshold: 1.0,
            reflection_coefficient: 1e-3,
            echo_noise_dbm: -87.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SMOKE: &str = include_str!("../../../pipelines/smoke.toml");
    const PAPER: &str = include_str!("../../../pipelines/paper.toml");

    #[test]
    fn shipped_scenarios_validate() {
        let paper = Scenario::from_toml(PAPER, "paper.toml").unwrap();
        assert_eq!(paper.num_bs(), 3);
        assert_eq!(paper.tx_antennas, 32);
        assert!((paper.power_w - 3.981).abs() < 1e-3);
        Scenario::from_toml(SMOKE, "smoke.toml").unwrap();
    }

    #[test]
    fn unknown_keys_are_named() {
        let text = SMOKE.replace("tx_antennas", "tx_antenas");
        let err = Scenario::from_toml(&text, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tx_antenas"), "{err}");
    }

    #[test]
    fn bad_values_name_field_value_and_range() {
        let cases = [
            ("measured_fraction = ", "ckm.measured_fraction"),
            ("tx_antennas = ", "network.tx_antennas"),
        ];
        for (key, field) in cases {
            let text: String = SMOKE
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with(key) {
                        format!("{key}0")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            let err = Scenario::from_toml(&text, "x.toml")
                .unwrap_err()
                .to_string();
            assert!(err.contains(field) && err.contains("expected"), "{err}");
        }
    }

    #[test]
    fn pairs_with_extra_or_missing_elements_are_refused_by_name() {
        let cases = [
            (
                "nlos_power_ratio = [4.0, 9.0]",
                "nlos_power_ratio = [4.0, 9.0, 10.0]",
                "channel.nlos_power_ratio",
            ),
            (
                "angle_range_deg = [-90.0, 90.0]",
                "angle_range_deg = [-90.0, 0.0, 90.0]",
                "ckm.angle_range_deg",
            ),
            (
                "angle_range_deg = [-90.0, 90.0]",
                "angle_range_deg = [-90.0]",
                "ckm.angle_range_deg",
            ),
        ];
        for (good, bad, field) in cases {
            assert!(SMOKE.contains(good), "{good}");
            let err = Scenario::from_toml(&SMOKE.replace(good, bad), "x.toml")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(field) && err.contains("exactly 2 numbers"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn names_longer_than_the_ckm_string_limit_are_refused() {
        let named =
            |n: usize| SMOKE.replace("name = \"smoke\"", &format!("name = \"{}\"", "n".repeat(n)));
        Scenario::from_toml(&named(MAX_NAME_BYTES), "x.toml").unwrap();
        let err = Scenario::from_toml(&named(70_000), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`name`") && err.contains("70000 bytes") && err.contains("65536"),
            "{}",
            &err[..err.len().min(300)]
        );
        assert!(err.len() < 500, "the message echoes the whole name");
    }

    #[test]
    fn hash_ignores_formatting_but_not_values() {
        let a = Scenario::from_toml(SMOKE, "a").unwrap();
        let b = Scenario::from_toml(&format!("# comment\n{SMOKE}"), "b").unwrap();
        assert_eq!(a.hash(), b.hash());
        let c = Scenario::from_toml(
            &SMOKE.replace("environment_seed = 7", "environment_seed = 8"),
            "c",
        )
        .unwrap();
        assert_ne!(a.hash(), c.hash());
        assert_ne!(a.world_hash(), c.world_hash());
        // Sensing and population settings do not change the world.
        let d =
            Scenario::from_toml(&SMOKE.replace("threshold = 1.0", "threshold = 0.5"), "d").unwrap();
        assert_ne!(a.hash(), d.hash());
        assert_eq!(a.world_hash(), d.world_hash());
    }

    fn hex_smoke(extra: &str) -> String {
        SMOKE.replace(
            "layout = \"paper\"",
            &format!("layout = \"hex\"\nrings = 1\nisd_m = 200.0\n{extra}"),
        )
    }

    #[test]
    fn hex_layouts_validate_with_sites_sectors_and_wrap() {
        let s = Scenario::from_toml(&hex_smoke("wraparound = true"), "hex").unwrap();
        assert_eq!(s.num_bs(), 21);
        assert!(s.wraparound.is_some());
        assert!((s.sites[1].broadside_rad - 150f64.to_radians()).abs() < 1e-12);
        let one = Scenario::from_toml(
            &hex_smoke("sectors = 1\nsector_broadsides_deg = [0.0]"),
            "hex",
        )
        .unwrap();
        assert_eq!(one.num_bs(), 7);
        assert!(one.wraparound.is_none());
        assert_eq!(one.sites[0].broadside_rad, 0.0);
    }

    #[test]
    fn bad_hex_fields_are_refused_by_name() {
        let cases = [
            (hex_smoke("sectors = 2"), "network.sectors"),
            (
                hex_smoke("rings = 9").replace("rings = 1\n", ""),
                "network.rings",
            ),
            (hex_smoke("").replace("rings = 1\n", ""), "network.rings"),
            (
                hex_smoke("").replace("isd_m = 200.0\n", ""),
                "network.isd_m",
            ),
            (
                hex_smoke("").replace("isd_m = 200.0", "isd_m = -5.0"),
                "network.isd_m",
            ),
            (
                hex_smoke("sector_broadsides_deg = [30.0]"),
                "network.sector_broadsides_deg",
            ),
            (
                hex_smoke("sector_broadsides_deg = [30.0, 30.5, 270.0]"),
                "network.sector_broadsides_deg[1]",
            ),
            (
                hex_smoke("").replace("isd_m = 200.0", "isd_m = 300.0"),
                "network.cell_radius_m",
            ),
            (
                hex_smoke("").replace(
                    "sector_half_width_deg = 60.0",
                    "sector_half_width_deg = 50.0",
                ),
                "network.sector_half_width_deg",
            ),
            (
                SMOKE.replace(
                    "layout = \"paper\"",
                    "layout = \"paper\"\nwraparound = true",
                ),
                "network.wraparound",
            ),
            (
                SMOKE.replace("layout = \"paper\"", "layout = \"hexagonal\""),
                "network.layout",
            ),
        ];
        for (text, field) in cases {
            let err = Scenario::from_toml(&text, "x.toml")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("`{field}`")) && err.contains("expected"),
                "{field}: {err}"
            );
        }
    }

    fn explicit(sites: &str) -> String {
        SMOKE.replace(
            "layout = \"paper\"",
            &format!("layout = \"explicit\"\n{sites}"),
        )
    }

    #[test]
    fn explicit_sites_may_be_colocated_sectors_with_different_broadsides() {
        let sectors = "sites = [{ x_m = 0.0, y_m = 0.0, broadside_deg = 30.0 }, \
                       { x_m = 0.0, y_m = 0.0, broadside_deg = 150.0 }]";
        let s = Scenario::from_toml(&explicit(sectors), "x").unwrap();
        assert_eq!(s.num_bs(), 2);
        for bad in [
            "sites = [{ x_m = 0.0, y_m = 0.0, broadside_deg = 30.0 }, \
             { x_m = 0.0, y_m = 0.0, broadside_deg = -330.0 }]",
            "sites = [{ x_m = 0.0, y_m = 0.0, broadside_deg = 30.0 }, \
             { x_m = 0.5, y_m = 0.0, broadside_deg = 150.0 }]",
        ] {
            let err = Scenario::from_toml(&explicit(bad), "x")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("`network.sites[1]`") && err.contains("at least 1 m from site 0"),
                "{err}"
            );
        }
    }

    #[test]
    fn coordination_is_validated_and_enters_the_world_hash() {
        let base = Scenario::from_toml(SMOKE, "a").unwrap();
        assert_eq!(base.coordination, NeighbourRule::All);
        assert!(base.neighbours.is_none());
        let text = format!("{SMOKE}\n[coordination]\nneighbours = \"count\"\ncount = 1\n");
        let s = Scenario::from_toml(&text, "b").unwrap();
        assert_eq!(s.neighbours.as_ref().map(|n| n[0].len()), Some(1));
        assert_ne!(s.world_hash(), base.world_hash());
        let all = format!("{SMOKE}\n[coordination]\nneighbours = \"all\"\n");
        assert!(Scenario::from_toml(&all, "c").unwrap().neighbours.is_none());
        let lonely = format!("{SMOKE}\n[coordination]\nneighbours = \"radius\"\nradius_m = 10.0\n");
        let err = Scenario::from_toml(&lonely, "d").unwrap_err().to_string();
        assert!(
            err.contains("`coordination.radius_m`") && err.contains("BS 0 has none"),
            "{err}"
        );
        let typo = format!("{SMOKE}\n[coordination]\nneighbors = \"all\"\n");
        let err = Scenario::from_toml(&typo, "e").unwrap_err().to_string();
        assert!(err.contains("neighbors"), "{err}");
    }

    /// The hashes of the shipped scenarios as they were before hex layouts
    /// and `[coordination]` existed: CKMs built then must stay valid.
    #[test]
    fn existing_scenario_hashes_are_unchanged() {
        let cases = [
            (
                SMOKE,
                "2e63e04b256ef5c3f7e095a6538529638c5a37a20dfde4489c6ba8d110dab15f",
                "092768318bcac44a1898166b5890ed5cf4d69f2d885d404819db4da340df19d9",
            ),
            (
                PAPER,
                "e8cd744cf8b322dc3c6f296889b9d326287fab675805324a12e10dd7b7dd5e32",
                "ebcf8c5e60bbc47df322876396bc075f37b63592aa335ccced8b645aaa532963",
            ),
        ];
        for (text, hash, world) in cases {
            let s = Scenario::from_toml(text, "x").unwrap();
            assert_eq!(s.hash(), hash);
            assert_eq!(s.world_hash(), world);
        }
    }

    #[test]
    fn a_ckm_only_scenario_takes_the_papers_defaults_and_hashes_like_them() {
        let minimal = r#"
name = "site"
[network]
sites = [{ x_m = 0.0, y_m = 0.0, broadside_deg = 30.0 }, { x_m = 180.0, y_m = 0.0, broadside_deg = 150.0 }]
tx_antennas = 32
power_dbm = 36.0
carrier_ghz = 30.0
[ckm]
grid_m = 2.0
"#;
        let s = Scenario::from_toml(minimal, "site.toml").unwrap();
        assert_eq!(
            (s.num_bs(), s.beams, s.angle_bins, s.paths),
            (2, 64, 180, 4)
        );
        // Writing the defaults out gives the same scenario and hash.
        let paper = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../pipelines/paper.toml"
        ))
        .unwrap();
        let start = paper.find("[users]").unwrap();
        let end = paper.find("[ckm]").unwrap();
        let sens = paper.find("[sensing]").unwrap();
        let tail = &paper[sens..paper.find("[run]").unwrap()];
        let full = format!(
            "{}layout = \"explicit\"\nrx_antennas = 64\ncell_radius_m = 120.0\nmin_distance_m = 10.0\nsector_half_width_deg = 60.0\n{}\n{}{}",
            &minimal[..minimal.find("[ckm]").unwrap()],
            &paper[start..end],
            "[ckm]\ngrid_m = 2.0\nbeams = 64\nmeasured_fraction = 0.5\nsnapshots = 4\nangle_bins = 180\nangle_range_deg = [-90.0, 90.0]\n",
            tail
        );
        let f = Scenario::from_toml(&full, "full.toml").unwrap();
        assert_eq!(s.hash(), f.hash());
        // A missing required field is still named.
        let err = Scenario::from_toml(&minimal.replace("carrier_ghz = 30.0\n", ""), "x.toml")
            .unwrap_err();
        assert!(err.to_string().contains("carrier_ghz"), "{err}");
    }
}
