//! `gen-traj`: user drops and mobility (SPEC §6) → trajectories Parquet.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use rayon::prelude::*;
use sdusc_formats::parquet_io::write_batch;
use sdusc_formats::provenance::Provenance;
use sdusc_formats::traj::{TrajRow, rows_of_drop, to_batch};
use sdusc_model::geometry::Cells;
use sdusc_model::mobility::generate_drop;

use crate::common::{ensure_parent, load_scenario, progress, set_threads};

/// Generate user trajectories: each user is dropped uniformly in its BS's cell
/// and moves in a random direction at the scenario speed, reflecting at the
/// cell border (SPEC §6). One row per (drop, epoch, user).
#[derive(Debug, Parser)]
#[command(
    name = "gen-traj",
    version,
    after_help = "Example:\n  gen-traj --scenario pipelines/paper.toml --out data/paper/trajectories.parquet --drops 8\n\n\
Columns: drop, epoch (1-based), user_id, bs_id (uint32), x_m, y_m, vx_mps, vy_mps (float64).\n\
See docs/artifacts.md."
)]
pub struct Args {
    /// Scenario TOML (e.g. pipelines/paper.toml).
    #[arg(long)]
    pub scenario: PathBuf,
    /// Output Parquet file (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of drops [default: the scenario's run.drops].
    #[arg(long, allow_negative_numbers = true)]
    pub drops: Option<usize>,
    /// Master seed [default: the scenario's run.seed].
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Worker threads [default: all cores]; the output does not depend on it.
    #[arg(long, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub memory: crate::budget::MemoryArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    set_threads(args.threads)?;
    let scenario = load_scenario(&args.scenario)?;
    let drops = args.drops.unwrap_or(scenario.drops);
    anyhow::ensure!(drops >= 1, "--drops must be at least 1 (got {drops})");
    let seed = args.seed.unwrap_or(scenario.seed);
    crate::budget::gen_traj(&scenario, drops).check(
        "gen-traj",
        args.memory.limit()?,
        "lower --drops (run.drops), epochs.count or users.per_cell",
    )?;
    let cells = Cells::from_scenario(&scenario);
    ensure_parent(&args.out)?;

    let bar = progress(drops as u64, "drops");
    let per_drop: Vec<Vec<TrajRow>> = (0..drops)
        .into_par_iter()
        .map(|d| {
            let tracks = generate_drop(&scenario, &cells, seed, d);
            let rows = rows_of_drop(d as u32, &tracks);
            bar.inc(1);
            rows
        })
        .collect();
    bar.finish_and_clear();
    let rows: Vec<TrajRow> = per_drop.into_iter().flatten().collect();
    let provenance = Provenance::new("gen-traj", &scenario.name, &scenario.hash(), seed)
        .with("drops", drops)
        .with("epochs", scenario.epochs)
        .with("users_per_cell", scenario.users_per_cell)
        .with("num_bs", scenario.num_bs());
    write_batch(&args.out, &to_batch(&rows), &provenance)
        .with_context(|| format!("cannot write trajectories to {}", args.out.display()))?;
    crate::errln!(
        "gen-traj: {} rows ({drops} drops × {} epochs × {} users) → {}",
        rows.len(),
        scenario.epochs,
        scenario.users_per_cell * scenario.num_bs(),
        args.out.display()
    );
    Ok(())
}
