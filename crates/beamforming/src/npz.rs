//! Instance dumps of per-BS DualOpt problems as `.npz` (numpy `np.load` reads
//! them as-is). Keys (K = |S| users, Nt antennas, all complex128/float64):
//!
//! | key | shape | meaning |
//! |---|---|---|
//! | `h` | K×Nt complex | row k is h_k, so h_kᴴ v = `np.vdot(h[k], v)` |
//! | `D` | Nt×Nt complex | leakage matrix: L̃ = Σ_j v_jᴴ D v_j (SALINR) |
//! | `leakage_per_user` | 0-d | 0: SALINR (`D` = D̂); 1: SLINR, user k's leakage is v_kᴴ D v_k |
//! | `w` | K | PF weights |
//! | `sigma2` | 0-d | σc² |
//! | `P` | 0-d | power budget |
//! | `a` | K×Nt complex | row k is a(θ̂_k) (only with sensing) |
//! | `b2` | K | Gκ²\|β̂_k\|² (only with sensing) |
//! | `sigma_z2`, `cbar`, `abar2` | 0-d | σz², c̄, a_ī² (only with sensing) |
//! | `v0` | K×Nt complex | initial beams, row k is v_k |
//! | `v` | K×Nt complex | final beams |
//! | `objective` | 0-d | Σ_k w_k ln(1+γ̃_k) at `v` (natural log) |
//!
//! Scalars are written as 0-d arrays; the reader also accepts 1-element arrays.
//! Values are stored bit-exactly, so `dualopt::solve_from(&inst.problem, &inst.v0, …)`
//! replays a dumped solve bit-identically. Writes are atomic (temp file in the
//! same folder, fsync, rename).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use ndarray::{Array1, Array2, ArrayD, arr0};
use ndarray_npy::{NpzReader, NpzWriter};

use crate::Beams;
use crate::c64;
use crate::error::BeamformingError;
use crate::problem::{Leakage, SalinrProblem, SensingData};

/// A dumped instance: the problem, the initial and final beams, the objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub problem: SalinrProblem,
    pub v0: Beams,
    pub v: Beams,
    pub objective: f64,
}

fn err(path: &Path, message: impl ToString) -> BeamformingError {
    BeamformingError::Dump {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Writes `inst` to `path` atomically.
pub fn save(path: &Path, inst: &Instance) -> Result<(), BeamformingError> {
    inst.problem.validate()?;
    let tmp = path.with_extension("npz.tmp");
    let p = &inst.problem;
    let write = || -> Result<(), Box<dyn std::error::Error>> {
        let file = File::create(&tmp)?;
        let mut z = NpzWriter::new(BufWriter::new(file));
        z.add_array("h", &p.channels)?;
        z.add_array("D", p.leakage.matrix())?;
        z.add_array(
            "leakage_per_user",
            &arr0(f64::from(u8::from(matches!(
                p.leakage,
                Leakage::PerUser(_)
            )))),
        )?;
        z.add_array("w", &Array1::from(p.weights.clone()))?;
        z.add_array("sigma2", &arr0(p.noise_power))?;
        z.add_array("P", &arr0(p.power_budget))?;
        if let Some(s) = &p.sensing {
            z.add_array("a", &s.steering)?;
            z.add_array("b2", &Array1::from(s.echo_gain.clone()))?;
            z.add_array("sigma_z2", &arr0(s.sensing_noise))?;
            z.add_array("cbar", &arr0(s.threshold))?;
            z.add_array("abar2", &arr0(s.error_scale_sq))?;
        }
        z.add_array("v0", &inst.v0)?;
        z.add_array("v", &inst.v)?;
        z.add_array("objective", &arr0(inst.objective))?;
        let mut w = z.finish()?;
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| err(path, e))
}

/// Reads an instance written by [`save`] (or by numpy with the same keys).
pub fn load(path: &Path) -> Result<Instance, BeamformingError> {
    let file = File::open(path).map_err(|e| err(path, e))?;
    let mut z = NpzReader::new(file).map_err(|e| err(path, e))?;
    let names = z.names().map_err(|e| err(path, e))?;
    let has = |k: &str| names.iter().any(|n| n == k || n == &format!("{k}.npy"));
    let mut c2 = |k: &str| -> Result<Array2<c64>, BeamformingError> {
        z.by_name(k).map_err(|e| err(path, format!("{k}: {e}")))
    };
    let h = c2("h")?;
    let d = c2("D")?;
    let a = if has("a") { Some(c2("a")?) } else { None };
    let v0 = c2("v0")?;
    let v = c2("v")?;
    let mut f = |k: &str| -> Result<Vec<f64>, BeamformingError> {
        let x: ArrayD<f64> = z.by_name(k).map_err(|e| err(path, format!("{k}: {e}")))?;
        Ok(x.iter().copied().collect())
    };
    let scalar = |k: &str, x: Vec<f64>| -> Result<f64, BeamformingError> {
        match x.as_slice() {
            [s] => Ok(*s),
            _ => Err(err(
                path,
                format!("{k}: expected a scalar, found {} values", x.len()),
            )),
        }
    };
    let per_user = if has("leakage_per_user") {
        scalar("leakage_per_user", f("leakage_per_user")?)? != 0.0
    } else {
        false
    };
    let sensing = match a {
        Some(steering) => Some(SensingData {
            steering,
            echo_gain: f("b2")?,
            sensing_noise: scalar("sigma_z2", f("sigma_z2")?)?,
            threshold: scalar("cbar", f("cbar")?)?,
            error_scale_sq: scalar("abar2", f("abar2")?)?,
        }),
        None => None,
    };
    let problem = SalinrProblem {
        channels: h,
        leakage: if per_user {
            Leakage::PerUser(d)
        } else {
            Leakage::Averaged(d)
        },
        weights: f("w")?,
        noise_power: scalar("sigma2", f("sigma2")?)?,
        power_budget: scalar("P", f("P")?)?,
        sensing,
    };
    problem.validate()?;
    Ok(Instance {
        problem,
        v0,
        v,
        objective: scalar("objective", f("objective")?)?,
    })
}
