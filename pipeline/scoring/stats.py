"""Error bars and significance for error rates: bootstrap over utterances, paired tests.

An error rate is a ratio of sums over utterances, ``sum(errors) / sum(reference lengths)``, and
utterances (not symbols) are the independent units: errors inside one sentence are correlated.
So both the confidence interval and the comparison of two systems resample whole utterances,
as Bisani & Ney (2004, "Bootstrap estimates for confidence intervals in ASR performance
evaluation", ICASSP) propose: draw ``N`` utterances with replacement ``B`` times, recompute the
error rate of each replicate, and read the interval off the percentiles of the ``B`` rates.

For two systems scored on the same utterances the replicates are paired (both systems see the
same draw), which gives the confidence interval of the difference and the "probability of
improvement" (the fraction of replicates in which system B has fewer errors than system A).
Two classical tests on the per-utterance error differences go beside it: the matched-pairs
test of Gillick & Cox (1989) with utterances as segments (a normal test on the mean
difference, as in NIST sclite's MAPSSWE but with sentence segments) and the Wilcoxon
signed-rank test (scipy; exact null distribution for small samples).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

REPLICATES = 1000  # bootstrap replicates; Bisani & Ney found ~1,000 enough for 95 % intervals
SEED = 0  # fixed, so a report is reproducible
LEVEL = 0.95  # confidence level of every interval
ALPHA = 0.05  # significance level of compare's verdict
_CHUNK_ELEMENTS = 4_000_000  # resampling indices drawn per chunk (32 MB of int64)


def _as_counts(name: str, x: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.int64)
    if arr.ndim != 1 or (arr < 0).any():
        raise ValueError(f"{name} must be a 1-D array of non-negative counts, got {arr!r}")
    return arr


def _draws(n: int, replicates: int, seed: int):
    """Yield ``(b, n)`` int64 index arrays, ``replicates`` rows in all: utterances drawn with
    replacement, in chunks that bound memory for large test sets."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, replicates, per_chunk):
        yield rng.integers(0, n, size=(min(per_chunk, replicates - start), n))


def _rate(errors: np.ndarray, ref_lengths: np.ndarray) -> np.ndarray:
    """Percent ``100 * errors / max(ref_lengths, 1)``, elementwise (the ErrorCounts rule)."""
    return 100.0 * errors / np.maximum(ref_lengths, 1)


def _replicate_rate(errors: np.ndarray, ref_lengths: np.ndarray) -> np.ndarray:
    """Percent ``100 * errors / ref_lengths`` of each replicate; NaN for one that drew no
    reference symbol (only utterances with empty references), which has no error rate."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ref_lengths > 0, 100.0 * errors / ref_lengths, np.nan)


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of the replicates that have a rate (NaN ones left out)."""
    tail = 100.0 * (1.0 - level) / 2
    lo, hi = np.nanpercentile(samples, [tail, 100.0 - tail])
    return float(lo), float(hi)


def bootstrap_rates(
    errors: Sequence[int] | np.ndarray,
    ref_lengths: Sequence[int] | np.ndarray,
    *,
    replicates: int = REPLICATES,
    seed: int = SEED,
) -> np.ndarray:
    """Error rates of ``replicates`` bootstrap resamples of the utterances.

    Args:
        errors: ``(N,)`` errors (S + D + I) per utterance.
        ref_lengths: ``(N,)`` reference symbols per utterance.

    Returns:
        ``(replicates,)`` float64 error rates in percent, each ``100 * sum(errors[idx]) /
        sum(ref_lengths[idx])`` for one draw ``idx`` of ``N`` utterances with replacement; NaN
        for a draw with no reference symbol (possible only when some references are empty).
    """
    e, n = _as_counts("errors", errors), _as_counts("ref_lengths", ref_lengths)
    if len(e) != len(n) or len(e) == 0 or replicates < 1:
        raise ValueError(f"need N > 0 utterances and replicates > 0 (N = {len(e)}, {len(n)})")
    out = [
        _replicate_rate(e[idx].sum(axis=1), n[idx].sum(axis=1))
        for idx in _draws(len(e), replicates, seed)
    ]
    return np.concatenate(out)


def bootstrap_ci(
    errors: Sequence[int] | np.ndarray,
    ref_lengths: Sequence[int] | np.ndarray,
    *,
    replicates: int = REPLICATES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(lo, hi)``, in percent, of the corpus error rate.

    Arguments as in :func:`bootstrap_rates`; ``level`` is the coverage (0.95: the 2.5th and
    97.5th percentiles of the replicate rates).
    """
    return _interval(bootstrap_rates(errors, ref_lengths, replicates=replicates, seed=seed), level)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Two systems scored on the same utterances; rates in percent, B minus A in points."""

    num_utterances: int
    reference_length: int
    errors_a: int
    errors_b: int
    rate_a: float
    rate_b: float
    difference: float  # rate_b - rate_a: negative when B makes fewer errors
    difference_ci: tuple[float, float]  # paired bootstrap interval of the difference
    prob_b_better: float  # fraction of paired replicates in which B has the lower rate
    utterances_b_better: int  # utterances where B has fewer errors than A
    utterances_a_better: int
    matched_pairs_p: float  # Gillick & Cox matched pairs, utterance segments, two-sided
    wilcoxon_p: float  # Wilcoxon signed-rank on per-utterance differences, two-sided
    alpha: float
    replicates: int
    seed: int

    @property
    def significant(self) -> bool:
        """Whether the matched-pairs test rejects "no difference" at ``alpha``."""
        return self.matched_pairs_p < self.alpha

    def verdict(self, name_a: str = "A", name_b: str = "B") -> str:
        """One line a user can quote."""
        if not self.significant:
            return (
                f"no significant difference between {name_a} and {name_b} at alpha = "
                f"{self.alpha:g} (matched-pairs p = {self.matched_pairs_p:.3g})"
            )
        better, worse = (name_b, name_a) if self.difference < 0 else (name_a, name_b)
        return (
            f"{better} is significantly better than {worse} at alpha = {self.alpha:g} "
            f"(matched-pairs p = {self.matched_pairs_p:.3g})"
        )

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["difference_ci"] = list(self.difference_ci)
        out["significant"] = self.significant
        return out


def matched_pairs_p(diffs: np.ndarray) -> float:
    """Two-sided p-value of Gillick & Cox's matched-pairs test on segment error differences.

    ``Z = mean(d) / (sd(d) / sqrt(n))`` with the sample standard deviation, compared with the
    standard normal (the segment count is assumed large, as in sclite's MAPSSWE). All-equal
    differences, where Z is undefined: 1.0 when they are zero, else the exact chance that all
    ``n`` fall on one side when either side is as likely, ``2 * 0.5 ** n`` (two utterances
    changed alike give 0.5, not a significant difference; thirty give 1.9e-9).
    """
    d = np.asarray(diffs, dtype=np.float64)
    mean = d.mean() if len(d) else 0.0
    sd = d.std(ddof=1) if len(d) > 1 else 0.0
    if sd == 0.0:
        return 1.0 if mean == 0.0 else min(1.0, 2.0 * 0.5 ** len(d))
    z = mean / (sd / math.sqrt(len(d)))
    from scipy import stats  # ~1 s to import: loaded by the paired tests only, not every command

    return float(2.0 * stats.norm.sf(abs(z)))


def wilcoxon_p(diffs: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value; zero differences are dropped (Wilcoxon's rule),
    and 1.0 when nothing is left."""
    d = np.asarray(diffs, dtype=np.float64)
    if not np.any(d != 0):
        return 1.0
    from scipy import stats  # ~1 s to import: loaded by the paired tests only, not every command

    return float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def compare_systems(
    errors_a: Sequence[int] | np.ndarray,
    errors_b: Sequence[int] | np.ndarray,
    ref_lengths: Sequence[int] | np.ndarray,
    *,
    replicates: int = REPLICATES,
    seed: int = SEED,
    level: float = LEVEL,
    alpha: float = ALPHA,
) -> Comparison:
    """Paired comparison of two systems' per-utterance errors on the same references.

    Args:
        errors_a, errors_b: ``(N,)`` errors (S + D + I) of each system per utterance.
        ref_lengths: ``(N,)`` reference symbols per utterance.
    """
    a, b = _as_counts("errors_a", errors_a), _as_counts("errors_b", errors_b)
    n = _as_counts("ref_lengths", ref_lengths)
    if not len(a) == len(b) == len(n) or len(n) == 0:
        raise ValueError(f"need equal, non-zero lengths, got {len(a)}, {len(b)}, {len(n)}")
    deltas = []
    for idx in _draws(len(n), replicates, seed):
        # Same draw for both systems: the pairing is what makes the comparison sharp.
        deltas.append(_replicate_rate(b[idx].sum(axis=1) - a[idx].sum(axis=1), n[idx].sum(axis=1)))
    delta = np.concatenate(deltas)
    diffs = b - a  # (N,) per-utterance error differences
    rate_a, rate_b = float(_rate(a.sum(), n.sum())), float(_rate(b.sum(), n.sum()))
    return Comparison(
        num_utterances=len(n),
        reference_length=int(n.sum()),
        errors_a=int(a.sum()),
        errors_b=int(b.sum()),
        rate_a=rate_a,
        rate_b=rate_b,
        difference=rate_b - rate_a,
        difference_ci=_interval(delta, level),
        prob_b_better=float(np.mean(delta[~np.isnan(delta)] < 0)),
        utterances_b_better=int(np.sum(diffs < 0)),
        utterances_a_better=int(np.sum(diffs > 0)),
        matched_pairs_p=matched_pairs_p(diffs),
        wilcoxon_p=wilcoxon_p(diffs),
        alpha=alpha,
        replicates=replicates,
        seed=seed,
    )
