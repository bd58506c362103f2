//! Encoding a [`Ckm`] to the bytes of the file (layout in the module docs
//! of [`super`]).

use super::{Ckm, CkmHeader, FORMAT_VERSION, MAGIC};

/// The file's bytes: magic, version, header, body, checksum.
pub(super) fn encode(ckm: &Ckm) -> Vec<u8> {
    let head = encode_header(&ckm.header);
    let raw = encode_body(ckm);
    let body = zstd::bulk::compress(&raw, 9).expect("zstd compresses an in-memory buffer");

    let mut out = Vec::with_capacity(40 + head.len() + body.len());
    out.extend_from_slice(&MAGIC);
    put_u32(&mut out, FORMAT_VERSION);
    put_u32(&mut out, head.len() as u32);
    out.extend_from_slice(&head);
    put_u64(&mut out, raw.len() as u64);
    put_u64(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    let crc = crc32fast::hash(&out);
    put_u32(&mut out, crc);
    out
}

/// The header block: fixed fields, bin angles, strings, provenance.
fn encode_header(h: &CkmHeader) -> Vec<u8> {
    let mut head = Vec::new();
    put_u32(&mut head, h.bs_id);
    put_f64(&mut head, h.bs_x_m);
    put_f64(&mut head, h.bs_y_m);
    put_f64(&mut head, h.broadside_rad);
    put_u32(&mut head, h.tx_antennas);
    put_f64(&mut head, h.origin_x_m);
    put_f64(&mut head, h.origin_y_m);
    put_f64(&mut head, h.cell_m);
    put_u32(&mut head, h.nx);
    put_u32(&mut head, h.ny);
    put_u32(&mut head, h.max_paths);
    put_u32(&mut head, h.beams);
    put_f64(&mut head, h.tx_power_w);
    put_f64(&mut head, h.noise_floor_w);
    put_u32(&mut head, h.bin_angles_rad.len() as u32);
    for &t in &h.bin_angles_rad {
        put_f64(&mut head, t);
    }
    for s in [
        &h.scenario_hash,
        &h.scenario_name,
        &h.codebook,
        &h.tool_version,
    ] {
        put_str(&mut head, s);
    }
    put_u32(&mut head, h.provenance.len() as u32);
    for (k, v) in &h.provenance {
        put_str(&mut head, k);
        put_str(&mut head, v);
    }
    head
}

/// The uncompressed body: states, counts, then every path's bin, then every
/// path's power.
fn encode_body(ckm: &Ckm) -> Vec<u8> {
    let total: usize = ckm.counts.iter().map(|&c| c as usize).sum();
    let mut raw = Vec::with_capacity(2 * ckm.num_cells() + 12 * total);
    raw.extend(ckm.states.iter().map(|&s| s as u8));
    raw.extend_from_slice(&ckm.counts);
    for c in 0..ckm.num_cells() {
        for p in ckm.paths(c) {
            put_u32(&mut raw, p.bin);
        }
    }
    for c in 0..ckm.num_cells() {
        for p in ckm.paths(c) {
            put_f64(&mut raw, p.power);
        }
    }
    raw
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}
