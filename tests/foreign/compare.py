#!/usr/bin/env python3
"""Recovered dominant AoD of build-ckm's maps against the ray tracer's truth.

For each log (a CKM folder + its truth_<tag>.parquet) and each BS: `ckm export`
the map, keep the strongest recovered path (max `power`) of every measured cell,
match the cell centre to the log's point (they must coincide within 1 mm, one
point per measured cell and one measured cell per point: checked), and compare
its angle with the strongest traced path's.

Beamwidth: the half-power beamwidth of an N-element half-wavelength ULA with a
uniform taper is 1.772/N in u = sin(theta) (0.0554 for N = 32, 3.2 deg at
broadside, 6.3 deg at 60 deg). A cell is "within one beamwidth" when
|sin(theta_hat) - sin(theta_true)| <= 1.772/N, "within half" at <= 0.886/N.

Exit status 1 when some BS's fraction within one beamwidth is below
--min-fraction (on any log), or when the cells and the log's points do not
coincide one to one; 2 on bad usage.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow.parquet as pq

HPBW_U = 1.772


def load(path, cols):
    t = pq.read_table(path, columns=cols)
    return {c: t.column(c).to_numpy(zero_copy_only=False) for c in cols}


def key(x, y):
    """A location in mm, for exact matching."""
    return np.round(np.asarray(x) * 1000).astype(np.int64), np.round(np.asarray(y) * 1000).astype(np.int64)


def strongest_measured(export):
    """Per measured cell: centre and angle of the max-power path."""
    e = load(export, ["ix", "iy", "x_m", "y_m", "measured", "power", "theta_rad", "path"])
    m = e["measured"]
    e = {k: v[m] for k, v in e.items()}
    cell = e["ix"].astype(np.int64) * (1 << 32) + e["iy"]
    # Sort by cell, then power descending: the first row of each cell wins.
    order = np.lexsort((-e["power"], cell))
    first = np.ones(len(order), bool)
    first[1:] = cell[order][1:] != cell[order][:-1]
    sel = order[first]
    out = {k: e[k][sel] for k in ("x_m", "y_m", "theta_rad", "power")}
    # For diagnosis: the first path OLS selected (largest residual drop).
    p0 = np.full(len(sel), np.nan)
    first_sel = e["path"] == 0
    pos = {c: i for i, c in enumerate(cell[sel])}
    for c, t in zip(cell[first_sel], e["theta_rad"][first_sel]):
        p0[pos[c]] = t
    out["theta0_rad"] = p0
    return out


def compare_bs(ckm_bin, ckm_file, truth, bs, nt, tmp):
    export = os.path.join(tmp, f"export_{os.getpid()}_{bs}.parquet")
    subprocess.run([ckm_bin, "export", ckm_file, "--out", export], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rec = strongest_measured(export)
    sel = truth["bs_id"] == bs
    tr = {k: v[sel] for k, v in truth.items()}

    problems = []
    rk = np.stack(key(rec["x_m"], rec["y_m"]), 1)
    tk = np.stack(key(tr["x_m"], tr["y_m"]), 1)
    if len(np.unique(tk, axis=0)) != len(tk):
        problems.append("the log has a point twice")
    rmap = {tuple(k): i for i, k in enumerate(rk)}
    idx = np.array([rmap.get(tuple(k), -1) for k in tk])
    if (idx < 0).any():
        problems.append(f"{int((idx < 0).sum())} log points without a measured cell centred on them")
    if len(rk) != len(tk):
        problems.append(f"{len(rk)} measured cells for {len(tk)} log points")
    ok = idx >= 0
    max_off = float(np.max(np.hypot(rec["x_m"][idx[ok]] - tr["x_m"][ok],
                                    rec["y_m"][idx[ok]] - tr["y_m"][ok]))) if ok.any() else np.nan

    # Points whose log rows are noise only have no truth.
    ok &= np.isfinite(tr["theta_rad"])
    th_hat = rec["theta_rad"][idx[ok]]
    th = tr["theta_rad"][ok]
    du = np.abs(np.sin(th_hat) - np.sin(th))
    du0 = np.abs(np.sin(rec["theta0_rad"][idx[ok]]) - np.sin(th))
    err_deg = np.degrees(np.abs(th_hat - th))
    bw = HPBW_U / nt
    los = tr["los"][ok]
    return {
        "cells": len(rk), "points": len(tk), "compared": int(ok.sum()), "max_off_m": max_off,
        "within": float(np.mean(du <= bw)), "within_half": float(np.mean(du <= bw / 2)),
        "within_p0": float(np.mean(du0 <= bw)),
        "within_los": float(np.mean(du[los] <= bw)) if los.any() else np.nan,
        "within_nlos": float(np.mean(du[~los] <= bw)) if (~los).any() else np.nan,
        "n_nlos": int((~los).sum()),
        "p50": float(np.percentile(err_deg, 50)), "p90": float(np.percentile(err_deg, 90)),
        "p99": float(np.percentile(err_deg, 99)), "problems": problems,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log", action="append", required=True, metavar="TAG:CKM_DIR:TRUTH",
                    help="a log: its tag, build-ckm's out dir, its truth Parquet (repeatable)")
    ap.add_argument("--ckm-bin", default=os.path.join(os.environ.get("BIN", "target/release"), "ckm"))
    ap.add_argument("--nt", type=int, default=32)
    ap.add_argument("--min-fraction", type=float, default=0.95,
                    help="fail when a BS has fewer of its cells within one beamwidth")
    args = ap.parse_args()

    failed = []
    print(f"beamwidth: |sin(theta_hat) - sin(theta)| <= 1.772/Nt = {HPBW_U / args.nt:.4f} (Nt = {args.nt});"
          f" half: <= {HPBW_U / args.nt / 2:.4f}")
    hdr = (f"{'log':>4} {'bs':>2} {'cells':>6} {'points':>6} {'cmp':>6} {'off_m':>7} {'<=1bw':>6} {'<=bw/2':>6}"
           f" {'LoS':>6} {'NLoS':>6} {'nNLoS':>5} {'p50°':>6} {'p90°':>6} {'p99°':>6} {'path0':>6}")
    print(hdr)
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.log:
            tag, ckm_dir, truth_path = spec.split(":")
            truth = load(truth_path, ["bs_id", "x_m", "y_m", "theta_rad", "los"])
            for bs in np.unique(truth["bs_id"]):
                r = compare_bs(args.ckm_bin, os.path.join(ckm_dir, f"bs{bs}.ckm"), truth, int(bs), args.nt, tmp)
                print(f"{tag:>4} {bs:>2} {r['cells']:>6} {r['points']:>6} {r['compared']:>6} {r['max_off_m']:>7.1e}"
                      f" {r['within']:>6.3f} {r['within_half']:>6.3f} {r['within_los']:>6.3f} {r['within_nlos']:>6.3f}"
                      f" {r['n_nlos']:>5} {r['p50']:>6.2f} {r['p90']:>6.2f} {r['p99']:>6.1f} {r['within_p0']:>6.3f}")
                for p in r["problems"]:
                    failed.append(f"{tag} bs{bs}: {p}")
                if r["max_off_m"] > 1e-3:
                    failed.append(f"{tag} bs{bs}: a cell centre is {r['max_off_m']:.3g} m off its point")
                if not r["within"] >= args.min_fraction:
                    failed.append(f"{tag} bs{bs}: {r['within']:.3f} of cells within one beamwidth "
                                  f"< {args.min_fraction}")
    for f in failed:
        print(f"FAIL {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
