#!/usr/bin/env bash
# The TIMIT recipe in stages, like Kaldi's egs/timit/s5/run.sh:
#   0 prepare   JSONL manifests of train / dev / core-test     -> $out/data/
#   1 features  features of train and dev, cached               -> $out/features/
#   2 train     BLSTM-CTC with early stopping on dev PER        -> $out/model/
#   3 evaluate  PER (39 phones) on dev and core-test            -> $out/{dev,core-test}.{txt,json}
#
# usage: scripts/timit.sh --timit /path/to/TIMIT [--out runs/timit]
#            [--config configs/timit_ctc_3l250h.toml] [--stage N] [--stop-stage N]
#            [--dev-speakers FILE] [--test-speakers FILE]   (default: the standard TIMIT lists)
# Run again, it resumes: a stopped training stage from its last checkpoint, and the files of
# the other stages are written anew.
set -euo pipefail
cd "$(dirname "$0")/.."

timit="" out=runs/timit config=configs/timit_ctc_3l250h.toml stage=0 stop_stage=3
lists=()
while [ $# -gt 0 ]; do
  case "$1" in
    --timit) timit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --dev-speakers|--test-speakers) lists+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "timit.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$timit" ] || { echo "timit.sh: --timit /path/to/TIMIT is required" >&2; exit 2; }
lstmrec=${LSTMREC:-.venv/bin/lstmrec}
run() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

if run 0; then
  echo "== stage 0: prepare =="
  "$lstmrec" prepare --data "$timit" --out "$out/data" --splits train dev core-test \
      "${lists[@]}" --force
fi
if run 1; then
  echo "== stage 1: features =="
  "$lstmrec" features --config "$config" --data "$out/data" --cache "$out/features" \
      --splits train dev
fi
if run 2; then
  echo "== stage 2: train =="
  resume=()
  [ -f "$out/checkpoint/state.json" ] && resume=(--resume)
  "$lstmrec" train --config "$config" --data "$out/data" --out "$out" \
      --feature-cache "$out/features" "${resume[@]}"
fi
if run 3; then
  echo "== stage 3: evaluate =="
  for split in dev core-test; do
    "$lstmrec" evaluate "$out/model" --data "$out/data" --split "$split" \
        --hyp-out "$out/$split.hyp.txt" --force | tee "$out/$split.txt"
    "$lstmrec" evaluate "$out/model" --data "$out/data" --split "$split" --format json \
        > "$out/$split.json"
  done
fi
