//! Dump → load → solve reproduces the dumped beams and objective bit-identically.

use sdusc_beamforming::dualopt::{self, DualOptParams};
use sdusc_beamforming::fp::{self, FpParams};
use sdusc_beamforming::npz::{self, Instance};
use sdusc_beamforming::salinr;
use sdusc_beamforming::synthetic::{SyntheticParams, instance};

#[test]
fn dump_load_solve_replays_bit_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, (sensing, per_user)) in [
        (Some((0.01, 0.05)), false),
        (None, false),
        (Some((1.0, 1e-3)), true),
    ]
    .into_iter()
    .enumerate()
    {
        let p = instance(
            &SyntheticParams {
                users: 5,
                antennas: 16,
                sensing,
                per_user_leakage: per_user,
            },
            40 + i as u64,
        );
        let params = DualOptParams::default();
        let v0 = fp::initial_beams(&p, &FpParams::default()).unwrap();
        let (v, _) = dualopt::solve(&p, &params).unwrap();
        let objective = salinr::objective(&p, &v).unwrap();
        let path = dir.path().join(format!("inst{i}.npz"));
        npz::save(
            &path,
            &Instance {
                problem: p.clone(),
                v0,
                v: v.clone(),
                objective,
            },
        )
        .unwrap();
        let back = npz::load(&path).unwrap();
        assert_eq!(back.problem, p);
        let (v2, _) = dualopt::solve_from(&back.problem, &back.v0, &params).unwrap();
        assert_eq!(v2, back.v, "beams differ after replay");
        assert_eq!(
            salinr::objective(&back.problem, &v2).unwrap().to_bits(),
            back.objective.to_bits()
        );
    }
}

#[test]
fn load_rejects_garbage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.npz");
    std::fs::write(&path, b"not a zip").unwrap();
    assert!(npz::load(&path).is_err());
    assert!(npz::load(&dir.path().join("missing.npz")).is_err());
}

/// The simulator instances of the `per_bs_solve` bench (table1's, dumped by
/// the simulator) still load, and the solver still reaches the dumped
/// objective from the dumped initial point: the bench times the solves
/// table1 and the simulator make. A solver change that moves them means the
/// fixtures need regenerating (benches/instances/README.md).
#[test]
fn the_benchs_simulator_instances_replay_their_dumped_solves() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/instances");
    let mut sizes = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "npz") {
            continue;
        }
        let inst = npz::load(&path).unwrap();
        let (v, info) =
            dualopt::solve_from(&inst.problem, &inst.v0, &DualOptParams::default()).unwrap();
        let objective = salinr::objective(&inst.problem, &v).unwrap();
        assert!(
            (objective - inst.objective).abs() <= 1e-9 * inst.objective.abs(),
            "{}: objective {objective} vs dumped {}",
            path.display(),
            inst.objective
        );
        assert!(info.converged, "{}", path.display());
        *sizes.entry(inst.problem.num_users()).or_insert(0) += 1;
    }
    assert_eq!(sizes, [(6, 4), (12, 4), (18, 4)].into_iter().collect());
}
