"""Training targets: which label sequence an utterance gives, and the symbol table for a corpus."""

from __future__ import annotations

from collections.abc import Sequence

from lstmrec.features.errors import DataError
from lstmrec.manifest import Utterance
from lstmrec.phones import PHONES39, PHONES48, TIMIT61, SymbolTable, fold


def utterance_labels(utt: Utterance, phone_set: int) -> list[str]:
    """The utterance's phones, folded to ``phone_set`` (61 keeps them as they are)."""
    if not utt.phones:
        raise DataError(f"utterance {utt.id} has no phone labels", utt.path)
    if phone_set == 61:
        return list(utt.phones)
    return fold(utt.phones, phone_set, source=utt.path)


def symbol_table_for(labels: Sequence[Sequence[str]], phone_set: int) -> SymbolTable:
    """The symbol table for training labels.

    TIMIT labels get the standard table of their phone set (so every TIMIT model has the same
    class order); any other label inventory gets its own symbols, sorted.
    """
    seen = {p for seq in labels for p in seq}
    standard = {61: TIMIT61, 48: PHONES48, 39: PHONES39}[phone_set]
    if seen <= set(standard):
        return SymbolTable(standard)
    return SymbolTable(sorted(seen))


def scoring_fold(symbols: SymbolTable, score_phone_set: int | None) -> int | None:
    """The phone set to fold to before scoring, or None when the symbols are not TIMIT phones."""
    if score_phone_set is None or not set(symbols.symbols) <= set(TIMIT61) | set(PHONES48):
        return None
    return score_phone_set


# ---------------------------------------------------------------------------------------------
# Characters (handwriting): the labels of an ink model are the characters of the text.

SPACE = "<space>"  # the symbol of a word gap (symbols.txt holds one name a line, no white space)
UNKNOWN_POLICIES = ("drop", "skip")  # or a single replacement character


def label_kind(features) -> str:
    """``"chars"`` for ink features (targets: the text's characters), else ``"phones"``."""
    return "chars" if getattr(features, "kind", None) == "ink" else "phones"


def text_symbols(text: str) -> list[str]:
    """Characters of ``text`` as symbols: each run of white space is one :data:`SPACE`, leading
    and trailing white space is dropped, every other character is its own symbol."""
    return [SPACE if c == " " else c for c in " ".join(text.split())]


def symbols_text(symbols: Sequence[str]) -> str:
    """Inverse of :func:`text_symbols`: symbols joined, :data:`SPACE` back to ``" "``."""
    return "".join(" " if s == SPACE else s for s in symbols)


def text_words(text: str) -> list[str]:
    """The words of a text for WER: its space-separated tokens."""
    return text.split()


def utterance_chars(utt: Utterance) -> list[str]:
    """The symbols of the utterance's text; :class:`DataError` when it has none."""
    symbols = text_symbols(utt.text or "")
    if not symbols:
        raise DataError(f"utterance {utt.id} has no text", utt.path)
    return symbols


def char_table(label_seqs: Sequence[Sequence[str]], charset: str | None) -> SymbolTable:
    """The character table: ``charset``'s characters (a space gives :data:`SPACE`), or every
    symbol of the training texts; sorted, so equal inventories number classes alike."""
    if charset is not None:
        return SymbolTable(
            sorted(set(text_symbols(charset)) | ({SPACE} if " " in charset else set()))
        )
    return SymbolTable(sorted({s for seq in label_seqs for s in seq}))


def apply_unknown_policy(
    utt: Utterance, symbols: list[str], known: set[str], policy: str
) -> tuple[list[str], str | None]:
    """Handle symbols outside ``known``: ``"drop"`` removes them, a single character replaces
    them, ``"skip"`` raises :class:`DataError` naming the utterance.

    Returns the new symbols and a one-line note naming the utterance and the characters (None
    when every symbol is known), so no character is ever dropped silently.
    """
    unknown = sorted({s for s in symbols if s not in known})
    if not unknown:
        return symbols, None
    shown = " ".join(repr(symbols_text([s])) for s in unknown)
    if policy == "skip":
        raise DataError(
            f"utterance {utt.id}: characters not in the symbol table: {shown}", utt.path
        )
    if policy == "drop":
        return [s for s in symbols if s in known], f"utterance {utt.id}: dropped {shown}"
    replacement = text_symbols(policy)[0] if policy.strip() else SPACE
    note = f"utterance {utt.id}: mapped {shown} to {policy!r}"
    return [s if s in known else replacement for s in symbols], note
