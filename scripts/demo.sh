#!/usr/bin/env bash
# The demo: train a small BLSTM-CTC phone recognizer on the bundled TIMIT sample (6 speakers),
# evaluate it on the 2 held-out speakers, and transcribe one of their files.
# Leaves the model bundle in runs/demo/model/. Rerunning reuses a finished run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=runs/demo
DATA=data/timit-demo
start=$(date +%s)

resume=()
[ -f "$OUT/checkpoint/state.json" ] && resume=(--resume)
echo "== train (configs/demo.toml) =="
"$BIN/lstmrec" train --config configs/demo.toml --data "$DATA" --out "$OUT" "${resume[@]}"

echo "== evaluate on the held-out speakers ($(tr '\n' ' ' < $DATA/test_spk.list)) =="
"$BIN/lstmrec" evaluate "$OUT/model" --data "$DATA" --split core-test \
    --test-speakers "$DATA/test_spk.list" --hyp-out "$OUT/test_hyp.txt" | tee "$OUT/test_report.txt"

echo "== transcribe a held-out file =="
wav="$DATA/TIMIT/TRAIN/DR2/FAEM0/SX312.WAV"
"$BIN/lstmrec" transcribe "$OUT/model" "$wav" --fold 39
echo "reference (39 phones):"
"$BIN/python" -c "import sys; from pipeline.corpus import read_phn; from pipeline.phones import fold; \
print(' '.join(fold([p for _, _, p in read_phn(sys.argv[1])], 39)))" "${wav%.WAV}.PHN"

echo "== done in $(( $(date +%s) - start )) s; model bundle: $OUT/model =="
