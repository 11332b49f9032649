"""Speech models that write characters (``[data] unit = "chars"``), end to end: a tiny model
trained on two speakers of the bundled TIMIT sample is scored by CER and WER against the
transcripts' lower-case words, transcribes audio into words with times (text, JSON, CTM, the
Python API), and decodes with a lexicon and a word language model trained on the transcripts.

What the tiny model hears is poor, so the tests check what the outputs are made of and how they
agree with each other, plus one hand-built transcript whose words and times are known.
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import contextlib
import io
import json
import shutil

import pytest
import soundfile as sf
from helpers import DEMO_TRAIN, TEST_FILE, one_line, run, train_args

import lstmrec
from lstmrec.cli.main import main
from lstmrec.features.errors import DataError
from lstmrec.inference.transcribe import Alternative, TimedPhone, TimedWord, Transcript

SA1 = "She had your dark suit in greasy wash water all year."  # FAEM0/SA1.TXT, after the times
SA1_WORDS = "she had your dark suit in greasy wash water all year"  # as the model is scored
LETTERS = set("abcdefghijklmnopqrstuvwxyz'")  # what a word of the model can be made of


@pytest.fixture(scope="module")
def char_model(tmp_path_factory, speech_corpus):
    """The bundle of the tiny speech model (1 x 8 BLSTM, 2 epochs) trained on characters."""
    out = tmp_path_factory.mktemp("chars") / "run"
    args = train_args(
        speech_corpus["root"],
        out,
        "--set",
        'data.unit="chars"',
        test_list=speech_corpus["test_list"],
    )
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        rc = main([str(a) for a in args])
    assert rc == 0, log.getvalue()
    return out / "model"


@pytest.fixture(scope="module")
def sa1_corpus(tmp_path_factory):
    """A TIMIT tree holding one utterance, FAEM0's SA1, whose .TXT is :data:`SA1`."""
    root = tmp_path_factory.mktemp("sa1")
    dest = root / "TIMIT" / "TEST" / "DR2" / "FAEM0"
    dest.mkdir(parents=True)
    for f in (DEMO_TRAIN / "DR2" / "FAEM0").glob("SA1.*"):
        shutil.copy(f, dest / f.name)
    assert (dest / "SA1.TXT").read_text().split(maxsplit=2)[2].strip() == SA1
    return root


@pytest.fixture(scope="module")
def wav(speech_corpus):
    return speech_corpus["test_dir"] / f"{TEST_FILE}.WAV"


def test_the_bundle_writes_english_letters_apostrophe_and_space(char_model):
    table = (char_model / "symbols.txt").read_text().split()
    assert table == ["<blank>", "'", "<space>", *"abcdefghijklmnopqrstuvwxyz"]
    recipe = json.loads((char_model / "summary.json").read_text())["recipe"]
    assert recipe["data"]["unit"] == "chars"


# ---------------------------------------------------------------------------------------------
# Evaluation: CER and WER against the lower-case words


def test_evaluate_scores_the_lower_case_words_by_cer_and_wer(char_model, sa1_corpus, capsys):
    flags = ("--data", sa1_corpus, "--split", "all", "--keep-sa", "--beam", "0")
    rc, out, _ = run(capsys, "evaluate", char_model, *flags)
    assert rc == 0
    lines = out.splitlines()
    cer = next(ln for ln in lines if ln.startswith("CER "))
    wer = next(ln for ln in lines if ln.startswith("WER "))
    # "she had your dark suit in greasy wash water all year": 42 letters and 10 spaces, 11
    # words. A reference that kept the capital S or the full stop would hold a character the
    # model cannot write, and the utterance would be skipped (exit status 2).
    assert "/ 52 ]" in cer and "/ 11 ]" in wer
    assert any(ln.startswith("speaker ") for ln in lines)  # speakers, not writers
    assert not any(ln.startswith("writer ") for ln in lines)

    rc, out, _ = run(capsys, "evaluate", char_model, *flags, "--format", "json")
    assert rc == 0
    d = json.loads(out)
    assert d["reference_length"] == 52 and d["words"]["reference_length"] == 11
    assert d["cer"] == pytest.approx(100 * d["errors"] / 52)
    assert d["wer"] == pytest.approx(100 * d["words"]["errors"] / 11)
    assert d["speaker_label"] == "speaker"


def test_evaluate_hypotheses_are_the_models_characters(char_model, speech_corpus, capsys, tmp_path):
    hyp = tmp_path / "hyp.txt"
    rc, out, _ = run(
        capsys, "evaluate", char_model, "--data", speech_corpus["root"], "--split", "core-test",
        "--test-speakers", speech_corpus["test_list"], "--beam", "0", "--format", "json",
        "--hyp-out", hyp,
    )  # fmt: skip
    assert rc == 0
    d = json.loads(out)
    assert d["num_utterances"] == 8  # FAEM0's SI and SX sentences
    assert {"cer", "wer"} <= d.keys()
    written = dict(line.split(maxsplit=1) for line in hyp.read_text().splitlines() if " " in line)
    assert written and set(" ".join(written.values()).split()) <= LETTERS | {"<space>"}


# ---------------------------------------------------------------------------------------------
# Transcription: words with times


def test_a_hand_built_transcript_gives_its_words_and_their_times():
    chars = [("h", 0.0, 0.1), ("i", 0.1, 0.2), ("<space>", 0.2, 0.3), ("<space>", 0.3, 0.35),
             ("y", 0.35, 0.5), ("o", 0.5, 0.6), ("<space>", 0.6, 0.65)]  # fmt: skip
    nbest = [Alternative(["h", "i", "<space>", "y", "o"], -1.0, -1.0, 0.0),
             Alternative(["<space>", "h", "<space>", "<space>", "o"], -2.0, -2.0, 0.0)]  # fmt: skip
    tr = Transcript("a.wav", 0.7, [TimedPhone(*c) for c in chars], nbest, id="a", unit="chars")
    assert tr.words == [TimedWord("hi", 0.0, 0.2), TimedWord("yo", 0.35, 0.6)]
    assert tr.text == "hi yo"
    assert tr.ctm_lines() == ["a 1 0.000 0.200 hi", "a 1 0.350 0.250 yo"]
    assert tr.ctm_lines(silence="keep") == tr.ctm_lines()
    d = tr.to_dict()
    assert d["text"] == "hi yo" and "phones" not in d
    assert d["words"] == [{"word": "hi", "start": 0.0, "end": 0.2},
                          {"word": "yo", "start": 0.35, "end": 0.6}]  # fmt: skip
    assert [c["char"] for c in d["chars"]] == ["h", "i", " ", " ", "y", "o", " "]
    assert d["chars"][4] == {"char": "y", "start": 0.35, "end": 0.5}
    assert d["nbest"] == [
        {"text": "hi yo", "score": -1.0, "acoustic": -1.0, "lm": 0.0},
        {"text": "h o", "score": -2.0, "acoustic": -2.0, "lm": 0.0},
    ]
    # A phone model's transcript is as it always was.
    timed = [TimedPhone("sh", 0.0, 0.1), TimedPhone("iy", 0.1, 0.2)]
    phones = Transcript("a.wav", 0.2, timed, id="a")
    assert phones.text == "sh iy" and phones.words == []
    assert phones.ctm_lines() == ["a 1 0.000 0.100 sh", "a 1 0.100 0.100 iy"]
    assert [p["phone"] for p in phones.to_dict()["phones"]] == ["sh", "iy"]


def test_transcribe_prints_words_and_json_and_ctm_agree(char_model, wav, capsys):
    rc, out, _ = run(capsys, "transcribe", "--model", char_model, wav)
    assert rc == 0
    uid, text = out.rstrip("\n").split(" ", 1)
    assert uid == f"{TEST_FILE}.WAV"
    words = text.split(" ")
    assert words and all(w and set(w) <= LETTERS for w in words)  # no <space>, no empty word

    rc, out, _ = run(capsys, "transcribe", "--model", char_model, wav, "--format", "json")
    assert rc == 0
    d = json.loads(out)
    assert d["text"] == text and "phones" not in d
    assert [w["word"] for w in d["words"]] == words
    assert "".join(c["char"] for c in d["chars"]).split() == words
    for w in d["words"]:
        assert 0 <= w["start"] < w["end"] <= d["duration"]
    starts = [w["start"] for w in d["words"]]
    assert starts == sorted(starts)
    ends = [c["end"] for c in d["chars"]]
    assert ends == sorted(ends) and ends[-1] <= d["duration"]

    rc, out, _ = run(capsys, "transcribe", "--model", char_model, wav, "--format", "ctm")
    assert rc == 0
    ctm = [line.split() for line in out.splitlines()]
    assert [c[4] for c in ctm] == words  # one line per word
    for c, w in zip(ctm, d["words"], strict=True):
        assert c[:2] == [uid, "1"]
        assert float(c[2]) == pytest.approx(w["start"], abs=1e-9)
        assert float(c[2]) + float(c[3]) == pytest.approx(w["end"], abs=1e-6)


def test_transcribe_nbest_gives_texts(char_model, wav, capsys):
    rc, out, _ = run(capsys, "transcribe", "--model", char_model, wav, "--format", "json",
                     "--beam", "8", "--nbest", "3")  # fmt: skip
    assert rc == 0
    d = json.loads(out)
    assert len(d["nbest"]) == 3
    assert all(set(a) == {"text", "score", "acoustic", "lm"} for a in d["nbest"])
    assert d["nbest"][0]["text"] == d["text"]


def test_folding_a_character_model_is_one_error(char_model, wav, capsys):
    rc, out, err = run(capsys, "transcribe", "--model", char_model, wav, "--fold", "39")
    assert rc == 2 and out == ""
    assert "writes characters" in one_line(err)


# ---------------------------------------------------------------------------------------------
# A lexicon and a word language model


def test_a_word_lm_of_the_transcripts_and_a_lexicon_give_lexicon_words(
    char_model, speech_corpus, wav, capsys, tmp_path
):
    arpa = tmp_path / "words.arpa"
    rc, out, _ = run(capsys, "lm", "--data", speech_corpus["root"], "--model", char_model,
                     "--unit", "words", "--keep-sa", "--out", arpa)  # fmt: skip
    assert rc == 0
    unigrams = arpa.read_text().split("\\1-grams:")[1].split("\\2-grams:")[0]
    vocab = {line.split("\t")[1] for line in unigrams.strip().splitlines()}
    assert set(SA1_WORDS.split()) <= vocab  # both training speakers read SA1
    assert "She" not in vocab and "year." not in vocab  # the words as the model writes them
    assert "don't" in vocab  # SA2: "Don't ask me to carry an oily rag like that."

    lexicon = tmp_path / "words.txt"
    known = {*SA1_WORDS.split(), "don't", "ask", "me", "to", "carry", "an", "oily", "rag"}
    lexicon.write_text("".join(f"{w}\n" for w in sorted(known)))
    decoding = ("--lm", arpa, "--lexicon", lexicon, "--beam", "16", "--insertion-bonus", "2")
    rc, out, _ = run(capsys, "transcribe", "--model", char_model, wav, *decoding)
    assert rc == 0
    words = out.split()[1:]
    assert words and set(words) <= known

    rc, out, _ = run(capsys, "transcribe", "--model", char_model, wav, *decoding,
                     "--format", "ctm")  # fmt: skip
    assert rc == 0
    assert [line.split()[4] for line in out.splitlines()] == words


# ---------------------------------------------------------------------------------------------
# The Python API


def test_the_api_transcribes_into_words_and_evaluates_by_cer_and_wer(
    char_model, speech_corpus, wav, capsys
):
    model = lstmrec.load(char_model)
    assert model.kind == "speech" and "<space>" in model.symbols
    result = model.transcribe(wav)
    assert result.unit == "chars"
    rc, out, _ = run(capsys, "transcribe", "--model", char_model, wav)
    assert rc == 0 and out.split(" ", 1)[1].rstrip("\n") == result.text
    assert [w.word for w in result.words] == result.text.split()
    samples, sr = sf.read(wav, dtype="int16")
    assert model.transcribe(samples, sample_rate=sr).text == result.text
    with pytest.raises(DataError, match="writes characters"):
        model.transcribe(wav, fold=39)

    split = (speech_corpus["root"], "core-test")
    d = model.evaluate(*split, test_speakers=speech_corpus["test_list"])
    rc, out, _ = run(capsys, "evaluate", char_model, "--data", split[0], "--split", split[1],
                     "--test-speakers", speech_corpus["test_list"], "--format", "json")  # fmt: skip
    assert rc == 0
    cli = json.loads(out)
    assert (d["cer"], d["wer"], d["speaker_label"]) == (cli["cer"], cli["wer"], "speaker")
    assert d["words"]["reference_length"] == cli["words"]["reference_length"] > 0
