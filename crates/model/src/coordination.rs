//! Neighbour-limited coordination (SPEC §14.3): which BSs each BS
//! coordinates with.
//!
//! BS ℓ coordinates with its neighbour set N(ℓ): it receives the locations of
//! their scheduled users (a BS m sends to every ℓ with m ∈ N(ℓ)), its CKM
//! covers their cells, and its leakage D̂ sums over their users only. The
//! world still evaluates the interference of every BS.
//!
//! Rules (`[coordination] neighbours = …`):
//! - `"all"` (default, the paper): N(ℓ) = every other BS.
//! - `"radius"`: m ∈ N(ℓ) iff the (wrapped) distance between their sites is
//!   at most `radius_m`; co-located sectors are at distance 0. Symmetric.
//! - `"count"`: the `count` BSs m whose expected power from ℓ, averaged over
//!   m's cell, is largest — the users ℓ's beams hurt most, i.e. the terms of
//!   D̂ that matter most. An inter-cell link has no LoS and E‖h‖² =
//!   α0 d^−η Σ_q E[1/ρ_q] (unit-norm steering vectors), so the ranking is by
//!   the mean of max(d, 1 m)^−η over a lattice of m's cell (step
//!   `cell_radius_m`/40), d the wrapped distance from ℓ's site; ties go to
//!   the lower index. Not symmetric in general.

use crate::geometry::{Cells, Point};
use crate::scenario::{RawCoordination, ScenarioError};

/// A validated `[coordination]` rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NeighbourRule {
    All,
    Radius { radius_m: f64 },
    Count { count: usize },
}

fn invalid(field: &str, value: impl std::fmt::Display, expected: &str) -> ScenarioError {
    ScenarioError::Invalid {
        field: field.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// Largest `coordination.radius_m`, m.
pub const MAX_RADIUS_M: f64 = 1e7;

/// Validate `[coordination]` for a network of `num_bs` BSs.
pub fn rule(raw: Option<&RawCoordination>, num_bs: usize) -> Result<NeighbourRule, ScenarioError> {
    let Some(raw) = raw else {
        return Ok(NeighbourRule::All);
    };
    let refuse_extra = |key: &str, set: bool| {
        if set {
            Err(invalid(
                &format!("coordination.{key}"),
                format!("set with neighbours = {:?}", raw.neighbours),
                &format!(
                    "no {key} unless neighbours = \"{}\"",
                    if key == "count" { "count" } else { "radius" }
                ),
            ))
        } else {
            Ok(())
        }
    };
    match raw.neighbours.as_str() {
        "all" => {
            refuse_extra("radius_m", raw.radius_m.is_some())?;
            refuse_extra("count", raw.count.is_some())?;
            Ok(NeighbourRule::All)
        }
        "radius" => {
            refuse_extra("count", raw.count.is_some())?;
            let r = raw.radius_m.ok_or_else(|| {
                invalid(
                    "coordination.radius_m",
                    "missing",
                    "a site-to-site distance in m with neighbours = \"radius\"",
                )
            })?;
            if !(r.is_finite() && (0.0..=MAX_RADIUS_M).contains(&r)) {
                return Err(invalid(
                    "coordination.radius_m",
                    r,
                    &format!("a finite number in [0, {MAX_RADIUS_M}]"),
                ));
            }
            Ok(NeighbourRule::Radius { radius_m: r })
        }
        "count" => {
            refuse_extra("radius_m", raw.radius_m.is_some())?;
            let c = raw.count.ok_or_else(|| {
                invalid(
                    "coordination.count",
                    "missing",
                    "a number of neighbours with neighbours = \"count\"",
                )
            })?;
            let most = num_bs.saturating_sub(1);
            if c < 1 || c > most {
                return Err(invalid(
                    "coordination.count",
                    c,
                    &format!("an integer in [1, {most}] (L − 1 = {most} other BSs)"),
                ));
            }
            Ok(NeighbourRule::Count { count: c })
        }
        other => Err(invalid(
            "coordination.neighbours",
            format!("{other:?}"),
            "\"all\", \"radius\" or \"count\"",
        )),
    }
}

/// The neighbour sets of `rule` over `cells` (ascending per BS); `None` for
/// `All`. Refuses a radius that leaves a BS without neighbours.
pub fn neighbour_sets(
    cells: &Cells,
    rule: NeighbourRule,
    path_loss_exponent: f64,
) -> Result<Option<Vec<Vec<usize>>>, ScenarioError> {
    let l = cells.sites.len();
    let sets = match rule {
        NeighbourRule::All => return Ok(None),
        NeighbourRule::Radius { radius_m } => {
            let site_distance = |a: usize, b: usize| cells.distance(a, cells.sites[b].position);
            let sets: Vec<Vec<usize>> = (0..l)
                .map(|a| {
                    (0..l)
                        .filter(|&b| {
                            // The smaller of the two directions: symmetric
                            // whatever the rounding of the wrapped images.
                            // A relative 1e-9 keeps lattice sites at exactly
                            // `radius_m` in despite the rounding of their positions.
                            b != a
                                && site_distance(a, b).min(site_distance(b, a))
                                    <= radius_m * (1.0 + 1e-9)
                        })
                        .collect()
                })
                .collect();
            if l > 1
                && let Some(lonely) = sets.iter().position(Vec::is_empty)
            {
                return Err(invalid(
                    "coordination.radius_m",
                    radius_m,
                    &format!(
                        "a radius that gives every BS a neighbour (BS {lonely} has none within it)"
                    ),
                ));
            }
            sets
        }
        NeighbourRule::Count { count } => {
            let samples: Vec<Vec<Point>> = (0..l).map(|m| cell_samples(cells, m)).collect();
            (0..l)
                .map(|a| {
                    let mut ranked: Vec<(f64, usize)> = (0..l)
                        .filter(|&m| m != a)
                        .map(|m| (mean_gain(cells, a, &samples[m], path_loss_exponent), m))
                        .collect();
                    ranked.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
                    let mut set: Vec<usize> = ranked.iter().take(count).map(|x| x.1).collect();
                    set.sort_unstable();
                    set
                })
                .collect()
        }
    };
    Ok(Some(sets))
}

/// Lattice points (step `cell_radius_m`/40) of cell `m`; the cell's
/// broadside point at mid-range if the lattice misses a degenerate cell.
fn cell_samples(cells: &Cells, m: usize) -> Vec<Point> {
    let step = cells.cell_radius_m / 40.0;
    let (lo, hi) = cells.bounding_box(m);
    let nx = ((hi.x - lo.x) / step).ceil() as usize;
    let ny = ((hi.y - lo.y) / step).ceil() as usize;
    let mut out = Vec::new();
    for i in 0..nx {
        for j in 0..ny {
            let p = Point::new(
                lo.x + (i as f64 + 0.5) * step,
                lo.y + (j as f64 + 0.5) * step,
            );
            if cells.contains(m, p) {
                out.push(p);
            }
        }
    }
    if out.is_empty() {
        let site = cells.sites[m];
        let r = (cells.min_distance_m + cells.cell_radius_m) / 2.0;
        out.push(site.position.add(site.direction(0.0).scale(r)));
    }
    out
}

/// Mean of max(d, 1)^−η from BS `a` over `points` (wrapped distances).
fn mean_gain(cells: &Cells, a: usize, points: &[Point], exponent: f64) -> f64 {
    let sum: f64 = points
        .iter()
        .map(|&p| cells.distance(a, p).max(1.0).powf(-exponent))
        .sum();
    sum / points.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Wraparound, hex_sites};

    fn hex_cells(rings: usize, wrap: bool) -> Cells {
        let b: Vec<f64> = [30f64, 150.0, 270.0]
            .iter()
            .map(|d| d.to_radians())
            .collect();
        Cells {
            wraparound: wrap.then(|| Wraparound::hex(rings, 200.0)),
            ..Cells::new(hex_sites(rings, 200.0, &b), 10.0, 120.0, 60f64.to_radians())
        }
    }

    fn is_symmetric(sets: &[Vec<usize>]) -> bool {
        sets.iter()
            .enumerate()
            .all(|(a, s)| s.iter().all(|&b| sets[b].contains(&a)))
    }

    #[test]
    fn radius_sets_are_symmetric_and_wrap_evens_them_out() {
        for wrap in [false, true] {
            let cells = hex_cells(2, wrap);
            let rule = NeighbourRule::Radius { radius_m: 200.0 };
            let sets = neighbour_sets(&cells, rule, 2.0).unwrap().unwrap();
            assert!(is_symmetric(&sets), "wrap {wrap}");
            // Centre sector: 2 co-located + 6 sites × 3 sectors.
            assert_eq!(sets[0].len(), 20);
            let sizes: Vec<usize> = sets.iter().map(Vec::len).collect();
            if wrap {
                assert!(sizes.iter().all(|&n| n == 20), "{sizes:?}");
            } else {
                // An outer site has only 3 or 4 neighbouring sites.
                assert!(sizes.iter().any(|&n| n < 20), "{sizes:?}");
            }
        }
        let sets = neighbour_sets(
            &hex_cells(1, false),
            NeighbourRule::Radius { radius_m: 0.0 },
            2.0,
        )
        .unwrap()
        .unwrap();
        assert_eq!(sets[0], vec![1, 2], "co-located sectors only");
    }

    #[test]
    fn count_takes_the_strongest_and_is_flat_under_wraparound() {
        let cells = hex_cells(2, true);
        let sets = neighbour_sets(&cells, NeighbourRule::Count { count: 8 }, 2.0)
            .unwrap()
            .unwrap();
        assert!(sets.iter().all(|s| s.len() == 8));
        // Sector 0 of the centre site: its two co-located sectors, then the
        // six cells bordering the site's hexagon, one sector of each ring-1
        // site (the channel's E‖h‖² has no direction, so the 30° sector's
        // 8 strongest are its site's): site 1 (0°) sector 1, site 2 sector 2,
        // site 3 sector 2, site 4 sector 0, site 5 sector 0, site 6 sector 1.
        assert_eq!(sets[0], vec![1, 2, 4, 8, 11, 12, 15, 19]);
        for (a, set) in sets.iter().enumerate() {
            let site = a / 3;
            assert!(
                set.contains(&(3 * site + (a + 1) % 3)) && set.contains(&(3 * site + (a + 2) % 3))
            );
        }
        // Brute force: no BS outside the set is strictly stronger than one in it.
        let samples: Vec<Vec<Point>> = (0..cells.sites.len())
            .map(|m| cell_samples(&cells, m))
            .collect();
        for (a, set) in sets.iter().enumerate().take(6) {
            let g = |m: usize| mean_gain(&cells, a, &samples[m], 2.0);
            let weakest_in = set.iter().map(|&m| g(m)).fold(f64::INFINITY, f64::min);
            for m in (0..cells.sites.len()).filter(|m| *m != a && !set.contains(m)) {
                assert!(g(m) <= weakest_in, "BS {a}: {m} beats its set");
            }
        }
    }

    #[test]
    fn bad_rules_name_the_field() {
        let raw = |n: &str, r: Option<f64>, c: Option<usize>| RawCoordination {
            neighbours: n.to_string(),
            radius_m: r,
            count: c,
        };
        let cases = [
            (raw("nearest", None, None), "coordination.neighbours"),
            (raw("radius", None, None), "coordination.radius_m"),
            (raw("radius", Some(-1.0), None), "coordination.radius_m"),
            (raw("count", None, None), "coordination.count"),
            (raw("count", None, Some(0)), "coordination.count"),
            (raw("count", None, Some(3)), "coordination.count"),
            (raw("all", Some(5.0), None), "coordination.radius_m"),
            (raw("radius", Some(5.0), Some(2)), "coordination.count"),
        ];
        for (r, field) in cases {
            let err = rule(Some(&r), 3).unwrap_err().to_string();
            assert!(err.contains(field) && err.contains("expected"), "{err}");
        }
        assert_eq!(rule(None, 3).unwrap(), NeighbourRule::All);
    }
}
