#!/usr/bin/env python
"""Copy the held-out lines of an IAM-OnDB tree without their time stamps.

    .venv/bin/python scripts/untimed_ink.py SRC DST [--splits test dev]

Much ink reaches a recognizer without time stamps: stroke-3 files, InkML and JSON written with
x and y alone. This writes, for the lines of the IAM-OnDB tree ``SRC`` that its task 1 split
files put in ``--splits`` (by default the held-out ones: ``test``, ``testset_f.txt``, which
``lstmrec`` calls core-test, and ``dev``), a tree ``DST`` with the split files, those lines'
``ascii/`` and ``original*/`` folders as they are, and their ``lineStrokes/`` files with every
``time``, ``start_time`` and ``end_time`` attribute removed, so that ``lstmrec evaluate MODEL
--data DST --split core-test`` scores the same lines, read untimed. The lines are found as
``lstmrec`` finds them (:func:`lstmrec.corpora.iam_ondb.load_iam_ondb`; a transcribed line
without a strokes file stays a known gap). ``DST`` must not exist; it appears whole or not at
all. A strokes file that is not XML is named on stderr and left out (exit status 2), the rest
are written.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from lstmrec.cli.common import EXIT_BAD_INPUT, add_tree_copy_args, tree_copy_lines
from lstmrec.corpora.iam_ondb import IAM_ONDB_SPLIT_FILES
from lstmrec.features.files import atomic_dir

TIME_ATTRIBUTES = ("time", "start_time", "end_time")


def untimed(xml: bytes) -> bytes:
    """The strokes file without time attributes (ElementTree keeps the rest as it was)."""
    root = ET.fromstring(xml)
    for element in root.iter():
        for name in TIME_ATTRIBUTES:
            element.attrib.pop(name, None)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def copy(src: Path, dst: Path, rel: Path) -> None:
    """``src/rel`` (a file or a folder) to ``dst/rel``, once."""
    if (dst / rel).exists():
        return
    (dst / rel).parent.mkdir(parents=True, exist_ok=True)
    if (src / rel).is_dir():
        shutil.copytree(src / rel, dst / rel)
    else:
        shutil.copy2(src / rel, dst / rel)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_tree_copy_args(p, verb="copied")
    args = p.parse_args(argv)
    lines = tree_copy_lines(args, "untimed_ink")
    if lines is None:
        return EXIT_BAD_INPUT
    chosen, _ = lines
    forms = {p.stem: p.relative_to(args.src) for p in (args.src / "ascii").glob("*/*/*.txt")}
    failed = 0
    with atomic_dir(args.dst) as tmp:
        for lists in (args.src, args.src / "task1"):
            for name in IAM_ONDB_SPLIT_FILES:
                if (lists / name).is_file():
                    copy(args.src, tmp, (lists / name).relative_to(args.src))
        for u in chosen:
            text = forms[u.id.rsplit("-", 1)[0]]  # ascii/a01/a01-000/a01-000u.txt
            copy(args.src, tmp, text)
            for folder in args.src.glob("original*"):
                writer = folder / text.parent.relative_to("ascii")
                if writer.is_dir():
                    copy(args.src, tmp, writer.relative_to(args.src))
            strokes = Path(u.path)
            try:
                data = untimed(strokes.read_bytes())
            except (ET.ParseError, OSError) as e:
                why = f"not XML ({e})" if isinstance(e, ET.ParseError) else f"unreadable ({e})"
                print(f"untimed_ink: skipped: {strokes}: {why}", file=sys.stderr)
                failed += 1
                continue
            target = tmp / strokes.resolve().relative_to(args.src.resolve())
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    kept = len(chosen) - failed
    print(f"{args.dst}: {kept} lines ({', '.join(args.splits)}) without time stamps")
    if failed:
        print(f"untimed_ink: {failed} file(s) failed", file=sys.stderr)
    return EXIT_BAD_INPUT if failed else 0


if __name__ == "__main__":
    sys.exit(main())
