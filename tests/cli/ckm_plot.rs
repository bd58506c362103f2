//! `ckm export`'s angle columns and `ckm plot`'s modes on a CKM written
//! here: measured and filled cells must never look alike.

use std::path::Path;

use sdusc_formats::ckm_file::{ApsPath, CellState, Ckm, CkmHeader};
use sdusc_formats::parquet_io::{ParquetSource, column_f64};

use crate::util::{self, s};

/// A 30 × 20 CKM: cells with ix < 15 measured, the others filled, paths
/// spread over the bins; `all_measured` relabels every filled cell.
fn write_ckm(path: &Path, all_measured: bool) -> Ckm {
    let header = CkmHeader {
        bs_id: 0,
        bs_x_m: 0.0,
        bs_y_m: 0.0,
        broadside_rad: 0.0,
        tx_antennas: 8,
        origin_x_m: 20.0,
        origin_y_m: -30.0,
        cell_m: 2.0,
        nx: 30,
        ny: 20,
        max_paths: 2,
        bin_angles_rad: (0..32).map(|i| -1.5 + 0.095 * i as f64).collect(),
        beams: 8,
        tx_power_w: 1.0,
        noise_floor_w: 0.0,
        scenario_hash: String::new(),
        scenario_name: "test".into(),
        codebook: "dft".into(),
        tool_version: String::new(),
        provenance: vec![],
    };
    let mut ckm = Ckm::empty(header);
    for c in 0..600 {
        let state = if all_measured || c % 30 < 15 {
            CellState::Measured
        } else {
            CellState::Filled
        };
        let paths = [
            ApsPath {
                bin: (c % 32) as u32,
                power: 1e-9 * (1 + c % 7) as f64,
            },
            ApsPath {
                bin: ((c * 7) % 32) as u32,
                power: 1e-10,
            },
        ];
        ckm.set(c, state, &paths);
    }
    ckm.write(path).unwrap();
    ckm
}

fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let be = |o: usize| u32::from_be_bytes(b[o..o + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn export_writes_theta_rad_beside_theta_deg() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bs0.ckm");
    let ckm = write_ckm(&file, false);
    let out = dir.path().join("cells.parquet");
    util::ok("ckm", &["export", s(&file), "--out", s(&out)]);
    let mut src = ParquetSource::open(&out).unwrap();
    let names: Vec<String> = src
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let deg_at = names.iter().position(|n| n == "theta_deg").unwrap();
    assert_eq!(names[deg_at + 1], "theta_rad", "{names:?}");
    let batch = src.next_batch().unwrap().unwrap();
    let deg = column_f64(&batch, "theta_deg", Path::new("e")).unwrap();
    let rad = column_f64(&batch, "theta_rad", Path::new("e")).unwrap();
    let bins = column_f64(&batch, "bin", Path::new("e")).unwrap();
    assert_eq!(rad.len(), 1200);
    for i in 0..rad.len() {
        assert!(
            (rad[i] - deg[i] * std::f64::consts::PI / 180.0).abs() <= 1e-12 * rad[i].abs().max(1.0),
            "row {i}: {} rad vs {} deg",
            rad[i],
            deg[i]
        );
        assert_eq!(rad[i], ckm.header.bin_angles_rad[bins[i] as usize]);
    }
}

#[test]
fn plot_modes_tell_measured_from_filled_cells() {
    let dir = tempfile::tempdir().unwrap();
    let mixed = dir.path().join("mixed.ckm");
    let measured = dir.path().join("measured.ckm");
    write_ckm(&mixed, false);
    write_ckm(&measured, true);
    let plot = |file: &Path, mode: &str, name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "plot",
            s(file),
            "--out",
            s(&out),
            "--mode",
            mode,
            "--width",
            "640",
            "--height",
            "480",
        ];
        args.extend_from_slice(extra);
        util::ok("ckm", &args);
        assert_eq!(png_size(&out), (640, 480), "{name}");
        std::fs::read(&out).unwrap()
    };
    for mode in ["aod", "power", "measured"] {
        let a = plot(&mixed, mode, &format!("mixed-{mode}.png"), &[]);
        let b = plot(&measured, mode, &format!("measured-{mode}.png"), &[]);
        assert_ne!(a, b, "--mode {mode}: filled cells drawn like measured ones");
    }
    // The modes draw different maps; the scenario adds its sites and cell borders.
    let aod = plot(&mixed, "aod", "a.png", &[]);
    let state = plot(&mixed, "measured", "m.png", &[]);
    assert_ne!(aod, state);
    let with_sites = plot(
        &mixed,
        "measured",
        "s.png",
        &["--scenario", s(&util::smoke())],
    );
    assert_ne!(state, with_sites);
    // The old flag name still works.
    util::ok(
        "ckm",
        &[
            "plot",
            s(&mixed),
            "--out",
            s(&dir.path().join("c.png")),
            "--colour",
            "power",
        ],
    );
    let err = util::fails(
        "ckm",
        &[
            "plot",
            s(&mixed),
            "--out",
            s(&dir.path().join("x.png")),
            "--mode",
            "state",
        ],
    );
    assert!(
        err.contains("aod") && err.contains("power") && err.contains("measured"),
        "{err}"
    );
}

/// Pixels of `png` in colour `rgb`.
fn count_colour(png: &Path, rgb: [u8; 3]) -> usize {
    let decoder = png::Decoder::new(std::fs::File::open(png).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("{}: colour type {other:?}", png.display()),
    };
    buf[..info.buffer_size()]
        .chunks_exact(step)
        .filter(|p| p[..3] == rgb)
        .count()
}

#[test]
fn cell_borders_are_drawn_only_where_the_cells_define_the_area() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bs0.ckm");
    write_ckm(&file, false);
    // Two sites 100 m apart: their cell border (x = 50 m) crosses the map.
    let scenario = |area: &str| {
        let path = dir.path().join(format!("{area}.toml"));
        std::fs::write(
            &path,
            format!(
                "name = \"two\"\n[network]\nsites = [\n  {{ x_m = 0.0, y_m = 0.0, broadside_deg = 0.0 }},\n  \
                 {{ x_m = 100.0, y_m = 0.0, broadside_deg = 180.0 }},\n]\ntx_antennas = 8\npower_dbm = 36.0\n\
                 carrier_ghz = 28.0\ncell_radius_m = 200.0\n[ckm]\ngrid_m = 2.0\nbeams = 8\narea = \"{area}\"\n"
            ),
        )
        .unwrap();
        path
    };
    let border = |area: &str| {
        let out = dir.path().join(format!("{area}.png"));
        util::ok(
            "ckm",
            &[
                "plot",
                s(&file),
                "--out",
                s(&out),
                "--scenario",
                s(&scenario(area)),
            ],
        );
        count_colour(&out, [200, 0, 80])
    };
    assert!(
        border("cells") > 50,
        "area = \"cells\": the cell border is drawn"
    );
    assert_eq!(
        border("data"),
        0,
        "area = \"data\": the scenario's cells are not the map's"
    );
}
