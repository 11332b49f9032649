"""CTC prefix beam search and CTC forward/Viterbi alignment: hand-computed cases and properties
against an exhaustive search scored by the forward algorithm."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lstmrec.models.align import ctc_log_likelihood, forced_align
from lstmrec.models.beam import beam_decode, beam_search, log_softmax
from lstmrec.models.decoding import Token, greedy_decode

BLANK, A, B = 0, 1, 2


def log_of(probs: list[list[float]]) -> np.ndarray:
    """Natural logs of a ``(T, C)`` probability table, zeros as ``-inf`` (without a warning)."""
    p = np.asarray(probs, dtype=np.float64)
    out = np.full(p.shape, -np.inf)
    out[p > 0] = np.log(p[p > 0])
    return out


# Frames 0-1 give "" (0.42) or "a" (0.58 = aa 0.12 + a- 0.28 + -a 0.18); frame 2 is blank;
# frames 3-4 give "b" whatever frame 4 is; frame 5 is blank; frame 6 adds a second b with 0.4.
SEVEN_FRAMES = log_of(
    [
        [0.6, 0.4, 0.0],
        [0.7, 0.3, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.6, 0.0, 0.4],
        [1.0, 0.0, 0.0],
        [0.6, 0.0, 0.4],
    ]
)


def test_seven_frame_example_by_hand():
    # Greedy takes the best frame each time: - - - b - - -  ->  "b".
    assert [t.symbol for t in greedy_decode(SEVEN_FRAMES)] == [B]
    hyps = beam_search(SEVEN_FRAMES, beam=10, nbest=10, prune=0.0)
    assert [h.labels for h in hyps] == [(A, B), (B,), (A, B, B), (B, B)]
    np.testing.assert_allclose(
        np.exp([h.acoustic for h in hyps]), [0.58 * 0.6, 0.42 * 0.6, 0.58 * 0.4, 0.42 * 0.4]
    )
    assert all(h.lm == 0.0 and h.score == h.acoustic for h in hyps)
    tokens, _ = beam_decode(SEVEN_FRAMES, beam=10)
    # Best alignment of "a b": a - - b - - -  (a 0.4 * 0.7 beats - a 0.6 * 0.3).
    assert tokens == [Token(A, 0, 3), Token(B, 3, 4)]


def test_forward_algorithm_by_hand():
    lp = SEVEN_FRAMES[:2, :2]  # two frames, classes (-, a)
    assert np.exp(ctc_log_likelihood(lp, [A])) == pytest.approx(0.12 + 0.28 + 0.18)
    assert np.exp(ctc_log_likelihood(lp, [])) == pytest.approx(0.42)
    assert np.exp(ctc_log_likelihood(lp, [A, A])) == 0.0  # needs a blank between: 3 frames
    three = log_of([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    assert np.exp(ctc_log_likelihood(three, [A, A])) == pytest.approx(0.125)  # only a - a


def _exhaustive_best(lp: np.ndarray) -> tuple[float, tuple[int, ...]]:
    t_max, num_classes = lp.shape
    best = (-np.inf, ())
    for n in range(t_max + 1):
        for labels in itertools.product(range(1, num_classes), repeat=n):
            best = max(best, (ctc_log_likelihood(lp, labels), labels))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_equals_exhaustive_search_on_tiny_inputs(seed):
    rng = np.random.default_rng(seed)
    t_max, num_classes = int(rng.integers(1, 6)), int(rng.integers(2, 4))
    lp = log_softmax(2.0 * rng.normal(size=(t_max, num_classes)))
    score, labels = _exhaustive_best(lp)
    hyps = beam_search(lp, beam=400, nbest=400, prune=0.0)
    assert hyps[0].labels == labels
    assert hyps[0].acoustic == pytest.approx(score)
    # Without pruning every prefix probability is exact, and all labellings together sum to 1.
    for h in hyps:
        assert h.acoustic == pytest.approx(ctc_log_likelihood(lp, h.labels))
    assert np.logaddexp.reduce([h.acoustic for h in hyps]) == pytest.approx(0.0, abs=1e-9)
    # The default pruning only drops symbols below 1e-3 per frame: the same winner here.
    assert beam_search(lp, beam=8)[0].labels == labels


@pytest.mark.parametrize("seed", range(5))
def test_at_least_as_likely_as_greedy(seed):
    rng = np.random.default_rng(100 + seed)
    lp = log_softmax(1.5 * rng.normal(size=(30, 5)))
    greedy = [t.symbol for t in greedy_decode(lp)]
    best = beam_search(lp, beam=16)[0]
    assert ctc_log_likelihood(lp, best.labels) >= ctc_log_likelihood(lp, greedy) - 1e-9


def peaky(seed: int, t_max: int = 120, num_classes: int = 12) -> np.ndarray:
    """Log-probabilities like a trained model's: mostly blank, with spikes."""
    rng = np.random.default_rng(seed)
    path = rng.integers(1, num_classes, size=t_max)
    path[rng.random(t_max) < 0.6] = BLANK
    logits = rng.normal(size=(t_max, num_classes))
    logits[np.arange(t_max), path] += 8.0
    return log_softmax(logits)


def test_nbest_is_sorted_distinct_and_consistent():
    lp = peaky(3, t_max=40, num_classes=5)
    hyps = beam_search(lp, beam=20, nbest=15, insertion_bonus=0.3)
    assert len(hyps) == 15
    assert len({h.labels for h in hyps}) == 15
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    for h in hyps:
        assert h.score == pytest.approx(h.acoustic + 0.3 * len(h.labels))


@pytest.mark.parametrize("seed", range(3))
def test_times_tile_like_greedy_on_peaky_outputs(seed):
    lp = peaky(seed)
    tokens, hyps = beam_decode(lp, beam=10)
    assert tokens == greedy_decode(lp)
    assert tuple(t.symbol for t in tokens) == hyps[0].labels


def test_forced_align_spans_tile_and_cover_the_spikes():
    lp = peaky(7, t_max=60, num_classes=6)
    labels = [t.symbol for t in greedy_decode(lp)][::2]  # another labelling than the best path
    tokens = forced_align(lp, labels)
    assert [t.symbol for t in tokens] == labels
    assert all(a.end == b.start for a, b in zip(tokens, tokens[1:], strict=False))
    assert all(0 <= t.start < t.end <= 60 for t in tokens)
    with pytest.raises(ValueError, match="cannot be aligned"):
        forced_align(lp[:2], [1, 1])


def test_empty_input_and_bad_arguments():
    assert beam_search(np.zeros((0, 3)))[0].labels == ()
    assert beam_decode(np.zeros((0, 3)))[0] == []
    with pytest.raises(ValueError, match="shape"):
        beam_search(np.zeros(3))
    with pytest.raises(ValueError, match="beam"):
        beam_search(np.zeros((2, 3)), beam=0)
