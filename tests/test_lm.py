"""N-gram language models: Witten-Bell training by hand, normalisation, ARPA files, and shallow
fusion in the beam search with symbol and lexicon-constrained word models."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lstmrec.features.errors import DataError
from lstmrec.inference.lm_files import decoder_lm, read_arpa, read_lexicon, train_ngram, write_arpa
from lstmrec.models.align import ctc_log_likelihood
from lstmrec.models.beam import beam_search, log_softmax
from lstmrec.models.lm import BOS, EOS, LN10, UNK
from lstmrec.targets import SPACE


def test_witten_bell_bigram_by_hand():
    m = train_ngram([["a"], ["a", "b"]], order=2)
    i = m.ids
    # Unigrams: counts a 2, </s> 2, b 1 (N = 5, T = 3), interpolated with 1/4 (a b </s> <unk>).
    assert 10 ** m.log10_prob((), i["a"]) == pytest.approx((2 + 3 / 4) / 8)
    assert 10 ** m.log10_prob((), i[UNK]) == pytest.approx((3 / 4) / 8)
    # After <s>: c = 2, T = 1; after a: c = 2, T = 2.
    assert 10 ** m.log10_prob((i[BOS],), i["a"]) == pytest.approx((2 + 2.75 / 8) / 3)
    assert 10 ** m.log10_prob((i[BOS],), i["b"]) == pytest.approx(1 / 3 * 1.75 / 8)
    assert 10 ** m.log10_prob((i["a"],), i["b"]) == pytest.approx((1 + 2 * 1.75 / 8) / 4)
    assert 10 ** m.log10_prob((i["a"],), i["a"]) == pytest.approx(0.5 * 2.75 / 8)


def _contexts(m):
    return [(), *(g for table in m.probs[:-1] for g in table if g[-1] != m.ids[EOS])]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_context_sums_to_one_before_and_after_an_arpa_round_trip(order, tmp_path):
    rng = np.random.default_rng(order)
    sents = [list(rng.choice(list("abcde "), size=rng.integers(1, 12))) for _ in range(30)]
    sents = [["<space>" if c == " " else c for c in s] for s in sents]
    model = train_ngram(sents, order=order)
    write_arpa(model, tmp_path / "lm.arpa")
    loaded = read_arpa(tmp_path / "lm.arpa")
    assert loaded.vocab == model.vocab and loaded.order == order
    for m in (model, loaded):
        for h in _contexts(m):
            p = 10 ** m.log10_dist(h)
            p[m.ids[BOS]] = 0.0
            assert p.sum() == pytest.approx(1.0, abs=1e-5), h
    assert not (tmp_path / "lm.arpa.tmp").exists()


SRILM_STYLE = """
\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-99\t<s>\t-0.5
-0.3\t</s>
-0.6\tx\t-0.2
-0.7\ty

\\2-grams:
-0.1\t<s> x
-0.25\tx y

\\end\\
"""


def test_reads_a_hand_written_arpa_and_backs_off(tmp_path):
    path = tmp_path / "hand.arpa"
    path.write_text(SRILM_STYLE)
    m = read_arpa(path)
    x, y, bos, eos = m.ids["x"], m.ids["y"], m.ids[BOS], m.ids[EOS]
    assert m.log10_prob((bos,), x) == pytest.approx(-0.1)  # listed
    assert m.log10_prob((bos,), y) == pytest.approx(-0.5 - 0.7)  # backoff(<s>) + p(y)
    assert m.log10_prob((x,), eos) == pytest.approx(-0.2 - 0.3)
    assert m.log10_prob((y,), x) == pytest.approx(-0.6)  # y has no backoff weight: 0
    # States shorten to what the model lists: after "y" nothing more is known than the unigram.
    assert m.advance(m.start(), y) == ()
    assert m.advance(m.start(), x) == (x,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello\n", "no \\\\data\\\\ header"),
        (SRILM_STYLE.replace("ngram 2=2", "ngram 2=3"), "ngram 2=3 but 2"),
        (SRILM_STYLE.replace("-0.25\tx y", "-0.25\tx z"), "unlisted z"),
        (SRILM_STYLE.replace("-0.7\ty", "oops\ty"), "line 10: bad number"),
        (SRILM_STYLE.replace("\\end\\", ""), "without \\\\end"),
    ],
)
def test_malformed_arpa_names_file_and_reason(tmp_path, text, message):
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        read_arpa(path)
    assert str(path) in str(err.value)


# --- shallow fusion ------------------------------------------------------------------------------

CLASSES = ["<blank>", "a", "b"]


def _sentence_log10(m, tokens):
    h, total = m.start(), 0.0
    for t in [*tokens, EOS]:
        total += m.log10_prob(h, m.ids[t])
        h = m.advance(h, m.ids[t])
    return total


@pytest.mark.parametrize("seed", range(4))
def test_fused_search_equals_exhaustive_fused_scoring(seed, tmp_path):
    write_arpa(train_ngram([["b"], ["b", "b"], ["a", "b"], ["b", "a", "a"]], 2), tmp_path / "l")
    lm = decoder_lm(CLASSES, lm_path=tmp_path / "l", lexicon_path=None)
    rng = np.random.default_rng(seed)
    lp = log_softmax(1.5 * rng.normal(size=(5, 3)))
    weight, bonus = 1.3, 0.4

    def fused(labels):
        lm_log = LN10 * _sentence_log10(lm.ngram, [CLASSES[c] for c in labels])
        return ctc_log_likelihood(lp, labels) + weight * lm_log + bonus * len(labels), lm_log

    all_labels = [c for n in range(6) for c in itertools.product([1, 2], repeat=n)]
    best = max(all_labels, key=lambda c: fused(c)[0])
    hyps = beam_search(
        lp, beam=200, nbest=3, lm=lm, lm_weight=weight, insertion_bonus=bonus, prune=0.0
    )
    assert hyps[0].labels == best
    for h in hyps:
        score, lm_log = fused(h.labels)
        assert h.score == pytest.approx(score) and h.lm == pytest.approx(lm_log)


def test_lm_missing_symbols_is_an_error(tmp_path):
    write_arpa(train_ngram([["a"]], 1), tmp_path / "l")
    lm = decoder_lm(CLASSES, lm_path=tmp_path / "l", lexicon_path=None)
    assert lm.missing == []  # b is scored as <unk>
    (tmp_path / "n").write_text(SRILM_STYLE)
    with pytest.raises(DataError, match="2 of the model's symbols"):
        decoder_lm(CLASSES, lm_path=tmp_path / "n", lexicon_path=None)


CHARS = ["<blank>", "<space>", "a", "b", "c", "o", "t"]


def _spell(text: str) -> list[int]:
    return [CHARS.index("<space>" if ch == " " else ch) for ch in text]


def _spiky(text: str, *, noise: float, seed: int) -> np.ndarray:
    """Log-probs whose best path spells ``text`` (one spike per symbol, blanks between)."""
    rng = np.random.default_rng(seed)
    logits = noise * rng.normal(size=(3 * len(text) + 1, len(CHARS)))
    for k, c in enumerate(_spell(text)):
        logits[3 * k + 1, c] += 4.0
    logits[:, 0] += 2.0
    return log_softmax(logits)


def test_lexicon_keeps_only_lexicon_words_and_scores_each_word(tmp_path):
    (tmp_path / "lex").write_text("cat\nbat\nboat\n# comment\ncab k ae b\n")
    assert read_lexicon(tmp_path / "lex") == ["cat", "bat", "boat", "cab"]
    corpus = [["cat", "bat"], ["boat"], ["cab", "cat"], ["bat", "cat", "boat"]]
    write_arpa(train_ngram(corpus, 2), tmp_path / "w.arpa")
    lm = decoder_lm(CHARS, lm_path=tmp_path / "w.arpa", lexicon_path=tmp_path / "lex")
    # The acoustics spell "cot bat" ("cot" is no lexicon word).
    lp = _spiky("cot bat", noise=0.5, seed=0)
    plain = beam_search(lp, beam=20)[0]
    assert plain.labels == tuple(_spell("cot bat"))
    hyps = beam_search(lp, beam=50, nbest=5, lm=lm, lm_weight=0.5)
    words = {"cat", "bat", "boat", "cab"}
    for h in hyps:
        text = "".join(" " if c == 1 else CHARS[c] for c in h.labels)
        assert all(w in words for w in text.split(" ")), text
        assert h.lm == pytest.approx(LN10 * _sentence_log10(lm.ngram, text.split(" ")))
    assert "".join(" " if c == 1 else CHARS[c] for c in hyps[0].labels) == "cat bat"


def test_lexicon_needs_a_space_and_spellable_words(tmp_path):
    write_arpa(train_ngram([["ab"]], 1), tmp_path / "w.arpa")
    (tmp_path / "lex").write_text("ab\n")
    with pytest.raises(DataError, match="space symbol"):
        decoder_lm(CLASSES, lm_path=tmp_path / "w.arpa", lexicon_path=tmp_path / "lex")
    (tmp_path / "lex").write_text("xyz\n")
    with pytest.raises(DataError, match="no lexicon word"):
        decoder_lm(CHARS, lm_path=tmp_path / "w.arpa", lexicon_path=tmp_path / "lex")


def test_a_missing_lexicon_is_named_before_the_lm_is_judged(tmp_path):
    """A character LM with a lexicon is refused, but a lexicon that is not there is the first
    thing to say (and is said before the LM is read)."""
    write_arpa(train_ngram([["a", SPACE, "b"]], 1), tmp_path / "c.arpa")
    with pytest.raises(DataError, match="lexicon file not found") as e:
        decoder_lm(CHARS, lm_path=tmp_path / "no.arpa", lexicon_path=tmp_path / "no-lex")
    assert e.value.path == str(tmp_path / "no-lex")
    (tmp_path / "lex").write_text("ab\n")
    with pytest.raises(DataError, match="a lexicon needs a word LM"):
        decoder_lm(CHARS, lm_path=tmp_path / "c.arpa", lexicon_path=tmp_path / "lex")


def test_unfinished_word_cannot_end_a_sentence(tmp_path):
    write_arpa(train_ngram([["boat"]], 1), tmp_path / "w.arpa")
    (tmp_path / "lex").write_text("boat\n")
    lm = decoder_lm(CHARS, lm_path=tmp_path / "w.arpa", lexicon_path=tmp_path / "lex")
    state = lm.initial_state()
    for c in _spell("bo"):
        state = lm.advance(state, c)
    assert lm.final(state) == -math.inf
    assert np.isfinite(lm.scores(state)[_spell("a")[0]])
    assert lm.scores(state)[_spell("b")[0]] == -math.inf
    for c in _spell("at"):
        state = lm.advance(state, c)
    assert np.isfinite(lm.final(state))
    assert lm.final(lm.advance(state, _spell(" ")[0])) == -math.inf  # no trailing space
    assert np.isfinite(lm.final(lm.initial_state()))  # the empty sentence


def test_lm_of_other_units_is_refused(tmp_path):
    """A word LM without a lexicon, or a character LM with one, would score every symbol or
    word as <unk> and decode on, degraded: both are refused."""
    write_arpa(train_ngram([["cat", "bat"], ["boat"]], 2), tmp_path / "w.arpa")
    with pytest.raises(DataError, match="a word LM needs --lexicon"):
        decoder_lm(CHARS, lm_path=tmp_path / "w.arpa", lexicon_path=None)
    chars = [["c", "a", "t", "<space>", "b", "a", "t"], ["a"]]
    write_arpa(train_ngram(chars, 3), tmp_path / "c.arpa")
    (tmp_path / "lex").write_text("cat\nbat\na\n")
    with pytest.raises(DataError, match="a character LM"):
        decoder_lm(CHARS, lm_path=tmp_path / "c.arpa", lexicon_path=tmp_path / "lex")
    (tmp_path / "lex").write_text("cab\ntab\n")
    with pytest.raises(DataError, match="no lexicon word is in the LM"):
        decoder_lm(CHARS, lm_path=tmp_path / "w.arpa", lexicon_path=tmp_path / "lex")


def test_lm_of_other_units_is_refused_for_a_model_without_spaces(tmp_path):
    """A phone model takes a character LM (with <space>) or a word LM without complaint about
    spaces; with <unk> in the LM every phone would score as <unk>: both are refused, while a
    phone LM that lacks a few phones is not."""
    phones = ["<blank>", "ah", "b", "k", "sil", "t"]
    write_arpa(train_ngram([["k", "a", "t", SPACE, "b", "a", "t"]], 2), tmp_path / "c.arpa")
    with pytest.raises(DataError, match="the model writes no spaces"):
        decoder_lm(phones, lm_path=tmp_path / "c.arpa", lexicon_path=None)
    write_arpa(train_ngram([["the", "cat"], ["a", "bat"]], 2), tmp_path / "w.arpa")
    with pytest.raises(DataError, match="4 of the LM's 4 tokens are not the model's symbols"):
        decoder_lm(phones, lm_path=tmp_path / "w.arpa", lexicon_path=None)
    write_arpa(train_ngram([["sil", "k", "ah", "t", "sil"], ["b", "ax"]], 2), tmp_path / "p.arpa")
    lm = decoder_lm(phones, lm_path=tmp_path / "p.arpa", lexicon_path=None)
    assert lm.missing == []  # ax is never written, and no phone is unknown


def test_a_byte_order_mark_is_no_part_of_the_first_word(tmp_path):
    """Editors on Windows start UTF-8 files with a byte-order mark: the lexicon's first word,
    the ARPA header and the first token of ``lm --text`` are read without it."""
    from lstmrec.cli.main import main

    bom = "\ufeff"
    (tmp_path / "lex").write_text(bom + "cat\nbat\n", encoding="utf-8")
    assert read_lexicon(tmp_path / "lex") == ["cat", "bat"]
    (tmp_path / "lex").write_text(bom + "# words\ncat\n", encoding="utf-8")
    assert read_lexicon(tmp_path / "lex") == ["cat"]
    write_arpa(train_ngram([["cat", "bat"]], 2), tmp_path / "w.arpa")
    arpa = (tmp_path / "w.arpa").read_text(encoding="utf-8")
    (tmp_path / "b.arpa").write_text(bom + arpa, encoding="utf-8")
    assert read_arpa(tmp_path / "b.arpa").vocab == read_arpa(tmp_path / "w.arpa").vocab
    (tmp_path / "t.txt").write_text(bom + "cat bat\n", encoding="utf-8")
    argv = ["lm", "--text", tmp_path / "t.txt", "--unit", "words", "--out", tmp_path / "t.arpa"]
    assert main([str(a) for a in argv]) == 0
    assert "cat" in read_arpa(tmp_path / "t.arpa").vocab
