#!/usr/bin/env bash
# A foreign, ray-traced regular-grid log through build-ckm (docs/real-measurements.md):
# generate the logs (2 m and 5 m lattices) and the operator codebook with
# raytrace_log.py, build the CKMs with the documented minimal scenario (§2)
# and the wide layout, compare the recovered dominant AoDs with the traced
# truth (compare.py), and draw `ckm plot` (aod and measured) for every BS.
#
# A second configuration, "range64", adds ckm.angle_range_deg = [-64, 64]
# (about the codebook's coverage) to the same scenario. With the default
# [-90, 90], build-ckm itself keeps paths out of the bins no beam of this
# codebook looks at (ols::COVERAGE_DB); without that rule the fit put ghost
# paths at endfire in about half the cells. CI runs this script.
#
# Usage: tests/foreign/run.sh [OUT_DIR]   (PNGs go to OUT_DIR, default a temp dir)
# Binaries from ${BIN:-target/release}; Python 3 with numpy and pyarrow.
# Exit status: non-zero when a build fails or compare.py fails on any
# configuration (fraction within one beamwidth below --min-fraction).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-target/release}
BIN=$(cd "$BIN" && pwd)
out=${1:-$(mktemp -d -t foreign-plots.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d -t foreign-work.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 "$here/raytrace_log.py" "$work" --spacings 2,5

status=0
for config in minimal range64; do
    logs=()
    for g in 2 5; do
        scenario=$work/scenario_${config}_${g}m.toml
        cp "$here/scenario_${g}m.toml" "$scenario"
        if [ "$config" = range64 ]; then
            # [ckm] is the file's last section, so appended keys land in it.
            printf 'angle_range_deg = [-64.0, 64.0]\nangle_bins = 128\n' >>"$scenario"
        fi
        ckm_dir=$work/ckm_${config}_${g}m
        t0=$(date +%s%N)
        "$BIN/build-ckm" --scenario "$scenario" --rsrp "$work/rsrp_${g}m.parquet" \
            --codebook "$work/beams.npy" --wide-beams 'BID{b}' --wide-first-beam 1 \
            --noise-floor-dbm -100 --out-dir "$ckm_dir" 2>"$work/build_${config}_${g}m.log" || {
            cat "$work/build_${config}_${g}m.log" >&2
            echo "build-ckm failed ($config, ${g} m)" >&2
            exit 1
        }
        t1=$(date +%s%N)
        grep -E 'lattice|covers|cells in area' "$work/build_${config}_${g}m.log" | sed 's/^/  /'
        printf '%s %s m: build-ckm %d ms wall\n' "$config" "$g" $(((t1 - t0) / 1000000))
        logs+=(--log "${g}m:$ckm_dir:$work/truth_${g}m.parquet")
        for ckm in "$ckm_dir"/bs*.ckm; do
            bs=$(basename "$ckm" .ckm)
            for mode in aod measured; do
                "$BIN/ckm" plot "$ckm" --scenario "$scenario" --mode "$mode" \
                    --out "$out/${config}_${g}m_${bs}_${mode}.png" >/dev/null 2>&1
            done
        done
    done
    echo "== $config =="
    BIN=$BIN python3 "$here/compare.py" --ckm-bin "$BIN/ckm" "${logs[@]}" || status=1
done
echo "plots: $out"
exit $status
