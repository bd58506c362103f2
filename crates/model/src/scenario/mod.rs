//! Scenarios: a TOML file deserialized into [`RawScenario`] (unknown keys are
//! rejected by name), then validated into [`Scenario`] with errors that name
//! the field, the bad value and the expected range.
//!
//! Every field is documented on [`RawScenario`]'s sections; `pipelines/paper.toml`
//! lists the paper's defaults (SPEC §2).
//!
//! Files: `raw.rs` the serde input types and their defaults; `validate.rs`
//! the checks, section by section, and the site layouts.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::coordination::NeighbourRule;
use crate::geometry::{BsSite, Cells, Point};
use crate::layout::Wraparound;

mod raw;
mod validate;

pub use raw::{
    CkmArea, GridAlign, RawChannel, RawCkm, RawCoordination, RawEpochs, RawNetwork, RawRun,
    RawScenario, RawSensing, RawSite, RawUsers,
};

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

/// Largest `network.rings` of a hex layout (127 sites).
pub const MAX_HEX_RINGS: usize = 6;

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

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SMOKE: &str = include_str!("../../../../pipelines/smoke.toml");
    const PAPER: &str = include_str!("../../../../pipelines/paper.toml");

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
