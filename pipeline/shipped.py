"""Pretrained models that ship inside the package, found by name.

A shipped model is a bundle folder, as ``lstmrec train`` writes it (:mod:`lstmrec.bundle`), under
``lstmrec/resources/models/<name>/``, with a model card ``card.json`` beside the bundle's files::

    {"name": "en-phones", "modality": "speech", "unit": "phones", "symbols": "TIMIT 39 phones",
     "training_data": [{"corpus", "speakers", "utterances", "hours", "licence", "attribution"}],
     "licence": "...", "error_rates": [{"set", "metric", "value", "interval95", "errors",
     "total", "command"}], "rebuild": "the command that rebuilds it", "size_bytes": 1234567,
     "date": "YYYY-MM-DD"}

The folders named by ``LSTMREC_MODELS_DIR`` (several separated by ``os.pathsep``) are searched
before the package's own, so a collection of one's own models is found by name too, and a name
found there hides the package's model of that name. A model is a folder with a ``card.json``;
its name is the folder's name. No Keras here: listing and resolving names reads JSON only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.features.files import complete_dir

MODELS_DIR = Path(__file__).resolve().parent / "resources" / "models"
ENV_VAR = "LSTMREC_MODELS_DIR"
CARD_FILE = "card.json"
DEFAULT_SPEECH = "en-phones"
DEFAULT_INK = "en-ink"
MODALITIES = ("speech", "ink")
UNITS = ("phones", "chars")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a folder name, never a path


@dataclasses.dataclass(frozen=True)
class Card:
    """The model card of a shipped model (``card.json``), and the folder it was read from.

    ``training_data``: one dict per corpus, ``{"corpus", "speakers", "utterances", "hours",
    "licence", "attribution"}``. ``error_rates``: one dict per measured set, ``{"set", "metric",
    "value", "interval95", "errors", "total", "command"}``, ``value`` and ``interval95`` (its
    ``[low, high]`` 95 % interval) in percent. ``size_bytes``: the card's figure, else the sum
    of the folder's file sizes.
    """

    name: str
    modality: str  # "speech" or "ink"
    unit: str  # "phones" or "chars"
    symbols: str = ""  # the symbol set in words, e.g. "TIMIT 39 phones"
    training_data: tuple[dict, ...] = ()
    licence: str = ""
    decoding: str = ""  # how it decodes by default, in words
    error_rates: tuple[dict, ...] = ()
    rebuild: str = ""
    size_bytes: int = 0
    date: str = ""
    path: Path = Path()

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready data, with ``path`` (the model's folder) as a string."""
        d = dataclasses.asdict(self)
        d.update(
            training_data=[dict(t) for t in self.training_data],
            error_rates=[dict(e) for e in self.error_rates],
            path=str(self.path),
        )
        return d


def _str(d: dict, key: str, default: str | None = None) -> str:
    value = d.get(key, default)
    if not isinstance(value, str):
        raise TypeError(f"{key!r} must be a string")
    return value


def _records(d: dict, key: str, required: tuple[str, ...]) -> tuple[dict, ...]:
    value = d.get(key, [])
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise TypeError(f"{key!r} must be a list of objects")
    for r in value:
        missing = [k for k in required if k not in r]
        if missing:
            raise TypeError(f"an entry of {key!r} lacks {', '.join(missing)}")
        interval = r.get("interval95")
        good_interval = interval is None or (
            isinstance(interval, list) and len(interval) == 2 and all(map(_is_number, interval))
        )
        if not (_is_number(r.get("value", 0)) and good_interval):
            raise TypeError(f"an entry of {key!r} needs a number value and interval95 [low, high]")
    return tuple(value)


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def read_card(folder: str | os.PathLike) -> Card:
    """The :class:`Card` in ``folder/card.json``; :class:`DataError` naming the file when it is
    unreadable, lacks a field, or names another model than its folder."""
    folder = Path(folder)
    path = folder / CARD_FILE
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(d, dict):
            raise TypeError("not a JSON object")
        card = Card(
            name=_str(d, "name"),
            modality=_str(d, "modality"),
            unit=_str(d, "unit"),
            symbols=_str(d, "symbols", ""),
            training_data=_records(d, "training_data", ("corpus",)),
            licence=_str(d, "licence", ""),
            decoding=_str(d, "decoding", ""),
            error_rates=_records(d, "error_rates", ("set", "metric", "value")),
            rebuild=_str(d, "rebuild", ""),
            size_bytes=int(d.get("size_bytes") or _folder_size(folder)),
            date=_str(d, "date", ""),
            path=folder,
        )
    except OSError as e:
        raise DataError(f"cannot read the model card ({e.strerror or e})", path) from None
    except (ValueError, TypeError) as e:  # JSON and UTF-8 errors are ValueErrors
        raise DataError(f"bad model card ({e})", path) from None
    if card.name != folder.name:
        raise DataError(f"the card names {card.name!r}, its folder {folder.name!r}", path)
    if card.modality not in MODALITIES or card.unit not in UNITS:
        raise DataError(
            f"modality {card.modality!r} / unit {card.unit!r} is not one of "
            f"{'/'.join(MODALITIES)} / {'/'.join(UNITS)}",
            path,
        )
    return card


def _folder_size(folder: Path) -> int:
    """Bytes of the files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def search_dirs() -> list[Path]:
    """Where shipped models are looked for, first to last: the folders of ``LSTMREC_MODELS_DIR``
    (each must exist: :class:`DataError` otherwise), then the package's own."""
    extra = [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    for folder in extra:
        if not folder.is_dir():
            raise DataError(f"{ENV_VAR} names a folder that does not exist", folder)
    return [*extra, MODELS_DIR]


def _model_folders() -> Iterator[Path]:
    """Every model folder (one with a card), the first of each name only, in search order."""
    seen = set()
    for root in search_dirs():
        if not root.is_dir():
            continue  # the package ships no model yet
        for folder in sorted(root.iterdir()):  # a name, not a writer's hidden temporary
            if not _NAME.fullmatch(folder.name) or folder.name in seen:
                continue
            if (folder / CARD_FILE).is_file():
                seen.add(folder.name)
                yield folder


def shipped_names() -> list[str]:
    """The names a model argument may take besides a folder path, in search order."""
    return [folder.name for folder in _model_folders()]


def shipped_models(*, on_error: OnError | None = None) -> list[Card]:
    """The card of every model found by name (see :func:`search_dirs`). A bad card raises
    :class:`DataError`, or goes to ``on_error`` and the model is left out."""
    cards = []
    for folder in _model_folders():
        try:
            cards.append(read_card(folder))
        except DataError as e:
            report_or_raise(e, on_error)
    return cards


def shipped_path(name: str) -> Path | None:
    """The folder of the model called ``name`` (the first in search order), or None."""
    if not _NAME.fullmatch(name):
        return None
    for root in search_dirs():
        if (root / name / CARD_FILE).is_file():
            return root / name
    return None


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """The bundle folder a model argument means: an existing path as it is (a folder an
    interrupted writer is replacing included), else the shipped model of that name, else
    :class:`DataError` naming the shipped models."""
    given = Path(name_or_path)
    if given.exists() or complete_dir(given) is not None:
        return given
    found = shipped_path(os.fspath(name_or_path))
    if found is None:
        names = ", ".join(shipped_names()) or "none"
        raise DataError(
            f"no model folder or shipped model named {os.fspath(name_or_path)} (shipped: {names})"
        )
    return found


def resolve_default(name: str) -> Path:
    """The folder of the default model ``name`` (:data:`DEFAULT_SPEECH` or :data:`DEFAULT_INK`),
    a shipped name only; :class:`DataError` when it is not shipped."""
    found = shipped_path(name)
    if found is None:
        raise DataError(f"no shipped model named {name}, give --model (a bundle folder or name)")
    return found
