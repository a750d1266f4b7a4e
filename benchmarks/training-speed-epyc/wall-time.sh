#!/usr/bin/env bash
# The wall time of the EmoDB `paper` recipe as a user runs it (the figure the training-speed issue
# asks for): 3 stages x 50 epochs + CE-only student + openSMILE baseline, seed 0, default threads,
# a cold feature cache; run it with nothing else on the machine. From the repository root:
#   bash benchmarks/training-speed-epyc/wall-time.sh runs/wall-time-paper-emodb
# Writes OUT/machine.txt (CPU, flags, load before and after), OUT/time.txt and the run in OUT/run.
set -euo pipefail
out=${1:?usage: wall-time.sh OUT (a directory that does not exist yet)}
[ -e "$out" ] && { echo "error: $out exists; give a new directory" >&2; exit 2; }
mkdir -p "$out"
{ grep -m1 'model name' /proc/cpuinfo; echo "cores: $(nproc)";
  echo "flags: $(grep -o 'avx2\|avx512f\|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')";
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"; } > "$out/machine.txt"
start=$(date +%s)
.venv/bin/emovit reproduce --recipe paper --corpus emodb --root ../shared/data/emodb --protocol paper \
  --cache "$out/cache" --out "$out/run" --quiet
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
echo "wall seconds: $(( $(date +%s) - start ))" | tee "$out/time.txt"
