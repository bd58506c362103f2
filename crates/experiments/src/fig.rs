//! The one plotting path of every figure: line charts with 95% CI bands,
//! line charts against dashed targets (linear or log y), grouped bar charts
//! with CI whiskers and waterfall charts (floating bars from one level to the
//! next), drawn once per backend (PNG + SVG) with the embedded DejaVu Sans
//! (no system font needed).

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

/// A horizontal target across a [`TargetChart`], dashed, in the colour of the
/// series it bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub label: String,
    pub y: f64,
    /// Index of the series in [`TargetChart::series`] whose colour it takes.
    pub series: usize,
}

/// A line chart of statistics against their targets (e.g. error quantiles
/// per epoch, each with the bound it must stay under).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub targets: Vec<Target>,
    /// Logarithmic y axis (non-positive values are left out).
    pub log_y: bool,
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

/// One bar of a waterfall: floating from `from` to `to`, or, when `from` is
/// `None`, a level bar from the bottom of the axis (the start).
#[derive(Debug, Clone, PartialEq)]
pub struct WaterfallBar {
    /// Category label under the bar (wrapped to the bar's slot).
    pub label: String,
    pub from: Option<f64>,
    pub to: f64,
    /// Half-width of the CI whisker drawn around `to`.
    pub whisker: Option<f64>,
    /// Text beside the bar's end (e.g. "−3.2 ± 1.1").
    pub text: String,
}

/// A waterfall chart: the steps left to right, each from the previous level
/// to its own, dotted connectors between levels; then, after a separator,
/// extra bars from a reference level; a dashed line across for the floor.
#[derive(Debug, Clone, PartialEq)]
pub struct WaterfallChart {
    pub title: String,
    pub y_label: String,
    pub steps: Vec<WaterfallBar>,
    /// Caption under the steps' labels.
    pub steps_heading: String,
    pub extras: Vec<WaterfallBar>,
    /// Caption under the extras' labels.
    pub extras_heading: String,
    /// (legend text, level) of a dashed line across the chart.
    pub floor: Option<(String, f64)>,
    /// Legend text of the whiskers.
    pub whisker_note: String,
}

/// Any kind of figure.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Line(LineChart),
    Target(TargetChart),
    Bar(BarChart),
    Waterfall(WaterfallChart),
}

impl Figure {
    /// The same figure with `f` applied to every text it draws.
    fn map_text(&self, f: &dyn Fn(&str) -> String) -> Figure {
        let bar = |b: &WaterfallBar| WaterfallBar {
            label: f(&b.label),
            text: f(&b.text),
            ..b.clone()
        };
        let series = |v: &[Series]| {
            v.iter()
                .map(|s| Series {
                    label: f(&s.label),
                    ..s.clone()
                })
                .collect()
        };
        match self {
            Figure::Line(c) => Figure::Line(LineChart {
                title: f(&c.title),
                x_label: f(&c.x_label),
                y_label: f(&c.y_label),
                series: series(&c.series),
            }),
            Figure::Target(c) => Figure::Target(TargetChart {
                title: f(&c.title),
                x_label: f(&c.x_label),
                y_label: f(&c.y_label),
                series: series(&c.series),
                targets: c
                    .targets
                    .iter()
                    .map(|t| Target {
                        label: f(&t.label),
                        ..t.clone()
                    })
                    .collect(),
                log_y: c.log_y,
            }),
            Figure::Bar(c) => Figure::Bar(BarChart {
                title: f(&c.title),
                x_label: f(&c.x_label),
                y_label: f(&c.y_label),
                bars: c.bars.iter().map(|b| f(b)).collect(),
                groups: c
                    .groups
                    .iter()
                    .map(|g| BarGroup {
                        label: f(&g.label),
                        ..g.clone()
                    })
                    .collect(),
            }),
            Figure::Waterfall(c) => Figure::Waterfall(WaterfallChart {
                title: f(&c.title),
                y_label: f(&c.y_label),
                steps: c.steps.iter().map(bar).collect(),
                steps_heading: f(&c.steps_heading),
                extras: c.extras.iter().map(bar).collect(),
                extras_heading: f(&c.extras_heading),
                floor: c.floor.as_ref().map(|(l, y)| (f(l), *y)),
                whisker_note: f(&c.whisker_note),
            }),
        }
    }

    /// Pixel size (PNG) and user units (SVG).
    fn size(&self) -> (u32, u32) {
        match self {
            // Room for wrapped category labels, the captions and the legend row.
            Figure::Waterfall(_) => (1280, 760),
            _ => SIZE,
        }
    }
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
        let root = BitMapBackend::new(&png, fig.size()).into_drawing_area();
        draw(&fig.map_text(&bitmap_text), &root).map_err(err(&png))?;
        root.present().map_err(|e| err(&png)(e.to_string()))?;
    }
    {
        let root = SVGBackend::new(&svg, fig.size()).into_drawing_area();
        draw(fig, &root).map_err(err(&svg))?;
        root.present().map_err(|e| err(&svg)(e.to_string()))?;
    }
    Ok((png, svg))
}

/// Text as the bitmap backend must receive it to look right: its glyph
/// renderer draws every glyph from the pen position, so a combining mark
/// (U+0300–U+036F, e.g. the macron of c̄) lands after its base letter; moved
/// before it, the mark is drawn over the letter. (SVG text is laid out by
/// the viewer and keeps the normal order.)
pub fn bitmap_text(text: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(text.len());
    for ch in text.chars() {
        match out.last().copied() {
            Some(base) if ('\u{300}'..='\u{36f}').contains(&ch) => {
                out.pop();
                out.push(ch);
                out.push(base);
            }
            _ => out.push(ch),
        }
    }
    out.into_iter().collect()
}

fn draw<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match fig {
        Figure::Line(c) => draw_line(c, root),
        Figure::Target(c) => draw_target(c, root),
        Figure::Bar(c) => draw_bar(c, root),
        Figure::Waterfall(c) => draw_waterfall(c, root),
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
    draw_curves(&mut chart, &c.series, |_| true)?;
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

/// The series of a line chart on `chart`: CI band (where given), line with
/// markers and a legend entry, colours from [`PALETTE`] in order; points
/// whose y fails `keep` (e.g. non-positive on a log axis) are left out.
fn draw_curves<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    series: &[Series],
    keep: impl Fn(f64) -> bool,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        if let Some((lo, hi)) = &s.band {
            let poly: Vec<(f64, f64)> =
                s.x.iter()
                    .zip(hi)
                    .map(|(x, y)| (*x, *y))
                    .chain(s.x.iter().zip(lo).rev().map(|(x, y)| (*x, *y)))
                    .filter(|p| p.1.is_finite() && keep(p.1))
                    .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    color.mix(0.18).filled(),
                )))
                .map_err(e)?;
        }
        let pts: Vec<(f64, f64)> =
            s.x.iter()
                .copied()
                .zip(s.y.iter().copied())
                .filter(|p| p.1.is_finite() && keep(p.1))
                .collect();
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
    Ok(())
}

/// Width of the legend panel right of a [`TargetChart`]'s plot.
const TARGET_LEGEND_W: u32 = 215;

/// Draw a [`TargetChart`]: the title, the plot, and right of it a legend
/// panel (outside the plot, so it never hides a curve) with each series
/// followed by its targets.
fn draw_target<DB: DrawingBackend>(
    c: &TargetChart,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let area = root.titled(&c.title, (FONT_NAME, 22)).map_err(e)?;
    let (plot, legend) = area.split_horizontally(area.dim_in_pixel().0 - TARGET_LEGEND_W);
    let xs = c.series.iter().flat_map(|s| s.x.iter().copied());
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (x0, x1) = if x1 > x0 { (x0, x1) } else { padded(x0, x1) };
    let keep = |y: f64| y.is_finite() && (!c.log_y || y > 0.0);
    let (y0, y1) = c
        .series
        .iter()
        .flat_map(|s| {
            s.y.iter().copied().chain(
                s.band
                    .iter()
                    .flat_map(|(l, h)| l.iter().chain(h.iter()).copied()),
            )
        })
        .chain(c.targets.iter().map(|t| t.y))
        .filter(|y| keep(*y))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    let top = if c.log_y {
        // A quarter of a decade of room on either side.
        let (y0, y1) = if y0.is_finite() && y1 >= y0 {
            (y0, y1)
        } else {
            (0.1, 10.0)
        };
        let pad = 10f64.powf(0.25);
        draw_target_in(c, &plot, (x0, x1), (y0 / pad..y1 * pad).log_scale(), keep)?
    } else {
        let (y0, y1) = padded(y0, y1);
        draw_target_in(c, &plot, (x0, x1), y0..y1, keep)?
    };
    // The legend: each series (solid), then its targets (dashed).
    let font = TextStyle::from((FONT_NAME, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut y = top + 10;
    for (i, s) in c.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        legend
            .draw(&PathElement::new(
                vec![(8, y), (38, y)],
                color.stroke_width(3),
            ))
            .map_err(e)?;
        legend
            .draw(&Text::new(s.label.clone(), (46, y), font.clone()))
            .map_err(e)?;
        y += 22;
        for t in c.targets.iter().filter(|t| t.series == i) {
            legend
                .draw(&DashedPathElement::new(
                    vec![(8, y), (38, y)],
                    7,
                    4,
                    color.stroke_width(2),
                ))
                .map_err(e)?;
            legend
                .draw(&Text::new(t.label.clone(), (46, y), font.clone()))
                .map_err(e)?;
            y += 22;
        }
        y += 10;
    }
    Ok(())
}

/// A log-axis label: at 1, 2 and 5 times a power of ten, without trailing
/// zeros; none elsewhere (those values get a grid line only).
fn log_tick(y: f64) -> String {
    let mantissa = y / 10f64.powf(y.log10().floor());
    let m = mantissa.round();
    // A mantissa just under 10 is the next power of ten.
    if (mantissa - m).abs() < 1e-6 && [1.0, 2.0, 5.0, 10.0].contains(&m) {
        format!("{}", (y * 1e9).round() / 1e9)
    } else {
        String::new()
    }
}

/// [`draw_target`]'s plot on a y axis given as a linear or a log range;
/// returns the pixel row of the plot's top edge.
fn draw_target_in<DB, Y>(
    c: &TargetChart,
    area: &DrawingArea<DB, Shift>,
    (x0, x1): (f64, f64),
    y_spec: Y,
    keep: impl Fn(f64) -> bool,
) -> std::result::Result<i32, String>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y_spec)
        .map_err(e)?;
    let log_y = c.log_y;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(&c.x_label)
        .y_desc(&c.y_label)
        .x_label_formatter(&|x: &f64| tick(*x))
        .x_max_light_lines(0)
        .label_style((FONT_NAME, 15))
        .axis_desc_style((FONT_NAME, 17))
        .light_line_style(RGBColor(235, 235, 235));
    if log_y {
        // Enough key points for a line at every 1…9 × 10^k, labelled at 1, 2, 5.
        mesh.y_labels(40)
            .y_max_light_lines(0)
            .y_label_formatter(&|y: &f64| log_tick(*y));
    } else {
        mesh.y_label_formatter(&|y: &f64| tick(*y));
    }
    mesh.draw().map_err(e)?;
    for t in &c.targets {
        let color = PALETTE[t.series % PALETTE.len()];
        chart
            .draw_series(std::iter::once(DashedPathElement::new(
                vec![(x0, t.y), (x1, t.y)],
                9,
                6,
                color.stroke_width(2),
            )))
            .map_err(e)?;
    }
    draw_curves(&mut chart, &c.series, keep)?;
    let (_, rows) = chart.plotting_area().get_pixel_range();
    Ok(rows.start - area.get_base_pixel().1)
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

/// Split `text` into lines no wider than `width` pixels (words kept whole;
/// a word wider than the line gets a line of its own).
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    width: u32,
) -> Vec<String> {
    let fits = |s: &str| {
        area.estimate_text_size(s, style)
            .map_or(s.chars().count() as u32 * 8 <= width, |(w, _)| w <= width)
    };
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if fits(&format!("{line} {word}")) => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Loss, gain and start colours of the waterfall (Okabe–Ito vermillion,
/// bluish green, grey).
const LOSS: RGBColor = RGBColor(213, 94, 0);
const GAIN: RGBColor = RGBColor(0, 158, 115);
const START: RGBColor = RGBColor(140, 140, 140);

fn draw_waterfall<DB: DrawingBackend>(
    c: &WaterfallChart,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    // STEP 1: slots. Step i is centred at i + 0.5; the extras follow after a
    // half-slot gap that holds the separator.
    let ns = c.steps.len();
    let gap = if c.extras.is_empty() { 0.0 } else { 0.5 };
    let x_max = ns as f64 + gap + c.extras.len() as f64;
    let bars: Vec<(f64, &WaterfallBar)> = c
        .steps
        .iter()
        .enumerate()
        .map(|(i, b)| (i as f64 + 0.5, b))
        .chain(
            c.extras
                .iter()
                .enumerate()
                .map(|(j, b)| (ns as f64 + gap + j as f64 + 0.5, b)),
        )
        .collect();
    // STEP 2: the y range holds every bar end, whisker and the floor, with
    // room above and below for the texts at the bars' ends.
    let ys = bars
        .iter()
        .flat_map(|(_, b)| {
            let h = b.whisker.unwrap_or(0.0);
            [Some(b.to - h), Some(b.to + h), b.from]
        })
        .flatten()
        .chain(c.floor.iter().map(|f| f.1))
        .filter(|y| y.is_finite());
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let (lo, hi) = padded(lo, hi);
    let pad = 0.08 * (hi - lo);
    let (y0, y1) = (lo - pad, hi + pad);
    let label_font = TextStyle::from((FONT_NAME, 15).into_font());
    let line_h = 18;
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, (FONT_NAME, 21))
        .margin(16)
        .margin_right(24)
        .x_label_area_size(135)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..x_max, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .y_desc(&c.y_label)
        .y_label_formatter(&|y: &f64| tick(*y))
        .x_labels(0)
        .disable_x_mesh()
        .label_style((FONT_NAME, 15))
        .axis_desc_style((FONT_NAME, 17))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;
    // STEP 3: the floor, the separator and the dotted connectors between levels.
    if let Some((_, f)) = &c.floor {
        chart
            .draw_series(std::iter::once(DashedPathElement::new(
                vec![(0.0, *f), (x_max, *f)],
                9,
                6,
                BLACK.stroke_width(2),
            )))
            .map_err(e)?;
    }
    if !c.extras.is_empty() {
        let x = ns as f64 + gap / 2.0;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, y0), (x, y1)],
                BLACK.mix(0.5).stroke_width(1),
            )))
            .map_err(e)?;
    }
    let connector = |from: f64, to: f64, y: f64| {
        DashedPathElement::new(
            vec![(from, y), (to, y)],
            3,
            3,
            BLACK.mix(0.6).stroke_width(1),
        )
    };
    for w in c.steps.windows(2).enumerate() {
        let (i, pair) = w;
        chart
            .draw_series(std::iter::once(connector(
                i as f64 + 0.8,
                i as f64 + 1.2,
                pair[0].to,
            )))
            .map_err(e)?;
    }
    if let (Some(last), false) = (c.steps.last(), c.extras.is_empty()) {
        // The extras' reference level (the last step) continues across them.
        chart
            .draw_series(std::iter::once(connector(
                ns as f64 - 0.2,
                x_max - 0.1,
                last.to,
            )))
            .map_err(e)?;
    }
    // STEP 4: bars, whiskers and the texts at their ends.
    let text_font = TextStyle::from((FONT_NAME, 15).into_font());
    for (cx, b) in &bars {
        let (from, color) = match b.from {
            None => (y0, START),
            Some(f) if b.to < f => (f, LOSS),
            Some(f) => (f, GAIN),
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(cx - 0.3, from), (cx + 0.3, b.to)],
                color.mix(0.85).filled(),
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(cx - 0.3, from), (cx + 0.3, b.to)],
                color.stroke_width(1),
            )))
            .map_err(e)?;
        let h = b.whisker.unwrap_or(0.0);
        if h > 0.0 {
            for path in [
                vec![(*cx, b.to - h), (*cx, b.to + h)],
                vec![(cx - 0.07, b.to - h), (cx + 0.07, b.to - h)],
                vec![(cx - 0.07, b.to + h), (cx + 0.07, b.to + h)],
            ] {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        path,
                        BLACK.stroke_width(2),
                    )))
                    .map_err(e)?;
            }
        }
        // Below a loss, above a level or a gain, clear of the whisker.
        let down = b.from.is_some_and(|f| b.to < f);
        let (px, py) = chart.backend_coord(&(*cx, if down { b.to - h } else { b.to + h }));
        let (style, py) = if down {
            (text_font.pos(Pos::new(HPos::Center, VPos::Top)), py + 5)
        } else {
            (text_font.pos(Pos::new(HPos::Center, VPos::Bottom)), py - 5)
        };
        root.draw(&Text::new(b.text.clone(), (px, py), style))
            .map_err(e)?;
    }
    // STEP 5: wrapped category labels, the two captions, the legend row.
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let slot = (chart.backend_coord(&(1.0, y0)).0 - chart.backend_coord(&(0.0, y0)).0).max(40);
    let top = y_px.end + 8;
    let centred = label_font.pos(Pos::new(HPos::Center, VPos::Top));
    let mut max_lines = 1;
    for (cx, b) in &bars {
        let lines = wrap(root, &b.label, &label_font, slot as u32 - 8);
        max_lines = max_lines.max(lines.len());
        let px = chart.backend_coord(&(*cx, y0)).0;
        for (k, line) in lines.into_iter().enumerate() {
            root.draw(&Text::new(
                line,
                (px, top + k as i32 * line_h),
                centred.clone(),
            ))
            .map_err(e)?;
        }
    }
    let caption_y = top + max_lines as i32 * line_h + 8;
    let caption_font =
        TextStyle::from((FONT_NAME, 15).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    let mut captions = vec![(0.05, ns as f64 - 0.05, &c.steps_heading)];
    if !c.extras.is_empty() {
        captions.push((ns as f64 + gap + 0.05, x_max - 0.05, &c.extras_heading));
    }
    for (a, b, text) in captions {
        let (pa, pb) = (
            chart.backend_coord(&(a, y0)).0,
            chart.backend_coord(&(b, y0)).0,
        );
        root.draw(&PathElement::new(
            vec![(pa, caption_y), (pb, caption_y)],
            BLACK.mix(0.5).stroke_width(1),
        ))
        .map_err(e)?;
        root.draw(&Text::new(
            text.clone(),
            ((pa + pb) / 2, caption_y + 4),
            caption_font.clone(),
        ))
        .map_err(e)?;
    }
    // Legend: swatch + text, left to right from the plot's left edge.
    let legend_y = caption_y + line_h + 14;
    let legend_font =
        TextStyle::from((FONT_NAME, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = x_px.start;
    let mut entries: Vec<(Option<RGBColor>, String)> = vec![
        (Some(START), "start level".into()),
        (Some(LOSS), "Δ < 0 (loss)".into()),
        (Some(GAIN), "Δ > 0 (gain)".into()),
        (None, c.whisker_note.clone()),
    ];
    if let Some((label, _)) = &c.floor {
        entries.push((Some(BLACK), label.clone()));
    }
    let floor_entry = entries.len() - 1;
    for (k, (color, text)) in entries.into_iter().enumerate() {
        match color {
            Some(col) if c.floor.is_some() && k == floor_entry => {
                root.draw(&DashedPathElement::new(
                    vec![(x, legend_y), (x + 30, legend_y)],
                    7,
                    4,
                    col.stroke_width(2),
                ))
                .map_err(e)?;
                x += 36;
            }
            Some(col) => {
                root.draw(&Rectangle::new(
                    [(x, legend_y - 7), (x + 18, legend_y + 7)],
                    col.mix(0.85).filled(),
                ))
                .map_err(e)?;
                x += 24;
            }
            None => {
                root.draw(&PathElement::new(
                    vec![(x + 6, legend_y - 8), (x + 6, legend_y + 8)],
                    BLACK.stroke_width(2),
                ))
                .map_err(e)?;
                x += 16;
            }
        }
        let w = root
            .estimate_text_size(&text, &legend_font)
            .map_or(8 * text.chars().count() as i32, |(w, _)| w as i32);
        root.draw(&Text::new(text, (x, legend_y), legend_font.clone()))
            .map_err(e)?;
        x += w + 22;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_marks_move_before_their_letter_for_the_bitmap() {
        assert_eq!(bitmap_text("c\u{304} = 1"), "\u{304}c = 1");
        assert_eq!(bitmap_text("K\u{304}, R\u{302}"), "\u{304}K, \u{302}R");
        assert_eq!(bitmap_text("plain – Δ ± 1"), "plain – Δ ± 1");
    }
}
