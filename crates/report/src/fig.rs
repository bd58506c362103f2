//! The one plotting path of every figure: line charts with 95% CI bands,
//! line charts against dashed targets (linear or log y), PFR figures (all
//! epochs, a zoom on the later epochs, the final epoch's means with CIs),
//! stacked panels on one x axis (e.g. errors on a log axis over their
//! ratio), grouped bar charts with CI whiskers and waterfall charts
//! (floating bars from one level to the next), drawn once per backend
//! (PNG + SVG) with the embedded DejaVu Sans (no system font needed).
//!
//! Curves take their styles from [`line_style`] (colour × dash pattern,
//! distinct for up to [`MAX_STYLES`] curves); legends sit outside the data.

mod pfr;
mod stacked;
mod style;

use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use pfr::PfrChart;
pub use stacked::{Panel, StackedChart};
pub use style::{COLOURS, DASHES, LineStyle, MAX_STYLES, Marker, line_style};
use style::{Swatch, draw_marker, draw_pattern, draw_swatch};

use crate::PlotError;
use crate::font::{FONT_NAME, ensure_font};

type Result<T> = std::result::Result<T, PlotError>;

const SIZE: (u32, u32) = (960, 640);

/// The pixel rectangle (columns, rows) of one plot's data area, as drawn.
pub type PlotRect = (Range<i32>, Range<i32>);

/// One curve: mean per x with an optional 95% CI band.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// (low, high) of the CI per x.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
}

/// A line chart; the legend is drawn right of the plot.
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
    Pfr(PfrChart),
    Stacked(StackedChart),
    Bar(BarChart),
    Waterfall(WaterfallChart),
}

/// `series` with `f` applied to each label.
fn map_series(v: &[Series], f: &dyn Fn(&str) -> String) -> Vec<Series> {
    v.iter()
        .map(|s| Series {
            label: f(&s.label),
            ..s.clone()
        })
        .collect()
}

impl Figure {
    /// The same figure with `f` applied to every text it draws (`rot` to
    /// the rotated ones: the y-axis labels).
    fn map_text(&self, f: &dyn Fn(&str) -> String, rot: &dyn Fn(&str) -> String) -> Figure {
        let bar = |b: &WaterfallBar| WaterfallBar {
            label: f(&b.label),
            text: f(&b.text),
            ..b.clone()
        };
        match self {
            Figure::Line(c) => Figure::Line(LineChart {
                title: f(&c.title),
                x_label: f(&c.x_label),
                y_label: rot(&c.y_label),
                series: map_series(&c.series, f),
            }),
            Figure::Target(c) => Figure::Target(TargetChart {
                title: f(&c.title),
                x_label: f(&c.x_label),
                y_label: rot(&c.y_label),
                series: map_series(&c.series, f),
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
            Figure::Pfr(c) => Figure::Pfr(c.map_text(f, rot)),
            Figure::Stacked(c) => Figure::Stacked(c.map_text(f, rot)),
            Figure::Bar(c) => Figure::Bar(BarChart {
                title: f(&c.title),
                x_label: f(&c.x_label),
                y_label: rot(&c.y_label),
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
                y_label: rot(&c.y_label),
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
    pub fn size(&self) -> (u32, u32) {
        match self {
            // Room for wrapped category labels, the captions and the legend row.
            Figure::Waterfall(_) => (1280, 760),
            // Room for the legend right of the plot.
            Figure::Line(_) => (1100, 640),
            Figure::Pfr(c) => c.size(),
            Figure::Stacked(_) => (1100, 820),
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
        move |message: String| PlotError::Draw {
            path: path.clone(),
            message,
        }
    };
    {
        let root = BitMapBackend::new(&png, fig.size()).into_drawing_area();
        draw(&fig.map_text(&bitmap_text, &bitmap_rotated_text), &root).map_err(err(&png))?;
        root.present().map_err(|e| err(&png)(e.to_string()))?;
    }
    {
        let root = SVGBackend::new(&svg, fig.size()).into_drawing_area();
        draw(fig, &root).map_err(err(&svg))?;
        root.present().map_err(|e| err(&svg)(e.to_string()))?;
    }
    Ok((png, svg))
}

/// Draw `fig` as the PNG would show it into an RGB buffer of
/// [`Figure::size`]; returns the buffer and every plot's data rectangle
/// (for tests that look at the pixels).
pub fn render_rgb(fig: &Figure) -> Result<(Vec<u8>, Vec<PlotRect>)> {
    ensure_font();
    let (w, h) = fig.size();
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    let rects = {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let rects =
            draw(&fig.map_text(&bitmap_text, &bitmap_rotated_text), &root).map_err(|message| {
                PlotError::Draw {
                    path: PathBuf::from("<memory>"),
                    message,
                }
            })?;
        root.present().map_err(|e| PlotError::Draw {
            path: PathBuf::from("<memory>"),
            message: e.to_string(),
        })?;
        rects
    };
    Ok((buf, rects))
}

/// Text as the bitmap backend must receive it to look right: its glyph
/// renderer draws every glyph from the pen position, so a combining mark
/// (U+0300–U+036F, e.g. the macron of c̄) lands after its base letter; moved
/// before it, the mark is drawn over the letter. (SVG text is laid out by
/// the viewer and keeps the normal order.) Labels whose mark would sit off
/// centre over a wide letter are better written in plain text (`L~`).
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

/// Rotated text as the bitmap backend must receive it: it draws a rotated
/// text into a box one em high, which cuts off a mark above a capital or a
/// tall letter (the hat of R̂, the tilde of γ̃); such labels get the plain
/// spellings R^, γ~, K¯ instead.
pub fn bitmap_rotated_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\u{302}' => out.push('^'),
            '\u{303}' => out.push('~'),
            '\u{304}' | '\u{305}' => out.push('¯'),
            c if ('\u{300}'..='\u{36f}').contains(&c) => {}
            c => out.push(c),
        }
    }
    out
}

fn draw<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<Vec<PlotRect>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match fig {
        Figure::Line(c) => draw_line(c, root).map(|r| vec![r]),
        Figure::Target(c) => draw_target(c, root).map(|r| vec![r]),
        Figure::Pfr(c) => pfr::draw(c, root),
        Figure::Stacked(c) => stacked::draw(c, root),
        Figure::Bar(c) => draw_bar(c, root).map(|r| vec![r]),
        Figure::Waterfall(c) => draw_waterfall(c, root).map(|r| vec![r]),
    }
}

/// An axis tick: integers without decimals, others with 3 significant
/// digits and no trailing zeros (0.95, not 0.9500).
fn tick(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 * x.abs().max(1.0) {
        format!("{}", x.round() as i64)
    } else {
        let s = crate::numbers::sig(x);
        if s.contains('.') && !s.contains('e') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// An axis tick on an axis of whole numbers (epochs, |S|): none between them.
fn int_tick(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{}", x.round() as i64)
    } else {
        String::new()
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

/// (min, max) of the x values of `series`, widened when there is one x.
fn x_extent(series: &[Series]) -> (f64, f64) {
    let (x0, x1) = series
        .iter()
        .flat_map(|s| s.x.iter().copied())
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if x1 > x0 { (x0, x1) } else { padded(x0, x1) }
}

/// (min, max) of the means and CI bounds of `series` at x in `xs`, over
/// values that pass `keep`; infinite when there are none.
fn y_extent(series: &[Series], xs: (f64, f64), keep: &dyn Fn(f64) -> bool) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for s in series {
        for (i, x) in s.x.iter().enumerate() {
            if *x < xs.0 || *x > xs.1 {
                continue;
            }
            let band = s.band.as_ref().map(|(l, h)| [l[i], h[i]]);
            for y in std::iter::once(s.y[i]).chain(band.into_iter().flatten()) {
                if y.is_finite() && keep(y) {
                    lo = lo.min(y);
                    hi = hi.max(y);
                }
            }
        }
    }
    (lo, hi)
}

/// A log axis' range around [lo, hi] (a quarter of a decade of room on
/// either side); a default decade pair when there is no positive value.
fn log_range(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi >= lo && lo > 0.0 {
        (lo, hi)
    } else {
        (0.1, 10.0)
    };
    let pad = 10f64.powf(0.25);
    (lo / pad, hi * pad)
}

/// Grid lines of a log axis over [a, b]: every 1…9 × 10^k, each once (the
/// axis' own key points may hold one value twice, drawn as a bold label).
fn log_keys(a: f64, b: f64) -> Vec<f64> {
    let mut keys = Vec::new();
    let mut k = a.log10().floor() as i32;
    while 10f64.powi(k) <= b {
        for m in 1..=9 {
            let v = f64::from(m) * 10f64.powi(k);
            if v >= a && v <= b {
                keys.push(v);
            }
        }
        k += 1;
    }
    keys
}

/// Width of a legend panel that fits `labels` (swatch, gap, text, margin),
/// at most `max`.
fn legend_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: impl Iterator<Item = String>,
    max: u32,
) -> u32 {
    let style = TextStyle::from((FONT_NAME, 15).into_font());
    let widest = labels
        .map(|l| {
            area.estimate_text_size(&l, &style)
                .map_or(8 * l.chars().count() as u32, |(w, _)| w)
        })
        .max()
        .unwrap_or(0);
    (widest + style::SWATCH_W as u32 + 30).min(max)
}

/// A legend: one row per entry (swatch, then text), from pixel row `top`;
/// `gap_after` entries get extra space below (ends of groups).
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, String, bool)],
    top: i32,
) -> std::result::Result<(), String> {
    let font = TextStyle::from((FONT_NAME, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut y = top + 10;
    for (swatch, text, gap_after) in entries {
        draw_swatch(area, *swatch, (8, y))?;
        area.draw(&Text::new(
            text.clone(),
            (style::SWATCH_W + 16, y),
            font.clone(),
        ))
        .map_err(|e| e.to_string())?;
        y += 22;
        if *gap_after {
            y += 10;
        }
    }
    Ok(())
}

/// How one panel of lines is drawn.
struct LinePanel<'a> {
    caption: Option<&'a str>,
    x_label: &'a str,
    y_label: &'a str,
    series: &'a [Series],
    /// Style index of each series.
    styles: &'a [usize],
    /// x values shown (points outside are left out).
    x_range: (f64, f64),
    log_y: bool,
    /// Ticks at whole numbers only.
    int_x: bool,
    /// Horizontal reference lines (grey, dotted) at these y.
    refs: &'a [f64],
    /// Dashed horizontal targets (y, colour).
    targets: &'a [(f64, RGBColor)],
    /// A shaded rectangle (x0, x1, y0, y1): the part another panel zooms on.
    highlight: Option<(f64, f64, f64, f64)>,
    /// Explicit y range (else from the data within `x_range`).
    y_range: Option<(f64, f64)>,
}

/// Draw a [`LinePanel`] on `area`; returns its data rectangle.
fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &LinePanel<'_>,
) -> std::result::Result<PlotRect, String> {
    let keep = |y: f64| y.is_finite() && (!p.log_y || y > 0.0);
    let (lo, hi) = p.y_range.unwrap_or_else(|| {
        let (mut lo, mut hi) = y_extent(p.series, p.x_range, &keep);
        for y in p.refs.iter().chain(p.targets.iter().map(|t| &t.0)) {
            if keep(*y) {
                lo = lo.min(*y);
                hi = hi.max(*y);
            }
        }
        (lo, hi)
    });
    if p.log_y {
        let (a, b) = log_range(lo, hi);
        line_panel_in(
            area,
            p,
            (a..b).log_scale().with_key_points(log_keys(a, b)),
            &keep,
        )
    } else {
        let (a, b) = padded(lo, hi);
        line_panel_in(area, p, a..b, &keep)
    }
}

fn line_panel_in<DB, Y>(
    area: &DrawingArea<DB, Shift>,
    p: &LinePanel<'_>,
    y_spec: Y,
    keep: &dyn Fn(f64) -> bool,
) -> std::result::Result<PlotRect, String>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let (x0, x1) = p.x_range;
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .margin_right(18)
        .x_label_area_size(48)
        .y_label_area_size(80);
    if let Some(c) = p.caption {
        builder.caption(c, (FONT_NAME, 17));
    }
    let mut chart = builder.build_cartesian_2d(x0..x1, y_spec).map_err(e)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(p.x_label)
        .y_desc(p.y_label)
        .label_style((FONT_NAME, 15))
        .axis_desc_style((FONT_NAME, 16))
        .light_line_style(RGBColor(235, 235, 235));
    if p.int_x {
        mesh.x_label_formatter(&|x: &f64| int_tick(*x))
            .x_labels(((x1 - x0).round() as usize + 1).clamp(2, 25))
            .x_max_light_lines(0);
    } else {
        mesh.x_label_formatter(&|x: &f64| tick(*x));
    }
    if p.log_y {
        // Enough key points for a line at every 1…9 × 10^k, labelled at 1, 2, 5.
        mesh.y_labels(40)
            .y_max_light_lines(0)
            .y_label_formatter(&|y: &f64| log_tick(*y));
    } else {
        mesh.y_label_formatter(&|y: &f64| tick(*y));
    }
    mesh.draw().map_err(e)?;
    let plot = chart.plotting_area();
    if let Some((a, b, lo, hi)) = p.highlight {
        plot.draw(&Rectangle::new(
            [(a, hi), (b, lo)],
            RGBColor(120, 120, 120).mix(0.12).filled(),
        ))
        .map_err(e)?;
        plot.draw(&Rectangle::new([(a, hi), (b, lo)], RGBColor(120, 120, 120)))
            .map_err(e)?;
    }
    for y in p.refs.iter().filter(|y| keep(**y)) {
        draw_pattern(
            plot,
            &[(x0, *y), (x1, *y)],
            style::REFERENCE_DASH,
            style::REFERENCE.stroke_width(2),
        )?;
    }
    for (y, colour) in p.targets.iter().filter(|t| keep(t.0)) {
        draw_pattern(
            plot,
            &[(x0, *y), (x1, *y)],
            DASHES[1],
            colour.stroke_width(2),
        )?;
    }
    draw_curves(plot, p.series, p.styles, (x0, x1), keep)?;
    Ok(plot.get_pixel_range())
}

/// The series on `plot`: CI bands first (so no band hides a line), then
/// each line in its style with markers; points outside `xs` or whose y
/// fails `keep` (e.g. non-positive on a log axis) are left out.
fn draw_curves<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    plot: &DrawingArea<DB, Cartesian2d<RangedCoordf64, Y>>,
    series: &[Series],
    styles: &[usize],
    xs: (f64, f64),
    keep: &dyn Fn(f64) -> bool,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let inside = |x: f64| x >= xs.0 - 1e-9 && x <= xs.1 + 1e-9;
    // Fainter bands when many overlap.
    let alpha = if series.len() > 4 { 0.10 } else { 0.16 };
    for (i, s) in series.iter().enumerate() {
        let st = line_style(styles.get(i).copied().unwrap_or(i));
        if let Some((lo, hi)) = &s.band {
            let poly: Vec<(f64, f64)> =
                s.x.iter()
                    .zip(hi)
                    .map(|(x, y)| (*x, *y))
                    .chain(s.x.iter().zip(lo).rev().map(|(x, y)| (*x, *y)))
                    .filter(|p| inside(p.0) && keep(p.1))
                    .collect();
            if poly.len() >= 3 {
                plot.draw(&Polygon::new(poly, st.colour.mix(alpha).filled()))
                    .map_err(e)?;
            }
        }
    }
    for (i, s) in series.iter().enumerate() {
        let st = line_style(styles.get(i).copied().unwrap_or(i));
        let pts: Vec<(f64, f64)> =
            s.x.iter()
                .copied()
                .zip(s.y.iter().copied())
                .filter(|p| inside(p.0) && keep(p.1))
                .collect();
        draw_pattern(plot, &pts, DASHES[st.dash], st.colour.stroke_width(2))?;
        for p in &pts {
            draw_marker(plot, *p, st.marker, st.colour)?;
        }
    }
    Ok(())
}

/// Legend entries of curves: (style, label) in order.
fn curve_entries(series: &[Series], styles: &[usize]) -> Vec<(Swatch, String, bool)> {
    series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                Swatch::Line(line_style(styles.get(i).copied().unwrap_or(i))),
                s.label.clone(),
                false,
            )
        })
        .collect()
}

/// Whether every x of `series` is a whole number (epochs, iterations, |S|).
fn whole_x(series: &[Series]) -> bool {
    series
        .iter()
        .flat_map(|s| s.x.iter())
        .all(|x| (x - x.round()).abs() < 1e-9)
}

fn draw_line<DB: DrawingBackend>(
    c: &LineChart,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<PlotRect, String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let area = root.titled(&c.title, (FONT_NAME, 22)).map_err(e)?;
    let entries = curve_entries(&c.series, &[]);
    let lw = legend_width(
        &area,
        entries.iter().map(|x| x.1.clone()),
        area.dim_in_pixel().0 / 3,
    );
    let (plot, legend) = area.split_horizontally(area.dim_in_pixel().0 - lw);
    let styles: Vec<usize> = (0..c.series.len()).collect();
    let xs = x_extent(&c.series);
    let rect = line_panel(
        &plot,
        &LinePanel {
            caption: None,
            x_label: &c.x_label,
            y_label: &c.y_label,
            series: &c.series,
            styles: &styles,
            x_range: xs,
            log_y: false,
            int_x: whole_x(&c.series) && xs.1 - xs.0 <= 40.0,
            refs: &[],
            targets: &[],
            highlight: None,
            y_range: None,
        },
    )?;
    draw_legend(&legend, &entries, rect.1.start - legend.get_base_pixel().1)?;
    Ok(rect)
}

/// Width of the legend panel right of a [`TargetChart`]'s plot.
const TARGET_LEGEND_W: u32 = 215;

/// Draw a [`TargetChart`]: the title, the plot, and right of it a legend
/// panel (outside the plot, so it never hides a curve) with each series
/// followed by its targets.
fn draw_target<DB: DrawingBackend>(
    c: &TargetChart,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<PlotRect, String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let area = root.titled(&c.title, (FONT_NAME, 22)).map_err(e)?;
    let (plot, legend) = area.split_horizontally(area.dim_in_pixel().0 - TARGET_LEGEND_W);
    let styles: Vec<usize> = (0..c.series.len()).collect();
    let targets: Vec<(f64, RGBColor)> = c
        .targets
        .iter()
        .map(|t| (t.y, line_style(t.series).colour))
        .collect();
    let xs = x_extent(&c.series);
    let rect = line_panel(
        &plot,
        &LinePanel {
            caption: None,
            x_label: &c.x_label,
            y_label: &c.y_label,
            series: &c.series,
            styles: &styles,
            x_range: xs,
            log_y: c.log_y,
            int_x: whole_x(&c.series) && xs.1 - xs.0 <= 40.0,
            refs: &[],
            targets: &targets,
            highlight: None,
            y_range: None,
        },
    )?;
    // The legend: each series (its line), then its targets (dashed).
    let mut entries = Vec::new();
    for (i, s) in c.series.iter().enumerate() {
        entries.push((Swatch::Line(line_style(i)), s.label.clone(), false));
        for t in c.targets.iter().filter(|t| t.series == i) {
            entries.push((Swatch::Target(line_style(i).colour), t.label.clone(), false));
        }
        if let Some(last) = entries.last_mut() {
            last.2 = true;
        }
    }
    draw_legend(&legend, &entries, rect.1.start - legend.get_base_pixel().1)?;
    Ok(rect)
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

fn draw_bar<DB: DrawingBackend>(
    c: &BarChart,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<PlotRect, String> {
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
        .y_label_formatter(&|y: &f64| tick(*y))
        .label_style((FONT_NAME, 15))
        .axis_desc_style((FONT_NAME, 17))
        .draw()
        .map_err(e)?;
    let width = 0.8 / nb as f64;
    for (b, name) in c.bars.iter().enumerate() {
        let color = COLOURS[b % COLOURS.len()];
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
                    crate::numbers::sig(m),
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
    Ok(chart.plotting_area().get_pixel_range())
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
) -> std::result::Result<PlotRect, String> {
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
    waterfall_guides(&mut chart, c, (ns, gap, x_max), (y0, y1)).map_err(e)?;
    // STEP 4: bars, whiskers and the texts at their ends.
    let text_font = TextStyle::from((FONT_NAME, 15).into_font());
    for (cx, b) in &bars {
        waterfall_bar(&mut chart, root, *cx, b, y0, &text_font).map_err(e)?;
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
    waterfall_legend(root, c, x_px.start, caption_y + line_h + 14).map_err(e)?;
    Ok((x_px, y_px))
}

/// The waterfall's floor line, the separator before the extras and the
/// dotted connectors that carry each level to the next bar.
fn waterfall_guides<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    c: &WaterfallChart,
    (ns, gap, x_max): (usize, f64, f64),
    (y0, y1): (f64, f64),
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if let Some((_, f)) = &c.floor {
        chart.draw_series(std::iter::once(DashedPathElement::new(
            vec![(0.0, *f), (x_max, *f)],
            9,
            6,
            BLACK.stroke_width(2),
        )))?;
    }
    if !c.extras.is_empty() {
        let x = ns as f64 + gap / 2.0;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, y0), (x, y1)],
            BLACK.mix(0.5).stroke_width(1),
        )))?;
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
        chart.draw_series(std::iter::once(connector(
            i as f64 + 0.8,
            i as f64 + 1.2,
            pair[0].to,
        )))?;
    }
    if let (Some(last), false) = (c.steps.last(), c.extras.is_empty()) {
        // The extras' reference level (the last step) continues across them.
        chart.draw_series(std::iter::once(connector(
            ns as f64 - 0.2,
            x_max - 0.1,
            last.to,
        )))?;
    }
    Ok(())
}

/// One waterfall bar at x = `cx`: the box from its start level, its whisker
/// and its text (below a loss, above a level or a gain).
fn waterfall_bar<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    root: &DrawingArea<DB, Shift>,
    cx: f64,
    b: &WaterfallBar,
    y0: f64,
    text_font: &TextStyle<'_>,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (from, color) = match b.from {
        None => (y0, START),
        Some(f) if b.to < f => (f, LOSS),
        Some(f) => (f, GAIN),
    };
    chart.draw_series(std::iter::once(Rectangle::new(
        [(cx - 0.3, from), (cx + 0.3, b.to)],
        color.mix(0.85).filled(),
    )))?;
    chart.draw_series(std::iter::once(Rectangle::new(
        [(cx - 0.3, from), (cx + 0.3, b.to)],
        color.stroke_width(1),
    )))?;
    let h = b.whisker.unwrap_or(0.0);
    if h > 0.0 {
        for path in [
            vec![(cx, b.to - h), (cx, b.to + h)],
            vec![(cx - 0.07, b.to - h), (cx + 0.07, b.to - h)],
            vec![(cx - 0.07, b.to + h), (cx + 0.07, b.to + h)],
        ] {
            chart.draw_series(std::iter::once(PathElement::new(
                path,
                BLACK.stroke_width(2),
            )))?;
        }
    }
    // Below a loss, above a level or a gain, clear of the whisker.
    let down = b.from.is_some_and(|f| b.to < f);
    let (px, py) = chart.backend_coord(&(cx, if down { b.to - h } else { b.to + h }));
    let (style, py) = if down {
        (text_font.pos(Pos::new(HPos::Center, VPos::Top)), py + 5)
    } else {
        (text_font.pos(Pos::new(HPos::Center, VPos::Bottom)), py - 5)
    };
    root.draw(&Text::new(b.text.clone(), (px, py), style))?;
    Ok(())
}

/// The waterfall's legend row at height `legend_y`, from x = `x0`.
fn waterfall_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &WaterfallChart,
    x0: i32,
    legend_y: i32,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let legend_font =
        TextStyle::from((FONT_NAME, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = x0;
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
                ))?;
                x += 36;
            }
            Some(col) => {
                root.draw(&Rectangle::new(
                    [(x, legend_y - 7), (x + 18, legend_y + 7)],
                    col.mix(0.85).filled(),
                ))?;
                x += 24;
            }
            None => {
                root.draw(&PathElement::new(
                    vec![(x + 6, legend_y - 8), (x + 6, legend_y + 8)],
                    BLACK.stroke_width(2),
                ))?;
                x += 16;
            }
        }
        let w = root
            .estimate_text_size(&text, &legend_font)
            .map_or(8 * text.chars().count() as i32, |(w, _)| w as i32);
        root.draw(&Text::new(text, (x, legend_y), legend_font.clone()))?;
        x += w + 22;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn combining_marks_move_before_their_letter_for_the_bitmap() {
        assert_eq!(bitmap_text("c\u{304} = 1"), "\u{304}c = 1");
        assert_eq!(bitmap_text("K\u{304}, R\u{302}"), "\u{304}K, \u{302}R");
        assert_eq!(bitmap_text("plain – Δ ± 1"), "plain – Δ ± 1");
    }

    #[test]
    fn rotated_labels_spell_marks_in_plain_text() {
        assert_eq!(bitmap_rotated_text("Σ ln R\u{302}ₖ(n)"), "Σ ln R^ₖ(n)");
        assert_eq!(
            bitmap_rotated_text("ln(1+γ\u{303}ₖ), c\u{304}"),
            "ln(1+γ~ₖ), c¯"
        );
        assert_eq!(bitmap_rotated_text("plain – Δ"), "plain – Δ");
    }

    #[test]
    fn ticks_drop_trailing_zeros_and_log_keys_are_unique() {
        assert_eq!(tick(0.95), "0.95");
        assert_eq!(tick(10000.0), "10000");
        assert_eq!(tick(-2.5), "-2.5");
        let keys = log_keys(0.0008, 0.6);
        let mut sorted = keys.clone();
        sorted.dedup_by(|a, b| (*a - *b).abs() < 1e-12 * a.abs());
        assert_eq!(keys.len(), sorted.len(), "{keys:?}");
        assert!((keys[0] - 0.0008).abs() < 1e-15 && (keys[1] - 0.0009).abs() < 1e-15);
        assert!(keys.iter().any(|k| (k - 0.1).abs() < 1e-15));
        assert!(keys.iter().all(|k| (0.0008..=0.6).contains(k)));
    }

    fn series(label: &str, x: &[f64], y: Vec<f64>, half: f64) -> Series {
        Series {
            label: label.into(),
            x: x.to_vec(),
            band: Some((
                y.iter().map(|v| v - half).collect(),
                y.iter().map(|v| v + half).collect(),
            )),
            y,
        }
    }

    /// 11 arms over 10 epochs, epoch 1 far below the rest (as R_floor makes it).
    fn pfr(arms: usize) -> PfrChart {
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        PfrChart {
            title: "PFR".into(),
            x_label: "epoch n".into(),
            y_label: "accumulated PFR Σ ln R\u{302}ₖ(n)".into(),
            series: (0..arms)
                .map(|a| {
                    let y = x
                        .iter()
                        .map(|e| {
                            if *e == 1.0 {
                                -230.0 + a as f64
                            } else {
                                4.0 * a as f64 + 2.0 * e
                            }
                        })
                        .collect();
                    series(&format!("arm {a}"), &x, y, 1.5)
                })
                .collect(),
            zoom_from: 3.0,
            zoom_caption: "(b) epochs ≥ 3".into(),
            final_caption: "(c) epoch 10".into(),
            final_label: "PFR at epoch 10".into(),
        }
    }

    fn pixel(buf: &[u8], w: u32, x: i32, y: i32) -> (u8, u8, u8) {
        let i = (y as usize * w as usize + x as usize) * 3;
        (buf[i], buf[i + 1], buf[i + 2])
    }

    /// Pixels of each colour inside `rect`.
    fn colours(buf: &[u8], w: u32, rect: &PlotRect) -> HashMap<(u8, u8, u8), usize> {
        let mut out = HashMap::new();
        for y in rect.1.clone() {
            for x in rect.0.clone() {
                *out.entry(pixel(buf, w, x, y)).or_default() += 1;
            }
        }
        out
    }

    /// Rows of `rect` holding a pixel of one of the line colours.
    fn inked_rows(buf: &[u8], w: u32, rect: &PlotRect) -> Vec<i32> {
        let line: Vec<(u8, u8, u8)> = COLOURS.iter().map(|c| (c.0, c.1, c.2)).collect();
        rect.1
            .clone()
            .filter(|y| rect.0.clone().any(|x| line.contains(&pixel(buf, w, x, *y))))
            .collect()
    }

    fn every_kind() -> Vec<(&'static str, Figure, usize)> {
        let x: Vec<f64> = (1..=22).map(f64::from).collect();
        let decay = |a: f64| x.iter().map(|s| a / (s * s)).collect::<Vec<_>>();
        vec![
            (
                "line",
                Figure::Line(LineChart {
                    title: "line".into(),
                    x_label: "x".into(),
                    y_label: "y".into(),
                    series: vec![
                        series("a", &x, decay(1.0), 0.01),
                        series("b", &x, decay(2.0), 0.01),
                    ],
                }),
                1,
            ),
            (
                "target",
                Figure::Target(TargetChart {
                    title: "target".into(),
                    x_label: "x".into(),
                    y_label: "y".into(),
                    series: vec![series("a", &x, decay(1.0), 0.0)],
                    targets: vec![Target {
                        label: "≤ 0.1".into(),
                        y: 0.1,
                        series: 0,
                    }],
                    log_y: true,
                }),
                1,
            ),
            ("pfr", Figure::Pfr(pfr(11)), 3),
            (
                "stacked",
                Figure::Stacked(StackedChart {
                    title: "stacked".into(),
                    x_label: "|S|".into(),
                    panels: vec![
                        Panel {
                            caption: "(a)".into(),
                            y_label: "error".into(),
                            series: vec![
                                series("L~", &x, decay(0.3), 0.0),
                                series("L^k", &x, decay(0.4), 0.0),
                            ],
                            styles: vec![0, 1],
                            log_y: true,
                            refs: vec![],
                            weight: 3,
                        },
                        Panel {
                            caption: "(b)".into(),
                            y_label: "ratio".into(),
                            series: vec![series("ratio", &x, vec![0.8; 22], 0.02)],
                            styles: vec![2],
                            log_y: false,
                            refs: vec![("1".into(), 1.0)],
                            weight: 2,
                        },
                    ],
                }),
                2,
            ),
            (
                "bar",
                Figure::Bar(BarChart {
                    title: "bar".into(),
                    x_label: "x".into(),
                    y_label: "y".into(),
                    bars: vec!["a".into(), "b".into()],
                    groups: vec![BarGroup {
                        label: "g".into(),
                        values: vec![(1.0, 0.1), (2.0, 0.2)],
                    }],
                }),
                1,
            ),
            (
                "waterfall",
                Figure::Waterfall(WaterfallChart {
                    title: "w".into(),
                    y_label: "y".into(),
                    steps: vec![
                        WaterfallBar {
                            label: "start".into(),
                            from: None,
                            to: 10.0,
                            whisker: None,
                            text: "10".into(),
                        },
                        WaterfallBar {
                            label: "step".into(),
                            from: Some(10.0),
                            to: 6.0,
                            whisker: Some(1.0),
                            text: "−4".into(),
                        },
                    ],
                    steps_heading: "steps".into(),
                    extras: vec![],
                    extras_heading: String::new(),
                    floor: Some(("floor".into(), 5.0)),
                    whisker_note: "CI".into(),
                }),
                1,
            ),
        ]
    }

    #[test]
    fn every_figure_kind_has_its_size_and_ink_in_every_plot() {
        let dir = tempfile::tempdir().unwrap();
        for (name, fig, plots) in every_kind() {
            let (w, h) = fig.size();
            let (buf, rects) = render_rgb(&fig).unwrap();
            assert_eq!(buf.len(), (w * h * 3) as usize, "{name}");
            assert_eq!(rects.len(), plots, "{name}: plots");
            for (k, r) in rects.iter().enumerate() {
                assert!(
                    r.0.start >= 0 && r.0.end <= w as i32 && r.1.start >= 0 && r.1.end <= h as i32,
                    "{name}: plot {k} {r:?} inside {w}×{h}"
                );
                assert!(
                    (r.0.end - r.0.start) > 150 && (r.1.end - r.1.start) > 100,
                    "{name}: plot {k} {r:?} too small"
                );
                let c = colours(&buf, w, r);
                let ink: usize = c
                    .iter()
                    .filter(|(p, _)| **p != (255, 255, 255) && **p != (235, 235, 235))
                    .map(|(_, n)| n)
                    .sum();
                let area = ((r.0.end - r.0.start) * (r.1.end - r.1.start)) as usize;
                assert!(
                    ink * 100 > area && c.len() >= 4,
                    "{name}: plot {k} nearly blank ({ink} inked pixels of {area}, {} colours)",
                    c.len()
                );
            }
            // The files: a PNG of that size (IHDR) and an SVG.
            let (png, svg) = save(&fig, &dir.path().join(name)).unwrap();
            let bytes = std::fs::read(&png).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
            let be = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
            assert_eq!((be(16), be(20)), (w, h), "{name}: PNG size");
            assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
        }
    }

    #[test]
    fn the_pfr_zoom_panel_spreads_the_later_epochs_over_its_height() {
        let fig = Figure::Pfr(pfr(11));
        let (w, _) = fig.size();
        let (buf, rects) = render_rgb(&fig).unwrap();
        let [full, zoom, _] = &rects[..] else {
            panic!("three panels: {rects:?}")
        };
        let span = |r: &PlotRect| {
            let rows = inked_rows(&buf, w, r);
            let (a, b) = (rows.first().unwrap(), rows.last().unwrap());
            f64::from(b - a) / f64::from(r.1.end - r.1.start)
        };
        // Epochs 3–10 in the full panel sit in a narrow band at the top (its
        // data run from −230 to 60); zoomed, they fill the height.
        assert!(span(zoom) > 0.8, "zoom span {}", span(zoom));
        let later: Vec<i32> = inked_rows(
            &buf,
            w,
            &(
                full.0.start + (full.0.end - full.0.start) / 4..full.0.end,
                full.1.clone(),
            ),
        );
        let later_span = f64::from(later.last().unwrap() - later.first().unwrap())
            / f64::from(full.1.end - full.1.start);
        assert!(later_span < 0.45, "full panel, epochs ≥ 3: {later_span}");
        // Every line colour is drawn in the zoom panel.
        let c = colours(&buf, w, zoom);
        for col in COLOURS {
            assert!(c.contains_key(&(col.0, col.1, col.2)), "{col:?} missing");
        }
        // Few epochs: no zoom, one line panel and the final-epoch panel.
        let mut short = pfr(3);
        for s in &mut short.series {
            s.x.truncate(2);
            s.y.truncate(2);
            s.band = None;
        }
        let (_, rects) = render_rgb(&Figure::Pfr(short)).unwrap();
        assert_eq!(rects.len(), 2);
    }
}
