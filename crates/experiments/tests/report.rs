//! The report generator on a fixed small Parquet input: the verdict follows
//! the numbers in the file, and nothing else; folders that are not
//! experiments are left out; the gap section's sentences follow its Δs; the
//! location tracking section's quantiles, coverage and target sentence
//! follow fig6's user_epochs.

use std::path::Path;

use sdusc_experiments::Definition;
use sdusc_experiments::gap::{gap_rows, gap_table};
use sdusc_experiments::inputs::CkmSource;
use sdusc_experiments::runs::{pfr_data, provenance};
use sdusc_experiments::sections::{render, write_report};
use sdusc_formats::metrics::{EpochRow, UserEpochRow, epochs_batch, user_epochs_batch};
use sdusc_formats::parquet_io::write_batch;
use sdusc_formats::provenance::Provenance;
use sdusc_model::Scenario;
use sdusc_sim::RunOutput;

const DEF: &str = r#"
id = "figx"
kind = "pfr"
title = "A test figure"
claim = "A beats B"
drops = 3

[[arms]]
label = "A"
scheme = "sd-uscb"

[[arms]]
label = "B"
scheme = "pwmmse"

[[checks]]
type = "greater"
a = "A"
b = "B"

[reasons]
0 = "THE-REASON"
"#;

fn smoke() -> Scenario {
    Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke").unwrap()
}

/// Epoch rows of `arms` (label, accumulated PFR per drop), epochs 1 and 2 alike.
fn epoch_rows(arms: &[(&str, Vec<f64>)]) -> Vec<EpochRow> {
    let mut rows = Vec::new();
    for (arm, values) in arms {
        for (drop, pfr) in values.iter().enumerate() {
            for epoch in 1..=2u32 {
                rows.push(EpochRow {
                    scheme: arm.to_string(),
                    drop: drop as u32,
                    epoch,
                    accumulated_pfr: *pfr,
                    sum_rate_bps_hz: 1.0,
                    users_unserved: 0,
                    backhaul_bytes: if *arm == "A" { 432 } else { 0 },
                    mean_location_error_m: (*arm == "A").then_some(3.0),
                    relaxed_constraints: 0,
                    sense_s: 0.0,
                    plan_s: 0.0,
                    exchange_s: 0.0,
                    beamform_s: 0.0,
                    evaluate_s: 0.0,
                });
            }
        }
    }
    rows
}

/// epochs.parquet of figx: A − B = `gap` at every drop (± a small wiggle).
fn write_fixture(dir: &Path, gap: f64) {
    let def = Definition::from_toml(DEF, Path::new("figx.toml")).unwrap();
    let (a, b): (Vec<f64>, Vec<f64>) = [0.1, -0.1, 0.05]
        .iter()
        .enumerate()
        .map(|(d, wiggle)| (10.0 * d as f64 + gap + wiggle, 10.0 * d as f64))
        .unzip();
    let rows = epoch_rows(&[("A", a), ("B", b)]);
    std::fs::create_dir_all(dir.join("figx")).unwrap();
    write_batch(
        &dir.join("figx/epochs.parquet"),
        &epochs_batch(&rows),
        &provenance(&def, &smoke(), 1),
    )
    .unwrap();
}

#[test]
fn the_verdict_follows_the_numbers_in_the_parquet() {
    let tmp = tempfile::tempdir().unwrap();
    write_fixture(tmp.path(), 1.0);
    let text = render(tmp.path()).unwrap();
    assert!(
        text.contains("| [figx](#figx) | A beats B | **holds** |"),
        "{text}"
    );
    assert!(text.contains("| A > B | pass |"), "{text}");
    assert!(!text.contains("THE-REASON"));
    assert!(
        text.contains("| figx | A | 432 | 3.000 |"),
        "backhaul table: {text}"
    );

    // One number changed: B now beats A, the verdict flips and the reason shows.
    write_fixture(tmp.path(), -1.0);
    let text = render(tmp.path()).unwrap();
    assert!(
        text.contains("| [figx](#figx) | A beats B | **does not hold** |"),
        "{text}"
    );
    assert!(text.contains("| A > B | fail |"), "{text}");
    assert!(text.contains("THE-REASON"));

    // A gap within the noise is reported as not separated, not as a failure.
    write_fixture(tmp.path(), 0.01);
    let text = render(tmp.path()).unwrap();
    assert!(text.contains("| A > B | not separated |"), "{text}");
}

#[test]
fn folders_without_an_experiment_definition_are_not_reported() {
    let tmp = tempfile::tempdir().unwrap();
    write_fixture(tmp.path(), 1.0);
    // `just all` writes data/paper/run/epochs.parquet with run-sdusc's provenance.
    let rows = epoch_rows(&[("sd-uscb", vec![1.0, 2.0])]);
    std::fs::create_dir_all(tmp.path().join("run")).unwrap();
    write_batch(
        &tmp.path().join("run/epochs.parquet"),
        &epochs_batch(&rows),
        &Provenance::new("run-sdusc", "smoke", &smoke().hash(), 1).with("drops", 2),
    )
    .unwrap();
    let text = render(tmp.path()).unwrap();
    assert!(text.contains("## figx — "), "{text}");
    assert!(
        !text.contains("[run]") && !text.contains("| run |"),
        "{text}"
    );
}

const GAP: &str = r#"
id = "gapx"
kind = "gap"
title = "A test waterfall"
claim = "C ≈ A ≫ F"
drops = 3

[[arms]]
label = "A"
scheme = "fp-salinr-perfect"

[[arms]]
label = "B"
scheme = "sd-uscb:sensing=perfect,cbar=1e6"
ckm = "oracle"

[[arms]]
label = "C"
scheme = "sd-uscb"

[[arms]]
label = "X"
scheme = "sd-uscb:leakage=covariance"

[[arms]]
label = "F"
scheme = "pwmmse"

[waterfall]
steps = ["A", "B", "C"]
extras = ["X"]
floor = "F"
ingredients = { B = "the INGREDIENT-B", C = "the INGREDIENT-C" }

[[checks]]
type = "approx"
a = "A"
b = "C"
tol = 0.1
"#;

#[test]
fn the_gap_section_says_what_each_step_costs() {
    let def = Definition::from_toml(GAP, Path::new("gapx.toml")).unwrap();
    // Per drop: B = A − 5 (small noise), C = B ± 0.5 (noise only), X = C + 3,
    // F = C − 1: B costs 5, C is not significant, X beats C and F.
    let (w1, w2, wf) = ([0.1, -0.1, 0.0], [0.5, -0.5, 0.0], [0.0, 0.1, -0.1]);
    let a: Vec<f64> = (0..3).map(|d| 20.0 + 10.0 * d as f64).collect();
    let b: Vec<f64> = (0..3).map(|d| a[d] - 5.0 + w1[d]).collect();
    let c: Vec<f64> = (0..3).map(|d| b[d] + w2[d]).collect();
    let x: Vec<f64> = (0..3).map(|d| c[d] + 3.0 + w1[d]).collect();
    let f: Vec<f64> = (0..3).map(|d| c[d] - 1.0 + wf[d]).collect();
    let out = RunOutput {
        epochs: epoch_rows(&[("A", a), ("B", b), ("C", c), ("X", x), ("F", f)]),
        ..RunOutput::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gapx");
    std::fs::create_dir_all(&dir).unwrap();
    let prov = provenance(&def, &smoke(), 1);
    write_batch(
        &dir.join("epochs.parquet"),
        &epochs_batch(&out.epochs),
        &prov,
    )
    .unwrap();
    let data = pfr_data(&out);
    let rows = gap_rows(
        &def,
        def.waterfall.as_ref().unwrap(),
        &data,
        &CkmSource::Dir("data/x/ckm".into()),
    );
    gap_table(&rows, data.last_epoch)
        .write(&dir.join("gap.parquet"), &prov)
        .unwrap();
    let text = render(tmp.path()).unwrap();
    for want in [
        "| B | `sd-uscb:sensing=perfect,cbar=1e6` | oracle (true paths) | 25.000 ± ",
        "| C | `sd-uscb` | built (data/x/ckm) |",
        "| **total: C − A** | | | | **−5.000 ± ",
        "- The INGREDIENT-B (step *B*) costs 5.000 ± ",
        "- The INGREDIENT-C (step *C*) has no significant effect (Δ = 0 ± ",
        "The largest cost is the INGREDIENT-B: −5.000 ± ",
        "(100% of the total loss −5.000 ± ",
        "Beat F (paired CI above 0): X (+4.000 ± ",
        "Better than C: X (+3.000 ± ",
        "- **C ≈ A** fails: C − A = −5.000 ± ",
        "Most of it is the INGREDIENT-B (−5.000 ± ",
        "- **C ≫ F** ",
    ] {
        assert!(text.contains(want), "lacks `{want}`:\n{text}");
    }
}

const FIG6: &str = r#"
id = "fig6"
kind = "pfr"
title = "A test fig6"
claim = "S beats B"
drops = 2

[[arms]]
label = "S"
scheme = "sd-uscb"

[[arms]]
label = "B"
scheme = "pwmmse"
"#;

/// A user-epoch of `arm` with the tracker's columns as given.
fn user_row(
    arm: &str,
    epoch: u32,
    i: usize,
    error: Option<f64>,
    nees: Option<f64>,
    echo: bool,
    gated: bool,
) -> UserEpochRow {
    UserEpochRow {
        scheme: arm.to_string(),
        drop: (i % 2) as u32,
        epoch,
        bs_id: 0,
        user_id: (i / 2) as u32,
        scheduled: echo,
        sinr_db: None,
        rate_bps_hz: 0.0,
        avg_rate_bps_hz: 0.0,
        location_error_m: error,
        sensing_var_theta: echo.then_some(1e-4),
        constraint_ratio: None,
        constraint_relaxed: false,
        echo_gated: gated,
        location_nees: nees,
    }
}

/// fig6 with a sensed arm S of 11 user-epochs per epoch (2 drops) and an
/// arm B without sensing. Errors per epoch (type-7 p50 / p90 / p99 / max):
/// 1: 0.04·i, i = 0…10 (0.2 / 0.36 / 0.396 / 0.4);
/// 2: 0.15·i (0.75 / 1.35 / 1.485 / 1.5), plus a row without an estimate;
/// 3: 0.08·i for i < 10, then 10 (0.4 / 0.72 / 9.072 / 10).
/// NEES inside the 95% ellipse: 10 of 11 (one exactly at 5.991), 11 of 11,
/// 9 of 11. Echoes: none at epoch 1, 6 later; gated: 2 at epoch 2, 1 at 3.
fn write_tracking_fixture(dir: &Path) {
    let def = Definition::from_toml(FIG6, Path::new("fig6.toml")).unwrap();
    let mut users = Vec::new();
    for i in 0..11 {
        let nees = match i {
            3 => 5.991,
            7 => 7.0,
            _ => 1.0,
        };
        users.push(user_row(
            "S",
            1,
            i,
            Some(0.04 * i as f64),
            Some(nees),
            false,
            false,
        ));
        users.push(user_row(
            "S",
            2,
            i,
            Some(0.15 * i as f64),
            Some(0.5),
            i < 6,
            i < 2,
        ));
        let e3 = if i < 10 { 0.08 * i as f64 } else { 10.0 };
        let n3 = if i < 2 { 30.0 } else { 2.0 };
        users.push(user_row("S", 3, i, Some(e3), Some(n3), i >= 5, i == 10));
        for epoch in 1..=3 {
            users.push(user_row("B", epoch, i, None, None, false, false));
        }
    }
    // A user-epoch without an estimate counts in neither the quantiles nor
    // the coverage.
    users.push(user_row("S", 2, 11, None, None, false, false));
    let fig = dir.join("fig6");
    std::fs::create_dir_all(&fig).unwrap();
    let prov = provenance(&def, &smoke(), 1);
    let epochs = epoch_rows(&[("S", vec![2.0, 3.0]), ("B", vec![1.0, 2.0])]);
    write_batch(&fig.join("epochs.parquet"), &epochs_batch(&epochs), &prov).unwrap();
    write_batch(
        &fig.join("user_epochs.parquet"),
        &user_epochs_batch(&users),
        &prov,
    )
    .unwrap();
}

#[test]
fn the_tracking_section_reports_quantiles_coverage_and_targets() {
    let tmp = tempfile::tempdir().unwrap();
    write_tracking_fixture(tmp.path());
    let text = write_report(tmp.path()).unwrap();
    let section = &text[text
        .find("## Location tracking (fig6)")
        .unwrap_or_else(|| panic!("no tracking section:\n{text}"))..];
    for want in [
        "| 1 | 11 | 0.200 | 0.360 | 0.396 | 0.400 | 90.9% | 0 | 0 |",
        "| 2 | 11 | **0.750** | 1.350 | 1.485 | 1.500 | **100.0%** | 6 | 2 |",
        "| 3 | 11 | 0.400 | 0.720 | **9.072** | 10.000 | **81.8%** | 6 | 1 |",
        "| all | 33 | 0.320 | 1.170 | **7.280** | 10.000 | 90.9% | 12 | 3 |",
        "Against the targets: **holds** at every epoch: p90 ≤ 1.5 m (at most 1.350 m, epoch 2). \
         **Missed:** p50 ≤ 0.5 m at 1 of 3 epochs (2), worst at epoch 2: 0.750 m, 0.250 m over \
         (1.50× the target); p99 ≤ 4 m at 1 of 3 epochs (3), worst at epoch 3: 9.072 m, 5.072 m over \
         (2.27× the target); 95%-ellipse coverage within 90–98% at 2 of 3 epochs (2–3), worst at \
         epoch 3: 81.8%, 8.2 points under 90%.",
        "linear interpolation between order statistics",
        "![tracking](fig6/tracking.png)",
    ] {
        assert!(section.contains(want), "lacks `{want}`:\n{section}");
    }
    // The arm without sensing has no table; the summary links the section.
    assert!(!section.contains("### B"), "{section}");
    assert!(text.contains("[location tracking](#location-tracking)"));
    assert!(tmp.path().join("fig6/tracking.png").is_file());
    assert!(tmp.path().join("fig6/tracking.svg").is_file());
}

#[test]
fn without_fig6_there_is_no_tracking_section() {
    let tmp = tempfile::tempdir().unwrap();
    write_fixture(tmp.path(), 1.0);
    let text = render(tmp.path()).unwrap();
    assert!(
        !text.contains("Location tracking") && !text.contains("location-tracking"),
        "{text}"
    );
    // fig6 without its user_epochs.parquet is reported without the section.
    write_tracking_fixture(tmp.path());
    std::fs::remove_file(tmp.path().join("fig6/user_epochs.parquet")).unwrap();
    let text = render(tmp.path()).unwrap();
    assert!(text.contains("## fig6 — "), "{text}");
    assert!(!text.contains("Location tracking"), "{text}");
}
