//! Output sets and resources (issue 10, items 1, 3, 4, 5, 8): a stage's set
//! of artifacts appears whole or not at all, even under SIGKILL; CKMs of two
//! RSRP inputs are not a set; RSRP without a usable cell is refused; absurd
//! scenario products are refused up front with an estimate, under a memory
//! cap that would turn any attempt to allocate them into an abort.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use sdusc_formats::parquet_io::ParquetSource;
use sdusc_formats::rsrp::{RsrpRow, to_batch};

use crate::util::{exe, fails, ok, repo, s, smoke, smoke_with};

/// Run `name` with its address space capped at `mib` MiB (`ulimit -v`): an
/// attempt to allocate beyond it aborts the process instead of succeeding.
pub fn run_capped(name: &str, mib: u64, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {}; exec \"$0\" \"$@\"", mib * 1024))
        .arg(exe(name))
        .args(args)
        .output()
        .expect("sh runs")
}

/// A refusal under the cap: exit status 1 (an error, not a signal or an
/// abort) and every needle in stderr.
pub fn assert_refused_cleanly(out: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "not a clean refusal: {:?}\n{err}",
        out.status
    );
    assert!(!err.contains("memory allocation"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in:\n{err}");
    }
    err
}

/// Names in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// (name, bytes) of every file of a folder.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    names(dir)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

fn build_ckm_args<'a>(scenario: &'a Path, rsrp: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "--scenario",
        s(scenario),
        "--rsrp",
        s(rsrp),
        "--out-dir",
        s(out),
    ]
}

#[test]
fn absurd_scenario_products_are_refused_up_front_under_a_memory_cap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 10⁵ angle bins: an 80 GB Gram matrix.
    let bins = smoke_with(d, "bins.toml", "angle_bins = 64", "angle_bins = 100000");
    let rsrp = d.join("rsrp.parquet");
    ok("gen-rsrp", &["--scenario", s(&smoke()), "--out", s(&rsrp)]);
    let out = d.join("ckm");
    let err = assert_refused_cleanly(
        &run_capped("build-ckm", 2048, &build_ckm_args(&bins, &rsrp, &out)),
        &[
            "build-ckm: this run needs about",
            "Gram matrix",
            "ckm.angle_bins",
            "--max-memory",
        ],
    );
    assert!(err.contains("GiB"), "{err}");
    assert!(!out.exists());
    // 10⁵ users per cell for 10⁶ epochs: 3·10¹¹ trajectory rows.
    let users = smoke_with(d, "users.toml", "per_cell = 6", "per_cell = 100000");
    let users = {
        let text = std::fs::read_to_string(&users).unwrap();
        std::fs::write(&users, text.replacen("count = 4", "count = 1000000", 1)).unwrap();
        users
    };
    let traj = d.join("traj.parquet");
    assert_refused_cleanly(
        &run_capped(
            "gen-traj",
            2048,
            &["--scenario", s(&users), "--out", s(&traj)],
        ),
        &["trajectory rows", "users.per_cell", "--max-memory"],
    );
    assert_refused_cleanly(
        &run_capped(
            "run-sdusc",
            2048,
            &[
                "--scenario",
                s(&users),
                "--trajectories",
                s(&traj),
                "--out-dir",
                s(&d.join("run")),
                "--schemes",
                "pwmmse",
            ],
        ),
        &["run-sdusc: this run needs about", "--max-memory"],
    );
    // A million drops of the smoke scenario.
    assert_refused_cleanly(
        &run_capped(
            "gen-traj",
            2048,
            &[
                "--scenario",
                s(&smoke()),
                "--out",
                s(&traj),
                "--drops",
                "1000000",
            ],
        ),
        &["--drops", "--max-memory"],
    );
    assert!(!traj.exists());
    assert_eq!(names(d), ["bins.toml", "rsrp.parquet", "users.toml"]);
    // The limit is the user's: a tiny one refuses the smoke run, a bad one
    // is a clear error, a generous one lets it through.
    let small = fails(
        "gen-rsrp",
        &[
            "--scenario",
            s(&smoke()),
            "--out",
            s(&d.join("r.parquet")),
            "--max-memory",
            "1MiB",
        ],
    );
    assert!(small.contains("more than the limit of 1.0 MiB"), "{small}");
    let bad = fails(
        "gen-traj",
        &[
            "--scenario",
            s(&smoke()),
            "--out",
            s(&traj),
            "--max-memory",
            "lots",
        ],
    );
    assert!(bad.contains("expected e.g. 8GiB"), "{bad}");
    ok(
        "gen-traj",
        &[
            "--scenario",
            s(&smoke()),
            "--out",
            s(&traj),
            "--max-memory",
            "8GiB",
        ],
    );
}

#[test]
fn rsrp_without_a_usable_cell_is_refused_unless_empty_maps_are_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Every row 100 km away from the network.
    let rows: Vec<RsrpRow> = (0..3u32)
        .flat_map(|b| {
            (0..16u32).map(move |beam| RsrpRow {
                bs_id: b,
                x_m: 1e5,
                y_m: 1e5,
                beam_id: beam,
                rsrp_dbm: -80.0,
            })
        })
        .collect();
    let far = d.join("far.parquet");
    sdusc_formats::parquet_io::write_batch(
        &far,
        &to_batch(&rows),
        &sdusc_formats::provenance::Provenance::default(),
    )
    .unwrap();
    let out = d.join("ckm");
    let smoke = smoke();
    let err = fails("build-ckm", &build_ckm_args(&smoke, &far, &out));
    for n in [
        "far.parquet",
        "no usable measured cell for 3 of 3 BSs",
        "BS 2: 16 rows, 16 outside its CKM grid",
        "--allow-empty-maps",
    ] {
        assert!(err.contains(n), "expected {n:?} in:\n{err}");
    }
    assert!(!out.exists());
    // Asked for, the empty maps are written, and the quality statistics of
    // no cell are null, not NaN.
    let mut args = build_ckm_args(&smoke, &far, &out);
    args.push("--allow-empty-maps");
    ok("build-ckm", &args);
    let mut q = ParquetSource::open(&out.join("quality.parquet")).unwrap();
    let batch = q.next_batch().unwrap().unwrap();
    for col in [
        "residual_rel_mean",
        "residual_rel_p50",
        "residual_rel_max",
        "paths_mean",
    ] {
        let a = batch.column_by_name(col).unwrap();
        assert_eq!(a.null_count(), 3, "{col}: {a:?}");
    }
    // More beams required than the codebook has: no cell could ever qualify.
    let mut args = build_ckm_args(&smoke, &far, &out);
    args.extend(["--min-beams", "17"]);
    let err = fails("build-ckm", &args);
    assert!(
        err.contains("--min-beams 17 but the codebook has 16 beams"),
        "{err}"
    );
}

/// gen-rsrp of the smoke scenario with `seed` into `path`.
fn rsrp_of_seed(path: &Path, seed: &str) {
    ok(
        "gen-rsrp",
        &["--scenario", s(&smoke()), "--out", s(path), "--seed", seed],
    );
}

#[test]
fn ckm_sets_are_published_whole_and_a_mixed_set_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (r1, r2) = (d.join("r1.parquet"), d.join("r2.parquet"));
    rsrp_of_seed(&r1, "1");
    rsrp_of_seed(&r2, "2");
    let (a, b) = (d.join("a"), d.join("b"));
    ok("build-ckm", &build_ckm_args(&smoke(), &r1, &a));
    ok("build-ckm", &build_ckm_args(&smoke(), &r2, &b));
    assert_eq!(
        names(&a),
        ["bs0.ckm", "bs1.ckm", "bs2.ckm", "quality.parquet"]
    );
    // Each header names its RSRP input.
    let inspect = ok("ckm", &["inspect", s(&a.join("bs1.ckm"))]);
    for n in [
        "rsrp_input.file = r1.parquet",
        "rsrp_input.sha256 = ",
        "rsrp_input.rows = ",
        "rsrp_input.layout = long",
    ] {
        assert!(inspect.contains(n), "expected {n:?} in:\n{inspect}");
    }

    // A rebuild replaces the whole set, keeps a user's file, drops a stale
    // map of a BS the scenario no longer has, and leaves no staging folder.
    std::fs::write(a.join("bs0.png"), b"a user's plot").unwrap();
    std::fs::copy(a.join("bs2.ckm"), a.join("bs7.ckm")).unwrap();
    ok("build-ckm", &build_ckm_args(&smoke(), &r2, &a));
    assert_eq!(
        names(&a),
        [
            "bs0.ckm",
            "bs0.png",
            "bs1.ckm",
            "bs2.ckm",
            "quality.parquet"
        ]
    );
    for n in ["bs0.ckm", "bs1.ckm", "bs2.ckm"] {
        assert_eq!(
            std::fs::read(a.join(n)).unwrap(),
            std::fs::read(b.join(n)).unwrap(),
            "{n}"
        );
    }
    assert_eq!(names(d), ["a", "b", "r1.parquet", "r2.parquet"]);

    // Maps of one world from two drive tests are not a set.
    ok("build-ckm", &build_ckm_args(&smoke(), &r1, &a));
    std::fs::copy(b.join("bs2.ckm"), a.join("bs2.ckm")).unwrap();
    let traj = d.join("traj.parquet");
    ok("gen-traj", &["--scenario", s(&smoke()), "--out", s(&traj)]);
    let run = d.join("run");
    let err = fails(
        "run-sdusc",
        &[
            "--scenario",
            s(&smoke()),
            "--trajectories",
            s(&traj),
            "--ckm-dir",
            s(&a),
            "--out-dir",
            s(&run),
            "--schemes",
            "sd-uscb",
        ],
    );
    for n in [
        "different RSRP inputs",
        "BS 0 from r1.parquet",
        "BS 2 from r2.parquet",
    ] {
        assert!(err.contains(n), "expected {n:?} in:\n{err}");
    }
    assert!(!run.exists());
}

/// Kill `cmd` after `delay`; whether it had finished.
fn kill_after(mut cmd: Command, delay: Duration) -> bool {
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    finished
}

#[test]
fn sigkill_mid_build_leaves_the_old_set_or_the_new_one_never_a_mix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let paper = repo().join("pipelines/paper.toml");
    // A paper-sized drive test at a tenth of the cells: build-ckm takes
    // long enough to be killed at every stage.
    let rsrp = d.join("rsrp.parquet");
    ok(
        "gen-rsrp",
        &[
            "--scenario",
            s(&paper),
            "--out",
            s(&rsrp),
            "--measured-fraction",
            "0.1",
        ],
    );
    let (old, new) = (d.join("old"), d.join("new"));
    let mut args = build_ckm_args(&paper, &rsrp, &old);
    args.extend(["--min-beams", "64", "--no-truth"]);
    ok("build-ckm", &args);
    let mut args = build_ckm_args(&paper, &rsrp, &new);
    args.push("--no-truth");
    ok("build-ckm", &args);
    let (old_set, new_set) = (contents(&old), contents(&new));
    assert_ne!(old_set, new_set);
    let out = d.join("out");
    let mut killed_mid_run = 0;
    for ms in [20u64, 60, 120, 200, 300, 450, 700, 1000, 1500, 2500] {
        // Start from the old set each time.
        if out.exists() {
            std::fs::remove_dir_all(&out).unwrap();
        }
        std::fs::create_dir(&out).unwrap();
        for (n, bytes) in &old_set {
            std::fs::write(out.join(n), bytes).unwrap();
        }
        let mut cmd = Command::new(exe("build-ckm"));
        cmd.args(build_ckm_args(&paper, &rsrp, &out))
            .arg("--no-truth");
        cmd.stderr(std::process::Stdio::null());
        if !kill_after(cmd, Duration::from_millis(ms)) {
            killed_mid_run += 1;
        }
        let now = contents(&out);
        assert!(
            now == old_set || now == new_set,
            "killed after {ms} ms: a mixed set {:?}",
            names(&out)
        );
    }
    assert!(
        killed_mid_run >= 3,
        "build-ckm finished too fast to be killed: {killed_mid_run}"
    );
    // The next run sweeps what the killed ones left (their staging folders).
    let mut args = build_ckm_args(&paper, &rsrp, &out);
    args.push("--no-truth");
    ok("build-ckm", &args);
    assert_eq!(contents(&out), new_set);
    assert_eq!(names(d), ["new", "old", "out", "rsrp.parquet"]);
}

#[test]
fn a_killed_writer_leaves_a_temporary_file_that_the_next_run_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let paper = repo().join("pipelines/paper.toml");
    let out = d.join("rsrp.parquet");
    let mut cmd = Command::new(exe("gen-rsrp"));
    cmd.args(["--scenario", s(&paper), "--out", s(&out)]);
    cmd.stderr(std::process::Stdio::null());
    assert!(
        !kill_after(cmd, Duration::from_millis(1500)),
        "gen-rsrp finished in 1.5 s"
    );
    let left = names(d);
    assert!(!out.exists());
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].starts_with(".rsrp.parquet.") && left[0].ends_with(".tmp"),
        "{left:?}"
    );
    ok(
        "gen-rsrp",
        &[
            "--scenario",
            s(&paper),
            "--out",
            s(&out),
            "--measured-fraction",
            "0.01",
        ],
    );
    assert_eq!(names(d), ["rsrp.parquet"]);
}
