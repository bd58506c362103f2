//! Wide per-beam logs (issue 12, item 3): one row per location with one RSRP
//! column per beam, as public 5G testbed logs store them, read by
//! `build-ckm --wide-beams 'BID{b}'` into the same maps as the long layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Float64Array, RecordBatch, UInt16Array};
use sdusc_formats::ckm_file::Ckm;
use sdusc_formats::parquet_io::write_batch;
use sdusc_formats::provenance::Provenance;
use sdusc_formats::rsrp::{RsrpRow, to_batch};

use crate::util::{fails, ok, s, smoke};

/// The smoke scenario with 48 beams.
fn scenario48(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(smoke()).unwrap();
    assert!(text.contains("beams = 16"));
    let path = dir.join("beams48.toml");
    std::fs::write(&path, text.replacen("beams = 16", "beams = 48", 1)).unwrap();
    path
}

/// The long rows of `path` (gen-rsrp's output), in file order.
fn long_rows(path: &Path) -> Vec<RsrpRow> {
    let mut src = sdusc_formats::parquet_io::ParquetSource::open(path).unwrap();
    let mut rows = Vec::new();
    while let Some(b) = src.next_batch() {
        let b = b.unwrap();
        let col = |n| sdusc_formats::parquet_io::column_f64(&b, n, path).unwrap();
        let int = |n| sdusc_formats::parquet_io::column_u64(&b, n, path).unwrap();
        let (bs, x, y, beam, r) = (
            int("bs_id"),
            col("x_m"),
            col("y_m"),
            int("beam_id"),
            col("rsrp_dbm"),
        );
        for i in 0..b.num_rows() {
            rows.push(RsrpRow {
                bs_id: bs[i] as u32,
                x_m: x[i],
                y_m: y[i],
                beam_id: beam[i] as u32,
                rsrp_dbm: r[i],
            });
        }
    }
    rows
}

/// Whether beam `b` of location `i` goes unreported (a UE that skips some
/// beams): a fixed pseudo-random tenth of the samples.
fn unreported(i: usize, b: u32) -> bool {
    (i as u64 * 48 + b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60 < 2
}

/// The same log both ways: long rows without the unreported samples, and a
/// wide table (columns reordered, u16 BS ids, f32 locations) where they are
/// null (even locations) or NaN (odd ones).
fn both_layouts(rows: &[RsrpRow], dir: &Path) -> (PathBuf, PathBuf) {
    // (bs, x bits, y bits) → (first-seen order, RSRP per beam).
    type Location = (usize, Vec<Option<f64>>);
    let mut locations: BTreeMap<(u32, u64, u64), Location> = BTreeMap::new();
    for r in rows {
        let n = locations.len();
        let e = locations
            .entry((r.bs_id, r.x_m.to_bits(), r.y_m.to_bits()))
            .or_insert((n, vec![None; 48]));
        e.1[r.beam_id as usize] = Some(r.rsrp_dbm);
    }
    let mut ordered: Vec<_> = locations.into_iter().collect();
    ordered.sort_by_key(|(_, (n, _))| *n);
    let mut long = Vec::new();
    let mut beams: Vec<Vec<Option<f64>>> = vec![Vec::new(); 48];
    let (mut bs, mut xs, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    for (i, ((b, x, y), (_, rsrp))) in ordered.iter().enumerate() {
        let (x, y) = (f64::from_bits(*x), f64::from_bits(*y));
        bs.push(*b as u16);
        xs.push(x);
        ys.push(y);
        for (beam, v) in rsrp.iter().enumerate() {
            let v = v.expect("gen-rsrp measures every beam");
            if unreported(i, beam as u32) {
                beams[beam].push(if i % 2 == 0 { None } else { Some(f64::NAN) });
            } else {
                beams[beam].push(Some(v));
                long.push(RsrpRow {
                    bs_id: *b,
                    x_m: x,
                    y_m: y,
                    beam_id: beam as u32,
                    rsrp_dbm: v,
                });
            }
        }
    }
    let long_path = dir.join("long.parquet");
    write_batch(&long_path, &to_batch(&long), &Provenance::default()).unwrap();
    let mut cols: Vec<(String, ArrayRef)> = beams
        .into_iter()
        .enumerate()
        .rev()
        .map(|(b, v)| {
            (
                format!("BID{}", b + 1),
                Arc::new(Float64Array::from(v)) as ArrayRef,
            )
        })
        .collect();
    cols.insert(
        10,
        (
            "x_m".into(),
            Arc::new(Float32Array::from_iter_values(xs.iter().map(|&x| x as f32))),
        ),
    );
    cols.push(("y_m".into(), Arc::new(Float64Array::from(ys))));
    cols.insert(0, ("bs_id".into(), Arc::new(UInt16Array::from(bs))));
    let wide_path = dir.join("wide.parquet");
    write_batch(
        &wide_path,
        &RecordBatch::try_from_iter(cols).unwrap(),
        &Provenance::default(),
    )
    .unwrap();
    // The f32 locations must stand for the same cells: smoke cell centres
    // on a 2 m grid are exact in f32.
    assert!(xs.iter().all(|&x| (x as f32) as f64 == x));
    (long_path, wide_path)
}

/// A CKM without the record of its input file (which differs by design).
fn map_of(path: &Path) -> Ckm {
    let mut ckm = Ckm::read(path).unwrap();
    ckm.header
        .provenance
        .retain(|(k, _)| !k.starts_with("rsrp_input."));
    ckm
}

#[test]
fn a_wide_log_builds_the_same_maps_as_its_long_form() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sc = scenario48(d);
    let generated = d.join("rsrp.parquet");
    ok("gen-rsrp", &["--scenario", s(&sc), "--out", s(&generated)]);
    let (long, wide) = both_layouts(&long_rows(&generated), d);
    for missing in ["below-detection", "unknown"] {
        let (a, b) = (
            d.join(format!("long-{missing}")),
            d.join(format!("wide-{missing}")),
        );
        let common = ["--no-truth", "--missing-beams", missing];
        let mut args = vec!["--scenario", s(&sc), "--rsrp", s(&long), "--out-dir", s(&a)];
        args.extend(common);
        ok("build-ckm", &args);
        let mut args = vec!["--scenario", s(&sc), "--rsrp", s(&wide), "--out-dir", s(&b)];
        args.extend(common);
        args.extend(["--wide-beams", "BID{b}"]);
        ok("build-ckm", &args);
        for bs in 0..3 {
            let name = format!("bs{bs}.ckm");
            let (ma, mb) = (map_of(&a.join(&name)), map_of(&b.join(&name)));
            assert!(
                ma.header == mb.header && ma.states == mb.states,
                "{missing} {name}"
            );
            assert!(
                ma.counts == mb.counts && ma.slots == mb.slots,
                "{missing} {name}: maps differ"
            );
        }
        let inspect = ok("ckm", &["inspect", s(&b.join("bs0.ckm"))]);
        assert!(
            inspect.contains("rsrp_input.layout = wide:BID{b}:1"),
            "{inspect}"
        );
    }
    // Numbering from 0 looks for BID0 (the codebook's column 0): refused,
    // naming the column.
    let err = fails(
        "build-ckm",
        &[
            "--scenario",
            s(&sc),
            "--rsrp",
            s(&wide),
            "--out-dir",
            s(&d.join("x")),
            "--wide-beams",
            "BID{b}",
            "--wide-first-beam",
            "0",
        ],
    );
    assert!(err.contains("missing column `BID0`"), "{err}");
}

#[test]
fn wide_logs_are_validated_like_long_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let smoke = smoke();
    let build = |file: &Path, pattern: &str| {
        fails(
            "build-ckm",
            &[
                "--scenario",
                s(&smoke),
                "--rsrp",
                s(file),
                "--out-dir",
                s(&d.join("out")),
                "--wide-beams",
                pattern,
            ],
        )
    };
    let table = |beams: usize, value: &dyn Fn(usize, usize) -> Option<f64>| {
        let rows = 70_000usize;
        let mut cols: Vec<(String, ArrayRef)> = vec![
            (
                "bs_id".into(),
                Arc::new(UInt16Array::from_iter_values(
                    (0..rows).map(|i| (i % 3) as u16),
                )),
            ),
            (
                "x_m".into(),
                Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|i| (i % 50) as f64),
                )),
            ),
            (
                "y_m".into(),
                Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|i| (i / 50) as f64 * 0.1),
                )),
            ),
        ];
        for b in 0..beams {
            cols.push((
                format!("BID{}", b + 1),
                Arc::new(Float64Array::from_iter((0..rows).map(|i| value(i, b)))),
            ));
        }
        RecordBatch::try_from_iter(cols).unwrap()
    };
    let write = |name: &str, batch: &RecordBatch| {
        let path = d.join(name);
        write_batch(&path, batch, &Provenance::default()).unwrap();
        path
    };
    // A beam column missing: named, with the columns the codebook needs.
    let short = write("short.parquet", &table(15, &|_, _| Some(-80.0)));
    let err = build(&short, "BID{b}");
    assert!(
        err.contains("short.parquet") && err.contains("missing column `BID16`"),
        "{err}"
    );
    // +inf at row 69 999 of beam 7, and a value above the ceiling: the column
    // and the absolute row are named, as for the long layout.
    let inf = write(
        "inf.parquet",
        &table(16, &|i, b| {
            Some(if i == 69_999 && b == 6 {
                f64::INFINITY
            } else {
                -80.0
            })
        }),
    );
    let err = build(&inf, "BID{b}");
    assert!(
        err.contains("column `BID7`: 1 of 70000 rows are NaN or infinite (first at row 69999"),
        "{err}"
    );
    let hot = write(
        "hot.parquet",
        &table(16, &|i, b| {
            Some(if i == 5 && b == 0 { 150.0 } else { -80.0 })
        }),
    );
    let err = build(&hot, "BID{b}");
    assert!(
        err.contains("column `BID1`") && err.contains("above 100 dBm") && err.contains("row 5"),
        "{err}"
    );
    // A repeated beam column, and a pattern without `{b}`.
    let mut batch = table(16, &|_, _| Some(-80.0));
    let twice = {
        let mut cols: Vec<(String, ArrayRef)> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .zip(batch.columns().iter().cloned())
            .collect();
        cols.push(("BID3".into(), batch.column(5).clone()));
        batch = RecordBatch::try_from_iter(cols).unwrap();
        write("twice.parquet", &batch)
    };
    let err = build(&twice, "BID{b}");
    assert!(err.contains("column `BID3` appears 2 times"), "{err}");
    let err = build(&short, "BID");
    assert!(err.contains("expected `{b}` exactly once"), "{err}");
    assert!(!d.join("out").exists());
}
