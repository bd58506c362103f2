//! Decoding and validating the bytes of a CKM file: identity, framing,
//! integrity, then header and body, every size checked against the hard
//! limits before anything it implies is allocated (module docs of [`super`]).

use std::io::Read;
use std::path::Path;

use super::{
    ApsPath, CELL_M_RANGE, CellState, Ckm, CkmFileError, CkmHeader, FORMAT_VERSION, MAGIC,
    MAX_ANTENNAS, MAX_BEAMS, MAX_BINS, MAX_CELLS, MAX_COORD_M, MAX_HEADER, MAX_PATHS,
    MAX_PROVENANCE, MAX_SLOTS, MAX_STRING,
};

/// A bounds-checked little-endian cursor; every read that would run past the
/// end is a `Truncated` error naming the field.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], CkmFileError> {
        let available = (self.bytes.len() - self.pos) as u64;
        if n > available {
            return Err(CkmFileError::Truncated {
                path: self.path.to_path_buf(),
                what,
                needed: n,
                available,
            });
        }
        let s = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, CkmFileError> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, CkmFileError> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    fn f64(&mut self, what: &'static str) -> Result<f64, CkmFileError> {
        Ok(f64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    fn string(&mut self, what: &'static str) -> Result<String, CkmFileError> {
        let n = self.u32(what)?;
        if n > MAX_STRING {
            return Err(invalid(
                self.path,
                format!("{what} claims {n} bytes (limit {MAX_STRING})"),
            ));
        }
        let s = self.take(n as u64, what)?;
        String::from_utf8(s.to_vec())
            .map_err(|_| invalid(self.path, format!("{what} is not UTF-8")))
    }
}

fn invalid(path: &Path, message: impl Into<String>) -> CkmFileError {
    CkmFileError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The header's numeric fields, checked together by [`check_header_values`].
struct HeaderValues<'a> {
    bs_x_m: f64,
    bs_y_m: f64,
    broadside_rad: f64,
    tx_antennas: u32,
    origin_x_m: f64,
    origin_y_m: f64,
    cell_m: f64,
    nx: u32,
    ny: u32,
    beams: u32,
    tx_power_w: f64,
    noise_floor_w: f64,
    bin_angles_rad: &'a [f64],
}

/// Every numeric header field finite, in range and consistent with the
/// others; the error names the field, its value and the expected form.
fn check_header_values(path: &Path, v: &HeaderValues) -> Result<(), CkmFileError> {
    let coord = |x: f64| x.is_finite() && x.abs() <= MAX_COORD_M;
    let (cmin, cmax) = CELL_M_RANGE;
    let far_x = v.origin_x_m + v.nx as f64 * v.cell_m;
    let far_y = v.origin_y_m + v.ny as f64 * v.cell_m;
    let pi = std::f64::consts::PI;
    let checks = [
        (
            coord(v.bs_x_m),
            "bs_x_m",
            v.bs_x_m.to_string(),
            format!("finite, within ±{MAX_COORD_M} m"),
        ),
        (
            coord(v.bs_y_m),
            "bs_y_m",
            v.bs_y_m.to_string(),
            format!("finite, within ±{MAX_COORD_M} m"),
        ),
        (
            v.broadside_rad.is_finite() && v.broadside_rad.abs() <= std::f64::consts::TAU + 1e-9,
            "broadside_rad",
            v.broadside_rad.to_string(),
            "finite, within [−2π, 2π] rad".to_string(),
        ),
        (
            (1..=MAX_ANTENNAS).contains(&v.tx_antennas),
            "tx_antennas",
            v.tx_antennas.to_string(),
            format!("1…{MAX_ANTENNAS}"),
        ),
        (
            coord(v.origin_x_m),
            "origin_x_m",
            v.origin_x_m.to_string(),
            format!("finite, within ±{MAX_COORD_M} m"),
        ),
        (
            coord(v.origin_y_m),
            "origin_y_m",
            v.origin_y_m.to_string(),
            format!("finite, within ±{MAX_COORD_M} m"),
        ),
        (
            v.cell_m.is_finite() && (cmin..=cmax).contains(&v.cell_m),
            "cell_m",
            v.cell_m.to_string(),
            format!("finite, {cmin}…{cmax} m"),
        ),
        (
            coord(far_x) && coord(far_y),
            "grid extent",
            format!(
                "origin ({}, {}) + {}×{} cells of {} m reaches ({far_x}, {far_y})",
                v.origin_x_m, v.origin_y_m, v.nx, v.ny, v.cell_m
            ),
            format!("a grid within ±{MAX_COORD_M} m"),
        ),
        (
            (1..=MAX_BEAMS).contains(&v.beams),
            "beams",
            v.beams.to_string(),
            format!("1…{MAX_BEAMS}"),
        ),
        (
            v.tx_power_w.is_finite() && v.tx_power_w > 0.0,
            "tx_power_w",
            v.tx_power_w.to_string(),
            "finite, > 0 W".to_string(),
        ),
        (
            v.noise_floor_w.is_finite() && v.noise_floor_w >= 0.0,
            "noise_floor_w",
            v.noise_floor_w.to_string(),
            "finite, ≥ 0 W".to_string(),
        ),
    ];
    for (ok, field, found, expected) in checks {
        if !ok {
            return Err(invalid(
                path,
                format!("header field `{field}` is {found} (expected {expected})"),
            ));
        }
    }
    let bins = v.bin_angles_rad;
    if let Some(i) = bins.iter().position(|t| !(t.is_finite() && t.abs() <= pi)) {
        return Err(invalid(
            path,
            format!(
                "header field `bin_angles_rad[{i}]` is {} (expected finite, within [−π, π] rad)",
                bins[i]
            ),
        ));
    }
    if let Some(i) = bins.windows(2).position(|w| w[1] <= w[0]) {
        return Err(invalid(
            path,
            format!(
                "header field `bin_angles_rad[{}]` is {} after {} (expected strictly increasing bin centres)",
                i + 1,
                bins[i + 1],
                bins[i]
            ),
        ));
    }
    Ok(())
}

/// Decode and validate the bytes of a CKM file; `path` only names the file
/// in errors.
pub(super) fn decode(bytes: &[u8], path: &Path) -> Result<Ckm, CkmFileError> {
    let frame = read_frame(bytes, path)?;
    let header = decode_header(frame.head, path)?;
    decode_body(header, frame.rawlen, frame.body, path)
}

/// The framed parts of a file whose identity, lengths and checksum are good.
struct Frame<'a> {
    head: &'a [u8],
    /// Declared length of the uncompressed body.
    rawlen: u64,
    /// The compressed body.
    body: &'a [u8],
}

/// STEPS 1–3: identity, framing, integrity.
fn read_frame<'a>(bytes: &'a [u8], path: &'a Path) -> Result<Frame<'a>, CkmFileError> {
    let mut cur = Cursor {
        bytes,
        pos: 0,
        path,
    };
    // STEP 1: identity (magic, version), so a foreign file gets the right message.
    check_identity(&mut cur)?;

    // STEP 2: framing: every declared length must fit in the file.
    let hlen = cur.u32("header length")?;
    if hlen > MAX_HEADER {
        return Err(invalid(
            path,
            format!("header claims {hlen} bytes (limit {MAX_HEADER})"),
        ));
    }
    let head = cur.take(hlen as u64, "header")?;
    let rawlen = cur.u64("body length")?;
    let zlen = cur.u64("compressed body length")?;
    let body = cur.take(zlen, "compressed body")?;
    let crc_at = cur.pos;
    let stored = cur.u32("checksum")?;
    if cur.pos != bytes.len() {
        return Err(invalid(
            path,
            format!(
                "{} unexpected bytes after the checksum",
                bytes.len() - cur.pos
            ),
        ));
    }

    // STEP 3: integrity.
    let computed = crc32fast::hash(&bytes[..crc_at]);
    if stored != computed {
        return Err(CkmFileError::Checksum {
            path: path.to_path_buf(),
            stored,
            computed,
        });
    }
    Ok(Frame { head, rawlen, body })
}

/// The magic and the format version, read from the start of the file.
fn check_identity(cur: &mut Cursor) -> Result<(), CkmFileError> {
    let (bytes, path) = (cur.bytes, cur.path);
    let magic = cur.take(8, "magic").map_err(|_| CkmFileError::BadMagic {
        path: path.to_path_buf(),
        found: bytes[..bytes.len().min(8)].to_vec(),
    })?;
    if magic != MAGIC {
        return Err(CkmFileError::BadMagic {
            path: path.to_path_buf(),
            found: magic.to_vec(),
        });
    }
    let version = cur.u32("version")?;
    if version != FORMAT_VERSION {
        return Err(CkmFileError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
        });
    }
    Ok(())
}

/// STEP 4: header fields, each size checked before it is used.
fn decode_header(head: &[u8], path: &Path) -> Result<CkmHeader, CkmFileError> {
    let mut h = Cursor {
        bytes: head,
        pos: 0,
        path,
    };
    let bs_id = h.u32("bs_id")?;
    let bs_x_m = h.f64("bs_x_m")?;
    let bs_y_m = h.f64("bs_y_m")?;
    let broadside_rad = h.f64("broadside_rad")?;
    let tx_antennas = h.u32("tx_antennas")?;
    let origin_x_m = h.f64("origin_x_m")?;
    let origin_y_m = h.f64("origin_y_m")?;
    let cell_m = h.f64("cell_m")?;
    let nx = h.u32("nx")?;
    let ny = h.u32("ny")?;
    let max_paths = h.u32("max_paths")?;
    let beams = h.u32("beams")?;
    let tx_power_w = h.f64("tx_power_w")?;
    let noise_floor_w = h.f64("noise_floor_w")?;
    let nbins = h.u32("bin count")?;
    // Sizes first: nothing below allocates more than they allow.
    check_sizes(path, nx, ny, max_paths, nbins)?;
    let mut bin_angles_rad = Vec::with_capacity(nbins as usize);
    for _ in 0..nbins {
        bin_angles_rad.push(h.f64("bin angles")?);
    }
    check_header_values(
        path,
        &HeaderValues {
            bs_x_m,
            bs_y_m,
            broadside_rad,
            tx_antennas,
            origin_x_m,
            origin_y_m,
            cell_m,
            nx,
            ny,
            beams,
            tx_power_w,
            noise_floor_w,
            bin_angles_rad: &bin_angles_rad,
        },
    )?;
    let scenario_hash = h.string("scenario_hash")?;
    let scenario_name = h.string("scenario_name")?;
    let codebook = h.string("codebook")?;
    let tool_version = h.string("tool_version")?;
    let provenance = read_provenance(&mut h)?;
    if h.pos != head.len() {
        return Err(invalid(
            path,
            format!(
                "{} unexpected bytes at the end of the header",
                head.len() - h.pos
            ),
        ));
    }
    Ok(CkmHeader {
        bs_id,
        bs_x_m,
        bs_y_m,
        broadside_rad,
        tx_antennas,
        origin_x_m,
        origin_y_m,
        cell_m,
        nx,
        ny,
        max_paths,
        bin_angles_rad,
        beams,
        tx_power_w,
        noise_floor_w,
        scenario_hash,
        scenario_name,
        codebook,
        tool_version,
        provenance,
    })
}

/// The sizes that bound every allocation: grid, paths per cell, path slots,
/// angular bins.
fn check_sizes(
    path: &Path,
    nx: u32,
    ny: u32,
    max_paths: u32,
    nbins: u32,
) -> Result<(), CkmFileError> {
    let ncells = nx as u64 * ny as u64;
    let sizes = [
        (
            nx >= 1 && ny >= 1 && ncells <= MAX_CELLS,
            format!("grid {nx}×{ny} = {ncells} cells (expected 1…{MAX_CELLS} cells)"),
        ),
        (
            (1..=MAX_PATHS).contains(&max_paths),
            format!("max_paths {max_paths} (expected 1…{MAX_PATHS})"),
        ),
        (
            ncells * max_paths as u64 <= MAX_SLOTS,
            format!(
                "grid {nx}×{ny} with max_paths {max_paths} = {} path slots (limit {MAX_SLOTS})",
                ncells * max_paths as u64
            ),
        ),
        (
            (1..=MAX_BINS).contains(&nbins),
            format!("{nbins} angular bins (expected 1…{MAX_BINS})"),
        ),
    ];
    for (ok, what) in sizes {
        if !ok {
            return Err(invalid(path, what));
        }
    }
    Ok(())
}

/// The provenance list: a count (at most [`MAX_PROVENANCE`]), then key/value
/// string pairs.
fn read_provenance(h: &mut Cursor) -> Result<Vec<(String, String)>, CkmFileError> {
    let nprov = h.u32("provenance count")?;
    if nprov > MAX_PROVENANCE {
        return Err(invalid(
            h.path,
            format!("{nprov} provenance entries (limit {MAX_PROVENANCE})"),
        ));
    }
    let mut provenance = Vec::new();
    for _ in 0..nprov {
        let k = h.string("provenance key")?;
        let v = h.string("provenance value")?;
        provenance.push((k, v));
    }
    Ok(provenance)
}

/// STEP 5: body. Its size is bounded by the grid; decompression grows the
/// buffer only as real data arrives, never to a declared size up front.
fn decode_body(
    header: CkmHeader,
    rawlen: u64,
    body: &[u8],
    path: &Path,
) -> Result<Ckm, CkmFileError> {
    let ncells = header.nx as u64 * header.ny as u64;
    let max_paths = header.max_paths;
    let nbins = header.bin_angles_rad.len() as u32;
    let raw = decompress_body(body, rawlen, ncells, max_paths, path)?;
    let n = ncells as usize;
    let (states, counts, total) = cell_states_and_counts(&raw, n, max_paths, path)?;
    if rawlen != 2 * ncells + 12 * total {
        return Err(invalid(
            path,
            format!("body length {rawlen} does not match {total} paths"),
        ));
    }
    let mut ckm = Ckm::empty(header);
    ckm.states = states;
    read_paths(&raw, &counts, total, nbins, &mut ckm, path)?;
    ckm.counts = counts;
    Ok(ckm)
}

/// The uncompressed body, exactly `rawlen` bytes, which must fit a grid of
/// `ncells` cells of at most `max_paths` paths.
fn decompress_body(
    body: &[u8],
    rawlen: u64,
    ncells: u64,
    max_paths: u32,
    path: &Path,
) -> Result<Vec<u8>, CkmFileError> {
    let max_raw = ncells * (2 + 12 * max_paths as u64);
    if rawlen < 2 * ncells || rawlen > max_raw {
        return Err(invalid(
            path,
            format!(
                "body length {rawlen} does not fit a {ncells}-cell grid ({}…{max_raw} bytes)",
                2 * ncells
            ),
        ));
    }
    // At most rawlen + 1 bytes are ever decompressed: one more than declared
    // is enough to refuse a body (e.g. a zstd bomb) that is longer.
    let mut raw = Vec::new();
    zstd::stream::read::Decoder::new(body)
        .and_then(|d| d.take(rawlen + 1).read_to_end(&mut raw))
        .map_err(|e| invalid(path, format!("body does not decompress: {e}")))?;
    if raw.len() as u64 > rawlen {
        return Err(invalid(
            path,
            format!("body decompresses to more than the {rawlen} bytes the header declares"),
        ));
    }
    if raw.len() as u64 != rawlen {
        return Err(invalid(
            path,
            format!(
                "body decompresses to {} bytes, header says {rawlen}",
                raw.len()
            ),
        ));
    }
    Ok(raw)
}

/// The first 2·`n` body bytes: every cell's state and path count (only cells
/// with an estimate have paths, at most `max_paths`), and the total count.
fn cell_states_and_counts(
    raw: &[u8],
    n: usize,
    max_paths: u32,
    path: &Path,
) -> Result<(Vec<CellState>, Vec<u8>, u64), CkmFileError> {
    let mut states = Vec::with_capacity(n);
    for (c, &s) in raw[..n].iter().enumerate() {
        states.push(
            CellState::from_u8(s)
                .ok_or_else(|| invalid(path, format!("cell {c} has unknown state {s}")))?,
        );
    }
    let counts = raw[n..2 * n].to_vec();
    let mut total = 0u64;
    for (c, (&k, s)) in counts.iter().zip(&states).enumerate() {
        if k as u32 > max_paths || (k > 0 && !s.has_estimate()) {
            return Err(invalid(
                path,
                format!("cell {c} ({}) has {k} paths (max {max_paths})", s.name()),
            ));
        }
        total += k as u64;
    }
    Ok((states, counts, total))
}

/// The `total` paths' bins (u32 each, then their powers, f64 each) into the
/// slots of `ckm`, cell by cell; every bin below `nbins`, every power finite
/// and ≥ 0.
fn read_paths(
    raw: &[u8],
    counts: &[u8],
    total: u64,
    nbins: u32,
    ckm: &mut Ckm,
    path: &Path,
) -> Result<(), CkmFileError> {
    let n = counts.len();
    let bins_at = 2 * n;
    let powers_at = bins_at + 4 * total as usize;
    let np = ckm.header.max_paths as usize;
    let mut k = 0usize;
    for c in 0..n {
        for slot in 0..counts[c] as usize {
            let b = bins_at + 4 * k;
            let p = powers_at + 8 * k;
            let bin = u32::from_le_bytes(raw[b..b + 4].try_into().expect("4 bytes"));
            let power = f64::from_le_bytes(raw[p..p + 8].try_into().expect("8 bytes"));
            if bin >= nbins || !(power.is_finite() && power >= 0.0) {
                return Err(invalid(
                    path,
                    format!("cell {c} path {slot}: bin {bin} of {nbins}, power {power}"),
                ));
            }
            ckm.slots[c * np + slot] = ApsPath { bin, power };
            k += 1;
        }
    }
    Ok(())
}
