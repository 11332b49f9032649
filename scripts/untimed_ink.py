#!/usr/bin/env python
"""Copy the held-out lines of an IAM-OnDB tree without their time stamps.

    .venv/bin/python scripts/untimed_ink.py SRC DST [--sets testset_f.txt testset_v.txt]

Much ink reaches a recognizer without time stamps: stroke-3 files, InkML and JSON written with
x and y alone. This writes, for the forms that the set lists of the IAM-OnDB tree ``SRC`` name
(by default the held-out ones: ``testset_f.txt``, the core test split, and ``testset_v.txt``,
dev), a tree ``DST`` with those lists, their ``ascii/`` and ``original/`` files as they are,
and their ``lineStrokes/`` files with every ``time``, ``start_time`` and ``end_time`` attribute
removed, so that ``lstmrec evaluate MODEL --data DST --split core-test`` scores the same lines,
read untimed. ``DST`` must not exist; it appears whole or not at all. A strokes file that is not
XML is named on stderr and left out (exit status 2), the rest are written.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from lstmrec.features.files import atomic_dir

TIME_ATTRIBUTES = ("time", "start_time", "end_time")


def form_dirs(root: Path, part: str, form: str) -> Path:
    """``root/part/a01/a01-000`` for the form ``a01-000`` (IAM-OnDB's layout)."""
    return root / part / form.split("-")[0] / form


def untimed(xml: bytes) -> bytes:
    """The strokes file without time attributes (ElementTree keeps the rest as it was)."""
    root = ET.fromstring(xml)
    for element in root.iter():
        for name in TIME_ATTRIBUTES:
            element.attrib.pop(name, None)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src", type=Path, help="an IAM-OnDB tree (lineStrokes/, ascii/, set lists)")
    p.add_argument("dst", type=Path, help="the folder to write (must not exist)")
    p.add_argument(
        "--sets",
        nargs="+",
        default=["testset_f.txt", "testset_v.txt"],
        help="set lists of SRC whose forms are copied (default: testset_f.txt testset_v.txt)",
    )
    args = p.parse_args(argv)
    if args.dst.exists():
        print(f"untimed_ink: {args.dst}: exists; choose a new folder", file=sys.stderr)
        return 2
    lists = [args.src / name for name in args.sets]
    for path in lists:
        if not path.is_file():
            print(f"untimed_ink: {path}: no such set list", file=sys.stderr)
            return 2
    forms = [f for path in lists for f in path.read_text(encoding="utf-8").split()]
    failed = written = 0
    with atomic_dir(args.dst) as tmp:
        for path in lists:
            shutil.copy2(path, tmp / path.name)
        for form in forms:
            for part in ("ascii", "original"):
                if form_dirs(args.src, part, form).is_dir():
                    shutil.copytree(form_dirs(args.src, part, form), form_dirs(tmp, part, form))
            source = form_dirs(args.src, "lineStrokes", form)
            for xml in sorted(source.glob("*.xml")):
                try:
                    data = untimed(xml.read_bytes())
                except ET.ParseError as e:
                    print(f"untimed_ink: skipped: {xml}: not XML ({e})", file=sys.stderr)
                    failed += 1
                    continue
                target = form_dirs(tmp, "lineStrokes", form) / xml.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                written += 1
    print(f"{args.dst}: {written} strokes files of {len(forms)} forms, without time stamps")
    if failed:
        print(f"untimed_ink: {failed} file(s) failed", file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
