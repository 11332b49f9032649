#!/usr/bin/env bash
# The shipped English handwriting recognizer (en-ink), in stages:
#   0 corpus    synthetic ink of many hands (scripts/synth_hands.py)          -> $out/corpus/
#   1 features  features of train and dev, cached                               -> $out/features/
#   2 train     BLSTM-CTC on characters, early stopping on the dev hands' CER   -> $out/model/
#   3 evaluate  a character 5-gram of the training texts; CER/WER on the dev and held-out test
#               hands, without and with it                                    -> $out/*.json
#   4 package   the bundle and its model card          -> pipeline/resources/models/en-ink
#
# usage: scripts/english_ink.sh [--mnist ../shared/data/mnist-strokes/strokes.npz]
#            [--out runs/english_ink] [--config configs/english_ink.toml]
#            [--writers-per-hand 24] [--stage N] [--stop-stage N]
# Needs the fonts and texts of `make ink-data` (Debian packages). A stopped training stage
# resumes from its last checkpoint when run again.
set -euo pipefail
cd "$(dirname "$0")/.."

mnist=../shared/data/mnist-strokes/strokes.npz out=runs/english_ink
config=configs/english_ink.toml stage=0 stop_stage=4 writers=24
while [ $# -gt 0 ]; do
  case "$1" in
    --mnist) mnist=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --writers-per-hand) writers=$2; shift 2 ;;
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "english_ink.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$mnist" ] || { echo "english_ink.sh: no MNIST pen-stroke file $mnist" >&2; exit 2; }
lstmrec=${LSTMREC:-.venv/bin/lstmrec}
if [ -z "${KERAS_BACKEND:-}" ] && .venv/bin/python -c "import jax" 2>/dev/null; then
  export KERAS_BACKEND=jax
fi
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$out/jax-cache}
run() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
mkdir -p "$out"

if run 0 && [ ! -d "$out/corpus" ]; then
  echo "== stage 0: corpus =="
  .venv/bin/python scripts/synth_hands.py "$out/corpus" --mnist "$mnist" \
      --writers-per-hand "$writers"
fi
if run 1; then
  echo "== stage 1: features =="
  "$lstmrec" features --config "$config" --data "$out/corpus" --cache "$out/features" \
      --splits train dev
fi
if run 2; then
  echo "== stage 2: train =="
  resume=()
  [ -f "$out/checkpoint/state.json" ] && resume=(--resume)
  "$lstmrec" train --config "$config" --data "$out/corpus" --out "$out" \
      --feature-cache "$out/features" "${resume[@]}"
fi
# The character 5-gram of the training texts and the decoding settings shipped with the model:
# weight and bonus chosen on the dev hands (0.5/1.0 against 1.0/1.0 and 0.7/2.0).
lm=(--beam 16 --lm "$out/chars5.arpa" --lm-weight 0.5 --insertion-bonus 1.0)
if run 3; then
  echo "== stage 3: evaluate =="
  .venv/bin/python scripts/synth_hands.py --train-texts "$out/train_texts.txt"
  "$lstmrec" lm --text "$out/train_texts.txt" --order 5 --unit chars --out "$out/chars5.arpa" \
      --force
  for split in dev core-test; do
    "$lstmrec" evaluate "$out/model" --data "$out/corpus" --split "$split" \
        --hyp-out "$out/$split.hyp.txt" --force | tee "$out/$split.txt"
    "$lstmrec" evaluate "$out/model" --data "$out/corpus" --split "$split" --format json \
        > "$out/$split.json"
    "$lstmrec" evaluate "$out/model" --data "$out/corpus" --split "$split" "${lm[@]}" \
        --hyp-out "$out/$split.lm.hyp.txt" --force | tee "$out/$split.lm.txt"
    "$lstmrec" evaluate "$out/model" --data "$out/corpus" --split "$split" "${lm[@]}" \
        --format json > "$out/$split.lm.json"
  done
fi
if run 4; then
  echo "== stage 4: package =="
  .venv/bin/python scripts/package_model.py --name en-ink --run "$out" \
      --card configs/english_ink.card.toml --lm "$out/chars5.arpa" --lm-weight 0.5 \
      --insertion-bonus 1.0 --beam 16
fi
