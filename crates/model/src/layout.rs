//! Hexagonal layouts and the 3GPP wrap-around (SPEC §14.3).
//!
//! Sites sit on a hexagonal lattice of inter-site distance `isd` with basis
//!
//! ```text
//! a₁ = isd · (1, 0),   a₂ = isd · (1/2, √3/2)
//! ```
//!
//! (a site's six neighbours at azimuths 0°, 60°, …, 300°), ring by ring:
//! ring 0 is the centre site, ring r ≥ 1 holds 6r sites, starting at r·a₁ and
//! going counter-clockwise. `rings` = 0, 1, 2 gives 1, 7, 19 sites. Each
//! site carries 1 or 3 co-located sectors (default broadsides 30°, 150°,
//! 270°); BS index = site index × sectors + sector index.
//!
//! Wrap-around (3GPP TR 38.901 practice): the cluster of N = 3R² + 3R + 1
//! sites (R rings) tiles the plane under the translation
//!
//! ```text
//! T = (R+1)·a₁ + R·a₂,   |T| = isd·√N,
//! ```
//!
//! and its rotations by multiples of 60°: the six shifts s₁…s₆. A location
//! p has the seven images p + s_k (s₀ = 0); a BS at b sees p through the
//! image nearest b (p itself on ties), for distances, angles, LoS and the
//! channel's spatially consistent fields alike. A cell-edge user thereby
//! meets the same number of neighbours at the same distances as a user in
//! the centre.

use std::f64::consts::PI;

use crate::geometry::{BsSite, Point};

/// The default sector broadsides of a hex site, degrees CCW from +x.
pub const DEFAULT_SECTOR_BROADSIDES_DEG: [f64; 3] = [30.0, 150.0, 270.0];

/// Number of sites of a hex layout with `rings` rings: 3R² + 3R + 1.
pub fn hex_site_count(rings: usize) -> usize {
    3 * rings * rings + 3 * rings + 1
}

/// Unit vector at azimuth k·60°.
fn hex_dir(k: usize) -> Point {
    let a = (k % 6) as f64 * PI / 3.0;
    Point::new(a.cos(), a.sin())
}

/// Site positions of a hex layout: ring by ring, each ring counter-clockwise
/// from its site on the +x axis.
pub fn hex_site_positions(rings: usize, isd_m: f64) -> Vec<Point> {
    let mut out = vec![Point::new(0.0, 0.0)];
    for r in 1..=rings {
        for side in 0..6 {
            let corner = hex_dir(side).scale(r as f64 * isd_m);
            let along = hex_dir(side + 2).scale(isd_m);
            for j in 0..r {
                out.push(corner.add(along.scale(j as f64)));
            }
        }
    }
    out
}

/// The BSs of a hex layout: every site repeated once per broadside (radians).
pub fn hex_sites(rings: usize, isd_m: f64, broadsides_rad: &[f64]) -> Vec<BsSite> {
    hex_site_positions(rings, isd_m)
        .into_iter()
        .flat_map(|position| {
            broadsides_rad.iter().map(move |&broadside_rad| BsSite {
                position,
                broadside_rad,
            })
        })
        .collect()
}

/// The six cluster translations of a wrap-around hex layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wraparound {
    /// s₁…s₆, metres: T rotated by 0°, 60°, …, 300°.
    pub shifts: [Point; 6],
}

impl Wraparound {
    /// The wrap-around of a hex layout with `rings` rings and inter-site
    /// distance `isd_m`.
    pub fn hex(rings: usize, isd_m: f64) -> Self {
        let r = rings as f64;
        let t = hex_dir(0).scale(r + 1.0).add(hex_dir(1).scale(r));
        let (len, az) = (t.norm() * isd_m, t.y.atan2(t.x));
        // s_{k+3} = −s_k exactly, so wrapped distances are symmetric.
        let half: [Point; 3] = std::array::from_fn(|k| {
            let a = az + k as f64 * PI / 3.0;
            Point::new(len * a.cos(), len * a.sin())
        });
        let shifts = std::array::from_fn(|k| {
            if k < 3 {
                half[k]
            } else {
                half[k - 3].scale(-1.0)
            }
        });
        Self { shifts }
    }

    /// The seven images of `p`: p itself, then p + s₁ … p + s₆.
    pub fn images(&self, p: Point) -> [Point; 7] {
        std::array::from_fn(|k| if k == 0 { p } else { p.add(self.shifts[k - 1]) })
    }

    /// Index (0 = p itself) of the image of `p` nearest `from`; the lowest
    /// index on ties.
    pub fn nearest_image_index(&self, from: Point, p: Point) -> usize {
        let d2 = |q: Point| {
            let d = q.sub(from);
            d.dot(d)
        };
        let mut best = (0, d2(p));
        for (k, s) in self.shifts.iter().enumerate() {
            let d = d2(p.add(*s));
            if d < best.1 {
                best = (k + 1, d);
            }
        }
        best.0
    }

    /// The image of `p` nearest `from`.
    pub fn nearest_image(&self, from: Point, p: Point) -> Point {
        self.images(p)[self.nearest_image_index(from, p)]
    }

    /// Circumradius of the region of points that are their own nearest
    /// image seen from a site (a hexagon of inradius |T|/2), metres.
    pub fn region_radius_m(&self) -> f64 {
        self.shifts[0].norm() / 3f64.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn isd() -> f64 {
        200.0
    }

    #[test]
    fn rings_give_1_7_19_sites_on_the_lattice() {
        for (rings, n) in [(0, 1), (1, 7), (2, 19)] {
            let p = hex_site_positions(rings, isd());
            assert_eq!(p.len(), n);
            assert_eq!(hex_site_count(rings), n);
            // Distinct, and each at the hex distance of its ring from the centre.
            for (i, a) in p.iter().enumerate() {
                for b in &p[..i] {
                    assert!(a.distance(*b) > isd() - 1e-9, "{a:?} {b:?}");
                }
            }
        }
        let p = hex_site_positions(2, isd());
        let want_ring1: Vec<Point> = (0..6).map(|k| hex_dir(k).scale(isd())).collect();
        for (got, want) in p[1..7].iter().zip(&want_ring1) {
            assert!(got.distance(*want) < 1e-9, "{got:?} {want:?}");
        }
        // Ring 2: the 6 corners at 2·isd, and the 6 edge midpoints at √3·isd.
        let mut radii: Vec<f64> = p[7..].iter().map(|q| q.norm() / isd()).collect();
        radii.sort_by(f64::total_cmp);
        for (i, r) in radii.iter().enumerate() {
            let want = if i < 6 { 3f64.sqrt() } else { 2.0 };
            assert!((r - want).abs() < 1e-9, "{radii:?}");
        }
        assert!(p[7].distance(Point::new(2.0 * isd(), 0.0)) < 1e-9);
        assert!(p[8].distance(Point::new(1.5 * isd(), 3f64.sqrt() / 2.0 * isd())) < 1e-9);
    }

    #[test]
    fn sectors_repeat_each_site() {
        let b: Vec<f64> = DEFAULT_SECTOR_BROADSIDES_DEG
            .iter()
            .map(|d| d.to_radians())
            .collect();
        let sites = hex_sites(1, isd(), &b);
        assert_eq!(sites.len(), 21);
        assert_eq!(sites[3].position, sites[5].position);
        assert!((sites[4].broadside_rad - 150f64.to_radians()).abs() < 1e-12);
    }

    /// The shifts tile the plane: the images of the cluster's sites are
    /// lattice points, and every site one ring beyond the cluster is the
    /// image of exactly one cluster site under exactly one shift.
    #[test]
    fn shifts_tile_the_lattice_with_the_cluster() {
        for rings in 0..=3 {
            let sites = hex_site_positions(rings, isd());
            let w = Wraparound::hex(rings, isd());
            let n = sites.len() as f64;
            for s in &w.shifts {
                assert!((s.norm() - isd() * n.sqrt()).abs() < 1e-9);
            }
            let outer = hex_site_positions(rings + 1, isd());
            for q in &outer[sites.len()..] {
                let hits = sites
                    .iter()
                    .flat_map(|p| w.shifts.iter().map(move |s| p.add(*s)))
                    .filter(|i| i.distance(*q) < 1e-6)
                    .count();
                assert_eq!(hits, 1, "rings {rings}: {q:?}");
            }
        }
    }

    #[test]
    fn nearest_image_is_the_brute_force_minimum() {
        let w = Wraparound::hex(2, isd());
        let from = Point::new(350.0, 20.0);
        for i in 0..40 {
            for j in 0..40 {
                let p = Point::new(-500.0 + 25.0 * i as f64, -500.0 + 25.0 * j as f64);
                let brute = w
                    .images(p)
                    .iter()
                    .map(|q| q.distance(from))
                    .fold(f64::INFINITY, f64::min);
                let got = w.nearest_image(from, p).distance(from);
                assert!((got - brute).abs() < 1e-9, "{p:?}: {got} vs {brute}");
            }
        }
    }
}
