"""Bootstrap intervals and paired significance tests on hand-computed per-utterance errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmrec.scoring import stats
from lstmrec.scoring.stats import bootstrap_ci, bootstrap_rates, compare_systems, matched_pairs_p


def test_bootstrap_two_utterances_by_hand():
    # Utterance 1: 2 errors in 5 symbols, utterance 2: 1 in 3. A replicate draws (1, 1) -> 40 %,
    # (2, 2) -> 33.3 % or one of each -> 37.5 %; each extreme has probability 1/4 > 2.5 %, so the
    # 95 % interval spans exactly the two extremes.
    rates = bootstrap_rates([2, 1], [5, 3], replicates=4000, seed=1)
    assert set(np.round(rates, 6)) == {40.0, 37.5, round(100 / 3, 6)}
    assert np.mean(rates == 37.5) == pytest.approx(0.5, abs=0.03)
    assert bootstrap_ci([2, 1], [5, 3], replicates=4000) == pytest.approx((100 / 3, 40.0))


def test_a_replicate_without_reference_symbols_has_no_rate():
    # Utterance 1: 0 errors in 2 symbols, utterance 2: 2 insertions over an empty reference. A
    # draw of utterance 2 twice has no symbol to divide by: no rate (not 4 errors over "1"),
    # and the interval is read off the others: 0 % (1, 1) and 100 % (one of each).
    rates = bootstrap_rates([0, 2], [2, 0], replicates=4000, seed=1)
    assert np.mean(np.isnan(rates)) == pytest.approx(0.25, abs=0.03)
    assert set(rates[~np.isnan(rates)]) == {0.0, 100.0}
    assert bootstrap_ci([0, 2], [2, 0], replicates=4000) == pytest.approx((0.0, 100.0))
    c = compare_systems([0, 2], [0, 0], [2, 0], replicates=4000)
    assert c.difference_ci == pytest.approx((-100.0, 0.0))
    assert c.prob_b_better == pytest.approx(2 / 3, abs=0.03)  # of the draws with a rate


def test_bootstrap_interval_contains_the_estimate_and_is_deterministic():
    rng = np.random.default_rng(5)
    lengths = rng.integers(10, 40, size=200)
    errors = rng.binomial(lengths, 0.3)
    point = 100 * errors.sum() / lengths.sum()
    lo, hi = bootstrap_ci(errors, lengths, seed=7)
    assert lo < point < hi
    # About 1.96 binomial-ish standard errors each side: a few points wide, not 0, not 50.
    assert 1.0 < hi - lo < 10.0
    assert bootstrap_ci(errors, lengths, seed=7) == (lo, hi)
    assert bootstrap_ci(errors, lengths, seed=8) != (lo, hi)


def test_bootstrap_chunks_give_the_same_replicates(monkeypatch):
    errors, lengths = np.arange(13) % 4, np.full(13, 9)
    whole = bootstrap_rates(errors, lengths, replicates=50, seed=3)
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 13 * 7)  # 8 chunks: 7 x 7 rows + 1
    chunked = bootstrap_rates(errors, lengths, replicates=50, seed=3)
    assert chunked.shape == (50,)
    np.testing.assert_array_equal(chunked, whole)


def test_bootstrap_equal_rates_give_a_point_interval():
    assert bootstrap_ci([1, 2, 3], [10, 20, 30]) == pytest.approx((10.0, 10.0))


@pytest.mark.parametrize("bad", [[], [-1, 2]])
def test_bootstrap_rejects_bad_counts(bad):
    with pytest.raises(ValueError):
        bootstrap_rates(bad, [3] * len(bad))


def test_matched_pairs_by_hand():
    # d = 1, 2, 3, -1, 0: mean 1, sample sd sqrt(10 / 4), z = 1 / (sd / sqrt(5)) = sqrt(2).
    p = matched_pairs_p(np.array([1, 2, 3, -1, 0]))
    assert p == pytest.approx(math.erfc(math.sqrt(2) / math.sqrt(2)), rel=1e-9)  # 0.1573
    assert matched_pairs_p(np.zeros(4)) == 1.0
    # No spread, so no Z: the exact chance of n differences all of one sign.
    assert matched_pairs_p(np.full(4, 2.0)) == 0.125 and matched_pairs_p(np.full(2, -1.0)) == 0.5
    assert matched_pairs_p(np.ones(1)) == 1.0


def test_wilcoxon_exact_by_hand():
    # Five positive differences with distinct ranks: the exact two-sided p is 2 / 2^5.
    assert stats.wilcoxon_p(np.array([1, 2, 3, 4, 5])) == pytest.approx(2 / 32)
    assert stats.wilcoxon_p(np.zeros(6)) == 1.0


def test_identical_systems_show_no_difference():
    errors, lengths = [3, 0, 5, 2], [10, 8, 12, 9]
    c = compare_systems(errors, errors, lengths)
    assert c.rate_a == c.rate_b == pytest.approx(100 * 10 / 39)
    assert c.difference == 0.0 and c.difference_ci == (0.0, 0.0)
    assert c.matched_pairs_p == 1.0 and c.wilcoxon_p == 1.0
    assert c.prob_b_better == 0.0 and not c.significant
    assert c.utterances_a_better == c.utterances_b_better == 0
    assert c.verdict().startswith("no significant difference between A and B at alpha = 0.05")


def test_large_consistent_improvement_is_significant():
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 30, size=40)
    errors_a = rng.integers(6, 10, size=40)
    errors_b = errors_a - rng.integers(2, 5, size=40)  # B fixes 2-4 errors in every utterance
    c = compare_systems(errors_a, errors_b, lengths, seed=4)
    assert c.difference == pytest.approx(100 * (errors_b.sum() - errors_a.sum()) / lengths.sum())
    lo, hi = c.difference_ci
    assert lo <= c.difference <= hi < 0
    assert c.prob_b_better == 1.0 and c.utterances_b_better == 40
    assert c.matched_pairs_p < 1e-6 and c.wilcoxon_p < 1e-6
    assert c.verdict("base", "new").startswith("new is significantly better than base")
    # The same comparison the other way round: A better, the interval mirrored.
    r = compare_systems(errors_b, errors_a, lengths, seed=4)
    assert r.difference_ci == pytest.approx((-hi, -lo))
    assert r.verdict().startswith("A is significantly better than B")
    assert compare_systems(errors_a, errors_b, lengths, seed=4) == c  # deterministic


def test_small_noisy_difference_is_not_significant():
    # B better on two utterances, worse on two, by about as much: the tests must not call it.
    c = compare_systems([4, 6, 5, 7, 5], [3, 7, 4, 8, 5], [20, 20, 20, 20, 20])
    assert c.matched_pairs_p == pytest.approx(1.0) and c.wilcoxon_p == pytest.approx(1.0)
    lo, hi = c.difference_ci
    assert lo < 0 < hi and not c.significant


def test_compare_rejects_unpaired_inputs():
    with pytest.raises(ValueError):
        compare_systems([1, 2], [1], [3, 3])
