"""Language model files: ARPA reading and writing, n-gram training, lexicons, and the LMs the
beam search uses for a model's symbol table.

ARPA is the text format of SRILM and KenLM (``\\data\\``, ``ngram N=count``, one ``\\N-grams:``
section per order with ``log10-prob tokens [log10-backoff]`` lines, ``\\end\\``), so models
trained with those tools load here and models trained here load there.

Training uses interpolated Witten-Bell smoothing (Witten and Bell 1991; SRILM's ``-wbdiscount
-interpolate``): ``p(w | h) = (c(h w) + T(h) p(w | h')) / (c(h) + T(h))`` with ``T(h)`` the number
of distinct tokens seen after ``h`` and ``h'`` the context without its oldest token, down to a
uniform distribution. In back-off form each seen n-gram is listed with its interpolated
probability and each context gets the back-off weight ``T(h) / (c(h) + T(h))``, which makes the
ARPA model exactly the interpolated one: every context's distribution sums to 1.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from lstmrec.features.errors import DataError, report_or_raise
from lstmrec.features.files import regular_file, write_text
from lstmrec.models.lm import BOS, EOS, LN10, NO_PROB, UNK, LexiconLM, NgramModel, SymbolLM
from lstmrec.targets import SPACE, symbols_text, text_symbols, utterance_symbols

# SPACE, the symbol of a word gap, is also the LM token of the space between words in character
# models, so an LM trained on text fits a model's symbol table.
# Symbol-table names a recognizer may give the space character (symbols cannot be white space).
SPACE_SYMBOLS = ("<space>", "<sp>", "|", "_", "\u2581")


def train_ngram(sentences: Iterable[Sequence[str]], order: int) -> NgramModel:
    """Interpolated Witten-Bell n-gram model of ``sentences`` (lists of tokens).

    The vocabulary is every token seen plus ``<s>``, ``</s>`` and ``<unk>`` (which gets only the
    uniform share). Each sentence is scored as ``<s> w1 ... wn </s>``.
    """
    if order < 1:
        raise ValueError(f"order={order} must be at least 1")
    counts: list[Counter] = [Counter() for _ in range(order)]
    for sent in sentences:
        toks = [BOS, *sent, EOS]
        for i in range(1, len(toks)):
            for n in range(1, min(order, i + 1) + 1):
                counts[n - 1][tuple(toks[i - n + 1 : i + 1])] += 1
    if not counts[0]:
        raise ValueError("no sentences to train on")
    words = sorted({g[0] for g in counts[0]} - {EOS, UNK})
    vocab = (BOS, EOS, UNK, *words)
    ids = {w: i for i, w in enumerate(vocab)}
    predicted = len(vocab) - 1  # <s> is never predicted
    probs: list[dict] = [dict() for _ in range(order)]
    backoffs: dict = {}
    # Context statistics: c(h) and T(h) for every context of every order.
    ctx_count: Counter = Counter()
    ctx_types: Counter = Counter()
    for table in counts:
        for gram, c in table.items():
            ctx_count[gram[:-1]] += c
            ctx_types[gram[:-1]] += 1
    lower: dict = {}  # interpolated probabilities of the order below, by id tuple
    for n, table in enumerate(counts, start=1):
        current = {}
        for gram, c in table.items():
            gram_ids = tuple(ids[w] for w in gram)
            # (h', w) was counted wherever (h, w) was, so the order below always lists it.
            below = lower[gram_ids[1:]] if n > 1 else 1.0 / predicted
            h = gram[:-1]
            current[gram_ids] = (c + ctx_types[h] * below) / (ctx_count[h] + ctx_types[h])
        if n == 1:  # tokens never seen get the uniform share
            unseen = ctx_types[()] / (ctx_count[()] + ctx_types[()]) / predicted
            for w in vocab[1:]:
                current.setdefault((ids[w],), unseen)
        probs[n - 1] = {g: math.log10(p) for g, p in current.items()}
        lower = current
    probs[0][(ids[BOS],)] = NO_PROB
    for h, t in ctx_types.items():
        if h and len(h) < order:
            backoffs[tuple(ids[w] for w in h)] = math.log10(t / (ctx_count[h] + t))
    return NgramModel(vocab, probs, backoffs)


def text_tokens(text: str, unit: str) -> list[str]:
    """A transcript as LM tokens: its words, or its characters with :data:`SPACE` between
    words (runs of white space count as one space), as a character model's targets have them."""
    if unit == "words":
        return text.split()
    if unit == "chars":
        return text_symbols(text)
    raise ValueError(f"unit {unit!r} must be 'chars' or 'words' for text")


def corpus_sentences(
    utts,
    unit: str,
    *,
    phone_set: int = 61,
    lexicon=None,
    on_error=None,
    speech: bool = False,
    normalization: str = "none",
) -> list[list[str]]:
    """LM training sentences of utterances: phones folded to ``phone_set`` (``unit="phones"``;
    from ``lexicon``, a :class:`lstmrec.lexicon.Lexicon`, for utterances with only words), or the
    characters or words of their transcripts, exactly as a character model's targets have them:
    normalised (``normalization``, :mod:`lstmrec.textnorm`) and, for ``speech``, the words in
    lower case without punctuation. Utterances without them raise :class:`DataError` (a line
    the normalisation leaves out: :class:`lstmrec.features.errors.CorpusGap`), or go to
    ``on_error`` and are left out."""
    out = []
    for u in utts:
        try:
            if unit == "phones":
                out.append(utterance_symbols(u, "phones", phone_set=phone_set, lexicon=lexicon))
                continue
            if not u.text:
                raise DataError(f"utterance {u.id} has no transcript text", u.path)
            chars = utterance_symbols(u, "chars", speech=speech, normalization=normalization)
            out.append(chars if unit == "chars" else symbols_text(chars).split())
        except DataError as e:
            report_or_raise(e, on_error)
    return out


def write_arpa(model: NgramModel, path: str | os.PathLike) -> None:
    """Write ``model`` as an ARPA file (to a temporary name, then renamed into place)."""
    path = Path(path)
    lines = ["", "\\data\\"]
    lines += [f"ngram {n}={len(t)}" for n, t in enumerate(model.probs, start=1)]
    for n, table in enumerate(model.probs, start=1):
        lines += ["", f"\\{n}-grams:"]
        for gram, logp in sorted(table.items()):
            text = f"{logp:.7f}\t{' '.join(model.vocab[i] for i in gram)}"
            if n < model.order and gram in model.backoffs:
                text += f"\t{model.backoffs[gram]:.7f}"
            lines.append(text)
    lines += ["", "\\end\\", ""]
    write_text(path, "\n".join(lines))


MAX_NGRAM_ORDER = 20  # higher orders in an ARPA header are refused (5 is already large)


def read_arpa(path: str | os.PathLike) -> NgramModel:
    """Read an ARPA back-off model (SRILM, KenLM, or :func:`write_arpa`).

    Raises :class:`DataError` naming the file and line when it is malformed.
    """
    regular_file(path, missing="language model file not found")
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # without a byte-order mark
    except FileNotFoundError:
        raise DataError("language model file not found", path) from None
    except UnicodeDecodeError:
        raise DataError("language model is not UTF-8 text", path) from None
    except OSError as e:
        raise DataError(f"cannot read language model ({e.strerror or e})", path) from None
    lines = [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), start=1)]
    lines = [(i, ln) for i, ln in lines if ln]
    if not lines or lines[0][1] != "\\data\\":
        raise DataError("not an ARPA language model (no \\data\\ header)", path)
    expected: dict[int, int] = {}
    pos = 1
    while pos < len(lines) and lines[pos][1].startswith("ngram "):
        num, sep, count = lines[pos][1][6:].partition("=")
        if not sep or not num.strip().isdigit() or not count.strip().isdigit():
            raise DataError(f"line {lines[pos][0]}: bad count line {lines[pos][1]!r}", path)
        if int(num) > MAX_NGRAM_ORDER:
            raise DataError(
                f"line {lines[pos][0]}: implausible count line {lines[pos][1]!r:.60} (an order "
                f"above {MAX_NGRAM_ORDER})",
                path,
            )
        if int(count) > len(lines):  # each n-gram is a line: the file ends before they do
            raise DataError(
                f"line {lines[pos][0]}: {count.strip():.20} {num.strip()}-grams announced, but "
                f"the file has {len(lines)} lines: cut short?",
                path,
            )
        expected[int(num)] = int(count)
        pos += 1
    order = max(expected, default=0)
    if order == 0:
        raise DataError("ARPA header lists no n-grams (ngram 1=...)", path)
    if sorted(expected) != list(range(1, order + 1)):
        raise DataError("ARPA header must list ngram 1=... up to the model order", path)
    raw: list[list[tuple[float, tuple[str, ...], float | None]]] = [[] for _ in range(order)]
    n = 0
    for lineno, ln in lines[pos:]:
        if ln == "\\end\\":
            break
        if ln.startswith("\\") and ln.endswith("-grams:"):
            n = int(ln[1:-7]) if ln[1:-7].isdigit() else 0
            if not 1 <= n <= order:
                raise DataError(f"line {lineno}: unexpected section {ln!r}", path)
            continue
        fields = ln.split()
        if n == 0 or len(fields) not in (n + 1, n + 2):
            raise DataError(f"line {lineno}: expected a {n}-gram line, got {ln!r}", path)
        try:
            logp = float(fields[0])
            bow = float(fields[n + 1]) if len(fields) == n + 2 else None
        except ValueError:
            raise DataError(f"line {lineno}: bad number in {ln!r}", path) from None
        # -inf is a zero probability; NaN or +inf would poison every score it touches.
        if math.isnan(logp) or logp == math.inf or (bow is not None and not math.isfinite(bow)):
            raise DataError(f"line {lineno}: NaN or infinite number in {ln!r:.80}", path)
        if logp > 0:  # log10 of a probability above 1
            raise DataError(f"line {lineno}: log-probability above 0 in {ln!r:.80}", path)
        raw[n - 1].append((logp, tuple(fields[1 : n + 1]), bow))
    else:
        raise DataError("ARPA file ends without \\end\\", path)
    for k in range(order):
        if len(raw[k]) != expected[k + 1]:
            raise DataError(
                f"header says ngram {k + 1}={expected[k + 1]} but {len(raw[k])} are listed", path
            )
    return _model_from_entries(raw, path)


def _model_from_entries(raw, path) -> NgramModel:
    vocab = tuple(g[0] for _, g, _ in raw[0])
    ids = {w: i for i, w in enumerate(vocab)}
    probs: list[dict] = [dict() for _ in raw]
    backoffs: dict = {}
    for k, entries in enumerate(raw):
        for logp, gram, bow in entries:
            unknown = [w for w in gram if w not in ids]
            if unknown:
                raise DataError(f"{k + 1}-gram {' '.join(gram)!r} uses unlisted {unknown[0]}", path)
            key = tuple(ids[w] for w in gram)
            probs[k][key] = logp
            if bow is not None:
                backoffs[key] = bow
    try:
        return NgramModel(vocab, probs, backoffs)
    except ValueError as e:
        raise DataError(f"unusable language model: {e}", path) from None


def read_lexicon(path: str | os.PathLike) -> list[str]:
    """Words of a lexicon file: the first field of each non-empty line (so a plain word list
    and a pronunciation lexicon both work); ``#`` starts a comment line."""
    regular_file(path, missing="lexicon file not found")
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()  # without a BOM
    except FileNotFoundError:
        raise DataError("lexicon file not found", path) from None
    except UnicodeDecodeError:
        raise DataError("lexicon is not UTF-8 text", path) from None
    words = [ln.split()[0] for ln in lines if ln.strip() and not ln.startswith("#")]
    if not words:
        raise DataError("lexicon has no words", path)
    return list(dict.fromkeys(words))


def symbol_tokens(symbols: Sequence[str]) -> list[str]:
    """LM token of each decoder class (``[blank, s1, ..., sV]``): the symbol itself, and
    :data:`SPACE` for a space symbol."""
    return [SPACE if s in SPACE_SYMBOLS else s for s in symbols]


def decoder_lm(
    classes: Sequence[str], *, lm_path: str | os.PathLike, lexicon_path: str | os.PathLike | None
) -> SymbolLM | LexiconLM:
    """The language model the beam search uses for a model with classes ``[blank, s1..sV]``.

    Without a lexicon the ARPA model is over the symbols themselves (phones or characters, with
    :data:`SPACE` for the space). With a lexicon it is a word model, and the symbols spell
    lexicon words separated by the space symbol.
    """
    words = None if lexicon_path is None else read_lexicon(lexicon_path)  # first: it is cheap
    ngram = read_arpa(lm_path)
    tokens = symbol_tokens(classes)
    if words is None:
        lm = SymbolLM(ngram, tokens)
        if lm.missing:
            shown = ", ".join(lm.missing[:5])
            raise DataError(
                f"{len(lm.missing)} of the model's symbols are not in the LM and it has no "
                f"{UNK} ({shown}); was it trained on another symbol set?",
                lm_path,
            )
        # With <unk> nothing is missing, but a model that writes spaces needs the LM's <space>:
        # without one it is a word LM, which would score every character as <unk>.
        if SPACE in tokens and SPACE not in ngram.ids:
            raise DataError(
                f"the model writes spaces but the LM has no {SPACE}: no LM of its characters "
                "(a word LM needs --lexicon; one of phones is for a phone model)",
                lm_path,
            )
        if SPACE in ngram.ids and SPACE not in tokens:
            raise DataError(
                f"the LM has {SPACE} but the model writes no spaces: an LM of characters or "
                "words, not of the model's symbols",
                lm_path,
            )
        # Mostly tokens the model never writes (a word LM for a phone model): every symbol
        # would score as <unk>.
        known = set(tokens)
        lm_tokens = [t for t in ngram.vocab if t not in (BOS, EOS, UNK)]
        foreign = [t for t in lm_tokens if t not in known]
        if 2 * len(foreign) > len(lm_tokens):
            raise DataError(
                f"{len(foreign)} of the LM's {len(lm_tokens)} tokens are not the model's symbols "
                f"({', '.join(foreign[:5])}): an LM of another unit or symbol set",
                lm_path,
            )
        return lm
    if SPACE in ngram.ids:
        raise DataError(f"a lexicon needs a word LM, this one has {SPACE}: a character LM", lm_path)
    if SPACE not in tokens:
        raise DataError("a lexicon needs a space symbol in the model's symbol table", lexicon_path)
    ids = {t: i for i, t in enumerate(tokens) if i > 0}
    by_char = {t: i for t, i in ids.items() if len(t) == 1}

    def spell(word: str) -> list[int] | None:
        out = [by_char.get(ch) for ch in word]
        return None if None in out else out

    if not any(w in ngram.ids for w in words):
        raise DataError("no lexicon word is in the LM; is it a word LM?", lm_path)
    lm = LexiconLM(ngram, words, spell=spell, space=ids[SPACE], num_classes=len(tokens))
    if len(lm.skipped) == len(words):
        raise DataError("no lexicon word can be spelled with the model's symbols", lexicon_path)
    return lm


__all__ = [
    "LN10",
    "corpus_sentences",
    "decoder_lm",
    "read_arpa",
    "read_lexicon",
    "text_tokens",
    "train_ngram",
    "write_arpa",
]
