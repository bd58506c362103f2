//! The report generator on a fixed small Parquet input: the verdict follows
//! the numbers in the file, and nothing else; folders that are not
//! experiments are left out; the gap section's sentences follow its Δs.

use std::path::Path;

use sdusc_experiments::Definition;
use sdusc_experiments::gap::{gap_rows, gap_table};
use sdusc_experiments::inputs::CkmSource;
use sdusc_experiments::report::render;
use sdusc_experiments::runs::{pfr_data, provenance};
use sdusc_formats::metrics::{EpochRow, epochs_batch};
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
