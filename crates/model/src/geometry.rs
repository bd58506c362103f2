//! Plane geometry (SPEC §3): BS sites, cell regions, the LoS rule and the
//! grid that CKMs and drive tests share.
//!
//! The cell of BS ℓ is the set of points that are closer to BS ℓ than to any
//! other BS (Voronoi), within ±`sector_half_width` of its broadside, at a
//! distance in [`min_distance`, `cell_radius`]. A link BS b → p has a LoS path
//! iff p lies in b's cell.

use crate::scenario::{Scenario, wrap_angle};

/// A point or vector in the plane, metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

// Method forms (`p.add(q)`) keep the geometry chains short; Point is plain data.
#[allow(clippy::should_implement_trait)]
impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }
    pub fn distance(self, other: Point) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
    pub fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }
    pub fn add(self, o: Point) -> Point {
        Point::new(self.x + o.x, self.y + o.y)
    }
    pub fn scale(self, s: f64) -> Point {
        Point::new(self.x * s, self.y * s)
    }
    pub fn dot(self, o: Point) -> f64 {
        self.x * o.x + self.y * o.y
    }
    pub fn norm(self) -> f64 {
        self.x.hypot(self.y)
    }
}

/// A BS site: position of the co-located Tx/Rx ULAs and the azimuth of their
/// broadside (radians, counter-clockwise from +x).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BsSite {
    pub position: Point,
    pub broadside_rad: f64,
}

impl BsSite {
    /// Angle of `p` from this array's broadside, in (−π, π] (θ of eq. (14)).
    pub fn angle_to(&self, p: Point) -> f64 {
        let d = p.sub(self.position);
        wrap_angle(d.y.atan2(d.x) - self.broadside_rad)
    }

    /// Unit vector at angle `theta` from broadside.
    pub fn direction(&self, theta: f64) -> Point {
        let az = self.broadside_rad + theta;
        Point::new(az.cos(), az.sin())
    }
}

/// The cell regions of a network.
#[derive(Debug, Clone)]
pub struct Cells {
    pub sites: Vec<BsSite>,
    pub min_distance_m: f64,
    pub cell_radius_m: f64,
    pub sector_half_width_rad: f64,
}

impl Cells {
    pub fn from_scenario(s: &Scenario) -> Self {
        Self {
            sites: s.sites.clone(),
            min_distance_m: s.min_distance_m,
            cell_radius_m: s.cell_radius_m,
            sector_half_width_rad: s.sector_half_width_rad,
        }
    }

    /// Does `p` lie in the cell of BS `b`?
    pub fn contains(&self, b: usize, p: Point) -> bool {
        self.violation(b, p).is_none()
    }

    /// The cell that contains `p`, if any.
    pub fn cell_of(&self, p: Point) -> Option<usize> {
        (0..self.sites.len()).find(|&b| self.contains(b, p))
    }

    /// LoS rule (SPEC §3): BS `b` sees `p` in line of sight iff `p` is in its cell.
    pub fn has_los(&self, b: usize, p: Point) -> bool {
        self.contains(b, p)
    }

    /// If `p` is outside cell `b`, the outward unit normal of the first
    /// boundary it crosses (used to reflect movement); `None` inside.
    pub fn violation(&self, b: usize, p: Point) -> Option<Point> {
        let site = self.sites[b];
        let d = p.sub(site.position);
        let r = d.norm();
        if r > self.cell_radius_m {
            return Some(d.scale(1.0 / r));
        }
        if r < self.min_distance_m {
            return Some(if r > 0.0 {
                d.scale(-1.0 / r)
            } else {
                site.direction(0.0).scale(-1.0)
            });
        }
        let theta = site.angle_to(p);
        if theta.abs() > self.sector_half_width_rad {
            // Outward normal of the sector edge on the violated side.
            let edge = site.direction(theta.signum() * self.sector_half_width_rad);
            let normal = if theta > 0.0 {
                Point::new(-edge.y, edge.x)
            } else {
                Point::new(edge.y, -edge.x)
            };
            return Some(normal);
        }
        for (o, other) in self.sites.iter().enumerate() {
            // Ties on the Voronoi border go to the lower BS index.
            let d = p.distance(other.position);
            if o != b && (d < r || (d == r && o < b)) {
                let n = other.position.sub(site.position);
                return Some(n.scale(1.0 / n.norm()));
            }
        }
        None
    }

    /// Axis-aligned bounding box (min, max) of cell `b` (conservative: the
    /// bounding box of its annular sector).
    pub fn bounding_box(&self, b: usize) -> (Point, Point) {
        let site = self.sites[b];
        let mut lo = Point::new(f64::INFINITY, f64::INFINITY);
        let mut hi = Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY);
        let steps = 720;
        for i in 0..=steps {
            let theta = -self.sector_half_width_rad
                + 2.0 * self.sector_half_width_rad * i as f64 / steps as f64;
            for r in [self.min_distance_m, self.cell_radius_m] {
                let p = site.position.add(site.direction(theta).scale(r));
                lo = Point::new(lo.x.min(p.x), lo.y.min(p.y));
                hi = Point::new(hi.x.max(p.x), hi.y.max(p.y));
            }
        }
        (lo, hi)
    }

    /// Area of cell `b` in m², by counting points of a `step`-metre lattice.
    pub fn area(&self, b: usize, step: f64) -> f64 {
        let (lo, hi) = self.bounding_box(b);
        let nx = ((hi.x - lo.x) / step).ceil() as usize;
        let ny = ((hi.y - lo.y) / step).ceil() as usize;
        let mut count = 0usize;
        for i in 0..nx {
            for j in 0..ny {
                let p = Point::new(
                    lo.x + (i as f64 + 0.5) * step,
                    lo.y + (j as f64 + 0.5) * step,
                );
                if self.contains(b, p) {
                    count += 1;
                }
            }
        }
        count as f64 * step * step
    }
}

/// A regular grid of square cells anchored on the global lattice
/// (cell edges at integer multiples of `cell_m`), so every BS's grid and the
/// drive test agree on cell boundaries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// South-west corner of cell (0, 0), metres.
    pub origin: Point,
    pub cell_m: f64,
    pub nx: usize,
    pub ny: usize,
}

impl Grid {
    /// The smallest lattice-aligned grid covering the box [lo, hi].
    pub fn covering(lo: Point, hi: Point, cell_m: f64) -> Self {
        let ix0 = (lo.x / cell_m).floor();
        let iy0 = (lo.y / cell_m).floor();
        let ix1 = (hi.x / cell_m).ceil();
        let iy1 = (hi.y / cell_m).ceil();
        Self {
            origin: Point::new(ix0 * cell_m, iy0 * cell_m),
            cell_m,
            nx: (ix1 - ix0).max(1.0) as usize,
            ny: (iy1 - iy0).max(1.0) as usize,
        }
    }

    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Centre of cell (ix, iy).
    pub fn centre(&self, ix: usize, iy: usize) -> Point {
        Point::new(
            self.origin.x + (ix as f64 + 0.5) * self.cell_m,
            self.origin.y + (iy as f64 + 0.5) * self.cell_m,
        )
    }

    /// Cell indices of `p`, or `None` outside the grid.
    pub fn locate(&self, p: Point) -> Option<(usize, usize)> {
        let fx = ((p.x - self.origin.x) / self.cell_m).floor();
        let fy = ((p.y - self.origin.y) / self.cell_m).floor();
        if fx >= 0.0 && fy >= 0.0 && (fx as usize) < self.nx && (fy as usize) < self.ny {
            Some((fx as usize, fy as usize))
        } else {
            None
        }
    }

    /// Row-major linear index of (ix, iy): `iy * nx + ix`.
    pub fn index(&self, ix: usize, iy: usize) -> usize {
        iy * self.nx + ix
    }
}

/// The CKM area of BS `b`: the union of the *other* cells' regions (the
/// locations the CKM answers queries about), as a lattice-aligned grid over
/// their bounding box plus a membership test.
pub fn ckm_grid(cells: &Cells, b: usize, cell_m: f64) -> Grid {
    let mut lo = Point::new(f64::INFINITY, f64::INFINITY);
    let mut hi = Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY);
    for o in 0..cells.sites.len() {
        if o == b && cells.sites.len() > 1 {
            continue;
        }
        let (l, h) = cells.bounding_box(o);
        lo = Point::new(lo.x.min(l.x), lo.y.min(l.y));
        hi = Point::new(hi.x.max(h.x), hi.y.max(h.y));
    }
    Grid::covering(lo, hi, cell_m)
}

/// Is `p` in the CKM area of BS `b` (some other cell's region)?
pub fn in_ckm_area(cells: &Cells, b: usize, p: Point) -> bool {
    match cells.cell_of(p) {
        Some(c) => c != b || cells.sites.len() == 1,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::paper_sites;

    fn paper_cells() -> Cells {
        Cells {
            sites: paper_sites(),
            min_distance_m: 10.0,
            cell_radius_m: 120.0,
            sector_half_width_rad: 60f64.to_radians(),
        }
    }

    #[test]
    fn cells_are_disjoint_and_contain_points_toward_centroid() {
        let cells = paper_cells();
        let centroid_dir = |b: usize, r: f64| {
            let s = cells.sites[b];
            s.position.add(s.direction(0.0).scale(r))
        };
        for b in 0..3 {
            assert!(cells.contains(b, centroid_dir(b, 50.0)));
            assert!(!cells.contains(b, centroid_dir(b, 5.0)), "too close");
            assert!(
                !cells.contains(b, centroid_dir(b, 110.0)),
                "past the Voronoi border"
            );
        }
        let mut hits = 0;
        for i in 0..60 {
            for j in 0..60 {
                let p = Point::new(-60.0 + 5.0 * i as f64, -60.0 + 5.0 * j as f64);
                let n = (0..3).filter(|&b| cells.contains(b, p)).count();
                assert!(n <= 1);
                hits += n;
            }
        }
        assert!(hits > 100);
    }

    #[test]
    fn angle_and_direction_are_inverse() {
        let site = paper_sites()[1];
        for &theta in &[-1.0, 0.0, 0.5] {
            let p = site.position.add(site.direction(theta).scale(30.0));
            assert!((site.angle_to(p) - theta).abs() < 1e-12);
        }
    }

    #[test]
    fn violation_normal_points_outward() {
        let cells = paper_cells();
        let site = cells.sites[0];
        let outside = site.position.add(site.direction(0.3).scale(130.0));
        let n = cells.violation(0, outside).unwrap();
        assert!(n.dot(outside.sub(site.position)) > 0.0);
        let side = site.position.add(site.direction(1.2).scale(50.0));
        let n = cells.violation(0, side).unwrap();
        // Moving against the normal from the sector edge goes back inside.
        let back = side.add(n.scale(-30.0));
        assert!(site.angle_to(back).abs() < 1.2);
    }

    #[test]
    fn grid_is_lattice_aligned_and_locates_its_centres() {
        let g = Grid::covering(Point::new(-1.05, 2.01), Point::new(3.3, 4.0), 0.4);
        assert!((g.origin.x / 0.4 - (g.origin.x / 0.4).round()).abs() < 1e-9);
        for ix in 0..g.nx {
            for iy in 0..g.ny {
                assert_eq!(g.locate(g.centre(ix, iy)), Some((ix, iy)));
            }
        }
        assert_eq!(g.locate(Point::new(-100.0, 0.0)), None);
    }
}
