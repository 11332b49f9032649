"""Digit recognition on the MNIST pen-stroke set with the handwriting pipeline.

The whole recipe is ``scripts/mnist_ink.sh``: prepare, a BLSTM on the pen trajectory
(``configs/mnist_ink_full.toml``) and four CRNNs on the ink drawn as a picture
(``configs/mnist_ink_crnn.toml``), each finetuned, then the five combined by ``combine``
(RESULTS.md, "Digits from the MNIST pen-stroke set"). One training pass of the BLSTM by
hand (96.86 % without the finetuning):

    # 1. write the project's fixed split (lstmrec.corpora.mnist_strokes.MNIST_SPLITS) as ink
    #    JSON files with manifests: train 0-43,999, dev 44,000-44,999, test 45,000-49,999
    .venv/bin/python scripts/mnist_ink.py prepare ../shared/data/mnist-strokes/strokes.npz \\
        runs/mnist/data
    # 2. train and evaluate with the ordinary commands
    .venv/bin/lstmrec train --config configs/mnist_ink_full.toml --data runs/mnist/data \\
        --out runs/mnist/run
    .venv/bin/lstmrec evaluate runs/mnist/run/model --data runs/mnist/data --split core-test \\
        --hyp-out runs/mnist/test_hyp.txt
    # 3. digit accuracy with its 95 % interval: a digit is right when the recognised text is
    #    exactly its label
    .venv/bin/python scripts/mnist_ink.py accuracy runs/mnist/data runs/mnist/test_hyp.txt

``--train N``, ``--dev N`` and ``--test N`` keep only the first N digits of a split, for quick
runs (``configs/mnist_ink.toml``: ``--train 3000 --dev 300 --test 1000``); the test digits
are always taken from the test range, which the synthetic handwriting corpus never writes.
``--augment K`` adds K distorted copies of every training digit (``lstmrec.features.inkaugment``);
one copy gave no significant gain on the full set. ``accuracy DATA HYP1 HYP2 ...`` scores several
models' hypothesis files at once, with their majority vote and the share of digits that at least
one of them reads right (the most any vote among them could reach). ``combine DATA BUNDLE1
BUNDLE2 ...`` reads the digits with each model and adds the models' log-probabilities of each
one-digit label (``--hyp-out`` writes the combined answers; ``--distortions K``: each model also
reads K seeded distorted copies of every digit, its log-probabilities added over them).
``probs DATA BUNDLE --out RUN [--holdout N]`` keeps one model's probabilities of the ten digits
(dev, test, and the last N training digits when the model was trained without them; and 8
distorted copies) as ``scripts/mnist_cnn_peer.py`` keeps its own, so that its ``--combine``
adds the model to image classifiers.
``sheet DATA HYP --out DIR`` draws the digits a hypothesis file reads wrong, shuffled among as
many that it reads right, numbered and without their labels, for a person to read (``DIR/sheet-
1.png``, ...; the answers in ``DIR/key.tsv``); ``read DIR READING`` scores what the person read
(one digit, or ``?``, per number, in order): how many of the misread digits a person reads as
their label, which tells errors a reader could avoid from digits the ink does not show.
The set has no writer ids, so all digits share the writer "mnist".
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lstmrec.corpora.mnist_strokes import MNIST_SPLITS, load_mnist_strokes
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.features.files import atomic_path, check_output, write_text
from lstmrec.features.inkaugment import InkAugment
from lstmrec.features.inkfiles import read_ink_file, write_ink_json
from lstmrec.manifest import Utterance, read_manifest, write_manifest
from lstmrec.scoring.align import read_kaldi_text
from lstmrec.scoring.stats import bootstrap_ci
from lstmrec.targets import symbols_text

DIGITS = "0123456789"

SPLIT_FILES = {"train": "train", "dev": "dev", "test": "core-test"}  # MNIST_SPLITS -> manifest
WRITER = "mnist"  # the set has no writer ids: one group for the per-writer table
# Distortions of the augmented training copies: InkAugment's defaults, but no stroke is left
# out or cut in two (a digit's short strokes, the bar of a 5 or a 7, carry its identity).
AUGMENT = InkAugment(drop=0.0, split=0.0)
AUGMENT_SEED = 0
PROBS_COPIES = 8  # distorted copies kept by 'probs', as scripts/mnist_cnn_peer.py keeps
# 'sheet': each digit drawn on MNIST's 28 x 28 grid, SHEET_SCALE pixels to a grid pixel, with a
# pen one grid pixel wide; SHEET_COLUMNS tiles across, at most SHEET_ROWS rows to a page.
GRID, SHEET_SCALE, SHEET_COLUMNS, SHEET_ROWS = 28, 4, 10, 7
SHEET_SEED = 0
READINGS = DIGITS + "?"  # a person's reading of a tile: a digit, or "?" (cannot tell)


def _write(out: Path, samples) -> list[Utterance]:
    utts = []
    for sample in samples:
        path = out / "ink" / f"{sample.id}.json"
        write_ink_json(path, [sample])
        # Manifest paths are relative to the manifest's folder.
        utts.append(Utterance(sample.id, f"ink/{path.name}", WRITER, text=sample.text))
    return utts


def prepare(
    npz: str, out: Path, caps: dict[str, int | None], augment: int = 0, force: bool = False
) -> None:
    """Write ``out/ink/mnist-<i>.json`` and ``out/{train,dev,core-test}.jsonl``; with
    ``augment`` K > 0 also K distorted copies ``mnist-<i>-a<k>`` of every training digit. The
    manifests of an earlier run are overwritten only with ``force``."""
    for name in SPLIT_FILES.values():
        check_output(out / f"{name}.jsonl", force=force)
    rng = np.random.default_rng(AUGMENT_SEED)
    for split, name in SPLIT_FILES.items():
        indices = MNIST_SPLITS[split][: caps[split]]
        samples = load_mnist_strokes(npz, indices=indices)
        utts = _write(out, samples)
        note = ""
        if split == "train" and augment:
            copies = [
                dataclasses.replace(s, id=f"{s.id}-a{k}", strokes=tuple(AUGMENT(s.strokes, rng)))
                for s in samples
                for k in range(1, augment + 1)
            ]
            utts += _write(out, copies)
            note = f", {len(copies)} of them distorted copies"
        write_manifest(utts, out / f"{name}.jsonl")
        print(f"{name}: {len(utts)} digits (indices {indices[0]}..{indices[-1]}{note})")


def manifest_path(data: Path, name: str) -> Path:
    """``data/<name>.jsonl``; :class:`DataError` when ``prepare`` has not written it."""
    manifest = data / f"{name}.jsonl"
    if not manifest.is_file():
        raise DataError("no such manifest (run 'scripts/mnist_ink.py prepare' first)", manifest)
    return manifest


def read_answers(hyp_file: str, manifest: Path, ids: list[str]) -> dict[str, str]:
    """The answers of a hypothesis file by id; :class:`DataError` when it answers none of the
    digits ``ids`` of ``manifest`` (a file of another split), and a note on stderr when it
    leaves some out (they count as wrong)."""
    hyps = {k: symbols_text(v) for k, v in read_kaldi_text(hyp_file).items()}
    missing = sum(k not in hyps for k in ids)
    if missing == len(ids):
        raise DataError(f"answers none of the {len(ids)} digits of {manifest}", hyp_file)
    if missing:
        print(
            f"mnist_ink: {hyp_file}: no answer for {missing} of the {len(ids)} digits "
            "(counted wrong)",
            file=sys.stderr,
        )
    return hyps


def accuracy_line(what: str, wrong: list[int]) -> str:
    """Digit accuracy of 0/1 errors with its 95 % percentile-bootstrap interval over digits."""
    lo, hi = bootstrap_ci(wrong, [1] * len(wrong))  # error-rate interval, in percent
    right = len(wrong) - sum(wrong)
    return (
        f"{what}digit accuracy {100.0 * right / len(wrong):.2f} % ({right} / {len(wrong)}), "
        f"95 % CI [{100.0 - hi:.2f}, {100.0 - lo:.2f}] % (bootstrap over digits)"
    )


def accuracy(data: Path, hyp_files: list[str], split: str) -> None:
    """Print the digit accuracy of each hypothesis file on ``data/<split>.jsonl`` with its 95 %
    interval (a digit without a hypothesis is wrong). With several files, also their majority
    vote (a tie goes to the earliest file's answer) and the share of digits that at least one
    file reads right: what no vote among these models can exceed."""
    manifest = manifest_path(data, split)
    refs = {u.id: u.text for u in read_manifest(manifest)}
    if not refs:
        raise DataError("the manifest has no digits", manifest)
    hyps = [read_answers(f, manifest, list(refs)) for f in hyp_files]
    for f, h in zip(hyp_files, hyps, strict=True):
        prefix = f"{f}: " if len(hyp_files) > 1 else ""
        print(accuracy_line(prefix, [int(h.get(k) != v) for k, v in refs.items()]))
    if len(hyps) > 1:
        answers = {k: [h.get(k) for h in hyps] for k in refs}
        vote = {k: max(a, key=a.count) for k, a in answers.items()}  # first of the most common
        print(accuracy_line("majority vote: ", [int(vote[k] != v) for k, v in refs.items()]))
        some = [int(v not in answers[k]) for k, v in refs.items()]
        print(accuracy_line("read right by at least one: ", some))


def sheet(data: Path, hyp_file: str, out: Path, split: str, seed: int, force: bool) -> int:
    """Draw the digits of ``data/<split>.jsonl`` that ``hyp_file`` reads wrong (a missing answer
    is wrong), shuffled among as many it reads right, as numbered tiles without labels on
    ``out/sheet-<page>.png``; ``out/key.tsv`` holds each number's id, label and answer. Returns
    the number of digits whose ink could not be read (named on stderr, left out)."""
    from lstmrec.features.inkimage import draw_paths, pillow_modules

    manifest = manifest_path(data, split)
    utts = read_manifest(manifest)
    if not utts:
        raise DataError("the manifest has no digits", manifest)
    earlier = [p for p in sorted(out.glob("sheet-*.png")) if p.stem[len("sheet-") :].isdigit()]
    for path in [out / "key.tsv", *earlier]:
        check_output(path, force=force, flag="--out")
    hyps = read_answers(hyp_file, manifest, [u.id for u in utts])
    wrong = [u for u in utts if hyps.get(u.id) != u.text]
    if not wrong:
        raise DataError(f"it reads all {len(utts)} digits right: nothing to draw", hyp_file)
    right = [u for u in utts if hyps.get(u.id) == u.text]
    rng = np.random.default_rng(seed)
    chosen = wrong + [right[i] for i in sorted(rng.permutation(len(right))[: len(wrong)])]
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    tiles, keys, skipped = [], [], 0
    size = GRID * SHEET_SCALE
    for u in chosen:
        try:
            strokes = read_ink_file(u.path)[0].strokes
        except DataError as e:
            print(f"mnist_ink: skipped: {e}", file=sys.stderr)
            skipped += 1
            continue
        paths = [(s[:, :2] + 0.5) * SHEET_SCALE for s in strokes]  # a grid pixel's centre
        tiles.append(draw_paths(paths, SHEET_SCALE, (size, size)))
        keys.append(f"{len(keys) + 1}\t{u.id}\t{u.text}\t{hyps.get(u.id, '-')}\n")
    image_mod, draw_mod = pillow_modules()
    per_page, cell = SHEET_COLUMNS * SHEET_ROWS, (size + 16, size + 28)
    out.mkdir(parents=True, exist_ok=True)
    pages = [out / f"sheet-{n}.png" for n in range(1, -(-len(tiles) // per_page) + 1)]
    for path in set(earlier) - set(pages):  # an earlier, longer sheet's last pages
        path.unlink()
    for page, start in enumerate(range(0, len(tiles), per_page), 1):
        batch = tiles[start : start + per_page]
        rows = -(-len(batch) // SHEET_COLUMNS)
        image = image_mod.new("L", (SHEET_COLUMNS * cell[0], rows * cell[1]), 255)
        draw = draw_mod.Draw(image)
        for j, tile in enumerate(batch):
            x, y = (j % SHEET_COLUMNS) * cell[0] + 8, (j // SHEET_COLUMNS) * cell[1] + 4
            image.paste(image_mod.fromarray(tile), (x, y))
            draw.rectangle((x - 1, y - 1, x + size, y + size), outline=160)
            draw.text((x + size // 2 - 8, y + size + 6), str(start + j + 1), fill=0)
        with atomic_path(pages[page - 1]) as tmp:
            image.save(tmp, format="PNG")
    header = (
        f"# {hyp_file} on {manifest}: the digits it reads wrong among as many it reads right, "
        f"shuffled with seed {seed}\n# digits, read wrong\t{len(utts)}\t{len(wrong)}\n"
        "# number\tid\tlabel\tanswer\n"
    )
    write_text(out / "key.tsv", header + "".join(keys))
    print(f"{len(keys)} digits on {out}/sheet-*.png; write one digit (or ?) per number, in order")
    return skipped


def read_sheet(sheet_dir: Path, reading_file: Path) -> None:
    """Score a person's reading of a sheet: of the digits the hypotheses read wrong, how many
    the person reads as their label, as the hypotheses' answer, or otherwise; of those read
    right, how many the person reads as their label."""
    key_file = sheet_dir / "key.tsv"
    try:
        lines = key_file.read_text(encoding="utf-8").splitlines()
        counts = next(line for line in lines if line.startswith("# digits, read wrong\t"))
        total, misread = (int(n) for n in counts.split("\t")[1:])
        key = [line.split("\t") for line in lines if line and not line.startswith("#")]
        if any(len(k) != 4 for k in key):
            raise ValueError("a line without 4 fields")
        readings = reading_file.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError, StopIteration, ValueError) as e:
        raise DataError(f"not a sheet's key and reading ({e})", key_file) from None
    if len(readings) != len(key):
        raise DataError(f"{len(readings)} readings for {len(key)} digits", reading_file)
    for n, r in enumerate(readings, 1):
        if r not in READINGS:
            raise DataError(f"reading {n} is {r!r}, not a digit or '?'", reading_file)
    pairs = list(zip(key, readings, strict=True))
    missed = [(r, label, answer) for (_, _, label, answer), r in pairs if answer != label]
    kept = [r == label for (_, _, label, answer), r in pairs if answer == label]
    as_label = sum(r == label for r, label, _ in missed)
    as_answer = sum(r == answer for r, _, answer in missed)
    print(
        f"the {len(missed)} digits read wrong: {as_label} read as their label, {as_answer} as "
        f"the hypotheses' answer, {len(missed) - as_label - as_answer} otherwise"
    )
    print(f"the {len(kept)} digits read right: {sum(kept)} read as their label")
    print(
        f"the hypotheses, had they read those {as_label} as their label too: "
        f"{100.0 * (total - misread + as_label) / total:.2f} % of {total} digits"
    )


def digit_log_probs(logits: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """log P(one label l | logits) under CTC for each class column ``l`` of ``columns``: the sum
    over every path of blanks, a run of l, blanks (blank at column 0). ``logits`` ``(T, V + 1)``;
    returns float64 ``(len(columns),)``, -inf for all when T = 0."""
    z = np.asarray(logits, dtype=np.float64)
    lp = z - np.logaddexp.reduce(z, axis=-1, keepdims=True)  # log-softmax
    blank, label = lp[:, 0], lp[:, list(columns)]  # (T,), (T, L)
    before = np.full(len(columns), -np.inf)  # blanks only so far
    inside = np.full(len(columns), -np.inf)  # in the run of the label
    after = np.full(len(columns), -np.inf)  # blanks after the run
    for t in range(len(lp)):
        start = 0.0 if t == 0 else before
        after = np.logaddexp(after, inside) + blank[t]
        inside = np.logaddexp(inside, start) + label[t]
        before = start + blank[t]
    return np.logaddexp(inside, after)


def _model_scores(
    path: str, utts, views: list[dict], skip, cache: dict | None = None
) -> np.ndarray:
    """``(len(views), len(utts), 10)`` log P(digit) of the model at ``path`` for each digit with
    ink in ``views[0]`` (-inf for the others) in each view (the digits' ink, then distorted
    copies of it); a digit its features refuse in any view goes to ``skip``. ``cache`` keeps
    each view's features by feature configuration, so models that share one (the CRNNs of a
    recipe) have them computed once."""
    from lstmrec.bundle import load_bundle
    from lstmrec.features.audio import apply_cmvn
    from lstmrec.featurize import checked_ink_features
    from lstmrec.inference.decoder import predict_logits

    bundle = load_bundle(path, engine="numpy")
    symbols = bundle.symbols.symbols  # class i + 1 (0 is the blank)
    if not set(DIGITS) <= set(symbols):
        raise DataError("not a digit model (its symbols lack some of 0-9)", path)
    columns = [symbols.index(d) + 1 for d in DIGITS]
    scores = np.zeros((len(views), len(utts), len(DIGITS)))
    cache = {} if cache is None else cache
    for k, view in enumerate(views):
        key = (repr(bundle.features), k)
        if key not in cache:
            rows, raw = [], []
            for i, u in enumerate(utts):
                if u.id not in views[0]:
                    continue
                try:
                    raw.append(checked_ink_features(view[u.id], bundle.features, u.path)[0])
                except DataError as e:
                    skip(u.id, e)
                    continue
                rows.append(i)
            cache[key] = rows, raw
        rows, raw = cache[key]
        feats = [apply_cmvn(f, bundle.mean, bundle.std) for f in raw]
        for i, logits in zip(rows, predict_logits(bundle.model, feats), strict=True):
            scores[k, i] = digit_log_probs(logits, columns)
    scores[:, [u.id not in views[0] for u in utts]] = -np.inf
    return scores


def _read_views(utts, distortions: int, skip, inks: dict) -> list[dict]:
    """``[inks, copy 1, ...]``: ``inks`` filled with the digits' ink by id (those that can be
    read; the others go to ``skip``), then ``distortions`` seeded distorted copies of it
    (``AUGMENT``, the same copies in every run)."""
    for u in utts:
        try:
            inks[u.id] = read_ink_file(u.path)[0].strokes
        except DataError as e:
            skip(u.id, e)
    views = [inks]
    for k in range(1, distortions + 1):
        rng = np.random.default_rng([AUGMENT_SEED, k])
        views.append({uid: AUGMENT(strokes, rng) for uid, strokes in inks.items()})
    return views


def combine(
    data: Path,
    bundles: list[str],
    split: str,
    hyp_out: Path | None,
    force: bool = False,
    distortions: int = 0,
) -> int:
    """Read every digit of ``data/<split>.jsonl`` with each bundle, add the models' log
    probabilities of the ten one-digit labels and take the best: a product of experts, each
    model's vote weighted by its confidence. ``distortions`` K > 0: each model also reads K
    distorted copies of every digit (``AUGMENT``, the same copies for every model, seeded) and
    its log probabilities are added over the K + 1 readings. Prints each model's accuracy (its
    own best digit) and the combination's; ``hyp_out`` gets the combination's answers (Kaldi
    text). A digit whose ink cannot be read, or that a model's features refuse, is named,
    skipped and counted wrong. Returns the number of digits skipped."""
    manifest = manifest_path(data, split)
    if hyp_out is not None:
        check_output(hyp_out, force=force, flag="--hyp-out")
    utts, inks = read_manifest(manifest), {}

    def skip(uid: str, error: DataError) -> None:
        print(f"mnist_ink: skipped: {error}", file=sys.stderr)
        inks.pop(uid, None)

    views = _read_views(utts, distortions, skip, inks)
    total, features = np.zeros((len(utts), len(DIGITS))), {}
    for path in bundles:
        scores = _model_scores(path, utts, views, skip, features).sum(axis=0)
        total += scores
        print(accuracy_line(f"{path}: ", _wrong(utts, scores, inks)))
    print(accuracy_line("combined: ", _wrong(utts, total, inks)))
    if hyp_out is not None:
        best = total.argmax(axis=1)
        lines = [f"{u.id} {DIGITS[k]}\n" for u, k in zip(utts, best, strict=True) if u.id in inks]
        write_text(hyp_out, "".join(lines))
    return len(utts) - len(inks)


def write_probs(data: Path, bundle: str, out: Path, holdout: int = 0, force: bool = False) -> int:
    """Write ``out/probs.npz`` in the form ``scripts/mnist_cnn_peer.py`` writes, so that its
    ``--combine`` adds this model to image classifiers: for the dev and test digits (and with
    ``holdout`` N > 0 the last N digits of the ``train`` manifest, which the bundle must not
    have been trained on) ``{role}_ids``, ``{role}_probs`` (each digit's probabilities of the
    ten one-digit labels, renormalised over them) and ``{role}_copies`` (the same for
    ``PROBS_COPIES`` distorted copies, ``combine``'s). Returns the digits skipped."""
    check_output(out / "probs.npz", force=force, flag="--out")
    roles = {"dev": "dev", "test": "core-test"} | ({"holdout": "train"} if holdout else {})
    saved, skipped = {}, 0
    for role, name in roles.items():
        manifest = manifest_path(data, name)
        utts, inks = read_manifest(manifest), {}
        if role == "holdout":
            if holdout >= len(utts):
                raise DataError(f"--holdout {holdout} is not fewer than its digits", manifest)
            utts = utts[-holdout:]

        def skip(uid: str, error: DataError, inks=inks) -> None:
            print(f"mnist_ink: skipped: {error}", file=sys.stderr)
            inks.pop(uid, None)

        views = _read_views(utts, PROBS_COPIES, skip, inks)
        scores = _model_scores(bundle, utts, views, skip)
        print(accuracy_line(f"{role}: ", _wrong(utts, scores[0], inks)))
        keep = [u.id in inks for u in utts]
        probs = np.exp(scores[:, keep] - np.logaddexp.reduce(scores[:, keep], axis=-1)[..., None])
        saved[f"{role}_ids"] = np.array([u.id for u in utts if u.id in inks])
        saved[f"{role}_probs"], saved[f"{role}_copies"] = probs[0], probs[1:]
        skipped += len(utts) - len(inks)
    with atomic_path(out / "probs.npz") as tmp:
        np.savez(tmp, **saved)
    return skipped


def _wrong(utts, scores: np.ndarray, inks: dict) -> list[int]:
    """1 for each digit whose best-scored label is not its text, or that was skipped."""
    best = scores.argmax(axis=1)
    return [int(u.id not in inks or DIGITS[k] != u.text) for u, k in zip(utts, best, strict=True)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("prepare", help="write ink files and manifests of the fixed split")
    q.add_argument("npz", help="MNIST strokes file (strokes.npz)")
    q.add_argument("out", help="output folder")
    for split in SPLIT_FILES:
        size = len(MNIST_SPLITS[split])
        help_ = f"keep the first N {split} digits (default: all {size})"
        q.add_argument(f"--{split}", type=int, metavar="N", help=help_)
    q.add_argument(
        "--augment",
        type=int,
        default=0,
        metavar="K",
        help="also write K distorted copies of every training digit (default 0)",
    )
    q.add_argument(
        "--force", action="store_true", help="overwrite the manifests of an earlier prepare in out"
    )
    q = sub.add_parser("accuracy", help="digit accuracy of hypothesis files, with 95 %% CI")
    q.add_argument("data", help="the folder written by prepare")
    q.add_argument(
        "hyp",
        nargs="+",
        help="hypotheses written by 'lstmrec evaluate --hyp-out'; several: also their vote",
    )
    q.add_argument("--split", default="core-test", help="manifest scored (default core-test)")
    q = sub.add_parser("combine", help="several digit models' probabilities added, with 95 %% CI")
    q.add_argument("data", help="the folder written by prepare")
    q.add_argument("bundle", nargs="+", help="model bundles (runs/x/model) of digit models")
    q.add_argument("--split", default="core-test", help="manifest read (default core-test)")
    q.add_argument("--hyp-out", type=Path, help="write the combined answers here (Kaldi text)")
    q.add_argument("--force", action="store_true", help="overwrite an existing --hyp-out file")
    q.add_argument(
        "--distortions",
        type=int,
        default=0,
        metavar="K",
        help="each model also reads K distorted copies of every digit, scores added (default 0)",
    )
    q = sub.add_parser(
        "probs", help="a digit model's probabilities as scripts/mnist_cnn_peer.py keeps them"
    )
    q.add_argument("data", type=Path, help="the folder written by prepare")
    q.add_argument("bundle", help="a model bundle (runs/x/model) of a digit model")
    q.add_argument("--out", type=Path, required=True, help="folder for probs.npz")
    q.add_argument(
        "--holdout",
        type=int,
        default=0,
        metavar="N",
        help="also the last N training digits, which the model was not trained on (default 0)",
    )
    q.add_argument("--force", action="store_true", help="overwrite an existing probs.npz")
    q = sub.add_parser("sheet", help="draw misread digits among right ones for a person to read")
    q.add_argument("data", type=Path, help="the folder written by prepare")
    q.add_argument("hyp", help="hypotheses (Kaldi text: id digit)")
    q.add_argument("--out", type=Path, required=True, help="folder for the pages and key.tsv")
    q.add_argument("--split", default="core-test", help="manifest read (default core-test)")
    q.add_argument("--seed", type=int, default=SHEET_SEED, help="the shuffle (default 0)")
    q.add_argument("--force", action="store_true", help="overwrite an earlier sheet in --out")
    q = sub.add_parser("read", help="score a person's reading of a sheet")
    q.add_argument("sheet", type=Path, help="the folder written by sheet")
    q.add_argument("reading", type=Path, help="one digit or ? per number, in order")
    args = p.parse_args(argv)
    try:
        if args.command == "sheet":
            require_at_least({"--seed": (args.seed, 0)})
            if sheet(args.data, args.hyp, args.out, args.split, args.seed, args.force):
                return 2
        elif args.command == "read":
            read_sheet(args.sheet, args.reading)
        elif args.command == "prepare":
            caps = {split: getattr(args, split) for split in SPLIT_FILES}
            for split, cap in caps.items():
                if cap is not None and cap < 1:
                    p.error(f"--{split} must be a positive number of digits, got {cap}")
            if args.augment < 0:
                p.error(f"--augment must be 0 or more copies, got {args.augment}")
            prepare(args.npz, Path(args.out), caps, args.augment, args.force)
        elif args.command == "combine":
            if args.distortions < 0:
                p.error(f"--distortions must be 0 or more copies, got {args.distortions}")
            skipped = combine(
                Path(args.data), args.bundle, args.split, args.hyp_out, args.force,
                args.distortions,
            )  # fmt: skip
            if skipped:
                return 2
        elif args.command == "probs":
            if args.holdout < 0:
                p.error(f"--holdout must be 0 or more digits, got {args.holdout}")
            if write_probs(args.data, args.bundle, args.out, args.holdout, args.force):
                return 2
        else:
            accuracy(Path(args.data), args.hyp, args.split)
    except DataError as e:
        print(f"mnist_ink: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
