#!/usr/bin/env python3
"""A foreign, ray-traced drive-test log for build-ckm, independent of the project.

A 2-D mini ray tracer in numpy (nothing of the project's channel model is used):

- buildings: axis-aligned rectangles, their edges are the walls;
- 3 rooftop BSs (a triangle ~180 m apart, each on the front edge of its roof,
  facing away from it), each a 32-element half-wavelength ULA at 28 GHz;
- per measurement point: the LoS path if no wall blocks it, plus every
  first-order specular reflection (image method; the reflection point must lie
  on the wall, both legs unblocked), with free-space path loss over the
  unfolded length and REFLECTION_LOSS_DB per bounce; the panel's backplane
  blocks departures more than 90 degrees off broadside;
- the operator's own 64-beam codebook: Taylor-tapered (nbar = 4, -30 dB) beams
  steered on a grid uniform in angle (2 degrees apart over +-64 deg, so not
  uniform in sin theta), numbered in an interleaved order (BID1..BID32 the even
  grid points, BID33..BID64 the odd ones);
- per-beam RSRP = P_T + 10 log10(sum_paths P_path |w_b^H a(theta_path)|^2)
  in dBm (power sum: a wideband average), plus noise power, times a log-normal
  measurement error (sigma 1 dB); below the detection threshold: null.

Array convention. The array response is computed from the element positions:
element k sits at k * lambda/2 along the broadside turned 90 deg clockwise, so
a plane wave leaving at theta (counter-clockwise from broadside, the angle
`ckm export` reports as theta_rad) reaches the far field with the per-element
phase exp(-j pi k sin theta) = conj(a_k(theta)), a_k(theta) = exp(j pi k
sin theta)/sqrt(N) being the project's steering vector (docs/equations.md,
eq. (14)). The beam power is then |sum_k conj(a_k) w_k|^2 = |w^H a|^2.
`hand_check()` verifies this against one point.

Writes into OUT_DIR: beams.npy (complex128, 32 x 64), rsrp_<tag>.parquet (wide:
bs_id, x_m, y_m, BID1..BID64) and truth_<tag>.parquet (bs_id, x_m, y_m,
theta_rad and power_dbm of the strongest path, los, n_paths, gap_db to the
second strongest path), one pair per lattice spacing.
"""

import argparse
import math
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

C = 299_792_458.0
CARRIER_HZ = 28e9
LAMBDA = C / CARRIER_HZ
NT = 32
NB = 64
P_T_DBM = 36.0
NOISE_DBM = -100.0
DETECT_DBM = -97.0  # a beam is reported when its measured RSRP reaches this
MEAS_SIGMA_DB = 1.0
REFLECTION_LOSS_DB = 8.0
COVER_RADIUS_M = 130.0
COVER_HALF_WIDTH_DEG = 60.0
LATTICE_ORIGIN = (0.7, -0.3)
EPS = 1e-9

# (x, y, broadside_deg), bs_id = index.
SITES = [
    (0.0, 0.0, 30.0),
    (180.0, 10.0, 150.0),
    (85.0, 165.0, -90.0),
]

# Buildings as (x0, y0, x1, y1). The first three are the BSs' roofs: each BS
# stands 1 m in front of a roof corner/edge, facing away from it.
BUILDINGS = [
    (-26.0, -26.0, -1.0, -1.0),
    (181.0, -16.0, 206.0, 9.0),
    (72.0, 166.0, 98.0, 190.0),
    (40.0, 28.0, 64.0, 52.0),
    (108.0, 38.0, 134.0, 58.0),
    (70.0, 86.0, 94.0, 116.0),
    (18.0, 80.0, 38.0, 102.0),
    (138.0, 88.0, 160.0, 114.0),
    (96.0, -4.0, 116.0, 12.0),
    (120.0, 132.0, 146.0, 150.0),
]


def walls():
    """Every building edge as a segment (A, B), arrays of shape (W, 2)."""
    a, b = [], []
    for x0, y0, x1, y1 in BUILDINGS:
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        for i in range(4):
            a.append(corners[i])
            b.append(corners[(i + 1) % 4])
    return np.array(a, float), np.array(b, float)


def cross(u, v):
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def blocked(p, q, wa, wb, skip=None):
    """Whether each segment p[i] -> q[i] crosses any wall (except wall `skip`)."""
    d = q - p
    out = np.zeros(len(p), bool)
    for w in range(len(wa)):
        if w == skip:
            continue
        e = wb[w] - wa[w]
        den = cross(d, e)
        ok = np.abs(den) > EPS
        ap = wa[w] - p
        with np.errstate(divide="ignore", invalid="ignore"):
            t = cross(ap, e) / den
            s = cross(ap, d) / den
        out |= ok & (t > 1e-7) & (t < 1 - 1e-7) & (s >= -1e-9) & (s <= 1 + 1e-9)
    return out


def inside_building(pts):
    m = np.zeros(len(pts), bool)
    for x0, y0, x1, y1 in BUILDINGS:
        m |= (pts[:, 0] > x0) & (pts[:, 0] < x1) & (pts[:, 1] > y0) & (pts[:, 1] < y1)
    return m


def wrap(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


def fspl_gain(d):
    """Free-space path gain (linear) over distance d."""
    return (LAMBDA / (4 * np.pi * np.maximum(d, 1.0))) ** 2


def trace(site, pts):
    """Paths from `site` to every point: list of (theta, gain) arrays of shape (P,),
    gain 0 where the path does not exist."""
    wa, wb = walls()
    s = np.array(site[:2], float)
    broadside = math.radians(site[2])
    src = np.broadcast_to(s, pts.shape)
    paths = []

    # LoS.
    d = pts - s
    theta = wrap(np.arctan2(d[:, 1], d[:, 0]) - broadside)
    g = fspl_gain(np.hypot(d[:, 0], d[:, 1]))
    g = np.where(blocked(src, pts, wa, wb), 0.0, g)
    paths.append((theta, g))

    # First-order specular reflections (image method).
    refl = 10 ** (-REFLECTION_LOSS_DB / 10)
    for w in range(len(wa)):
        e = wb[w] - wa[w]
        length = np.hypot(*e)
        n = np.array([-e[1], e[0]]) / length
        side_s = (s - wa[w]) @ n
        side_p = (pts - wa[w]) @ n
        img = s - 2 * side_s * n
        # Reflection point: where image -> point crosses the wall line.
        dp = pts - img
        den = dp @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((wa[w] - img) @ n) / den
        r = img + t[:, None] * dp
        along = ((r - wa[w]) @ e) / length**2
        valid = (np.sign(side_p) == np.sign(side_s)) & (np.abs(side_s) > EPS)
        valid &= (np.abs(side_p) > EPS) & (along > 0) & (along < 1)
        r = np.where(valid[:, None], r, s + 1.0)  # harmless placeholder
        valid &= ~blocked(src, r, wa, wb, skip=w)
        valid &= ~blocked(r, pts, wa, wb, skip=w)
        dr = r - s
        theta = wrap(np.arctan2(dr[:, 1], dr[:, 0]) - broadside)
        g = fspl_gain(np.hypot(dp[:, 0], dp[:, 1])) * refl
        paths.append((theta, np.where(valid, g, 0.0)))

    # The backplane: nothing leaves behind the panel.
    return [(th, np.where(np.abs(th) < np.pi / 2, g, 0.0)) for th, g in paths]


def element_phase_response(theta):
    """Far-field per-element response of the physical array toward theta
    (radians from broadside, CCW), shape (..., NT): elements along the broadside
    turned 90 deg clockwise, spacing lambda/2, from their positions."""
    k = np.arange(NT)
    # Position of element k along the axis; the axis unit vector in the array
    # frame (broadside = +x') is (0, -1); the departure direction is
    # (cos theta, sin theta); the path-length gain is p_k . u.
    pos_dot_u = k * (LAMBDA / 2) * (-np.sin(np.asarray(theta))[..., None])
    return np.exp(1j * 2 * np.pi / LAMBDA * pos_dot_u) / np.sqrt(NT)


def project_steering(theta):
    """a(theta) as docs/equations.md eq. (14) writes it, for the hand check."""
    return np.exp(1j * np.pi * np.arange(NT) * np.sin(theta)) / np.sqrt(NT)


def taylor(n, nbar=4, sll_db=30.0):
    """Taylor window (as scipy.signal.windows.taylor, norm to max 1)."""
    b = 10 ** (sll_db / 20)
    a = np.arccosh(b) / np.pi
    s2 = nbar**2 / (a**2 + (nbar - 0.5) ** 2)
    ma = np.arange(1, nbar)
    fm = np.empty(nbar - 1)
    for mi, m in enumerate(ma):
        numer = np.prod(1 - m**2 / s2 / (a**2 + (ma - 0.5) ** 2))
        others = ma[ma != m]
        denom = 2 * np.prod(1 - m**2 / others**2)
        fm[mi] = (-1) ** (m + 1) * numer / denom
    xi = (np.arange(n) - n / 2 + 0.5) / n
    w = 1 + 2 * (fm[None, :] * np.cos(2 * np.pi * ma[None, :] * xi[:, None])).sum(1)
    return w / w.max()


def codebook():
    """The operator's beams: column b = BID(b+1), unit norm, complex128 (NT, NB)."""
    grid = np.radians(-64 + (np.arange(NB) + 0.5) * 128 / NB)
    order = np.concatenate([np.arange(0, NB, 2), np.arange(1, NB, 2)])
    taper = taylor(NT)
    w = np.empty((NT, NB), complex)
    for b, g in enumerate(order):
        # Matched to the physical response toward grid[g]: w = conj(response)
        # maximises |sum_k response_k w_k|.
        w[:, b] = taper * np.conj(element_phase_response(grid[g]))
    w /= np.linalg.norm(w, axis=0)
    return w.astype(np.complex128), grid[order]


def beam_power(w, theta):
    """|sum_k response_k(theta) w_k|^2 for every beam, shape (P, NB)."""
    return np.abs(element_phase_response(theta) @ w) ** 2


def hand_check(w):
    """One point by hand: geometry, sign convention, matched beam."""
    site = SITES[0]
    p = np.array([60.0, 80.0])  # up and to the right of BS0 (broadside 30 deg)
    az = math.degrees(math.atan2(p[1] - site[1], p[0] - site[0]))  # 53.13 deg
    theta = math.radians(az - site[2])  # +23.13 deg: CCW of broadside
    assert abs(math.degrees(theta) - 23.130102) < 1e-5
    phys = element_phase_response(theta)
    # The physical response is conj of the project's a(theta): the beam power
    # |response . w| equals |w^H a(theta)| for every beam.
    assert np.allclose(phys, np.conj(project_steering(theta)))
    pw_phys = np.abs(phys @ w) ** 2
    pw_proj = np.abs(w.conj().T @ project_steering(theta)) ** 2
    assert np.allclose(pw_phys, pw_proj)
    # ... and the beam steered nearest +23 deg is the strongest one.
    _, angles = codebook()
    best = int(np.argmax(pw_proj))
    assert abs(math.degrees(angles[best]) - 23.0) <= 1.0 + 1e-9, math.degrees(angles[best])
    # The point is in LoS of BS0; the traced LoS angle is the same.
    (th, g), *_ = trace(site, p[None, :])
    assert g[0] > 0 and abs(th[0] - theta) < 1e-12
    return best


def lattice(spacing):
    """The regular lattice LATTICE_ORIGIN + spacing*(i, j) over the area."""
    x0, y0 = LATTICE_ORIGIN
    i = np.arange(math.floor((-140 - x0) / spacing), math.ceil((320 - x0) / spacing) + 1)
    j = np.arange(math.floor((-140 - y0) / spacing), math.ceil((300 - y0) / spacing) + 1)
    xx, yy = np.meshgrid(x0 + spacing * i, y0 + spacing * j, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel()])


def build_log(spacing, w, rng):
    pts_all = lattice(spacing)
    pts_all = pts_all[~inside_building(pts_all)]
    rows, truth, dropped = [], [], 0
    for b, site in enumerate(SITES):
        d = pts_all - np.array(site[:2])
        dist = np.hypot(d[:, 0], d[:, 1])
        off = wrap(np.arctan2(d[:, 1], d[:, 0]) - math.radians(site[2]))
        cov = (dist <= COVER_RADIUS_M) & (dist >= 5.0)
        cov &= np.abs(off) <= math.radians(COVER_HALF_WIDTH_DEG)
        pts = pts_all[cov]
        paths = trace(site, pts)
        th = np.stack([p[0] for p in paths], 1)  # (P, paths)
        g = np.stack([p[1] for p in paths], 1)
        # Received beam power in mW: P_T * sum_paths g |w^H a|^2.
        rx = np.zeros((len(pts), NB))
        for q in range(th.shape[1]):
            live = g[:, q] > 0
            if live.any():
                rx[live] += g[live, q, None] * beam_power(w, th[live, q])
        rx *= 10 ** (P_T_DBM / 10)
        meas = (rx + 10 ** (NOISE_DBM / 10)) * 10 ** (rng.normal(0, MEAS_SIGMA_DB, rx.shape) / 10)
        rsrp = 10 * np.log10(meas)
        detected = rsrp >= DETECT_DBM
        keep = detected.any(1)  # a UE with no beam detected logs nothing
        dropped += int((~keep).sum())
        strongest = np.argmax(g, 1)
        idx = np.arange(len(pts))
        gs = np.sort(g, 1)
        any_path = gs[:, -1] > 0
        # A point with no path may still log a beam (noise above the
        # threshold): it has no truth (NaN).
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.where(any_path, 10 * np.log10(gs[:, -1] / gs[:, -2]), np.nan)
            power = np.where(any_path, P_T_DBM + 10 * np.log10(gs[:, -1]), np.nan)
        rows.append((b, pts[keep], np.where(detected, rsrp, np.nan)[keep]))
        truth.append({
            "bs_id": np.full(keep.sum(), b, np.int32),
            "x_m": pts[keep, 0],
            "y_m": pts[keep, 1],
            "theta_rad": np.where(any_path, th[idx, strongest], np.nan)[keep],
            "power_dbm": power[keep],
            "los": (g[:, 0] > 0)[keep],
            "n_paths": (g > 0).sum(1)[keep].astype(np.int32),
            "gap_db": gap[keep],
        })
    return rows, truth, dropped


def write(rows, truth, out_dir, tag):
    bs = np.concatenate([np.full(len(p), b, np.int32) for b, p, _ in rows])
    pts = np.concatenate([p for _, p, _ in rows])
    rsrp = np.concatenate([r for _, _, r in rows])
    cols = {"bs_id": pa.array(bs), "x_m": pa.array(pts[:, 0]), "y_m": pa.array(pts[:, 1])}
    for k in range(NB):
        v = rsrp[:, k]
        cols[f"BID{k + 1}"] = pa.array(v, mask=np.isnan(v), type=pa.float64())
    pq.write_table(pa.table(cols), os.path.join(out_dir, f"rsrp_{tag}.parquet"))
    t = {k: np.concatenate([d[k] for d in truth]) for k in truth[0]}
    pq.write_table(pa.table(t), os.path.join(out_dir, f"truth_{tag}.parquet"))
    return len(bs), np.isnan(rsrp).mean(), t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--spacings", default="2,5", help="lattice spacings in m, comma-separated")
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    w, _ = codebook()
    hand_check(w)
    np.save(os.path.join(args.out_dir, "beams.npy"), w)
    rng = np.random.default_rng(args.seed)
    for sp in [float(s) for s in args.spacings.split(",")]:
        tag = f"{sp:g}m"
        rows, truth, dropped = build_log(sp, w, rng)
        n, null_frac, t = write(rows, truth, args.out_dir, tag)
        per_bs = ", ".join(f"bs{b}: {int((t['bs_id'] == b).sum())} ({t['los'][t['bs_id'] == b].mean():.0%} LoS)"
                           for b in range(len(SITES)))
        print(f"{tag}: {n} rows ({per_bs}); {null_frac:.0%} of beam cells null; "
              f"{dropped} points with no beam detected dropped", file=sys.stderr)


if __name__ == "__main__":
    main()
