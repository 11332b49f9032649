#!/usr/bin/env python
"""Copy a trained bundle into the package as a shipped model, with its model card.

    .venv/bin/python scripts/package_model.py --name en-phones --run runs/english_phones \\
        --card configs/english_phones.card.toml

The card (``card.json``, see :mod:`lstmrec.shipped`) is the TOML file's fixed fields plus, for
each ``[[measured]]`` entry, the error rate, its 95 % interval and counts read from the run's
``lstmrec evaluate --format json`` output, the bundle's size and today's date. The model lands
in ``pipeline/resources/models/<name>/``, written to a temporary folder and renamed; a model
over the size limit is refused. ``--lm FILE`` ships an ARPA language model in the folder as
``lm.arpa`` and makes it the model's default decoding (with ``--lm-weight``,
``--insertion-bonus`` and ``--beam``), by editing the copy of ``summary.json``. The speaker lists
the recipe names (``[data] dev_speakers``, ``test_speakers``) are shipped in the folder too.
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
from lstmrec.features.errors import DataError
from lstmrec.shipped import MODELS_DIR, read_card

LIMIT_BYTES = 20 * 1024 * 1024  # the most a shipped model may weigh in the repository
LM_FILE = "lm.arpa"  # a shipped language model, read from the bundle folder (lstmrec.bundle)


def _entry(m: dict, d: dict, metric: str, utterances) -> dict:
    return {
        "set": m["set"],
        "metric": metric,
        "value": round(d["error_rate"], 2),
        "interval95": [round(x, 2) for x in d["ci95"]],
        "errors": d["errors"],
        "total": d["reference_length"],
        "substitutions": d["substitutions"],
        "deletions": d["deletions"],
        "insertions": d["insertions"],
        "utterances": utterances,
        "command": m["command"],
    }


def error_rates(run: Path, measured: list[dict]) -> list[dict]:
    """Card entries per measured set, from the run's evaluation JSON files: the PER of a
    speech model; the CER, then the WER (its ``words`` report), of an ink model."""
    out = []
    for m in measured:
        d = json.loads((run / m["file"]).read_text(encoding="utf-8"))
        out.append(_entry(m, d, "CER" if "cer" in d else "PER", d.get("num_utterances")))
        if "words" in d:
            out.append(_entry(m, d["words"], "WER", d.get("num_utterances")))
    return out


def ship_speaker_lists(summary: dict) -> list[Path]:
    """The speaker-list files the recipe names (its held-out speakers), to ship in the model's
    folder; ``summary`` then names them by file name only, which :mod:`lstmrec.bundle` reads
    from the folder, so ``lstmrec evaluate <name> --data <corpus>`` finds them anywhere."""
    data = summary.get("recipe", {}).get("data", {})
    files = []
    for key in ("dev_speakers", "test_speakers"):
        if data.get(key):
            files.append(Path(data[key]))
            data[key] = Path(data[key]).name
    return files


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", required=True, help="the model's name (its folder's name)")
    p.add_argument("--run", required=True, help="the training run folder (with model/)")
    p.add_argument("--card", required=True, help="TOML file of the card's fixed fields")
    p.add_argument("--into", default=str(MODELS_DIR), help="models folder (the package's)")
    p.add_argument(
        "--lm", help="ARPA language model shipped in the bundle as lm.arpa and used by default"
    )
    p.add_argument("--lm-weight", type=float, help="its weight (with --lm)")
    p.add_argument("--insertion-bonus", type=float, help="the insertion bonus (with --lm)")
    p.add_argument("--beam", type=int, help="the default beam (with --lm)")
    args = p.parse_args(argv)
    try:
        return package(args)
    except OSError as e:  # a run, card, LM or speaker list that is not there, a folder unwritable
        where = f"{e.filename}: " if e.filename else ""
        print(f"package_model: {where}{e.strerror or e}", file=sys.stderr)
    except (json.JSONDecodeError, KeyError, DataError) as e:  # (a run's JSON: damaged, or old)
        what = f"a card or evaluation lacks the field {e}" if isinstance(e, KeyError) else e
        print(f"package_model: {what}", file=sys.stderr)
    return 2


def package(args) -> int:
    """Write the model folder ``args.into/args.name`` (replacing one there only once the new one
    is complete); raises on bad input, leaving nothing half-written."""
    run, bundle = Path(args.run), Path(args.run) / "model"
    try:
        card = tomllib.loads(Path(args.card).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise DataError(f"not TOML ({e})", args.card) from None
    measured = card.pop("measured", [])
    files = [bundle / f for f in BUNDLE_FILES if (bundle / f).is_file() and f != "summary.json"]
    if args.lm:
        files.append(Path(args.lm))
    summary = json.loads((bundle / "summary.json").read_text(encoding="utf-8"))
    if args.lm:
        decoding = summary.setdefault("recipe", {}).setdefault("decoding", {})
        decoding["lm"] = LM_FILE
        for key in ("lm_weight", "insertion_bonus", "beam"):
            if getattr(args, key) is not None:
                decoding[key] = getattr(args, key)
    files += ship_speaker_lists(summary)
    summary_text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    size = sum(f.stat().st_size for f in files) + len(summary_text.encode("utf-8"))
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
    try:
        tmp.mkdir()
        for f in files:
            shutil.copy2(f, tmp / (LM_FILE if args.lm and f == Path(args.lm) else f.name))
        (tmp / "summary.json").write_text(summary_text, encoding="utf-8")
        (tmp / "card.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
        read_card(tmp)  # the card must be one lstmrec models can list
    except BaseException:
        shutil.rmtree(parent, ignore_errors=True)
        raise
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    parent.rmdir()
    print(f"{args.name}: {len(files) + 1} files, {size / 1e6:.1f} MB -> {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
