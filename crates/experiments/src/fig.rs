//! The one plotting path of every figure: line charts with 95% CI bands and
//! grouped bar charts with CI whiskers, drawn once per backend (PNG + SVG)
//! with the embedded DejaVu Sans (no system font needed).

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{ExperimentError, Result};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const SIZE: (u32, u32) = (960, 640);
const FONT_NAME: &str = "sans-serif";

/// Register the embedded font with plotters (idempotent).
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded file is a valid TTF; a failure here would be a build defect.
        let _ = plotters::style::register_font(FONT_NAME, FontStyle::Normal, FONT);
    });
}

/// Distinguishable colours (Okabe–Ito).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// One curve: mean per x with an optional 95% CI band.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// (low, high) of the CI per x.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
}

/// A line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// One bar group (e.g. one problem size) of a bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    pub label: String,
    /// (mean, CI half-width) per bar, in the order of [`BarChart::bars`].
    pub values: Vec<(f64, f64)>,
}

/// A grouped bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub bars: Vec<String>,
    pub groups: Vec<BarGroup>,
}

/// Either kind of figure.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Line(LineChart),
    Bar(BarChart),
}

/// Write `<stem>.png` and `<stem>.svg`; returns both paths.
pub fn save(fig: &Figure, stem: &Path) -> Result<(PathBuf, PathBuf)> {
    ensure_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |message: String| ExperimentError::Figure {
            path: path.clone(),
            message,
        }
    };
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        draw(fig, &root).map_err(err(&png))?;
        root.present().map_err(|e| err(&png)(e.to_string()))?;
    }
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        draw(fig, &root).map_err(err(&svg))?;
        root.present().map_err(|e| err(&svg)(e.to_string()))?;
    }
    Ok((png, svg))
}

fn draw<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match fig {
        Figure::Line(c) => draw_line(c, root),
        Figure::Bar(c) => draw_bar(c, root),
    }
}

/// An axis tick: integers without decimals, others with 3 significant digits.
fn tick(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 * x.abs().max(1.0) {
        format!("{}", x.round() as i64)
    } else {
        crate::stats::sig(x)
    }
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let pad = if hi > lo {
        0.06 * (hi - lo)
    } else {
        0.5_f64.max(lo.abs() * 0.05)
    };
    (lo - pad, hi + pad)
}

fn draw_line<DB: DrawingBackend>(
    c: &LineChart,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let xs = c.series.iter().flat_map(|s| s.x.iter().copied());
    let ys = c.series.iter().flat_map(|s| {
        s.y.iter().copied().chain(
            s.band
                .iter()
                .flat_map(|(l, h)| l.iter().chain(h.iter()).copied()),
        )
    });
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (y0, y1) = ys
        .filter(|y| y.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    let (x0, x1) = if x1 > x0 { (x0, x1) } else { padded(x0, x1) };
    let (y0, y1) = padded(y0, y1);
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, (FONT_NAME, 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(&c.x_label)
        .y_desc(&c.y_label)
        .x_label_formatter(&|x: &f64| tick(*x))
        .y_label_formatter(&|y: &f64| tick(*y))
        .label_style((FONT_NAME, 15))
        .axis_desc_style((FONT_NAME, 17))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;
    for (i, s) in c.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        if let Some((lo, hi)) = &s.band {
            let poly: Vec<(f64, f64)> =
                s.x.iter()
                    .zip(hi)
                    .map(|(x, y)| (*x, *y))
                    .chain(s.x.iter().zip(lo).rev().map(|(x, y)| (*x, *y)))
                    .filter(|p| p.1.is_finite())
                    .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    color.mix(0.18).filled(),
                )))
                .map_err(e)?;
        }
        let pts: Vec<(f64, f64)> = s.x.iter().copied().zip(s.y.iter().copied()).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(e)?
            .label(&s.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT_NAME, 15))
        .draw()
        .map_err(e)?;
    Ok(())
}

fn draw_bar<DB: DrawingBackend>(
    c: &BarChart,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let ymax = c
        .groups
        .iter()
        .flat_map(|g| g.values.iter().map(|(m, h)| m + h))
        .filter(|y| y.is_finite())
        .fold(0.0_f64, f64::max);
    let ng = c.groups.len().max(1);
    let nb = c.bars.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, (FONT_NAME, 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..ng as f64, 0.0..(ymax * 1.15).max(1e-9))
        .map_err(e)?;
    let labels: Vec<String> = c.groups.iter().map(|g| g.label.clone()).collect();
    chart
        .configure_mesh()
        .x_desc(&c.x_label)
        .y_desc(&c.y_label)
        .x_labels(ng * 2 + 1)
        .x_label_formatter(&|x: &f64| {
            let i = (x - 0.5).round();
            if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .disable_x_mesh()
        .label_style((FONT_NAME, 15))
        .axis_desc_style((FONT_NAME, 17))
        .draw()
        .map_err(e)?;
    let width = 0.8 / nb as f64;
    for (b, name) in c.bars.iter().enumerate() {
        let color = PALETTE[b % PALETTE.len()];
        let rects: Vec<_> = c
            .groups
            .iter()
            .enumerate()
            .filter_map(|(g, grp)| {
                let (m, _) = *grp.values.get(b)?;
                let x = g as f64 + 0.1 + b as f64 * width;
                Some(Rectangle::new(
                    [(x, 0.0), (x + width * 0.92, m)],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(e)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled()));
        for (g, grp) in c.groups.iter().enumerate() {
            let Some(&(m, h)) = grp.values.get(b) else {
                continue;
            };
            let x = g as f64 + 0.1 + (b as f64 + 0.46) * width;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, m - h), (x, m + h)],
                    BLACK.stroke_width(2),
                )))
                .map_err(e)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    crate::stats::sig(m),
                    (x - width * 0.3, m + h + ymax * 0.02),
                    (FONT_NAME, 13),
                )))
                .map_err(e)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT_NAME, 15))
        .draw()
        .map_err(e)?;
    Ok(())
}
