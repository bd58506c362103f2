"""Merge a sweep's shards into one Parquet per table (epochs, user_epochs,
bs_epochs), the sweep parameters in front as columns: one per grid key
(named by the dotted key, e.g. `users.per_cell`), then `seed`.

Rows come in the order of a single-process run of the sweep: point (grid
order), seed, then as run-sdusc writes them (scheme in the sweep's order,
drop, epoch, BS or user). Run by the workflow's `merge` rule:

    python3 workflow/merge.py --sweep pipelines/sweeps/smoke.toml --dir data/sweeps/smoke
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sweep as sweeplib  # noqa: E402

TABLES = ("epochs", "user_epochs", "bs_epochs")
REPO = Path(__file__).resolve().parent.parent


def shard_dir(point: str, seed: int, a: int, b: int) -> str:
    """Where the workflow writes a shard's run-sdusc outputs (relative to the sweep folder)."""
    return f"shards/{point}/s{seed}/d{a}-{b}"


def parameter_types(sweep: sweeplib.Sweep) -> dict:
    """Arrow type of each parameter column: what pyarrow infers from all of
    the key's values (ints and floats together are float64); seeds uint64."""
    types = {k: pa.array(v).type for k, v in sweep.grid.items()}
    types[sweeplib.SEED_COLUMN] = pa.uint64()
    return types


def with_parameters(table: pa.Table, values: dict, types: dict) -> pa.Table:
    """`table` with one constant column per parameter in front."""
    n = table.num_rows
    columns = [pa.array([values[k]] * n, type=t) for k, t in types.items()]
    return pa.Table.from_arrays(columns + table.columns, names=list(types) + table.column_names)


def merge(sweep: sweeplib.Sweep, sweep_dir: Path) -> dict:
    """Write the merged tables into sweep_dir; return a summary (rows per table, inputs)."""
    types = parameter_types(sweep)
    scheme_order = {s: i for i, s in enumerate(sweep.schemes)}
    rows = {}
    inputs = []
    for name in TABLES:
        parts = []
        for pi, point in enumerate(sweep.points()):
            for si, seed in enumerate(sweep.seeds):
                values = dict(point.overrides, **{sweeplib.SEED_COLUMN: seed})
                for a, b in sweep.shards():
                    path = sweep_dir / shard_dir(point.id, seed, a, b) / f"{name}.parquet"
                    t = pq.read_table(path)
                    if name == "epochs":
                        inputs.append(str(path.relative_to(sweep_dir)))
                    # Sort keys: world, then run-sdusc's own order (scheme, drop),
                    # stable, so rows within a (scheme, drop) keep theirs.
                    schemes = t.column("scheme").to_pylist()
                    unknown = sorted(set(schemes) - set(scheme_order))
                    if unknown:
                        raise SystemExit(f"merge: {path} has scheme {unknown[0]!r}, not one of the sweep's {sweep.schemes}")
                    t = with_parameters(t, values, types)
                    t = t.append_column("__world", pa.array([pi * len(sweep.seeds) + si] * t.num_rows, pa.int64()))
                    t = t.append_column("__scheme", pa.array([scheme_order[s] for s in schemes], pa.int64()))
                    parts.append(t)
        merged = pa.concat_tables(parts)
        order = pc.sort_indices(
            merged,
            sort_keys=[("__world", "ascending"), ("__scheme", "ascending"), ("drop", "ascending")],
        )
        merged = merged.take(order).drop_columns(["__world", "__scheme"])
        metadata = {
            "sdusc.tool": "sweep-merge",
            "sdusc.sweep_name": sweep.name,
            "sdusc.sweep_sha256": hashlib.sha256(sweep.path.read_bytes()).hexdigest(),
            "sdusc.sweep": sweep.path.read_text(),
            "sdusc.parameters": json.dumps(list(types)),
            "sdusc.shards": str(len(sweep.points()) * len(sweep.seeds) * len(sweep.shards())),
        }
        merged = merged.replace_schema_metadata(metadata)
        out = sweep_dir / f"{name}.parquet"
        tmp = out.with_suffix(".parquet.tmp")
        pq.write_table(merged, tmp, compression="zstd")
        tmp.replace(out)
        rows[name] = merged.num_rows
    return {"sweep": sweep.name, "parameters": list(types), "rows": rows, "shards": inputs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", required=True, help="sweep TOML (relative paths: to the repository root)")
    ap.add_argument("--dir", required=True, type=Path, help="the sweep folder holding shards/")
    args = ap.parse_args()
    sweep = sweeplib.load(args.sweep, REPO)
    summary = merge(sweep, args.dir)
    (args.dir / "sweep.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"merge: {summary['rows']} rows from {len(summary['shards'])} shards → {args.dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
