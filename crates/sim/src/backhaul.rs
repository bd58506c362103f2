//! Backhaul messages between BS agents (SPEC §7 step 3, §12), encoded to bytes
//! and counted.
//!
//! Encodings (all little-endian):
//!
//! ```text
//! LocationMessage  = sender u16 | count u16 | count × (x f32, y f32)          → 4 + 8·n bytes
//!   with covariances (leakage=robust; bit 15 of count set):
//!                    sender u16 | count|0x8000 u16 | count × (x f32, y f32, s1 u8, s2 u8, φ u8)
//!                                                                         → 4 + 11·n bytes
//! CsiMessage       = sender u16 | count u16 | nt u16 | count × nt × (re f32, im f32)
//!                                                                         → 6 + 8·n·Nt bytes
//! BeamsMessage     = same layout as CsiMessage (central unit → BS)
//! ```
//!
//! A location's covariance Σ = R(φ) diag(σ₁², σ₂²) R(φ)ᵀ travels as its
//! principal standard deviations, log-quantised over [1 mm, 1 km]
//! (s = round(255·(log₁₀σ + 3)/6), 2.7 % steps; clamped at the ends), and the
//! orientation φ ∈ [0, π) of the first axis in 256 steps (0.7°): 3 bytes, so a
//! location costs 11 bytes instead of 8.
//!
//! Locations are metres in the common plane frame; f32 keeps them to ~10 µm
//! over a few hundred metres, far below any sensing error. Channels and beams
//! are complex64 (f32 re/im). The epoch is implicit: the scenario's backhaul
//! delay Td is shorter than the epoch ΔT (validated), so a message sent in
//! epoch n is delivered, decoded, in epoch n, Td after it was sent, before the
//! receiver beamforms.
//!
//! What each scheme sends per epoch (bytes per BS, L BSs, |S_m| scheduled,
//! K_m the BSs that coordinate with m — every other BS, K_m = L−1, unless
//! `[coordination]` limits them, SPEC §14.3):
//! - SD-USCB: its locations to each of the K_m: K_m(4 + 8|S_m|);
//!   with `leakage=robust` (SD-USCB-robust) K_m(4 + 11|S_m|).
//! - FP-SALINR (perfect CSI): to each of the K_m BSs ℓ the channels h_{ℓ,t}
//!   of its own scheduled users t (which they fed back): K_m(6 + 8|S_m|Nt).
//! - CWMMSE: to the central unit the channels from every BS to its scheduled
//!   users, 6 + 8|S_m|·L·Nt, and back the beams, 6 + 8|S_m|Nt (counted as
//!   received).
//! - PWMMSE: nothing.

use sdusc_model::C64;
use sdusc_model::geometry::Point;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("backhaul message is {found} bytes; its header announces {expected}")]
    Length { expected: usize, found: usize },
    #[error("backhaul message shorter than its header ({0} bytes)")]
    Header(usize),
}

/// The locations of a BS's scheduled users, optionally with their covariances.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationMessage {
    pub sender: u16,
    pub locations: Vec<Point>,
    /// Per location [xx, xy, yy], m² (`leakage=robust`); as decoded, quantised.
    pub covariances: Option<Vec<[f64; 3]>>,
}

const WITH_COVARIANCE: u16 = 0x8000;

impl LocationMessage {
    /// Bytes of a message with `n` locations (`with_covariance`: 3 more each).
    pub fn encoded_len(n: usize, with_covariance: bool) -> usize {
        4 + if with_covariance { 11 } else { 8 } * n
    }

    /// Encode; at most 32 767 locations.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.locations.len();
        debug_assert!(n < WITH_COVARIANCE as usize);
        let mut out = Vec::with_capacity(Self::encoded_len(n, self.covariances.is_some()));
        out.extend_from_slice(&self.sender.to_le_bytes());
        let count = n as u16 | self.covariances.as_ref().map_or(0, |_| WITH_COVARIANCE);
        out.extend_from_slice(&count.to_le_bytes());
        for (k, p) in self.locations.iter().enumerate() {
            out.extend_from_slice(&(p.x as f32).to_le_bytes());
            out.extend_from_slice(&(p.y as f32).to_le_bytes());
            if let Some(c) = &self.covariances {
                out.extend_from_slice(&quantise_covariance(c[k]));
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < 4 {
            return Err(DecodeError::Header(bytes.len()));
        }
        let sender = u16::from_le_bytes([bytes[0], bytes[1]]);
        let count = u16::from_le_bytes([bytes[2], bytes[3]]);
        let with_cov = count & WITH_COVARIANCE != 0;
        let n = (count & !WITH_COVARIANCE) as usize;
        let expected = Self::encoded_len(n, with_cov);
        if bytes.len() != expected {
            return Err(DecodeError::Length {
                expected,
                found: bytes.len(),
            });
        }
        let stride = if with_cov { 11 } else { 8 };
        let f = |i: usize| f32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes")) as f64;
        let locations = (0..n)
            .map(|k| Point::new(f(4 + stride * k), f(8 + stride * k)))
            .collect();
        let covariances = with_cov.then(|| {
            (0..n)
                .map(|k| {
                    let at = 12 + stride * k;
                    dequantise_covariance([bytes[at], bytes[at + 1], bytes[at + 2]])
                })
                .collect()
        });
        Ok(Self {
            sender,
            locations,
            covariances,
        })
    }
}

/// σ ↔ u8 on a log scale over [1 mm, 1 km].
fn quantise_sigma(sigma: f64) -> u8 {
    if sigma.is_nan() || sigma <= 1e-3 {
        return 0;
    }
    (255.0 * (sigma.log10() + 3.0) / 6.0)
        .round()
        .clamp(0.0, 255.0) as u8
}

fn dequantise_sigma(q: u8) -> f64 {
    10f64.powf(6.0 * q as f64 / 255.0 - 3.0)
}

/// [xx, xy, yy] → (s₁, s₂, φ) bytes (module docs).
pub fn quantise_covariance([a, b, c]: [f64; 3]) -> [u8; 3] {
    let mean = 0.5 * (a + c);
    let radius = (0.25 * (a - c).powi(2) + b * b).sqrt();
    let (l1, l2) = ((mean + radius).max(0.0), (mean - radius).max(0.0));
    let phi = (0.5 * (2.0 * b).atan2(a - c)).rem_euclid(std::f64::consts::PI);
    let q_phi = ((phi / std::f64::consts::PI * 256.0).round() as u32 % 256) as u8;
    [quantise_sigma(l1.sqrt()), quantise_sigma(l2.sqrt()), q_phi]
}

/// (s₁, s₂, φ) bytes → [xx, xy, yy].
pub fn dequantise_covariance([s1, s2, q_phi]: [u8; 3]) -> [f64; 3] {
    let (l1, l2) = (dequantise_sigma(s1).powi(2), dequantise_sigma(s2).powi(2));
    let phi = q_phi as f64 / 256.0 * std::f64::consts::PI;
    let (cs, sn) = (phi.cos(), phi.sin());
    [
        l1 * cs * cs + l2 * sn * sn,
        (l1 - l2) * cs * sn,
        l1 * sn * sn + l2 * cs * cs,
    ]
}

/// A list of complex vectors (channels or beams), all of length Nt.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorsMessage {
    pub sender: u16,
    pub nt: u16,
    pub vectors: Vec<Vec<C64>>,
}

impl VectorsMessage {
    pub fn encoded_len(n: usize, nt: usize) -> usize {
        6 + 8 * n * nt
    }

    pub fn encode(&self) -> Vec<u8> {
        let nt = self.nt as usize;
        let mut out = Vec::with_capacity(Self::encoded_len(self.vectors.len(), nt));
        out.extend_from_slice(&self.sender.to_le_bytes());
        out.extend_from_slice(&(self.vectors.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.nt.to_le_bytes());
        for v in &self.vectors {
            debug_assert_eq!(v.len(), nt);
            for z in v {
                out.extend_from_slice(&(z.re as f32).to_le_bytes());
                out.extend_from_slice(&(z.im as f32).to_le_bytes());
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < 6 {
            return Err(DecodeError::Header(bytes.len()));
        }
        let sender = u16::from_le_bytes([bytes[0], bytes[1]]);
        let n = u16::from_le_bytes([bytes[2], bytes[3]]) as usize;
        let nt = u16::from_le_bytes([bytes[4], bytes[5]]);
        let expected = Self::encoded_len(n, nt as usize);
        if bytes.len() != expected {
            return Err(DecodeError::Length {
                expected,
                found: bytes.len(),
            });
        }
        let f = |i: usize| f32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes")) as f64;
        let vectors = (0..n)
            .map(|k| {
                (0..nt as usize)
                    .map(|i| {
                        let at = 6 + 8 * (k * nt as usize + i);
                        C64::new(f(at), f(at + 4))
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            sender,
            nt,
            vectors,
        })
    }
}

/// What an agent received in one epoch (decoded).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inbox {
    /// Locations of the other BSs' scheduled users.
    pub locations: Vec<LocationMessage>,
    /// Perfect-CSI schemes: this BS's channels to the other BSs' scheduled users.
    pub channels: Vec<VectorsMessage>,
    /// Bytes received this epoch.
    pub rx_bytes: u64,
}

/// Deliver encoded messages: `outgoing[s]` is the list of (destination, bytes)
/// that BS `s` sends. Returns each BS's inbox and the bytes each BS sent.
pub fn deliver(
    outgoing: &[Vec<(usize, Payload)>],
    num_bs: usize,
) -> Result<(Vec<Inbox>, Vec<u64>), DecodeError> {
    let mut inboxes = vec![Inbox::default(); num_bs];
    let mut tx = vec![0u64; num_bs];
    for (sender, msgs) in outgoing.iter().enumerate() {
        for (dest, payload) in msgs {
            let (bytes, len) = match payload {
                Payload::Locations(b) => (b, b.len()),
                Payload::Channels(b) => (b, b.len()),
            };
            tx[sender] += len as u64;
            let inbox = &mut inboxes[*dest];
            inbox.rx_bytes += len as u64;
            match payload {
                Payload::Locations(_) => inbox.locations.push(LocationMessage::decode(bytes)?),
                Payload::Channels(_) => inbox.channels.push(VectorsMessage::decode(bytes)?),
            }
        }
    }
    Ok((inboxes, tx))
}

/// An encoded message on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Locations(Vec<u8>),
    Channels(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_bytes_are_exactly_the_stated_encoding() {
        let mut m = LocationMessage {
            sender: 2,
            locations: vec![Point::new(1.5, -2.25), Point::new(100.125, 50.0)],
            covariances: None,
        };
        let b = m.encode();
        assert_eq!(b.len(), 4 + 8 * 2);
        assert_eq!(&b[0..4], &[2, 0, 2, 0]);
        assert_eq!(&b[4..8], &1.5f32.to_le_bytes());
        assert_eq!(&b[8..12], &(-2.25f32).to_le_bytes());
        assert_eq!(LocationMessage::decode(&b).unwrap(), m);
        assert!(LocationMessage::decode(&b[..b.len() - 1]).is_err());
        // With covariances: 11 bytes a location, bit 15 of the count set.
        m.covariances = Some(vec![[0.25, 0.0, 0.01], [4.0, -1.5, 2.0]]);
        let b = m.encode();
        assert_eq!(b.len(), 4 + 11 * 2);
        assert_eq!(b.len(), LocationMessage::encoded_len(2, true));
        assert_eq!(&b[0..4], &[2, 0, 2, 0x80]);
        assert_eq!(&b[4..8], &1.5f32.to_le_bytes());
        assert_eq!(&b[15..19], &100.125f32.to_le_bytes());
        // σ₁ = 0.5 m → round(255·(log₁₀ 0.5 + 3)/6) = 115; σ₂ = 0.1 m → 85; φ = 0.
        assert_eq!(&b[12..15], &[115, 85, 0]);
        let d = LocationMessage::decode(&b).unwrap();
        assert_eq!(d.locations, m.locations);
        for (got, want) in d.covariances.unwrap().iter().zip(m.covariances.unwrap()) {
            for i in 0..3 {
                let scale = want[0].max(want[2]);
                assert!(
                    (got[i] - want[i]).abs() <= 0.06 * scale,
                    "{got:?} vs {want:?}"
                );
            }
        }
        assert!(LocationMessage::decode(&b[..b.len() - 3]).is_err());
        // Hostile covariances still encode to something finite.
        let q = dequantise_covariance(quantise_covariance([f64::NAN, 0.0, -1.0]));
        assert!(q.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn vectors_round_trip_at_f32_precision() {
        let m = VectorsMessage {
            sender: 1,
            nt: 3,
            vectors: vec![vec![
                C64::new(0.5, -0.25),
                C64::new(1.0, 2.0),
                C64::new(0.0, 0.125),
            ]],
        };
        let b = m.encode();
        assert_eq!(b.len(), VectorsMessage::encoded_len(1, 3));
        assert_eq!(VectorsMessage::decode(&b).unwrap(), m);
    }

    #[test]
    fn delivery_counts_bytes_both_ways() {
        let loc = |s| {
            Payload::Locations(
                LocationMessage {
                    sender: s,
                    locations: vec![Point::new(0.0, 0.0)],
                    covariances: None,
                }
                .encode(),
            )
        };
        let out = vec![
            vec![(1, loc(0)), (2, loc(0))],
            vec![(0, loc(1)), (2, loc(1))],
            vec![],
        ];
        let (inboxes, tx) = deliver(&out, 3).unwrap();
        assert_eq!(tx, vec![24, 24, 0]);
        assert_eq!(inboxes[2].rx_bytes, 24);
        assert_eq!(inboxes[2].locations.len(), 2);
        assert_eq!(inboxes[0].rx_bytes, 12);
    }
}
