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

from lstmrec.models.align import forced_align
from lstmrec.models.decoding import BLANK, Token

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
    """Prefixes as integer ids, node 0 the empty prefix. Per id: parent, last symbol, LM
    log-probability, fused extra score (``lm_weight * log p_lm + insertion_bonus * length``),
    the frame it entered the beam first (``born``) and the row of its LM state in ``table``,
    which holds each distinct state's scores once."""

    def __init__(self, num_classes: int, lm: LanguageModel | None, lm_weight: float, bonus: float):
        self.num_classes, self.lm, self.lm_weight, self.bonus = num_classes, lm, lm_weight, bonus
        self.children: dict[int, int] = {}
        self.parent = np.zeros(64, dtype=np.int64)  # the root is its own parent (by blank)
        self.symbol = np.zeros(64, dtype=np.int64)
        self.extra = np.zeros(64)
        self.lm_log = np.zeros(64)
        self.dist_row = np.zeros(64, dtype=np.int64)
        self.born = np.zeros(64, dtype=np.int64)
        self.frame = 0  # the frame being searched: the birth frame of new prefixes
        self.slot = np.full(64, -1, dtype=np.int64)  # position in the current beam, or -1
        self.size = 1
        self.rows: dict[Hashable, int] = {}  # LM state -> row of ``table``
        self.row_states: list[Hashable] = []  # row -> LM state
        self.transitions: dict[int, int] = {}  # row * num_classes + symbol -> next row
        self.table = np.zeros((0, num_classes))  # (distinct LM states, V + 1) fused LM scores
        if lm is not None:
            self.dist_row[0] = self._row(lm.initial_state())

    def _row(self, state: Hashable) -> int:
        row = self.rows.get(state)
        if row is None:
            row = self.rows[state] = len(self.rows)
            self.row_states.append(state)
            if row >= len(self.table):
                grown = np.zeros((max(16, 2 * len(self.table)), self.num_classes))
                grown[: len(self.table)] = self.table
                self.table = grown
            self.table[row] = np.asarray(self.lm.scores(state), dtype=np.float64)
        return row

    def children_of(self, nodes: np.ndarray, syms: np.ndarray, lm_scores: np.ndarray | None):
        """Ids of the prefixes ``nodes[i] + syms[i]`` ``(N,)``, created where new; ``lm_scores``
        ``(N,)`` are the natural-log LM probabilities of ``syms`` after ``nodes`` (None: no
        LM)."""
        keys = (nodes * self.num_classes + syms).tolist()
        get = self.children.get
        found = [get(k, -1) for k in keys]
        ids = np.array(found, dtype=np.int64)
        if -1 not in found:
            return ids
        new = np.flatnonzero(ids < 0)
        first, end = self.size, self.size + len(new)
        while end > len(self.parent):  # grow every per-node array
            for name in ("parent", "symbol", "extra", "lm_log", "dist_row", "born", "slot"):
                arr = getattr(self, name)
                fill = -1 if name == "slot" else 0
                setattr(self, name, np.concatenate([arr, np.full_like(arr, fill)]))
        ids[new] = np.arange(first, end)
        self.size = end
        self.children.update(zip([keys[i] for i in new], range(first, end), strict=True))
        parents, new_syms = nodes[new], syms[new]
        self.parent[first:end], self.symbol[first:end] = parents, new_syms
        self.born[first:end] = self.frame
        if lm_scores is None:  # no language model
            self.extra[first:end] = self.extra[parents] + self.bonus
        else:
            lm_new = lm_scores[new]
            self.lm_log[first:end] = self.lm_log[parents] + lm_new
            self.extra[first:end] = self.extra[parents] + self.lm_weight * lm_new + self.bonus
        if self.lm is not None:
            self.dist_row[first:end] = self._next_rows(self.dist_row[parents], new_syms)
        return ids

    def _next_rows(self, rows: np.ndarray, syms: np.ndarray) -> list[int]:
        """LM state rows after ``syms`` from state rows ``rows``, memoised by (row, symbol)."""
        out = []
        for key in (rows * self.num_classes + syms).tolist():
            row = self.transitions.get(key)
            if row is None:
                state = self.lm.advance(
                    self.row_states[key // self.num_classes], key % self.num_classes
                )
                row = self.transitions[key] = self._row(state)
            out.append(row)
        return out

    def labels(self, node: int) -> tuple[int, ...]:
        out = []
        while node > 0:
            out.append(int(self.symbol[node]))
            node = int(self.parent[node])
        return tuple(reversed(out))

    def births(self, node: int) -> np.ndarray:
        """``(L,)`` the frame each prefix ending a label of ``node`` entered the beam first."""
        out = []
        while node > 0:
            out.append(int(self.born[node]))
            node = int(self.parent[node])
        return np.array(out[::-1], dtype=np.int64)


def _extensions(trie: _Trie, ids, last, pb, total, lp, cands, cand_pos, new_pnb) -> np.ndarray:
    """The ``(K, C)`` log-probabilities of extending each beam prefix by each candidate symbol.

    An extension by the prefix's own last symbol only follows its paths that end in blank
    (``a - a`` is two a's). An extension that reproduces a prefix already in the beam is added
    to that prefix's ``new_pnb`` (in place) and set to ``-inf``: beam prefix ``j`` is the
    extension of beam prefix ``i`` by ``c`` exactly when ``parent[j] == ids[i]`` and
    ``symbol[j] == c``. ``cand_pos`` maps each candidate symbol to its column (-1 elsewhere).
    """
    ext = total[:, None] + lp[cands]  # (K, C)
    q = cand_pos[last]  # (K,) column of each prefix's last symbol among the candidates, or -1
    rep = np.flatnonzero(q >= 0)
    if len(rep) == 0:
        return ext
    ext[rep, q[rep]] = pb[rep] + lp[last[rep]]
    trie.slot[ids] = np.arange(len(ids))
    i = trie.slot[trie.parent[ids[rep]]]  # beam index of those prefixes' parents, or -1
    trie.slot[ids] = -1
    found = i >= 0
    j, i = rep[found], i[found]
    if len(j):
        new_pnb[j] = np.logaddexp(new_pnb[j], ext[i, q[j]])
        ext[i, q[j]] = NEG_INF
    return ext


def _candidates(log_probs: np.ndarray, prune: float) -> list[np.ndarray]:
    """Per frame, the symbols (ids >= 1) with probability ``>= prune``: ``T`` arrays."""
    if prune <= 0:
        return [np.arange(1, log_probs.shape[1])] * len(log_probs)
    rows, cols = np.nonzero(log_probs[:, 1:] >= np.log(prune))
    bounds = np.searchsorted(rows, np.arange(len(log_probs) + 1)).tolist()
    cols = cols + 1
    return [cols[b:e] for b, e in zip(bounds[:-1], bounds[1:], strict=True)]


def _select(scores: np.ndarray, beam: int) -> np.ndarray:
    """Indices of the ``beam`` best finite ``scores`` (any order)."""
    n = len(scores)
    top = np.argpartition(scores, n - beam)[n - beam :] if n > beam else np.arange(n)
    return top[scores[top] > NEG_INF]


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
    """CTC prefix beam search of one utterance (:func:`beam_search_timed` without the times).

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
    return beam_search_timed(
        log_probs,
        beam=beam,
        nbest=nbest,
        lm=lm,
        lm_weight=lm_weight,
        insertion_bonus=insertion_bonus,
        prune=prune,
    )[0]


def beam_search_timed(
    log_probs: np.ndarray,
    *,
    beam: int = 100,
    nbest: int = 1,
    lm: LanguageModel | None = None,
    lm_weight: float = 0.0,
    insertion_bonus: float = 0.0,
    prune: float = DEFAULT_PRUNE,
) -> tuple[list[Hypothesis], np.ndarray]:
    """:func:`beam_search` (same arguments), plus ``(L,)`` int64, for each label of the best
    hypothesis, the frame at which the search first extended a prefix by it: a guide to where
    the label's spike is, which :func:`models.align.forced_align` aligns around.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs must be (T, V+1), got shape {log_probs.shape}")
    if beam < 1 or nbest < 1:
        raise ValueError(f"beam={beam} and nbest={nbest} must be at least 1")
    num_classes = log_probs.shape[1]
    trie = _Trie(num_classes, lm, lm_weight, insertion_bonus)
    # The empty prefix's "last symbol" is an extra class of probability 0, so that it has no
    # repeat to continue and is never extended as a repeat.
    trie.symbol[0] = num_classes
    cands_per_frame = _candidates(log_probs, prune)
    log_probs = np.concatenate([log_probs, np.full((len(log_probs), 1), NEG_INF)], axis=1)
    ids = np.zeros(1, dtype=np.int64)  # (K,) prefix ids in the beam
    pb, pnb = np.zeros(1), np.full(1, NEG_INF)  # (K,) log p_b, log p_nb
    cand_pos = np.full(num_classes + 1, -1, dtype=np.int64)  # column of each candidate symbol
    for frame, (lp, cands) in enumerate(zip(log_probs, cands_per_frame, strict=True)):
        trie.frame = frame
        last = trie.symbol[ids]  # (K,)
        total = np.logaddexp(pb, pnb)
        new_pb = total + lp[BLANK]
        new_pnb = pnb + lp[last]
        if len(cands) == 0:  # a sure blank (or repeat) frame: every prefix just stays
            pb, pnb = new_pb, new_pnb
            continue
        cand_pos[cands] = np.arange(len(cands))
        ext = _extensions(trie, ids, last, pb, total, lp, cands, cand_pos, new_pnb)  # (K, C)
        cand_pos[cands] = -1
        fused = trie.extra[ids]  # (K,)
        ext_scores = ext + (fused + insertion_bonus)[:, None]  # (K, C)
        if lm is not None:
            ext_lm = trie.table[trie.dist_row[ids][:, None], cands]  # (K, C)
            ext_scores += lm_weight * ext_lm
        keep_scores = np.logaddexp(new_pb, new_pnb) + fused  # (K,)
        top = _select(np.concatenate([keep_scores, ext_scores.ravel()]), beam)
        old, new = top[top < len(ids)], top[top >= len(ids)] - len(ids)
        k, q = np.divmod(new, len(cands))
        lm_new = ext_lm[k, q] if lm is not None else None
        ids = np.concatenate([ids[old], trie.children_of(ids[k], cands[q], lm_new)])
        pb = np.concatenate([new_pb[old], np.full(len(new), NEG_INF)])
        pnb = np.concatenate([new_pnb[old], ext[k, q]])
    return _finish(trie, ids, np.logaddexp(pb, pnb), lm, lm_weight, nbest)


def _finish(trie: _Trie, ids, acoustic, lm, lm_weight: float, nbest: int):
    """Add the LM's end-of-sentence score; ``(the nbest best hypotheses, births of the best)``."""
    end = np.zeros(len(ids))
    if lm is not None:
        end = np.array([lm.final(trie.row_states[r]) for r in trie.dist_row[ids].tolist()])
    scores = acoustic + trie.extra[ids] + lm_weight * end
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > NEG_INF][:nbest]
    births = trie.births(int(ids[order[0]])) if order else np.zeros(0, dtype=np.int64)
    hyps = [
        Hypothesis(
            labels=trie.labels(int(ids[i])),
            acoustic=float(acoustic[i]),
            lm=float(trie.lm_log[ids[i]] + end[i]),
            score=float(scores[i]),
        )
        for i in order
    ]
    return hyps, births


def beam_decode(log_probs: np.ndarray, **options) -> tuple[list[Token], list[Hypothesis]]:
    """:func:`beam_search` plus the frames of the best hypothesis's symbols.

    Returns the best hypothesis as :class:`Token` spans (by :func:`models.align.forced_align`
    around the frames where the search found each label, the same tiling as
    :func:`models.decoding.greedy_decode`) and the N-best list.
    """
    hyps, births = beam_search_timed(log_probs, **options)
    if not hyps:
        return [], []
    return forced_align(log_probs, hyps[0].labels, guide=births), hyps
