//! `build-ckm`: RSRP Parquet (generated or a real drive test) → one CKM file
//! per BS (`DIR/bs<id>.ckm`) plus `DIR/quality.parquet` (SPEC §5.2–5.3).
//! See docs/ckm-format.md and docs/real-measurements.md.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use ndarray::Array2;
use rayon::prelude::*;
use sdusc_ckm::ols::Coverage;
use sdusc_ckm::truth::{NmseSummary, scenario_header, truth_nmse};
use sdusc_ckm::{BuildParams, CkmHeader, Dictionary, MissingBeams, OlsParams, build};
use sdusc_formats::ckm_file::{MAX_CELLS, MAX_PROVENANCE, MAX_SLOTS, MAX_STRING};
use sdusc_formats::parquet_io::write_batch;
use sdusc_formats::provenance::Provenance;
use sdusc_formats::quality::{self, QualityRow, Residuals};
use sdusc_formats::rsrp_read::{Binning, Layout, MAX_RSRP_DBM, read_rsrp};
use sdusc_model::C64;
use sdusc_model::Scenario;
use sdusc_model::channel::Environment;
use sdusc_model::codebook::dft_codebook;
use sdusc_model::geometry::{Cells, Grid, Point, ckm_grid_on, in_ckm_area};
use sdusc_model::scenario::{CkmArea, GridAlign, MAX_NAME_BYTES, dbm_to_w, w_to_dbm};
use sha2::{Digest, Sha256};

use crate::common::{file_sha256, is_ckm_output, load_scenario, progress, set_threads, stage_dir};

// The scenario's name cap is the CKM reader's string limit: a scenario that
// validates writes CKMs that read back.
const _: () = assert!(MAX_NAME_BYTES == MAX_STRING as usize);

/// Build the channel knowledge maps of every BS from drive-test RSRP.
#[derive(Debug, Parser)]
#[command(
    name = "build-ckm",
    version,
    after_help = "Examples:\n  build-ckm --scenario pipelines/paper.toml --rsrp data/paper/rsrp.parquet --out-dir data/paper/ckm\n  \
build-ckm --scenario site.toml --rsrp drive.parquet --codebook beams.npy --noise-floor-dbm none --out-dir ckm\n  \
build-ckm --scenario site.toml --rsrp scanner.parquet --missing-beams unknown --min-beams 8 --out-dir ckm\n  \
build-ckm --scenario site.toml --rsrp testbed.parquet --wide-beams 'BID{b}' --out-dir ckm\n\n\
RSRP columns required, each once: bs_id, x_m, y_m, beam_id (integers of any width), rsrp_dbm (any float,\n\
finite, at most +100 dBm); or, with --wide-beams, bs_id, x_m, y_m and one RSRP column per beam (empty\n\
or NaN: not reported); see docs/real-measurements.md."
)]
pub struct Args {
    /// Scenario TOML: BS sites, array (Nt), grid, angular bins, Np, P_T.
    #[arg(long)]
    pub scenario: PathBuf,
    /// RSRP Parquet (from gen-rsrp or a converted real drive test).
    #[arg(long)]
    pub rsrp: PathBuf,
    /// Output folder: bs<id>.ckm per BS and quality.parquet.
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Complex Nt×Nb .npy codebook (column b = beam b) replacing the
    /// scenario's DFT codebook.
    #[arg(long)]
    pub codebook: Option<PathBuf>,
    /// Noise power to subtract from each mean RSRP, dBm, or `none`
    /// [default: the RSRP file's `sdusc.noise_power_w` metadata, else none].
    /// A number at most +100 dBm (the RSRP ceiling); `-95` and `=-95` both work.
    #[arg(long, allow_negative_numbers = true)]
    pub noise_floor_dbm: Option<String>,
    /// Skip the recovery error against the simulated truth (computed by
    /// default when the RSRP was generated from this very scenario).
    #[arg(long)]
    pub no_truth: bool,
    /// How to read a beam with no sample in a cell: `below-detection` (it
    /// was too weak to report: 0 W after the noise floor; right for UE logs
    /// that report their strongest beams) or `unknown` (fit the measured
    /// beams only; right when beams were skipped at random).
    #[arg(long, value_enum, default_value_t = Missing::BelowDetection)]
    pub missing_beams: Missing,
    /// Fewest beams with a sample for a cell to be used; cells with fewer are
    /// skipped (counted in quality.parquet's cells_incomplete) and filled.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), allow_negative_numbers = true)]
    pub min_beams: u32,
    /// Swap-refinement passes after the greedy OLS (0: plain OLS).
    #[arg(long, default_value_t = OlsParams::default().refine_passes, allow_negative_numbers = true)]
    pub refine_passes: usize,
    /// Worker threads [default: all cores]; the output does not depend on it.
    #[arg(long, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// Write the maps even when some BS has no usable measured cell (its CKM
    /// is then empty: every query answers "no estimate"); without it such
    /// RSRP is refused.
    #[arg(long)]
    pub allow_empty_maps: bool,
    /// Read a wide log: one row per location with one RSRP column per beam,
    /// named by this pattern with `{b}` the beam number (e.g. 'BID{b}' for
    /// columns BID1 … BID48); empty or NaN cells are beams not reported.
    #[arg(long, value_name = "PATTERN")]
    pub wide_beams: Option<String>,
    /// Number of the first beam in `--wide-beams` column names (the
    /// codebook's column 0).
    #[arg(
        long,
        default_value_t = 1,
        requires = "wide_beams",
        allow_negative_numbers = true
    )]
    pub wide_first_beam: u64,
    #[command(flatten)]
    pub memory: crate::budget::MemoryArg,
}

/// `--missing-beams` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Missing {
    BelowDetection,
    Unknown,
}

impl Missing {
    fn policy(self) -> MissingBeams {
        match self {
            Self::BelowDetection => MissingBeams::BelowDetection,
            Self::Unknown => MissingBeams::Unknown,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::BelowDetection => "below-detection",
            Self::Unknown => "unknown",
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    set_threads(args.threads)?;
    let scenario = load_scenario(&args.scenario)?;
    let cells = Cells::from_scenario(&scenario);
    let nbs = scenario.num_bs();

    // STEP 1: codebook (scenario DFT or user-supplied).
    let (codebook, codebook_source) = match &args.codebook {
        None => (
            dft_codebook(scenario.tx_antennas, scenario.beams),
            "dft".to_string(),
        ),
        Some(path) => load_codebook(path, scenario.tx_antennas)?,
    };
    let beams = codebook.ncols();
    ensure!(
        args.min_beams as usize <= beams,
        "--min-beams {} but the codebook has {beams} beams: no cell could ever be used; \
         expected at most {beams}",
        args.min_beams
    );

    // STEP 2: grids and CKM-area masks of every BS.
    let lattice = match scenario.grid_align {
        GridAlign::Origin => scenario.grid_origin_m,
        GridAlign::Data => data_lattice(&args.rsrp, scenario.grid_m)?,
    };
    let grids: Vec<Grid> = match scenario.ckm_area {
        CkmArea::Cells => (0..nbs)
            .map(|b| ckm_grid_on(&cells, b, scenario.grid_m, lattice))
            .collect(),
        CkmArea::Data => data_grids(&args.rsrp, &scenario, lattice)?,
    };
    for (b, g) in grids.iter().enumerate() {
        let slots = g.len() as u64 * scenario.paths as u64;
        ensure!(
            g.len() as u64 <= MAX_CELLS && slots <= MAX_SLOTS,
            "scenario {}: the CKM grid of BS {b} has {}×{} = {} cells of ckm.grid_m = {} m \
             ({slots} path slots with channel.paths); a CKM file holds at most {MAX_CELLS} cells \
             and {MAX_SLOTS} path slots: expected a larger ckm.grid_m",
            args.scenario.display(),
            g.nx,
            g.ny,
            g.len(),
            scenario.grid_m
        );
    }
    let rsrp_rows = parquet_rows(&args.rsrp)
        .unwrap_or_else(|| grids.iter().map(|g| (g.len() * beams) as f64).sum());
    crate::budget::build_ckm(&scenario, beams, rsrp_rows, rayon::current_num_threads()).check(
        "build-ckm",
        args.memory.limit()?,
        "lower ckm.angle_bins or channel.paths, or raise ckm.grid_m",
    )?;
    // With area = "data" every grid cell may hold measurements; the area is
    // cut to the measured cells and the fill radius after reading.
    let mut masks: Vec<Vec<bool>> = grids
        .iter()
        .enumerate()
        .map(|(b, g)| match scenario.ckm_area {
            CkmArea::Data => vec![true; g.len()],
            CkmArea::Cells => (0..g.len())
                .into_par_iter()
                .map(|c| in_ckm_area(&cells, b, g.centre(c % g.nx, c / g.nx)))
                .collect(),
        })
        .collect();

    // STEP 3: read and bin the RSRP.
    let layout = match &args.wide_beams {
        None => Layout::Long,
        Some(pattern) => Layout::wide(pattern, args.wide_first_beam)
            .map_err(|e| anyhow::anyhow!("--wide-beams: {e}"))?,
    };
    let in_area = |b: usize, c: usize| masks[b][c];
    let bar = progress(0, "reading");
    let table = read_rsrp(
        &args.rsrp,
        Binning {
            grids: &grids,
            beams,
            min_beams: args.min_beams as usize,
            in_area: &in_area,
            layout: &layout,
        },
        &mut |rows| bar.set_position(rows),
    )
    .with_context(|| format!("cannot use the RSRP file {}", args.rsrp.display()))?;
    bar.finish_and_clear();
    refuse_empty_maps(&args, &table)?;
    if scenario.ckm_area == CkmArea::Data {
        for (b, mask) in masks.iter_mut().enumerate() {
            *mask = near_measured(&grids[b], &table.per_bs[b].cells, scenario.fill_radius_m);
        }
    }
    for (b, st) in table.stats.iter().enumerate() {
        if st.rows_outside_grid + st.rows_outside_area + st.incomplete_cells > 0 {
            crate::errln!(
                "build-ckm: warning: BS {b}: {} rows outside the CKM grid and {} outside the CKM area were skipped; \
                 {} cells with fewer than {} beams measured were skipped",
                st.rows_outside_grid,
                st.rows_outside_area,
                st.incomplete_cells,
                args.min_beams
            );
        }
        if st.partial_cells > 0 {
            crate::errln!(
                "build-ckm: BS {b}: {} cells lack some beams; unmeasured beams read as --missing-beams {}",
                st.partial_cells,
                args.missing_beams.name()
            );
        }
    }
    let noise_floor_w = match args.noise_floor_dbm.as_deref() {
        Some("none") => 0.0,
        Some(v) => noise_floor_from_dbm(v)?,
        None => match table.provenance.extra.get("noise_power_w") {
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|w| w.is_finite() && *w >= 0.0 && *w <= dbm_to_w(MAX_RSRP_DBM))
                .with_context(|| {
                    format!(
                        "{}: metadata sdusc.noise_power_w = {v:?} is not a power in W",
                        args.rsrp.display()
                    )
                })?,
            None => 0.0,
        },
    };
    if noise_floor_w > 0.0 {
        crate::errln!(
            "build-ckm: subtracting a noise floor of {:.2} dBm from every mean RSRP",
            w_to_dbm(noise_floor_w)
        );
    }
    let with_truth = !args.no_truth
        && (table.provenance.scenario_hash == scenario.hash()
            || table.provenance.extra.get("world_hash") == Some(&scenario.world_hash()));
    let env = with_truth.then(|| Environment::from_scenario(&scenario));

    // STEP 4: per BS: OLS, gap filling, file, quality.
    let bin_angles = scenario.angle_bin_centres();
    let dict = Dictionary::new(&codebook, &bin_angles, scenario.power_w);
    let range = scenario.angle_range_rad;
    check_coverage(
        &codebook,
        &dict,
        &bin_angles,
        (range.0.to_degrees(), range.1.to_degrees()),
    )?;
    let params = BuildParams {
        ols: OlsParams {
            max_paths: scenario.paths,
            refine_passes: args.refine_passes,
            ..OlsParams::default()
        },
        noise_floor_w,
        missing: args.missing_beams.policy(),
    };
    let mut rsrp_prov: Vec<(String, String)> = table
        .provenance
        .to_key_values()
        .into_iter()
        .map(|(k, v)| (format!("rsrp.{}", k.trim_start_matches("sdusc.")), v))
        .collect();
    // The RSRP file's metadata goes into every CKM header: it must fit the
    // CKM reader's limits, or the CKMs written would not read back.
    let input = rsrp_input(&args.rsrp, table.rows, &layout)?;
    ensure!(
        rsrp_prov.len() + input.len() <= MAX_PROVENANCE as usize,
        "{}: {} `sdusc.*` metadata entries; a CKM header holds at most {}",
        args.rsrp.display(),
        rsrp_prov.len(),
        MAX_PROVENANCE as usize - input.len()
    );
    rsrp_prov.extend(input);
    rsrp_prov.sort();
    if let Some((k, v)) = rsrp_prov
        .iter()
        .find(|(k, v)| k.len().max(v.len()) > MAX_STRING as usize)
    {
        bail!(
            "{}: metadata `sdusc.{}` is {} bytes long; a CKM header holds strings of at most {MAX_STRING} bytes",
            args.rsrp.display(),
            k.trim_start_matches("rsrp."),
            k.len().max(v.len())
        );
    }
    let set = stage_dir(&args.out_dir, is_ckm_output)?;
    let mut quality = Vec::with_capacity(nbs);
    for b in 0..nbs {
        // The grid as built (with grid_align = "data", on the log's lattice).
        let g = &grids[b];
        let header = CkmHeader {
            noise_floor_w,
            provenance: rsrp_prov.clone(),
            origin_x_m: g.origin.x,
            origin_y_m: g.origin.y,
            nx: g.nx as u32,
            ny: g.ny as u32,
            ..scenario_header(&scenario, b, beams, &codebook_source)
        };
        let rsrp = &table.per_bs[b];
        let bar = progress(rsrp.cells.len() as u64, &format!("BS {b} OLS"));
        let (ckm, info) = build(header, &masks[b], rsrp, &dict, &params, &|n| {
            bar.set_position(n)
        })
        .with_context(|| format!("cannot build the CKM of BS {b}"))?;
        bar.finish_and_clear();
        let name = format!("bs{b}.ckm");
        ckm.write(&set.path().join(&name))
            .with_context(|| format!("cannot write {name} of {}", args.out_dir.display()))?;
        let out = args.out_dir.join(name);
        let (truth_measured, truth_filled) = match &env {
            Some(env) => {
                let (m, f) = truth_nmse(&ckm, env, b);
                (Some(m), Some(f))
            }
            None => (None, None),
        };
        let secs = info.ols_time.as_secs_f64();
        crate::errln!(
            "build-ckm: BS {b}: {} cells in area, {} measured, {} filled, {} empty; OLS {:.2} s ({:.0} cells/s){} → {}",
            info.cells_in_area,
            info.cells_measured,
            info.cells_filled,
            info.cells_empty,
            secs,
            info.cells_measured as f64 / secs.max(1e-9),
            match truth_measured {
                Some(m) => format!(
                    "; NMSE(ĥ) {:.1} dB, NMSE(R̂) {:.1} dB on measured cells",
                    db(m.h_mean),
                    db(m.cov_mean)
                ),
                None => String::new(),
            },
            out.display()
        );
        quality.push(quality_row(
            b as u32,
            &info,
            &table.stats[b],
            truth_measured,
            truth_filled,
        ));
    }
    let qpath = set.path().join("quality.parquet");
    let provenance = Provenance::new(
        "build-ckm",
        &scenario.name,
        &scenario.hash(),
        table.provenance.seed,
    )
    .with("codebook", &codebook_source)
    .with("noise_floor_w", noise_floor_w)
    .with("truth", with_truth)
    .with("missing_beams", args.missing_beams.name())
    .with("min_beams", args.min_beams);
    write_batch(&qpath, &quality::to_batch(&quality), &provenance)
        .with_context(|| format!("cannot write quality.parquet of {}", args.out_dir.display()))?;
    // Every map and the quality table appear at once (or, on an error above,
    // none of them, and the previous set stays).
    set.commit()
        .with_context(|| format!("cannot publish the CKMs into {}", args.out_dir.display()))?;
    Ok(())
}

/// Refuse RSRP that leaves some BS without a usable measured cell (unless
/// `--allow-empty-maps`), saying why the rows were not usable.
fn refuse_empty_maps(
    args: &Args,
    table: &sdusc_formats::rsrp_read::RsrpTable,
) -> anyhow::Result<()> {
    let empty: Vec<String> = table
        .per_bs
        .iter()
        .zip(&table.stats)
        .enumerate()
        .filter(|(_, (bs, _))| bs.cells.is_empty())
        .map(|(b, (_, st))| {
            format!(
                "BS {b}: {} rows, {} outside its CKM grid, {} outside its CKM area, {} cells with fewer than --min-beams {} beams",
                st.rows, st.rows_outside_grid, st.rows_outside_area, st.incomplete_cells, args.min_beams
            )
        })
        .collect();
    if empty.is_empty() || args.allow_empty_maps {
        return Ok(());
    }
    bail!(
        "{}: no usable measured cell for {} of {} BSs ({}); expected measurements inside each BS's \
         CKM area (the other cells; see ckm.grid_m and the sites), or pass --allow-empty-maps to \
         write maps without estimates",
        args.rsrp.display(),
        empty.len(),
        table.per_bs.len(),
        empty.join("; ")
    )
}

/// What every CKM header records of its RSRP input: file name, SHA-256, row
/// count and layout (run-sdusc refuses maps of two inputs; a foreign log
/// without `sdusc.*` metadata is still identified).
fn rsrp_input(path: &Path, rows: u64, layout: &Layout) -> anyhow::Result<Vec<(String, String)>> {
    use sdusc_ckm::check::{RSRP_FILE, RSRP_LAYOUT, RSRP_ROWS, RSRP_SHA256};
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = name;
    if name.len() > MAX_STRING as usize {
        let mut cut = MAX_STRING as usize;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    Ok(vec![
        (RSRP_FILE.into(), name),
        (RSRP_SHA256.into(), file_sha256(path)?),
        (RSRP_ROWS.into(), rows.to_string()),
        (RSRP_LAYOUT.into(), layout.describe()),
    ])
}

/// `area = "data"`: per BS, the grid over the bounding box of its measured
/// points widened by the fill radius, on `lattice`.
fn data_grids(path: &Path, scenario: &Scenario, lattice: Point) -> anyhow::Result<Vec<Grid>> {
    let extents = sdusc_formats::rsrp_read::measured_extent(path, scenario.num_bs())
        .with_context(|| format!("cannot read the extent of {}", path.display()))?;
    let r = scenario.fill_radius_m;
    Ok(extents
        .into_iter()
        .enumerate()
        .map(|(b, e)| {
            // A BS without rows: one cell at its site (refused as empty later).
            let (lo, hi) = e.unwrap_or((scenario.sites[b].position, scenario.sites[b].position));
            Grid::covering_on(
                Point::new(lo.x - r, lo.y - r),
                Point::new(hi.x + r, hi.y + r),
                scenario.grid_m,
                lattice,
            )
        })
        .collect())
}

/// The CKM area of `area = "data"`: the measured cells and every cell whose
/// centre is within `radius` of a measured cell's centre.
fn near_measured(grid: &Grid, measured: &[u32], radius: f64) -> Vec<bool> {
    let mut mask = vec![false; grid.len()];
    let k = (radius / grid.cell_m).floor() as i64;
    let r2 = (radius / grid.cell_m).powi(2) + 1e-9;
    for &c in measured {
        let (cx, cy) = ((c as usize % grid.nx) as i64, (c as usize / grid.nx) as i64);
        for dy in -k..=k {
            for dx in -k..=k {
                let (x, y) = (cx + dx, cy + dy);
                if (dx * dx + dy * dy) as f64 <= r2
                    && (0..grid.nx as i64).contains(&x)
                    && (0..grid.ny as i64).contains(&y)
                {
                    mask[y as usize * grid.nx + x as usize] = true;
                }
            }
        }
    }
    mask
}

/// `grid_align = "data"`: the cell-edge lattice that puts a regular log's
/// points at cell centres; refused when the log is not regular.
fn data_lattice(path: &Path, cell_m: f64) -> anyhow::Result<Point> {
    let l = sdusc_formats::rsrp_read::measured_lattice(path, cell_m)
        .with_context(|| format!("cannot detect the lattice of {}", path.display()))?;
    ensure!(
        l.on_lattice >= 0.9,
        "{}: ckm.grid_align = \"data\" needs a regular log, but only {:.0} % of its {} points lie on \
         one lattice of ckm.grid_m = {cell_m} m (expected ≥ 90 %); set ckm.grid_m to the log's \
         spacing, or place the grid with ckm.grid_origin_m instead",
        path.display(),
        100.0 * l.on_lattice,
        l.points
    );
    crate::errln!(
        "build-ckm: the log's points lie on a {cell_m} m lattice ({:.1} % of {}): cell edges at ({:.4}, {:.4}) m + multiples of {cell_m} m",
        100.0 * l.on_lattice,
        l.points,
        l.edge.x,
        l.edge.y
    );
    Ok(l.edge)
}

/// Rows of a Parquet file from its footer (`None` if it cannot be read:
/// the reader then says why).
fn parquet_rows(path: &Path) -> Option<f64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).ok()?;
    let reader = SerializedFileReader::new(file).ok()?;
    Some(reader.metadata().file_metadata().num_rows().max(0) as f64)
}

/// `--noise-floor-dbm` as W: a finite number of dBm at most the RSRP ceiling
/// (a floor above every admissible RSRP would zero them all), whose power in
/// W is finite and ≥ 0.
fn noise_floor_from_dbm(v: &str) -> anyhow::Result<f64> {
    let expected = format!("expected a finite number of dBm ≤ {MAX_RSRP_DBM} (or `none`)");
    let dbm: f64 = v
        .trim()
        .parse()
        .with_context(|| format!("--noise-floor-dbm {v:?} is not a number: {expected}"))?;
    let w = dbm_to_w(dbm);
    ensure!(
        dbm.is_finite() && dbm <= MAX_RSRP_DBM && w.is_finite() && w >= 0.0,
        "--noise-floor-dbm {v} is {w:?} W: {expected}"
    );
    Ok(w)
}

/// Say which angular bins the codebook covers: the fit never places a path
/// in a bin outside every beam's main lobe (`sdusc_ckm::ols::COVERAGE_DB`).
/// A dictionary with no covered bin is refused: every map would be empty.
fn check_coverage(
    codebook: &Array2<C64>,
    dict: &Dictionary,
    bin_angles: &[f64],
    range_deg: (f64, f64),
) -> anyhow::Result<()> {
    let covered: Vec<usize> = (0..dict.bins()).filter(|&i| dict.covered(i)).collect();
    if covered.len() == dict.bins() {
        return Ok(());
    }
    let beams_look = match Coverage::of(codebook).range_rad {
        Some((lo, hi)) => format!("{:.1}° to {:.1}°", lo.to_degrees(), hi.to_degrees()),
        None => "nowhere (an all-zero codebook)".into(),
    };
    let (Some(&first), Some(&last)) = (covered.first(), covered.last()) else {
        bail!(
            "[ckm] angle_range_deg = [{:.1}, {:.1}]: the codebook's beams look at {beams_look} (within {} dB \
             of their best gain), so none of the {} angular bins can hold a path; expected a range \
             that overlaps where the beams look",
            range_deg.0,
            range_deg.1,
            sdusc_ckm::ols::COVERAGE_DB,
            dict.bins()
        );
    };
    let gaps = last - first + 1 - covered.len();
    crate::errln!(
        "build-ckm: the codebook covers {} of {} angular bins, {:.1}° to {:.1}°{} (its beams look at \
         {beams_look}); no path is placed in the others (more than {} dB below the best beam's gain). \
         Narrow [ckm] angle_range_deg to the covered range to spend every bin where the beams look.",
        covered.len(),
        dict.bins(),
        bin_angles[first].to_degrees(),
        bin_angles[last].to_degrees(),
        if gaps > 0 {
            format!(" ({gaps} uncovered bins inside that range)")
        } else {
            String::new()
        },
        sdusc_ckm::ols::COVERAGE_DB
    );
    Ok(())
}

fn db(x: f64) -> f64 {
    10.0 * x.log10()
}

/// A complex Nt×Nb codebook from `.npy`, with its source string
/// `npy:<file name>:<sha256>`; columns are scaled to unit norm.
fn load_codebook(path: &Path, nt: usize) -> anyhow::Result<(Array2<C64>, String)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read codebook {}", path.display()))?;
    let mut w: Array2<C64> = ndarray_npy::ReadNpyExt::read_npy(&bytes[..]).with_context(|| {
        format!(
            "{}: expected a 2-D complex128 .npy array (Nt × Nb)",
            path.display()
        )
    })?;
    let (rows, cols) = w.dim();
    if rows != nt {
        bail!(
            "{}: codebook is {rows}×{cols}, expected Nt = {nt} rows (one column per beam)",
            path.display()
        );
    }
    ensure!(cols >= 1, "{}: codebook has no beams", path.display());
    for (b, mut col) in w.columns_mut().into_iter().enumerate() {
        let norm = col.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
        ensure!(
            norm.is_finite() && norm > 0.0,
            "{}: beam {b} has norm {norm}; expected a finite non-zero column",
            path.display()
        );
        // Scale to unit norm (RSRP beams are unit-power); columns already of
        // unit norm are used bit for bit.
        if (norm - 1.0).abs() > 1e-9 {
            col.mapv_inplace(|z| z / norm);
        }
    }
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((w, format!("npy:{name}:{digest}")))
}

/// One BS's row of quality.parquet.
fn quality_row(
    bs_id: u32,
    info: &sdusc_ckm::BuildInfo,
    stats: &sdusc_formats::rsrp_read::BsReadStats,
    truth_measured: Option<NmseSummary>,
    truth_filled: Option<NmseSummary>,
) -> QualityRow {
    let nmse = |t: Option<NmseSummary>, f: fn(&NmseSummary) -> f64| {
        t.filter(|s| s.cells > 0).map(|s| db(f(&s)))
    };
    QualityRow {
        bs_id,
        cells_in_area: info.cells_in_area as u64,
        cells_measured: info.cells_measured as u64,
        cells_filled: info.cells_filled as u64,
        cells_empty: info.cells_empty as u64,
        rows: stats.rows,
        rows_repeated: stats.repeated_rows,
        rows_outside_grid: stats.rows_outside_grid,
        rows_outside_area: stats.rows_outside_area,
        cells_partial: stats.partial_cells,
        cells_incomplete: stats.incomplete_cells,
        paths_mean: (info.cells_measured > 0)
            .then(|| info.paths as f64 / info.cells_measured as f64),
        ols_rejected: info.rejected as u64,
        residual: Residuals::of(&info.relative_residuals),
        nmse_h_measured_db: nmse(truth_measured, |s| s.h_mean),
        nmse_cov_measured_db: nmse(truth_measured, |s| s.cov_mean),
        nmse_h_measured_median_db: nmse(truth_measured, |s| s.h_median),
        nmse_cov_measured_median_db: nmse(truth_measured, |s| s.cov_median),
        nmse_h_filled_db: nmse(truth_filled, |s| s.h_mean),
        nmse_cov_filled_db: nmse(truth_filled, |s| s.cov_mean),
    }
}
