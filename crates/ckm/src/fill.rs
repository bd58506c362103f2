//! Gap filling of unmeasured cells (SPEC §5.3).
//!
//! Rule: every cell of the CKM area that the drive test did not measure gets
//! the APS of the *nearest measured cell* (Euclidean distance between cell
//! centres; among equidistant cells the one the distance transform reaches
//! first, a fixed rule, so the result is deterministic). The APS is copied,
//! not interpolated: mixing the APSs of several cells would blur distinct
//! paths into more than Np, while the spatially consistent world changes
//! over a correlation distance much longer than a cell.
//!
//! The nearest-cell map is an exact Euclidean distance transform with
//! argmin tracking (Felzenszwalb & Huttenlocher 2012): O(cells), whatever
//! the measured fraction or the shape of the gaps (e.g. drive-test routes).

use sdusc_formats::ckm_file::{CellState, Ckm};

/// For every cell of an `nx × ny` row-major grid, the index of the nearest
/// cell with `is_source` set (itself if it is one), or `None` when there are
/// no sources at all.
pub fn nearest_sources(nx: usize, ny: usize, is_source: &[bool]) -> Option<Vec<u32>> {
    assert_eq!(is_source.len(), nx * ny);
    if !is_source.iter().any(|&s| s) {
        return None;
    }
    // STEP 1: along each row, the nearest source column (ties: left).
    let mut row_src = vec![u32::MAX; nx * ny];
    for iy in 0..ny {
        let row = &mut row_src[iy * nx..(iy + 1) * nx];
        let src = &is_source[iy * nx..(iy + 1) * nx];
        let mut last = None;
        for ix in 0..nx {
            if src[ix] {
                last = Some(ix);
            }
            if let Some(l) = last {
                row[ix] = l as u32;
            }
        }
        let mut next = None;
        for ix in (0..nx).rev() {
            if src[ix] {
                next = Some(ix);
            }
            if let Some(n) = next {
                let cur = row[ix];
                if cur == u32::MAX || n - ix < ix - cur as usize {
                    row[ix] = n as u32;
                }
            }
        }
    }
    // STEP 2: along each column, the lower envelope of the parabolas
    // (iy − q)² + f(q), f(q) = squared row distance of cell (ix, q).
    let mut out = vec![0u32; nx * ny];
    let mut v = vec![0usize; ny];
    let mut z = vec![0f64; ny + 1];
    let mut f = vec![0f64; ny];
    for ix in 0..nx {
        let mut k = 0usize;
        let mut any = false;
        for q in 0..ny {
            let s = row_src[q * nx + ix];
            f[q] = if s == u32::MAX {
                f64::INFINITY
            } else {
                (s as f64 - ix as f64).powi(2)
            };
            if !f[q].is_finite() {
                continue;
            }
            let qf = q as f64;
            if !any {
                v[0] = q;
                z[0] = f64::NEG_INFINITY;
                z[1] = f64::INFINITY;
                any = true;
                continue;
            }
            loop {
                let p = v[k] as f64;
                let s = ((f[q] + qf * qf) - (f[v[k]] + p * p)) / (2.0 * qf - 2.0 * p);
                if s <= z[k] && k > 0 {
                    k -= 1;
                } else if s <= z[k] {
                    // k == 0 and z[0] = −∞ is never reached; kept for clarity.
                    break;
                } else {
                    k += 1;
                    v[k] = q;
                    z[k] = s;
                    z[k + 1] = f64::INFINITY;
                    break;
                }
            }
        }
        debug_assert!(any, "every column sees a source once any row has one");
        let mut k = 0usize;
        for iy in 0..ny {
            while z[k + 1] < iy as f64 {
                k += 1;
            }
            let q = v[k];
            out[iy * nx + ix] = q as u32 * nx as u32 + row_src[q * nx + ix];
        }
    }
    Some(out)
}

/// What [`fill_gaps`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FillInfo {
    pub filled: usize,
    /// In-area cells left without an estimate (only when nothing was measured).
    pub empty: usize,
}

/// Fill every `Empty` cell of `ckm` from its nearest `Measured` cell.
pub fn fill_gaps(ckm: &mut Ckm) -> FillInfo {
    let (nx, ny) = (ckm.header.nx as usize, ckm.header.ny as usize);
    let measured: Vec<bool> = ckm
        .states
        .iter()
        .map(|&s| s == CellState::Measured)
        .collect();
    let empty = ckm
        .states
        .iter()
        .filter(|&&s| s == CellState::Empty)
        .count();
    let Some(nearest) = nearest_sources(nx, ny, &measured) else {
        return FillInfo { filled: 0, empty };
    };
    let mut filled = 0;
    for c in 0..ckm.num_cells() {
        if ckm.states[c] == CellState::Empty {
            let src = nearest[c] as usize;
            let paths = ckm.paths(src).to_vec();
            ckm.set(c, CellState::Filled, &paths);
            filled += 1;
        }
    }
    FillInfo { filled, empty: 0 }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn brute(nx: usize, ny: usize, src: &[bool], c: usize) -> f64 {
        let (x, y) = ((c % nx) as f64, (c / nx) as f64);
        (0..nx * ny)
            .filter(|&s| src[s])
            .map(|s| ((s % nx) as f64 - x).powi(2) + ((s / nx) as f64 - y).powi(2))
            .fold(f64::INFINITY, f64::min)
    }

    proptest! {
        #[test]
        fn nearest_source_is_at_the_brute_force_distance(
            nx in 1usize..25, ny in 1usize..25, seed in any::<u64>(), density in 1u64..60,
        ) {
            let mut x = seed | 1;
            let src: Vec<bool> = (0..nx * ny).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                x % 100 < density
            }).collect();
            match nearest_sources(nx, ny, &src) {
                None => prop_assert!(!src.iter().any(|&s| s)),
                Some(near) => for c in 0..nx * ny {
                    let s = near[c] as usize;
                    prop_assert!(src[s], "cell {} maps to non-source {}", c, s);
                    let d = ((s % nx) as f64 - (c % nx) as f64).powi(2) + ((s / nx) as f64 - (c / nx) as f64).powi(2);
                    prop_assert_eq!(d, brute(nx, ny, &src, c));
                }
            }
        }
    }

    #[test]
    fn fill_copies_the_nearest_measured_aps_and_leaves_outside_alone() {
        use sdusc_formats::ckm_file::{ApsPath, CkmHeader};
        let header = CkmHeader {
            bs_id: 0,
            bs_x_m: 0.0,
            bs_y_m: 0.0,
            broadside_rad: 0.0,
            tx_antennas: 4,
            origin_x_m: 0.0,
            origin_y_m: 0.0,
            cell_m: 1.0,
            nx: 6,
            ny: 1,
            max_paths: 2,
            bin_angles_rad: vec![-0.5, 0.0, 0.5],
            beams: 4,
            tx_power_w: 1.0,
            noise_floor_w: 0.0,
            scenario_hash: String::new(),
            scenario_name: String::new(),
            codebook: "dft".into(),
            tool_version: String::new(),
            provenance: vec![],
        };
        let mut ckm = Ckm::empty(header);
        let a = [ApsPath { bin: 0, power: 1.0 }];
        let b = [
            ApsPath { bin: 2, power: 2.0 },
            ApsPath { bin: 1, power: 0.5 },
        ];
        // cells: measured(a) empty empty empty measured(b) outside
        ckm.set(0, CellState::Measured, &a);
        for c in 1..4 {
            ckm.set(c, CellState::Empty, &[]);
        }
        ckm.set(4, CellState::Measured, &b);
        let info = fill_gaps(&mut ckm);
        assert_eq!(
            info,
            FillInfo {
                filled: 3,
                empty: 0
            }
        );
        assert_eq!(ckm.paths(1), &a);
        assert_eq!(ckm.paths(3), &b);
        assert_eq!(ckm.states[2], CellState::Filled);
        assert_eq!(ckm.states[5], CellState::Outside);
        assert!(ckm.paths(5).is_empty());
    }
}
