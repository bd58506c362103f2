//! The CKM file (SPEC §5.3): one channel knowledge map of one BS.
//!
//! A grid over the BS's CKM area; per grid cell a state (outside the area,
//! measured, filled from measured neighbours, or in the area without an
//! estimate) and a sparse angular power spectrum of at most Np
//! (bin, power) pairs. The header carries everything a query needs without
//! the scenario. The byte layout is specified for other readers in
//! `docs/ckm-format.md`; in short (all integers and floats little-endian):
//!
//! ```text
//! magic    8 bytes  "SDUSCCKM"
//! version  u32      FORMAT_VERSION
//! hlen     u32      length of the header block
//! header   hlen bytes (fixed fields, then length-prefixed lists and strings)
//! rawlen   u64      length of the uncompressed body
//! zlen     u64      length of the compressed body
//! body     zlen bytes, zstd frame of: states u8[ncells], counts u8[ncells],
//!          bins u32[total], powers f64[total]   (total = Σ counts)
//! crc      u32      CRC-32 (IEEE) of every byte before it
//! ```
//!
//! The reader checks the magic and version first, then that every declared
//! length fits in the file (truncation), then the checksum, then every size
//! against hard limits *before* allocating anything it implies.
//!
//! Files: `encode.rs` writes the layout, `decode.rs` reads and validates it.

use std::io::Read;
use std::path::{Path, PathBuf};

mod decode;
mod encode;

/// The file's magic bytes.
pub const MAGIC: [u8; 8] = *b"SDUSCCKM";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Limits a reader enforces before allocating (a corrupt or hostile header
/// that claims 10¹² cells is an error, not an allocation).
///
/// The decoded map holds `nx·ny·max_paths` 16-byte path slots and a body of
/// at most `nx·ny·(2 + 12·max_paths)` bytes, so `MAX_CELLS` and `MAX_SLOTS`
/// bound its memory to about 1 GiB (the paper's maps have ~10⁶ cells, Np 4).
pub const MAX_CELLS: u64 = 1 << 24;
pub const MAX_SLOTS: u64 = 1 << 25;
pub const MAX_PATHS: u32 = 64;
pub const MAX_BINS: u32 = 100_000;
pub const MAX_ANTENNAS: u32 = 65_536;
pub const MAX_BEAMS: u32 = 65_536;
/// Every coordinate (BS, grid origin, far grid corner) is within ±this, m.
pub const MAX_COORD_M: f64 = 1e7;
/// Grid cell edge range, m.
pub const CELL_M_RANGE: (f64, f64) = (1e-3, 1e5);
pub const MAX_STRING: u32 = 1 << 16;
pub const MAX_HEADER: u32 = 1 << 24;
pub const MAX_PROVENANCE: u32 = 1024;

/// Errors of reading or writing a CKM file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CkmFileError {
    /// The I/O error is part of the message (not a `source`), so a chain
    /// printer shows it once.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{path}: not a CKM file (magic bytes {found:02x?}, expected {MAGIC:02x?} = \"SDUSCCKM\")"
    )]
    BadMagic { path: PathBuf, found: Vec<u8> },
    #[error(
        "{path}: CKM format version {found} is not supported (this build reads version {FORMAT_VERSION})"
    )]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error("{path}: truncated: {what} needs {needed} bytes but the file has {available} left")]
    Truncated {
        path: PathBuf,
        what: &'static str,
        needed: u64,
        available: u64,
    },
    #[error(
        "{path}: checksum mismatch (stored {stored:08x}, computed {computed:08x}): the file is corrupt"
    )]
    Checksum {
        path: PathBuf,
        stored: u32,
        computed: u32,
    },
    #[error("{path}: invalid CKM: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// What a grid cell holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CellState {
    /// Not in the BS's CKM area; no estimate.
    Outside = 0,
    /// Measured by the drive test; APS recovered from its RSRP.
    Measured = 1,
    /// Not measured; APS copied from the nearest measured cell.
    Filled = 2,
    /// In the area but without an estimate (no measured cell to fill from).
    Empty = 3,
}

impl CellState {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Outside,
            1 => Self::Measured,
            2 => Self::Filled,
            3 => Self::Empty,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Outside => "outside",
            Self::Measured => "measured",
            Self::Filled => "filled",
            Self::Empty => "empty",
        }
    }

    /// Does the cell carry an APS estimate?
    pub fn has_estimate(self) -> bool {
        matches!(self, Self::Measured | Self::Filled)
    }
}

/// One recovered path: angular bin (0-based index into the header's bins)
/// and its expected power ᾱ (linear, the channel's power gain).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApsPath {
    pub bin: u32,
    pub power: f64,
}

impl ApsPath {
    pub const NONE: ApsPath = ApsPath { bin: 0, power: 0.0 };
}

/// The self-describing header.
#[derive(Debug, Clone, PartialEq)]
pub struct CkmHeader {
    pub bs_id: u32,
    /// BS (array) position, m.
    pub bs_x_m: f64,
    pub bs_y_m: f64,
    /// Broadside azimuth of the transmit ULA, rad counter-clockwise from +x.
    pub broadside_rad: f64,
    /// Nt, half-wavelength ULA elements.
    pub tx_antennas: u32,
    /// South-west corner of cell (0, 0), m.
    pub origin_x_m: f64,
    pub origin_y_m: f64,
    /// Grid cell edge, m.
    pub cell_m: f64,
    pub nx: u32,
    pub ny: u32,
    /// Np, the most paths per cell.
    pub max_paths: u32,
    /// Angular bin centres θ_1…θ_Nθ, rad from broadside.
    pub bin_angles_rad: Vec<f64>,
    /// Nb, beams of the codebook the RSRP was measured with.
    pub beams: u32,
    /// P_T used in the dictionary, W.
    pub tx_power_w: f64,
    /// Noise floor subtracted from the RSRP before recovery, W (0: none).
    pub noise_floor_w: f64,
    /// SHA-256 (hex) of the world sections ([network], [channel], [ckm]) of
    /// the scenario the CKM was built for (`Scenario::world_hash`).
    pub scenario_hash: String,
    pub scenario_name: String,
    /// Where the codebook came from: `dft` or `npy:<file name>:<sha256>`.
    pub codebook: String,
    pub tool_version: String,
    /// Further facts (e.g. the RSRP file's provenance), sorted by key.
    pub provenance: Vec<(String, String)>,
}

impl CkmHeader {
    pub fn num_cells(&self) -> usize {
        self.nx as usize * self.ny as usize
    }

    /// Centre of cell (ix, iy), m.
    pub fn cell_centre(&self, ix: usize, iy: usize) -> (f64, f64) {
        (
            self.origin_x_m + (ix as f64 + 0.5) * self.cell_m,
            self.origin_y_m + (iy as f64 + 0.5) * self.cell_m,
        )
    }
}

/// A channel knowledge map: header plus per-cell state and sparse APS
/// (`max_paths` slots per cell, row-major `iy * nx + ix`, the first
/// `counts[c]` slots used, unused slots [`ApsPath::NONE`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Ckm {
    pub header: CkmHeader,
    pub states: Vec<CellState>,
    pub counts: Vec<u8>,
    pub slots: Vec<ApsPath>,
}

impl Ckm {
    /// An all-`Outside` map for `header`.
    pub fn empty(header: CkmHeader) -> Self {
        let n = header.num_cells();
        let np = header.max_paths as usize;
        Self {
            header,
            states: vec![CellState::Outside; n],
            counts: vec![0; n],
            slots: vec![ApsPath::NONE; n * np],
        }
    }

    pub fn num_cells(&self) -> usize {
        self.states.len()
    }

    /// The paths of cell `c` (row-major index).
    pub fn paths(&self, c: usize) -> &[ApsPath] {
        let np = self.header.max_paths as usize;
        &self.slots[c * np..c * np + self.counts[c] as usize]
    }

    /// Set cell `c` (at most `max_paths` paths; panics otherwise, a caller bug).
    pub fn set(&mut self, c: usize, state: CellState, paths: &[ApsPath]) {
        let np = self.header.max_paths as usize;
        assert!(
            paths.len() <= np,
            "{} paths for a map of at most {np}",
            paths.len()
        );
        self.states[c] = state;
        self.counts[c] = paths.len() as u8;
        let slots = &mut self.slots[c * np..(c + 1) * np];
        slots.fill(ApsPath::NONE);
        slots[..paths.len()].copy_from_slice(paths);
    }

    /// Number of cells in each state, indexed by `CellState as usize`.
    pub fn state_counts(&self) -> [usize; 4] {
        let mut n = [0; 4];
        for s in &self.states {
            n[*s as usize] += 1;
        }
        n
    }

    /// Encode to bytes (see the module docs for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode::encode(self)
    }

    /// Decode bytes read from `path` (the path only names the file in errors).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CkmFileError> {
        decode::decode(bytes, path)
    }

    /// Write atomically to `path`.
    pub fn write(&self, path: &Path) -> Result<(), CkmFileError> {
        crate::atomic::write_bytes(path, &self.to_bytes()).map_err(|source| CkmFileError::Io {
            path: path.to_path_buf(),
            cause: source,
        })
    }

    /// Read and validate `path`.
    pub fn read(path: &Path) -> Result<Self, CkmFileError> {
        let io = |source| CkmFileError::Io {
            path: path.to_path_buf(),
            cause: source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io)?;
        decode::decode(&bytes, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(nx: u32, ny: u32, np: u32, nbins: usize) -> CkmHeader {
        CkmHeader {
            bs_id: 1,
            bs_x_m: 180.0,
            bs_y_m: 0.0,
            broadside_rad: 2.6179938779914944,
            tx_antennas: 8,
            origin_x_m: -12.4,
            origin_y_m: 3.2,
            cell_m: 0.4,
            nx,
            ny,
            max_paths: np,
            bin_angles_rad: (0..nbins)
                .map(|i| -1.5 + 3.0 * (i as f64 + 0.5) / nbins as f64)
                .collect(),
            beams: 16,
            tx_power_w: 3.98,
            noise_floor_w: 1.5e-12,
            scenario_hash: "ab".repeat(32),
            scenario_name: "smoke".into(),
            codebook: "dft".into(),
            tool_version: "0.1.0".into(),
            provenance: vec![("rsrp.tool".into(), "gen-rsrp".into())],
        }
    }

    /// A small map with every state and path count, from a seed.
    fn sample(seed: u64, nx: u32, ny: u32) -> Ckm {
        let np = 4;
        let mut ckm = Ckm::empty(header(nx, ny, np, 24));
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for c in 0..ckm.num_cells() {
            let state = CellState::from_u8((next() % 4) as u8).unwrap();
            let k = if state.has_estimate() {
                (next() % (np as u64 + 1)) as usize
            } else {
                0
            };
            let paths: Vec<_> = (0..k)
                .map(|_| ApsPath {
                    bin: (next() % 24) as u32,
                    power: (next() % 1_000_000) as f64 * 1e-13,
                })
                .collect();
            ckm.set(c, state, &paths);
        }
        ckm
    }

    fn p() -> &'static Path {
        Path::new("test.ckm")
    }

    #[test]
    fn write_read_file_identity_and_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bs0.ckm");
        let ckm = sample(3, 17, 9);
        ckm.write(&path).unwrap();
        assert_eq!(Ckm::read(&path).unwrap(), ckm);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn wrong_magic_and_version_are_typed_errors() {
        let mut bytes = sample(1, 4, 4).to_bytes();
        bytes[0] = b'X';
        assert!(matches!(
            Ckm::from_bytes(&bytes, p()),
            Err(CkmFileError::BadMagic { .. })
        ));
        let mut bytes = sample(1, 4, 4).to_bytes();
        bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
        let err = Ckm::from_bytes(&bytes, p()).unwrap_err();
        assert!(
            matches!(err, CkmFileError::UnsupportedVersion { found: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("test.ckm"));
    }

    #[test]
    fn huge_claimed_grid_is_an_error_not_an_allocation() {
        // A header claiming 10^6 × 10^6 cells with a valid checksum.
        let mut ckm = sample(1, 2, 2);
        ckm.header.nx = 1_000_000;
        ckm.header.ny = 1_000_000;
        // to_bytes trusts its vectors, so this writes a consistent checksum.
        let bytes = ckm.to_bytes();
        let err = Ckm::from_bytes(&bytes, p()).unwrap_err();
        assert!(err.to_string().contains("cells"), "{err}");
    }

    #[test]
    fn trailing_bytes_and_empty_input_are_errors() {
        let mut bytes = sample(2, 3, 3).to_bytes();
        bytes.push(0);
        assert!(Ckm::from_bytes(&bytes, p()).is_err());
        assert!(matches!(
            Ckm::from_bytes(&[], p()),
            Err(CkmFileError::BadMagic { .. })
        ));
    }

    /// Overwrite the CRC with the right one, as the fuzz target's even mode
    /// does, so a patched file gets past the checksum.
    fn repair_crc(bytes: &mut [u8]) {
        let n = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }

    /// Byte offsets of the fixed header fields in the file (header at 16).
    const AT_BROADSIDE: usize = 36;
    const AT_TX_ANTENNAS: usize = 44;
    const AT_ORIGIN_X: usize = 48;
    const AT_ORIGIN_Y: usize = 56;
    const AT_CELL_M: usize = 64;
    const AT_NX: usize = 72;
    const AT_NY: usize = 76;
    const AT_MAX_PATHS: usize = 80;
    const AT_BEAMS: usize = 84;
    const AT_TX_POWER: usize = 88;
    const AT_NOISE: usize = 96;
    const AT_BINS: usize = 108;

    /// A valid file with its header fields and body replaced: `patches` of
    /// (offset, bytes), then `body` = (rawlen, zstd frame) if given; CRC repaired.
    fn hostile(patches: &[(usize, Vec<u8>)], body: Option<(u64, Vec<u8>)>) -> Vec<u8> {
        let mut bytes = sample(1, 2, 2).to_bytes();
        for (at, b) in patches {
            bytes[*at..*at + b.len()].copy_from_slice(b);
        }
        if let Some((rawlen, z)) = body {
            let hlen = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
            bytes.truncate(16 + hlen);
            bytes.extend_from_slice(&rawlen.to_le_bytes());
            bytes.extend_from_slice(&(z.len() as u64).to_le_bytes());
            bytes.extend_from_slice(&z);
            bytes.extend_from_slice(&[0; 4]);
        }
        repair_crc(&mut bytes);
        bytes
    }

    /// A zstd frame of `n` zero bytes, compressed in 1 MiB chunks.
    fn zstd_zeros(n: u64) -> Vec<u8> {
        use std::io::Write;
        let chunk = vec![0u8; 1 << 20];
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        let mut left = n;
        while left > 0 {
            let k = left.min(chunk.len() as u64) as usize;
            enc.write_all(&chunk[..k]).unwrap();
            left -= k as u64;
        }
        enc.finish().unwrap()
    }

    fn f(v: f64) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }
    fn u(v: u32) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    #[test]
    fn zstd_bomb_on_a_huge_grid_is_refused_before_decompressing() {
        // 16384 × 8192 cells, Np 4, and a ~9 KB body of 2²⁸ zero bytes: a
        // consistent all-`outside` map whose slots alone would take 8 GiB.
        let bomb = zstd_zeros(1 << 28);
        assert!(bomb.len() < 64 << 10, "the test's own input stays small");
        let bytes = hostile(
            &[(AT_NX, u(16384)), (AT_NY, u(8192))],
            Some((1 << 28, bomb)),
        );
        let err = Ckm::from_bytes(&bytes, p()).unwrap_err().to_string();
        assert!(
            err.contains("test.ckm")
                && err.contains("16384×8192")
                && err.contains(&MAX_CELLS.to_string()),
            "{err}"
        );
    }

    #[test]
    fn too_many_path_slots_are_refused() {
        // Within the cell limit but 2²⁴ cells × 64 paths = 16 GiB of slots.
        let bytes = hostile(
            &[(AT_NX, u(4096)), (AT_NY, u(4096)), (AT_MAX_PATHS, u(64))],
            None,
        );
        let err = Ckm::from_bytes(&bytes, p()).unwrap_err().to_string();
        assert!(
            err.contains("path slots") && err.contains(&MAX_SLOTS.to_string()),
            "{err}"
        );
    }

    #[test]
    fn body_longer_than_declared_is_refused() {
        // 64 × 64 cells declare 8192 body bytes; the frame holds 2²⁴.
        let bytes = hostile(
            &[(AT_NX, u(64)), (AT_NY, u(64))],
            Some((2 * 64 * 64, zstd_zeros(1 << 24))),
        );
        let err = Ckm::from_bytes(&bytes, p()).unwrap_err().to_string();
        assert!(err.contains("more than the 8192 bytes"), "{err}");
    }

    #[test]
    fn hostile_header_fields_are_refused_naming_the_field() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let cases: &[(&str, usize, Vec<u8>)] = &[
            ("cell_m", AT_CELL_M, f(1e300)),
            ("cell_m", AT_CELL_M, f(nan)),
            ("cell_m", AT_CELL_M, f(0.0)),
            ("origin_x_m", AT_ORIGIN_X, f(-1e300)),
            ("origin_y_m", AT_ORIGIN_Y, f(inf)),
            ("grid extent", AT_CELL_M, f(1e5)),
            ("broadside_rad", AT_BROADSIDE, f(1e300)),
            ("broadside_rad", AT_BROADSIDE, f(nan)),
            ("tx_antennas", AT_TX_ANTENNAS, u(0)),
            ("tx_power_w", AT_TX_POWER, f(nan)),
            ("tx_power_w", AT_TX_POWER, f(-1.0)),
            ("tx_power_w", AT_TX_POWER, f(inf)),
            ("tx_power_w", AT_TX_POWER, f(0.0)),
            ("noise_floor_w", AT_NOISE, f(nan)),
            ("noise_floor_w", AT_NOISE, f(-1.0)),
            ("beams", AT_BEAMS, u(0)),
            ("bin_angles_rad[0]", AT_BINS, f(nan)),
            ("bin_angles_rad[3]", AT_BINS + 24, f(-inf)),
            ("bin_angles_rad[0]", AT_BINS, f(4.0)),
            // bins[1] ≤ bins[0]: not increasing.
            ("bin_angles_rad[1]", AT_BINS, f(1.4)),
        ];
        for (field, at, b) in cases {
            let mut origin = vec![(AT_ORIGIN_X, f(-12.4))];
            if *field == "grid extent" {
                origin = vec![(AT_ORIGIN_X, f(9.9e6))];
            }
            origin.push((*at, b.clone()));
            let bytes = hostile(&origin, None);
            let err = Ckm::from_bytes(&bytes, p()).expect_err(field).to_string();
            assert!(
                err.contains("test.ckm")
                    && err.contains(&format!("`{field}`"))
                    && err.contains("expected"),
                "{field}: {err}"
            );
        }
        // The unpatched file still reads.
        Ckm::from_bytes(&hostile(&[], None), p()).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn write_read_identity(seed in any::<u64>(), nx in 1u32..20, ny in 1u32..20) {
            let ckm = sample(seed, nx, ny);
            let back = Ckm::from_bytes(&ckm.to_bytes(), p()).unwrap();
            prop_assert_eq!(back, ckm);
        }

        #[test]
        fn any_flipped_byte_is_an_error(seed in any::<u64>(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut bytes = sample(seed, 6, 5).to_bytes();
            let i = pos.index(bytes.len());
            bytes[i] ^= 1 << bit;
            prop_assert!(Ckm::from_bytes(&bytes, p()).is_err());
        }

        #[test]
        fn any_truncation_is_an_error(seed in any::<u64>(), cut in any::<prop::sample::Index>()) {
            let bytes = sample(seed, 6, 5).to_bytes();
            let n = cut.index(bytes.len());
            prop_assert!(Ckm::from_bytes(&bytes[..n], p()).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), keep_magic in any::<bool>()) {
            let mut bytes = bytes;
            if keep_magic && bytes.len() >= 12 {
                bytes[..8].copy_from_slice(&MAGIC);
                bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
            }
            let _ = Ckm::from_bytes(&bytes, p());
        }
    }

    #[test]
    fn every_truncation_of_a_small_file_is_an_error() {
        let bytes = sample(9, 3, 2).to_bytes();
        for n in 0..bytes.len() {
            assert!(Ckm::from_bytes(&bytes[..n], p()).is_err(), "cut at {n}");
        }
    }
}
