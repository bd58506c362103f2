//! Figures and the generated paper report: everything that draws or writes
//! a document. The experiments compute and write Parquet; this crate turns
//! plain data into pictures and text.
//!
//! - [`fig`]: the one plotting path of every experiment figure (PNG + SVG).
//! - [`ckm_map`]: the radio map of a channel knowledge map (`ckm plot`).
//! - [`markdown`]: the document `REPORT.md` from its sections.
//! - [`numbers`]: how numbers and confidence intervals read.
//! - [`font`]: the one embedded font.

use std::path::PathBuf;

pub mod ckm_map;
pub mod fig;
pub mod font;
pub mod markdown;
pub mod numbers;

pub use ckm_map::{MapColour, MapFrame, MapOptions, MapSite, plot_ckm, render_rgb};

/// Why a figure, a map or the report could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: {message}")]
    Draw { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
