//! The per-BS beamforming problem of SPEC §10.1.
//!
//! For cell ℓ with scheduled users k = 0..K−1 (intra-cell channels h_k) the BS
//! maximises Σ_k w_k ln(1 + γ̃_k) subject to Σ_k ‖v_k‖² ≤ P and, optionally, the
//! ISAC sensing constraints σ²_{k,ī}(v) ≤ c̄ (17), where
//!
//! ```text
//! σ²_{k,ī}(v) = a_ī² (Σ_{j≠k} b_k |a_kᴴ v_j|² + σz²) / (b_k |a_kᴴ v_k|²),   b_k = Gκ²|β̂_k|².
//! ```

use ndarray::Array2;

use crate::c64;
use crate::error::{BeamformingError, dim_err, value_err};

/// The inter-cell leakage model in the SINR denominators.
#[derive(Debug, Clone, PartialEq)]
pub enum Leakage {
    /// SALINR (10)–(11): every user's denominator holds the averaged leakage
    /// L̃ = Σ_j v_jᴴ D̂ v_j with D̂ = (1/|S|) Σ_{t} ĥ_t ĥ_tᴴ (Nt×Nt, Hermitian PSD).
    Averaged(Array2<c64>),
    /// SLINR (9): user k's denominator holds its own beam's leakage
    /// L̂_k = v_kᴴ D v_k with D = Σ_t ĥ_t ĥ_tᴴ (Nt×Nt, Hermitian PSD; note: the
    /// plain sum, not divided by |S|).
    PerUser(Array2<c64>),
}

impl Leakage {
    /// The Nt×Nt leakage matrix of either model.
    pub fn matrix(&self) -> &Array2<c64> {
        match self {
            Leakage::Averaged(d) | Leakage::PerUser(d) => d,
        }
    }

    /// A leakage model for `nt` antennas with no inter-cell information (D = 0).
    pub fn none(nt: usize) -> Self {
        Leakage::Averaged(Array2::zeros((nt, nt)))
    }
}

/// The sensing data of the scheduled users (SPEC §8, §10.2).
#[derive(Debug, Clone, PartialEq)]
pub struct SensingData {
    /// K×Nt, row k = a(θ̂_k), the transmit steering vector at user k's sensed angle.
    pub steering: Array2<c64>,
    /// Gκ²|β̂_k|² per user (linear, > 0).
    pub echo_gain: Vec<f64>,
    /// σz², the sensing receiver noise power (> 0).
    pub sensing_noise: f64,
    /// c̄, the threshold on the normalised error variance (> 0).
    pub threshold: f64,
    /// a_ī², the squared error scale of the constrained parameter (> 0).
    pub error_scale_sq: f64,
}

/// One BS's SALINR (or SLINR) problem; K = number of scheduled users.
#[derive(Debug, Clone, PartialEq)]
pub struct SalinrProblem {
    /// K×Nt, row k = h_k (intra-cell channel of scheduled user k).
    pub channels: Array2<c64>,
    /// Inter-cell leakage model.
    pub leakage: Leakage,
    /// PF weights w_k ≥ 0 (at least one > 0).
    pub weights: Vec<f64>,
    /// σc², the receiver noise power (> 0).
    pub noise_power: f64,
    /// P_ℓ, the BS power budget (> 0).
    pub power_budget: f64,
    /// Sensing constraints (None: no ISAC constraint, e.g. FP-SALINR).
    pub sensing: Option<SensingData>,
}

impl SalinrProblem {
    /// Number of scheduled users K.
    pub fn num_users(&self) -> usize {
        self.channels.nrows()
    }

    /// Number of transmit antennas Nt.
    pub fn num_antennas(&self) -> usize {
        self.channels.ncols()
    }

    /// Checks shapes, finiteness and domains; every solver calls it first.
    pub fn validate(&self) -> Result<(), BeamformingError> {
        let (k, nt) = self.channels.dim();
        if k == 0 || nt == 0 {
            return Err(dim_err(
                "channels",
                "K×Nt with K, Nt ≥ 1".into(),
                format!("{k}×{nt}"),
            ));
        }
        check_finite_c("channels", self.channels.iter())?;
        let d = self.leakage.matrix();
        if d.dim() != (nt, nt) {
            return Err(dim_err(
                "leakage matrix",
                format!("{nt}×{nt}"),
                format!("{:?}", d.dim()),
            ));
        }
        check_finite_c("leakage matrix", d.iter())?;
        check_hermitian("leakage matrix", d)?;
        if self.weights.len() != k {
            return Err(dim_err(
                "weights",
                format!("{k}"),
                format!("{}", self.weights.len()),
            ));
        }
        if self.weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(value_err(
                "weights",
                "finite and ≥ 0",
                format!("{:?}", self.weights),
            ));
        }
        if !self.weights.iter().any(|w| *w > 0.0) {
            return Err(value_err(
                "weights",
                "at least one > 0",
                format!("{:?}", self.weights),
            ));
        }
        check_positive("noise_power", self.noise_power)?;
        check_positive("power_budget", self.power_budget)?;
        if let Some(s) = &self.sensing {
            if s.steering.dim() != (k, nt) {
                return Err(dim_err(
                    "sensing steering vectors",
                    format!("{k}×{nt}"),
                    format!("{:?}", s.steering.dim()),
                ));
            }
            check_finite_c("sensing steering vectors", s.steering.iter())?;
            if s.echo_gain.len() != k {
                return Err(dim_err(
                    "echo_gain",
                    format!("{k}"),
                    format!("{}", s.echo_gain.len()),
                ));
            }
            if s.echo_gain.iter().any(|g| !g.is_finite() || *g <= 0.0) {
                return Err(value_err(
                    "echo_gain",
                    "finite and > 0",
                    format!("{:?}", s.echo_gain),
                ));
            }
            for r in 0..k {
                let n2: f64 = s.steering.row(r).iter().map(|x| x.norm_sqr()).sum();
                if n2 <= 0.0 {
                    return Err(value_err(
                        "sensing steering vector",
                        "non-zero",
                        format!("row {r} is zero"),
                    ));
                }
            }
            check_positive("sensing_noise", s.sensing_noise)?;
            check_positive("threshold", s.threshold)?;
            check_positive("error_scale_sq", s.error_scale_sq)?;
        }
        Ok(())
    }
}

fn check_positive(what: &'static str, x: f64) -> Result<(), BeamformingError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(value_err(what, "finite and > 0", format!("{x}")))
    }
}

pub(crate) fn check_finite_c<'a>(
    what: &'static str,
    mut it: impl Iterator<Item = &'a c64>,
) -> Result<(), BeamformingError> {
    match it.find(|x| !(x.re.is_finite() && x.im.is_finite())) {
        None => Ok(()),
        Some(x) => Err(value_err(what, "finite complex entries", format!("{x}"))),
    }
}

fn check_hermitian(what: &'static str, d: &Array2<c64>) -> Result<(), BeamformingError> {
    let n = d.nrows();
    let scale = d.iter().map(|x| x.norm()).fold(0.0, f64::max);
    for i in 0..n {
        for j in 0..=i {
            if (d[[i, j]] - d[[j, i]].conj()).norm() > 1e-9 * scale {
                return Err(value_err(
                    what,
                    "Hermitian",
                    format!("entry ({i},{j}) ≠ conj of ({j},{i})"),
                ));
            }
        }
    }
    Ok(())
}
