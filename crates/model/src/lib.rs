//! The physical model of SD-USCB: scenario, geometry, ULAs, the spatially
//! consistent channel, the beam codebook, mobility and the noise calibration
//! (SPEC §2–§4, §5.1 codebook, §6).
//!
//! Everything here is the *truth* of the simulated world; algorithms and BS
//! agents live in other crates and only see what they are handed.

pub mod array;
pub mod channel;
pub mod codebook;
pub mod coordination;
pub mod drivetest;
pub mod field;
pub mod geometry;
pub mod layout;
pub mod mobility;
pub mod noise;
pub mod rng;
pub mod scenario;

/// Complex double, the scalar of every channel and beam.
pub type C64 = num_complex::Complex<f64>;

pub use scenario::{Scenario, ScenarioError};
