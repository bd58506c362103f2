//! A radio map of one CKM: every grid cell coloured by its dominant angle of
//! departure or its total recovered power, the CKM-area border, optional
//! cell-region borders and BS sites, and a colour bar.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use sdusc_formats::ckm_file::{CellState, Ckm};

use crate::font::ensure_font;

/// What colours a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapColour {
    /// Angle (from broadside, degrees) of the strongest recovered path.
    DominantAod,
    /// Σ ᾱ of the cell, dB.
    TotalPower,
}

/// A BS marker.
#[derive(Debug, Clone, PartialEq)]
pub struct MapSite {
    pub x_m: f64,
    pub y_m: f64,
    pub label: String,
}

/// How to draw the map.
pub struct MapOptions<'a> {
    pub colour: MapColour,
    pub width: u32,
    pub height: u32,
    pub title: String,
    /// BS sites to mark (the map's own BS is always marked).
    pub sites: Vec<MapSite>,
    /// Which cell region a point belongs to (draws the region borders).
    pub region_of: Option<&'a dyn Fn(f64, f64) -> Option<usize>>,
}

impl std::fmt::Debug for MapOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapOptions")
            .field("colour", &self.colour)
            .field("size", &(self.width, self.height))
            .field("sites", &self.sites)
            .finish()
    }
}

/// Why a map could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: {message}")]
    Draw { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Draw `ckm` to `out` (PNG, or SVG if the name ends in `.svg`), atomically.
pub fn plot_ckm(ckm: &Ckm, opts: &MapOptions<'_>, out: &Path) -> Result<(), PlotError> {
    ensure_font();
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("png")
        .to_ascii_lowercase();
    let tmp = dir.join(format!(".{name}.{}.tmp.{ext}", std::process::id()));
    let err = |e: &dyn std::fmt::Display| PlotError::Draw {
        path: out.to_path_buf(),
        message: e.to_string(),
    };
    let size = (opts.width, opts.height);
    let result = if ext == "svg" {
        draw(&SVGBackend::new(&tmp, size).into_drawing_area(), ckm, opts)
    } else {
        draw(
            &BitMapBackend::new(&tmp, size).into_drawing_area(),
            ckm,
            opts,
        )
    };
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(&e));
    }
    std::fs::rename(&tmp, out).map_err(|source| PlotError::Io {
        path: out.to_path_buf(),
        source,
    })
}

/// Value of cell `c` under `colour` (None: no estimate).
fn cell_value(ckm: &Ckm, c: usize, colour: MapColour) -> Option<f64> {
    if !ckm.states[c].has_estimate() {
        return None;
    }
    let paths = ckm.paths(c);
    match colour {
        MapColour::DominantAod => paths
            .iter()
            .max_by(|a, b| a.power.total_cmp(&b.power))
            .map(|p| ckm.header.bin_angles_rad[p.bin as usize].to_degrees()),
        MapColour::TotalPower => {
            let s: f64 = paths.iter().map(|p| p.power).sum();
            (s > 0.0).then(|| 10.0 * s.log10())
        }
    }
}

/// Viridis-like colour of t ∈ [0, 1].
fn colour_of(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    ckm: &Ckm,
    opts: &MapOptions<'_>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let h = &ckm.header;
    root.fill(&WHITE)?;
    let (main, bar) = root.split_horizontally(opts.width.saturating_sub(110));

    // Data range: the grid plus the sites, padded to keep metres square.
    let mut x0 = h.origin_x_m;
    let mut y0 = h.origin_y_m;
    let mut x1 = h.origin_x_m + h.nx as f64 * h.cell_m;
    let mut y1 = h.origin_y_m + h.ny as f64 * h.cell_m;
    let mut sites = vec![MapSite {
        x_m: h.bs_x_m,
        y_m: h.bs_y_m,
        label: format!("BS {}", h.bs_id),
    }];
    sites.extend(
        opts.sites
            .iter()
            .filter(|s| (s.x_m, s.y_m) != (h.bs_x_m, h.bs_y_m))
            .cloned(),
    );
    for s in &sites {
        x0 = x0.min(s.x_m - 5.0);
        x1 = x1.max(s.x_m + 5.0);
        y0 = y0.min(s.y_m - 5.0);
        y1 = y1.max(s.y_m + 5.0);
    }
    let (pw, ph) = (
        main.dim_in_pixel().0 as f64 - 80.0,
        main.dim_in_pixel().1 as f64 - 90.0,
    );
    let (dx, dy) = (x1 - x0, y1 - y0);
    if dx / dy < pw / ph {
        let extra = dy * pw / ph - dx;
        x0 -= extra / 2.0;
        x1 += extra / 2.0;
    } else {
        let extra = dx * ph / pw - dy;
        y0 -= extra / 2.0;
        y1 += extra / 2.0;
    }

    let values: Vec<Option<f64>> = (0..ckm.num_cells())
        .map(|c| cell_value(ckm, c, opts.colour))
        .collect();
    let (vmin, vmax) = match opts.colour {
        MapColour::DominantAod => {
            let lo = h
                .bin_angles_rad
                .first()
                .copied()
                .unwrap_or(-1.0)
                .to_degrees();
            let hi = h.bin_angles_rad.last().copied().unwrap_or(1.0).to_degrees();
            (lo, hi)
        }
        MapColour::TotalPower => {
            let mut v: Vec<f64> = values.iter().flatten().copied().collect();
            v.sort_unstable_by(f64::total_cmp);
            if v.is_empty() {
                (0.0, 1.0)
            } else {
                // Robust range: 1st…99th percentile.
                let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
                (q(0.01), q(0.99).max(q(0.01) + 1e-9))
            }
        }
    };

    let mut chart = ChartBuilder::on(&main)
        .caption(&opts.title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x (m)")
        .y_desc("y (m)")
        .draw()?;

    // Cells, pixel by pixel (the grid may have far more cells than pixels).
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let base = main.get_base_pixel();
    let (w, hgt) = ((xr.end - xr.start) as usize, (yr.end - yr.start) as usize);
    let mut cell_at = vec![usize::MAX; w * hgt];
    let mut region_at = vec![usize::MAX; w * hgt];
    for py in 0..hgt {
        let y = y1 - (py as f64 + 0.5) / hgt as f64 * (y1 - y0);
        for px in 0..w {
            let x = x0 + (px as f64 + 0.5) / w as f64 * (x1 - x0);
            let fx = ((x - h.origin_x_m) / h.cell_m).floor();
            let fy = ((y - h.origin_y_m) / h.cell_m).floor();
            if fx >= 0.0 && fy >= 0.0 && fx < h.nx as f64 && fy < h.ny as f64 {
                cell_at[py * w + px] = fy as usize * h.nx as usize + fx as usize;
            }
            if let Some(region) = opts.region_of {
                region_at[py * w + px] = region(x, y).unwrap_or(usize::MAX - 1);
            }
        }
    }
    let in_area = |c: usize| c != usize::MAX && ckm.states[c] != CellState::Outside;
    for py in 0..hgt {
        for px in 0..w {
            let c = cell_at[py * w + px];
            let border = |q: usize| in_area(cell_at[q]) != in_area(c);
            let region_border =
                |q: usize| opts.region_of.is_some() && region_at[q] != region_at[py * w + px];
            let right = (px + 1 < w).then(|| py * w + px + 1);
            let down = (py + 1 < hgt).then(|| (py + 1) * w + px);
            let colour = if right.is_some_and(border) || down.is_some_and(border) {
                BLACK
            } else if right.is_some_and(region_border) || down.is_some_and(region_border) {
                RGBColor(110, 110, 110)
            } else if c == usize::MAX || !in_area(c) {
                RGBColor(235, 235, 235)
            } else {
                match values[c] {
                    Some(v) => colour_of((v - vmin) / (vmax - vmin)),
                    None => WHITE,
                }
            };
            main.draw_pixel(
                (xr.start - base.0 + px as i32, yr.start - base.1 + py as i32),
                &colour,
            )?;
        }
    }

    for s in &sites {
        chart.draw_series(std::iter::once(TriangleMarker::new(
            (s.x_m, s.y_m),
            7,
            RED.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            s.label.clone(),
            (s.x_m + 3.0, s.y_m + 3.0),
            ("sans-serif", 14),
        )))?;
    }

    // Colour bar.
    let label = match opts.colour {
        MapColour::DominantAod => "dominant AoD (deg)",
        MapColour::TotalPower => "total power (dB)",
    };
    let mut cb = ChartBuilder::on(&bar)
        .margin_top(40)
        .margin_bottom(45)
        .margin_right(10)
        .y_label_area_size(55)
        .caption(label, ("sans-serif", 12))
        .build_cartesian_2d(0.0..1.0, vmin..vmax)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .y_label_style(("sans-serif", 13))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let steps = 100;
    cb.draw_series((0..steps).map(|i| {
        let a = vmin + (vmax - vmin) * i as f64 / steps as f64;
        let b = vmin + (vmax - vmin) * (i + 1) as f64 / steps as f64;
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            colour_of((i as f64 + 0.5) / steps as f64).filled(),
        )
    }))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sdusc_formats::ckm_file::{ApsPath, CkmHeader};

    use super::*;

    #[test]
    fn draws_a_png_with_both_colourings() {
        let header = CkmHeader {
            bs_id: 0,
            bs_x_m: 0.0,
            bs_y_m: 0.0,
            broadside_rad: 0.0,
            tx_antennas: 8,
            origin_x_m: 10.0,
            origin_y_m: -20.0,
            cell_m: 2.0,
            nx: 20,
            ny: 20,
            max_paths: 2,
            bin_angles_rad: (0..16).map(|i| -1.4 + 0.18 * i as f64).collect(),
            beams: 8,
            tx_power_w: 1.0,
            noise_floor_w: 0.0,
            scenario_hash: String::new(),
            scenario_name: String::new(),
            codebook: "dft".into(),
            tool_version: String::new(),
            provenance: vec![],
        };
        let mut ckm = Ckm::empty(header);
        for c in 0..400 {
            if c % 20 < 15 {
                let p = [ApsPath {
                    bin: (c % 16) as u32,
                    power: 1e-9 * (1 + c) as f64,
                }];
                ckm.set(c, CellState::Measured, &p);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        for (colour, name) in [
            (MapColour::DominantAod, "a.png"),
            (MapColour::TotalPower, "b.svg"),
        ] {
            let out = dir.path().join(name);
            let region = |x: f64, _y: f64| Some(usize::from(x > 30.0));
            let opts = MapOptions {
                colour,
                width: 500,
                height: 400,
                title: "test".into(),
                sites: vec![MapSite {
                    x_m: 60.0,
                    y_m: 0.0,
                    label: "BS 1".into(),
                }],
                region_of: Some(&region),
            };
            plot_ckm(&ckm, &opts, &out).unwrap();
            let bytes = std::fs::read(&out).unwrap();
            assert!(bytes.len() > 1000);
        }
        assert_eq!(
            std::fs::read(dir.path().join("a.png")).unwrap()[..4],
            [0x89, b'P', b'N', b'G']
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temp files left"
        );
    }
}
