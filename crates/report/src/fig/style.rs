//! Line styles that never repeat within a figure: colour × dash pattern
//! (with a marker shape per dash pattern, so print in grey stays readable),
//! the dash-pattern path element and the legend swatches.

use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;

/// A pixel position.
type BackendCoord = (i32, i32);

/// Line colours: Okabe–Ito without its yellow (illegible on white).
pub const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// Dash patterns (alternating on/off lengths in pixels; empty is solid).
pub const DASHES: [&[u32]; 4] = [&[], &[10, 5], &[2, 4], &[12, 4, 2, 4]];

/// Marker shape of each dash pattern.
const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
];

/// Styles before the first repeat: a figure with at most this many curves
/// gives every curve its own (colour, dash) pair.
pub const MAX_STYLES: usize = COLOURS.len() * DASHES.len();

/// Point marker shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

/// How curve `i` of a figure is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineStyle {
    pub colour: RGBColor,
    /// Index into [`DASHES`].
    pub dash: usize,
    pub marker: Marker,
}

/// The style of curve `i`: all colours solid first, then all colours with
/// the next dash pattern, and so on; repeats only after [`MAX_STYLES`].
pub fn line_style(i: usize) -> LineStyle {
    let dash = (i / COLOURS.len()) % DASHES.len();
    LineStyle {
        colour: COLOURS[i % COLOURS.len()],
        dash,
        marker: MARKERS[dash],
    }
}

/// Draw the polyline `points` (in `area`'s coordinates) with dash pattern
/// `pattern`, measured in pixels along the line.
pub fn draw_pattern<DB, CT>(
    area: &DrawingArea<DB, CT>,
    points: &[CT::From],
    pattern: &[u32],
    style: ShapeStyle,
) -> Result<(), String>
where
    DB: DrawingBackend,
    CT: CoordTranslate,
{
    let px = area.strip_coord_spec();
    let base = px.get_base_pixel();
    let pts: Vec<BackendCoord> = points
        .iter()
        .map(|p| {
            let q = area.map_coordinate(p);
            (q.0 - base.0, q.1 - base.1)
        })
        .collect();
    let runs = if pattern.is_empty() {
        vec![pts]
    } else {
        dash_runs(&pts, pattern)
    };
    for run in runs {
        px.draw(&PathElement::new(run, style))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The "on" pieces of the polyline `pts` under `pattern` (on, off, on, …
/// pixel lengths, continued across vertices).
pub fn dash_runs(pts: &[BackendCoord], pattern: &[u32]) -> Vec<Vec<BackendCoord>> {
    let to_i = |p: (f64, f64)| (p.0.round() as i32, p.1.round() as i32);
    let mut runs = Vec::new();
    let Some(&first) = pts.first() else {
        return runs;
    };
    let (mut k, mut left) = (0usize, f64::from(pattern[0].max(1)));
    let mut current = vec![first];
    let mut start = (f64::from(first.0), f64::from(first.1));
    for &p in &pts[1..] {
        let end = (f64::from(p.0), f64::from(p.1));
        loop {
            let d = (end.0 - start.0).hypot(end.1 - start.1);
            if d <= left {
                left -= d;
                start = end;
                if k % 2 == 0 {
                    current.push(p);
                }
                break;
            }
            let t = left / d;
            start = (
                start.0 + (end.0 - start.0) * t,
                start.1 + (end.1 - start.1) * t,
            );
            if k % 2 == 0 {
                current.push(to_i(start));
                runs.push(std::mem::take(&mut current));
            } else {
                current = vec![to_i(start)];
            }
            k = (k + 1) % pattern.len();
            left = f64::from(pattern[k].max(1));
        }
    }
    if k % 2 == 0 && current.len() > 1 {
        runs.push(current);
    }
    runs
}

/// Draw marker `m` at `p` (any coordinate system of `area`).
pub fn draw_marker<DB, CT>(
    area: &DrawingArea<DB, CT>,
    p: CT::From,
    m: Marker,
    colour: RGBColor,
) -> Result<(), String>
where
    DB: DrawingBackend,
    CT: CoordTranslate,
    CT::From: Clone + 'static,
{
    let s = colour.filled();
    let r = match m {
        Marker::Circle => area.draw(&(EmptyElement::at(p) + Circle::new((0, 0), 3, s))),
        Marker::Square => area.draw(&(EmptyElement::at(p) + Rectangle::new([(-3, -3), (3, 3)], s))),
        Marker::Triangle => area.draw(&(EmptyElement::at(p) + TriangleMarker::new((0, 0), 4, s))),
        Marker::Diamond => area
            .draw(&(EmptyElement::at(p) + Polygon::new(vec![(0, -4), (4, 0), (0, 4), (-4, 0)], s))),
    };
    r.map_err(|e| e.to_string())
}

/// What a legend entry shows beside its text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Swatch {
    /// A curve: its line (with dash pattern) and marker.
    Line(LineStyle),
    /// A dashed target line in a colour.
    Target(RGBColor),
    /// A grey dotted reference line.
    Reference,
}

/// Colour and dash pattern of reference lines.
pub const REFERENCE: RGBColor = RGBColor(90, 90, 90);
pub const REFERENCE_DASH: &[u32] = &[3, 3];

/// Width of a swatch.
pub const SWATCH_W: i32 = 36;

/// Draw `swatch` on `area` (pixel coordinates) from x = `x` at height `y`.
pub fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    swatch: Swatch,
    (x, y): (i32, i32),
) -> Result<(), String> {
    let line = [(x, y), (x + SWATCH_W, y)];
    match swatch {
        Swatch::Line(s) => {
            draw_pattern(area, &line, DASHES[s.dash], s.colour.stroke_width(2))?;
            draw_marker(area, (x + SWATCH_W / 2, y), s.marker, s.colour)
        }
        Swatch::Target(c) => draw_pattern(area, &line, DASHES[1], c.stroke_width(2)),
        Swatch::Reference => draw_pattern(area, &line, REFERENCE_DASH, REFERENCE.stroke_width(2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_max_styles_curves_get_distinct_colour_and_dash() {
        for n in [1, 2, 7, 8, 9, 11, 14, 20, MAX_STYLES] {
            let pairs: std::collections::HashSet<((u8, u8, u8), usize)> = (0..n)
                .map(|i| {
                    let s = line_style(i);
                    ((s.colour.0, s.colour.1, s.colour.2), s.dash)
                })
                .collect();
            assert_eq!(pairs.len(), n, "{n} curves");
        }
        const { assert!(MAX_STYLES >= 24, "room for the largest figures") };
        // Same dash pattern, same marker; another pattern, another marker.
        assert_eq!(line_style(0).marker, line_style(3).marker);
        assert_ne!(line_style(0).marker, line_style(COLOURS.len()).marker);
    }

    #[test]
    fn dash_runs_follow_the_pattern_across_vertices() {
        // 30 px right then 30 px down, pattern 10 on / 5 off.
        let runs = dash_runs(&[(0, 0), (30, 0), (30, 30)], &[10, 5]);
        let len = |r: &Vec<BackendCoord>| {
            r.windows(2)
                .map(|w| f64::from(w[1].0 - w[0].0).hypot(f64::from(w[1].1 - w[0].1)))
                .sum::<f64>()
        };
        // On: 0–10, 15–25, 30–40, 45–55 along the line; 60 is the end.
        assert_eq!(runs.len(), 4, "{runs:?}");
        assert_eq!(runs[0], vec![(0, 0), (10, 0)]);
        assert_eq!(runs[2], vec![(30, 0), (30, 10)]);
        for r in &runs {
            assert!((len(r) - 10.0).abs() < 1e-9, "{r:?}");
        }
        // Solid pattern of one long dash: one run with every vertex.
        assert_eq!(dash_runs(&[(0, 0), (5, 0), (5, 5)], &[100, 1]).len(), 1);
    }
}
