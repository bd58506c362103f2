# SD-USCB pipeline. `just` lists the recipes; `just all` runs the paper pipeline,
# `just smoke` the tiny one, `just test` the test suite.

set shell := ["bash", "-euo", "pipefail", "-c"]

bin := env_var_or_default("CARGO_TARGET_DIR", "target") + "/release"
paper := "pipelines/paper.toml"
smoke_scenario := "pipelines/smoke.toml"

# List the recipes.
default:
    @just --list

# ── build ────────────────────────────────────────────────────────────────

# Build every CLI (release profile: tests, benches and pipelines share it).
build:
    cargo build --release --workspace --bins --tests

# ── stages (SCENARIO and OUT are paths; extra ARGS pass through) ──────────

# User trajectories: gen-traj --scenario SCENARIO --out OUT/trajectories.parquet.
traj scenario=paper out="data/paper" *ARGS: build
    mkdir -p {{out}}
    {{bin}}/gen-traj --scenario {{scenario}} --out {{out}}/trajectories.parquet {{ARGS}}

# Drive-test RSRP: gen-rsrp --scenario SCENARIO --out OUT/rsrp.parquet.
rsrp scenario=paper out="data/paper" *ARGS: build
    mkdir -p {{out}}
    {{bin}}/gen-rsrp --scenario {{scenario}} --out {{out}}/rsrp.parquet {{ARGS}}

# Channel knowledge maps: build-ckm from OUT/rsrp.parquet into OUT/ckm/.
ckm scenario=paper out="data/paper" *ARGS: build
    {{bin}}/build-ckm --scenario {{scenario}} --rsrp {{out}}/rsrp.parquet --out-dir {{out}}/ckm {{ARGS}}

# The epoch engine: run-sdusc over OUT/trajectories.parquet and OUT/ckm into OUT/run/.
run scenario=paper out="data/paper" *ARGS: build
    {{bin}}/run-sdusc --scenario {{scenario}} --trajectories {{out}}/trajectories.parquet --ckm-dir {{out}}/ckm --out-dir {{out}}/run {{ARGS}}

# Look at a CKM: `just ckm-plot data/paper/ckm/bs0.ckm` writes bs0.png beside it.
ckm-plot file: build
    {{bin}}/ckm inspect {{file}}
    {{bin}}/ckm plot {{file}} --out {{without_extension(file)}}.png

# ── pipelines ────────────────────────────────────────────────────────────

# Every stage on the tiny smoke scenario into data/smoke/ (seconds).
smoke: build
    just traj {{smoke_scenario}} data/smoke
    just rsrp {{smoke_scenario}} data/smoke
    just ckm {{smoke_scenario}} data/smoke
    just run {{smoke_scenario}} data/smoke --schemes sd-uscb,sd-uscb-slinr,sd-uscb-hungarian,sd-uscb-all-users,sd-uscb-robust,fp-salinr-perfect,cwmmse,pwmmse

# Every stage on the paper scenario into data/paper/.
all: build
    just traj {{paper}} data/paper
    just rsrp {{paper}} data/paper
    just ckm {{paper}} data/paper
    just run {{paper}} data/paper

# Every stage on the 19-site hex network (pipelines/hex19.toml: 57 sectors, wrap-around) into data/hex19/.
hex19 *ARGS: build
    just traj pipelines/hex19.toml data/hex19
    just rsrp pipelines/hex19.toml data/hex19
    just ckm pipelines/hex19.toml data/hex19
    just run pipelines/hex19.toml data/hex19 --schemes sd-uscb,pwmmse,fp-salinr-perfect,cwmmse {{ARGS}}

# ── the paper ────────────────────────────────────────────────────────────

# All experiments (fig5–9, table1, thm1, gap) + data/paper/REPORT.md; `just paper --drops 16` for tighter CIs.
paper *ARGS: build
    just traj {{paper}} data/paper
    just rsrp {{paper}} data/paper
    just ckm {{paper}} data/paper
    {{bin}}/sdusc-paper all --out data/paper {{ARGS}}

# One experiment, e.g. `just paper-run fig9 --drops 12` (needs `just paper` or `just all` once).
paper-run id *ARGS: build
    {{bin}}/sdusc-paper run {{id}} --out data/paper {{ARGS}}

# Regenerate data/paper/REPORT.md from the experiments' Parquet files.
paper-report: build
    {{bin}}/sdusc-paper report --data data/paper

# ── sweeps ───────────────────────────────────────────────────────────────

# A parameter sweep (docs/sweeps.md) with Snakemake into data/sweeps/<name>/, e.g.
# `just sweep pipelines/sweeps/smoke.toml`; ARGS go to snakemake (`-n`, `--cores 8`,
# `--workflow-profile workflow/profiles/slurm`). Installs workflow/requirements.txt if needed.
sweep file *ARGS: build
    command -v snakemake >/dev/null || python3 -m pip install --quiet --disable-pip-version-check -r workflow/requirements.txt
    name=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["name"])' {{file}}); \
    mkdir -p data/sweeps/$name; \
    snakemake --snakefile workflow/Snakefile --directory data/sweeps/$name --cores 2 \
        --config sweep=$(realpath {{file}}) {{ARGS}}

# ── quality ──────────────────────────────────────────────────────────────

# The test suite (unit, property and CLI integration tests).
test *ARGS:
    cargo nextest run --release --workspace --no-fail-fast {{ARGS}}

# Unused dependencies (cargo-machete, installed if missing), formatting and clippy.
lint:
    command -v cargo-machete >/dev/null || cargo install cargo-machete --locked
    cargo machete
    cargo fmt --all -- --check
    cargo clippy --release --workspace --all-targets -- -D warnings

# Fuzz the CKM reader for SECONDS (needs a nightly toolchain and cargo-fuzz:
# `rustup toolchain install nightly && cargo install cargo-fuzz`). Seeds are
# the smoke CKMs, one per mode of fuzz/fuzz_targets/ckm_reader.rs.
fuzz seconds="60": build
    just rsrp {{smoke_scenario}} data/smoke
    just ckm {{smoke_scenario}} data/smoke
    mkdir -p fuzz/corpus/ckm_reader
    for f in data/smoke/ckm/bs*.ckm; do \
        b=$(basename "$f" .ckm); \
        (printf '\000'; cat "$f") > fuzz/corpus/ckm_reader/$b-0; \
        (printf '\001'; cat "$f") > fuzz/corpus/ckm_reader/$b-1; \
    done
    cd fuzz && cargo +nightly fuzz run ckm_reader corpus/ckm_reader -- -max_total_time={{seconds}} -rss_limit_mb=2048

# Check the smoke artifacts with real clients (DuckDB and pandas).
check-artifacts: smoke
    python3 tests/check_artifacts.py data/smoke

# Experiment fig5 (pipelines/experiments/fig5.toml).
fig5 *ARGS: build
    just paper-run fig5 {{ARGS}}

# Experiment table1 (pipelines/experiments/table1.toml).
table1 *ARGS: build
    just paper-run table1 {{ARGS}}

# Experiment fig6 (pipelines/experiments/fig6.toml).
fig6 *ARGS: build
    just paper-run fig6 {{ARGS}}

# Experiment fig7 (pipelines/experiments/fig7.toml).
fig7 *ARGS: build
    just paper-run fig7 {{ARGS}}

# Experiment fig8 (pipelines/experiments/fig8.toml).
fig8 *ARGS: build
    just paper-run fig8 {{ARGS}}

# Experiment fig9 (pipelines/experiments/fig9.toml).
fig9 *ARGS: build
    just paper-run fig9 {{ARGS}}

# Experiment thm1 (pipelines/experiments/thm1.toml).
thm1 *ARGS: build
    just paper-run thm1 {{ARGS}}

# Experiment gap (pipelines/experiments/gap.toml): the waterfall FP-SALINR → SD-USCB, one ingredient per step.
gap *ARGS: build
    just paper-run gap {{ARGS}}
