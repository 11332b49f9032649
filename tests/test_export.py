"""``lstmrec export``: each artifact, run by its own runtime (TensorFlow's SavedModel loader,
ONNX Runtime, the LiteRT interpreter), gives the NumPy engine's logits on real utterances of
different lengths, for the session's tiny speech model (TIMIT sample audio) and ink model
(synthetic IAM-OnDB lines); the files beside it are the bundle's; bad requests are one line."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, SHARED_DATA, one_line, run

from lstmrec.bundle import load_bundle
from lstmrec.features.audio import apply_cmvn
from lstmrec.featurize import checked_features
from lstmrec.inference.decoder import predict_logits
from lstmrec.inference.exported import FORMATS, load_exported

TOLERANCE = 1e-4  # largest |logit difference| from the NumPy engine (float32 arithmetic)
# Three TIMIT sample sentences of a speaker the tiny model never heard, of different lengths.
TIMIT_WAVS = [
    SHARED_DATA / "timit-sample" / "TIMIT" / "TRAIN" / "DR3" / "MADC0" / f"{name}.WAV"
    for name in ("SX197", "SI1997", "SX17")
]
_exports: dict[tuple[Path, str], Path] = {}


def export(tmp_path_factory, capsys, bundle: Path, fmt: str) -> Path:
    """``lstmrec export bundle --format fmt`` once per session; its folder."""
    key = (bundle, fmt)
    if key not in _exports:
        out = tmp_path_factory.mktemp("export") / fmt
        rc, stdout, err = run(capsys, "export", bundle, "--format", fmt, "--out", out)
        assert rc == 0, err
        assert f"{fmt}: {out}" in stdout
        _exports[key] = out
    return _exports[key]


def runtime_logits(folder: Path, fmt: str, feats: list[np.ndarray]) -> list[np.ndarray]:
    """Each utterance's ``(T_i, V + 1)`` logits from the artifact, called through its runtime's
    own API: all utterances padded into one batch, except for LiteRT (one per call)."""
    lengths = np.array([len(f) for f in feats], dtype=np.int32)
    x = np.zeros((len(feats), lengths.max(), feats[0].shape[1]), np.float32)  # (B, T, F)
    for row, f in enumerate(feats):
        x[row, : len(f)] = f
    if fmt == "savedmodel":
        import tensorflow as tf

        serve = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]
        out = serve(features=tf.constant(x), lengths=tf.constant(lengths))["output_0"].numpy()
    elif fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
        (out,) = session.run(["logits"], {"features": x, "lengths": lengths})
    else:
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_path=str(folder / "model.tflite")).get_signature_runner()
        return [runner(features=f[None], lengths=np.array([len(f)], np.int32))["output_0"][0]
                for f in feats]  # fmt: skip
    return [out[row, :n] for row, n in enumerate(lengths)]


def engine_logits(bundle: Path, feats: list[np.ndarray]) -> list[np.ndarray]:
    """The NumPy engine's logits, one utterance at a time."""
    model = load_bundle(bundle, engine="numpy").model
    return [model.predict_on_batch([f[None], np.array([len(f)])])[0] for f in feats]


def normalised(bundle: Path, files) -> list[np.ndarray]:
    b = load_bundle(bundle, engine="numpy")
    return [apply_cmvn(checked_features(str(f), b.features), b.mean, b.std) for f in files]


def assert_same_logits(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    assert len({len(w) for w in want}) == len(want)  # every utterance a different length
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        assert np.abs(g - w).max() < TOLERANCE
    # Not trivially equal: the utterances' logits differ from one another.
    assert np.abs(want[0][:5] - want[1][:5]).max() > 100 * TOLERANCE


@pytest.mark.shared_data("timit-sample/TIMIT/TRAIN")
@pytest.mark.parametrize("fmt", FORMATS)
def test_speech_artifact_gives_the_numpy_engines_logits(
    fmt, speech_model, tmp_path_factory, capsys
):
    bundle = speech_model["bundle"]
    folder = export(tmp_path_factory, capsys, bundle, fmt)
    feats = normalised(bundle, TIMIT_WAVS)
    assert_same_logits(runtime_logits(folder, fmt, feats), engine_logits(bundle, feats))
    # The library's runner, through the padded batches of predict_logits, agrees too.
    via_wrapper = predict_logits(load_exported(folder), feats)
    assert_same_logits(via_wrapper, engine_logits(bundle, feats))


@pytest.mark.parametrize("fmt", FORMATS)
def test_ink_artifact_gives_the_numpy_engines_logits(fmt, ink_run, tmp_path_factory, capsys):
    corpus, bundle = ink_run
    folder = export(tmp_path_factory, capsys, bundle, fmt)
    lines = sorted((corpus / "lineStrokes").rglob("*.xml"))
    feats = normalised(bundle, lines)
    by_length = {len(f): f for f in feats}  # three lines of different lengths
    feats = [by_length[n] for n in sorted(by_length)[:3]]
    assert_same_logits(runtime_logits(folder, fmt, feats), engine_logits(bundle, feats))


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_bundles_files_lie_beside_the_artifact(fmt, speech_model, tmp_path_factory, capsys):
    bundle = speech_model["bundle"]
    folder = export(tmp_path_factory, capsys, bundle, fmt)
    for name in ("features.json", "cmvn.npz", "symbols.txt"):
        assert (folder / name).read_bytes() == (bundle / name).read_bytes()
    meta = json.loads((folder / "export.json").read_text())
    symbols = (bundle / "symbols.txt").read_text().splitlines()
    assert meta["output"]["shape"][-1] == len(symbols)
    # The file's description counts its lines from 1 and its classes from 0 (the blank).
    assert symbols[0] == "<blank>" and meta["symbols"] == (
        "symbols.txt (line n holds class n - 1; line 1, class 0, is the blank)"
    )
    assert meta["inputs"][0]["shape"][-1] == load_bundle(bundle, engine="numpy").features.dim
    assert meta["inputs"][0]["shape"][0] == (1 if fmt == "litert" else "batch")
    assert meta["check"]["max_abs_diff"] < TOLERANCE
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporaries


@pytest.mark.shared_data("timit-sample/TIMIT/TRAIN")
def test_the_onnx_program_of_the_docs_transcribes_like_transcribe(tmp_path, capsys):
    """scripts/transcribe_onnx.py (shown in docs/export.md) on the shipped model's ONNX export
    prints the phones of ``lstmrec transcribe --beam 1``."""
    out = tmp_path / "onnx"
    rc, _, err = run(capsys, "export", "en-phones", "--format", "onnx", "--out", out)
    assert rc == 0, err
    wav = TIMIT_WAVS[0]
    rc, stdout, err = run(capsys, "transcribe", "--model", "en-phones", "--beam", "1", wav)
    assert rc == 0, err
    phones = stdout.split()[1:]
    assert len(phones) > 10
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "transcribe_onnx.py"), str(out), str(wav)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    assert done.stdout.split() == phones
    docs = (REPO / "docs" / "export.md").read_text()
    program = (REPO / "scripts" / "transcribe_onnx.py").read_text()
    assert program.split('"""', 2)[2].strip() in docs  # the page shows the program as it is


def test_an_existing_folder_is_never_overwritten(speech_model, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    rc, _, err = run(capsys, "export", speech_model["bundle"], "--format", "onnx", "--out", out)
    assert rc == 2
    assert "--out exists" in one_line(err) and str(out) in err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert (out / "mine.txt").read_text() == "keep"
    file = tmp_path / "file"
    file.write_text("x")
    rc, _, err = run(capsys, "export", speech_model["bundle"], "--format", "onnx", "--out", file)
    assert rc == 2 and "--out exists" in one_line(err)
    assert file.read_text() == "x"
    under = file / "export"
    rc, out, err = run(capsys, "export", speech_model["bundle"], "--format", "onnx", "--out", under)
    assert rc == 2 and out == ""  # refused before the model is loaded
    assert one_line(err) == f"lstmrec: {file}: is a file, so --out {under} cannot be made inside it"
    assert file.read_text() == "x"


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
def test_a_damaged_or_missing_artifact_is_one_line(fmt, speech_model, tmp_path_factory, capsys):
    import shutil

    from lstmrec.features.errors import DataError

    folder = tmp_path_factory.mktemp("damaged") / fmt
    shutil.copytree(export(tmp_path_factory, capsys, speech_model["bundle"], fmt), folder)
    artifact = folder / json.loads((folder / "export.json").read_text())["artifact"]
    artifact.write_bytes(artifact.read_bytes()[:1000])  # cut short, as by a full disk
    with pytest.raises(DataError, match=f"cannot load the {fmt} artifact") as caught:
        load_exported(folder)
    assert caught.value.path == str(artifact)
    artifact.unlink()
    with pytest.raises(DataError, match="artifact named in export.json is missing"):
        load_exported(folder)


def test_an_interrupted_export_leaves_nothing_and_says_so(
    speech_model, tmp_path, capsys, monkeypatch
):
    import lstmrec.inference.export as export_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export_module, "_write_artifact", interrupted)
    out = tmp_path / "out"
    rc, _, err = run(capsys, "export", speech_model["bundle"], "--format", "onnx", "--out", out)
    assert rc == 130
    assert one_line(err) == "lstmrec: interrupted"  # no word of training or --resume
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary one


def test_an_unknown_format_is_one_line(speech_model, tmp_path, capsys):
    rc, _, err = run(capsys, "export", speech_model["bundle"], "--format", "tflite",
                     "--out", tmp_path / "out")  # fmt: skip
    assert rc == 2
    assert "unknown export format 'tflite'" in one_line(err)
    assert "savedmodel, onnx, litert" in err
    assert not (tmp_path / "out").exists()


def test_a_missing_runtime_names_the_extra(speech_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # as if not installed
    rc, _, err = run(capsys, "export", speech_model["bundle"], "--format", "litert",
                     "--out", tmp_path / "out")  # fmt: skip
    assert rc == 2
    line = one_line(err)
    assert "ai-edge-litert" in line and "lstmrec[export]" in line
    assert not (tmp_path / "out").exists()


def test_a_missing_bundle_is_one_line(tmp_path, capsys):
    rc, _, err = run(capsys, "export", tmp_path / "nothing", "--format", "onnx",
                     "--out", tmp_path / "out")  # fmt: skip
    assert rc == 2
    assert "nothing" in one_line(err)
