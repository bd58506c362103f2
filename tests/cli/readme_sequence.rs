//! The README's order of commands (issue 12, item 7): `just all` (every
//! stage, run-sdusc's `run/` folder included) and then the paper's
//! experiments into the same folder must write REPORT.md, although `run/`
//! holds an `epochs.parquet` that is not an experiment's.

use std::process::Command;

use crate::util::{ok, s, smoke};

#[test]
fn the_paper_run_after_just_all_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let smoke = smoke();
    let (traj, rsrp, ckm, run) = (
        data.join("trajectories.parquet"),
        data.join("rsrp.parquet"),
        data.join("ckm"),
        data.join("run"),
    );
    // `just all` on the smoke scenario.
    ok("gen-traj", &["--scenario", s(&smoke), "--out", s(&traj)]);
    ok("gen-rsrp", &["--scenario", s(&smoke), "--out", s(&rsrp)]);
    ok(
        "build-ckm",
        &[
            "--scenario",
            s(&smoke),
            "--rsrp",
            s(&rsrp),
            "--out-dir",
            s(&ckm),
        ],
    );
    ok(
        "run-sdusc",
        &[
            "--scenario",
            s(&smoke),
            "--trajectories",
            s(&traj),
            "--ckm-dir",
            s(&ckm),
            "--out-dir",
            s(&run),
            "--schemes",
            "sd-uscb,pwmmse",
        ],
    );
    assert!(run.join("epochs.parquet").is_file());
    // A smoke-sized experiment run into the same folder, as `just paper` does.
    let def = dir.path().join("mini.toml");
    std::fs::write(
        &def,
        format!(
            "id = \"mini\"\nkind = \"pfr\"\ntitle = \"mini\"\nclaim = \"SD-USCB above PWMMSE\"\n\
             scenario = {:?}\ndrops = 2\n\n[[arms]]\nlabel = \"SD-USCB\"\nscheme = \"sd-uscb\"\n\n\
             [[arms]]\nlabel = \"PWMMSE\"\nscheme = \"pwmmse\"\n\n[[checks]]\ntype = \"greater\"\na = \"SD-USCB\"\nb = \"PWMMSE\"\n",
            s(&smoke)
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sdusc-paper"))
        .args(["run", s(&def), "--out", s(&data), "--no-timing"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sdusc-paper run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(data.join("REPORT.md")).expect("REPORT.md written");
    assert!(report.contains("mini"), "{report}");
    assert!(data.join("mini").is_dir());
}
