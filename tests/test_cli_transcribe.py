"""``lstmrec transcribe`` end to end, on the held-out sentence of the session's tiny speech model
(``speech_model`` in conftest.py) in several containers and shapes: good files give phones with
times; bad files and damaged bundles give one line on stderr naming the file and the reason,
exit status 2 and never a traceback; a batch skips bad files and finishes the rest (``--strict``
stops at the first).
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
from helpers import TEST_FILE, one_line, run, run_subprocess

from lstmrec.phones import PHONES39
from lstmrec.scoring.ids import file_ids
from lstmrec.shipped import resolve_model


@pytest.fixture(scope="session")
def audio(tmp_path_factory, speech_corpus):
    """The held-out sentence in several containers and shapes, plus bad and edge-case files."""
    d = tmp_path_factory.mktemp("audio")
    sphere = speech_corpus["test_dir"] / f"{TEST_FILE}.WAV"
    pcm, sr = sf.read(sphere, dtype="int16")  # (N,) at 16 kHz
    assert sr == 16000
    sf.write(d / "riff.wav", pcm, sr, subtype="PCM_16")
    sf.write(d / "sentence.flac", pcm, sr)
    x = pcm.astype(np.float32) / 32768
    x44 = scipy.signal.resample_poly(x, 441, 160)  # 16 kHz -> 44.1 kHz
    sf.write(d / "stereo44k.wav", np.stack([x44, 0.5 * x44], axis=1), 44100, subtype="FLOAT")
    sf.write(d / "silence.wav", np.zeros(2 * sr, np.int16), sr)
    sf.write(d / "empty.wav", np.zeros(0, np.int16), sr)
    sf.write(d / "short.wav", np.zeros(100, np.int16), sr)  # < one 400-sample window
    (d / "text.wav").write_text("this is not audio\n")
    folder = d / "folder"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(d / "riff.wav", folder / "b.wav")
    shutil.copy(d / "sentence.flac", folder / "sub" / "a.FLAC")
    (folder / "notes.txt").write_text("not audio, not picked up\n")
    return {
        "dir": d,
        "sphere": sphere,
        "riff": d / "riff.wav",
        "flac": d / "sentence.flac",
        "stereo": d / "stereo44k.wav",
        "silence": d / "silence.wav",
        "empty": d / "empty.wav",
        "short": d / "short.wav",
        "text": d / "text.wav",
        "missing": d / "missing.wav",
        "folder": folder,
        "seconds": len(pcm) / sr,
    }


# ---------------------------------------------------------------------------------------------
# transcribe


def transcribe_json(capsys, bundle, *inputs, extra=()) -> tuple[int, list[dict], str]:
    rc, out, err = run(capsys, "transcribe", bundle, *inputs, "--format", "json", *extra)
    return rc, [json.loads(line) for line in out.splitlines()], err


def test_transcribe_good_files_text(capsys, speech_model, audio):
    files = [audio[k] for k in ("sphere", "riff", "flac", "stereo", "silence")]
    rc, out, err = run(capsys, "transcribe", speech_model["bundle"], *files)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    ids = file_ids([str(f) for f in files])  # paths relative to the folder holding them all
    assert [line.split()[0] for line in lines] == [ids[str(f)] for f in files]
    assert not lines[1].startswith("/") and lines[1].split()[0].endswith("/riff.wav")
    symbols = set((speech_model["bundle"] / "symbols.txt").read_text().split()[1:])
    for line in lines:
        assert set(line.split()[1:]) <= symbols
    # The same samples in SPHERE, RIFF and FLAC give the same phones.
    phones = [line.split()[1:] for line in lines]
    assert phones[0] == phones[1] == phones[2]


def test_transcribe_json_times(capsys, speech_model, audio):
    files = [audio[k] for k in ("sphere", "riff", "flac", "stereo", "silence")]
    rc, results, err = transcribe_json(capsys, speech_model["bundle"], *files)
    assert rc == 0 and err == ""
    assert [r["file"] for r in results] == [str(f) for f in files]
    assert any(r["phones"] for r in results)  # so the checks below are not vacuous
    for r, f in zip(results, files, strict=True):
        assert set(r) == {"id", "file", "duration", "phones"}
        assert r["duration"] == pytest.approx(sf.info(str(f)).duration, abs=1e-3)
        prev_start, prev_end = 0.0, 0.0
        for p in r["phones"]:
            assert set(p) == {"phone", "start", "end"}
            assert 0 <= p["start"] <= p["end"] <= r["duration"]
            assert p["start"] >= prev_start and p["start"] >= prev_end - 1e-9  # no overlap
            prev_start, prev_end = p["start"], p["end"]
    for r in results[:4]:  # the sentence, resampled or not, is the sentence's length
        assert r["duration"] == pytest.approx(audio["seconds"], abs=1e-3)
    assert results[4]["duration"] == pytest.approx(2.0)


def test_transcribe_fold_39(capsys, speech_model, audio):
    rc, results, _ = transcribe_json(
        capsys, speech_model["bundle"], audio["sphere"], audio["stereo"], extra=("--fold", "39")
    )
    assert rc == 0
    phones = {p["phone"] for r in results for p in r["phones"]}
    assert phones and phones <= set(PHONES39)


def test_transcribe_folder(capsys, speech_model, audio):
    rc, out, err = run(capsys, "transcribe", speech_model["bundle"], audio["folder"])
    assert rc == 0 and err == ""
    assert [line.split()[0] for line in out.splitlines()] == ["b.wav", "sub/a.FLAC"]


def test_transcribe_folder_finds_mp3_and_opus(capsys, speech_model, audio, tmp_path):
    x, sr = sf.read(audio["riff"], dtype="float32")
    sf.write(tmp_path / "clip.mp3", x, sr)  # Common Voice's clips
    sf.write(tmp_path / "note.OPUS", x, sr, format="OGG", subtype="OPUS")
    rc, out, err = run(capsys, "transcribe", speech_model["bundle"], tmp_path)
    assert rc == 0 and err == ""
    assert [line.split()[0] for line in out.splitlines()] == ["clip.mp3", "note.OPUS"]


def test_transcribe_folder_without_audio(capsys, speech_model, tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here\n")
    rc, out, err = run(capsys, "transcribe", speech_model["bundle"], tmp_path)
    assert rc == 2 and out == ""
    assert str(tmp_path) in one_line(err)


def test_transcribe_without_inputs_says_what_to_give(capsys):
    rc, out, err = run(capsys, "transcribe", "--model", "en-phones")
    assert rc == 2 and out == ""
    assert one_line(err) == (
        "lstmrec: no input: give audio files or folders, - (standard input) or --data"
    )


@pytest.mark.parametrize(
    ("command", "model", "reason"),
    [
        ("transcribe", "en-ink", "not a speech model"),
        ("recognize", "en-phones", "not a handwriting model"),
    ],
)
def test_a_model_of_the_other_kind_is_named(capsys, tmp_path, command, model, reason):
    rc, out, err = run(capsys, command, "--model", model, tmp_path / "input")
    assert rc == 2 and out == ""
    assert one_line(err).startswith(f"lstmrec: {resolve_model(model)}: {reason}")


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--split", "dev"], "--split is for --data, which is not given"),
        (
            ["--keep-sa", "--test-speakers", "t.list"],
            "--keep-sa and --test-speakers are for --data",
        ),
        (["--chunk-ms", "20"], "--chunk-ms is for --stream and a file, which is not given"),
        (["--stream", "--no-realtime", "-"], "--no-realtime is for --stream and a file"),
    ],
)
def test_flags_whose_condition_is_not_met_are_refused(capsys, flags, reason):
    """Flags for --data, or for --stream of a file, would go unused without them."""
    rc, out, err = run(capsys, "transcribe", "--model", "en-phones", *flags)
    assert rc == 2 and out == "" and one_line(err).startswith(f"lstmrec: {reason}")


def test_transcribe_silence(capsys, speech_model, audio):
    rc, results, err = transcribe_json(capsys, speech_model["bundle"], audio["silence"])
    assert rc == 0 and err == "" and len(results) == 1


BAD_AUDIO = {
    "missing": "no such file",
    "text": "cannot read audio",
    "empty": "empty audio",
    "short": "too short",
}


def test_transcribe_skips_bad_files(capsys, speech_model, audio):
    files = [
        audio["riff"],
        audio["missing"],
        audio["text"],
        audio["flac"],
        audio["empty"],
        audio["short"],
        audio["sphere"],
    ]
    rc, results, err = transcribe_json(capsys, speech_model["bundle"], *files)
    assert rc == 2
    assert "Traceback" not in err
    assert [r["file"] for r in results] == [str(audio[k]) for k in ("riff", "flac", "sphere")]
    *skipped, summary = err.splitlines()
    # Each bad file is named once, as it is skipped; the last line counts them.
    assert len(skipped) == len(BAD_AUDIO), err
    for line, (key, reason) in zip(skipped, BAD_AUDIO.items(), strict=True):
        assert line.startswith(f"lstmrec: skipping {audio[key]}: ") and reason in line, err
    assert summary == f"lstmrec: {len(BAD_AUDIO)} inputs failed (named above)"


def test_transcribe_strict_stops_at_the_first_bad_file(capsys, speech_model, audio):
    rc, out, err = run(
        capsys,
        "transcribe",
        speech_model["bundle"],
        audio["riff"],
        audio["text"],
        audio["missing"],
        audio["flac"],
        "--strict",
    )
    assert rc == 2
    line = one_line(err)
    assert str(audio["text"]) in line and "cannot read audio" in line
    assert str(audio["flac"]) not in out


def test_transcribe_bad_file_end_to_end(speech_model, audio):
    proc = run_subprocess("transcribe", speech_model["bundle"], audio["missing"], audio["riff"])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(audio["missing"]) in proc.stderr and "no such file" in proc.stderr
    assert proc.stdout.split()[0] == "riff.wav"


def test_one_bad_input_is_one_line(capsys, speech_model, audio):
    for key, reason in BAD_AUDIO.items():
        rc, out, err = run(capsys, "transcribe", speech_model["bundle"], audio[key])
        line = one_line(err)
        assert (rc, out) == (2, "") and line.startswith(f"lstmrec: {audio[key]}: "), key
        assert reason in line
    missing = audio["dir"] / "missing.xml"
    rc, out, err = run(capsys, "recognize", missing)  # the shipped handwriting model
    assert (rc, out, one_line(err)) == (2, "", f"lstmrec: {missing}: file not found")


def stdin_bytes(monkeypatch, data: bytes) -> None:
    """Standard input holds ``data``, as ``lstmrec ... - < file`` gives it."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_recognize_reads_standard_input_as_the_file_reader_does(capsys, monkeypatch, tmp_path):
    """JSON ink on standard input is read as a .json file of the same bytes: a byte-order mark
    left out, bytes that are not UTF-8 refused in one line (not a traceback)."""
    from lstmrec.features.inkwriters import InkSample, write_ink_json

    line = tmp_path / "line.json"
    strokes = (np.array([[0, 0, 0], [10, 20, 0.05], [20, 0, 0.1]], float),)
    write_ink_json(line, [InkSample("a", strokes)])
    rc, want, err = run(capsys, "recognize", line)  # the shipped handwriting model
    assert rc == 0, err
    stdin_bytes(monkeypatch, b"\xef\xbb\xbf" + line.read_bytes())
    rc, out, err = run(capsys, "recognize", "-")
    assert (rc, err) == (0, "") and out.split()[1:] == want.split()[1:]
    stdin_bytes(monkeypatch, b"PK\x03\x04\xff\xfe not text")
    rc, out, err = run(capsys, "recognize", "-")
    assert (rc, out) == (2, "") and one_line(err) == "lstmrec: -: not UTF-8 text (byte 4)"


def test_standard_input_errors_name_it(capsys, speech_model, audio, monkeypatch):
    for key, line in (
        ("text", "-: not an audio file (Format not recognised.); give --rate for raw 16-bit PCM"),
        ("empty", "-: empty audio (0 samples)"),  # as a file's (a header but no samples)
    ):
        stdin_bytes(monkeypatch, audio[key].read_bytes())
        rc, out, err = run(capsys, "transcribe", speech_model["bundle"], "-")
        assert (rc, out, one_line(err)) == (2, "", f"lstmrec: {line}"), key
    _, _, err = run(capsys, "transcribe", speech_model["bundle"], audio["empty"])
    assert one_line(err) == f"lstmrec: {audio['empty']}: empty audio (0 samples)"


def test_a_bad_rate_is_a_flag_error(capsys, speech_model, audio, monkeypatch):
    for flags, line in (
        (["-", "--rate", "0"], "--rate 0 must be a positive number of Hz"),
        (
            [audio["riff"], "--rate", "8000"],
            "--rate is for raw PCM on standard input (-), not a file",
        ),
    ):
        stdin_bytes(monkeypatch, audio["riff"].read_bytes())
        rc, out, err = run(capsys, "transcribe", speech_model["bundle"], *flags)
        assert (rc, out, one_line(err)) == (2, "", f"lstmrec: {line}"), flags


# ---------------------------------------------------------------------------------------------
# Incompatible or damaged bundles


def _edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


BUNDLE_DAMAGE = {
    # name: (how to damage a copy of the bundle, a word the message must hold)
    "format": (lambda b: _edit_json(b / "summary.json", format=999), "format 999"),
    # A newer format may add feature fields: the format is what must be reported.
    "format-first": (
        lambda b: (
            _edit_json(b / "summary.json", format=2),
            _edit_json(b / "features.json", new_field=1),
        ),
        "format 2",
    ),
    "no-model": (lambda b: (b / "model.keras").unlink(), "model.keras"),
    "garbage-model": (lambda b: (b / "model.keras").write_bytes(b"not a zip"), "cannot load"),
    "summary-not-object": (lambda b: (b / "summary.json").write_text("[1]"), "summary.json"),
    "symbols-not-utf8": (lambda b: (b / "symbols.txt").write_bytes(b"\xff\xfe\n"), "unreadable"),
    "bad-cmvn": (lambda b: (b / "cmvn.npz").write_bytes(b"PK"), "cannot load"),
}


@pytest.mark.parametrize("damage", sorted(BUNDLE_DAMAGE))
def test_transcribe_with_a_damaged_bundle(capsys, speech_model, audio, tmp_path, damage):
    bundle = tmp_path / "model"
    shutil.copytree(speech_model["bundle"], bundle)
    spoil, word = BUNDLE_DAMAGE[damage]
    spoil(bundle)
    rc, out, err = run(capsys, "transcribe", bundle, audio["riff"])
    assert rc == 2 and out == ""
    line = one_line(err)
    assert str(bundle) in line and word in line


def test_transcribe_bundle_not_found(capsys, audio, tmp_path):
    rc, _, err = run(capsys, "transcribe", tmp_path / "nothing", audio["riff"])
    assert rc == 2 and str(tmp_path / "nothing") in one_line(err)


def test_transcribe_data_decodes_each_segment_of_a_recording(capsys, tmp_path):
    """A Kaldi ``segments`` file cuts one recording into utterances: ``transcribe --data``
    decodes each slice under its own id (as the slice alone, written as a file, decodes), not
    the whole recording once under the last id."""
    bundle = Path(__file__).parent / "data" / "bundles-0.1" / "speech"
    wav = Path(__file__).resolve().parents[1] / "data/timit-demo/TIMIT/TRAIN/DR2/FAEM0/SX312.WAV"
    pcm, sr = sf.read(wav, dtype="int16")
    data = tmp_path / "test"
    data.mkdir()
    (data / "wav.scp").write_text(f"rec {wav}\n")
    (data / "segments").write_text("u1 rec 0.0 1.5\nu2 rec 1.5 3.5\n")
    (data / "text").write_text("u1 A B\nu2 C D\n")
    (data / "utt2spk").write_text("u1 s\nu2 s\n")
    rc, got, _ = transcribe_json(capsys, bundle, extra=("--data", str(data)))
    assert rc == 0 and [(r["id"], r["duration"]) for r in got] == [("u1", 1.5), ("u2", 2.0)]
    for r, (start, end) in zip(got, [(0.0, 1.5), (1.5, 3.5)], strict=True):
        piece = tmp_path / f"{r['id']}.wav"
        sf.write(piece, pcm[int(start * sr) : int(end * sr)], sr, subtype="PCM_16")
        _, (alone,), _ = transcribe_json(capsys, bundle, piece)
        assert r["phones"] == alone["phones"] and r["file"] == str(wav)
