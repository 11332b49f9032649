"""``lstmrec export`` of an RNN transducer bundle: per format, three artifacts (encoder, one step
of the prediction network, joint network), each run by its own runtime on TIMIT sample features
of two lengths, give the NumPy engine's encoder outputs, prediction states and joint
log-probabilities along its greedy path; greedy decoding through them (``load_exported`` and
the decoder ``lstmrec transcribe`` uses, or the ONNX program of docs/export.md) gives exactly
the labels of ``lstmrec transcribe --beam 0``."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, SHARED_DATA, load_script, run, train_args

from lstmrec.bundle import load_bundle
from lstmrec.cli.main import main
from lstmrec.features.audio import apply_cmvn
from lstmrec.featurize import checked_features
from lstmrec.inference.decoder import (
    TRANSDUCER_SYMBOLS_PER_FRAME,
    Decoder,
    DecoderOptions,
    decode_features,
)
from lstmrec.inference.exported import FORMATS, load_exported
from lstmrec.models.numpy_transducer import path_log_probs
from lstmrec.models.transducer_decoding import greedy_transducer

TOLERANCE = 1e-4  # largest |difference| from the NumPy engine (float32 arithmetic)
# Two TIMIT sample sentences of a speaker the tiny model never heard: 253 and 194 frames.
TIMIT_WAVS = [
    SHARED_DATA / "timit-sample" / "TIMIT" / "TRAIN" / "DR3" / "MADC0" / f"{name}.WAV"
    for name in ("SX197", "SX17")
]
# One epoch from the session's tiny CTC model: the cheapest transducer that emits varied labels.
TRANSDUCER = (
    "--set", 'model.kind="transducer"', "--set", "model.pred_units=12",
    "--set", "model.joint_units=10", "--set", "training.prediction_pretrain_epochs=0",
    "--set", "training.label_pad_multiple=8",
)  # fmt: skip
pytestmark = pytest.mark.shared_data("timit-sample/TIMIT/TRAIN")


def _main(*args) -> str:
    """``main(args)`` in this process, in a module fixture (no capsys): what it printed."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main([str(a) for a in args])
    assert rc == 0
    return stdout.getvalue()


@pytest.fixture(scope="module")
def rnnt(tmp_path_factory, speech_corpus, speech_model):
    """A tiny transducer bundle, trained one epoch from the session's tiny CTC model."""
    assert speech_model["rc"] == 0
    out = tmp_path_factory.mktemp("rnnt") / "run"
    init = ("--init-from", speech_model["bundle"])
    _main(*train_args(speech_corpus["root"], out, *TRANSDUCER, *init,
                      test_list=speech_corpus["test_list"], epochs=1))  # fmt: skip
    return out / "model"


@pytest.fixture(scope="module")
def transcribed(rnnt) -> list[list[str]]:
    """The labels ``lstmrec transcribe --beam 0`` prints for each of :data:`TIMIT_WAVS`."""
    stdout = _main("transcribe", "--model", rnnt, "--beam", "0", *TIMIT_WAVS)
    labels = [line.split()[1:] for line in stdout.splitlines()]
    assert len(labels) == len(TIMIT_WAVS)
    for got in labels:  # the tiny model emits labels, and not one label only
        assert len(got) > 20 and len(set(got)) > 2
    return labels


_exports: dict[str, Path] = {}


def export(tmp_path_factory, capsys, bundle: Path, fmt: str) -> Path:
    """``lstmrec export bundle --format fmt`` once per module; its folder."""
    if fmt not in _exports:
        out = tmp_path_factory.mktemp("export") / fmt
        rc, stdout, err = run(capsys, "export", bundle, "--format", fmt, "--out", out)
        assert rc == 0, err
        assert f"{fmt}: {out} holds the transducer's encoder, prediction and joint" in stdout
        _exports[fmt] = out
    return _exports[fmt]


def runtime(folder: Path, fmt: str, network: str):
    """One network's artifact as ``call(**inputs) -> {output name: array}``, through its
    runtime's own API."""
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(folder / network))
        serve = loaded.signatures["serving_default"]

        def call(**inputs):
            out = serve(**{name: tf.constant(value) for name, value in inputs.items()})
            return {name: value.numpy() for name, value in out.items()}

        call.loaded = loaded  # the signature needs its variables alive
        return call
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(folder / f"{network}.onnx"))
        names = [output.name for output in session.get_outputs()]
        return lambda **inputs: dict(zip(names, session.run(names, inputs), strict=True))
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(folder / f"{network}.tflite")).get_signature_runner()


def normalised(bundle) -> list[np.ndarray]:
    return [apply_cmvn(checked_features(str(f), bundle.features), bundle.mean, bundle.std)
            for f in TIMIT_WAVS]  # fmt: skip


def runtime_encodings(call, fmt: str, feats: list[np.ndarray]) -> list[np.ndarray]:
    """Each utterance's ``(T_i, H_e)`` encoder outputs: padded into one batch, except for
    LiteRT (one per call)."""
    if fmt == "litert":
        return [call(features=f[None], lengths=np.array([len(f)], np.int32))["enc"][0]
                for f in feats]  # fmt: skip
    lengths = np.array([len(f) for f in feats], dtype=np.int32)
    x = np.zeros((len(feats), lengths.max(), feats[0].shape[1]), np.float32)  # (B, T, F)
    for row, f in enumerate(feats):
        x[row, : len(f)] = f
    enc = call(features=x, lengths=lengths)["enc"]  # (B, T, H_e)
    return [enc[row, :n] for row, n in enumerate(lengths)]


def close(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    diff = float(np.abs(got - want).max())
    assert diff < TOLERANCE
    return diff


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_artifact_gives_the_numpy_engines_values(fmt, rnnt, tmp_path_factory, capsys):
    folder = export(tmp_path_factory, capsys, rnnt, fmt)
    b = load_bundle(rnnt, engine="numpy")
    feats = normalised(b)
    assert len(feats[0]) != len(feats[1])
    # Encoder: the NumPy engine's BLSTM stack, before the joint's projection.
    got = runtime_encodings(runtime(folder, fmt, "encoder"), fmt, feats)
    want = [b.model.encoder.predict_on_batch([f[None], np.array([len(f)])])[0] for f in feats]
    for g, w in zip(got, want, strict=True):
        close(g, w)
    assert np.abs(want[0][:5] - want[1][:5]).max() > 100 * TOLERANCE  # not trivially equal
    # The NumPy engine's greedy path of each utterance: its labels and their frames.
    projected = [b.model.predict_on_batch([f[None], np.array([len(f)])])[0] for f in feats]
    cap = TRANSDUCER_SYMBOLS_PER_FRAME
    paths = [greedy_transducer(a, b.model.step, max_symbols_per_frame=cap) for a in projected]
    # Prediction: both paths' labels in one batch of 2 rows, state fed back, against the NumPy
    # LSTM (the shorter path is padded with label 0; those steps are not compared).
    predict, lstm = runtime(folder, fmt, "prediction"), b.model.step.predict.lstm
    steps = max(len(p.labels) for p in paths) + 1
    fed = np.zeros((len(paths), steps), np.int32)  # (2, steps): 0 first, the start symbol
    for row, path in enumerate(paths):
        fed[row, 1 : len(path.labels) + 1] = path.labels
    h = c = np.zeros((2, lstm.units), np.float32)
    states = [lstm.initial_state() for _ in paths]
    gs = [[] for _ in paths]  # per path: g after each prefix of its labels
    for s in range(steps):
        out = predict(label=fed[:, s], h=h, c=c)
        h, c = out["h_next"], out["c_next"]
        for row, path in enumerate(paths):
            if s <= len(path.labels):
                g, states[row] = lstm(states[row], int(fed[row, s]))
                close(out["g"][row], g)
                close(h[row], states[row][0])
                close(c[row], states[row][1])
                gs[row].append(out["g"][row])
    # Joint: each frame against the g of the labels emitted up to it, all frames in one batch,
    # against the NumPy engine's log-probabilities along the path.
    joint = runtime(folder, fmt, "joint")
    for enc, a, path, g_of in zip(got, projected, paths, gs, strict=True):
        done = np.searchsorted(path.frames, np.arange(len(enc)), side="right")  # (T,)
        g = np.stack([g_of[u] for u in done]).astype(np.float32)  # (T, H_p)
        log_probs = joint(enc=np.asarray(enc, np.float32), g=g)["log_probs"]  # (T, V + 1)
        close(log_probs, path_log_probs(a, b.model.step, path.labels, path.frames))


@pytest.mark.parametrize("fmt", FORMATS)
def test_greedy_decoding_through_the_artifacts_is_transcribes(
    fmt, rnnt, transcribed, tmp_path_factory, capsys
):
    """``load_exported`` gives the transducer decoder of ``lstmrec transcribe`` what it needs:
    greedy decoding through the three runtimes prints the same labels."""
    folder = export(tmp_path_factory, capsys, rnnt, fmt)
    b = load_bundle(rnnt, engine="numpy")
    exported = load_exported(folder)
    assert exported.kind == "transducer" and exported.output_shape[-1] == len(b.symbols)
    decoder = Decoder(DecoderOptions(beam=0), b.symbols.to_list(), transducer=exported.step)
    raw = [checked_features(str(f), b.features) for f in TIMIT_WAVS]
    decoded = decode_features(exported, raw, b.mean, b.std, decoder)
    symbols = b.symbols.to_list()
    assert [[symbols[t.symbol] for t in d.tokens] for d in decoded] == transcribed


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_json_describes_the_three_artifacts(fmt, rnnt, tmp_path_factory, capsys):
    folder = export(tmp_path_factory, capsys, rnnt, fmt)
    for name in ("features.json", "cmvn.npz", "symbols.txt"):
        assert (folder / name).read_bytes() == (rnnt / name).read_bytes()
    meta = json.loads((folder / "export.json").read_text())
    b = load_bundle(rnnt, engine="numpy")
    units = b.model.step.predict.lstm.units
    nets = meta["artifacts"]
    assert meta["kind"] == "transducer" and meta["blank"] == 0
    assert list(nets) == ["encoder", "prediction", "joint"]
    suffix = {"savedmodel": "", "onnx": ".onnx", "litert": ".tflite"}[fmt]
    for name, net in nets.items():
        assert net["file"] == name + suffix and (folder / net["file"]).exists()
    batch = 1 if fmt == "litert" else "batch"
    assert nets["encoder"]["inputs"][0]["shape"] == [batch, "time", b.features.dim]
    assert [t["name"] for t in nets["prediction"]["inputs"]] == ["label", "h", "c"]
    assert [t["name"] for t in nets["prediction"]["outputs"]] == ["g", "h_next", "c_next"]
    assert nets["prediction"]["outputs"][0]["shape"] == ["batch", units]
    enc_dim = nets["encoder"]["outputs"][0]["shape"][-1]
    assert nets["joint"]["inputs"][0]["shape"] == ["batch", enc_dim]
    assert nets["joint"]["outputs"][0]["shape"] == ["batch", len(b.symbols)]
    assert meta["greedy"]["max_symbols_per_frame"] == TRANSDUCER_SYMBOLS_PER_FRAME
    for name in ("encoder", "prediction", "joint"):
        assert meta["check"][name]["max_abs_diff"] < TOLERANCE
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporaries


def test_the_transducer_onnx_program_of_the_docs_transcribes_like_transcribe(
    rnnt, transcribed, tmp_path_factory, capsys
):
    """scripts/transcribe_transducer_onnx.py (shown in docs/export.md) prints the labels of
    ``lstmrec transcribe --beam 0``, with the same cap of labels per frame."""
    folder = export(tmp_path_factory, capsys, rnnt, "onnx")
    script = REPO / "scripts" / "transcribe_transducer_onnx.py"
    done = subprocess.run(
        [sys.executable, str(script), str(folder), str(TIMIT_WAVS[0])],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    assert done.stdout.split() == transcribed[0]
    program = script.read_text()
    assert f"MAX_SYMBOLS_PER_FRAME = {TRANSDUCER_SYMBOLS_PER_FRAME} " in program
    docs = (REPO / "docs" / "export.md").read_text()
    assert program.split('"""', 2)[2].strip() in docs  # the page shows the program as it is


def test_bench_export_compares_a_transducers_encoder(rnnt, capsys):
    """scripts/bench_export.py compared the NumPy model's projected encoder outputs with the
    export's encoder outputs, of another width, and ended in a traceback."""
    wav = REPO / "data" / "timit-demo" / "TIMIT" / "TRAIN" / "DR3" / "MADC0" / "SX197.WAV"
    main = load_script("bench_export").main
    assert main([str(rnnt), str(wav), "--formats", "onnx", "--repeats", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["network"] == "encoder" and result["files"] == 1
    assert result["artifacts"]["onnx"]["max_abs_diff_vs_numpy"] < TOLERANCE
    assert result["artifacts"]["onnx"]["frames_per_s"] > 0
