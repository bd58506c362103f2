"""A sweep definition (pipelines/sweeps/*.toml) and what it expands to.

Shared by the Snakefile and by tests/sweep/check_sweep.py (the single-process
reference). A sweep is a scenario, a grid of overrides (dotted keys such as
`users.per_cell`, each with a list of values), seeds, schemes and a number of
drops; its *points* are the grid's cartesian product in the order the keys
are written, its *worlds* the points × seeds, its *shards* a world's drops
cut into consecutive ranges of `drops_per_shard`. See docs/sweeps.md.
"""

from __future__ import annotations

import copy
import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path

# The scenario sections the drive test and the CKMs depend on (besides the
# seed): the same sections as `Scenario::world_hash` in
# crates/model/src/scenario/mod.rs. Points that differ only outside them share
# their RSRP and CKMs; run-sdusc checks the CKM's hash, so a wrong guess here
# is refused, not silently wrong.
RADIO_SECTIONS = ("network", "channel", "ckm")

# The columns the merge adds in front of run-sdusc's, besides the override keys.
SEED_COLUMN = "seed"

TOP_KEYS = {"name", "scenario", "seeds", "drops", "drops_per_shard", "schemes", "timing", "grid"}


class SweepError(ValueError):
    """A sweep file that does not say what it should; the message names the field."""


@dataclass(frozen=True)
class Point:
    """One combination of the grid: `id` names its folder (p0, p1, …)."""

    id: str
    overrides: dict  # dotted key -> value, in the grid's key order
    radio: str  # id of the RSRP/CKM world (r0, r1, …) shared by points


@dataclass(frozen=True)
class Sweep:
    name: str
    path: Path
    scenario: Path
    seeds: list
    drops: int
    drops_per_shard: int
    schemes: list
    timing: bool
    grid: dict  # dotted key -> list of values

    @property
    def keys(self) -> list:
        return list(self.grid)

    def points(self) -> list:
        """The grid's cartesian product, first key slowest."""
        combos = itertools.product(*self.grid.values()) if self.grid else [()]
        radios: dict = {}
        points = []
        for i, values in enumerate(combos):
            overrides = dict(zip(self.grid, values))
            radio_key = repr(sorted((k, v) for k, v in overrides.items() if k.split(".")[0] in RADIO_SECTIONS))
            radio = radios.setdefault(radio_key, f"r{len(radios)}")
            points.append(Point(f"p{i}", overrides, radio))
        return points

    def radio_overrides(self, radio: str) -> dict:
        """The overrides of a radio world (those in RADIO_SECTIONS)."""
        for p in self.points():
            if p.radio == radio:
                return {k: v for k, v in p.overrides.items() if k.split(".")[0] in RADIO_SECTIONS}
        raise KeyError(radio)

    def shards(self) -> list:
        """Drop ranges [a, b) covering 0..drops, each of drops_per_shard (the last may be shorter)."""
        return [(a, min(a + self.drops_per_shard, self.drops)) for a in range(0, self.drops, self.drops_per_shard)]

    def scheme_list(self) -> str:
        """The schemes as one --schemes value (`;` keeps each scheme's options together)."""
        return "; ".join(self.schemes)

    def needs_ckm(self) -> bool:
        """Whether any scheme reads CKMs (the sd-uscb family)."""
        return any(s.split(":")[0].strip().startswith("sd-uscb") for s in self.schemes)


def _need(table: dict, key: str, kind, what: str):
    if key not in table:
        raise SweepError(f"sweep field `{key}` is missing; expected {what}")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise SweepError(f"sweep field `{key}` = {value!r}: expected {what}")
    return value


def load(path, repo: Path) -> Sweep:
    """Read and check a sweep file; relative paths are relative to the repository root `repo`."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = repo / path
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"no sweep file {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"sweep file {path} is not TOML: {e}") from None
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise SweepError(f"sweep file {path}: unknown field `{unknown[0]}`; expected some of {', '.join(sorted(TOP_KEYS))}")
    name = _need(raw, "name", str, "a name (the output folder is data/sweeps/<name>)")
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise SweepError(f"sweep field `name` = {name!r}: expected letters, digits, `-`, `_`, `.`")
    scenario = Path(_need(raw, "scenario", str, "a scenario TOML path (relative to the repository root)"))
    if not scenario.is_absolute():
        scenario = repo / scenario
    if not scenario.is_file():
        raise SweepError(f"sweep field `scenario`: no file {scenario}")
    seeds = _need(raw, "seeds", list, "a list of seeds, e.g. [1, 2]")
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise SweepError(f"sweep field `seeds` = {seeds!r}: expected a non-empty list of integers ≥ 0")
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"sweep field `seeds` = {seeds!r} lists a seed twice")
    drops = _need(raw, "drops", int, "the number of drops per world (an integer ≥ 1)")
    per_shard = _need(raw, "drops_per_shard", int, "the number of drops per shard (an integer ≥ 1)")
    if drops < 1 or per_shard < 1:
        raise SweepError(f"sweep fields `drops` = {drops}, `drops_per_shard` = {per_shard}: expected both ≥ 1")
    schemes = _need(raw, "schemes", list, 'a list of schemes as run-sdusc takes them, e.g. ["sd-uscb", "pwmmse"]')
    if not schemes or not all(isinstance(s, str) and s.strip() and ";" not in s for s in schemes):
        raise SweepError(f"sweep field `schemes` = {schemes!r}: expected a non-empty list of scheme strings without `;`")
    timing = raw.get("timing", False)
    if not isinstance(timing, bool):
        raise SweepError(f"sweep field `timing` = {timing!r}: expected true or false")
    grid = raw.get("grid", {})
    if not isinstance(grid, dict):
        raise SweepError("sweep field `grid`: expected a table of dotted scenario keys, each with a list of values")
    base = tomllib.loads(scenario.read_text())
    for key, values in grid.items():
        if isinstance(values, dict):
            raise SweepError(
                f"sweep field `grid.{key}` is a table; quote dotted keys: \"{key}.{next(iter(values), '…')}\" = [...]"
            )
        if not isinstance(values, list) or not values:
            raise SweepError(f"sweep field `grid.\"{key}\"` = {values!r}: expected a non-empty list of values")
        if len({repr(v) for v in values}) != len(values):
            raise SweepError(f"sweep field `grid.\"{key}\"` = {values!r} lists a value twice")
        if key == SEED_COLUMN or key in ("run.seed", "run.drops", "name"):
            raise SweepError(f"sweep field `grid.\"{key}\"`: seeds and drops are the sweep's `seeds` and `drops`")
        parts = key.split(".")
        if len(parts) < 2 or not all(parts):
            raise SweepError(f"sweep field `grid.\"{key}\"`: expected a dotted scenario key such as users.per_cell")
        table = base
        for part in parts[:-1]:
            table = table.get(part, {})
            if not isinstance(table, dict):
                raise SweepError(f"sweep field `grid.\"{key}\"`: `{part}` is not a table in {scenario}")
        if parts[-1] in table and isinstance(table[parts[-1]], dict):
            raise SweepError(f"sweep field `grid.\"{key}\"`: `{key}` is a table in {scenario}, expected a value")
    return Sweep(name, path, scenario, seeds, drops, per_shard, [s.strip() for s in schemes], timing, grid)


def scenario_with(base: dict, overrides: dict) -> dict:
    """The scenario `base` (parsed TOML) with dotted-key overrides applied."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        *tables, leaf = key.split(".")
        t = out
        for part in tables:
            t = t.setdefault(part, {})
        t[leaf] = value
    return out


def write_scenario(base_path: Path, overrides: dict, out_path: Path) -> None:
    """Write the base scenario with `overrides` as a full TOML file."""
    import tomli_w

    base = tomllib.loads(Path(base_path).read_text())
    text = "# Generated by the sweep workflow: {} with {}\n".format(
        Path(base_path).name, ", ".join(f"{k} = {v!r}" for k, v in overrides.items()) or "no overrides"
    )
    text += tomli_w.dumps(scenario_with(base, overrides))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(out_path)
