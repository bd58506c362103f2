//! The report generator on a fixed small Parquet input: the verdict follows
//! the numbers in the file, and nothing else.

use std::path::Path;

use sdusc_experiments::Definition;
use sdusc_experiments::report::render;
use sdusc_experiments::runs::provenance;
use sdusc_formats::metrics::{EpochRow, epochs_batch};
use sdusc_formats::parquet_io::write_batch;
use sdusc_model::Scenario;

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

/// epochs.parquet of figx: A − B = `gap` at every drop (± a small wiggle).
fn write_fixture(dir: &Path, gap: f64) {
    let def = Definition::from_toml(DEF, Path::new("figx.toml")).unwrap();
    let base = Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke").unwrap();
    let mut rows = Vec::new();
    for (drop, wiggle) in [(0u32, 0.1), (1, -0.1), (2, 0.05)] {
        for epoch in 1..=2u32 {
            for (arm, pfr) in [
                ("A", 10.0 * drop as f64 + gap + wiggle),
                ("B", 10.0 * drop as f64),
            ] {
                rows.push(EpochRow {
                    scheme: arm.into(),
                    drop,
                    epoch,
                    accumulated_pfr: pfr,
                    sum_rate_bps_hz: 1.0,
                    users_unserved: 0,
                    backhaul_bytes: if arm == "A" { 432 } else { 0 },
                    mean_location_error_m: (arm == "A").then_some(3.0),
                    relaxed_constraints: 0,
                });
            }
        }
    }
    std::fs::create_dir_all(dir.join("figx")).unwrap();
    write_batch(
        &dir.join("figx/epochs.parquet"),
        &epochs_batch(&rows),
        &provenance(&def, &base, 1),
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
