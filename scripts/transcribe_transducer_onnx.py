"""Transcribe an audio file with a transducer's ONNX export (lstmrec export MODEL --format onnx
--out DIR): ONNX Runtime, NumPy and lstmrec's NumPy feature code only, greedy decoding.

    python scripts/transcribe_transducer_onnx.py DIR speech.wav
"""

import json
import sys

import numpy as np
import onnxruntime

from lstmrec.features.audio import FeatureConfig, extract, load_audio  # NumPy + soundfile only

MAX_SYMBOLS_PER_FRAME = 8  # labels emitted on one frame at most, as lstmrec transcribe does

if len(sys.argv) != 3:  # --help included
    print(f"usage: python {sys.argv[0]} EXPORT_FOLDER AUDIO_FILE", file=sys.stderr)
    sys.exit(2)
folder, wav = sys.argv[1], sys.argv[2]
config = FeatureConfig.from_dict(json.load(open(f"{folder}/features.json")))
cmvn = np.load(f"{folder}/cmvn.npz")
symbols = open(f"{folder}/symbols.txt", encoding="utf-8").read().splitlines()  # 0: blank
encoder, prediction, joint = (
    onnxruntime.InferenceSession(f"{folder}/{name}.onnx")
    for name in ("encoder", "prediction", "joint")
)
feats = extract(load_audio(wav, sample_rate=config.sample_rate), config)  # (T, F)
x = ((feats - cmvn["mean"]) / cmvn["std"]).astype(np.float32)[None]  # (1, T, F)
(enc,) = encoder.run(["enc"], {"features": x, "lengths": np.array([len(feats)], np.int32)})


def predict(label, h, c):  # one step of the prediction network: g (1, H_p), the new h and c
    inputs = {"label": np.array([label], np.int32), "h": h, "c": c}
    return prediction.run(["g", "h_next", "c_next"], inputs)


zeros = np.zeros((1, prediction.get_inputs()[1].shape[1]), np.float32)  # (1, H_p)
g, h, c = predict(0, zeros, zeros)  # label 0 (the blank's index) is the start symbol
labels = []
for enc_t in enc[0]:  # (H_e,) one frame
    for _ in range(MAX_SYMBOLS_PER_FRAME):
        (log_probs,) = joint.run(["log_probs"], {"enc": enc_t[None], "g": g})  # (1, V + 1)
        best = int(log_probs[0].argmax())
        if best == 0:  # the blank: on to the next frame
            break
        labels.append(best)
        g, h, c = predict(best, h, c)
print(" ".join(symbols[k] for k in labels))
