"""The IAM-OnDB tree on disk.

IAM-OnDB (the IAM On-Line Handwriting Database) as distributed::

    lineStrokes/a01/a01-000/a01-000u-01.xml   one text line of pen strokes (features.inkfiles)
    ascii/a01/a01-000/a01-000u.txt            the form's text: the lines after "CSR:" are the
                                              transcriptions, the n-th of them is line -0n
    original/a01/a01-000/strokesu.xml         (optional) the whole form; its
                                              <General><Form id= writerID=> gives the writer
    trainset.txt, testset_v.txt, testset_t.txt, testset_f.txt
                                              (optional, at the top or in task1/) the task 1
                                              split: one id a line, form ids (a01-000u) or
                                              line ids (a01-000u-01)

Splits follow the usual IAM-OnDB task 1 convention: train = trainset, dev = testset_v plus
testset_t, test = testset_f (the project's split names "core-test" and "full-test" both give
testset_f). Without the split files, writer lists define the splits, as for any corpus.

A real copy has transcribed lines without a strokes file (1,014): each is reported as a
:class:`lstmrec.features.errors.CorpusGap`, which commands list once and do not count as a
failure. The texts are kept as written; their conventions (``#``, ``%%%``, placeholders,
``Mr .``) are undone by :mod:`lstmrec.textnorm` when targets and references are made.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from lstmrec.features.errors import CorpusGap, DataError, OnError, report_or_raise
from lstmrec.manifest import Utterance

# Task 1 split files and the split each one feeds.
IAM_ONDB_SPLIT_FILES = {
    "trainset.txt": "train",
    "testset_v.txt": "dev",
    "testset_t.txt": "dev",
    "testset_f.txt": "test",
}
_FORM_RE = re.compile(r"^([a-z]\d\d)-(\d\d\d)[a-z]?$")  # a01-000u: writer set a01, text 000
_CSR_RE = re.compile(r"^\s*CSR:\s*$", re.MULTILINE)
NO_INK = "transcribed line(s) have no ink"  # the CorpusGap kind of a line without strokes


def looks_like_iam_ondb(root: str | os.PathLike) -> bool:
    """Whether ``root`` has IAM-OnDB's ``lineStrokes/`` and ``ascii/`` folders."""
    root = Path(root)
    return (root / "lineStrokes").is_dir() and (root / "ascii").is_dir()


def read_csr_lines(path: str | os.PathLike) -> list[str]:
    """The transcription lines of an IAM-OnDB ``ascii/*.txt`` file: after ``CSR:``, non-blank."""
    path = Path(path)
    try:
        text = path.read_text(encoding="latin-1")  # the corpus's text files are ISO-8859-1
    except OSError as e:
        raise DataError(f"cannot read ({e.strerror})", path) from None
    m = _CSR_RE.search(text)
    if m is None:
        raise DataError("no 'CSR:' line (not an IAM-OnDB transcription file)", path)
    return [line.strip() for line in text[m.end() :].splitlines() if line.strip()]


def _form_writers(root: Path) -> dict[str, str]:
    """``{form id: writer id}`` from the ``<Form>`` elements of the corpus's whole-form XML.

    Only the start of each file is parsed (the element comes before the strokes).
    """
    writers: dict[str, str] = {}
    for folder in sorted(root.glob("original*")):
        for path in sorted(folder.glob("*/*/*.xml")):
            try:
                # Our own file object: iterparse closes a file it opened only when it is read
                # to the end, and this loop stops early.
                with open(path, "rb") as f:
                    for _, el in ET.iterparse(f, events=("end",)):
                        if el.tag == "Form":
                            if el.get("id") and el.get("writerID"):
                                writers[el.get("id")] = el.get("writerID")
                            break
                        if el.tag == "StrokeSet":
                            break
            except (ET.ParseError, OSError):
                continue  # the writer falls back to the form id; the strokes are elsewhere
    return writers


def _split_files(root: Path) -> list[Path]:
    out = []
    for name in IAM_ONDB_SPLIT_FILES:
        for folder in (root, root / "task1"):
            if (folder / name).is_file():
                out.append(folder / name)
                break
    return out


def iam_ondb_splits(root: str | os.PathLike, utts: Sequence[Utterance]) -> dict[str, str]:
    """``{utterance id: "train" | "dev" | "test"}`` from the task 1 split files under ``root``.

    Empty when there are none. An utterance is in a file when its line id or its form id
    (the line id without ``-NN``) is listed. Raises :class:`DataError` naming a split file that
    cannot be read.
    """
    root = Path(root)
    listed: dict[str, str] = {}
    for path in _split_files(root):
        try:
            ids = path.read_text(encoding="utf-8-sig").split()  # without a byte-order mark
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"cannot read split file ({e})", path) from None
        for item in ids:
            listed.setdefault(item, IAM_ONDB_SPLIT_FILES[path.name])
    out = {}
    for utt in utts:
        split = listed.get(utt.id) or listed.get(utt.id.rsplit("-", 1)[0])
        if split is not None:
            out[utt.id] = split
    return out


def lines_of_splits(
    root: str | os.PathLike, splits: Sequence[str]
) -> tuple[list[Utterance], dict[str, str]]:
    """The lines of the IAM-OnDB tree ``root`` that its task 1 split files put in ``splits``
    (``"train"``, ``"dev"``, ``"test"``; a transcribed line without strokes is a known gap, left
    out), and each one's split. Raises :class:`DataError` for a tree that cannot be read or
    that has no such lines."""
    utts = load_iam_ondb(root, on_error=lambda e: None)
    split_of = iam_ondb_splits(root, utts)
    chosen = [u for u in utts if split_of.get(u.id) in splits]
    if not chosen:
        raise DataError(f"no lines in the splits {' '.join(splits)}", root)
    return chosen, {u.id: split_of[u.id] for u in chosen}


def _form_utterances(
    ascii_path: Path, strokes_root: Path, writers: dict[str, str], on_error: OnError | None
) -> list[Utterance]:
    """The lines of one form; a line without a strokes file goes to ``on_error`` as a
    :class:`CorpusGap` (or raises it)."""
    form = ascii_path.stem
    m = _FORM_RE.match(form)
    if m is None:
        raise DataError("not an IAM-OnDB form id (expected e.g. a01-000u.txt)", ascii_path)
    folder = strokes_root / m.group(1) / f"{m.group(1)}-{m.group(2)}"
    utts = []
    for n, text in enumerate(read_csr_lines(ascii_path), 1):
        ink = folder / f"{form}-{n:02d}.xml"
        if not ink.is_file():
            gap = CorpusGap(f"CSR line {n} has no strokes file {ink}", ascii_path, kind=NO_INK)
            report_or_raise(gap, on_error)
            continue
        utts.append(Utterance(f"{form}-{n:02d}", str(ink), writers.get(form, form), text=text))
    return utts


def load_iam_ondb(root: str | os.PathLike, *, on_error: OnError | None = None) -> list[Utterance]:
    """Utterances of an IAM-OnDB tree, one per transcribed text line, sorted by id.

    Each is ``Utterance(id=<line id>, path=<path of the lineStrokes XML>, speaker=<writer id,
    or the form id when the corpus gives none>, text=<transcription>)``. The stroke files are
    not parsed here (that happens when features are computed). A transcription file that cannot
    be read goes to ``on_error`` and is skipped (raised when ``on_error`` is None); so does a
    transcribed line with no strokes file, as a :class:`CorpusGap` (a known gap of the corpus,
    which commands list once and do not count as a failure; pass
    :func:`lstmrec.features.errors.skip_gaps` to skip gaps and raise at anything else).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("no such directory", root)
    if not looks_like_iam_ondb(root):
        raise DataError("not an IAM-OnDB tree (expected lineStrokes/ and ascii/ folders)", root)
    root = Path(os.path.abspath(root))  # absolute, so manifests written from the result stay valid

    writers = _form_writers(root)
    utts: list[Utterance] = []
    for ascii_path in sorted((root / "ascii").glob("*/*/*.txt")):
        try:
            utts.extend(_form_utterances(ascii_path, root / "lineStrokes", writers, on_error))
        except DataError as err:
            report_or_raise(err, on_error)
    if not utts:
        raise DataError("no transcribed lines found (ascii/<a01>/<a01-000>/<form>.txt)", root)
    return sorted(utts, key=lambda u: u.id)
