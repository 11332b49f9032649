"""The ``models`` command (the shipped models and their cards) and the one place where a command's
model argument, a bundle folder or a shipped model's name, becomes the bundle folder's path."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

from lstmrec.bundle import BUNDLE_FILES
from lstmrec.cli.common import Failures, format_arg
from lstmrec.shipped import Card, resolve_default, resolve_model, search_dirs, shipped_models

# The labelled fields under each model's name in ``lstmrec models``; lines no narrower than
# MIN_WIDTH, whatever the terminal.
FIELDS = (
    "modality", "symbols", "data", "licence", "decoding", "error rates", "size", "rebuild",
    "folder",
)  # fmt: skip
MIN_WIDTH = 60
KEEP = "\N{NO-BREAK SPACE}"  # a space that wrapping keeps, printed as a space


def resolve_model_arg(args) -> None:
    """Make ``args.model`` the path of the bundle folder it means, for every command with a
    model argument (:func:`lstmrec.shipped.resolve_model`: a folder, else a shipped name).

    transcribe and recognize (whose parsers set ``default_model`` and ``input_suffixes``) take
    ``--model``; without it the old form ``MODEL INPUT ...`` still works (see
    :func:`_model_from_inputs`), and with neither the default shipped model is used."""
    if getattr(args, "model", None) is None and getattr(args, "default_model", None):
        first = _model_from_inputs(args)
        if first is None:
            args.model = str(resolve_default(args.default_model))
            return
        args.model = first
    if getattr(args, "model", None) is not None:
        args.model = str(resolve_model(args.model))


def _model_from_inputs(args) -> str | None:
    """The first positional argument of transcribe or recognize when it is the model of the old
    form ``MODEL INPUT ...`` (then taken off ``args.inputs``), else None.

    It is the model when it is a folder holding any of a bundle's files (a damaged bundle too,
    so its error names it), or when it does not exist, is not ``-``, does not end like an input
    file (``args.input_suffixes``) and more inputs or ``--data`` follow: a shipped name, or a
    mistyped model folder, which is then reported as such rather than skipped as an input."""
    if not args.inputs:
        return None
    first = args.inputs[0]
    path = Path(first)
    if path.is_dir():
        is_model = any((path / name).is_file() for name in BUNDLE_FILES)
    else:
        is_model = (
            first != "-"
            and not path.exists()
            and path.suffix.lower() not in args.input_suffixes
            and (len(args.inputs) > 1 or bool(getattr(args, "data", None)))
        )
    if not is_model:
        return None
    args.inputs = args.inputs[1:]
    return first


def cmd_models(args) -> int:
    failures = Failures(strict=False, what="model card")
    cards = shipped_models(on_error=failures)
    if args.format == "json":
        print(json.dumps([c.to_dict() for c in cards], indent=2, ensure_ascii=False))
    elif cards:
        print(format_cards(cards))
    else:
        searched = ", ".join(str(d) for d in search_dirs())
        print(f"no shipped models (searched: {searched})", file=sys.stderr)
    return failures.finish()


def format_cards(cards: list[Card], width: int | None = None) -> str:
    """What ``lstmrec models`` prints: a block per model, its name, then one labelled field a
    line (:data:`FIELDS`), each wrapped to ``width`` columns (the terminal's, or ``$COLUMNS``,
    by default) under its label; measured sets one to a line, their metrics together."""
    if width is None:
        width = shutil.get_terminal_size().columns
    width = max(width, MIN_WIDTH)
    label_width = 2 + max(map(len, FIELDS)) + 2
    blocks = []
    for card in cards:
        lines = [card.name]
        for label, paragraphs in zip(FIELDS, _fields(card), strict=True):
            head = f"  {label}".ljust(label_width)
            for text in paragraphs:
                lines += textwrap.wrap(
                    text,
                    width,
                    initial_indent=head,
                    subsequent_indent=" " * (label_width + 2),
                    break_long_words=False,
                    break_on_hyphens=False,
                )
                head = " " * label_width
        lines = [line.replace(KEEP, " ") for line in lines]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _fields(card: Card) -> tuple[list[str], ...]:
    """The paragraphs of each of :data:`FIELDS` for ``card``."""
    return (
        [card.modality],
        [card.symbols or card.unit],
        [_data(card)],
        [card.licence or "-"],
        [card.decoding or "-"],
        _rates(card),
        [_size(card.size_bytes)],
        [card.rebuild or "-"],
        [str(card.path)],
    )


def _data(card: Card) -> str:
    """The training data in words: ``corpus (N speakers, N utterances, H h)`` per corpus."""
    parts = []
    for t in card.training_data:
        sizes = [
            f"{t[key]} {label}"
            for key, label in (
                ("speakers", "speakers"),
                ("utterances", "utterances"),
                ("hours", "h"),
            )  # fmt: skip
            if t.get(key) not in (None, "")
        ]
        parts.append(f"{t['corpus']} ({', '.join(sizes)})" if sizes else str(t["corpus"]))
    return "; ".join(parts) or "-"


def _size(size_bytes: int) -> str:
    """``13.9 MB``, or ``1.2 kB`` under a megabyte."""
    if size_bytes >= 1e6:
        return f"{size_bytes / 1e6:.1f} MB"
    return f"{size_bytes / 1e3:.1f} kB"


def _rates(card: Card) -> list[str]:
    """The measured error rates, one ``set: metric value % [low, high], ...`` per measured set,
    the sets in the card's order; each rate's spaces are :data:`KEEP`, so it is not split
    across lines."""
    by_set: dict[str, list[str]] = {}
    for e in card.error_rates:
        text = f"{e['metric']} {float(e['value']):.1f} %"
        interval = e.get("interval95")
        if isinstance(interval, list) and len(interval) == 2:
            text += f" [{float(interval[0]):.1f}, {float(interval[1]):.1f}]"
        by_set.setdefault(e["set"], []).append(text.replace(" ", KEEP))
    return [f"{name}: {', '.join(rates)}" for name, rates in by_set.items()] or ["-"]


def add_models_parser(sub) -> None:
    p = sub.add_parser(
        "models",
        help="the shipped models, found by name (and those of $LSTMREC_MODELS_DIR)",
    )
    format_arg(p)
    p.set_defaults(func=cmd_models)
