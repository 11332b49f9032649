#!/usr/bin/env python
"""Copy a trained bundle into the package as a shipped model, with its model card.

    .venv/bin/python scripts/package_model.py --name en-phones --run runs/english_phones \
        --card configs/english_phones.card.toml

The card (``card.json``, see :mod:`lstmrec.shipped`) is the TOML file's fixed fields plus, for
each ``[[measured]]`` entry, the error rate, its 95 % interval and counts read from the run's
``lstmrec evaluate --format json`` output, the bundle's size and today's date. The model lands
in ``pipeline/resources/models/<name>/``, written to a temporary folder and renamed; a model
over the size limit is refused.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

from lstmrec.bundle import BUNDLE_FILES
from lstmrec.shipped import MODELS_DIR, read_card

LIMIT_BYTES = 20 * 1024 * 1024  # the most a shipped model may weigh in the repository


def error_rates(run: Path, measured: list[dict]) -> list[dict]:
    """One card entry per measured set, from the run's evaluation JSON files."""
    out = []
    for m in measured:
        d = json.loads((run / m["file"]).read_text(encoding="utf-8"))
        out.append(
            {
                "set": m["set"],
                "metric": "CER" if "cer" in d else "PER",
                "value": round(d["error_rate"], 2),
                "interval95": [round(x, 2) for x in d["ci95"]],
                "errors": d["errors"],
                "total": d["reference_length"],
                "substitutions": d["substitutions"],
                "deletions": d["deletions"],
                "insertions": d["insertions"],
                "utterances": d.get("num_utterances"),
                "command": m["command"],
            }
        )
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", required=True, help="the model's name (its folder's name)")
    p.add_argument("--run", required=True, help="the training run folder (with model/)")
    p.add_argument("--card", required=True, help="TOML file of the card's fixed fields")
    p.add_argument("--into", default=str(MODELS_DIR), help="models folder (the package's)")
    args = p.parse_args(argv)
    run, bundle = Path(args.run), Path(args.run) / "model"
    card = tomllib.loads(Path(args.card).read_text(encoding="utf-8"))
    measured = card.pop("measured", [])
    files = [bundle / f for f in BUNDLE_FILES if (bundle / f).is_file()]
    size = sum(f.stat().st_size for f in files)
    if size > LIMIT_BYTES:
        print(f"{bundle}: {size} bytes, over the {LIMIT_BYTES}-byte limit", file=sys.stderr)
        return 2
    card.update(
        name=args.name,
        error_rates=error_rates(run, measured),
        size_bytes=size,
        date=datetime.date.today().isoformat(),
    )
    dest = Path(args.into) / args.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    parent = Path(tempfile.mkdtemp(prefix=f".{args.name}-", dir=dest.parent))
    tmp = parent / args.name
    tmp.mkdir()
    for f in files:
        shutil.copy2(f, tmp / f.name)
    (tmp / "card.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    read_card(tmp)  # the card must be one lstmrec models can list
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    parent.rmdir()
    print(f"{args.name}: {len(files)} files, {size / 1e6:.1f} MB -> {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
