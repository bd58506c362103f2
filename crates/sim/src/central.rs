//! The central unit of CWMMSE (SPEC §9): it decodes every BS's upload of
//! the channels from all BSs to its scheduled users, solves the network's
//! WMMSE, and sends each BS its beams back.

use ndarray::{Array2, Array3};
use sdusc_beamforming::wmmse::{self, NetworkProblem, WmmseParams};
use sdusc_model::C64;

use crate::agent::{BeamOutcome, Plan, SolveDiagnostics};
use crate::backhaul::VectorsMessage;
use crate::error::{AgentError, SimError, WorldError};

/// The central unit of CWMMSE: decode the uploads, solve, send beams back.
#[allow(clippy::too_many_arguments)]
pub(crate) fn central_wmmse(
    plans: &[Plan],
    l: usize,
    nt: usize,
    noise_w: f64,
    power_w: f64,
    params: &WmmseParams,
    tx: &mut [u64],
    rx: &mut [u64],
) -> Result<Vec<BeamOutcome>, SimError> {
    let mut channels: Vec<Vec<Vec<C64>>> = Vec::new(); // [user][bs]
    let mut serving = Vec::new();
    let mut weights = Vec::new();
    for (b, p) in plans.iter().enumerate() {
        let (bytes, w) = p
            .central_upload
            .as_ref()
            .ok_or_else(|| AgentError::NoUpload.at(b))?;
        tx[b] += bytes.len() as u64 + 4 * w.len() as u64;
        let msg = VectorsMessage::decode(bytes)?;
        for (k, chunk) in msg.vectors.chunks(l).enumerate() {
            channels.push(chunk.to_vec());
            serving.push(b);
            weights.push(w[k]);
        }
    }
    let k = serving.len();
    let start = std::time::Instant::now();
    let (beams, info) = if k == 0 {
        (Array2::zeros((0, nt)), None)
    } else {
        let problem = NetworkProblem {
            channels: Array3::from_shape_fn((l, k, nt), |(m, u, i)| channels[u][m][i]),
            serving: serving.clone(),
            weights,
            noise_power: noise_w,
            power_budgets: vec![power_w; l],
        };
        let (beams, info) = wmmse::cwmmse(&problem, params).map_err(WorldError::Cwmmse)?;
        (beams, Some(info))
    };
    let elapsed = start.elapsed().as_secs_f64() / l as f64;
    let mut outcomes = Vec::with_capacity(l);
    for b in 0..l {
        let rows: Vec<usize> = (0..k).filter(|&u| serving[u] == b).collect();
        let mine = Array2::from_shape_fn((rows.len(), nt), |(i, j)| beams[(rows[i], j)]);
        let down = VectorsMessage {
            sender: u16::MAX,
            nt: nt as u16,
            vectors: mine.rows().into_iter().map(|r| r.to_vec()).collect(),
        }
        .encode();
        rx[b] += down.len() as u64;
        // The BS transmits what it decoded (complex64 precision).
        let decoded = VectorsMessage::decode(&down)?;
        let beams_b = Array2::from_shape_fn((rows.len(), nt), |(i, j)| decoded.vectors[i][j]);
        outcomes.push(BeamOutcome {
            beams: beams_b,
            outer_iterations: info.as_ref().map_or(0, |i| i.iterations as u32),
            inner_iterations: 0,
            objective: info.as_ref().map_or(0.0, |i| i.true_weighted_sum_rate),
            relaxed: Vec::new(),
            constraint_ratio: vec![None; rows.len()],
            diagnostics: info.as_ref().map(|i| SolveDiagnostics {
                converged: i.converged,
                inner_converged: None,
                power_residual: None,
                sensing_residual: None,
            }),
            elapsed_s: elapsed,
            ckm_query_s: 0.0,
            solve_s: elapsed,
        });
    }
    Ok(outcomes)
}
