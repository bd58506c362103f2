//! Building one BS's CKM (SPEC §5.2–5.3): recover the APS of every measured
//! cell by OLS (in parallel over cells; each cell's result depends only on
//! its own RSRP, so the map is bit-identical whatever the thread count),
//! then fill the unmeasured cells of the area.
//!
//! Noise floor: the mean RSRP of beam b is P_T Σ α |w_bᴴa(θ)|² + σ², so the
//! known noise power σ² (`noise_floor_w`, 0 if unknown) is subtracted from
//! every mean before recovery and the result clamped at 0.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use sdusc_formats::ckm_file::{ApsPath, CellState, Ckm, CkmHeader};
use sdusc_formats::rsrp_read::BsRsrp;

use crate::fill::{FillInfo, fill_gaps};
use crate::ols::{Dictionary, OlsParams, OlsScratch, OlsStop, recover_partial};

/// How a beam with no RSRP sample in a cell is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingBeams {
    /// It was below detection: received power 0 after the noise floor, and
    /// the fit must explain that (a UE reporting only its strongest beams).
    #[default]
    BelowDetection,
    /// Nothing is known: fit the measured beams only (a scanner that skipped
    /// beams at random).
    Unknown,
}

/// Parameters of [`build`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BuildParams {
    pub ols: OlsParams,
    /// Noise power subtracted from each mean RSRP, W.
    pub noise_floor_w: f64,
    pub missing: MissingBeams,
}

/// What [`build`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildInfo {
    pub cells_in_area: usize,
    pub cells_measured: usize,
    /// Measured cells where only some beams were (fitted on those beams).
    pub cells_partial: usize,
    pub cells_filled: usize,
    pub cells_empty: usize,
    /// Σ paths over measured cells.
    pub paths: usize,
    /// Candidates rejected by the non-negativity rule, over all cells.
    pub rejected: usize,
    /// Cells per stop reason: [MaxPaths, Converged, NoAdmissible, ZeroInput].
    pub stops: [usize; 4],
    /// ‖r̄ − Φᾱ‖/‖r̄‖ of every measured cell, in cell order.
    pub relative_residuals: Vec<f64>,
    pub ols_time: Duration,
}

/// Why [`build`] refused its inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error("the RSRP has {rsrp} beams per cell but the dictionary {dict}")]
    Beams { rsrp: usize, dict: usize },
    #[error("the area mask has {mask} cells but the grid {grid}")]
    Mask { mask: usize, grid: usize },
    #[error("measured cell {cell} is outside the {grid}-cell grid or the CKM area")]
    Cell { cell: u32, grid: usize },
    #[error("OLS allows {ols} paths but the header {header}")]
    Paths { ols: usize, header: u32 },
}

const CHUNK: usize = 512;

/// One chunk's results: path slots, path counts, (relative residual, stop, rejected) per cell.
type ChunkResult = (Vec<ApsPath>, Vec<u8>, Vec<(f64, OlsStop, usize)>);

/// Build the CKM for `header` from `rsrp`. `in_area[c]` says whether grid
/// cell c is in the CKM area; `progress` gets the number of cells recovered.
pub fn build(
    header: CkmHeader,
    in_area: &[bool],
    rsrp: &BsRsrp,
    dict: &Dictionary,
    params: &BuildParams,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Ckm, BuildInfo), BuildError> {
    check_inputs(&header, in_area, rsrp, dict, params)?;
    let nb = dict.beams();
    let np = params.ols.max_paths;

    // STEP 1: OLS over measured cells, chunk-parallel, results in cell order.
    let start = Instant::now();
    let chunks = recover_cells(rsrp, dict, params, progress);
    let ols_time = start.elapsed();

    // STEP 2: assemble the map.
    let mut ckm = Ckm::empty(header);
    for (c, &a) in in_area.iter().enumerate() {
        if a {
            ckm.states[c] = CellState::Empty;
        }
    }
    let mut info = BuildInfo {
        cells_in_area: in_area.iter().filter(|&&a| a).count(),
        cells_measured: rsrp.cells.len(),
        cells_partial: (0..rsrp.cells.len())
            .filter(|&i| rsrp.measured_of(i, nb).is_some())
            .count(),
        ols_time,
        ..BuildInfo::default()
    };
    let mut k = 0usize;
    for (slots, counts, infos) in &chunks {
        for (j, (&count, &(res, stop, rejected))) in counts.iter().zip(infos).enumerate() {
            let cell = rsrp.cells[k] as usize;
            ckm.set(
                cell,
                CellState::Measured,
                &slots[j * np..j * np + count as usize],
            );
            info.paths += count as usize;
            info.rejected += rejected;
            info.stops[stop as usize] += 1;
            info.relative_residuals.push(res);
            k += 1;
        }
    }

    // STEP 3: gap filling.
    let FillInfo { filled, empty } = fill_gaps(&mut ckm);
    info.cells_filled = filled;
    info.cells_empty = empty;
    Ok((ckm, info))
}

/// The map's inputs agree: mask and grid, RSRP and dictionary, Np and header,
/// every measured cell inside the area.
fn check_inputs(
    header: &CkmHeader,
    in_area: &[bool],
    rsrp: &BsRsrp,
    dict: &Dictionary,
    params: &BuildParams,
) -> Result<(), BuildError> {
    let nb = dict.beams();
    let n = header.num_cells();
    if in_area.len() != n {
        return Err(BuildError::Mask {
            mask: in_area.len(),
            grid: n,
        });
    }
    if rsrp.mean_w.len() != rsrp.cells.len() * nb
        || !(rsrp.measured.is_empty() || rsrp.measured.len() == rsrp.mean_w.len())
    {
        return Err(BuildError::Beams {
            rsrp: rsrp.mean_w.len() / rsrp.cells.len().max(1),
            dict: nb,
        });
    }
    if params.ols.max_paths != header.max_paths as usize {
        return Err(BuildError::Paths {
            ols: params.ols.max_paths,
            header: header.max_paths,
        });
    }
    if let Some(&cell) = rsrp
        .cells
        .iter()
        .find(|&&c| c as usize >= n || !in_area[c as usize])
    {
        return Err(BuildError::Cell { cell, grid: n });
    }
    Ok(())
}

/// OLS of every measured cell, in chunks of CHUNK cells over the rayon pool
/// (results in cell order).
fn recover_cells(
    rsrp: &BsRsrp,
    dict: &Dictionary,
    params: &BuildParams,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<ChunkResult> {
    let nb = dict.beams();
    let np = params.ols.max_paths;
    let done = AtomicU64::new(0);
    rsrp.mean_w
        .par_chunks(CHUNK * nb)
        .enumerate()
        .map_init(
            || {
                (
                    OlsScratch::new(dict, np),
                    Vec::with_capacity(np),
                    vec![0.0; nb],
                )
            },
            |(scratch, out, r), (chunk, block)| {
                let cells = block.len() / nb;
                let mut slots = vec![ApsPath::NONE; cells * np];
                let mut counts = vec![0u8; cells];
                let mut infos = Vec::with_capacity(cells);
                for (c, mean) in block.chunks_exact(nb).enumerate() {
                    let flags = rsrp.measured_of(chunk * CHUNK + c, nb);
                    for (b, (ri, &m)) in r.iter_mut().zip(mean).enumerate() {
                        let seen = flags.is_none_or(|f| f[b]);
                        *ri = if seen {
                            (m - params.noise_floor_w).max(0.0)
                        } else {
                            0.0
                        };
                    }
                    let measured = match params.missing {
                        MissingBeams::BelowDetection => None,
                        MissingBeams::Unknown => flags,
                    };
                    let info = recover_partial(dict, r, measured, &params.ols, scratch, out);
                    for (s, &(bin, power)) in slots[c * np..].iter_mut().zip(out.iter()) {
                        *s = ApsPath {
                            bin: bin as u32,
                            power,
                        };
                    }
                    counts[c] = out.len() as u8;
                    infos.push((info.relative_residual(), info.stop, info.rejected));
                }
                progress(done.fetch_add(cells as u64, Ordering::Relaxed) + cells as u64);
                (slots, counts, infos)
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use sdusc_model::Scenario;
    use sdusc_model::channel::Environment;
    use sdusc_model::codebook::dft_codebook;
    use sdusc_model::drivetest::expected_rsrp;
    use sdusc_model::geometry::{Cells, in_ckm_area};

    use super::*;
    use crate::query::{CkmMap, Coverage};
    use crate::truth::truth_nmse;

    /// BS 0 of the smoke scenario with noise-free expected RSRP on every
    /// third cell of its area.
    fn smoke_inputs() -> (CkmHeader, Vec<bool>, BsRsrp, Dictionary, Environment) {
        let s =
            Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke").unwrap();
        let env = Environment::from_scenario(&s);
        let cells = Cells::from_scenario(&s);
        let g = s.ckm_grid(&cells, 0);
        let mask: Vec<bool> = (0..g.len())
            .map(|c| in_ckm_area(&cells, 0, g.centre(c % g.nx, c / g.nx)))
            .collect();
        let w = dft_codebook(s.tx_antennas, s.beams);
        let mut rsrp = BsRsrp::default();
        for c in (0..g.len()).filter(|&c| mask[c] && c % 3 == 0) {
            rsrp.cells.push(c as u32);
            rsrp.mean_w.extend(expected_rsrp(
                &env,
                &w,
                0,
                g.centre(c % g.nx, c / g.nx),
                s.power_w,
            ));
        }
        let header = crate::truth::scenario_header(&s, 0, s.beams, "dft");
        let dict = Dictionary::new(&w, &s.angle_bin_centres(), s.power_w);
        (header, mask, rsrp, dict, env)
    }

    #[test]
    fn parallel_build_is_byte_identical_to_serial() {
        let (header, mask, rsrp, dict, _) = smoke_inputs();
        let params = BuildParams::default();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| build(header.clone(), &mask, &rsrp, &dict, &params, &|_| {}).unwrap())
        };
        let (serial, info) = run(1);
        let (parallel, _) = run(4);
        assert_eq!(serial.to_bytes(), parallel.to_bytes());
        assert!(info.cells_measured > 1000, "{info:?}");
        assert_eq!(info.cells_measured + info.cells_filled, info.cells_in_area);
        assert_eq!(info.cells_empty, 0);
    }

    #[test]
    fn noise_free_map_is_accurate_and_queries_return_own_cells() {
        let (header, mask, rsrp, dict, env) = smoke_inputs();
        let (ckm, info) = build(
            header,
            &mask,
            &rsrp,
            &dict,
            &BuildParams::default(),
            &|_| {},
        )
        .unwrap();
        let worst = info.relative_residuals.iter().cloned().fold(0.0, f64::max);
        let mean =
            info.relative_residuals.iter().sum::<f64>() / info.relative_residuals.len() as f64;
        assert!(mean < 0.1, "mean relative residual {mean} (worst {worst})");
        let (measured, filled) = truth_nmse(&ckm, &env, 0);
        // Noise-free RSRP, off-grid true angles: the covariance is recovered
        // to about -20 dB on measured cells; filled cells are worse.
        assert!(
            measured.cov_mean < 0.02 && measured.h_mean < 0.1,
            "{measured:?}"
        );
        // The swap refinement must pay for itself.
        let (header, mask, rsrp, dict, _) = smoke_inputs();
        let plain = BuildParams {
            ols: OlsParams {
                refine_passes: 0,
                ..OlsParams::default()
            },
            ..BuildParams::default()
        };
        let (ckm0, _) = build(header, &mask, &rsrp, &dict, &plain, &|_| {}).unwrap();
        let (plain_measured, _) = truth_nmse(&ckm0, &env, 0);
        assert!(
            measured.cov_mean < 0.7 * plain_measured.cov_mean,
            "{measured:?} vs {plain_measured:?}"
        );
        assert!(filled.cells > 0 && filled.cov_median.is_finite());
        let map = CkmMap::new(ckm.clone());
        let h = &ckm.header;
        for &c in rsrp.cells.iter().step_by(97) {
            let c = c as usize;
            let (x, y) = h.cell_centre(c % h.nx as usize, c / h.nx as usize);
            let e = map
                .lookup(sdusc_model::geometry::Point::new(
                    x + 0.3 * h.cell_m,
                    y - 0.4 * h.cell_m,
                ))
                .unwrap();
            assert_eq!(
                (e.cell, e.coverage, e.state),
                (c, Coverage::InArea, CellState::Measured)
            );
            assert_eq!(e.paths, ckm.paths(c));
        }
    }

    /// The smoke RSRP with each cell reporting only the beams `keep` picks
    /// (the others zeroed and flagged unmeasured).
    fn reported(
        full: &BsRsrp,
        nb: usize,
        keep: &mut dyn FnMut(usize, &[f64]) -> Vec<usize>,
    ) -> BsRsrp {
        let mut out = full.clone();
        out.measured = vec![false; full.mean_w.len()];
        for (i, row) in full.mean_w.chunks_exact(nb).enumerate() {
            for b in keep(i, row) {
                out.measured[i * nb + b] = true;
            }
        }
        for (v, &m) in out.mean_w.iter_mut().zip(&out.measured) {
            if !m {
                *v = 0.0;
            }
        }
        out
    }

    /// NMSE of R̂ on measured cells for each way of reading unmeasured beams.
    fn nmse_by_policy(rsrp: &BsRsrp) -> [f64; 2] {
        let (header, mask, _, dict, env) = smoke_inputs();
        [MissingBeams::BelowDetection, MissingBeams::Unknown].map(|missing| {
            let params = BuildParams {
                missing,
                ..BuildParams::default()
            };
            let (ckm, info) = build(header.clone(), &mask, rsrp, &dict, &params, &|_| {}).unwrap();
            assert_eq!(info.cells_partial, info.cells_measured);
            truth_nmse(&ckm, &env, 0).0.cov_mean
        })
    }

    #[test]
    fn unmeasured_beams_are_read_by_the_chosen_policy() {
        let (_, _, full, dict, _) = smoke_inputs();
        let nb = dict.beams();
        // A UE log reporting each cell's Nb/2 strongest beams: the rest were
        // below detection, and reading them so is nearly as good as having them.
        let top = reported(&full, nb, &mut |_, row| {
            let mut order: Vec<usize> = (0..nb).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            order.truncate(nb / 2);
            order
        });
        let [below, unknown] = nmse_by_policy(&top);
        let (header, mask, _, _, env) = smoke_inputs();
        let (ckm, _) = build(
            header,
            &mask,
            &full,
            &dict,
            &BuildParams::default(),
            &|_| {},
        )
        .unwrap();
        let complete = truth_nmse(&ckm, &env, 0).0.cov_mean;
        eprintln!("top-N: below-detection {below}, unknown {unknown}, complete {complete}");
        assert!(below < 2.0 * complete && below < unknown);
        // Beams missing at random (a scanner that skipped some): they carry
        // no information, and fitting the measured ones is what works.
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let random = reported(&full, nb, &mut |_, _| {
            (0..nb)
                .filter(|_| rng.random_range(0.0..1.0) < 0.5)
                .collect()
        });
        let [below_r, unknown_r] = nmse_by_policy(&random);
        eprintln!("random: below-detection {below_r}, unknown {unknown_r}");
        assert!(unknown_r < below_r);
    }

    #[test]
    fn refuses_inconsistent_inputs() {
        let (header, mask, rsrp, dict, _) = smoke_inputs();
        let bad = BuildParams {
            ols: OlsParams {
                max_paths: 2,
                ..OlsParams::default()
            },
            ..BuildParams::default()
        };
        assert!(matches!(
            build(header.clone(), &mask, &rsrp, &dict, &bad, &|_| {}),
            Err(BuildError::Paths { .. })
        ));
        assert!(matches!(
            build(
                header.clone(),
                &mask[1..],
                &rsrp,
                &dict,
                &BuildParams::default(),
                &|_| {}
            ),
            Err(BuildError::Mask { .. })
        ));
        let mut short = rsrp.clone();
        short.measured = vec![true; short.mean_w.len() - 1];
        assert!(matches!(
            build(
                header,
                &mask,
                &short,
                &dict,
                &BuildParams::default(),
                &|_| {}
            ),
            Err(BuildError::Beams { .. })
        ));
    }
}
