//! A radio map of one CKM: every grid cell coloured by its dominant angle of
//! departure, its total recovered power or its state; cells whose APS was
//! copied from the nearest measured cell (filled) drawn paler and hatched,
//! so measurements and fill never look alike; the CKM-area border, the
//! cell-region borders and every BS (given the scenario), a colour bar and a
//! legend of the cell states.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use sdusc_formats::ckm_file::{CellState, Ckm};

use crate::PlotError;
use crate::font::{FONT_NAME, ensure_font};

/// What colours a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapColour {
    /// Angle (from broadside, degrees) of the strongest recovered path.
    DominantAod,
    /// Σ ᾱ of the cell, dB.
    TotalPower,
    /// The cell's state: measured, filled, empty.
    Measured,
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
    /// BS sites to mark (the map's own BS is always marked, in red).
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
        draw(&SVGBackend::new(&tmp, size).into_drawing_area(), ckm, opts).map(|_| ())
    } else {
        draw(
            &BitMapBackend::new(&tmp, size).into_drawing_area(),
            ckm,
            opts,
        )
        .map(|_| ())
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

/// Value of cell `c` under `colour` (None: no estimate, or the state map).
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
        MapColour::Measured => None,
    }
}

/// Colours of the state map and of the grid outside the CKM area.
const MEASURED: RGBColor = RGBColor(0, 90, 160);
const FILLED: RGBColor = RGBColor(160, 200, 230);
const OUTSIDE: RGBColor = RGBColor(235, 235, 235);
const CELL_BORDER: RGBColor = RGBColor(200, 0, 80);

/// `c` as a filled cell shows it: mixed 55% towards white.
pub fn paler(c: RGBColor) -> RGBColor {
    let m = |x: u8| (f64::from(x) + (255.0 - f64::from(x)) * 0.55).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// Whether pixel (px, py) lies on the hatching of filled cells (diagonal
/// lines 7 pixels apart).
fn hatched(px: usize, py: usize) -> bool {
    (px + py).is_multiple_of(7)
}

/// The data frame of a drawn map: its pixel rectangle (absolute) and the
/// metres it spans, to find a point's pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct MapFrame {
    pub columns: std::ops::Range<i32>,
    pub rows: std::ops::Range<i32>,
    pub x_m: (f64, f64),
    pub y_m: (f64, f64),
}

impl MapFrame {
    /// The pixel showing the point (x, y) in metres.
    pub fn pixel(&self, x: f64, y: f64) -> (i32, i32) {
        let (w, h) = (
            f64::from(self.columns.end - self.columns.start),
            f64::from(self.rows.end - self.rows.start),
        );
        let px = ((x - self.x_m.0) / (self.x_m.1 - self.x_m.0) * w).floor() as i32;
        let py = ((self.y_m.1 - y) / (self.y_m.1 - self.y_m.0) * h).floor() as i32;
        (self.columns.start + px, self.rows.start + py)
    }
}

/// Draw `ckm` into an RGB buffer of `opts.width × opts.height` as the PNG
/// shows it; returns the buffer and the map's frame (for tests).
pub fn render_rgb(ckm: &Ckm, opts: &MapOptions<'_>) -> Result<(Vec<u8>, MapFrame), PlotError> {
    ensure_font();
    let mut buf = vec![0u8; opts.width as usize * opts.height as usize * 3];
    let frame = draw(
        &BitMapBackend::with_buffer(&mut buf, (opts.width, opts.height)).into_drawing_area(),
        ckm,
        opts,
    )
    .map_err(|e| PlotError::Draw {
        path: PathBuf::from("<memory>"),
        message: e.to_string(),
    })?;
    Ok((buf, frame))
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

/// Height of the legend row under the map.
const LEGEND_H: u32 = 56;
/// Height of one row of the legend.
const LEGEND_ROW: i32 = 24;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    ckm: &Ckm,
    opts: &MapOptions<'_>,
) -> Result<MapFrame, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let h = &ckm.header;
    root.fill(&WHITE)?;
    let (upper, legend) = root.split_vertically(opts.height.saturating_sub(LEGEND_H));
    let bar_w = if opts.colour == MapColour::Measured {
        0
    } else {
        110
    };
    let (main, bar) = upper.split_horizontally(opts.width.saturating_sub(bar_w));

    // Data range: the grid plus the sites, padded to keep metres square.
    let x0 = h.origin_x_m;
    let y0 = h.origin_y_m;
    let x1 = h.origin_x_m + h.nx as f64 * h.cell_m;
    let y1 = h.origin_y_m + h.ny as f64 * h.cell_m;
    let own = MapSite {
        x_m: h.bs_x_m,
        y_m: h.bs_y_m,
        label: format!("BS {} (this CKM)", h.bs_id),
    };
    let others: Vec<MapSite> = opts
        .sites
        .iter()
        .filter(|s| (s.x_m, s.y_m) != (h.bs_x_m, h.bs_y_m))
        .cloned()
        .collect();
    let (x0, x1, y0, y1) = square_range(
        (x0, x1, y0, y1),
        others.iter().chain(std::iter::once(&own)),
        main.dim_in_pixel(),
    );

    let values: Vec<Option<f64>> = (0..ckm.num_cells())
        .map(|c| cell_value(ckm, c, opts.colour))
        .collect();
    let (vmin, vmax) = value_range(ckm, &values, opts.colour);

    let mut chart = ChartBuilder::on(&main)
        .caption(&opts.title, (FONT_NAME, 18))
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
            // Cell borders two pixels wide (this pixel's neighbours on all
            // four sides) and dashed, so they read apart from the area border.
            let left = (px > 0).then(|| py * w + px - 1);
            let up = (py > 0).then(|| (py - 1) * w + px);
            let on_region_border = [right, down, left, up]
                .into_iter()
                .any(|q| q.is_some_and(region_border));
            let colour = if right.is_some_and(border) || down.is_some_and(border) {
                BLACK
            } else if on_region_border && (px + py) / 5 % 2 == 0 {
                CELL_BORDER
            } else if c == usize::MAX || !in_area(c) {
                OUTSIDE
            } else {
                cell_colour(ckm, opts.colour, values[c], (vmin, vmax), c, (px, py))
            };
            main.draw_pixel(
                (xr.start - base.0 + px as i32, yr.start - base.1 + py as i32),
                &colour,
            )?;
        }
    }

    let label_font = TextStyle::from((FONT_NAME, 14).into_font());
    draw_sites(&mut chart, &main, &others, &own, &label_font)?;

    draw_legend(&legend, ckm, opts, &label_font)?;
    if bar_w > 0 {
        colour_bar(&bar, opts.colour, vmin, vmax)?;
    }
    root.present()?;
    Ok(MapFrame {
        columns: xr,
        rows: yr,
        x_m: (x0, x1),
        y_m: (y0, y1),
    })
}

/// The metres drawn: the grid `(x0, x1, y0, y1)` and every site, padded, and
/// widened to the plot's aspect so a metre is as wide as it is tall.
fn square_range<'a>(
    (mut x0, mut x1, mut y0, mut y1): (f64, f64, f64, f64),
    sites: impl Iterator<Item = &'a MapSite>,
    dim: (u32, u32),
) -> (f64, f64, f64, f64) {
    let dim = (f64::from(dim.0), f64::from(dim.1));
    let pad = 0.04 * (x1 - x0).max(y1 - y0);
    for s in sites {
        x0 = x0.min(s.x_m - pad);
        x1 = x1.max(s.x_m + pad);
        y0 = y0.min(s.y_m - pad);
        y1 = y1.max(s.y_m + pad);
    }
    let (pw, ph) = (dim.0 - 80.0, dim.1 - 90.0);
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
    (x0, x1, y0, y1)
}

/// The colour scale's range: the dictionary's angles, the 1st…99th
/// percentile of the total power, or [0, 1] for the state map.
fn value_range(ckm: &Ckm, values: &[Option<f64>], colour: MapColour) -> (f64, f64) {
    match colour {
        MapColour::DominantAod => {
            let lo = ckm
                .header
                .bin_angles_rad
                .first()
                .copied()
                .unwrap_or(-1.0)
                .to_degrees();
            let hi = ckm
                .header
                .bin_angles_rad
                .last()
                .copied()
                .unwrap_or(1.0)
                .to_degrees();
            (lo, hi)
        }
        MapColour::TotalPower => {
            let mut v: Vec<f64> = values.iter().flatten().copied().collect();
            v.sort_unstable_by(f64::total_cmp);
            if v.is_empty() {
                (0.0, 1.0)
            } else {
                // Robust range: 1st…99th percentile.
                let q = |p: f64| sdusc_stats::quantile(&v, p);
                (q(0.01), q(0.99).max(q(0.01) + 1e-9))
            }
        }
        MapColour::Measured => (0.0, 1.0),
    }
}

/// The colour of in-area cell `c` at pixel `(px, py)`: full for measured
/// cells, paler with hatching for filled ones (flat in the state map).
fn cell_colour(
    ckm: &Ckm,
    colour: MapColour,
    value: Option<f64>,
    (vmin, vmax): (f64, f64),
    c: usize,
    (px, py): (usize, usize),
) -> RGBColor {
    let state = ckm.states[c];
    let full = match colour {
        MapColour::Measured => match state {
            CellState::Measured => Some(MEASURED),
            CellState::Filled => Some(FILLED),
            _ => None,
        },
        _ => value.map(|v| colour_of((v - vmin) / (vmax - vmin))),
    };
    match (full, state) {
        (None, _) => WHITE,
        (Some(col), CellState::Filled) if colour != MapColour::Measured => {
            if hatched(px, py) {
                col
            } else {
                paler(col)
            }
        }
        (Some(col), _) => col,
    }
}

/// Sites: the map's own BS in red, the others in black, each labelled on a
/// white box so the label reads over any cell colour.
fn draw_sites<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    main: &DrawingArea<DB, Shift>,
    others: &[MapSite],
    own: &MapSite,
    label_font: &TextStyle<'_>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let base = main.get_base_pixel();
    for (s, colour) in others
        .iter()
        .map(|s| (s, BLACK))
        .chain(std::iter::once((own, RED)))
    {
        // A white halo, then the marker.
        chart.draw_series(std::iter::once(TriangleMarker::new(
            (s.x_m, s.y_m),
            11,
            WHITE.filled(),
        )))?;
        chart.draw_series(std::iter::once(TriangleMarker::new(
            (s.x_m, s.y_m),
            8,
            colour.filled(),
        )))?;
        let (px, py) = chart.backend_coord(&(s.x_m, s.y_m));
        let (tw, th) = main.estimate_text_size(&s.label, label_font)?;
        let (tx, ty) = (px + 9 - base.0, py - 22 - base.1);
        main.draw(&Rectangle::new(
            [(tx - 2, ty - 1), (tx + tw as i32 + 2, ty + th as i32 + 2)],
            WHITE.mix(0.85).filled(),
        ))?;
        main.draw(&Text::new(
            s.label.clone(),
            (tx, ty),
            label_font.color(&colour),
        ))?;
    }
    Ok(())
}

/// The legend row: the cell states as drawn (with their counts), the
/// borders.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    ckm: &Ckm,
    opts: &MapOptions<'_>,
    font: &TextStyle,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let n = ckm.state_counts();
    let (full, pale) = match opts.colour {
        MapColour::Measured => (MEASURED, FILLED),
        _ => (colour_of(0.55), paler(colour_of(0.55))),
    };
    let filled_text = match opts.colour {
        MapColour::Measured => format!(
            "filled: APS copied from the nearest measured cell ({} cells)",
            n[CellState::Filled as usize]
        ),
        _ => format!(
            "filled: nearest measured cell's APS, paler and hatched ({} cells)",
            n[CellState::Filled as usize]
        ),
    };
    let mut entries: Vec<(Option<RGBColor>, Option<RGBColor>, String)> = vec![
        (
            Some(full),
            None,
            format!("measured ({} cells)", n[CellState::Measured as usize]),
        ),
        // The state map draws filled cells in a flat colour of their own, so
        // its swatch is flat too; the value maps hatch them.
        (
            Some(pale),
            (opts.colour != MapColour::Measured).then_some(full),
            filled_text,
        ),
    ];
    if n[CellState::Empty as usize] > 0 {
        entries.push((
            Some(WHITE),
            None,
            format!("no estimate ({})", n[CellState::Empty as usize]),
        ));
    }
    entries.push((Some(OUTSIDE), None, "outside the CKM area".into()));
    let text = font.pos(Pos::new(HPos::Left, VPos::Center));
    let width = area.dim_in_pixel().0 as i32;
    // Entries left to right, wrapping to a second row.
    let (mut x, mut y) = (60, LEGEND_ROW / 2 + 2);
    let mut place = |label: &str| -> Result<(i32, i32), Box<dyn std::error::Error>> {
        let (tw, _) = area.estimate_text_size(label, font)?;
        let w = 30 + tw as i32 + 24;
        if x + w > width && x > 60 {
            x = 60;
            y += LEGEND_ROW;
        }
        let at = (x, y);
        x += w;
        Ok(at)
    };
    for (fill, hatch, label) in entries {
        let (x, y) = place(&label)?;
        if let Some(f) = fill {
            area.draw(&Rectangle::new([(x, y - 8), (x + 24, y + 8)], f.filled()))?;
        }
        if let Some(hc) = hatch {
            // Diagonals from bottom left to top right, clipped to the swatch.
            for k in (0..40).step_by(7) {
                let (a, b) = ((x + k - 16).max(x), (x + k).min(x + 24));
                if b > a {
                    area.draw(&PathElement::new(
                        vec![
                            (a, y + 8 - (a - (x + k - 16))),
                            (b, y + 8 - (b - (x + k - 16))),
                        ],
                        hc,
                    ))?;
                }
            }
        }
        area.draw(&Rectangle::new(
            [(x, y - 8), (x + 24, y + 8)],
            RGBColor(120, 120, 120),
        ))?;
        area.draw(&Text::new(label, (x + 30, y), text.clone()))?;
    }
    // The two kinds of border.
    let mut borders = vec![(BLACK, false, "CKM-area border")];
    if opts.region_of.is_some() {
        borders.push((CELL_BORDER, true, "cell borders (scenario)"));
    }
    for (colour, dashed, label) in borders {
        let (x, y) = place(label)?;
        for k in 0..4 {
            if !dashed || k % 2 == 0 {
                area.draw(&PathElement::new(
                    vec![(x + 6 * k, y), (x + 6 * k + 6, y)],
                    colour.stroke_width(2),
                ))?;
            }
        }
        area.draw(&Text::new(label, (x + 30, y), text.clone()))?;
    }
    Ok(())
}

/// The colour bar of the AoD and power maps.
fn colour_bar<DB: DrawingBackend>(
    bar: &DrawingArea<DB, Shift>,
    colour: MapColour,
    vmin: f64,
    vmax: f64,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let label = match colour {
        MapColour::DominantAod => "dominant AoD (deg)",
        _ => "total power (dB)",
    };
    let mut cb = ChartBuilder::on(bar)
        .margin_top(40)
        .margin_bottom(45)
        .margin_right(10)
        .y_label_area_size(55)
        .caption(label, (FONT_NAME, 12))
        .build_cartesian_2d(0.0..1.0, vmin..vmax)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .y_label_style((FONT_NAME, 13))
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use sdusc_formats::ckm_file::{ApsPath, CkmHeader};

    use super::*;

    fn header() -> CkmHeader {
        CkmHeader {
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
        }
    }

    /// Left half (ix < 10) measured, right half filled, every cell the same
    /// single path (bin 5), so only the state tells them apart.
    fn halves() -> Ckm {
        let mut ckm = Ckm::empty(header());
        for c in 0..400 {
            let state = if c % 20 < 10 {
                CellState::Measured
            } else {
                CellState::Filled
            };
            ckm.set(
                c,
                state,
                &[ApsPath {
                    bin: 5,
                    power: 1e-9,
                }],
            );
        }
        ckm
    }

    fn opts<'a>(
        colour: MapColour,
        region: Option<&'a dyn Fn(f64, f64) -> Option<usize>>,
    ) -> MapOptions<'a> {
        MapOptions {
            colour,
            width: 500,
            height: 400,
            title: "test".into(),
            sites: vec![MapSite {
                x_m: 60.0,
                y_m: 0.0,
                label: "BS 1".into(),
            }],
            region_of: region,
        }
    }

    fn at(buf: &[u8], w: u32, (x, y): (i32, i32)) -> RGBColor {
        let i = (y as usize * w as usize + x as usize) * 3;
        RGBColor(buf[i], buf[i + 1], buf[i + 2])
    }

    /// Colours of the 5 × 5 pixels around the centre of cell (ix, iy).
    fn around(buf: &[u8], f: &MapFrame, ix: usize, iy: usize) -> Vec<RGBColor> {
        let (cx, cy) = f.pixel(10.0 + 2.0 * ix as f64 + 1.0, -20.0 + 2.0 * iy as f64 + 1.0);
        (-2..=2)
            .flat_map(|dy| (-2..=2).map(move |dx| (cx + dx, cy + dy)))
            .map(|p| at(buf, 500, p))
            .collect()
    }

    #[test]
    fn filled_cells_are_paler_and_hatched_measured_cells_full() {
        let ckm = halves();
        let (buf, f) = render_rgb(&ckm, &opts(MapColour::DominantAod, None)).unwrap();
        assert_eq!(buf.len(), 500 * 400 * 3);
        let h = &ckm.header;
        let t = (h.bin_angles_rad[5] - h.bin_angles_rad[0])
            / (h.bin_angles_rad[15] - h.bin_angles_rad[0]);
        let full = colour_of(t);
        let measured = around(&buf, &f, 4, 10);
        assert!(measured.iter().all(|c| *c == full), "{measured:?}");
        let filled = around(&buf, &f, 15, 10);
        let pale = filled.iter().filter(|c| **c == paler(full)).count();
        let hatch = filled.iter().filter(|c| **c == full).count();
        assert_eq!(pale + hatch, 25, "{filled:?}");
        assert!(pale >= 15 && hatch >= 2, "pale {pale}, hatch {hatch}");

        // The state map: one colour per state.
        let (buf, f) = render_rgb(&ckm, &opts(MapColour::Measured, None)).unwrap();
        assert!(around(&buf, &f, 4, 4).iter().all(|c| *c == MEASURED));
        assert!(around(&buf, &f, 15, 4).iter().all(|c| *c == FILLED));
    }

    #[test]
    fn every_site_is_marked_and_cell_borders_drawn() {
        let ckm = halves();
        let region = |x: f64, _y: f64| Some(usize::from(x > 30.0));
        let (buf, f) = render_rgb(&ckm, &opts(MapColour::Measured, Some(&region))).unwrap();
        let near = |x: f64, y: f64, want: RGBColor| {
            let (cx, cy) = f.pixel(x, y);
            (-6..=6).any(|dy| (-6..=6).any(|dx| at(&buf, 500, (cx + dx, cy + dy)) == want))
        };
        assert!(near(0.0, 0.0, RED), "own BS in red");
        assert!(near(60.0, 0.0, BLACK), "the other BS in black");
        // The cell border at x = 30 m, dashed: some of its pixels in the border colour.
        let (bx, _) = f.pixel(30.0, 0.0);
        let border = f
            .rows
            .clone()
            .filter(|y| (bx - 2..=bx + 2).any(|x| at(&buf, 500, (x, *y)) == CELL_BORDER))
            .count();
        assert!(border > 20, "{border} rows with the cell border");
        let (none, _) = render_rgb(&ckm, &opts(MapColour::Measured, None)).unwrap();
        assert!(
            !none
                .chunks(3)
                .any(|p| p == [CELL_BORDER.0, CELL_BORDER.1, CELL_BORDER.2])
        );
    }

    #[test]
    fn draws_a_png_and_an_svg_in_every_mode() {
        let ckm = halves();
        let dir = tempfile::tempdir().unwrap();
        for (colour, name) in [
            (MapColour::DominantAod, "a.png"),
            (MapColour::TotalPower, "b.svg"),
            (MapColour::Measured, "c.png"),
        ] {
            let out = dir.path().join(name);
            let region = |x: f64, _y: f64| Some(usize::from(x > 30.0));
            plot_ckm(&ckm, &opts(colour, Some(&region)), &out).unwrap();
            let bytes = std::fs::read(&out).unwrap();
            if name.ends_with(".png") {
                assert_eq!(bytes[..4], [0x89, b'P', b'N', b'G']);
                let be = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
                assert_eq!((be(16), be(20)), (500, 400));
            } else {
                assert!(String::from_utf8_lossy(&bytes).contains("<svg"));
            }
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temp files left"
        );
    }
}
