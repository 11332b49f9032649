"""Back-off n-gram language models over token strings, and their use by the beam search.

:class:`NgramModel` holds an ARPA-style model: log10 probabilities of the listed n-grams and
log10 back-off weights of their contexts (Katz 1987; the format of SRILM and KenLM). Reading
and writing ARPA files and training are in ``lstmrec.inference.lm_files``.

Two adapters give the beam search (``models.beam.LanguageModel``) natural-log scores over the
decoder's symbol ids:

- :class:`SymbolLM`: one LM token per symbol (a phone bigram, a character n-gram).
- :class:`LexiconLM`: words spelled by symbols and separated by a space symbol; a prefix tree of
  the lexicon admits only symbols that continue a lexicon word, and the word n-gram scores each
  word when it is completed (by the space, or at the end).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

LN10 = math.log(10.0)  # ARPA files hold log10 probabilities; the decoder adds natural logs
BOS, EOS, UNK = "<s>", "</s>", "<unk>"
NO_PROB = -99.0  # the log10 probability ARPA files give <s> (it is never predicted)

Context = tuple[int, ...]


@dataclasses.dataclass
class NgramModel:
    """A back-off n-gram model.

    Attributes:
        vocab: token strings; a token's id is its index. Contains ``<s>`` and ``</s>``.
        probs: ``probs[n - 1]`` maps each listed n-gram (a tuple of ids) to its log10 probability.
        backoffs: log10 back-off weight of each n-gram that is a context (absent: 0).
    """

    vocab: tuple[str, ...]
    probs: list[dict[Context, float]]
    backoffs: dict[Context, float]

    def __post_init__(self) -> None:
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        for token in (BOS, EOS):
            if token not in self.ids:
                raise ValueError(f"the vocabulary lacks {token}")
        self._followers: dict[Context, tuple[np.ndarray, np.ndarray]] | None = None
        self._dists: dict[Context, np.ndarray] = {}

    @property
    def order(self) -> int:
        return len(self.probs)

    def id(self, token: str) -> int | None:
        """Id of ``token``, else of ``<unk>``, else None."""
        return self.ids.get(token, self.ids.get(UNK))

    def start(self) -> Context:
        """The context at the start of a sentence."""
        return self.advance((), self.ids[BOS])

    def advance(self, context: Context, token: int) -> Context:
        """The context after ``token``: its last ``order - 1`` tokens, shortened on the left
        while no n-gram continues it and it has no back-off weight (it then predicts exactly
        like its shorter suffix), which keeps the number of distinct states small."""
        h = (*context, token)[max(0, len(context) + 2 - self.order) :] if self.order > 1 else ()
        followers = self.followers()
        while h and h not in followers and self.backoffs.get(h, 0.0) == 0.0:
            h = h[1:]
        return h

    def log10_prob(self, context: Context, token: int) -> float:
        """log10 p(token | context) by back-off."""
        return float(self.log10_dist(context)[token])

    def log10_dist(self, context: Context) -> np.ndarray:
        """``(len(vocab),)`` log10 probability of every token after ``context`` (``<s>``
        included, at ``NO_PROB``); cached."""
        context = context[max(0, len(context) - self.order + 1) :]
        dist = self._dists.get(context)
        if dist is None:
            if context:
                dist = self.log10_dist(context[1:]) + self.backoffs.get(context, 0.0)
            else:
                dist = np.full(len(self.vocab), NO_PROB)
            ids, logp = self.followers().get(context, (None, None))
            if ids is not None:
                dist = dist.copy()
                dist[ids] = logp
            self._dists[context] = dist
        return dist

    def followers(self) -> dict[Context, tuple[np.ndarray, np.ndarray]]:
        """For each context, the ids of the tokens listed after it and their log10 probs."""
        if self._followers is None:
            grouped: dict[Context, tuple[list[int], list[float]]] = {}
            for table in self.probs:
                for gram, logp in table.items():
                    ids, probs = grouped.setdefault(gram[:-1], ([], []))
                    ids.append(gram[-1])
                    probs.append(logp)
            self._followers = {
                h: (np.array(i, dtype=np.int64), np.array(p)) for h, (i, p) in grouped.items()
            }
        return self._followers


def _token_ids(ngram: NgramModel, tokens: Sequence[str | None]) -> np.ndarray:
    """Ids of the tokens in ``ngram`` (``<unk>`` for unknown ones, -1 where there is none)."""
    ids = [-1 if t is None else ngram.id(t) for t in tokens]
    return np.array([-1 if i is None else i for i in ids], dtype=np.int64)


class SymbolLM:
    """An n-gram model over the decoder's symbols, one LM token per symbol.

    Args:
        ngram: the model.
        tokens: the LM token of each decoder class, ``(V + 1,)``; entry 0 (the blank) is unused.
            Tokens missing from the model score as ``<unk>``, or are impossible without one.
    """

    def __init__(self, ngram: NgramModel, tokens: Sequence[str | None]) -> None:
        self.ngram = ngram
        self.ids = _token_ids(ngram, [None, *tokens[1:]])
        self.missing = [t for t, i in zip(tokens[1:], self.ids[1:], strict=True) if i < 0]
        self.eos = ngram.ids[EOS]

    def initial_state(self) -> Context:
        return self.ngram.start()

    def scores(self, state: Context) -> np.ndarray:
        dist = self.ngram.log10_dist(state)
        out = np.where(self.ids >= 0, LN10 * dist[self.ids], -np.inf)  # (V + 1,)
        out[0] = 0.0
        return out

    def advance(self, state: Context, symbol: int) -> Context:
        return self.ngram.advance(state, int(self.ids[symbol]))

    def final(self, state: Context) -> float:
        return LN10 * self.ngram.log10_prob(state, self.eos)


class LexiconLM:
    """Words from a lexicon, spelled by decoder symbols, scored by a word n-gram.

    A hypothesis is a sequence of lexicon words separated by single space symbols (none before
    the first word or after the last). Within a
    word only symbols that continue some lexicon word are allowed (at no cost); the space (or
    the end of the sentence) completes the word and adds ``log p(word | previous words)``.

    Args:
        ngram: word n-gram model.
        words: the lexicon (each word a string of symbols, see ``spell``).
        spell: maps a word to its decoder symbol ids, or None when it cannot be spelled.
        space: the decoder id of the word separator.
        num_classes: ``V + 1``.
    """

    def __init__(self, ngram: NgramModel, words, *, spell, space: int, num_classes: int) -> None:
        self.ngram, self.space, self.num_classes = ngram, space, num_classes
        self.children: list[dict[int, int]] = [{}]
        self.word: list[int] = [-1]  # word LM id ending at each node, or -1
        self.skipped: list[str] = []  # lexicon words that cannot be spelled or scored
        for w in words:
            ids, token = spell(w), ngram.id(w)
            if not ids or token is None:
                self.skipped.append(w)
                continue
            node = 0
            for c in ids:
                nxt = self.children[node].get(c)
                if nxt is None:
                    nxt = self.children[node][c] = len(self.children)
                    self.children.append({})
                    self.word.append(-1)
                node = nxt
            self.word[node] = token
        self.eos = ngram.ids[EOS]

    # A state is (word context, trie node); the node is START before the first symbol, so that
    # the empty sentence may end there but a sentence ending in a space may not.
    START = -1

    def initial_state(self) -> tuple[Context, int]:
        return (self.ngram.start(), self.START)

    def scores(self, state: tuple[Context, int]) -> np.ndarray:
        context, node = state
        node = max(node, 0)
        out = np.full(self.num_classes, -np.inf)  # (V + 1,)
        out[0] = 0.0
        out[list(self.children[node])] = 0.0
        if self.word[node] >= 0:
            out[self.space] = LN10 * self.ngram.log10_prob(context, self.word[node])
        return out

    def advance(self, state: tuple[Context, int], symbol: int) -> tuple[Context, int]:
        context, node = state
        node = max(node, 0)
        if symbol == self.space:
            return (self.ngram.advance(context, self.word[node]), 0)
        return (context, self.children[node][symbol])

    def final(self, state: tuple[Context, int]) -> float:
        context, node = state
        if node == self.START:
            return LN10 * self.ngram.log10_prob(context, self.eos)
        if self.word[node] < 0:
            return -np.inf  # the last word is unfinished, or a space ends the sentence
        word = self.word[node]
        after = self.ngram.advance(context, word)
        last = self.ngram.log10_prob(context, word)
        return LN10 * (last + self.ngram.log10_prob(after, self.eos))
