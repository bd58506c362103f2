//! The SD-USCB epoch engine (SPEC §7–§9, §11, §12).
//!
//! Two sides, kept apart by construction:
//! - the [`world`] holds the truth (positions, every channel of every epoch,
//!   the environment) and evaluates the true SINR of whatever beams the BSs
//!   transmit;
//! - one [`agent::BsAgent`] per cell holds only what a real BS would: its own
//!   users' channels of the epoch (pilots), its own echoes, its own CKM, its
//!   own PF state and the [`backhaul`] messages it received. An agent's inputs
//!   are message types ([`agent::Observation`], [`backhaul::Inbox`]); it has no
//!   handle on the world.
//!
//! [`engine`] runs the epochs of one (scheme, drop) through the named steps
//! of [`epoch`], with the agents of an epoch in parallel and results
//! identical to a serial run; [`error`] types what can fail; [`scheme`] names
//! the schemes. Aggregation over drops (means, CIs) is `sdusc_stats`.

pub mod agent;
pub mod backhaul;
mod central;
pub mod engine;
pub mod epoch;
pub mod error;
#[cfg(test)]
mod fixture;
pub mod scheme;
pub mod world;

pub use engine::{RunOptions, RunOutput, run_scheme_drop};
pub use epoch::{EpochPipeline, StageTimes};
pub use error::{AgentError, SimError, WorldError};
pub use scheme::Scheme;
pub use world::{DropTruth, World};

/// Floor on R̂ in the accumulated PFR Σ_k ln(max(R̂_k(n), R_floor)), bps/Hz
/// (SPEC §11). Decision: 0.01 bps/Hz — a user never served so far counts
/// as ln(0.01) ≈ −4.6, a clear penalty that stays finite; any user served
/// once at a realistic rate is far above it.
pub const RATE_FLOOR_BPS_HZ: f64 = 0.01;
