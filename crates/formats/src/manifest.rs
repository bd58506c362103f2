//! `manifest.json` — what a run-sdusc run read and how it ran
//! (docs/artifacts.md). Fields are declared in alphabetical order, so the
//! JSON keys come out sorted, as readers of earlier manifests saw them.

use sdusc_model::scenario::RawScenario;
use serde::{Deserialize, Serialize};

use crate::provenance::Provenance;

/// The manifest of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunManifest {
    /// Drop indices run (0-based).
    pub drops: Vec<u32>,
    pub inputs: RunInputs,
    /// σc², W.
    pub noise_power_w: f64,
    pub rate_floor_bps_hz: f64,
    pub scenario: ScenarioRecord,
    pub schemes: Vec<String>,
    pub seed: u64,
    pub threads: usize,
    /// Whether beamforming times were recorded (`--no-timing`: not).
    pub timing: bool,
    pub tool: String,
    pub tool_version: String,
    pub wall_time_s: f64,
}

/// The scenario as given and validated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioRecord {
    pub name: String,
    pub path: String,
    pub raw: RawScenario,
    /// `Scenario::hash`.
    pub sha256_canonical: String,
}

/// The input files with their SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInputs {
    /// One per BS, when a scheme used CKMs.
    pub ckm: Vec<FileRecord>,
    pub trajectories: TrajectoriesRecord,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrajectoriesRecord {
    pub path: String,
    pub provenance: Provenance,
    pub sha256: String,
}
