#!/usr/bin/env python3
"""The merged sweep equals a single-process run of the same sweep.

    python3 tests/sweep/check_sweep.py pipelines/sweeps/smoke.toml data/sweeps/smoke

Runs the sweep without the workflow: per world (grid point × seed) one
scenario, gen-traj, gen-rsrp and build-ckm of its own (no sharing of CKMs
between points) and ONE run-sdusc over all the world's drops (no
--drop-range), then adds the parameter columns itself. For each table
(epochs, user_epochs, bs_epochs) it checks, against the workflow's merged
Parquet in SWEEP_DIR:
  1. same column names and types;
  2. the same rows as a multiset (both sides sorted by every column), cell
     for cell (timing columns excluded when the sweep records timing);
  3. every (parameters, seed, scheme, drop, epoch) of the grid exactly once in
     epochs, counted from the sweep file alone;
and reports whether the merged row order is also the reference's. Before
that it makes sure the comparison can fail: a lost row, a duplicated row (an
overlap of shards) and a changed cell must each be reported as a mismatch.
Exit status 0 iff everything holds.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))
import sweep as sweeplib  # noqa: E402  (grid expansion and scenario writing)

TABLES = ("epochs", "user_epochs", "bs_epochs")
TIMING_COLUMNS = (
    "bf_time_s", "sense_s", "schedule_s", "ckm_query_s", "bf_solve_s",
    "plan_s", "exchange_s", "beamform_s", "evaluate_s",
)


def run(cmd: list, log) -> None:
    r = subprocess.run([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise SystemExit(f"check_sweep: {' '.join(map(str, cmd))} failed (exit {r.returncode}); see {log.name}")


def reference(sweep: sweeplib.Sweep, bin_dir: Path, work: Path) -> dict:
    """Run the sweep in one process per world and return the three tables."""
    seed_type = pa.uint64()
    types = {k: pa.array(v).type for k, v in sweep.grid.items()}
    parts = {t: [] for t in TABLES}
    log = open(work / "reference.log", "w")
    schemes = "; ".join(sweep.schemes)
    for i, values in enumerate(itertools.product(*sweep.grid.values()) if sweep.grid else [()]):
        overrides = dict(zip(sweep.grid, values))
        for seed in sweep.seeds:
            w = work / f"w{i}_s{seed}"
            scenario = w / "scenario.toml"
            sweeplib.write_scenario(sweep.scenario, overrides, scenario)
            run([bin_dir / "gen-traj", "--scenario", scenario, "--out", w / "traj.parquet",
                 "--drops", sweep.drops, "--seed", seed], log)
            cmd = [bin_dir / "run-sdusc", "--scenario", scenario, "--trajectories", w / "traj.parquet",
                   "--out-dir", w / "run", "--schemes", schemes, "--seed", seed]
            if sweep.needs_ckm():
                run([bin_dir / "gen-rsrp", "--scenario", scenario, "--out", w / "rsrp.parquet", "--seed", seed], log)
                run([bin_dir / "build-ckm", "--scenario", scenario, "--rsrp", w / "rsrp.parquet",
                     "--out-dir", w / "ckm"], log)
                cmd += ["--ckm-dir", w / "ckm"]
            if not sweep.timing:
                cmd.append("--no-timing")
            run(cmd, log)
            for t in TABLES:
                table = pq.read_table(w / "run" / f"{t}.parquet")
                n = table.num_rows
                cols = [pa.array([overrides[k]] * n, type=types[k]) for k in sweep.grid]
                cols.append(pa.array([seed] * n, type=seed_type))
                names = list(sweep.grid) + [sweeplib.SEED_COLUMN]
                parts[t].append(pa.Table.from_arrays(cols + table.columns, names=names + table.column_names))
    return {t: pa.concat_tables(parts[t]) for t in TABLES}


def comparable(table: pa.Table, drop_timing: bool) -> pa.Table:
    table = table.replace_schema_metadata(None)
    if drop_timing:
        table = table.drop_columns([c for c in TIMING_COLUMNS if c in table.column_names])
    return table


def sorted_rows(table: pa.Table) -> pa.Table:
    # Sort by every sortable column, so equal multisets give equal tables.
    keys = [(c, "ascending") for c in table.column_names if not pa.types.is_nested(table.schema.field(c).type)]
    return table.take(pc.sort_indices(table, sort_keys=keys))


def differences(merged: pa.Table, ref: pa.Table) -> list:
    """What differs between two tables as row multisets; [] if nothing."""
    if merged.schema != ref.schema:
        return [f"schema differs:\n  merged    {merged.schema}\n  reference {ref.schema}".replace("\n", "\n  ")]
    if merged.num_rows != ref.num_rows:
        return [f"{merged.num_rows} rows merged, {ref.num_rows} in the reference"]
    a, b = sorted_rows(merged), sorted_rows(ref)
    out = []
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if not x.equals(y):
            ne = pc.invert(pc.fill_null(pc.equal(x, y), False)) if not pa.types.is_nested(x.type) else None
            first = pc.index(ne, True).as_py() if ne is not None else "?"
            out.append(f"column {name} differs (first at sorted row {first})")
    return out


def self_test(table: pa.Table) -> None:
    """The comparison must see a lost row, a duplicated row and a changed cell."""
    n = table.num_rows
    lost = table.slice(0, n - 1)
    duplicated = pa.concat_tables([table.slice(0, n - 1), table.slice(0, 1)])
    col = next(i for i, f in enumerate(table.schema) if f.type == pa.float64() and table.column(i).null_count == 0)
    values = table.column(col).to_pylist()
    values[n // 2] += 1e-9 * max(1.0, abs(values[n // 2]))
    changed = table.set_column(col, table.field(col), pa.array(values, table.field(col).type))
    for what, bad in [("a lost row", lost), ("a duplicated row", duplicated), ("a changed cell", changed)]:
        if not differences(bad, table):
            raise SystemExit(f"check_sweep: the comparison does not notice {what}; it cannot fail")


def check_grid(sweep: sweeplib.Sweep, epochs: pa.Table) -> list:
    """Every (parameters, seed, scheme, drop, epoch) once, counted from the sweep file alone."""
    keys = list(sweep.grid) + [sweeplib.SEED_COLUMN, "scheme", "drop", "epoch"]
    seen = {}
    for row in zip(*(epochs.column(k).to_pylist() for k in keys)):
        key = tuple(repr(v) for v in row)
        seen[key] = seen.get(key, 0) + 1
    base = tomllib.loads(sweep.scenario.read_text())
    want = set()
    for values in itertools.product(*sweep.grid.values()) if sweep.grid else [()]:
        scenario = sweeplib.scenario_with(base, dict(zip(sweep.grid, values)))
        # Grid values as the columns hold them (an int in a float column is a float).
        values = [pa.array([v], epochs.schema.field(k).type).to_pylist()[0] for k, v in zip(sweep.grid, values)]
        want |= {
            tuple(repr(v) for v in (*values, seed, scheme, drop, epoch))
            for seed in sweep.seeds
            for scheme in sweep.schemes
            for drop in range(sweep.drops)
            for epoch in range(1, scenario["epochs"]["count"] + 1)
        }
    out = []
    missing = want - set(seen)
    extra = set(seen) - want
    twice = [k for k, c in seen.items() if c > 1]
    if missing:
        out.append(f"{len(missing)} (parameters, seed, scheme, drop, epoch) missing, e.g. {sorted(missing)[0]}")
    if extra:
        out.append(f"{len(extra)} unexpected (parameters, seed, scheme, drop, epoch), e.g. {sorted(extra)[0]}")
    if twice:
        out.append(f"{len(twice)} (parameters, seed, scheme, drop, epoch) more than once, e.g. {sorted(twice)[0]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", help="the sweep TOML")
    ap.add_argument("sweep_dir", type=Path, help="the workflow's output folder (merged Parquet)")
    ap.add_argument("--bin", type=Path, default=REPO / "target" / "release", help="folder of the built CLIs")
    ap.add_argument("--keep", type=Path, help="run the reference in this folder and keep it")
    args = ap.parse_args()
    sweep = sweeplib.load(args.sweep, REPO)

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="sweep-reference-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        ref = reference(sweep, args.bin, work)
    print(f"check_sweep: single-process reference of `{sweep.name}` in {time.time() - t0:.1f} s")

    failures = []
    for name in TABLES:
        merged = comparable(pq.read_table(args.sweep_dir / f"{name}.parquet"), sweep.timing)
        expected = comparable(ref[name], sweep.timing)
        self_test(expected)
        diffs = differences(merged, expected)
        same_order = not diffs and merged.equals(expected)
        status = "ok" if not diffs else "MISMATCH"
        print(f"  {name}: {merged.num_rows} rows merged, {expected.num_rows} in the reference: {status}"
              + (" (same order too)" if same_order else ""))
        failures += [f"{name}: {d}" for d in diffs]
        if name == "epochs":
            grid = check_grid(sweep, merged)
            print(f"  epochs: every (parameters, seed, scheme, drop, epoch) of the grid once: {'ok' if not grid else 'NO'}")
            failures += [f"epochs: {g}" for g in grid]
    for f in failures:
        print(f"check_sweep: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
