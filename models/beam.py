"""CTC prefix beam search in NumPy, with optional shallow fusion of a language model.

The algorithm is the prefix beam search of Graves (2012, ch. 7.5) and Hannun et al. (2014): each
labelling prefix in the beam carries two log-probabilities, ``p_b`` (all paths of the frames so
far that yield the prefix and end in blank) and ``p_nb`` (those that end in its last symbol). At
each frame a prefix either stays (a blank, or a repeat of its last symbol that CTC merges) or is
extended by one symbol; an extension by the prefix's own last symbol only continues the paths
ending in blank (``a - a`` is two a's, ``a a`` one). Prefixes are nodes of a trie with integer ids,
so an extension that reaches a prefix already in the beam is merged into it by id.

Speed comes from doing each frame's work on whole ``(beam, candidates)`` arrays, and from
extending only with the symbols that matter on that frame: those whose probability is at least
``prune`` (default 1e-3; see :func:`beam_search`). Production decoders prune the same way (a
probability or cumulative-mass cut-off per frame); ``prune=0`` makes the search exact up to the
beam width.

Shallow fusion ranks hypotheses by ``log p_ctc + lm_weight * log p_lm + insertion_bonus * |y|``
with every log natural; the language model is any object with the :class:`LanguageModel`
methods (``models.lm`` has n-gram and lexicon models).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from typing import Protocol

import numpy as np

from models.align import forced_align
from models.decoding import BLANK, Token

NEG_INF = -np.inf
DEFAULT_PRUNE = 1e-3  # extend only with symbols at least this probable on the frame


class LanguageModel(Protocol):
    """What the beam search needs from a language model over the decoder's symbol ids.

    States must be hashable and equal for equal futures (the search caches by state).
    """

    def initial_state(self) -> Hashable:
        """State before the first symbol (after ``<s>``)."""

    def scores(self, state: Hashable) -> np.ndarray:
        """``(V + 1,)`` natural-log probability of each symbol following ``state`` (entry 0,
        the blank, is ignored; ``-inf`` forbids a symbol)."""

    def advance(self, state: Hashable, symbol: int) -> Hashable:
        """The state after ``symbol``."""

    def final(self, state: Hashable) -> float:
        """Natural-log probability of ending the sentence in ``state`` (``</s>``)."""


@dataclasses.dataclass(frozen=True)
class Hypothesis:
    """One labelling with its scores (natural logs).

    ``acoustic`` is the prefix beam's ``log p_ctc(labels | x)``: the sum over the alignments the
    search kept, equal to the CTC forward score when none were pruned.
    """

    labels: tuple[int, ...]
    acoustic: float
    lm: float  # log p_lm(labels), end of sentence included; 0 without a language model
    score: float  # acoustic + lm_weight * lm + insertion_bonus * len(labels)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``(T, C)`` logits to natural-log probabilities over the last axis (float64)."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


class _Trie:
    """Prefixes as integer ids: parent, last symbol, length, LM state and fused extra score
    (``lm_weight * log p_lm + insertion_bonus * length``) per id; node 0 is the empty prefix."""

    def __init__(self, num_classes: int, lm: LanguageModel | None, lm_weight: float, bonus: float):
        self.num_classes, self.lm, self.lm_weight, self.bonus = num_classes, lm, lm_weight, bonus
        self.children: dict[int, int] = {}
        self.parent = np.full(64, -1, dtype=np.int64)
        self.symbol = np.zeros(64, dtype=np.int64)
        self.extra = np.zeros(64)
        self.lm_log = np.zeros(64)
        self.dist_row = np.zeros(64, dtype=np.int64)
        self.size = 1
        self.states: list[Hashable] = [None]
        self.rows: dict[Hashable, int] = {}
        self.table = np.zeros((0, num_classes))  # (distinct LM states, V + 1) fused LM scores
        if lm is not None:
            self.states[0] = lm.initial_state()
            self.dist_row[0] = self._row(self.states[0])

    def _row(self, state: Hashable) -> int:
        row = self.rows.get(state)
        if row is None:
            row = self.rows[state] = len(self.rows)
            if row >= len(self.table):
                grown = np.zeros((max(16, 2 * len(self.table)), self.num_classes))
                grown[: len(self.table)] = self.table
                self.table = grown
            self.table[row] = np.asarray(self.lm.scores(state), dtype=np.float64)
        return row

    def child(self, node: int, sym: int, lm_score: float) -> int:
        key = node * self.num_classes + sym
        found = self.children.get(key)
        if found is not None:
            return found
        new = self.children[key] = self.size
        if new == len(self.parent):
            for name in ("parent", "symbol", "extra", "lm_log", "dist_row"):
                arr = getattr(self, name)
                setattr(self, name, np.concatenate([arr, np.zeros_like(arr)]))
        self.size += 1
        self.parent[new], self.symbol[new] = node, sym
        self.lm_log[new] = self.lm_log[node] + lm_score
        self.extra[new] = self.extra[node] + self.lm_weight * lm_score + self.bonus
        if self.lm is not None:
            state = self.lm.advance(self.states[node], sym)
            self.states.append(state)
            self.dist_row[new] = self._row(state)
        return new

    def labels(self, node: int) -> tuple[int, ...]:
        out = []
        while node > 0:
            out.append(int(self.symbol[node]))
            node = int(self.parent[node])
        return tuple(reversed(out))


def _merge_into_beam(trie: _Trie, ids, cand_pos, ext, new_pnb) -> None:
    """Add each extension that reproduces a prefix already in the beam to that prefix's
    ``p_nb`` and drop it from the extensions (in place). A beam prefix ``j`` is the extension of
    beam prefix ``i`` by ``c`` exactly when ``parent[j] == ids[i]`` and ``symbol[j] == c``."""
    order = np.argsort(ids)
    parents = trie.parent[ids]  # (K,)
    pos = np.clip(np.searchsorted(ids[order], parents), 0, len(ids) - 1)
    i = order[pos]  # (K,) beam index of each prefix's parent, where found
    q = cand_pos[trie.symbol[ids]]  # (K,) candidate column of each prefix's last symbol
    j = np.flatnonzero((ids[i] == parents) & (q >= 0))
    if len(j):
        new_pnb[j] = np.logaddexp(new_pnb[j], ext[i[j], q[j]])
        ext[i[j], q[j]] = NEG_INF


def beam_search(
    log_probs: np.ndarray,
    *,
    beam: int = 100,
    nbest: int = 1,
    lm: LanguageModel | None = None,
    lm_weight: float = 0.0,
    insertion_bonus: float = 0.0,
    prune: float = DEFAULT_PRUNE,
) -> list[Hypothesis]:
    """CTC prefix beam search of one utterance.

    Args:
        log_probs: ``(T, V + 1)`` natural-log class probabilities (see :func:`log_softmax`),
            blank at index 0; only the true frames (no padding).
        beam: prefixes kept after each frame.
        nbest: hypotheses returned (at most ``beam``).
        lm: optional language model (:class:`LanguageModel`) fused into the ranking.
        lm_weight: weight of the natural-log LM probability.
        insertion_bonus: added per label (counters the LM's preference for short outputs).
        prune: on each frame, only symbols with probability ``>= prune`` extend prefixes (the
            blank and repeats of a prefix's last symbol are always scored). An extension below
            the cut-off has at most ``prune`` times the mass of its parent on that frame.

    Returns:
        Up to ``nbest`` distinct hypotheses, best first by ``score``.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs must be (T, V+1), got shape {log_probs.shape}")
    if beam < 1 or nbest < 1:
        raise ValueError(f"beam={beam} and nbest={nbest} must be at least 1")
    num_classes = log_probs.shape[1]
    trie = _Trie(num_classes, lm, lm_weight, insertion_bonus)
    log_cut = np.log(prune) if prune > 0 else NEG_INF
    ids = np.zeros(1, dtype=np.int64)  # (K,) prefix ids in the beam
    pb, pnb = np.zeros(1), np.full(1, NEG_INF)  # (K,) log p_b, log p_nb
    cand_pos = np.full(num_classes, -1, dtype=np.int64)
    for lp in log_probs:  # (V + 1,)
        last = trie.symbol[ids]  # (K,) 0 for the empty prefix
        total = np.logaddexp(pb, pnb)
        new_pb = total + lp[BLANK]
        new_pnb = np.where(last > 0, pnb + lp[last], NEG_INF)
        cands = np.flatnonzero(lp[1:] >= log_cut) + 1  # (C,) symbols worth extending with
        cand_pos[:] = -1
        cand_pos[cands] = np.arange(len(cands))
        # (K, C) extensions; a repeat of the last symbol only follows paths ending in blank.
        ext = np.where(last[:, None] == cands, pb[:, None], total[:, None]) + lp[cands]
        _merge_into_beam(trie, ids, cand_pos, ext, new_pnb)
        fused = trie.extra[ids]
        keep_scores = np.logaddexp(new_pb, new_pnb) + fused  # (K,)
        ext_scores = ext + fused[:, None] + insertion_bonus  # (K, C)
        if lm is not None:
            ext_lm = trie.table[trie.dist_row[ids]][:, cands]  # (K, C)
            ext_scores = ext_scores + lm_weight * ext_lm
        scores = np.concatenate([keep_scores, ext_scores.ravel()])  # (K + K*C,)
        top = np.flatnonzero(scores > NEG_INF)
        if len(top) > beam:
            top = top[np.argpartition(-scores[top], beam - 1)[:beam]]
        old, new = top[top < len(ids)], top[top >= len(ids)] - len(ids)
        k, q = np.divmod(new, len(cands)) if len(cands) else (new, new)
        lm_new = ext_lm[k, q] if lm is not None else np.zeros(len(new))
        children = [
            trie.child(int(p), int(c), float(s))
            for p, c, s in zip(ids[k], cands[q], lm_new, strict=True)
        ]
        ids = np.concatenate([ids[old], np.asarray(children, dtype=np.int64)])
        pb = np.concatenate([new_pb[old], np.full(len(new), NEG_INF)])
        pnb = np.concatenate([new_pnb[old], ext[k, q]])
    return _finish(trie, ids, np.logaddexp(pb, pnb), lm, lm_weight, nbest)


def _finish(trie: _Trie, ids, acoustic, lm, lm_weight: float, nbest: int) -> list[Hypothesis]:
    """Add the LM's end-of-sentence score and return the ``nbest`` best hypotheses."""
    end = np.zeros(len(ids))
    if lm is not None:
        end = np.array([lm.final(trie.states[i]) for i in ids])
    scores = acoustic + trie.extra[ids] + lm_weight * end
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > NEG_INF][:nbest]
    return [
        Hypothesis(
            labels=trie.labels(int(ids[i])),
            acoustic=float(acoustic[i]),
            lm=float(trie.lm_log[ids[i]] + end[i]),
            score=float(scores[i]),
        )
        for i in order
    ]


def beam_decode(log_probs: np.ndarray, **options) -> tuple[list[Token], list[Hypothesis]]:
    """:func:`beam_search` plus the frames of the best hypothesis's symbols.

    Returns the best hypothesis as :class:`Token` spans (by :func:`models.align.forced_align`,
    the same tiling as :func:`models.decoding.greedy_decode`) and the N-best list.
    """
    hyps = beam_search(log_probs, **options)
    if not hyps:
        return [], []
    return forced_align(log_probs, hyps[0].labels), hyps
