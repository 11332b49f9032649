#!/usr/bin/env bash
# The demo: train a small BLSTM-CTC phone recognizer on the bundled TIMIT sample (6 speakers),
# evaluate it on the 2 held-out speakers, and transcribe one of their files. Then the same for
# handwriting: train a character model on synthetic ink, score CER/WER on 2 held-out writers and
# recognize one of their lines. Leaves the model bundles in runs/demo/model/ and
# runs/demo/ink-model/. Rerunning reuses finished runs.
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
    --test-speakers "$DATA/test_spk.list" --hyp-out "$OUT/test_hyp.txt" --force \
    | tee "$OUT/test_report.txt"

echo "== transcribe a held-out file =="
wav="$DATA/TIMIT/TRAIN/DR2/FAEM0/SX312.WAV"
"$BIN/lstmrec" transcribe "$OUT/model" "$wav" --fold 39
echo "reference (39 phones):"
"$BIN/lstmrec" refs --data "$DATA" --split core-test --test-speakers "$DATA/test_spk.list" \
    --fold 39 --silence keep --text-out "$OUT/test_ref39.txt" --force --quiet
grep '^faem0_sx312 ' "$OUT/test_ref39.txt"
echo "the shipped English model (en-phones, no training needed) on the same file:"
"$BIN/lstmrec" transcribe "$wav"

echo "== speech part done in $(( $(date +%s) - start )) s; model bundle: $OUT/model =="

# Handwriting: a synthetic corpus in the IAM-OnDB layout (generated here, deterministic; see
# data/ink-demo/README.md), a small character BLSTM-CTC, CER/WER on 2 held-out writers.
ink_start=$(date +%s)
INK_DATA=$OUT/ink-corpus
INK_RUN=$OUT/ink-run
echo "== handwriting: synthetic corpus (16 writers: 12 train, 2 dev, 2 held-out test) =="
[ -d "$INK_DATA" ] || "$BIN/python" scripts/synth_ink.py "$INK_DATA" \
    --writers 16 --lines-per-writer 30 --dev-writers 2 --test-writers 2 --min-words 1 --max-words 3
resume=()
[ -f "$INK_RUN/checkpoint/state.json" ] && resume=(--resume)
echo "== handwriting: train (configs/ink_demo.toml) =="
"$BIN/lstmrec" train --config configs/ink_demo.toml --data "$INK_DATA" --out "$INK_RUN" "${resume[@]}"
rm -rf "$OUT/ink-model.tmp" && cp -r "$INK_RUN/model" "$OUT/ink-model.tmp"
rm -rf "$OUT/ink-model" && mv "$OUT/ink-model.tmp" "$OUT/ink-model"

echo "== handwriting: CER and WER on the held-out writers ($(tr '\n' ' ' < "$INK_DATA/testset_f.txt")) =="
"$BIN/lstmrec" evaluate "$OUT/ink-model" --data "$INK_DATA" --split core-test \
    --hyp-out "$OUT/ink_test_hyp.txt" --force | tee "$OUT/ink_test_report.txt"

echo "== handwriting: recognize a held-out line =="
ink=$(ls "$INK_DATA"/lineStrokes/w15/w15-000/*.xml | head -n 1)
"$BIN/lstmrec" recognize "$OUT/ink-model" "$ink"
"$BIN/lstmrec" recognize "$OUT/ink-model" "$ink" --format json | cut -c 1-300
echo "reference: $(sed -n '/^CSR:/,$p' "$INK_DATA/ascii/w15/w15-000/w15-000.txt" | sed -n 3p)"
echo "== handwriting: the same line with a character 5-gram of the training writers' text =="
echo "(360 short lines: a word it never saw may be pulled to one it did; see RESULTS.md)"
"$BIN/lstmrec" lm --data "$INK_DATA" --unit chars --order 5 --out "$OUT/ink-chars5.arpa" --force
"$BIN/lstmrec" recognize "$OUT/ink-model" "$ink" --lm "$OUT/ink-chars5.arpa" --lm-weight 1 \
    --insertion-bonus 2
echo "== handwriting: the same line, words of the generator's word list, scored by a word bigram =="
"$BIN/lstmrec" lm --data "$INK_DATA" --unit words --order 2 --out "$OUT/ink-words2.arpa" --force
"$BIN/lstmrec" recognize "$OUT/ink-model" "$ink" --lm "$OUT/ink-words2.arpa" --lm-weight 0.25 \
    --lexicon pipeline/resources/ink_words.txt

echo "== handwriting part done in $(( $(date +%s) - ink_start )) s; model bundle: $OUT/ink-model =="
echo "== demo done in $(( $(date +%s) - start )) s =="
