//! Panels stacked on one x axis, each with its own y axis (linear or log),
//! and one legend right of them all (e.g. Theorem 1: the two errors on a
//! log axis over their ratio).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::Swatch;
use super::{
    FONT_NAME, LinePanel, PlotRect, Series, curve_entries, draw_legend, legend_width, line_panel,
    map_series, whole_x, x_extent,
};

/// One panel of a [`StackedChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Caption above the panel (empty: none).
    pub caption: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Style index (see [`super::line_style`]) of each series: styles are
    /// the figure's, so two panels never share one for different curves.
    pub styles: Vec<usize>,
    pub log_y: bool,
    /// Grey dotted horizontal lines: (legend text, y).
    pub refs: Vec<(String, f64)>,
    /// Relative height.
    pub weight: u32,
}

/// Panels on one x axis (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct StackedChart {
    pub title: String,
    pub x_label: String,
    pub panels: Vec<Panel>,
}

impl StackedChart {
    pub(super) fn map_text(
        &self,
        f: &dyn Fn(&str) -> String,
        rot: &dyn Fn(&str) -> String,
    ) -> StackedChart {
        StackedChart {
            title: f(&self.title),
            x_label: f(&self.x_label),
            panels: self
                .panels
                .iter()
                .map(|p| Panel {
                    caption: f(&p.caption),
                    y_label: rot(&p.y_label),
                    series: map_series(&p.series, f),
                    refs: p.refs.iter().map(|(l, y)| (f(l), *y)).collect(),
                    ..p.clone()
                })
                .collect(),
        }
    }
}

pub(super) fn draw<DB: DrawingBackend>(
    c: &StackedChart,
    root: &DrawingArea<DB, Shift>,
) -> Result<Vec<PlotRect>, String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let area = root.titled(&c.title, (FONT_NAME, 22)).map_err(e)?;
    // The legend: each panel's curves, then its reference lines.
    let mut entries = Vec::new();
    for p in &c.panels {
        entries.extend(curve_entries(&p.series, &p.styles));
        entries.extend(
            p.refs
                .iter()
                .map(|(l, _)| (Swatch::Reference, l.clone(), false)),
        );
        if let Some(last) = entries.last_mut() {
            last.2 = true;
        }
    }
    let (w, h) = area.dim_in_pixel();
    let lw = legend_width(&area, entries.iter().map(|x| x.1.clone()), w * 2 / 5);
    let (plots, legend) = area.split_horizontally(w - lw);
    let all: Vec<Series> = c.panels.iter().flat_map(|p| p.series.clone()).collect();
    let xs = x_extent(&all);
    let total: u32 = c.panels.iter().map(|p| p.weight.max(1)).sum();
    let mut rest = plots;
    let mut rects = Vec::new();
    for (i, p) in c.panels.iter().enumerate() {
        let last = i + 1 == c.panels.len();
        let this = if last {
            rest.clone()
        } else {
            let (a, b) = rest.split_vertically(h * p.weight.max(1) / total);
            rest = b;
            a
        };
        let refs: Vec<f64> = p.refs.iter().map(|r| r.1).collect();
        rects.push(line_panel(
            &this,
            &LinePanel {
                caption: (!p.caption.is_empty()).then_some(p.caption.as_str()),
                x_label: if last { &c.x_label } else { "" },
                y_label: &p.y_label,
                series: &p.series,
                styles: &p.styles,
                x_range: xs,
                log_y: p.log_y,
                int_x: whole_x(&all) && xs.1 - xs.0 <= 40.0,
                refs: &refs,
                targets: &[],
                highlight: None,
                y_range: None,
            },
        )?);
    }
    let top = rects.first().map_or(0, |r| r.1.start) - legend.get_base_pixel().1;
    draw_legend(&legend, &entries, top)?;
    Ok(rects)
}
