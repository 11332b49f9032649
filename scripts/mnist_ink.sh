#!/usr/bin/env bash
# Digits of the MNIST pen-stroke set, in stages, like Kaldi's run.sh. Models that read each
# digit differently (a BLSTM the pen's trajectory, four CRNNs the picture) are combined:
#   0 prepare        the fixed split as ink files and manifests            -> $out/data/
#   1 train          BLSTM-CTC on the pen trajectory ($config), early stopping on dev (Adam
#                    3e-3)                                                -> $out/model/
#   2 finetune       the same network from stage 1's best epoch at a lower learning rate (5e-4),
#                    early stopping on dev                                -> $out/finetune/model/
#   3 train-crnn     four CRNNs on the ink drawn as a picture ($crnn_config: a convolutional
#                    front end over the pixel columns, then the BLSTM and CTC), from four random
#                    starts (seeds 1234, 2, 3 and 4)               -> $out/crnn{,2,3,4}/model/
#   4 finetune-crnn  each CRNN from its best epoch at 5e-4, a new distortion of every training
#                    digit each epoch                      -> $out/crnn{,2,3,4}/finetune/model/
#   5 evaluate       each model on the test digits (CER, digit accuracy), then the five
#                    combined: their probabilities of each one-digit label added over the
#                    models and over distorted copies of each digit ($distortions)
#                    (scripts/mnist_ink.py combine), on dev and on test
#                                                             -> $out/test.txt, $out/test_hyp.txt
#
# usage: scripts/mnist_ink.sh [--npz ../shared/data/mnist-strokes/strokes.npz]
#            [--out runs/mnist_full] [--config configs/mnist_ink_full.toml]
#            [--crnn-config configs/mnist_ink_crnn.toml]
#            [--train N] [--dev N] [--test N] [--stage N] [--stop-stage N]
# --train/--dev/--test keep only the first N digits of a split, for quick runs. A stopped
# training stage resumes from its last checkpoint when run again. About 1 h 50 min of training
# on 2 CPU cores: RESULTS.md, "Digits from the MNIST pen-stroke set".
set -euo pipefail
cd "$(dirname "$0")/.."

npz=../shared/data/mnist-strokes/strokes.npz out=runs/mnist_full
config=configs/mnist_ink_full.toml crnn_config=configs/mnist_ink_crnn.toml
stage=0 stop_stage=5 caps=()
while [ $# -gt 0 ]; do
  case "$1" in
    --npz) npz=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --crnn-config) crnn_config=$2; shift 2 ;;
    --train|--dev|--test) caps+=("$1" "$2"); shift 2 ;;
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "mnist_ink.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for recipe in "$config" "$crnn_config"; do
  [ -f "$recipe" ] || { echo "mnist_ink.sh: no recipe $recipe" >&2; exit 2; }
done
python=${PYTHON:-.venv/bin/python} lstmrec=${LSTMREC:-.venv/bin/lstmrec}
# TensorFlow trains these networks fastest on a CPU, the CRNN 1.6 times and the BLSTM 1.3
# times as fast as JAX (scripts/bench_stacking.py, docs/benchmarks.md); KERAS_BACKEND chooses
# another.
export KERAS_BACKEND=${KERAS_BACKEND:-tensorflow}
# With KERAS_BACKEND=jax: JAX compiles the training step once per batch shape; keep the
# compiled programs, so a resumed run does not compile them again.
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$out/jax-cache}
run() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
# A resumed run restores the optimizer's learning rate from its checkpoint, so the lower rate
# of the second pass needs a run of its own, started from the first run's best weights.
finetune=(--set training.learning_rate=5e-4 --set training.max_epochs=8 --set training.patience=3)
# The CRNN's second pass also sees a new distortion of every training digit each epoch, every
# stroke kept (a digit's short strokes, the bar of a 5 or a 7, carry its identity).
distort=(--set training.ink_augment=true --set training.ink_augment_strokes=false)
# The CRNNs' folders and their random starts (training.seed).
crnns=(crnn crnn2 crnn3 crnn4) seeds=(1234 2 3 4)
# Distorted copies of each digit that every model also reads in the combination (chosen on
# the dev digits).
distortions=4

train() {  # train RECIPE RUN_FOLDER [ARGS...]: resume the run when it has a checkpoint
  local recipe=$1 dir=$2 resume=()
  shift 2
  [ -f "$dir/checkpoint/state.json" ] && resume=(--resume)
  "$lstmrec" train --config "$recipe" --data "$out/data" --out "$dir" \
      --feature-cache "$out/features" "${resume[@]}" "$@"
}

second_pass() {  # second_pass RECIPE FIRST_RUN [ARGS...]: stage 2 or 4
  local recipe=$1 first=$2 init=()
  shift 2
  [ -f "$first/finetune/checkpoint/state.json" ] || init=(--init-from "$first/model")
  train "$recipe" "$first/finetune" "${finetune[@]}" "${init[@]}" "$@"
}

if run 0; then
  echo "== stage 0: prepare =="
  "$python" scripts/mnist_ink.py prepare "$npz" "$out/data" "${caps[@]}" --force
fi
if run 1; then
  echo "== stage 1: train =="
  train "$config" "$out"
fi
if run 2; then
  echo "== stage 2: finetune =="
  second_pass "$config" "$out"
fi
if run 3; then
  for i in "${!crnns[@]}"; do
    echo "== stage 3: train-crnn ${crnns[$i]} =="
    train "$crnn_config" "$out/${crnns[$i]}" --set "training.seed=${seeds[$i]}"
  done
fi
if run 4; then
  for i in "${!crnns[@]}"; do
    echo "== stage 4: finetune-crnn ${crnns[$i]} =="
    second_pass "$crnn_config" "$out/${crnns[$i]}" "${distort[@]}" --set "training.seed=${seeds[$i]}"
  done
fi
if run 5; then
  echo "== stage 5: evaluate =="
  : > "$out/test.txt"
  models=("$out/finetune/model")
  for crnn in "${crnns[@]}"; do models+=("$out/$crnn/finetune/model"); done
  for model in "${models[@]}"; do
    hyp=$(dirname "$model")/test_hyp.txt
    echo "-- $model" | tee -a "$out/test.txt"
    "$lstmrec" evaluate "$model" --data "$out/data" --split core-test \
        --speaker-label writer --hyp-out "$hyp" --force | tee -a "$out/test.txt"
    "$python" scripts/mnist_ink.py accuracy "$out/data" "$hyp" | tee -a "$out/test.txt"
  done
  for split in dev core-test; do
    echo "-- the five models combined, $split digits" | tee -a "$out/test.txt"
    hyp=$out/test_hyp.txt
    [ "$split" = dev ] && hyp=$out/dev_hyp.txt
    "$python" scripts/mnist_ink.py combine "$out/data" "${models[@]}" --split "$split" \
        --distortions "$distortions" --hyp-out "$hyp" --force | tee -a "$out/test.txt"
  done
fi
