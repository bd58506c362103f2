//! Whether CKMs can serve a scenario: one rule for run-sdusc and the
//! experiments alike.
//!
//! A CKM serves BS `b` of a scenario when its header describes that BS
//! (id, position, Nt), the scenario's angular dictionary (the bin centres,
//! not only their number: a map recovered with another dictionary holds
//! other angles) and grid cell, and carries the scenario's *world hash*
//! (`Scenario::world_hash`: the [network], [channel] and [ckm] sections, so
//! that a change of users, epochs or sensing reuses the maps). The hash is
//! only a claim of the file, which is why the dictionary is checked as well.
//!
//! A *set* of CKMs (one per BS) must come from one RSRP input: build-ckm
//! records the RSRP file's SHA-256 in every header ([`RSRP_SHA256`]), and
//! maps of one world built from two drive tests are refused, since the
//! leakage each BS sees would then be measured on different worlds.

use sdusc_formats::ckm_file::CkmHeader;
use sdusc_formats::provenance::distinct_prefixes;
use sdusc_model::Scenario;
use sdusc_model::scenario::GridAlign;

/// Header provenance keys that build-ckm writes about its RSRP input.
pub const RSRP_FILE: &str = "rsrp_input.file";
/// SHA-256 (hex) of the RSRP file's bytes.
pub const RSRP_SHA256: &str = "rsrp_input.sha256";
/// Rows of the RSRP file.
pub const RSRP_ROWS: &str = "rsrp_input.rows";
/// Layout of the RSRP file (`long`: one row per location and beam).
pub const RSRP_LAYOUT: &str = "rsrp_input.layout";

/// Why a CKM does not serve a BS of a scenario.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CkmMismatch {
    #[error("it is for BS {found}, expected BS {expected}")]
    Bs { found: u32, expected: usize },
    #[error("Nt = {found}, the scenario has {expected}")]
    Antennas { found: u32, expected: usize },
    #[error("{found} angular bins, the scenario's ckm.angle_bins is {expected}")]
    BinCount { found: usize, expected: usize },
    #[error(
        "angular bin {bin} is centred at {found} rad, the scenario's ckm.angle_range_deg puts it at {expected} rad"
    )]
    BinCentre {
        bin: usize,
        found: f64,
        expected: f64,
    },
    #[error("grid cell {found} m, the scenario's ckm.grid_m is {expected} m")]
    Grid { found: f64, expected: f64 },
    #[error(
        "grid corner at ({}, {}) m is not on the scenario's lattice (edges at ({}, {}) m + multiples of {cell} m; ckm.grid_origin_m)",
        found.0, found.1, expected.0, expected.1
    )]
    Lattice {
        found: (f64, f64),
        expected: (f64, f64),
        cell: f64,
    },
    #[error("BS at ({}, {}), the scenario's BS {bs} is at ({}, {})", found.0, found.1, expected.0, expected.1)]
    Position {
        bs: usize,
        found: (f64, f64),
        expected: (f64, f64),
    },
    #[error(
        "built for a different world (scenario `{name}`, [network]/[channel]/[ckm] hash {theirs}…; this is `{ours_name}`, {ours}…)"
    )]
    World {
        name: String,
        theirs: String,
        ours_name: String,
        ours: String,
    },
    #[error("it carries no scenario hash (not written by build-ckm)")]
    NoWorld,
}

/// Check that `h` can serve BS `bs` of `scenario` (see the module docs).
pub fn check_against(h: &CkmHeader, scenario: &Scenario, bs: usize) -> Result<(), CkmMismatch> {
    if h.bs_id as usize != bs {
        return Err(CkmMismatch::Bs {
            found: h.bs_id,
            expected: bs,
        });
    }
    if h.tx_antennas as usize != scenario.tx_antennas {
        return Err(CkmMismatch::Antennas {
            found: h.tx_antennas,
            expected: scenario.tx_antennas,
        });
    }
    let bins = scenario.angle_bin_centres();
    if h.bin_angles_rad.len() != bins.len() {
        return Err(CkmMismatch::BinCount {
            found: h.bin_angles_rad.len(),
            expected: bins.len(),
        });
    }
    if let Some(i) = (0..bins.len()).find(|&i| (h.bin_angles_rad[i] - bins[i]).abs() > 1e-9) {
        return Err(CkmMismatch::BinCentre {
            bin: i,
            found: h.bin_angles_rad[i],
            expected: bins[i],
        });
    }
    if (h.cell_m - scenario.grid_m).abs() > 1e-9 * scenario.grid_m {
        return Err(CkmMismatch::Grid {
            found: h.cell_m,
            expected: scenario.grid_m,
        });
    }
    if scenario.grid_align == GridAlign::Origin {
        // Cell edges on the scenario's lattice (grid_origin_m + i·grid_m).
        let o = scenario.grid_origin_m;
        let off = |v: f64, v0: f64| {
            let k = (v - v0) / scenario.grid_m;
            (k - k.round()).abs() > 1e-6
        };
        if off(h.origin_x_m, o.x) || off(h.origin_y_m, o.y) {
            return Err(CkmMismatch::Lattice {
                found: (h.origin_x_m, h.origin_y_m),
                expected: (o.x, o.y),
                cell: scenario.grid_m,
            });
        }
    }
    let site = scenario.sites[bs].position;
    if (h.bs_x_m - site.x).abs() > 1e-6 || (h.bs_y_m - site.y).abs() > 1e-6 {
        return Err(CkmMismatch::Position {
            bs,
            found: (h.bs_x_m, h.bs_y_m),
            expected: (site.x, site.y),
        });
    }
    if h.scenario_hash.is_empty() {
        return Err(CkmMismatch::NoWorld);
    }
    let world = scenario.world_hash();
    if h.scenario_hash != world {
        let (theirs, ours) = distinct_prefixes(&h.scenario_hash, &world);
        return Err(CkmMismatch::World {
            name: h.scenario_name.clone(),
            theirs: theirs.into(),
            ours_name: scenario.name.clone(),
            ours: ours.into(),
        });
    }
    Ok(())
}

/// Why CKMs do not form one set.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the CKMs were built from different RSRP inputs: BS {first} from {first_file} (sha256 {first_hash}…), \
     BS {other} from {other_file} (sha256 {other_hash}…); rebuild them together with one build-ckm run"
)]
pub struct SetMismatch {
    pub first: usize,
    pub first_file: String,
    pub first_hash: String,
    pub other: usize,
    pub other_file: String,
    pub other_hash: String,
}

fn value<'a>(h: &'a CkmHeader, key: &str) -> Option<&'a str> {
    h.provenance
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Check that the maps of BS 0, 1, … were built from one RSRP input (maps
/// written before the input was recorded carry no hash: `none`).
pub fn check_set(headers: &[&CkmHeader]) -> Result<(), SetMismatch> {
    let Some(first) = headers.first() else {
        return Ok(());
    };
    let hash = |h: &CkmHeader| value(h, RSRP_SHA256).unwrap_or("none").to_string();
    let file = |h: &CkmHeader| {
        value(h, RSRP_FILE)
            .unwrap_or("an unrecorded file")
            .to_string()
    };
    let h0 = hash(first);
    match headers.iter().enumerate().find(|(_, h)| hash(h) != h0) {
        None => Ok(()),
        Some((b, other)) => {
            let hb = hash(other);
            let (a, c) = distinct_prefixes(&h0, &hb);
            Err(SetMismatch {
                first: 0,
                first_file: file(first),
                first_hash: a.into(),
                other: b,
                other_file: file(other),
                other_hash: c.into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truth::scenario_header;

    fn paper() -> Scenario {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipelines/smoke.toml");
        Scenario::load(std::path::Path::new(path)).unwrap()
    }

    #[test]
    fn a_header_of_the_scenario_passes_and_each_field_is_checked() {
        let sc = paper();
        let good = scenario_header(&sc, 1, sc.beams, "dft");
        check_against(&good, &sc, 1).unwrap();
        type Edit = Box<dyn Fn(&mut CkmHeader)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|h| h.bs_id = 0), "expected BS 1"),
            (Box::new(|h| h.tx_antennas += 1), "Nt ="),
            (
                Box::new(|h| {
                    h.bin_angles_rad.pop();
                }),
                "angular bins",
            ),
            (Box::new(|h| h.bin_angles_rad[3] += 1e-3), "angular bin 3"),
            (Box::new(|h| h.cell_m *= 2.0), "grid cell"),
            (Box::new(|h| h.bs_x_m += 1.0), "BS at"),
            (
                Box::new(|h| h.scenario_hash = "ab".repeat(32)),
                "different world",
            ),
            (Box::new(|h| h.scenario_hash.clear()), "no scenario hash"),
        ];
        for (edit, needle) in cases {
            let mut h = good.clone();
            edit(&mut h);
            let err = check_against(&h, &sc, 1).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn maps_of_two_rsrp_inputs_are_not_a_set() {
        let sc = paper();
        let with = |b: usize, sha: &str| {
            let mut h = scenario_header(&sc, b, sc.beams, "dft");
            h.provenance = vec![
                (RSRP_FILE.into(), "rsrp.parquet".into()),
                (RSRP_SHA256.into(), sha.into()),
            ];
            h
        };
        let (a, b, c) = (
            with(0, &"1".repeat(64)),
            with(1, &"1".repeat(64)),
            with(2, &"2".repeat(64)),
        );
        check_set(&[&a, &b]).unwrap();
        let err = check_set(&[&a, &b, &c]).unwrap_err();
        assert_eq!(err.other, 2);
        assert!(err.to_string().contains("different RSRP inputs"), "{err}");
        // A map without the record next to one with it is not a set either.
        let old = scenario_header(&sc, 1, sc.beams, "dft");
        assert!(check_set(&[&a, &old]).is_err());
        check_set(&[&old, &old]).unwrap();
    }
}
