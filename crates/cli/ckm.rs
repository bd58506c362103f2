//! `ckm`: inspect, export and draw CKM files (docs/ckm-format.md).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt8Array, UInt32Array,
};
use clap::{Parser, Subcommand, ValueEnum};
use sdusc_formats::ckm_file::{CellState, Ckm};
use sdusc_formats::parquet_io::ParquetSink;
use sdusc_formats::provenance::Provenance;
use sdusc_model::geometry::{Cells, Point};
use sdusc_model::scenario::CkmArea;
use sdusc_report::{MapColour, MapOptions, MapSite, plot_ckm};

use crate::common::{ensure_parent, load_scenario};

/// Inspect, export or draw a channel knowledge map file.
#[derive(Debug, Parser)]
#[command(
    name = "ckm",
    version,
    after_help = "Examples:\n  ckm inspect data/paper/ckm/bs0.ckm\n  \
ckm export data/paper/ckm/bs0.ckm --out bs0.parquet\n  \
ckm plot data/paper/ckm/bs0.ckm --out bs0.png --mode measured --scenario pipelines/paper.toml"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the header and cell statistics; fails on a corrupt file.
    Inspect { file: PathBuf },
    /// One Parquet row per (cell, path): ix, iy, x_m, y_m, state, measured, path, bin, theta_deg,
    /// theta_rad, power.
    Export {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Draw the map (PNG, or SVG by extension): measured cells in full colour, filled cells
    /// (APS copied from the nearest measured cell) paler and hatched, with a legend.
    Plot {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Colour cells by the dominant AoD, the total power, or their state (measured / filled).
        #[arg(long, alias = "colour", value_enum, default_value_t = Mode::Aod)]
        mode: Mode,
        /// Scenario of the CKM: marks and labels every BS and draws the cell-region borders
        /// (not with `[ckm] area = "data"`, where the cells are not the map's; without a
        /// scenario only the CKM's own BS and the CKM-area border are drawn).
        #[arg(long)]
        scenario: Option<PathBuf>,
        #[arg(long, default_value_t = 1000)]
        width: u32,
        #[arg(long, default_value_t = 800)]
        height: u32,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Angle of the strongest recovered path.
    Aod,
    /// Total recovered power, dB.
    Power,
    /// Cell state: measured, filled or without estimate.
    Measured,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Inspect { file } => inspect(&file),
        Command::Export { file, out } => export(&file, &out),
        Command::Plot {
            file,
            out,
            mode,
            scenario,
            width,
            height,
        } => {
            let ckm = read(&file)?;
            let scenario = scenario.map(|s| load_scenario(&s)).transpose()?;
            // With `[ckm] area = "data"` the scenario's cells decide nothing
            // about the map (a real deployment's cells are not modelled), so
            // their borders are not drawn.
            let cells = scenario
                .as_ref()
                .filter(|s| s.ckm_area == CkmArea::Cells)
                .map(Cells::from_scenario);
            let region = |x: f64, y: f64| cells.as_ref().and_then(|c| c.cell_of(Point::new(x, y)));
            let sites = scenario
                .as_ref()
                .map(|s| {
                    s.sites
                        .iter()
                        .enumerate()
                        .map(|(b, site)| MapSite {
                            x_m: site.position.x,
                            y_m: site.position.y,
                            label: format!("BS {b}"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let colour = match mode {
                Mode::Aod => MapColour::DominantAod,
                Mode::Power => MapColour::TotalPower,
                Mode::Measured => MapColour::Measured,
            };
            let what = match mode {
                Mode::Aod => "dominant AoD",
                Mode::Power => "total power",
                Mode::Measured => "measured and filled cells",
            };
            let opts = MapOptions {
                colour,
                width,
                height,
                title: format!(
                    "CKM of BS {} ({}): {what}",
                    ckm.header.bs_id, ckm.header.scenario_name
                ),
                sites,
                region_of: cells
                    .is_some()
                    .then_some(&region as &dyn Fn(f64, f64) -> Option<usize>),
            };
            ensure_parent(&out)?;
            plot_ckm(&ckm, &opts, &out)
                .with_context(|| format!("cannot draw {}", file.display()))?;
            Ok(())
        }
    }
}

fn read(file: &std::path::Path) -> anyhow::Result<Ckm> {
    Ckm::read(file).context("cannot read the CKM file")
}

fn inspect(file: &std::path::Path) -> anyhow::Result<()> {
    let ckm = read(file)?;
    let h = &ckm.header;
    let n = ckm.state_counts();
    let paths: usize = ckm.counts.iter().map(|&c| c as usize).sum();
    let est = n[CellState::Measured as usize] + n[CellState::Filled as usize];
    let bins = &h.bin_angles_rad;
    let (lo, hi) = (
        bins.first().copied().unwrap_or(0.0),
        bins.last().copied().unwrap_or(0.0),
    );
    crate::outln!("file          {}", file.display());
    crate::outln!(
        "format        SDUSCCKM version {}",
        sdusc_formats::ckm_file::FORMAT_VERSION
    );
    crate::outln!("bs_id         {}", h.bs_id);
    crate::outln!(
        "position      ({:.3}, {:.3}) m, broadside {:.2}°",
        h.bs_x_m,
        h.bs_y_m,
        h.broadside_rad.to_degrees()
    );
    crate::outln!("array         Nt = {} (half-wavelength ULA)", h.tx_antennas);
    crate::outln!(
        "grid          {} × {} cells of {} m, origin ({:.3}, {:.3}) m, extent {:.1} × {:.1} m",
        h.nx,
        h.ny,
        h.cell_m,
        h.origin_x_m,
        h.origin_y_m,
        h.nx as f64 * h.cell_m,
        h.ny as f64 * h.cell_m
    );
    crate::outln!(
        "bins          Nθ = {} centres {:.2}° … {:.2}°",
        bins.len(),
        lo.to_degrees(),
        hi.to_degrees()
    );
    crate::outln!(
        "paths         Np ≤ {}, mean {:.2} per estimated cell",
        h.max_paths,
        paths as f64 / est.max(1) as f64
    );
    crate::outln!(
        "codebook      {} ({} beams), P_T = {} W, noise floor {} W",
        h.codebook,
        h.beams,
        h.tx_power_w,
        h.noise_floor_w
    );
    crate::outln!("scenario      {} ({})", h.scenario_name, h.scenario_hash);
    crate::outln!("tool_version  {}", h.tool_version);
    crate::outln!(
        "cells         {} outside, {} measured, {} filled, {} empty",
        n[0],
        n[1],
        n[2],
        n[3]
    );
    for (k, v) in &h.provenance {
        crate::outln!("provenance    {k} = {v}");
    }
    Ok(())
}

fn export(file: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    let ckm = read(file)?;
    let h = &ckm.header;
    ensure_parent(out)?;
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("ix", arrow::datatypes::DataType::UInt32, false),
        arrow::datatypes::Field::new("iy", arrow::datatypes::DataType::UInt32, false),
        arrow::datatypes::Field::new("x_m", arrow::datatypes::DataType::Float64, false),
        arrow::datatypes::Field::new("y_m", arrow::datatypes::DataType::Float64, false),
        arrow::datatypes::Field::new("state", arrow::datatypes::DataType::Utf8, false),
        arrow::datatypes::Field::new("measured", arrow::datatypes::DataType::Boolean, false),
        arrow::datatypes::Field::new("path", arrow::datatypes::DataType::UInt8, false),
        arrow::datatypes::Field::new("bin", arrow::datatypes::DataType::UInt32, false),
        arrow::datatypes::Field::new("theta_deg", arrow::datatypes::DataType::Float64, false),
        arrow::datatypes::Field::new("theta_rad", arrow::datatypes::DataType::Float64, false),
        arrow::datatypes::Field::new("power", arrow::datatypes::DataType::Float64, false),
    ]));
    let provenance = Provenance::new("ckm export", &h.scenario_name, &h.scenario_hash, 0)
        .with("bs_id", h.bs_id)
        .with("codebook", &h.codebook);
    let mut sink = ParquetSink::create(out, schema.clone(), &provenance)?;
    let nx = h.nx as usize;
    let chunk = 1 << 16;
    let mut rows: Vec<(usize, u8, sdusc_formats::ckm_file::ApsPath)> = Vec::with_capacity(chunk);
    let flush = |rows: &mut Vec<(usize, u8, sdusc_formats::ckm_file::ApsPath)>,
                 sink: &mut ParquetSink|
     -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let centre = |c: usize| h.cell_centre(c % nx, c / nx);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| (r.0 % nx) as u32),
            )),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| (r.0 / nx) as u32),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| centre(r.0).0),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| centre(r.0).1),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| ckm.states[r.0].name()),
            )),
            Arc::new(BooleanArray::from_iter(
                rows.iter()
                    .map(|r| Some(ckm.states[r.0] == CellState::Measured)),
            )),
            Arc::new(UInt8Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.2.bin))),
            Arc::new(Float64Array::from_iter_values(
                rows.iter()
                    .map(|r| h.bin_angles_rad[r.2.bin as usize].to_degrees()),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| h.bin_angles_rad[r.2.bin as usize]),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.2.power),
            )),
        ];
        sink.write(&RecordBatch::try_new(schema.clone(), cols).expect("columns match the schema"))?;
        rows.clear();
        Ok(())
    };
    let mut total = 0usize;
    for c in 0..ckm.num_cells() {
        for (k, p) in ckm.paths(c).iter().enumerate() {
            rows.push((c, k as u8, *p));
            total += 1;
            if rows.len() == chunk {
                flush(&mut rows, &mut sink)?;
            }
        }
    }
    flush(&mut rows, &mut sink)?;
    sink.finish()?;
    crate::errln!("ckm export: {total} rows → {}", out.display());
    Ok(())
}
