"""Phone sets, folding between them, and the symbol table that numbers CTC output classes.

The phone sets come from Kaldi's ``egs/timit/s5/conf/phones.60-48-39.map`` (shipped as
``pipeline/resources/phones.60-48-39.map``): each line is a TIMIT label, its 48-set label and
its 39-set label (Lee & Hon, 1989). The glottal stop ``q`` has no mapping and is deleted when
folding. Following Kaldi, nothing else is removed or merged: ``h#``, ``pau`` and ``epi`` all
become ``sil`` in the 39 set, and runs of ``sil`` are kept as they are.

The speaker lists are Kaldi's ``conf/dev_spk.list`` (50 speakers) and ``conf/test_spk.list``
(the 24-speaker core test set).
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from lstmrec.features.errors import DataError
from lstmrec.features.files import regular_file, write_text

MAP_RESOURCE = "phones.60-48-39.map"
BLANK = "<blank>"  # the CTC blank; always class 0 of a SymbolTable
BLANK_ID = 0
PHONE_SETS = (61, 48, 39)  # the sizes ``fold(..., to=...)`` accepts
SPEAKER_LISTS = {"dev": "dev_spk.list", "core-test": "test_spk.list"}


def _resource_text(name: str) -> str:
    return (importlib.resources.files("lstmrec") / "resources" / name).read_text(encoding="utf-8")


def _parse_map(text: str) -> list[tuple[str, str | None, str | None]]:
    """Rows ``(timit61, set48, set39)`` of the map; a label with no mapping has ``None``s."""
    rows: list[tuple[str, str | None, str | None]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        cols = line.split()
        if not cols:
            continue
        if len(cols) == 1:
            rows.append((cols[0], None, None))
        elif len(cols) == 3:
            rows.append((cols[0], cols[1], cols[2]))
        else:
            raise DataError(
                f"line {lineno}: expected 1 or 3 columns, got {len(cols)}", MAP_RESOURCE
            )
    return rows


_MAP_ROWS = _parse_map(_resource_text(MAP_RESOURCE))

TIMIT61: tuple[str, ...] = tuple(row[0] for row in _MAP_ROWS)
PHONES48: tuple[str, ...] = tuple(sorted({row[1] for row in _MAP_ROWS if row[1] is not None}))
PHONES39: tuple[str, ...] = tuple(sorted({row[2] for row in _MAP_ROWS if row[2] is not None}))


@functools.cache
def _fold_table(to: int) -> dict[str, str | None]:
    """Label -> folded label (``None`` = delete) for every label ``fold(..., to=to)`` accepts.

    For 48 and 39 the table also covers 48-set labels (column 2 -> column 2 or 3), so output of
    an earlier fold can be folded again; the two routes agree for labels in both sets.
    """
    if to == 61:
        return {p: p for p in TIMIT61}
    col = 1 if to == 48 else 2
    table: dict[str, str | None] = {row[1]: row[col] for row in _MAP_ROWS if row[1] is not None}
    table.update({row[0]: row[col] for row in _MAP_ROWS})
    return table


def fold(phones: Sequence[str], to: int = 39, *, source: str | None = None) -> list[str]:
    """Map TIMIT-61 (or 48-set) labels onto the ``to``-phone set (61, 48 or 39).

    ``to=61`` only checks that every label is a TIMIT-61 label. For 48 and 39, ``q`` is deleted
    and every other label is mapped one to one (no merging of repeats, no removal of ``sil``).
    Raises :class:`DataError` naming the first unknown label (and ``source``, when given).
    """
    if to not in PHONE_SETS:
        raise ValueError(f"fold to={to!r}: must be one of {PHONE_SETS}")
    table = _fold_table(to)
    out = []
    for p in phones:
        if p not in table:
            raise DataError(f"unknown phone {p!r} (cannot fold to the {to}-phone set)", source)
        folded = table[p]
        if folded is not None:
            out.append(folded)
    return out


class SymbolTable:
    """Numbers the output classes of a CTC model: 0 is the blank, 1..V the given symbols.

    ``len(table)`` is V + 1, the number of classes including the blank (the size of the model's
    softmax layer).
    """

    def __init__(self, symbols: Sequence[str]) -> None:
        symbols = tuple(symbols)
        if BLANK in symbols:
            raise ValueError(f"symbol {BLANK!r} is reserved for the CTC blank")
        seen: set[str] = set()
        for s in symbols:
            if not s or any(c.isspace() for c in s):
                raise ValueError(f"symbol {s!r} is empty or contains white space")
            if s in seen:
                raise ValueError(f"duplicate symbol {s!r}")
            seen.add(s)
        self._symbols = symbols
        self._ids = {s: i for i, s in enumerate(symbols, start=1)}

    @classmethod
    def timit61(cls) -> SymbolTable:
        """The 61 TIMIT labels (``q`` included) in map order: 62 classes with the blank."""
        return cls(TIMIT61)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The V symbols, without the blank; ``symbols[i - 1]`` has id ``i``."""
        return self._symbols

    def __len__(self) -> int:
        return len(self._symbols) + 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SymbolTable):
            return NotImplemented
        return self._symbols == other._symbols

    def __hash__(self) -> int:
        return hash(self._symbols)

    def __repr__(self) -> str:
        return f"SymbolTable({len(self._symbols)} symbols + blank)"

    def to_list(self) -> list[str]:
        """All class names by id: ``[BLANK, symbol_1, ..., symbol_V]``."""
        return [BLANK, *self._symbols]

    def encode(self, labels: Iterable[str], *, source: str | None = None) -> np.ndarray:
        """Labels -> ids, ``np.ndarray [shape=(N,), dtype=int32]``, each in 1..V.

        Raises :class:`DataError` naming the unknown label and ``source`` (e.g. an utterance id).
        """
        ids = []
        for label in labels:
            i = self._ids.get(label)
            if i is None:
                raise DataError(f"label {label!r} is not in the symbol table", source)
            ids.append(i)
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> labels, skipping the blank (0). Repeats are kept: collapsing is the decoder's job.

        Raises ``ValueError`` for an id outside 0..V.
        """
        out = []
        for i in ids:
            i = int(i)
            if i == BLANK_ID:
                continue
            if not 0 < i <= len(self._symbols):
                raise ValueError(f"id {i} out of range 0..{len(self._symbols)}")
            out.append(self._symbols[i - 1])
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write one class name per line, blank first (so line n holds id n - 1), atomically."""
        write_text(path, "".join(s + "\n" for s in self.to_list()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> SymbolTable:
        """Read a file written by :meth:`save`; :class:`DataError` if missing or malformed."""
        path = Path(path)
        if not path.is_file():
            raise DataError("symbol table not found", path)
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or lines[0].strip() != BLANK:
            raise DataError(f"first line must be {BLANK!r}", path)
        symbols = [line.strip() for line in lines[1:]]
        try:
            return cls(symbols)
        except ValueError as e:
            raise DataError(str(e), path) from None


def read_speaker_list(name_or_path: str | os.PathLike) -> list[str]:
    """Speaker ids, lower-cased, in file order: a shipped list or a file with one id per line.

    The shipped lists are ``"dev"`` (50 speakers) and ``"core-test"`` (24 speakers); any other
    value is a path. Blank lines are skipped. Raises :class:`DataError` if the file is missing.
    """
    if isinstance(name_or_path, str) and name_or_path in SPEAKER_LISTS:
        text = _resource_text(SPEAKER_LISTS[name_or_path])
    else:
        missing = f"speaker list not found (shipped lists: {', '.join(SPEAKER_LISTS)})"
        path = regular_file(name_or_path, missing=missing)
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is no part of an id
    return [line.strip().lower() for line in text.splitlines() if line.strip()]
