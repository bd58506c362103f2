//! The PFR figure: (a) every epoch, (b) a zoom on the epochs from
//! `zoom_from` on, where the schemes differ (at epoch 1 every unserved user
//! sits at R_floor, which would otherwise set the scale), and (c) the final
//! epoch's means with their 95% CIs, one row per arm, which is also the
//! legend of (a) and (b).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{SWATCH_W, Swatch, draw_marker, draw_swatch, line_style};
use super::{
    FONT_NAME, LinePanel, PlotRect, Series, line_panel, map_series, padded, tick, whole_x,
    x_extent, y_extent,
};

/// A PFR figure (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct PfrChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// First x of the zoom panel (e.g. epoch 3).
    pub zoom_from: f64,
    /// Caption of the zoom panel.
    pub zoom_caption: String,
    /// Caption of the final-x panel.
    pub final_caption: String,
    /// Axis text of the final-x panel.
    pub final_label: String,
}

/// Height of the row of line panels.
const TOP_H: u32 = 470;
/// Height of one arm's row in the final-x panel.
const ROW_H: u32 = 26;
/// Width of the column of values right of the final-x panel.
const VALUE_W: u32 = 170;

impl PfrChart {
    pub(super) fn map_text(
        &self,
        f: &dyn Fn(&str) -> String,
        rot: &dyn Fn(&str) -> String,
    ) -> PfrChart {
        PfrChart {
            title: f(&self.title),
            x_label: f(&self.x_label),
            y_label: rot(&self.y_label),
            series: map_series(&self.series, f),
            zoom_from: self.zoom_from,
            zoom_caption: f(&self.zoom_caption),
            final_caption: f(&self.final_caption),
            final_label: f(&self.final_label),
        }
    }

    pub(super) fn size(&self) -> (u32, u32) {
        let rows = self.series.len().max(1) as u32;
        (1280, 40 + TOP_H + (110 + ROW_H * rows).max(220))
    }

    /// Whether a zoom panel has something to show: two x values from
    /// `zoom_from` on and at least one before.
    fn zooms(&self) -> bool {
        let xs = || self.series.iter().flat_map(|s| s.x.iter().copied());
        let mut after: Vec<f64> = xs().filter(|x| *x >= self.zoom_from).collect();
        after.sort_by(f64::total_cmp);
        after.dedup();
        after.len() >= 2 && xs().any(|x| x < self.zoom_from)
    }
}

pub(super) fn draw<DB: DrawingBackend>(
    c: &PfrChart,
    root: &DrawingArea<DB, Shift>,
) -> Result<Vec<PlotRect>, String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let area = root.titled(&c.title, (FONT_NAME, 22)).map_err(e)?;
    let (top, bottom) = area.split_vertically(TOP_H);
    let styles: Vec<usize> = (0..c.series.len()).collect();
    let xs = x_extent(&c.series);
    let panel = |caption, x_range, highlight, y_range| LinePanel {
        caption,
        x_label: &c.x_label,
        y_label: &c.y_label,
        series: &c.series,
        styles: &styles,
        x_range,
        log_y: false,
        int_x: whole_x(&c.series),
        refs: &[],
        targets: &[],
        highlight,
        y_range,
    };
    let mut rects = Vec::new();
    if c.zooms() {
        let zoom_x = (c.zoom_from, xs.1);
        let (zy0, zy1) = y_extent(&c.series, zoom_x, &|y: f64| y.is_finite());
        let (hy0, hy1) = padded(zy0, zy1);
        let (left, right) = top.split_horizontally(top.dim_in_pixel().0 * 2 / 5);
        rects.push(line_panel(
            &left,
            &panel(
                Some("(a) every epoch"),
                xs,
                Some((c.zoom_from, xs.1, hy0, hy1)),
                None,
            ),
        )?);
        rects.push(line_panel(
            &right,
            &panel(Some(&c.zoom_caption), zoom_x, None, Some((zy0, zy1))),
        )?);
    } else {
        rects.push(line_panel(&top, &panel(None, xs, None, None))?);
    }
    rects.push(final_panel(c, &bottom)?);
    Ok(rects)
}

/// A mean with its CI bounds, if any.
type Point = (f64, Option<(f64, f64)>);

/// The last finite point of `s`.
fn last_point(s: &Series) -> Option<Point> {
    let i = (0..s.y.len()).rev().find(|i| s.y[*i].is_finite())?;
    let ci = s
        .band
        .as_ref()
        .map(|(l, h)| (l[i], h[i]))
        .filter(|(l, h)| l.is_finite() && h.is_finite());
    Some((s.y[i], ci))
}

/// Panel (c): one row per arm, its swatch and label left, its final mean
/// (marker) and CI (whisker) in the plot, the numbers right.
fn final_panel<DB: DrawingBackend>(
    c: &PfrChart,
    area: &DrawingArea<DB, Shift>,
) -> Result<PlotRect, String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let rows: Vec<Option<Point>> = c.series.iter().map(last_point).collect();
    let (lo, hi) = rows
        .iter()
        .flatten()
        .flat_map(|(m, ci)| {
            let (a, b) = ci.unwrap_or((*m, *m));
            [*m, a, b]
        })
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    let (lo, hi) = padded(lo, hi);
    let font = TextStyle::from((FONT_NAME, 15).into_font());
    let widest = c
        .series
        .iter()
        .map(|s| {
            area.estimate_text_size(&s.label, &font)
                .map_or(8 * s.label.chars().count() as u32, |(w, _)| w)
        })
        .max()
        .unwrap_or(0);
    let (w, _) = area.dim_in_pixel();
    let label_w = (widest + SWATCH_W as u32 + 40).min(w * 9 / 20);
    let (left, values) = area.split_horizontally(w.saturating_sub(VALUE_W));
    let n = c.series.len().max(1);
    let mut chart = ChartBuilder::on(&left)
        .caption(&c.final_caption, (FONT_NAME, 17))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(label_w)
        .build_cartesian_2d(lo..hi, 0.0..n as f64)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(&c.final_label)
        .x_label_formatter(&|x: &f64| tick(*x))
        .y_labels(0)
        .disable_y_mesh()
        .label_style((FONT_NAME, 15))
        .axis_desc_style((FONT_NAME, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;
    let plot = chart.plotting_area();
    let text = font.pos(Pos::new(HPos::Left, VPos::Center));
    let (lb, vb) = (left.get_base_pixel(), values.get_base_pixel());
    for (i, (s, row)) in c.series.iter().zip(&rows).enumerate() {
        let y = n as f64 - i as f64 - 0.5;
        let st = line_style(i);
        let py = chart.backend_coord(&(lo, y)).1;
        draw_swatch(&left, Swatch::Line(st), (8, py - lb.1))?;
        left.draw(&Text::new(
            s.label.clone(),
            (8 + SWATCH_W + 10, py - lb.1),
            text.clone(),
        ))
        .map_err(e)?;
        let Some((mean, ci)) = row else { continue };
        plot.draw(&PathElement::new(
            vec![(lo, y), (hi, y)],
            RGBColor(225, 225, 225),
        ))
        .map_err(e)?;
        if let Some((a, b)) = ci {
            plot.draw(&PathElement::new(
                vec![(*a, y), (*b, y)],
                st.colour.stroke_width(2),
            ))
            .map_err(e)?;
            for x in [*a, *b] {
                plot.draw(
                    &(EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, -6), (0, 6)], st.colour.stroke_width(2))),
                )
                .map_err(e)?;
            }
        }
        draw_marker(plot, (*mean, y), st.marker, st.colour)?;
        let value = match ci {
            Some((a, b)) => format!(
                "{} ± {}",
                crate::numbers::sig(*mean),
                crate::numbers::sig((b - a) / 2.0)
            ),
            None => crate::numbers::sig(*mean),
        };
        values
            .draw(&Text::new(value, (8, py - vb.1), text.clone()))
            .map_err(e)?;
    }
    Ok(plot.get_pixel_range())
}
