#!/usr/bin/env bash
# Held-out evaluation of an evolved NAMM against the full cache and every baseline, at matched memory and at
# fixed ratios 0.25 / 0.5 / 0.75 / 0.875 (the README's table and plot).
#   scripts/heldout-eval.sh MODEL NAMM OUT [N] [LENGTHS] [SCORE] [JOBS]
# SCORE is `task` (the task metric of the greedy answer, default) or `likelihood` (the gold answer's teacher-forced
# likelihood, exp(−mean NLL); see `namm eval --score`). JOBS evaluation processes (default 2, one kernel thread
# each) share the work, one (length, task) pair at a time; their outputs are merged into OUT/LENGTH.
# Records use seed 7: evaluation seeds are below 1,000,000, model training draws from 1,000,000 up and the
# shipped curriculum (configs/evolve-tiny-llama.json) from 2,000,000 up, so none of these prompts was ever seen.
# Resumable: rerun the same command after an interruption (each pair's evaluation picks up where it stopped).
# HELDOUT_TASKS, HELDOUT_BASELINES and HELDOUT_RATIOS (space-separated) replace the default tasks, baselines and
# ratios, e.g. for a quick check; HELDOUT_RATIOS set empty runs the baselines matched to the NAMM only.
set -euo pipefail
MODEL=${1:?model folder}; NAMM=${2:?.namm file}; OUT=${3:?output folder}; N=${4:-10}; LENGTHS=${5:-2048,4096}
SCORE=${6:-task}; JOBS=${7:-2}
TASKS=${HELDOUT_TASKS:-passkey niah_single_1 niah_single_2 niah_multikey_1 vt}
CLI="node --import tsx src/cli/main.ts"
BASELINES=${HELDOUT_BASELINES:-random streaming h2o tova l2 snapkv adakv(snapkv)}
RATIOS=${HELDOUT_RATIOS-0.25 0.5 0.75 0.875}
mkdir -p "$OUT/data" "$OUT/parts"
memory=()
for b in $BASELINES; do
  memory+=(--memory "matched($b)")
  for r in $RATIOS; do memory+=(--memory "$b:ratio=$r"); done
done
pairs=()
for L in ${LENGTHS//,/ }; do
  for t in $TASKS; do
    f="$OUT/data/$t-$L.jsonl"
    # Reused from an earlier run only if it holds N records (a rerun with another N generates it again; records are
    # drawn by index, so the first ones, and their results, stay the same).
    if [ ! -s "$f" ] || [ "$(grep -c . "$f")" -ne "$N" ]; then
      $CLI tasks generate --task "$t" --length "$L" -n "$N" --seed 7 --tokenizer "$MODEL" -q --force --out "$f"
    fi
    pairs+=("$L $t")
  done
done
# The longest prompts first, so the last jobs to finish are short ones.
# A pair that fails stops the script before anything is merged (a stale summary must not stand in for it).
printf '%s\n' "${pairs[@]}" | sort -k1,1nr | {
  pids=(); names=()
  while read -r L t; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
    $CLI eval --model "$MODEL" --data "$OUT/data/$t-$L.jsonl" --match "namm:$NAMM" "${memory[@]}" --score "$SCORE" \
      --threads 1 --out "$OUT/parts/$L-$t" --json > "$OUT/parts/$L-$t.json" &
    pids+=($!); names+=("$L $t")
  done
  failed=0
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "heldout-eval: the evaluation of ${names[$i]} failed (see above)" >&2; failed=1; }
  done
  exit $failed
}
# Merge the pairs of each length into OUT/LENGTH/{summary.json,results.jsonl} for the report.
for L in ${LENGTHS//,/ }; do
  mkdir -p "$OUT/$L"
  node -e '
    const fs = require("fs"), [out, L, ...tasks] = process.argv.slice(1);
    const parts = tasks.map((t) => `${out}/parts/${L}-${t}`);
    fs.writeFileSync(`${out}/${L}/summary.json`, JSON.stringify(parts.flatMap((p) => JSON.parse(fs.readFileSync(`${p}/summary.json`, "utf8"))), null, 2) + "\n");
    fs.writeFileSync(`${out}/${L}/results.jsonl`, parts.map((p) => fs.readFileSync(`${p}/results.jsonl`, "utf8")).join(""));
  ' "$OUT" "$L" $TASKS
done
node --import tsx scripts/heldout-report.ts "$OUT" ${LENGTHS//,/ }
