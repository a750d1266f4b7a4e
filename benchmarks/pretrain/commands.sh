#!/usr/bin/env bash
# Pre-training for a warm start: the CE-only student with emovit's recipe on the two corpora other than
# CORPUS (all their classes; their `paper` split: 80% of the utterances of every speaker train, 10% of those
# validate, 20% are tested), so that a run on CORPUS can start from it (--init-from, the peers' `warm`
# group, the ablation's warm-start variant) without ever having seen CORPUS. One thread; resumable.
#   bash benchmarks/pretrain/commands.sh emodb     -> runs/pretrain-savee-ravdess/models/plain.pt
# A second word, `speaker`, pre-trains with per-speaker normalisation (recipe emovit with normalization =
# "speaker", benchmarks/ablation-emodb-speaker/val2/recipes/v27.toml), for a warm start of per-speaker runs:
#   bash benchmarks/pretrain/commands.sh emodb speaker   -> runs/pretrain-savee-ravdess-speaker/models/plain.pt
# A second word, `level`, pre-trains the student-level network (each frame's mean and std given to its token),
# for a warm start of that network:
#   bash benchmarks/pretrain/commands.sh emodb level     -> runs/pretrain-savee-ravdess-level/models/plain.pt
set -euo pipefail
declare -A root=([emodb]=../shared/data/emodb [savee]=../shared/data/savee/ALL [ravdess]=../shared/data/ravdess)
[ -n "${root[${1:-}]:-}" ] || { echo "usage: $0 emodb|savee|ravdess [speaker] (the corpus to leave out)" >&2; exit 2; }
recipe=emovit suffix= network=()
case ${2:-} in
  speaker) recipe=benchmarks/ablation-emodb-speaker/val2/recipes/v27.toml suffix=-speaker ;;
  level) network=(--student-network student-level) suffix=-level ;;
  "") ;;
  *) echo "unknown second word $2: speaker, level, or nothing" >&2; exit 2 ;;
esac
args=() others=()
for c in emodb savee ravdess; do
  [ "$c" = "$1" ] && continue
  args+=(--corpus "$c" --root "${root[$c]}"); others+=("$c")
done
out="runs/pretrain-$(IFS=-; echo "${others[*]}")$suffix"
OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1 .venv/bin/emovit reproduce --recipe "$recipe" "${args[@]}" --protocol paper \
  --models plain "${network[@]}" --baseline none --device cpu --quiet --out "$out"
