#!/usr/bin/env bash
# Held-out evaluation of an evolved NAMM against the full cache and every baseline, at matched memory and at
# fixed ratios 0.25 / 0.5 / 0.75 (the README's table and plot).
#   scripts/heldout-eval.sh MODEL NAMM OUT [N] [LENGTHS] [SCORE]
# SCORE is `task` (the task metric of the greedy answer, default) or `likelihood` (the gold answer's teacher-forced
# likelihood, exp(−mean NLL); see `namm eval --score`).
# Records use seed 7: evaluation seeds are below 1,000,000, model training draws from 1,000,000 up and the
# shipped curriculum (configs/evolve-tiny-llama.json) from 2,000,000 up, so none of these prompts was ever seen.
# Resumable: rerun the same command after an interruption. Two evaluation processes run side by side (one per
# length), one kernel thread each.
set -euo pipefail
MODEL=${1:?model folder}; NAMM=${2:?.namm file}; OUT=${3:?output folder}; N=${4:-10}; LENGTHS=${5:-2048,4096}; SCORE=${6:-task}
TASKS="passkey niah_single_1 niah_single_2 niah_multikey_1 vt"
CLI="node --import tsx src/cli/main.ts"
BASELINES="random streaming h2o tova l2 snapkv adakv(snapkv)"
mkdir -p "$OUT"
pids=()
for L in ${LENGTHS//,/ }; do
  data=()
  for t in $TASKS; do
    f="$OUT/data/$t-$L.jsonl"
    mkdir -p "$OUT/data"
    [ -s "$f" ] || $CLI tasks generate --task "$t" --length "$L" -n "$N" --seed 7 --tokenizer "$MODEL" -q --out "$f"
    data+=(--data "$f")
  done
  memory=()
  for b in $BASELINES; do
    memory+=(--memory "matched($b)")
    for r in 0.25 0.5 0.75; do memory+=(--memory "$b:ratio=$r"); done
  done
  $CLI eval --model "$MODEL" "${data[@]}" --match "namm:$NAMM" "${memory[@]}" --score "$SCORE" --threads 1 --out "$OUT/$L" --json > "$OUT/$L.json" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
node --import tsx scripts/heldout-report.ts "$OUT" ${LENGTHS//,/ }
