//! Inputs of the simulator runs: trajectories and CKMs for a scenario.
//!
//! Trajectories come from `<data>/trajectories.parquet` when it was made for
//! the same scenario and holds the drop; any other drop is generated in memory
//! by the same function gen-traj uses (`generate_drop` with the scenario's
//! seed), so the two are bit-identical. CKMs come from `<data>/ckm/bs<b>.ckm`
//! when their header carries the scenario's *world hash* (network, channel and
//! CKM sections: an experiment that changes only users, epochs or sensing —
//! e.g. |Sℓ|max = 22 — reuses them), or, for tests and diagnostics, are built
//! from the true large-scale paths ([`CkmSource::Oracle`]; an arm may ask for
//! these with `ckm = "oracle"`, e.g. the gap experiment's first CKM step).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sdusc_ckm::query::CkmMap;
use sdusc_formats::traj::{self, TrajRow};
use sdusc_model::Scenario;
use sdusc_model::geometry::Cells;
use sdusc_model::mobility::generate_drop;
use sdusc_sim::World;

use crate::{ExperimentError, Result};

/// Where the CKMs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum CkmSource {
    /// `bs<b>.ckm` files in this folder (build-ckm's output).
    Dir(PathBuf),
    /// CKMs holding the true paths snapped to the angle bins (an upper bound
    /// on CKM quality; used by the miniature tests, `--oracle-ckm` and arms
    /// with `ckm = "oracle"`).
    Oracle,
}

impl CkmSource {
    /// A key naming the source (the runner's caches).
    pub fn key(&self) -> String {
        match self {
            CkmSource::Dir(dir) => format!("dir:{}", dir.display()),
            CkmSource::Oracle => "oracle".into(),
        }
    }
}

/// The trajectory rows of `drops` for `scenario` (drop ids 0..drops).
pub fn trajectories(
    scenario: &Scenario,
    data_dir: Option<&Path>,
    drops: usize,
) -> Result<Vec<TrajRow>> {
    let mut from_file: BTreeMap<u32, Vec<TrajRow>> = BTreeMap::new();
    if let Some(path) = data_dir
        .map(|d| d.join("trajectories.parquet"))
        .filter(|p| p.is_file())
    {
        let (rows, prov) = traj::read(&path)?;
        // gen-traj's output depends on the users, epochs and run sections too:
        // only a file made for this very scenario (and seed) is reused.
        if prov.scenario_hash == scenario.hash() && prov.seed == scenario.seed {
            for r in rows.into_iter().filter(|r| (r.drop as usize) < drops) {
                from_file.entry(r.drop).or_default().push(r);
            }
        }
    }
    let cells = Cells::from_scenario(scenario);
    let mut out =
        Vec::with_capacity(drops * scenario.epochs * scenario.num_bs() * scenario.users_per_cell);
    for d in 0..drops {
        if let Some(rows) = from_file.remove(&(d as u32)) {
            out.extend(rows);
            continue;
        }
        let tracks = generate_drop(scenario, &cells, scenario.seed, d);
        out.extend(traj::rows_of_drop(d as u32, &tracks));
    }
    Ok(out)
}

/// One CKM per BS for `world`'s scenario.
pub fn ckms(world: &World, source: &CkmSource) -> Result<Vec<Option<Arc<CkmMap>>>> {
    match source {
        CkmSource::Dir(dir) => load_ckms(&world.scenario, dir),
        CkmSource::Oracle => Ok(oracle_ckms(world)),
    }
}

fn load_ckms(s: &Scenario, dir: &Path) -> Result<Vec<Option<Arc<CkmMap>>>> {
    let maps = (0..s.num_bs())
        .map(|b| {
            let path = dir.join(format!("bs{b}.ckm"));
            let bad = |message: String| ExperimentError::Ckm {
                path: path.clone(),
                message,
            };
            if !path.is_file() {
                return Err(bad(
                    "missing; build the CKMs first (`just all`, or gen-rsrp + build-ckm into this folder)".into(),
                ));
            }
            let map = CkmMap::load(&path).map_err(|cause| ExperimentError::CkmFile {
                path: path.clone(),
                cause,
            })?;
            sdusc_ckm::check_against(&map.ckm().header, s, b).map_err(|cause| {
                ExperimentError::CkmMismatch {
                    path: path.clone(),
                    scenario: s.name.clone(),
                    cause: Box::new(cause),
                }
            })?;
            Ok(Some(Arc::new(map)))
        })
        .collect::<Result<Vec<_>>>()?;
    let headers: Vec<_> = maps.iter().flatten().map(|m| &m.ckm().header).collect();
    sdusc_ckm::check_set(&headers).map_err(|cause| ExperimentError::CkmSet {
        dir: dir.to_path_buf(),
        cause: Box::new(cause),
    })?;
    Ok(maps)
}

/// CKMs holding the true large-scale paths, snapped to the nearest angle bin.
pub fn oracle_ckms(world: &World) -> Vec<Option<Arc<CkmMap>>> {
    (0..world.scenario.num_bs())
        .map(|b| {
            Some(Arc::new(CkmMap::new(sdusc_ckm::truth::oracle_ckm(
                &world.scenario,
                &world.env,
                b,
            ))))
        })
        .collect()
}
