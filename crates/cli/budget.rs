//! Memory estimates, checked before a stage allocates anything.
//!
//! Scenario values that are each in range can be absurd in product
//! (`ckm.angle_bins = 100000` is a 80 GB Gram matrix; `users.per_cell =
//! 100000` with `epochs.count = 1000000` is 3·10¹¹ trajectory rows). Each
//! CLI adds up what its largest buffers will hold, from the scenario and its
//! arguments alone, and refuses a run whose estimate exceeds `--max-memory`
//! (default: the machine's physical memory, or the process's `ulimit -v` if
//! lower), naming the parts and the option — instead of dying in the allocator minutes later.
//!
//! The estimates are upper bounds of the dominant terms, not of every byte:
//! on the paper scenario they are within a small factor of the measured peak
//! RSS (docs/artifacts.md gives the numbers); a process needs a few tens of
//! MB beyond them.

use std::fmt;

use anyhow::{Context, bail};
use bytesize::ByteSize;
use sdusc_formats::rsrp::RsrpRow;
use sdusc_formats::traj::TrajRow;
use sdusc_model::Scenario;
use sdusc_model::geometry::Cells;

/// `--max-memory` values: a size such as `8GiB`, `512MB`, `4G`, or `none`.
pub fn parse_max_memory(text: &str) -> anyhow::Result<Option<u64>> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let size: ByteSize = text.trim().parse().map_err(|e| {
        anyhow::anyhow!(
            "--max-memory {text:?} is not a size ({e}); expected e.g. 8GiB, 512MB, 4G or none"
        )
    })?;
    Ok(Some(size.as_u64()))
}

/// The default limit: physical memory (`MemTotal` of /proc/meminfo), or
/// 16 GiB where it cannot be read.
pub fn physical_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        })
        .unwrap_or(16 << 30)
}

/// The process's address-space limit (`ulimit -v`), if any.
pub fn address_space_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit};
    getrlimit(Resource::As).current
}

/// The limit in force: `--max-memory` if given, else physical memory or the
/// address-space limit, whichever is lower (beyond either, the allocation
/// would fail anyway).
pub fn limit(arg: Option<&str>) -> anyhow::Result<Option<u64>> {
    match arg {
        Some(text) => parse_max_memory(text),
        None => Ok(Some(
            physical_memory().min(address_space_limit().unwrap_or(u64::MAX)),
        )),
    }
}

/// The estimated peak of one run, as named parts.
#[derive(Debug, Default, Clone)]
pub struct Estimate {
    parts: Vec<(String, f64)>,
}

impl Estimate {
    /// Add `count` items of `bytes` each (in f64: products of scenario
    /// values may exceed u64).
    pub fn add(&mut self, what: impl Into<String>, count: f64, bytes: f64) -> &mut Self {
        self.parts.push((what.into(), count * bytes));
        self
    }

    pub fn total(&self) -> f64 {
        self.parts.iter().map(|(_, b)| b).sum()
    }

    /// Refuse the run when the total exceeds `limit` (`None`: no limit).
    pub fn check(&self, tool: &str, limit: Option<u64>, advice: &str) -> anyhow::Result<()> {
        let Some(limit) = limit else {
            return Ok(());
        };
        if self.total() <= limit as f64 {
            return Ok(());
        }
        bail!(
            "{tool}: this run needs about {} of memory ({self}), more than the limit of {}; \
             {advice}, or raise the limit with --max-memory (e.g. --max-memory {}, or none)",
            human(self.total()),
            ByteSize(limit).display().iec(),
            ByteSize((self.total() * 1.25).min(u64::MAX as f64) as u64)
                .display()
                .iec_short()
        )
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<_> = self.parts.iter().filter(|(_, b)| *b >= 1.0).collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (i, (what, bytes)) in parts.iter().take(3).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{what} {}", human(*bytes))?;
        }
        Ok(())
    }
}

/// A byte count for messages (sizes beyond u64 stay readable).
fn human(bytes: f64) -> String {
    if bytes < u64::MAX as f64 / 2.0 {
        ByteSize(bytes as u64).display().iec().to_string()
    } else {
        format!("{:.1e} bytes", bytes)
    }
}

/// The `--max-memory` option, shared by the CLIs' argument structs.
#[derive(Debug, Clone, clap::Args)]
pub struct MemoryArg {
    /// Refuse a run whose estimated memory exceeds this size (e.g. 8GiB,
    /// 512MB, or none) [default: the machine's physical memory, or
    /// `ulimit -v` if lower].
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
}

impl MemoryArg {
    pub fn limit(&self) -> anyhow::Result<Option<u64>> {
        limit(self.max_memory.as_deref()).context("invalid --max-memory")
    }
}

/// Grid cells of every BS's CKM (computed without allocating the grids).
fn grid_cells(s: &Scenario) -> Vec<f64> {
    let cells = Cells::from_scenario(s);
    (0..s.num_bs())
        .map(|b| s.ckm_grid(&cells, b).len() as f64)
        .collect()
}

/// Trajectory rows of `drops` drops.
fn trajectory_rows(s: &Scenario, drops: usize) -> f64 {
    drops as f64 * s.epochs as f64 * s.num_bs() as f64 * s.users_per_cell as f64
}

/// gen-traj: the rows per drop, their concatenation, the Arrow batch and
/// Parquet's encoding buffers (four copies of a 48-byte row).
pub fn gen_traj(s: &Scenario, drops: usize) -> Estimate {
    let mut e = Estimate::default();
    e.add(
        "trajectory rows (4 copies)",
        trajectory_rows(s, drops),
        4.0 * size_of::<TrajRow>() as f64,
    );
    e
}

/// gen-rsrp: the chunks of grid rows in flight (two per thread, each as
/// rows and as an Arrow batch; a `fraction` of their cells measured) and one
/// Parquet row group.
pub fn gen_rsrp(s: &Scenario, fraction: f64, rows_per_chunk: usize, threads: usize) -> Estimate {
    let cells = Cells::from_scenario(s);
    let widest = (0..s.num_bs())
        .map(|b| s.ckm_grid(&cells, b).nx)
        .max()
        .unwrap_or(0) as f64;
    let chunk_rows = widest * rows_per_chunk as f64 * s.beams as f64 * fraction;
    let mut e = Estimate::default();
    e.add(
        "RSRP rows in flight",
        chunk_rows * (2 * threads.max(1)) as f64,
        2.0 * size_of::<RsrpRow>() as f64,
    )
    .add(
        "a Parquet row group",
        (1u64 << 20) as f64,
        2.0 * size_of::<RsrpRow>() as f64,
    );
    e
}

/// build-ckm: the dictionary (Φ and its Gram matrix), the binned RSRP (at
/// most one slot per file row), the area masks, one map being built and
/// encoded, and the OLS scratch of every thread.
pub fn build_ckm(s: &Scenario, beams: usize, rsrp_rows: f64, threads: usize) -> Estimate {
    let bins = s.angle_bins as f64;
    let cells = grid_cells(s);
    let largest = cells.iter().copied().fold(0.0, f64::max);
    let slot = size_of::<sdusc_formats::ckm_file::ApsPath>() as f64;
    let mut e = Estimate::default();
    e.add("the Gram matrix ΦᵀΦ", bins * bins, 8.0)
        .add("the dictionary Φ", bins * beams as f64, 8.0)
        .add("the binned RSRP", rsrp_rows, 8.0 + 4.0 + 8.0 + 1.0 + 16.0)
        .add("area masks", cells.iter().sum(), 1.0)
        .add(
            "one map and its encoding",
            largest,
            3.0 * (2.0 + s.paths as f64 * slot) + 12.0,
        )
        .add("OLS scratch", threads.max(1) as f64 * bins, 8.0 * 8.0);
    e
}

/// run-sdusc: the trajectories (rows, per-drop truths, Arrow decoding), the
/// CKMs (paths and nearest-source index per cell), the metrics rows of
/// every (scheme, drop, epoch), and per concurrent job the users' trackers
/// and channels.
pub fn run_sdusc(
    s: &Scenario,
    drops: usize,
    schemes: usize,
    ckms: bool,
    threads: usize,
) -> Estimate {
    let users = s.num_bs() as f64 * s.users_per_cell as f64;
    let slot = size_of::<sdusc_formats::ckm_file::ApsPath>() as f64;
    let runs = schemes as f64 * drops as f64 * s.epochs as f64;
    let mut e = Estimate::default();
    e.add(
        "trajectories (3 copies)",
        trajectory_rows(s, drops),
        3.0 * size_of::<TrajRow>() as f64,
    );
    if ckms {
        e.add(
            "CKMs",
            grid_cells(s).iter().sum(),
            2.0 + 4.0 + s.paths as f64 * slot,
        );
    }
    e.add("user-epoch rows (2 copies)", runs * users, 2.0 * 160.0)
        .add(
            "BS-epoch rows (2 copies)",
            runs * s.num_bs() as f64,
            2.0 * 256.0,
        )
        .add(
            "trackers and channels of the jobs in flight",
            threads.max(1) as f64 * users,
            // 24 velocity hypotheses of a 4-state filter; every BS's channel
            // to the user; the leakage and beam matrices of its BS.
            24.0 * 256.0
                + s.num_bs() as f64 * (s.tx_antennas * s.rx_antennas) as f64 * 16.0 * 4.0
                + (s.tx_antennas * s.tx_antennas) as f64 * 16.0 * 8.0 / s.users_per_cell as f64,
        );
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_none_lifts_the_limit() {
        assert_eq!(parse_max_memory("8GiB").unwrap(), Some(8 << 30));
        assert_eq!(parse_max_memory("512 MiB").unwrap(), Some(512 << 20));
        assert_eq!(parse_max_memory("none").unwrap(), None);
        let err = parse_max_memory("lots").unwrap_err().to_string();
        assert!(err.contains("expected e.g. 8GiB"), "{err}");
    }

    #[test]
    fn an_estimate_above_the_limit_names_its_largest_part_and_the_option() {
        let mut e = Estimate::default();
        e.add("Gram matrix", 1e10, 8.0).add("scratch", 10.0, 8.0);
        let err = e
            .check("build-ckm", Some(1 << 30), "lower ckm.angle_bins")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Gram matrix 74.5 GiB"), "{text}");
        assert!(text.contains("--max-memory"), "{text}");
        e.check("build-ckm", None, "").unwrap();
        e.check("build-ckm", Some(1 << 40), "").unwrap();
        // Products beyond u64 are still a clear message.
        let mut huge = Estimate::default();
        huge.add("rows", 1e30, 48.0);
        assert!(
            huge.check("gen-traj", Some(1), "x")
                .unwrap_err()
                .to_string()
                .contains("e31 bytes")
        );
    }
}
