//! Backhaul messages between BS agents (SPEC §7 step 3, §12), encoded to bytes
//! and counted.
//!
//! Encodings (all little-endian):
//!
//! ```text
//! LocationMessage  = sender u16 | count u16 | count × (x f32, y f32)          → 4 + 8·n bytes
//! CsiMessage       = sender u16 | count u16 | nt u16 | count × nt × (re f32, im f32)
//!                                                                         → 6 + 8·n·Nt bytes
//! BeamsMessage     = same layout as CsiMessage (central unit → BS)
//! ```
//!
//! Locations are metres in the common plane frame; f32 keeps them to ~10 µm
//! over a few hundred metres, far below any sensing error. Channels and beams
//! are complex64 (f32 re/im). The epoch is implicit: the scenario's backhaul
//! delay Td is shorter than the epoch ΔT (validated), so a message sent in
//! epoch n is delivered, decoded, in epoch n, Td after it was sent, before the
//! receiver beamforms.
//!
//! What each scheme sends per epoch (bytes per BS, L BSs, |S_m| scheduled):
//! - SD-USCB: its locations to each of the L−1 others: (L−1)(4 + 8|S_m|).
//! - FP-SALINR (perfect CSI): to each other BS ℓ the channels h_{ℓ,t} of its
//!   own scheduled users t (which they fed back): (L−1)(6 + 8|S_m|Nt).
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

/// The locations of a BS's scheduled users.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationMessage {
    pub sender: u16,
    pub locations: Vec<Point>,
}

impl LocationMessage {
    pub fn encoded_len(n: usize) -> usize {
        4 + 8 * n
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::encoded_len(self.locations.len()));
        out.extend_from_slice(&self.sender.to_le_bytes());
        out.extend_from_slice(&(self.locations.len() as u16).to_le_bytes());
        for p in &self.locations {
            out.extend_from_slice(&(p.x as f32).to_le_bytes());
            out.extend_from_slice(&(p.y as f32).to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < 4 {
            return Err(DecodeError::Header(bytes.len()));
        }
        let sender = u16::from_le_bytes([bytes[0], bytes[1]]);
        let n = u16::from_le_bytes([bytes[2], bytes[3]]) as usize;
        if bytes.len() != Self::encoded_len(n) {
            return Err(DecodeError::Length {
                expected: Self::encoded_len(n),
                found: bytes.len(),
            });
        }
        let f = |i: usize| f32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes")) as f64;
        let locations = (0..n)
            .map(|k| Point::new(f(4 + 8 * k), f(8 + 8 * k)))
            .collect();
        Ok(Self { sender, locations })
    }
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
        let m = LocationMessage {
            sender: 2,
            locations: vec![Point::new(1.5, -2.25), Point::new(100.125, 50.0)],
        };
        let b = m.encode();
        assert_eq!(b.len(), 4 + 8 * 2);
        assert_eq!(&b[0..4], &[2, 0, 2, 0]);
        assert_eq!(&b[4..8], &1.5f32.to_le_bytes());
        assert_eq!(&b[8..12], &(-2.25f32).to_le_bytes());
        assert_eq!(LocationMessage::decode(&b).unwrap(), m);
        assert!(LocationMessage::decode(&b[..b.len() - 1]).is_err());
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
