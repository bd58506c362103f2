#!/usr/bin/env bash
# The smoke sweep on a real Slurm cluster of one node, then the equality
# check against a single-process run (tests/sweep/check_sweep.py).
#
#   sudo tests/sweep/slurm.sh        # ≈ 2 min on 2 cores (+ ≈ 20 s to install Slurm)
#
# Debian/Ubuntu, as root: installs slurm-wlm and munge if missing (Slurm
# 22.05 on Debian 12) and snakemake-executor-plugin-slurm from PyPI, writes a
# minimal slurm.conf under a temporary folder (linked from
# /etc/slurm/slurm.conf, where the job steps look for it), starts munged,
# slurmctld and slurmd, and stops what it started on exit. No slurmdbd: the
# plugin polls with `--slurm-status-command squeue`, which needs MinJobAge ≥
# 3 × --slurm-init-seconds-before-status-checks (else it falls back to sacct,
# which fails without accounting). Refuses to touch an existing slurm.conf.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
stamp() { echo "== slurm.sh [$(( $(date +%s) - start ))s] $*"; }

[ "$(id -u)" = 0 ] || { echo "slurm.sh: run as root (it installs Slurm and starts its daemons)" >&2; exit 2; }
if [ -e /etc/slurm/slurm.conf ] && [ ! -L /etc/slurm/slurm.conf ]; then
    echo "slurm.sh: /etc/slurm/slurm.conf exists: this machine has a Slurm of its own; not touching it" >&2
    exit 2
fi

stamp "packages"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
python3 -m pip install --quiet --disable-pip-version-check -r workflow/requirements.txt \
    'snakemake-executor-plugin-slurm>=2.8,<3'
slurmctld -V

tmp=$(mktemp -d /tmp/sdusc-slurm.XXXXXX)
started=()
cleanup() {
    for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${started[@]}"; do
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    done
    [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$tmp/slurm.conf" ] && rm -f /etc/slurm/slurm.conf
    stamp "stopped ${started[*]:-nothing}; logs in $tmp"
}
trap cleanup EXIT

stamp "cluster"
host=$(hostname)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemAvailable/ {print $2}' /proc/meminfo) / 1024 * 3 / 4 ))
mkdir -p "$tmp/state" "$tmp/spool" /etc/slurm
cat > "$tmp/slurm.conf" <<EOF
ClusterName=sdusc-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
ln -sfn "$tmp/slurm.conf" /etc/slurm/slurm.conf
if ! munge -n >/dev/null 2>&1; then
    [ -s /etc/munge/munge.key ] || mungekey --create
    mkdir -p /run/munge
    munged --force --pid-file "$tmp/munged.pid" 2>/dev/null
    started+=("$(cat "$tmp/munged.pid")")
fi
slurmctld
sleep 1
started+=("$(cat "$tmp/slurmctld.pid")")
slurmd
sleep 1
started+=("$(cat "$tmp/slurmd.pid")")
for _ in $(seq 30); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
    sleep 1
done
srun hostname

stamp "smoke sweep on Slurm"
out="$tmp/sweep"
mkdir -p "$out"
# The node has $cpus cores: every rule on 1 core and 1 GB here (the profile
# asks for 4 cores for the heavy rules).
small="cpus_per_task=1 mem_mb=1000"
snakemake --snakefile workflow/Snakefile --directory "$out" \
    --workflow-profile workflow/profiles/slurm \
    --config sweep="$PWD/pipelines/sweeps/smoke.toml" \
    --slurm-no-account --slurm-status-command squeue \
    --slurm-init-seconds-before-status-checks 1 \
    --set-threads rsrp=1 ckm=1 shard=1 \
    --set-resources $(for r in traj rsrp ckm shard merge; do for kv in $small; do printf '%s:%s ' "$r" "$kv"; done; done) \
    --quiet
squeue --states=all --noheader --format='%i %j %T' | awk '{print $3}' | sort | uniq -c

stamp "merged sweep equals a single-process run"
python3 tests/sweep/check_sweep.py pipelines/sweeps/smoke.toml "$out"
stamp "done"
