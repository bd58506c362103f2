//! Hostile CKM files (valid CRC, hostile header or body) given to `ckm` and
//! `run-sdusc`: each is refused with a message naming the file and the
//! problem, never an abort. The files are a valid map with header bytes
//! patched and the CRC repaired, as in the fuzz target's even mode.

use std::path::{Path, PathBuf};

use sdusc_formats::ckm_file::{Ckm, CkmHeader};
use sdusc_model::Scenario;

use crate::util::{fails, ok, s, smoke};

/// Byte offsets in the file of the patched header fields (header at 16).
const AT_NX: usize = 72;
const AT_NY: usize = 76;
const AT_BINS: usize = 108;

/// A valid empty map for BS 0 of `sc`: what run-sdusc accepts.
fn bs0_header(sc: &Scenario) -> CkmHeader {
    let site = sc.sites[0];
    CkmHeader {
        bs_id: 0,
        bs_x_m: site.position.x,
        bs_y_m: site.position.y,
        broadside_rad: site.broadside_rad,
        tx_antennas: sc.tx_antennas as u32,
        origin_x_m: 0.0,
        origin_y_m: 0.0,
        cell_m: sc.grid_m,
        nx: 2,
        ny: 2,
        max_paths: 4,
        bin_angles_rad: sc.angle_bin_centres(),
        beams: sc.beams as u32,
        tx_power_w: sc.power_w,
        noise_floor_w: 0.0,
        scenario_hash: sc.world_hash(),
        scenario_name: sc.name.clone(),
        codebook: "dft".into(),
        tool_version: "test".into(),
        provenance: vec![],
    }
}

/// CRC-32 (IEEE), bitwise: the test crate does not depend on crc32fast.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// Overwrite the last four bytes with the right CRC.
fn repair_crc(bytes: &mut [u8]) {
    let n = bytes.len() - 4;
    let crc = crc32(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
}

/// A zstd frame of `n` zero bytes (n a multiple of 128 KiB) built from RLE
/// blocks, 4 bytes per 128 KiB (RFC 8878 §3.1.1.2), so no zstd dependency.
fn zstd_zeros(n: u64) -> Vec<u8> {
    const BLOCK: u64 = 128 << 10;
    assert_eq!(n % BLOCK, 0);
    let mut z = 0xFD2F_B528u32.to_le_bytes().to_vec();
    // Frame header: no content size, no checksum; window 2^(10+7) = 128 KiB.
    z.extend_from_slice(&[0x00, 7 << 3]);
    let blocks = n / BLOCK;
    for i in 0..blocks {
        let last = (i + 1 == blocks) as u32;
        let head = ((BLOCK as u32) << 3) | (1 << 1) | last;
        z.extend_from_slice(&head.to_le_bytes()[..3]);
        z.push(0);
    }
    z
}

/// The 16384 × 8192-cell map whose body is 2²⁸ zero bytes (about 9 KB).
fn bomb(sc: &Scenario) -> Vec<u8> {
    let mut bytes = Ckm::empty(bs0_header(sc)).to_bytes();
    bytes[AT_NX..AT_NX + 4].copy_from_slice(&16384u32.to_le_bytes());
    bytes[AT_NY..AT_NY + 4].copy_from_slice(&8192u32.to_le_bytes());
    let hlen = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    bytes.truncate(16 + hlen);
    let body = zstd_zeros(1 << 28);
    bytes.extend_from_slice(&(1u64 << 28).to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&[0; 4]);
    repair_crc(&mut bytes);
    assert!(bytes.len() < 16 << 10, "{} bytes", bytes.len());
    bytes
}

/// A temp dir with `ckm/bs0.ckm` = `bytes`; returns (dir, ckm dir, bs0 path).
fn with_bs0(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ckm = dir.path().join("ckm");
    std::fs::create_dir(&ckm).unwrap();
    let bs0 = ckm.join("bs0.ckm");
    std::fs::write(&bs0, bytes).unwrap();
    (dir, ckm, bs0)
}

/// run-sdusc on the smoke scenario with `ckm` as --ckm-dir; its stderr.
fn run_sdusc_fails(traj: &Path, ckm: &Path, out: &Path) -> String {
    fails(
        "run-sdusc",
        &[
            "--scenario",
            s(&smoke()),
            "--trajectories",
            s(traj),
            "--ckm-dir",
            s(ckm),
            "--out-dir",
            s(out),
            "--schemes",
            "sd-uscb",
        ],
    )
}

#[test]
fn zstd_bomb_is_refused_by_ckm_and_run_sdusc() {
    let sc = Scenario::load(&smoke()).unwrap();
    let (dir, ckm, bs0) = with_bs0(&bomb(&sc));
    let refused = |err: &str| {
        assert!(
            err.contains("bs0.ckm") && err.contains("16384×8192") && err.contains("16777216"),
            "{err}"
        );
        assert!(!err.contains("memory allocation"), "{err}");
    };
    refused(&fails("ckm", &["inspect", s(&bs0)]));
    let export = dir.path().join("cells.parquet");
    refused(&fails("ckm", &["export", s(&bs0), "--out", s(&export)]));
    assert!(!export.exists());
    let traj = dir.path().join("traj.parquet");
    ok("gen-traj", &["--scenario", s(&smoke()), "--out", s(&traj)]);
    refused(&run_sdusc_fails(&traj, &ckm, &dir.path().join("run")));
}

#[test]
fn the_bomb_under_a_memory_cap_is_a_clear_error_not_an_abort() {
    use crate::sets::{assert_refused_cleanly, run_capped};
    let sc = Scenario::load(&smoke()).unwrap();
    let (dir, ckm, bs0) = with_bs0(&bomb(&sc));
    // 512 MiB of address space: decompressing the 256 MiB body (or the
    // 8 GiB the grid would need) would abort the process.
    let needles = ["bs0.ckm", "16384×8192"];
    assert_refused_cleanly(&run_capped("ckm", 512, &["inspect", s(&bs0)]), &needles);
    let export = dir.path().join("cells.parquet");
    assert_refused_cleanly(
        &run_capped("ckm", 512, &["export", s(&bs0), "--out", s(&export)]),
        &needles,
    );
    let traj = dir.path().join("traj.parquet");
    ok("gen-traj", &["--scenario", s(&smoke()), "--out", s(&traj)]);
    let run = dir.path().join("run");
    assert_refused_cleanly(
        &run_capped(
            "run-sdusc",
            512,
            &[
                "--scenario",
                s(&smoke()),
                "--trajectories",
                s(&traj),
                "--ckm-dir",
                s(&ckm),
                "--out-dir",
                s(&run),
                "--schemes",
                "sd-uscb",
                "--max-memory",
                "none",
            ],
        ),
        &needles,
    );
    assert!(!export.exists() && !run.exists());
}

#[test]
fn nan_bin_centre_is_refused_at_read() {
    let sc = Scenario::load(&smoke()).unwrap();
    let mut bytes = Ckm::empty(bs0_header(&sc)).to_bytes();
    bytes[AT_BINS + 8..AT_BINS + 16].copy_from_slice(&f64::NAN.to_le_bytes());
    repair_crc(&mut bytes);
    let (dir, _, bs0) = with_bs0(&bytes);
    let export = dir.path().join("cells.parquet");
    let err = fails("ckm", &["export", s(&bs0), "--out", s(&export)]);
    assert!(
        err.contains("bs0.ckm") && err.contains("bin_angles_rad[1]") && err.contains("finite"),
        "{err}"
    );
    assert!(!export.exists());
    let err = fails("ckm", &["inspect", s(&bs0)]);
    assert!(err.contains("bin_angles_rad[1]"), "{err}");
}

/// A change to a valid header.
type HeaderPatch = Box<dyn Fn(&mut CkmHeader)>;

#[test]
fn run_sdusc_refuses_a_ckm_of_another_dictionary() {
    let sc = Scenario::load(&smoke()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let traj = dir.path().join("traj.parquet");
    ok("gen-traj", &["--scenario", s(&smoke()), "--out", s(&traj)]);
    let nbins = sc.angle_bins;
    let shifted: Vec<f64> = sc.angle_bin_centres().iter().map(|t| t * 0.5).collect();
    let cases: Vec<(&str, HeaderPatch, String)> = vec![
        // The control: a matching bs0 passes, so bs1 is the one missing.
        ("matching", Box::new(|_| {}), "missing CKM file".into()),
        (
            "fewer bins",
            Box::new(move |h| {
                h.bin_angles_rad = (0..nbins - 1)
                    .map(|i| -1.5 + 3.0 * i as f64 / nbins as f64)
                    .collect()
            }),
            format!(
                "{} angular bins, the scenario's ckm.angle_bins is {nbins}",
                nbins - 1
            ),
        ),
        (
            "other bin centres",
            Box::new(move |h| h.bin_angles_rad = shifted.clone()),
            "angle_range_deg".into(),
        ),
        ("other Nt", Box::new(|h| h.tx_antennas *= 2), "Nt = ".into()),
        (
            "other grid",
            Box::new(|h| h.cell_m *= 2.0),
            "ckm.grid_m".into(),
        ),
    ];
    for (name, patch, expected) in cases {
        let mut h = bs0_header(&sc);
        patch(&mut h);
        let ckm = dir.path().join(format!("ckm-{}", name.replace(' ', "-")));
        std::fs::create_dir(&ckm).unwrap();
        Ckm::empty(h).write(&ckm.join("bs0.ckm")).unwrap();
        let err = run_sdusc_fails(&traj, &ckm, &dir.path().join("run"));
        assert!(err.contains(&expected), "{name}: {err}");
        if name != "matching" {
            assert!(
                err.contains("bs0.ckm") && err.contains("build-ckm"),
                "{name}: {err}"
            );
        }
    }
}
