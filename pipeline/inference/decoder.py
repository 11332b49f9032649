"""Batched inference: features -> logits -> decoded tokens, shared by training and commands.

The decoding choice lives here, in one place: :class:`DecoderOptions` (filled from a bundle's
recipe and the command line) gives a :class:`Decoder`, greedy best path or prefix beam search
with an optional language model. Training's dev evaluation always decodes greedily (fast).

A transducer bundle's model gives projected encoder outputs instead of logits
(``models.numpy_transducer``); its decoder (:func:`bundle_decoder`) runs the transducer's
greedy or beam search (Graves 2012) over them, with the same results and outputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from lstmrec.config import DecodingConfig
from lstmrec.features.audio import apply_cmvn
from lstmrec.features.errors import DataError, report_or_raise
from lstmrec.inference.lm_files import decoder_lm
from lstmrec.models.align import ctc_log_likelihood
from lstmrec.models.beam import Hypothesis, beam_decode, log_softmax
from lstmrec.models.decoding import Token, greedy_decode
from lstmrec.models.numpy_transducer import path_log_probs
from lstmrec.models.transducer_decoding import (
    TransducerStep,
    beam_transducer,
    greedy_transducer,
    sequence_log_prob,
    transducer_tokens,
)
from lstmrec.padding import bucket_batches, pad_features
from lstmrec.progress import progress as progress_bar


@dataclasses.dataclass(frozen=True)
class DecoderOptions:
    """How to decode; fields as in the recipe's ``[decoding]`` table (``DecodingConfig``)."""

    beam: int = 100  # 0 or 1: greedy best path
    nbest: int = 1
    lm: str | None = None  # ARPA file
    lm_weight: float = 0.5
    insertion_bonus: float = 0.0
    lexicon: str | None = None  # word list; needs a word LM

    @classmethod
    def from_summary(cls, summary: dict, **overrides) -> DecoderOptions:
        """The bundle's recipe decoding settings (defaults for bundles trained before they
        existed), with the ``overrides`` that are not None."""
        table = summary.get("recipe", {}).get("decoding", {})
        cfg = DecodingConfig(**{k: v for k, v in table.items() if k in DECODING_FIELDS})
        values = dataclasses.asdict(cfg)
        values.update(lm=cfg.lm or None, lexicon=cfg.lexicon or None)  # "" means none
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def greedy(self) -> bool:
        return self.beam <= 1


DECODING_FIELDS = tuple(f.name for f in dataclasses.fields(DecodingConfig))


@dataclasses.dataclass(frozen=True)
class Decoded:
    """One utterance's result: the best hypothesis as timed tokens, and the N-best list (natural
    logs) when more than one hypothesis was asked for (``nbest > 1``; else it is empty), however
    few the search found. Greedy decoding gives one hypothesis, the best path's labelling, with
    its CTC forward score, or a transducer's ``log P(labels | x)`` over its whole lattice
    (computed only then: the forward pass over a long file costs a third of a greedy
    transcription)."""

    tokens: list[Token]
    nbest: list[Hypothesis]
    # A transducer's (T, V + 1) log-probabilities at each frame on the best path (before the
    # frame's blank), the counterpart of CTC's frame posteriors; None for CTC
    frame_log_probs: np.ndarray | None = None


# Labels one transducer hypothesis may add on one frame: phones and characters come at most a
# few per frame, and the cap bounds the beam search where the blank is improbable.
TRANSDUCER_SYMBOLS_PER_FRAME = 8


class Decoder:
    """Decodes ``(T, V + 1)`` logits with the given options; loads the LM once.

    Args:
        options: the decoding options.
        classes: the model's class names ``[blank, s1, ..., sV]`` (the LM is matched to them).
        transducer: a transducer's step functions; then the decoder reads its projected encoder
            outputs, not logits, and takes no language model.
    """

    def __init__(
        self,
        options: DecoderOptions,
        classes: Sequence[str],
        *,
        transducer: TransducerStep | None = None,
    ) -> None:
        if options.lexicon and not options.lm:
            raise DataError("a lexicon needs a word language model (--lm)", options.lexicon)
        if transducer is not None and options.lm and not options.greedy:
            raise DataError(
                "a transducer decodes without an external language model; drop --lm", options.lm
            )
        if transducer is not None and options.insertion_bonus and not options.greedy:
            raise DataError(
                f"a transducer decodes without an insertion bonus; drop --insertion-bonus "
                f"{options.insertion_bonus:g}"
            )
        self.options = options
        self.transducer = transducer
        self.lm = None
        if options.lm and not options.greedy and transducer is None:
            self.lm = decoder_lm(classes, lm_path=options.lm, lexicon_path=options.lexicon)

    def __call__(self, logits: np.ndarray) -> Decoded:
        decoded = self._decode(logits)
        return decoded if self.options.nbest > 1 else dataclasses.replace(decoded, nbest=[])

    def _decode(self, logits: np.ndarray) -> Decoded:
        o = self.options
        if self.transducer is not None:
            return self._transducer(logits)
        log_probs = log_softmax(logits)  # (T, V + 1)
        if o.greedy:
            tokens = greedy_decode(log_probs)
            labels = tuple(t.symbol for t in tokens)
            score = ctc_log_likelihood(log_probs, labels) if o.nbest > 1 else float("nan")
            return Decoded(tokens, [Hypothesis(labels, score, 0.0, score)])
        tokens, hyps = beam_decode(
            log_probs,
            beam=o.beam,
            nbest=o.nbest,
            lm=self.lm,
            lm_weight=o.lm_weight,
            insertion_bonus=o.insertion_bonus,
        )
        return Decoded(tokens, hyps)

    def _transducer(self, enc: np.ndarray) -> Decoded:
        o, step, cap = self.options, self.transducer, TRANSDUCER_SYMBOLS_PER_FRAME
        if o.greedy:
            found = [greedy_transducer(enc, step, max_symbols_per_frame=cap)]
            if o.nbest > 1:  # the labelling's probability, as CTC's forward score: every path
                exact = sequence_log_prob(enc, step, found[0].labels)
                found = [dataclasses.replace(found[0], acoustic=exact, score=exact)]
        else:
            found = beam_transducer(
                enc, step, beam=o.beam, nbest=o.nbest, max_symbols_per_frame=cap
            )
        best = found[0]
        hyps = [Hypothesis(h.labels, h.acoustic, h.lm, h.score) for h in found]
        frames = path_log_probs(enc, step, best.labels, best.frames)
        return Decoded(transducer_tokens(best), hyps, frames)


def bundle_decoder(bundle, options: DecoderOptions | None = None) -> Decoder:
    """A :class:`Decoder` for ``bundle``'s model (CTC or transducer) with ``options`` (None:
    its recipe's ``[decoding]`` settings)."""
    options = options or DecoderOptions.from_summary(bundle.summary)
    step = getattr(bundle.model, "step", None) if bundle.kind == "transducer" else None
    return Decoder(options, bundle.symbols.to_list(), transducer=step)


def predict_logits(
    model, feats: Sequence[np.ndarray], *, batch_size: int = 16, pad_multiple: int = 32
) -> list[np.ndarray]:
    """Run the acoustic model on utterances of any lengths.

    Utterances are batched by length and padded (the model reverses each one by its own length,
    so padding never changes the result).

    Args:
        model: ``[features (B, T, F), lengths (B,)] -> logits (B, T, V + 1)``.
        feats: list of ``(T_i, F)`` float32 arrays, already normalised.

    Returns:
        List of ``(T_i, V + 1)`` float32 logits, in the order of ``feats``.
    """
    out: list[np.ndarray | None] = [None] * len(feats)
    lengths = np.array([len(f) for f in feats])
    for idx in bucket_batches(lengths, batch_size=batch_size):
        x, x_len = pad_features([feats[i] for i in idx], multiple=pad_multiple)
        logits = np.asarray(model.predict_on_batch([x, x_len]))  # (B, T, V + 1)
        for row, i in enumerate(idx):
            out[i] = logits[row, : x_len[row]]
    return out


def recognize_features(
    model, feats: Sequence[np.ndarray], mean: np.ndarray, std: np.ndarray, **kwargs
) -> list[list[Token]]:
    """CMVN, acoustic model and best-path decoding for raw ``(T_i, F)`` feature arrays (a
    transducer's ``model`` is a ``TransducerNetwork``)."""
    normed = [apply_cmvn(f, mean, std) for f in feats]
    outputs = predict_logits(model, normed, **kwargs)
    if getattr(model, "kind", "ctc") == "transducer":
        cap = TRANSDUCER_SYMBOLS_PER_FRAME
        return [
            transducer_tokens(greedy_transducer(a, model.step, max_symbols_per_frame=cap))
            for a in outputs
        ]
    return [greedy_decode(lg) for lg in outputs]


def decode_features(
    model,
    feats: Sequence[np.ndarray],
    mean: np.ndarray,
    std: np.ndarray,
    decoder: Decoder,
    *,
    progress: bool = False,
    **kwargs,
) -> list[Decoded]:
    """CMVN, acoustic model and ``decoder`` for raw ``(T_i, F)`` feature arrays."""
    if not feats:
        return []
    normed = [apply_cmvn(f, mean, std) for f in feats]
    logits = predict_logits(model, normed, **kwargs)
    show = progress and not decoder.options.greedy
    bar = progress_bar(logits, show=show, desc="beam search")  # on a terminal only
    return [decoder(lg) for lg in bar]


def recipe_decoder(bundle) -> Decoder:
    """The decoder a bundle's recipe asks for (its ``[decoding]`` table, or the defaults)."""
    return bundle_decoder(bundle)


def decode_in_chunks(
    items: Sequence,
    featurize: Callable[[object], list[tuple[object, np.ndarray]]],
    bundle,
    decoder: Decoder | None = None,
    *,
    on_error: Callable[[DataError], None] | None = None,
    chunk_size: int = 16,
) -> Iterator[tuple[object, Decoded]]:
    """Decode many inputs with ``bundle`` (its model, CMVN statistics and, when ``decoder`` is
    None, its recipe's decoder), a chunk at a time: only one chunk's features are in memory.

    ``featurize(item)`` returns ``[(key, (T, F) float32 raw features), ...]`` (several for a
    file of many samples) or raises :class:`DataError`, which goes to ``on_error`` (the item is
    skipped) or is raised when that is None (or ``on_error`` raises it again: a strict
    command). Yields ``(key, decoded)`` in input order; the items before one that raises are
    decoded and yielded before the error is.
    """
    decoder = decoder or recipe_decoder(bundle)
    for start in range(0, len(items), chunk_size):
        keys, feats, stop = [], [], None
        for item in items[start : start + chunk_size]:
            try:
                pieces = featurize(item)
            except DataError as e:
                try:
                    report_or_raise(e, on_error)
                except DataError as raised:
                    stop = raised
                    break
                continue
            for key, f in pieces:
                keys.append(key)
                feats.append(f)
        decoded = decode_features(bundle.model, feats, bundle.mean, bundle.std, decoder)
        yield from zip(keys, decoded, strict=True)
        if stop is not None:
            raise stop


def posteriors(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis: ``(..., V + 1)`` logits -> float32 probabilities."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))  # shifted: exp never overflows
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)
