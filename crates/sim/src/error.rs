//! Errors of a simulation run, typed down to the crate that failed.
//!
//! A run fails either on the world side ([`WorldError`]: the radars, the true
//! SINR, the central unit, the dump folder) or inside one BS
//! ([`AgentError`], wrapped with the BS's id in [`SimError::Agent`]). Each
//! variant keeps its source error, so `std::error::Error::source` walks down
//! to the tracker, the scheduler, the beamformer or the CKM query that failed.

use std::path::PathBuf;

use sdusc_beamforming::BeamformingError;
use sdusc_ckm::query::QueryError;
use sdusc_scheduling::ScheduleError;
use sdusc_sensing::SensingError;

use crate::backhaul::DecodeError;
use crate::world::TruthError;

/// Errors of a simulation run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("BS {bs}: {source}")]
    Agent {
        bs: usize,
        #[source]
        source: AgentError,
    },
    #[error(transparent)]
    Truth(#[from] TruthError),
    #[error("backhaul: {0}")]
    Backhaul(#[from] DecodeError),
    #[error("world: {0}")]
    World(#[from] WorldError),
}

/// What failed inside one BS.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("tracker: {0}")]
    Sensing(#[from] SensingError),
    #[error("scheduler: {0}")]
    Schedule(#[from] ScheduleError),
    #[error("beamformer: {0}")]
    Beamforming(#[from] BeamformingError),
    #[error("CKM query: {0}")]
    Ckm(#[from] QueryError),
    #[error("observation for {got} users, expected {expected}")]
    ObservationSize { got: usize, expected: usize },
    #[error("no location estimate of user {0}")]
    NoEstimate(usize),
    #[error("{0} scheme without channel feedback")]
    NoChannelFeedback(&'static str),
    #[error("scheme needs a CKM, none loaded")]
    NoCkm,
    #[error("leakage=robust: BS {0}'s locations came without covariances")]
    NoCovariances(u16),
    #[error("no upload to the central unit")]
    NoUpload,
}

impl AgentError {
    /// This error as BS `bs`'s.
    pub fn at(self, bs: usize) -> SimError {
        SimError::Agent { bs, source: self }
    }
}

/// What failed on the world side of a run.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("radar of BS {bs}: {source}")]
    Radar {
        bs: usize,
        #[source]
        source: SensingError,
    },
    #[error("initial access of user {0} got no echo")]
    NoInitialEcho(usize),
    #[error("true SINR: {0}")]
    Sinr(#[source] BeamformingError),
    #[error("CWMMSE: {0}")]
    Cwmmse(#[source] BeamformingError),
    #[error("cannot create {}: {source}", path.display())]
    DumpDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
