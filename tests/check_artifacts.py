#!/usr/bin/env python3
"""Open every Parquet artifact of a pipeline run with DuckDB and with pandas
and check the documented columns and types (docs/artifacts.md).

Usage: python3 tests/check_artifacts.py data/smoke
Exits non-zero, naming the file and column, on the first mismatch.
"""
import sys
from pathlib import Path

import duckdb
import pandas as pd

# file name -> {column: kind}; kind is "uint", "float", "bool" or "str".
SCHEMAS = {
    "trajectories.parquet": {
        "drop": "uint", "epoch": "uint", "user_id": "uint", "bs_id": "uint",
        "x_m": "float", "y_m": "float", "vx_mps": "float", "vy_mps": "float",
    },
    "rsrp.parquet": {
        "bs_id": "uint", "x_m": "float", "y_m": "float", "beam_id": "uint", "rsrp_dbm": "float",
    },
    "quality.parquet": {
        "bs_id": "uint",
    },
    "epochs.parquet": {
        "scheme": "str", "drop": "uint", "epoch": "uint", "accumulated_pfr": "float",
        "sum_rate_bps_hz": "float", "users_unserved": "uint", "backhaul_bytes": "uint",
        "mean_location_error_m": "float", "relaxed_constraints": "uint",
        "sense_s": "float", "plan_s": "float", "exchange_s": "float", "beamform_s": "float",
        "evaluate_s": "float",
    },
    "user_epochs.parquet": {
        "scheme": "str", "drop": "uint", "epoch": "uint", "bs_id": "uint", "user_id": "uint",
        "scheduled": "bool", "sinr_db": "float", "rate_bps_hz": "float", "avg_rate_bps_hz": "float",
        "location_error_m": "float", "sensing_var_theta": "float", "constraint_ratio": "float",
        "constraint_relaxed": "bool", "echo_gated": "bool", "location_nees": "float",
    },
    "bs_epochs.parquet": {
        "scheme": "str", "drop": "uint", "epoch": "uint", "bs_id": "uint", "n_scheduled": "uint",
        "bf_time_s": "float", "bf_outer_iters": "uint", "bf_inner_iters": "uint", "objective": "float",
        "relaxed_constraints": "uint", "backhaul_tx_bytes": "uint", "backhaul_rx_bytes": "uint",
        "sense_s": "float", "schedule_s": "float", "ckm_query_s": "float", "bf_solve_s": "float",
        "bf_converged": "bool", "bf_inner_converged": "bool", "bf_power_residual": "float",
        "bf_sensing_residual": "float",
    },
}

# Nullable columns: NULL is allowed (the value does not exist), NaN/inf never.
NULLABLE = {"sinr_db", "mean_location_error_m", "location_error_m", "sensing_var_theta", "constraint_ratio",
            "location_nees", "bf_converged", "bf_inner_converged", "bf_power_residual",
            "bf_sensing_residual"}

DUCK_KINDS = {
    "uint": {"UINTEGER", "UBIGINT", "USMALLINT", "UTINYINT"},
    "float": {"DOUBLE", "FLOAT"},
    "bool": {"BOOLEAN"},
    "str": {"VARCHAR"},
}


def pandas_kind_ok(series, kind, nullable):
    dtype = series.dtype
    if kind == "bool" and nullable and pd.api.types.is_object_dtype(dtype):
        # A nullable Boolean column reads as object: True/False and None.
        return all(v is None or isinstance(v, bool) for v in series)
    if kind == "uint":
        return pd.api.types.is_unsigned_integer_dtype(dtype)
    if kind == "float":
        return pd.api.types.is_float_dtype(dtype)
    if kind == "bool":
        return pd.api.types.is_bool_dtype(dtype)
    return pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)


def check(path: Path, schema: dict) -> int:
    con = duckdb.connect()
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
    duck_types = {row[0]: row[1] for row in described}
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
    if rows == 0:
        sys.exit(f"{path}: no rows")
    df = pd.read_parquet(path)
    if len(df) != rows:
        sys.exit(f"{path}: pandas read {len(df)} rows, DuckDB {rows}")
    for col, kind in schema.items():
        if col not in duck_types:
            sys.exit(f"{path}: column `{col}` missing (DuckDB sees {sorted(duck_types)})")
        if duck_types[col] not in DUCK_KINDS[kind]:
            sys.exit(f"{path}: column `{col}` is {duck_types[col]} in DuckDB; expected {kind}")
        if not pandas_kind_ok(df[col], kind, col in NULLABLE):
            sys.exit(f"{path}: column `{col}` is {df[col].dtype} in pandas; expected {kind}")
        nulls = con.execute(
            f"SELECT count(*) FROM read_parquet('{path}') WHERE \"{col}\" IS NULL"
        ).fetchone()[0]
        if nulls and col not in NULLABLE:
            sys.exit(f"{path}: column `{col}` has {nulls} nulls; expected none")
        if kind == "float":
            bad = con.execute(
                f"SELECT count(*) FROM read_parquet('{path}') WHERE NOT isfinite(\"{col}\")"
            ).fetchone()[0]
            if bad:
                sys.exit(f"{path}: column `{col}` has {bad} non-finite values")
    return rows


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = Path(sys.argv[1])
    found = sorted(root.rglob("*.parquet"))
    if not found:
        sys.exit(f"{root}: no Parquet artifacts found")
    checked = 0
    for path in found:
        schema = SCHEMAS.get(path.name)
        if schema is None:
            sys.exit(f"{path}: no documented schema for `{path.name}` in {__file__}")
        rows = check(path, schema)
        print(f"ok  {path} ({rows} rows, {len(schema)} columns checked)")
        checked += 1
    print(f"{checked} passed, 0 failed")


if __name__ == "__main__":
    main()
