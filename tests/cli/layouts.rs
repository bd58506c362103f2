//! Layouts: the paper's 3-cell outputs are pinned byte for byte (a new
//! layout or coordination rule must not move them), and a wrap-around hex
//! network with neighbour-limited coordination runs through every stage.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::util::{ok, repo, s, smoke};

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every stage on `scenario` into `out`; returns the artifacts (relative
/// path → sha256), sorted by path.
fn pipeline(scenario: &Path, out: &Path, schemes: &str) -> Vec<(String, String)> {
    let sc = s(scenario);
    let traj = out.join("trajectories.parquet");
    let rsrp = out.join("rsrp.parquet");
    let ckm = out.join("ckm");
    let run = out.join("run");
    ok("gen-traj", &["--scenario", sc, "--out", s(&traj)]);
    ok("gen-rsrp", &["--scenario", sc, "--out", s(&rsrp)]);
    ok(
        "build-ckm",
        &["--scenario", sc, "--rsrp", s(&rsrp), "--out-dir", s(&ckm)],
    );
    ok(
        "run-sdusc",
        &[
            "--scenario",
            sc,
            "--trajectories",
            s(&traj),
            "--ckm-dir",
            s(&ckm),
            "--out-dir",
            s(&run),
            "--schemes",
            schemes,
            "--no-timing",
        ],
    );
    let mut files = vec![traj, rsrp];
    for dir in [&ckm, &run] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let ext = p.extension().and_then(|x| x.to_str());
            if matches!(ext, Some("ckm" | "parquet")) {
                files.push(p);
            }
        }
    }
    let mut out: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(out).unwrap().display().to_string();
            (rel, sha256(p))
        })
        .collect();
    out.sort();
    out
}

/// The smoke pipeline's bytes as they were before hex layouts, wrap-around
/// and coordination existed (sha256 of every artifact). Change them only
/// with a change that is meant to move the paper's outputs. (The CKMs'
/// hashes moved once, when their headers began to record the RSRP input,
/// `rsrp_input.*`; every other artifact kept its bytes. epochs.parquet and
/// bs_epochs.parquet moved once, when they gained the stage times and the
/// solver's diagnostics (issue 11): their old columns kept their values,
/// checked against the previous binary on the paper scenario, every scheme.)
const SMOKE_BYTES: &[(&str, &str)] = &[
    (
        "ckm/bs0.ckm",
        "01754e94da2bfd04d781a983deca550282e0104fd65e74a37706aba79d9b7a2f",
    ),
    (
        "ckm/bs1.ckm",
        "c122ff6707b76582e77c07b4bd38d88b5ee59656cf0731324848c63c9edbaf91",
    ),
    (
        "ckm/bs2.ckm",
        "1e433a2c33586fc8f8c6caa6f503bb724ead49c0eac8b1f6bb2eb6c15934b8c5",
    ),
    (
        "ckm/quality.parquet",
        "ccd4c74efb8874fd2f946ebf6066c3216f6fcf2451bfce742f0eb7ffab4ba111",
    ),
    (
        "rsrp.parquet",
        "e49e0afb1b0b774cff5508612eea4257c7743dcf4582b35f4000e4b7cf4b3dee",
    ),
    (
        "run/bs_epochs.parquet",
        "8d6cc9c614234c1f6b0eb1e31d830e0ceed81d40bea5245d37f854e12976fc45",
    ),
    (
        "run/epochs.parquet",
        "7719b82a2326964faa7611ca5c3a2fa8b7a7f30073b5f0b13a17fb756fca38f8",
    ),
    (
        "run/user_epochs.parquet",
        "ccd7345ab1fa07a7116d551314aa8662f9336c5f9ff6f32a6e66f6d1902bbd58",
    ),
    (
        "trajectories.parquet",
        "b2bcf6d5c083dbdae913cfb10a9ea838f3df4ab685d897cd978322a9cff3d2e3",
    ),
];

#[test]
fn paper_layout_outputs_are_byte_identical_to_before_hex_layouts() {
    let dir = tempfile::tempdir().unwrap();
    // The scheme list of `just smoke`.
    let schemes = "sd-uscb,sd-uscb-slinr,sd-uscb-hungarian,sd-uscb-all-users,sd-uscb-robust,\
                   fp-salinr-perfect,cwmmse,pwmmse";
    let got = pipeline(&smoke(), dir.path(), schemes);
    let want: Vec<(String, String)> = SMOKE_BYTES
        .iter()
        .map(|(p, h)| (p.to_string(), h.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_wraparound_hex_network_with_limited_coordination_runs_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let all = std::fs::read_to_string(smoke())
        .unwrap()
        .replace(
            "layout = \"paper\"",
            "layout = \"hex\"\nrings = 1\nisd_m = 200.0\nwraparound = true",
        )
        .replace("count = 4", "count = 2")
        .replace("per_cell = 6", "per_cell = 3")
        .replace("grid_m = 2.0", "grid_m = 6.0");
    let limited = format!("{all}\n[coordination]\nneighbours = \"count\"\ncount = 2\n");
    let scenario = dir.path().join("hex.toml");
    std::fs::write(&scenario, limited).unwrap();
    let files = pipeline(&scenario, dir.path(), "sd-uscb,pwmmse");
    assert_eq!(files.iter().filter(|f| f.0.ends_with(".ckm")).count(), 21);
    // The CKM areas: 2 neighbours' cells instead of all 20 others'.
    let everyone = dir.path().join("all");
    let all_toml = everyone.join("hex.toml");
    std::fs::create_dir_all(&everyone).unwrap();
    std::fs::write(&all_toml, all).unwrap();
    let rsrp = everyone.join("rsrp.parquet");
    let ckm = everyone.join("ckm");
    ok("gen-rsrp", &["--scenario", s(&all_toml), "--out", s(&rsrp)]);
    ok(
        "build-ckm",
        &[
            "--scenario",
            s(&all_toml),
            "--rsrp",
            s(&rsrp),
            "--out-dir",
            s(&ckm),
        ],
    );
    for b in [0, 20] {
        let size = |d: &Path| {
            std::fs::metadata(d.join(format!("bs{b}.ckm")))
                .unwrap()
                .len()
        };
        let (few, many) = (size(&dir.path().join("ckm")), size(&ckm));
        assert!(few * 3 < many, "bs{b}: {few} vs {many} bytes");
    }
    assert!(repo().join("pipelines/hex19.toml").exists());
}
