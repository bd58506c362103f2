//! Figures and the generated paper report.
//!
//! - [`ckm_map`]: the radio map of a channel knowledge map (`ckm plot`).

pub mod ckm_map;
pub mod font;

pub use ckm_map::{MapColour, MapFrame, MapOptions, MapSite, PlotError, plot_ckm, render_rgb};
