"""Our files in the field's tools: NIST sclite scores transcribe's CTM against refs' STM with
the counts `lstmrec score` gives; one id scheme across transcribe, refs, score; speakers from the
corpus or utt2spk; the model's held-out speakers kept out of evaluate's default split and of
the LM; standard input; the sample-rate warning."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import TEST_FILE, one_line, run, train_args

import lstmrec
from lstmrec.cli.main import main

SAMPLE = "--fold", "39", "--test-speakers"


def sclite_command() -> list[str] | None:
    """sclite as installed: on PATH, or through Debian's ``sctk`` wrapper."""
    if shutil.which("sclite"):
        return ["sclite"]
    if shutil.which("sctk"):
        return ["sctk", "sclite"]
    return None


@pytest.fixture(scope="module")
def scored(tmp_path_factory, speech_model, speech_corpus):
    """refs (STM, text, utt2spk) and transcribe (CTM, text) of the held-out speaker's split."""
    d = tmp_path_factory.mktemp("sclite")
    root, test_list = speech_corpus["root"], speech_corpus["test_list"]
    bundle = speech_model["bundle"]
    split = ["--data", root, "--split", "core-test", *SAMPLE, test_list]
    out = {k: d / k for k in ("ref.stm", "ref.txt", "utt2spk", "hyp.ctm", "hyp.txt")}
    refs = ["refs", *split, "--silence", "keep", "--stm-out", out["ref.stm"]]
    refs += ["--text-out", out["ref.txt"], "--utt2spk-out", out["utt2spk"]]
    assert _cli(refs).returncode == 0
    for fmt, name in (("ctm", "hyp.ctm"), ("text", "hyp.txt")):
        p = _cli(["transcribe", bundle, *split, "--format", fmt, "--ctm-silence", "keep"])
        assert p.returncode == 0, p.stderr
        out[name].write_text(p.stdout)
    return out


def _cli(args) -> subprocess.CompletedProcess:
    """The command in this process (its stdout and stderr caught), as a CompletedProcess."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main([str(a) for a in args])
    return subprocess.CompletedProcess(args, rc, stdout.getvalue(), stderr.getvalue())


def test_ids_match_across_refs_transcribe_and_score(scored):
    ref_ids = [line.split()[0] for line in scored["ref.txt"].read_text().splitlines()]
    hyp_ids = [line.split()[0] for line in scored["hyp.txt"].read_text().splitlines()]
    stm_ids = [line.split()[0] for line in scored["ref.stm"].read_text().splitlines()]
    ctm_ids = {line.split()[0] for line in scored["hyp.ctm"].read_text().splitlines()}
    assert ref_ids == stm_ids and sorted(hyp_ids) == ref_ids and ctm_ids <= set(ref_ids)
    assert "faem0_sx312" in ref_ids  # the corpus's utterance ids, not file names
    spk = dict(line.split() for line in scored["utt2spk"].read_text().splitlines())
    assert set(spk.values()) == {"faem0"}


def test_ctm_fields_as_sclite_reads_them(scored):
    rows = [line.split() for line in scored["hyp.ctm"].read_text().splitlines()]
    assert rows and all(len(r) == 5 and r[1] == "1" for r in rows)
    by_file: dict[str, list] = {}
    for r in rows:
        by_file.setdefault(r[0], []).append((round(float(r[2]) * 1000), round(float(r[3]) * 1000)))
    for spans in by_file.values():
        for (s0, d0), (s1, _) in zip(spans, spans[1:], strict=False):
            assert d0 >= 0 and s0 + d0 <= s1  # no overlap, in whole milliseconds


def test_sclite_agrees_with_lstmrec_score(scored, capsys):
    sclite = sclite_command()
    if sclite is None:
        if os.environ.get("CI") == "true":
            pytest.fail("sclite is not installed (make test installs Debian's sctk as root)")
        pytest.skip("sclite is not installed")
    rc, out, err = run(capsys, "score", scored["ref.txt"], scored["hyp.txt"], "--utt2spk",
                       scored["utt2spk"], "--format", "json")  # fmt: skip
    assert rc == 0, err
    ours = json.loads(out)
    hyp, ref = str(scored["hyp.ctm"]), str(scored["ref.stm"])
    p = subprocess.run(
        [*sclite, "-h", hyp, "ctm", "-r", ref, "stm", "-o", "rsum", "stdout"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    (row,) = [line for line in p.stdout.splitlines() if re.match(r"\s*\|\s*Sum\s*\|", line)]
    snt, wrd, corr, sub, dele, ins, err_, _ = (int(float(v)) for v in re.findall(r"[\d.]+", row))
    assert snt == ours["num_utterances"] and wrd == ours["reference_length"]
    assert err_ == ours["errors"]  # the same number of errors over the same references
    # How they split into S, D and I may differ: sclite's alignment weighs a substitution 4 and an
    # insertion or deletion 3 (ours: 1 each), so among equally short alignments it may pick
    # another one. Both always account for every reference word.
    assert corr + sub + dele == wrd and sub + dele + ins == err_
    assert "faem0" in p.stdout  # the speaker column comes from the STM


def test_score_takes_speakers_from_utt2spk(scored, capsys, tmp_path):
    rc, out, _ = run(capsys, "score", scored["ref.txt"], scored["hyp.txt"], "--format", "json")
    assert rc == 0 and list(json.loads(out)["per_speaker"]) == ["unknown"]  # never guessed
    rc, out, _ = run(capsys, "score", scored["ref.txt"], scored["hyp.txt"], "--utt2spk",
                     scored["utt2spk"], "--format", "json")  # fmt: skip
    assert rc == 0 and list(json.loads(out)["per_speaker"]) == ["faem0"]
    bad = tmp_path / "bad"
    bad.write_text("one field only\n")
    rc, _, err = run(capsys, "score", scored["ref.txt"], scored["hyp.txt"], "--utt2spk", bad)
    assert rc == 2 and str(bad) in one_line(err)


def test_evaluate_defaults_to_the_models_held_out_speakers(capsys, speech_model, speech_corpus):
    rc, out, err = run(capsys, "evaluate", speech_model["bundle"], "--data",
                       speech_corpus["root"], "--format", "json", "--bootstrap", "10")  # fmt: skip
    assert rc == 0, err
    d = json.loads(out)
    assert d["split_speakers"] == ["faem0"] and d["speaker_lists_from"] == "the model's recipe"
    # The Python API splits the same way without lists (by the corpus's rules it has no test).
    got = lstmrec.load(speech_model["bundle"]).evaluate(speech_corpus["root"], "core-test")
    assert got["num_utterances"] == d["num_utterances"] and got["errors"] == d["errors"]
    assert got["per_speaker"].keys() == {"faem0"}


def test_held_out_speakers_of_a_capped_run_from_another_folder(
    capsys, monkeypatch, speech_corpus, tmp_path
):
    """A run on part of its split (--max-utterances), its list given by a relative path: from
    another folder, evaluate and lm still find the model's held-out speakers."""
    monkeypatch.chdir(speech_corpus["root"])
    args = train_args(Path("."), tmp_path / "run", "--max-utterances", "3",
                      test_list=Path("test_spk.list"), epochs=1)  # fmt: skip
    rc, _, err = run(capsys, *args)
    assert rc == 0, err
    bundle = tmp_path / "run" / "model"
    summary = json.loads((bundle / "summary.json").read_text())
    assert summary["train_utterances"] == 3
    assert summary["recipe"]["data"]["test_speakers"] == str(speech_corpus["test_list"])
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, "evaluate", bundle, "--data", speech_corpus["root"],
                       "--format", "json", "--quiet")  # fmt: skip
    assert rc == 0, err
    d = json.loads(out)
    assert d["split_speakers"] == ["faem0"] and d["speaker_lists_from"] == "the model's recipe"
    rc, out, _ = run(capsys, "lm", "--data", speech_corpus["root"], "--model", bundle,
                     "--out", tmp_path / "m.arpa")  # fmt: skip
    assert rc == 0 and "faem0" not in out.splitlines()[0]


def test_lm_leaves_out_the_models_held_out_speakers(capsys, speech_model, speech_corpus, tmp_path):
    args = ["lm", "--data", speech_corpus["root"], "--split", "train"]
    rc, out, _ = run(capsys, *args, "--out", tmp_path / "all.arpa")
    assert rc == 0 and "faem0" in out.splitlines()[0]  # the corpus's own lists keep it in
    rc, out, _ = run(capsys, *args, "--model", speech_model["bundle"], "--out", tmp_path / "m.arpa")
    first = out.splitlines()[0]
    assert rc == 0 and "faem0" not in first and "the model's recipe" in first


def test_transcribe_reads_standard_input(speech_model, speech_corpus, tmp_path):
    wav = speech_corpus["test_dir"] / f"{TEST_FILE}.WAV"
    pcm, sr = sf.read(wav, dtype="int16")
    riff = tmp_path / "x.wav"
    sf.write(riff, pcm, sr, subtype="PCM_16")
    by_file = _cli(["transcribe", speech_model["bundle"], riff])
    phones = by_file.stdout.split()[1:]
    raw = pcm.astype("<i2").tobytes()
    for data, extra in ((riff.read_bytes(), []), (raw, ["--rate", "16000"])):
        p = subprocess.run(
            [sys.executable, "-m", "lstmrec", "transcribe", str(speech_model["bundle"]), "-",
             *extra], input=data, capture_output=True,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().split() == ["stdin", *phones]


def test_a_low_sample_rate_gives_a_warning(capsys, speech_model, speech_corpus, tmp_path):
    pcm, sr = sf.read(speech_corpus["test_dir"] / f"{TEST_FILE}.WAV", dtype="float32")
    sf.write(tmp_path / "8k.wav", pcm[::2].astype(np.float32), sr // 2)
    rc, out, err = run(capsys, "transcribe", speech_model["bundle"], tmp_path / "8k.wav")
    assert rc == 0 and "8000 Hz is below the model's 16000 Hz" in one_line(err)


def test_a_handwriting_model_refuses_audio_clearly(capsys, ink_run, speech_corpus):
    _, bundle = ink_run
    rc, _, err = run(capsys, "transcribe", bundle, speech_corpus["test_dir"] / f"{TEST_FILE}.WAV")
    assert rc == 2 and "not a speech model" in one_line(err) and "use recognize" in err


def test_recognize_nbest_last_span_and_stdin(capsys, ink_run):
    corpus, bundle = ink_run
    line = sorted((corpus / "lineStrokes" / "w02").rglob("*.xml"))[0]
    rc, out, err = run(capsys, "recognize", bundle, line, "--nbest", "3", "--beam", "8",
                       "--format", "json")  # fmt: skip
    assert rc == 0, err
    rec = json.loads(out)
    assert len(rec["nbest"]) == 3 and rec["nbest"][0]["text"] == rec["text"]
    from lstmrec.features.inkfiles import read_ink_file, write_ink_json

    strokes = read_ink_file(line)[0].strokes
    assert rec["chars"] and rec["chars"][-1]["end"] == [len(strokes) - 1, len(strokes[-1]) - 1]
    ink_json = line.parent / "as.json"
    write_ink_json(ink_json, read_ink_file(line))
    by_file = _cli(["recognize", bundle, ink_json]).stdout
    p = subprocess.run([sys.executable, "-m", "lstmrec", "recognize", str(bundle), "-"],
                       input=ink_json.read_text(), capture_output=True, text=True)  # fmt: skip
    ink_json.unlink()
    assert p.returncode == 0, p.stderr
    assert p.stdout.split(maxsplit=1) == ["stdin", by_file.split(maxsplit=1)[1]]
