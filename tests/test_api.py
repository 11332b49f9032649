"""The Python API (``import lstmrec``): the same results as the command line, from files, arrays
and strokes in memory, without TensorFlow.

The models are the small bundles kept in ``tests/data/bundles-0.1`` (a speech and an ink model):
what they recognize is poor, but it is deterministic, which is all these tests compare.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import lstmrec
from lstmrec.cli.main import main
from lstmrec.features.errors import DataError
from lstmrec.features.inkfiles import read_ink_file, write_ink_json

REPO = Path(__file__).resolve().parents[1]
BUNDLES = REPO / "tests" / "data" / "bundles-0.1"
SPEECH, INK = BUNDLES / "speech", BUNDLES / "ink"
DEMO = REPO / "data" / "timit-demo"
WAV = DEMO / "TIMIT" / "TRAIN" / "DR2" / "FAEM0" / "SX312.WAV"
LINE = BUNDLES / "line.xml"


def cli_json(capsys, *args) -> dict:
    capsys.readouterr()
    assert main([str(a) for a in args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def speech():
    return lstmrec.load(SPEECH)


@pytest.fixture(scope="module")
def ink():
    return lstmrec.load(INK)


def test_transcribe_a_file_as_the_command_line_does(speech, capsys):
    result = speech.transcribe(WAV)
    assert result.to_dict() == cli_json(capsys, "transcribe", SPEECH, WAV, "--format", "json")
    assert result.text == " ".join(p["phone"] for p in result.to_dict()["phones"])
    assert speech.kind == "speech" and len(speech.symbols) == 39


def test_transcribe_an_array_as_its_file(speech, tmp_path):
    from_file = speech.transcribe(WAV).to_dict()
    pcm, rate = sf.read(WAV, dtype="int16")  # the TIMIT sample is 16 kHz int16 SPHERE
    for samples in (pcm, pcm.astype(np.float32) / 32768, np.column_stack([pcm, pcm])):
        got = speech.transcribe(samples, sample_rate=rate).to_dict()
        assert got["file"] == "<array>"
        assert {**got, "file": from_file["file"], "id": from_file["id"]} == from_file


def test_integer_samples_are_pcm_of_their_type_or_refused(speech):
    """int32 PCM is int16 PCM times 65536; 8-bit unsigned PCM has its silence at 128; int64
    (what ``np.array`` of Python ints gives) is no PCM type: refused, not read as silence."""
    from lstmrec.featurize import mono_samples

    pcm, rate = sf.read(WAV, dtype="int16")
    want = speech.transcribe(pcm, sample_rate=rate).to_dict()
    assert speech.transcribe(pcm.astype(np.int32) << 16, sample_rate=rate).to_dict() == want
    eight = mono_samples(np.array([0, 64, 128, 255], np.uint8), "x")
    assert eight.tolist() == [-1.0, -0.5, 0.0, 127 / 128]
    for kind in (np.int64, np.uint16):
        with pytest.raises(
            DataError, match=f"<array>: samples of type {np.dtype(kind)} are no PCM"
        ):
            speech.transcribe(pcm.astype(kind), sample_rate=rate)


def test_transcribe_an_array_at_another_rate_resamples_it(speech, tmp_path):
    pcm, rate = sf.read(WAV, dtype="float32")
    path = tmp_path / "8k.wav"
    sf.write(path, pcm[::2], rate // 2)  # 8 kHz: the loader resamples the file to 16 kHz
    from_file = speech.transcribe(path).to_dict()
    got = speech.transcribe(sf.read(path, dtype="float32")[0], sample_rate=rate // 2).to_dict()
    assert {**got, "file": from_file["file"], "id": from_file["id"]} == from_file


def test_recognize_a_file_and_its_strokes(ink, capsys):
    result = ink.recognize(LINE)
    (cli,) = [json.loads(line) for line in _lines(capsys, "recognize", INK, LINE)]
    assert result.to_dict() == cli and ink.kind == "ink"
    strokes = read_ink_file(LINE)[0].strokes
    for given in (strokes, [s.tolist() for s in strokes], [s[:, :2] for s in strokes]):
        got = ink.recognize(given).to_dict()
        assert {**got, "file": cli["file"], "id": cli["id"]} == cli


def _lines(capsys, *args) -> list[str]:
    capsys.readouterr()
    assert main([str(a) for a in args] + ["--format", "json"]) == 0
    return capsys.readouterr().out.splitlines()


def test_recognize_all_gives_every_sample_of_a_file(ink, tmp_path):
    sample = read_ink_file(LINE)[0]
    many = tmp_path / "two.ndjson"
    write_ink_json(many, [sample, dataclasses.replace(sample, id=sample.id + "-again")])
    found = ink.recognize_all(many)
    assert len(found) == 2 and found[0].text == found[1].text == ink.recognize(LINE).text
    with pytest.raises(DataError, match="holds 2 samples; use recognize_all"):
        ink.recognize(many)


@pytest.mark.parametrize(
    "bad, reason",
    [
        ([[[5, 5, 0]]], "ink has a single point"),
        ([[[0, 0, 0], [float("nan"), 1, 0.1]]], "stroke 0: coordinates are NaN"),
        ([[[5, 5, 0], [5, 5, 0.01]]], "ink has a single point"),  # read, but no features
    ],
)
def test_a_bad_sample_is_named_and_left_out_and_the_others_recognized(
    ink, tmp_path, capsys, bad, reason
):
    good = [s.tolist() for s in read_ink_file(LINE)[0].strokes]
    path = tmp_path / "three.ndjson"
    path.write_text("".join(json.dumps({"strokes": s}) + "\n" for s in (good, bad, good)))
    with pytest.raises(DataError, match=f"three.ndjson: sample three-2: {reason}"):
        ink.recognize_all(path)
    skipped: list[DataError] = []
    found = ink.recognize_all(path, on_error=skipped.append)
    assert [r.id for r in found] == ["three.ndjson#three-1", "three.ndjson#three-3"]
    assert found[0].text == found[1].text == ink.recognize(LINE).text
    assert [e.reason.split(":")[0] for e in skipped] == ["sample three-2"]
    capsys.readouterr()
    assert main(["recognize", "--model", str(INK), str(path)]) == 2
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == [r.id for r in found]
    # One file given: no batch of files, so its bad sample is its one line (no count after).
    (line,) = err.strip().splitlines()
    assert line.startswith(f"lstmrec: {path}: sample three-2: {reason}")
    assert main(["recognize", "--model", str(INK), str(path), str(LINE)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"lstmrec: skipping {path}: sample three-2: {reason}")
    assert err[1:] == ["lstmrec: 1 input failed (named above)"]


def test_strict_prints_the_files_before_the_bad_one_then_stops(ink, tmp_path, capsys):
    for name in ("a.xml", "b.xml", "c.xml", "e.xml"):
        (tmp_path / name).write_bytes(LINE.read_bytes())
    (tmp_path / "d.xml").write_text("")  # empty: refused, in the same chunk as a, b and c
    capsys.readouterr()
    assert main(["recognize", "--model", str(INK), str(tmp_path), "--strict"]) == 2
    out, err = capsys.readouterr()
    text = ink.recognize(LINE).text
    assert out.splitlines() == [f"{name} {text}".rstrip() for name in ("a.xml", "b.xml", "c.xml")]
    assert err.strip() == f"lstmrec: {tmp_path / 'd.xml'}: empty file"


def test_evaluate_gives_the_command_lines_report(speech, capsys):
    args = ("--data", DEMO, "--split", "core-test", "--test-speakers", DEMO / "test_spk.list")
    cli = cli_json(capsys, "evaluate", SPEECH, *args, "--format", "json")
    got = speech.evaluate(DEMO, "core-test", test_speakers=DEMO / "test_spk.list")
    assert cli.pop("split_speakers") == ["faem0", "madc0"] and cli.pop("speaker_lists_from")
    assert got == {**cli, "model": str(SPEECH)}
    assert got["error_rate"] == cli["error_rate"] and got["split"] == "core-test"


@pytest.mark.parametrize(
    "call, reason",
    [
        (lambda s, i: s.transcribe(np.zeros(16000)), "an array needs its sample_rate"),
        (lambda s, i: s.transcribe(np.zeros(16000), 16000.5), "16000.5 is not a whole number"),
        (lambda s, i: s.transcribe(np.zeros(16000), 0.5), "0.5 is not a whole number of Hz"),
        (lambda s, i: s.transcribe(np.zeros(16000), np.nan), "nan is not a whole number"),
        (lambda s, i: s.transcribe(np.zeros(16000), True), "sample rate True is not a number"),
        (lambda s, i: s.transcribe(np.zeros(16000), "16000"), "rate '16000' is not a number"),
        (lambda s, i: s.transcribe(np.zeros((2, 2, 2)), 16000), "not \\(N,\\) or \\(N, channels"),
        (lambda s, i: s.transcribe(np.full(16000, np.nan), 16000), "NaN or infinite"),
        (lambda s, i: s.transcribe(np.zeros(10), 16000), "too short for one"),
        (lambda s, i: s.recognize([[(0, 0), (1, 1)]]), "not a handwriting model"),
        (lambda s, i: i.transcribe(WAV), "not a speech model; use recognize"),
        (lambda s, i: i.recognize([[(0, 0, 0, 0)]]), r"stroke 0: points must be \[x, y\] or"),
        (lambda s, i: i.recognize([["a", "b"]]), "stroke 0: points are not lists of numbers"),
        (lambda s, i: i.recognize([[(True, False), (6, 5)]]), "stroke 0: point 0: true is not"),
        (lambda s, i: i.recognize([np.ones((3, 2), bool)]), "stroke 0: point 0: true is not"),
        (lambda s, i: i.recognize([[(1, 2), (5, "6")]]), 'stroke 0: point 1: "6" is not a number'),
        (lambda s, i: i.recognize([]), "no strokes"),
        (lambda s, i: i.recognize(None), "<array>: strokes must be a list of strokes, not None$"),
        (lambda s, i: i.recognize(7), "strokes must be a list of strokes, not int"),
        (lambda s, i: s.transcribe(REPO / "no-such.wav"), "no-such.wav"),
    ],
)
def test_bad_input_raises_one_data_error(speech, ink, call, reason):
    with pytest.raises(DataError, match=reason):
        call(speech, ink)


def test_the_api_never_imports_tensorflow():
    code = (
        "import sys, lstmrec\n"
        f"m = lstmrec.load({str(SPEECH)!r})\n"
        f"print(m.transcribe({str(WAV)!r}).text != '', file=sys.stderr)\n"
        f"print(lstmrec.load({str(INK)!r}).recognize({str(LINE)!r}).text is not None)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'torch',"
        " 'jax', 'tensorflow_datasets', 'apache_beam', 'matplotlib'}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert proc.stdout.splitlines() == ["True", "[]"]


def test_the_keras_engine_on_a_backend_that_cannot_be_imported_says_so():
    """Not 'cannot load model': the bundle is fine, the backend is what is missing."""
    code = (
        "import lstmrec\n"
        "from lstmrec.features.errors import DataError\n"
        "try:\n"
        f"    lstmrec.load({str(SPEECH)!r}, engine='keras')\n"
        "except DataError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "bogus"},
    )
    assert proc.stdout.startswith("KERAS_BACKEND=bogus: no such Keras backend;"), proc


def test_the_readme_example_runs():
    """The README's Python example, with the demo model swapped for the small test bundle."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (example,) = [b.split("```")[0] for b in readme.split("```python\n")[1:]]
    assert 'lstmrec.load("runs/demo/model")' in example
    code = example.replace("runs/demo/model", str(SPEECH))
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == lstmrec.load(SPEECH).transcribe(WAV).text


def test_an_empty_split_names_the_models_held_out_speakers_as_the_command_line_does(
    tmp_path, capsys
):
    """A corpus that is not the model's training set (here: the recipe names the demo's test
    list, the bundle records another training split) has no core-test of its own: the error
    says which keyword gives the model's held-out speakers, as the command line names the flag."""
    import shutil

    bundle = tmp_path / "model"
    shutil.copytree(SPEECH, bundle)
    summary = json.loads((bundle / "summary.json").read_text())
    summary.setdefault("recipe", {}).setdefault("data", {})["test_speakers"] = str(
        DEMO / "test_spk.list"
    )
    (bundle / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DataError) as err:
        lstmrec.load(bundle).evaluate(DEMO, "core-test")
    lists = f"test_speakers={str(DEMO / 'test_spk.list')!r}"
    assert str(err.value) == (
        f"{DEMO}: split 'core-test' has no utterances (the model's held-out speakers: {lists})"
    )
    assert main(["evaluate", str(bundle), "--data", str(DEMO)]) == 2
    assert f"(the model's held-out speakers: --test-speakers {DEMO / 'test_spk.list'})" in (
        capsys.readouterr().err
    )


def test_one_lexicon_is_given_as_a_string_or_a_path(speech, tmp_path):
    """``lexicon="lexicon.txt"`` is one source, not the sources ``"l"``, ``"e"``, ..."""
    wav = tmp_path / "a.wav"
    wav.write_bytes(WAV.read_bytes())
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("don't D OW1 N T\nask AE1 S K\n")
    manifest = tmp_path / "m.jsonl"
    row = {"id": "a", "audio": str(wav), "speaker": "s", "text": "Don't ask", "split": "test"}
    manifest.write_text(json.dumps(row) + "\n")
    listed = speech.evaluate(manifest, lexicon=[str(lexicon)])
    assert listed["reference_length"] == 7  # d ow n t ae s k
    assert speech.evaluate(manifest, lexicon=str(lexicon)) == listed
    assert speech.evaluate(manifest, lexicon=lexicon) == listed
