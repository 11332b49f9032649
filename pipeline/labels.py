"""Training targets: which label sequence an utterance gives, and the symbol table for a corpus."""

from __future__ import annotations

from collections.abc import Sequence

from features.errors import DataError
from pipeline.manifest import Utterance
from pipeline.phones import PHONES39, PHONES48, TIMIT61, SymbolTable, fold


def utterance_labels(utt: Utterance, phone_set: int) -> list[str]:
    """The utterance's phones, folded to ``phone_set`` (61 keeps them as they are)."""
    if not utt.phones:
        raise DataError(f"utterance {utt.id} has no phone labels", utt.audio)
    if phone_set == 61:
        return list(utt.phones)
    return fold(utt.phones, phone_set, source=utt.audio)


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
