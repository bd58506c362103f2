//! The true-SINR evaluator (SPEC §4.2), shared by every scheme:
//!
//! ```text
//! SINR_k = |h_{ℓ,k}ᴴ v_k|² / ( Σ_{i∈Sℓ, i≠k} |h_{ℓ,k}ᴴ v_i|² + Σ_{m≠ℓ} Σ_{t∈Sm} |h_{m,k}ᴴ v_t|² + σc² ),
//! R_k = log2(1 + SINR_k)   [bit/s/Hz],
//! ```
//!
//! over the network's scheduled users k = 0..K−1 (all cells together), user k
//! served by BS `serving[k]` with beam v_k (row k of the K×Nt beams). Since each
//! beam is transmitted by its serving BS only, both sums are one sum over all
//! other users j: Σ_{j≠k} |h_{b_j,k}ᴴ v_j|².

use ndarray::Array3;

use crate::Beams;
use crate::c64;
use crate::error::{BeamformingError, dim_err, value_err};

/// Checks the network-wide shapes: channels L×K×Nt, serving (K, each < L), beams K×Nt.
pub(crate) fn check_network(
    channels: &Array3<c64>,
    serving: &[usize],
    beams: Option<&Beams>,
) -> Result<(), BeamformingError> {
    let (l, k, nt) = channels.dim();
    if l == 0 || nt == 0 {
        return Err(dim_err(
            "channels",
            "L×K×Nt with L, Nt ≥ 1".into(),
            format!("{l}×{k}×{nt}"),
        ));
    }
    if serving.len() != k {
        return Err(dim_err(
            "serving",
            format!("{k}"),
            format!("{}", serving.len()),
        ));
    }
    if let Some(b) = serving.iter().find(|&&b| b >= l) {
        return Err(value_err("serving", "a BS index < L", format!("{b}")));
    }
    crate::problem::check_finite_c("channels", channels.iter())?;
    if let Some(v) = beams {
        if v.dim() != (k, nt) {
            return Err(dim_err(
                "beams",
                format!("{k}×{nt}"),
                format!("{:?}", v.dim()),
            ));
        }
        crate::problem::check_finite_c("beams", v.iter())?;
    }
    Ok(())
}

/// True SINR of every scheduled user. `channels[[m, k, ..]]` = h_{m,k} (BS m → user k).
pub fn true_sinr(
    channels: &Array3<c64>,
    serving: &[usize],
    beams: &Beams,
    noise_power: f64,
) -> Result<Vec<f64>, BeamformingError> {
    check_network(channels, serving, Some(beams))?;
    if !(noise_power.is_finite() && noise_power > 0.0) {
        return Err(value_err(
            "noise_power",
            "finite and > 0",
            format!("{noise_power}"),
        ));
    }
    let k = serving.len();
    let mut out = Vec::with_capacity(k);
    for u in 0..k {
        let mut sig = 0.0;
        let mut den = noise_power;
        for j in 0..k {
            let h = channels.index_axis(ndarray::Axis(0), serving[j]);
            let h = h.row(u);
            let v = beams.row(j);
            let g = h
                .iter()
                .zip(v.iter())
                .map(|(a, b)| a.conj() * b)
                .sum::<c64>()
                .norm_sqr();
            if j == u {
                sig = g;
            } else {
                den += g;
            }
        }
        out.push(sig / den);
    }
    Ok(out)
}

/// Rates log2(1 + SINR) in bit/s/Hz.
pub fn rates_bps_hz(sinr: &[f64]) -> Vec<f64> {
    sinr.iter()
        .map(|g| g.ln_1p() / std::f64::consts::LN_2)
        .collect()
}

/// Σ_k w_k ln(1 + SINR_k) (nats; the WMMSE objective).
pub fn weighted_sum_rate_nats(sinr: &[f64], weights: &[f64]) -> f64 {
    sinr.iter().zip(weights).map(|(g, w)| w * g.ln_1p()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    /// Second, independent route: stack every BS's antennas into one L·Nt
    /// "super-array"; beam j becomes the L·Nt vector that is v_j in block
    /// serving[j] and 0 elsewhere; the network channel of user k is the
    /// concatenation of h_{m,k}. Then the received power matrix is
    /// G = |H̄ᴴ V̄|² and SINR_k = G_kk / (Σ_j G_kj − G_kk + σ²).
    #[test]
    fn sinr_agrees_with_stacked_matrix_form() {
        let mut rng = StdRng::seed_from_u64(11);
        for (l, k, nt) in [(1, 1, 1), (1, 4, 8), (3, 9, 4), (3, 18, 32)] {
            let ch = Array3::from_shape_fn((l, k, nt), |_| {
                c64::new(rng.random::<f64>() - 0.5, rng.random::<f64>() - 0.5)
            });
            let serving: Vec<usize> = (0..k).map(|u| u % l).collect();
            let beams = Array2::from_shape_fn((k, nt), |_| {
                c64::new(rng.random::<f64>() - 0.5, rng.random::<f64>() - 0.5)
            });
            let noise = 0.1;
            let fast = true_sinr(&ch, &serving, &beams, noise).unwrap();
            let hbar = Array2::from_shape_fn((l * nt, k), |(r, u)| ch[[r / nt, u, r % nt]]);
            let vbar = Array2::from_shape_fn((l * nt, k), |(r, j)| {
                if r / nt == serving[j] {
                    beams[[j, r % nt]]
                } else {
                    c64::new(0.0, 0.0)
                }
            });
            let g = hbar
                .t()
                .mapv(|x| x.conj())
                .dot(&vbar)
                .mapv(|x| x.norm_sqr());
            for u in 0..k {
                let total: f64 = g.row(u).sum();
                let slow = g[[u, u]] / (total - g[[u, u]] + noise);
                assert!(
                    (slow - fast[u]).abs() <= 1e-12 * slow.max(1e-300),
                    "L={l} K={k} u={u}: {slow} vs {}",
                    fast[u]
                );
            }
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let ch = Array3::<c64>::zeros((2, 3, 4));
        let beams = Array2::<c64>::zeros((3, 4));
        assert!(true_sinr(&ch, &[0, 1, 2], &beams, 1.0).is_err());
        assert!(true_sinr(&ch, &[0, 1], &beams, 1.0).is_err());
        assert!(true_sinr(&ch, &[0, 1, 1], &beams, 0.0).is_err());
        assert!(true_sinr(&ch, &[0, 1, 1], &Array2::zeros((3, 5)), 1.0).is_err());
    }
}
