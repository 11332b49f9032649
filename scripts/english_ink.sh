#!/usr/bin/env bash
# The shipped English handwriting recognizer (en-ink), in stages:
#   0 corpus    synthetic ink of many hands (scripts/synth_hands.py)          -> $out/corpus/
#   1 features  features of train and dev, cached                               -> $out/features/
#   2 train     BLSTM-CTC on characters, early stopping on the dev hands' CER   -> $out/model/
#   3 numbers   a second, smaller corpus (other writers) with half its training and dev lines
#               number lines, half of those in MNIST digits; the network of stage 2 trained
#               on it further at a quarter of the learning rate, early stopping on its dev
#               lines                                                -> $out/numbers/model/
#   4 evaluate  a character 5-gram of the training texts; CER/WER on the dev and held-out test
#               hands, without and with it, and on the test hands' lines without time stamps;
#               strings of held-out MNIST digits
#                                                                    -> $out/numbers/*.json
#   5 package   the bundle and its model card, with --package only (it replaces the shipped
#               model)                                 -> pipeline/resources/models/en-ink
#
# usage: scripts/english_ink.sh [--mnist ../shared/data/mnist-strokes/strokes.npz]
#            [--out runs/english_ink] [--config configs/english_ink.toml]
#            [--writers-per-hand 24] [--stage N] [--stop-stage N] [--package] [--dry-run]
# Without --package the run stops after stage 4; --package (which takes only the default
# --config) also packages the run as en-ink. --dry-run prints the stages it would run.
# Needs the fonts and texts of `make ink-data` (Debian packages). A stopped training stage
# resumes from its last checkpoint when run again.
set -euo pipefail
cd "$(dirname "$0")/.."

mnist=../shared/data/mnist-strokes/strokes.npz out=runs/english_ink
config=configs/english_ink.toml stage=0 stop_stage="" writers=24 package=0 dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --mnist) mnist=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --writers-per-hand) writers=$2; shift 2 ;;
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --package) package=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "english_ink.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
source scripts/package_stage.sh  # stage 5 replaces the shipped model: --package only
package_stage english_ink.sh 5 en-ink configs/english_ink.toml
[ -f "$mnist" ] || { echo "english_ink.sh: no MNIST pen-stroke file $mnist" >&2; exit 2; }
lstmrec=${LSTMREC:-.venv/bin/lstmrec}
if [ -z "${KERAS_BACKEND:-}" ] && .venv/bin/python -c "import jax" 2>/dev/null; then
  export KERAS_BACKEND=jax
fi
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$out/jax-cache}
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
final=$out/numbers  # the run of the shipped network
if run 3; then
  echo "== stage 3: numbers =="
  [ -d "$final/corpus" ] || .venv/bin/python scripts/synth_hands.py "$final/corpus" \
      --mnist "$mnist" --seed 1 --writers-per-hand 8 --eval-writers-per-hand 6 \
      --number-share 0.5 --dev-number-share 0.5
  "$lstmrec" features --config "$config" --data "$final/corpus" --cache "$final/features" \
      --splits train dev
  # Its learning rate is that of the stage 2 recipe, divided by 4; the epoch kept is the best
  # on this corpus's dev lines, half of them number lines; a stopped run resumes.
  more=(--init-from "$out/model")
  [ -f "$final/checkpoint/state.json" ] && more=(--resume)
  "$lstmrec" train --config "$config" --data "$final/corpus" --out "$final" \
      --feature-cache "$final/features" --set training.learning_rate=5e-4 \
      --set training.max_epochs=5 "${more[@]}"
fi
# The character 5-gram of the training texts and the decoding settings shipped with the model:
# weight and bonus chosen on the dev hands (0.5/1.0 against 1.0/1.0 and 0.7/2.0).
lm=(--beam 16 --lm "$final/chars5.arpa" --lm-weight 0.5 --insertion-bonus 1.0)
if run 4; then
  echo "== stage 4: evaluate =="
  .venv/bin/python scripts/synth_hands.py --train-texts "$final/train_texts.txt" --force
  "$lstmrec" lm --text "$final/train_texts.txt" --order 5 --unit chars \
      --out "$final/chars5.arpa" --force
  for split in dev core-test; do  # the held-out hands of the main corpus
    "$lstmrec" evaluate "$final/model" --data "$out/corpus" --split "$split" \
        --hyp-out "$final/$split.hyp.txt" --force | tee "$final/$split.txt"
    "$lstmrec" evaluate "$final/model" --data "$out/corpus" --split "$split" --format json \
        > "$final/$split.json"
    "$lstmrec" evaluate "$final/model" --data "$out/corpus" --split "$split" "${lm[@]}" \
        --hyp-out "$final/$split.lm.hyp.txt" --force | tee "$final/$split.lm.txt"
    "$lstmrec" evaluate "$final/model" --data "$out/corpus" --split "$split" "${lm[@]}" \
        --format json > "$final/$split.lm.json"
  done
  # The held-out lines without their time stamps, as stroke-3 files and x-y InkML come.
  [ -d "$out/corpus_untimed" ] || .venv/bin/python scripts/untimed_ink.py "$out/corpus" \
      "$out/corpus_untimed"
  "$lstmrec" evaluate "$final/model" --data "$out/corpus_untimed" --split core-test "${lm[@]}" \
      --hyp-out "$final/core-test.untimed.lm.hyp.txt" --force | tee "$final/core-test.untimed.lm.txt"
  "$lstmrec" evaluate "$final/model" --data "$out/corpus_untimed" --split core-test "${lm[@]}" \
      --format json > "$final/core-test.untimed.lm.json"
  # Strings of 3 to 10 real MNIST pen-stroke digits of the held-out part, never written into
  # a corpus: the network alone, then decoded as shipped.
  .venv/bin/python scripts/ink_digit_strings.py --model "$final/model" --mnist "$mnist" \
      --strings 200 --json "$final/digit_strings.json" --force | tee "$final/digit_strings.txt"
  .venv/bin/python scripts/ink_digit_strings.py --model "$final/model" --mnist "$mnist" \
      --strings 200 "${lm[@]}" --json "$final/digit_strings.lm.json" --force \
      | tee "$final/digit_strings.lm.txt"
fi
if run 5; then
  echo "== stage 5: package =="
  .venv/bin/python scripts/package_model.py --name en-ink --run "$final" \
      --card configs/english_ink.card.toml --lm "$final/chars5.arpa" --lm-weight 0.5 \
      --insertion-bonus 1.0 --beam 16
fi
