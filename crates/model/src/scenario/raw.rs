//! The scenario file as written: the serde input types of every section
//! and the defaults of their optional fields (the paper's values).

use serde::{Deserialize, Serialize};

use super::invalid;

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
