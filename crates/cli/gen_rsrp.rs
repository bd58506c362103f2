//! `gen-rsrp`: the simulated drive test (SPEC §5.1) → RSRP Parquet, streamed
//! in row groups so memory stays flat as the area grows.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use rayon::prelude::*;
use sdusc_formats::parquet_io::ParquetSink;
use sdusc_formats::provenance::Provenance;
use sdusc_formats::rsrp::{RsrpRow, schema, to_batch};
use sdusc_model::channel::Environment;
use sdusc_model::codebook::dft_codebook;
use sdusc_model::drivetest::{Scratch, is_measured, measure_into};
use sdusc_model::geometry::in_ckm_area;
use sdusc_model::noise::calibrated_noise_power;
use sdusc_model::scenario::w_to_dbm;

use crate::common::{ensure_parent, load_scenario, progress, set_threads};

/// Grid rows simulated in parallel before their rows are written.
const ROWS_PER_CHUNK: usize = 64;

/// Simulate a drive test: for every BS, the RSRP of each beam of the Nb-beam
/// DFT codebook at a random `ckm.measured_fraction` of the grid cells of its
/// CKM area (the regions of the cells it coordinates with: every other cell
/// unless `[coordination]` limits them), averaged over `ckm.snapshots`
/// snapshots with measurement noise of the calibrated power σc².
#[derive(Debug, Parser)]
#[command(
    name = "gen-rsrp",
    version,
    after_help = "Example:\n  gen-rsrp --scenario pipelines/paper.toml --out data/paper/rsrp.parquet\n\n\
Columns: bs_id (uint32), x_m, y_m (float64, grid-cell centre), beam_id (uint32), rsrp_dbm (float64).\n\
See docs/artifacts.md."
)]
pub struct Args {
    /// Scenario TOML (e.g. pipelines/paper.toml).
    #[arg(long)]
    pub scenario: PathBuf,
    /// Output Parquet file (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the measurement noise and of which cells are visited
    /// [default: the scenario's run.seed].
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Override the scenario's measured fraction of grid cells, (0, 1].
    #[arg(long, allow_negative_numbers = true)]
    pub measured_fraction: Option<f64>,
    /// Worker threads [default: all cores]; the output does not depend on it.
    #[arg(long, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub memory: crate::budget::MemoryArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    set_threads(args.threads)?;
    let scenario = load_scenario(&args.scenario)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let fraction = args.measured_fraction.unwrap_or(scenario.measured_fraction);
    anyhow::ensure!(
        fraction > 0.0 && fraction <= 1.0,
        "--measured-fraction must be in (0, 1]; got {fraction}"
    );
    crate::budget::gen_rsrp(
        &scenario,
        fraction,
        ROWS_PER_CHUNK,
        rayon::current_num_threads(),
    )
    .check(
        "gen-rsrp",
        args.memory.limit()?,
        "raise ckm.grid_m, or lower ckm.beams or --threads",
    )?;
    let env = Environment::from_scenario(&scenario);
    let noise_w = calibrated_noise_power(&scenario, &env);
    let codebook = dft_codebook(scenario.tx_antennas, scenario.beams);
    ensure_parent(&args.out)?;

    let provenance = Provenance::new("gen-rsrp", &scenario.name, &scenario.hash(), seed)
        .with("world_hash", scenario.world_hash())
        .with("noise_power_w", noise_w)
        .with("codebook", "dft")
        .with("beams", scenario.beams)
        .with("measured_fraction", fraction)
        .with("grid_m", scenario.grid_m);
    let mut sink = ParquetSink::create(&args.out, schema(), &provenance)
        .with_context(|| format!("cannot write RSRP to {}", args.out.display()))?;

    let grids: Vec<_> = (0..scenario.num_bs())
        .map(|b| scenario.ckm_grid(&env.cells, b))
        .collect();
    let total_rows: usize = grids.iter().map(|g| g.ny).sum();
    let bar = progress(total_rows as u64, "grid rows");
    let mut rows_written = 0usize;
    let mut cells_measured = 0usize;
    for (b, grid) in grids.iter().enumerate() {
        let chunk_starts: Vec<usize> = (0..grid.ny).step_by(ROWS_PER_CHUNK).collect();
        // Parallel over chunks of grid rows, written in order: deterministic bytes.
        for group in chunk_starts.chunks(rayon::current_num_threads().max(1) * 2) {
            let batches: Vec<Vec<RsrpRow>> = group
                .par_iter()
                .map(|&y0| {
                    let mut scratch =
                        Scratch::new(scenario.tx_antennas, scenario.beams, scenario.paths);
                    let mut r = vec![0.0; scenario.beams];
                    let mut rows = Vec::new();
                    for iy in y0..(y0 + ROWS_PER_CHUNK).min(grid.ny) {
                        for ix in 0..grid.nx {
                            let p = grid.centre(ix, iy);
                            if !in_ckm_area(&env.cells, b, p)
                                || !is_measured(seed, b, ix, iy, fraction)
                            {
                                continue;
                            }
                            let cell_key = ((iy as u64) << 32) | ix as u64;
                            measure_into(
                                &env,
                                &codebook,
                                b,
                                p,
                                scenario.power_w,
                                noise_w,
                                scenario.snapshots,
                                seed,
                                cell_key,
                                &mut scratch,
                                &mut r,
                            );
                            for (beam, &w) in r.iter().enumerate() {
                                rows.push(RsrpRow {
                                    bs_id: b as u32,
                                    x_m: p.x,
                                    y_m: p.y,
                                    beam_id: beam as u32,
                                    rsrp_dbm: w_to_dbm(w),
                                });
                            }
                        }
                        bar.inc(1);
                    }
                    rows
                })
                .collect();
            for rows in batches {
                if rows.is_empty() {
                    continue;
                }
                rows_written += rows.len();
                cells_measured += rows.len() / scenario.beams;
                sink.write(&to_batch(&rows))?;
            }
        }
    }
    bar.finish_and_clear();
    anyhow::ensure!(
        rows_written > 0,
        "no grid cell was measured: the CKM area is empty or --measured-fraction is too small"
    );
    sink.finish()?;
    crate::errln!(
        "gen-rsrp: {cells_measured} measured cells × {} beams = {rows_written} rows (σc² = {:.3} dBm) → {}",
        scenario.beams,
        w_to_dbm(noise_w),
        args.out.display()
    );
    Ok(())
}
