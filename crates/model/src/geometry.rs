//! Plane geometry (SPEC §3): BS sites, cell regions, the LoS rule and the
//! grid that CKMs and drive tests share.
//!
//! The cell of BS ℓ is the set of points that are closer to BS ℓ than to any
//! other BS (Voronoi), within ±`sector_half_width` of its broadside, at a
//! distance in [`min_distance`, `cell_radius`]. A link BS b → p has a LoS path
//! iff p lies in b's cell.
//!
//! Co-located sectors (BSs at the same position, e.g. the 3 sectors of a hex
//! site) are not separated by the Voronoi rule, which cannot tell them
//! apart: among them a point belongs to the sector whose broadside is
//! nearest its azimuth (|θ| smallest, the lower index on ties), so three
//! sectors of ±60° around 30°, 150°, 270° split the site's Voronoi hexagon
//! into three rhombi without gap or overlap.
//!
//! With wrap-around ([`Wraparound`]) every BS–location relation (distance,
//! angle, the Voronoi comparison, hence the cell and LoS tests) uses the
//! image of the location nearest that BS.
//!
//! Coordination (SPEC §14.3): `Cells::neighbours` lists per BS the BSs whose
//! users it coordinates with; a BS's CKM area is the union of those cells.

use std::f64::consts::PI;

pub use crate::layout::Wraparound;

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

/// Wrap an angle to (−π, π].
pub fn wrap_angle(a: f64) -> f64 {
    let mut x = (a + PI).rem_euclid(2.0 * PI) - PI;
    if x <= -PI {
        x += 2.0 * PI;
    }
    x
}

/// The paper's three sites: (0,0), (180,0), (90, 90√3) m, each broadside
/// pointing at the centroid.
pub fn paper_sites() -> Vec<BsSite> {
    let positions = [
        Point::new(0.0, 0.0),
        Point::new(180.0, 0.0),
        Point::new(90.0, 90.0 * 3f64.sqrt()),
    ];
    let centroid = Point::new(
        positions.iter().map(|p| p.x).sum::<f64>() / 3.0,
        positions.iter().map(|p| p.y).sum::<f64>() / 3.0,
    );
    positions
        .iter()
        .map(|&p| BsSite {
            position: p,
            broadside_rad: (centroid.y - p.y).atan2(centroid.x - p.x),
        })
        .collect()
}

/// The cell regions of a network.
#[derive(Debug, Clone)]
pub struct Cells {
    pub sites: Vec<BsSite>,
    pub min_distance_m: f64,
    pub cell_radius_m: f64,
    pub sector_half_width_rad: f64,
    /// The 3GPP wrap-around of a hex layout; `None`: the plain plane.
    pub wraparound: Option<Wraparound>,
    /// Per BS ℓ, the other BSs whose users ℓ coordinates with (ascending):
    /// ℓ receives their locations, its CKM covers their cells, its leakage
    /// sums over their users. `None`: every other BS (the paper).
    pub neighbours: Option<Vec<Vec<usize>>>,
}

impl Cells {
    /// Cells of `sites` in the plain plane, every BS coordinating with all.
    pub fn new(
        sites: Vec<BsSite>,
        min_distance_m: f64,
        cell_radius_m: f64,
        sector_half_width_rad: f64,
    ) -> Self {
        Self {
            sites,
            min_distance_m,
            cell_radius_m,
            sector_half_width_rad,
            wraparound: None,
            neighbours: None,
        }
    }

    /// The image of `p` that BS `b` sees: the wrapped image nearest its
    /// site, or `p` itself without wrap-around.
    pub fn image(&self, b: usize, p: Point) -> Point {
        match &self.wraparound {
            Some(w) => w.nearest_image(self.sites[b].position, p),
            None => p,
        }
    }

    /// Is `p` its own nearest image seen from BS `b` (always, without
    /// wrap-around)? The points of BS `b`'s own frame.
    pub fn is_own_image(&self, b: usize, p: Point) -> bool {
        self.wraparound
            .as_ref()
            .is_none_or(|w| w.nearest_image_index(self.sites[b].position, p) == 0)
    }

    /// Distance from BS `b` to `p` (to its nearest image), m.
    pub fn distance(&self, b: usize, p: Point) -> f64 {
        self.image(b, p).distance(self.sites[b].position)
    }

    /// Angle of `p` (its nearest image) from BS `b`'s broadside, (−π, π].
    pub fn angle(&self, b: usize, p: Point) -> f64 {
        self.sites[b].angle_to(self.image(b, p))
    }

    /// Are BSs `a` and `b` co-located sectors of one site?
    pub fn colocated(&self, a: usize, b: usize) -> bool {
        a != b && self.sites[a].position == self.sites[b].position
    }

    /// Does BS `l` coordinate with BS `m` (receive its locations, cover its
    /// cell in its CKM, sum leakage over its users)?
    pub fn coordinates_with(&self, l: usize, m: usize) -> bool {
        l != m
            && self
                .neighbours
                .as_ref()
                .is_none_or(|n| n[l].binary_search(&m).is_ok())
    }

    /// The BSs BS `l` coordinates with, ascending.
    pub fn neighbours_of(&self, l: usize) -> Vec<usize> {
        (0..self.sites.len())
            .filter(|&m| self.coordinates_with(l, m))
            .collect()
    }

    /// Does `p` lie in the cell of BS `b`?
    pub fn contains(&self, b: usize, p: Point) -> bool {
        self.violation(b, p).is_none()
    }

    /// The cell that contains `p`, if any. Only BSs at the smallest
    /// (wrapped) distance can contain `p` (any other loses the Voronoi
    /// test), so only those are tested: O(L) instead of O(L²).
    pub fn cell_of(&self, p: Point) -> Option<usize> {
        let d: Vec<f64> = (0..self.sites.len()).map(|b| self.distance(b, p)).collect();
        let best = d.iter().copied().fold(f64::INFINITY, f64::min);
        // The margin only admits wrapped distances that round differently
        // from the Voronoi test's; `contains` decides.
        let near = best + 1e-9 * best.max(1.0);
        (0..self.sites.len()).find(|&b| d[b] <= near && self.contains(b, p))
    }

    /// LoS rule (SPEC §3): BS `b` sees `p` in line of sight iff `p` is in its cell.
    pub fn has_los(&self, b: usize, p: Point) -> bool {
        self.contains(b, p)
    }

    /// If `p` is outside cell `b`, the outward unit normal of the first
    /// boundary it crosses (used to reflect movement); `None` inside.
    pub fn violation(&self, b: usize, p: Point) -> Option<Point> {
        let site = self.sites[b];
        let p = self.image(b, p);
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
            if o == b {
                continue;
            }
            if other.position == site.position {
                // A co-located sector: the nearest broadside owns p.
                let t = other.angle_to(p).abs();
                if t < theta.abs() || (t == theta.abs() && o < b) {
                    return Some(self.sector_split_normal(b, o));
                }
                continue;
            }
            // Ties on the Voronoi border go to the lower BS index.
            let (d, other_at) = match &self.wraparound {
                Some(w) => {
                    // p seen from `other`, moved back into b's frame.
                    let k = w.nearest_image_index(other.position, p);
                    let at = if k == 0 {
                        other.position
                    } else {
                        other.position.sub(w.shifts[k - 1])
                    };
                    (p.distance(at), at)
                }
                None => (p.distance(other.position), other.position),
            };
            if d < r || (d == r && o < b) {
                let n = other_at.sub(site.position);
                return Some(n.scale(1.0 / n.norm()));
            }
        }
        None
    }

    /// Outward unit normal of cell `b` on the border it shares with its
    /// co-located sector `o`: the ray halfway between their broadsides.
    fn sector_split_normal(&self, b: usize, o: usize) -> Point {
        let site = self.sites[b];
        let phi = wrap_angle(self.sites[o].broadside_rad - site.broadside_rad);
        let edge = site.direction(phi / 2.0);
        if phi > 0.0 {
            Point::new(-edge.y, edge.x)
        } else {
            Point::new(edge.y, -edge.x)
        }
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
        Self::covering_on(lo, hi, cell_m, Point::new(0.0, 0.0))
    }

    /// The smallest grid covering [lo, hi] whose cell edges lie at
    /// `lattice` + multiples of `cell_m`.
    pub fn covering_on(lo: Point, hi: Point, cell_m: f64, lattice: Point) -> Self {
        let ix0 = ((lo.x - lattice.x) / cell_m).floor();
        let iy0 = ((lo.y - lattice.y) / cell_m).floor();
        let ix1 = ((hi.x - lattice.x) / cell_m).ceil();
        let iy1 = ((hi.y - lattice.y) / cell_m).ceil();
        Self {
            origin: Point::new(lattice.x + ix0 * cell_m, lattice.y + iy0 * cell_m),
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

/// The cells of BS `b`'s CKM area: the BSs it coordinates with (every
/// other BS by default), or its own cell in a one-BS network.
pub fn ckm_area_cells(cells: &Cells, b: usize) -> Vec<usize> {
    if cells.sites.len() == 1 {
        vec![b]
    } else {
        cells.neighbours_of(b)
    }
}

/// The CKM area of BS `b`: the union of the cells of the BSs it coordinates
/// with (the locations the CKM answers queries about), as a lattice-aligned
/// grid over their bounding box plus a membership test. With wrap-around the
/// area is in `b`'s own frame: each cell's images that reach the region of
/// points nearest `b`, clipped to that region's box.
pub fn ckm_grid(cells: &Cells, b: usize, cell_m: f64) -> Grid {
    ckm_grid_on(cells, b, cell_m, Point::new(0.0, 0.0))
}

/// [`ckm_grid`] with cell edges at `lattice` + multiples of `cell_m`.
pub fn ckm_grid_on(cells: &Cells, b: usize, cell_m: f64, lattice: Point) -> Grid {
    let mut lo = Point::new(f64::INFINITY, f64::INFINITY);
    let mut hi = Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut grow = |l: Point, h: Point| {
        lo = Point::new(lo.x.min(l.x), lo.y.min(l.y));
        hi = Point::new(hi.x.max(h.x), hi.y.max(h.y));
    };
    for o in ckm_area_cells(cells, b) {
        let (l, h) = cells.bounding_box(o);
        match &cells.wraparound {
            None => grow(l, h),
            Some(w) => {
                let c = cells.sites[b].position;
                let reach = w.region_radius_m();
                for s in w.images(Point::new(0.0, 0.0)) {
                    let (l, h) = (l.add(s), h.add(s));
                    // Nearest point of the box to b's site.
                    let near = Point::new(c.x.clamp(l.x, h.x), c.y.clamp(l.y, h.y));
                    if near.distance(c) > reach {
                        continue;
                    }
                    grow(
                        Point::new(l.x.max(c.x - reach), l.y.max(c.y - reach)),
                        Point::new(h.x.min(c.x + reach), h.y.min(c.y + reach)),
                    );
                }
            }
        }
    }
    Grid::covering_on(lo, hi, cell_m, lattice)
}

/// Is `p` in the CKM area of BS `b` (the cell of a BS it coordinates with,
/// and, with wrap-around, `b`'s own image of that location)?
pub fn in_ckm_area(cells: &Cells, b: usize, p: Point) -> bool {
    if !cells.is_own_image(b, p) {
        return false;
    }
    match cells.cell_of(p) {
        Some(c) => cells.sites.len() == 1 || cells.coordinates_with(b, c),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper_cells() -> Cells {
        Cells::new(paper_sites(), 10.0, 120.0, 60f64.to_radians())
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

    /// 3-sector hex cells of `rings` rings, ISD 200 m, radius 120 m.
    fn hex_cells(rings: usize, wrap: bool) -> Cells {
        let b: Vec<f64> = [30f64, 150.0, 270.0]
            .iter()
            .map(|d| d.to_radians())
            .collect();
        Cells {
            wraparound: wrap.then(|| Wraparound::hex(rings, 200.0)),
            ..Cells::new(
                crate::layout::hex_sites(rings, 200.0, &b),
                10.0,
                120.0,
                60f64.to_radians(),
            )
        }
    }

    /// The seven images' shifts by integer lattice arithmetic, independent
    /// of `Wraparound::hex`: T = (R+1)·a₁ + R·a₂ in axial coordinates,
    /// rotated by 60° as (i, j) → (−j, i + j).
    fn brute_force_shifts(rings: i64, isd: f64) -> Vec<Point> {
        let mut out = vec![Point::new(0.0, 0.0)];
        let (mut i, mut j) = (rings + 1, rings);
        for _ in 0..6 {
            out.push(Point::new(
                isd * (i as f64 + 0.5 * j as f64),
                isd * 3f64.sqrt() / 2.0 * j as f64,
            ));
            (i, j) = (-j, i + j);
        }
        out
    }

    #[test]
    fn hex_sector_cells_tile_the_area_without_gaps_or_overlaps() {
        for (rings, wrap) in [(1, false), (1, true), (2, false), (2, true)] {
            let cells = hex_cells(rings, wrap);
            let positions = crate::layout::hex_site_positions(rings, 200.0);
            let mut tested = 0;
            for (s, site) in positions.iter().enumerate() {
                // A 4 m lattice over the site's Voronoi hexagon (inradius 100 m),
                // off its borders by 0.01 m and off the 10 m hole at the mast.
                for i in -30..=30 {
                    for j in -30..=30 {
                        let o = Point::new(4.0 * i as f64 + 0.3, 4.0 * j as f64 + 0.7);
                        let inside = (0..6).all(|k| {
                            let a = k as f64 * std::f64::consts::PI / 3.0;
                            o.dot(Point::new(a.cos(), a.sin())) < 100.0 - 0.01
                        });
                        if !inside || o.norm() < 10.01 {
                            continue;
                        }
                        let p = site.add(o);
                        let owners: Vec<usize> = (0..cells.sites.len())
                            .filter(|&b| cells.contains(b, p))
                            .collect();
                        assert_eq!(
                            owners.len(),
                            1,
                            "rings {rings} wrap {wrap} {p:?}: {owners:?}"
                        );
                        assert_eq!(owners[0] / 3, s, "{p:?} belongs to its own site");
                        assert_eq!(cells.cell_of(p), Some(owners[0]));
                        tested += 1;
                    }
                }
            }
            assert!(tested > 1500 * positions.len(), "{tested}");
        }
    }

    #[test]
    fn wraparound_cells_tile_beyond_the_cluster_border_too() {
        // On the torus every point is in exactly one cell, also points
        // outside the 19 hexagons (they are images of points inside).
        let cells = hex_cells(2, true);
        for i in 0..60 {
            for j in 0..60 {
                let p = Point::new(-700.0 + 23.3 * i as f64, -700.0 + 23.3 * j as f64);
                let near_mast = (0..cells.sites.len()).any(|b| cells.distance(b, p) < 10.01);
                if near_mast {
                    continue;
                }
                let n = (0..cells.sites.len())
                    .filter(|&b| cells.contains(b, p))
                    .count();
                assert_eq!(n, 1, "{p:?}");
            }
        }
    }

    #[test]
    fn wrapped_distance_and_angle_are_the_minimum_over_the_seven_images() {
        for rings in [0usize, 1, 2] {
            let cells = hex_cells(rings, true);
            let shifts = brute_force_shifts(rings as i64, 200.0);
            for i in 0..25 {
                for j in 0..25 {
                    let p = Point::new(-900.0 + 75.0 * i as f64, -900.0 + 75.0 * j as f64);
                    for (b, site) in cells.sites.iter().enumerate() {
                        let (best, at) = shifts
                            .iter()
                            .map(|s| (p.add(*s).distance(site.position), p.add(*s)))
                            .min_by(|x, y| x.0.total_cmp(&y.0))
                            .unwrap();
                        let got = cells.distance(b, p);
                        assert!(
                            (got - best).abs() < 1e-7,
                            "rings {rings} b {b} {p:?}: {got} vs {best}"
                        );
                        let da = wrap_angle(cells.angle(b, p) - site.angle_to(at)).abs();
                        // Equidistant images may differ in angle; only a unique
                        // minimum off the mast pins it.
                        let unique = best > 1e-6
                            && shifts
                                .iter()
                                .filter(|s| {
                                    (p.add(**s).distance(site.position) - best).abs() < 1e-6
                                })
                                .count()
                                == 1;
                        assert!(
                            !unique || da < 1e-9,
                            "angle at {p:?}, rings {rings}, BS {b}"
                        );
                    }
                }
            }
        }
        // Without wrap-around the distance is the plain one.
        let plain = hex_cells(2, false);
        let p = Point::new(900.0, 0.0);
        assert_eq!(plain.distance(0, p), 900.0);
        assert!(hex_cells(2, true).distance(0, p) < 900.0);
    }

    /// A user at the cluster's border with wrap-around sees the same network
    /// as one at the same spot of a centre cell: the same distances to every
    /// BS and the same single LoS BS; without wrap-around it does not.
    #[test]
    fn a_user_at_the_wrap_border_sees_the_same_network_as_one_in_the_centre() {
        let profile = |cells: &Cells, p: Point| {
            let mut d: Vec<f64> = (0..cells.sites.len())
                .map(|b| cells.distance(b, p))
                .collect();
            d.sort_by(f64::total_cmp);
            let los = (0..cells.sites.len())
                .filter(|&b| cells.has_los(b, p))
                .count();
            (d, los)
        };
        let offsets = [
            Point::new(60.0, 30.0),
            Point::new(-20.0, 90.0),
            Point::new(5.0, -80.0),
        ];
        for wrap in [true, false] {
            let cells = hex_cells(2, wrap);
            let positions = crate::layout::hex_site_positions(2, 200.0);
            let mut same = true;
            for o in offsets {
                let (dc, lc) = profile(&cells, positions[0].add(o));
                // Site 7 (400, 0) and site 13 (−400, 0) sit on the border.
                for edge in [7, 13] {
                    let (de, le) = profile(&cells, positions[edge].add(o));
                    assert_eq!(le, 1);
                    assert_eq!(lc, 1);
                    same &= dc.iter().zip(&de).all(|(a, b)| (a - b).abs() < 1e-6);
                }
            }
            assert_eq!(same, wrap, "wrap {wrap}");
        }
    }

    #[test]
    fn colocated_sectors_split_by_nearest_broadside_and_reflect_inward() {
        let cells = hex_cells(0, false);
        let site = cells.sites[0];
        for (deg, owner) in [
            (31.0, 0),
            (89.0, 0),
            (91.0, 1),
            (209.0, 1),
            (211.0, 2),
            (329.0, 2),
            (331.0, 0),
        ] {
            let a = f64::to_radians(deg);
            let p = site.position.add(Point::new(a.cos(), a.sin()).scale(50.0));
            assert_eq!(cells.cell_of(p), Some(owner), "{deg}°");
            for b in (0..3).filter(|&b| b != owner) {
                let n = cells.violation(b, p).unwrap();
                // Stepping against the normal heads back toward b's broadside.
                let back = p.add(n.scale(-5.0));
                assert!(cells.sites[b].angle_to(back).abs() < cells.sites[b].angle_to(p).abs());
            }
        }
    }

    #[test]
    fn ckm_area_follows_the_neighbours_and_the_wrap() {
        let mut cells = hex_cells(2, true);
        // BS 21 = site 7 (border), sector 0; neighbours: its siblings and a
        // sector of site 13 on the far side (an image across the border).
        let far = 13 * 3 + 1;
        let mut sets: Vec<Vec<usize>> = (0..57).map(|b| vec![(b + 1) % 57]).collect();
        sets[21] = vec![22, 23, far];
        cells.neighbours = Some(sets);
        let g = ckm_grid(&cells, 21, 2.0);
        let mut hits = [0usize; 57];
        for ix in 0..g.nx {
            for iy in 0..g.ny {
                let p = g.centre(ix, iy);
                if in_ckm_area(&cells, 21, p) {
                    hits[cells.cell_of(p).unwrap()] += 1;
                    // A point of b's own frame, near its site.
                    assert!(p.distance(cells.sites[21].position) < 504.0);
                }
            }
        }
        for (c, &n) in hits.iter().enumerate() {
            let want = [22, 23, far].contains(&c);
            assert_eq!(n > 0, want, "cell {c}: {n}");
        }
        // The far sector's cell is covered (about) whole: area / 4 m² per point.
        let area = cells.area(far, 2.0);
        assert!(
            (hits[far] as f64 * 4.0 - area).abs() < 0.05 * area,
            "{} vs {area}",
            hits[far]
        );
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

    #[test]
    fn paper_sites_face_the_centroid() {
        let sites = paper_sites();
        assert!((sites[0].broadside_rad - 30f64.to_radians()).abs() < 1e-12);
        assert!((sites[1].broadside_rad - 150f64.to_radians()).abs() < 1e-12);
        assert!((sites[2].broadside_rad + 90f64.to_radians()).abs() < 1e-12);
    }
}
