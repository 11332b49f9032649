"""The shipped English phone model, en-phones: it is listed, small enough, and recognizes real
speech it never heard (held-out speechocean762 speakers, native TIMIT speakers)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import REPO, SHARED_DATA, one_line, run

import lstmrec
from lstmrec.shipped import MODELS_DIR, resolve_model

MODEL = MODELS_DIR / "en-phones"
LIMIT = 20 * 1024 * 1024  # bytes: the most a shipped model may weigh


def test_shipped_and_listed(capsys):
    assert resolve_model("en-phones") == MODEL
    size = sum(f.stat().st_size for f in MODEL.iterdir() if f.is_file())
    assert size <= LIMIT
    rc, out, _ = run(capsys, "models", "--format", "json")
    assert rc == 0
    (card,) = [c for c in json.loads(out) if c["name"] == "en-phones"]
    assert card["modality"] == "speech" and card["unit"] == "phones"
    assert "CC BY 4.0" in card["licence"]
    sets = {e["set"].split(" (")[0]: e for e in card["error_rates"]}
    assert {"speechocean762 held-out speakers", "TIMIT sample"} <= set(sets)
    for e in card["error_rates"]:
        lo, hi = e["interval95"]
        assert lo <= e["value"] <= hi and e["command"].startswith("lstmrec evaluate")


@pytest.mark.shared_data("speechocean762")
def test_held_out_speaker(tmp_path):
    """One of the 16 held-out speakers (20 utterances): PER against the lexicon phones at the
    level the card states for all of them, within a margin for one speaker's spread."""
    card = json.loads((MODEL / "card.json").read_text(encoding="utf-8"))
    held_out = (REPO / "configs/speechocean762/test_spk.list").read_text().split()
    assert "0575" in held_out  # an adult woman's voice
    speakers = tmp_path / "one.list"
    speakers.write_text("0575\n")
    model = lstmrec.load("en-phones")
    result = model.evaluate(
        SHARED_DATA / "speechocean762/train", "core-test", test_speakers=speakers
    )
    assert result["num_utterances"] == 20
    stated = card["error_rates"][0]["value"]
    assert result["error_rate"] < stated + 15


@pytest.mark.shared_data("timit-sample")
def test_transcribes_native_speech_without_a_model_argument(capsys):
    """`lstmrec transcribe FILE` uses en-phones; on a TIMIT sentence (hand labels) its phones
    are far closer to the truth than chance."""
    from lstmrec.corpora.timit import find_timit
    from lstmrec.scoring.align import score

    wav = SHARED_DATA / "timit-sample/TIMIT/TRAIN/DR1/FVMH0/SI1466.WAV"
    rc, out, err = run(capsys, "transcribe", str(wav))
    assert rc == 0, err
    hyp = out.split()[1:]
    (utt,) = [u for u in find_timit(SHARED_DATA / "timit-sample") if u.id == "fvmh0_si1466"]
    report = score({utt.id: list(utt.phones)}, {utt.id: hyp}, fold_to=39)
    assert report.total.error_rate < 60


def copy_speechocean762(where: Path, *, lexicon: bool) -> Path:
    """The corpus's Kaldi data dir copied to ``where/speechocean762/train`` (the audio folder
    linked, not copied), with its lexicon or without: the corpus as another machine holds it,
    under other paths."""
    copy = where / "speechocean762"
    shutil.copytree(SHARED_DATA / "speechocean762" / "train", copy / "train")
    (copy / "WAVE").symlink_to(SHARED_DATA / "speechocean762" / "WAVE")
    if lexicon:
        (copy / "resource").mkdir()
        shutil.copy(SHARED_DATA / "speechocean762/resource/lexicon.txt", copy / "resource")
    return copy


@pytest.mark.shared_data("speechocean762")
def test_the_card_figure_is_reproduced_from_any_folder(capsys, monkeypatch, tmp_path):
    """`lstmrec evaluate en-phones --data <speechocean762>` run outside the repository, on a
    copy of the corpus under other paths: the copy is known as the training set, so the
    held-out speakers come from the lists in the model's folder; the lexicon its recipe names
    relative to the repository is found inside the copy, and a missing one stops the run in
    one line (not one per utterance); the card's PER, exactly."""
    card = json.loads((MODEL / "card.json").read_text(encoding="utf-8"))
    stated = next(e for e in card["error_rates"] if e["set"].startswith("speechocean762"))
    for name in ("dev_spk.list", "test_spk.list"):  # shipped with the model
        assert (MODEL / name).read_text() == (REPO / "configs/speechocean762" / name).read_text()
    copy = copy_speechocean762(tmp_path / "corpora", lexicon=False)
    monkeypatch.chdir(tmp_path)
    args = ("evaluate", "en-phones", "--data", copy / "train", "--format", "json", "--quiet")
    rc, out, err = run(capsys, *args)
    assert rc == 2 and not out
    assert one_line(err) == (
        "lstmrec: ../shared/data/speechocean762/resource/lexicon.txt: no such lexicon file (the "
        "lexicon gives the phones of utterances with words; name one: [data] lexicon, "
        "--pron-lexicon, or lexicon= in Python)"
    )
    (copy / "resource").mkdir()
    shutil.copy(SHARED_DATA / "speechocean762/resource/lexicon.txt", copy / "resource")
    rc, out, err = run(capsys, *args)
    assert rc == 0, err
    result = json.loads(out)
    assert result["speaker_lists_from"] == "the model's recipe"
    assert result["num_utterances"] == stated["utterances"] == 320
    assert round(result["error_rate"], 2) == stated["value"]
    assert result["errors"] == stated["errors"] and result["reference_length"] == stated["total"]


@pytest.mark.shared_data("speechocean762")
def test_an_lm_for_the_model_finds_its_lexicon_as_evaluate_does(capsys, monkeypatch, tmp_path):
    """`lstmrec lm --model en-phones --data <speechocean762>` run outside the repository: the
    lexicon its recipe names relative to the repository is found inside the copy of the corpus,
    and the utterances' words become the model's phones."""
    copy = copy_speechocean762(tmp_path / "corpora", lexicon=True)
    monkeypatch.chdir(tmp_path)
    arpa = tmp_path / "phones.arpa"
    args = ("lm", "--model", "en-phones", "--data", copy / "train", "--out", arpa)
    rc, out, err = run(capsys, *args)
    assert rc == 0, err
    assert "2020 sentences, 42 tokens" in out and arpa.is_file()


@pytest.mark.shared_data("speechocean762")
def test_another_corpus_in_its_place(capsys, monkeypatch, tmp_path):
    """A corpus of the same name that differs from the training set (here in one transcript)
    does not take the model's speaker lists: its empty default split names them; with a list
    given, it is scored."""
    copy = copy_speechocean762(tmp_path, lexicon=True)
    text = copy / "train" / "text"
    lines = text.read_text(encoding="utf-8").splitlines(keepends=True)
    first, second = (line.split("\t", 1) for line in lines[:2])
    text.write_text("".join([f"{first[0]}\t{second[1]}", *lines[1:]]), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    rc, _, err = run(capsys, "evaluate", "en-phones", "--data", copy / "train", "--quiet")
    assert rc == 2 and one_line(err).endswith(f"--test-speakers {MODEL / 'test_spk.list'})")
    one = tmp_path / "one.list"
    one.write_text("0575\n")
    args = ("evaluate", "en-phones", "--data", copy / "train", "--test-speakers", one)
    rc, out, err = run(capsys, *args, "--quiet", "--format", "json")
    assert rc == 0, err
    assert json.loads(out)["num_utterances"] == 20
