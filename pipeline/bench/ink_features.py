"""Ink feature sets side by side: one recipe, one epoch budget, held-out writers.

Each system is the shared recipe with a few overrides of its own, usually
``features.feature_set`` (``"basic"``, ``"graves2009"``, ``"bezier"``; see
:mod:`lstmrec.features.ink`), or a normalisation choice such as ``features.deslant=false``.
Every system is trained on the same training split for the same number of epochs (early
stopping off, so none stops sooner; the dev split still picks the best epoch), then
recognises the same test split. Reported per system: CER and WER with 95 % bootstrap
intervals, frames per line, feature time per line, seconds per epoch, and, against the
reference system (``basic`` when it is there), the paired differences in CER and WER with
their intervals and the matched-pairs and Wilcoxon tests of :mod:`lstmrec.scoring.stats`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lstmrec.bundle import load_bundle
from lstmrec.config import Recipe, load_recipe
from lstmrec.features.errors import DataError, OnError
from lstmrec.features.ink import FEATURE_SETS, InkFeatureConfig
from lstmrec.featurize import compute_features
from lstmrec.inference.evaluate import TextReport, evaluate_text_bundle
from lstmrec.manifest import Utterance
from lstmrec.scoring.report import compare_reports, confidence_interval

Log = Callable[[str], None]

REFERENCE = "basic"  # the system the others are compared with, when it is among them


@dataclasses.dataclass(frozen=True)
class System:
    """One column of the comparison: a name and its recipe overrides (``table.field=value``)."""

    name: str
    overrides: tuple[str, ...]


def feature_set_system(name: str) -> System:
    """The system that only changes ``features.feature_set``; ValueError for an unknown set."""
    if name not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {name!r}; valid: {', '.join(FEATURE_SETS)}")
    return System(name, (f'features.feature_set="{name}"',))


def system_recipe(
    recipe_path: str | os.PathLike | None,
    system: System,
    *,
    epochs: int,
    overrides: Sequence[str] = (),
) -> Recipe:
    """The recipe file, then ``overrides`` (shared by every system), then the epoch budget
    (``training.max_epochs``, early stopping off), then the system's own overrides.

    Raises :class:`DataError` for a bad recipe or override, and when the recipe is not an ink
    recipe.
    """
    budget = [f"training.max_epochs={epochs}", "training.patience=0"]
    recipe = load_recipe(recipe_path, [*overrides, *budget, *system.overrides])
    if not isinstance(recipe.features, InkFeatureConfig):
        raise DataError('not an ink recipe ([features] kind must be "ink")', recipe_path)
    return recipe


def feature_cost(utts: Sequence[Utterance], config: InkFeatureConfig) -> dict[str, float]:
    """Frames per line and milliseconds of feature computation per line on ``utts`` (no cache;
    unusable ink is skipped)."""
    t0 = time.perf_counter()
    feats = compute_features(utts, config, on_error=lambda e: None, desc="test features")
    seconds = time.perf_counter() - t0
    lines = max(len(feats), 1)
    return {
        "frames_per_line": round(sum(len(f) for f in feats.values()) / lines, 1),
        "feature_ms_per_line": round(1000 * seconds / max(len(utts), 1), 2),
    }


def run_system(
    recipe: Recipe,
    train_utts: Sequence[Utterance],
    dev_utts: Sequence[Utterance],
    test_utts: Sequence[Utterance],
    *,
    out_dir: Path,
    cache_dir: Path,
    log: Log,
    on_error: OnError | None = None,
) -> tuple[dict[str, Any], TextReport]:
    """Train one system, recognise the test lines: its row of the table and its report.
    ``on_error`` as :func:`compare_ink_features` takes it."""
    from lstmrec.training.train import train  # Keras and TensorFlow: only training loads them

    summary = train(recipe, train_utts, dev_utts, out_dir=out_dir, cache_dir=cache_dir,
                    on_error=on_error, log=log)  # fmt: skip
    bundle = load_bundle(out_dir / "model")
    skipped = on_error or (lambda e: log(f"skipped: {e}"))
    report, _ = evaluate_text_bundle(bundle, test_utts, on_error=skipped)
    history = summary["history"]
    row = {
        "feature_set": recipe.features.feature_set,
        "dim": recipe.features.dim,
        "params": int(bundle.model.count_params()),
        "epochs": summary["epochs_run"],
        "best_epoch": summary["best_epoch"],
        "seconds_per_epoch": round(sum(h["seconds"] for h in history) / max(len(history), 1), 1),
        "train_frames_per_line": round(summary["train_frames"] / summary["train_utterances"], 1),
        **feature_cost(test_utts, recipe.features),
        "dev_cer": summary.get("dev_error_rate"),
        "test_lines": report.chars.num_utterances,
        "cer": report.chars.total.error_rate,
        "cer_ci95": confidence_interval(report.chars),
        "wer": report.words.total.error_rate,
        "wer_ci95": confidence_interval(report.words),
    }
    return row, report


def paired(reference: TextReport, other: TextReport) -> dict[str, Any]:
    """CER and WER of ``other`` minus ``reference`` on the same lines: difference (points), its
    95 % paired-bootstrap interval and the two tests' p-values; an ``error`` entry instead when
    the two were not scored on the same lines."""
    out: dict[str, Any] = {}
    for key, a, b in (("cer", reference.chars, other.chars), ("wer", reference.words, other.words)):
        try:
            c = compare_reports(a, b)
        except ValueError as e:
            return {"error": str(e)}
        out[key] = {
            "difference": c.difference,
            "difference_ci": list(c.difference_ci),
            "prob_better": c.prob_b_better,
            "matched_pairs_p": c.matched_pairs_p,
            "wilcoxon_p": c.wilcoxon_p,
            "significant": c.significant,
        }
    return out


def compare_ink_features(
    systems: Sequence[System],
    recipe_path: str | os.PathLike | None,
    splits: tuple[Sequence[Utterance], Sequence[Utterance], Sequence[Utterance]],
    *,
    epochs: int,
    out_dir: str | os.PathLike,
    overrides: Sequence[str] = (),
    log: Log = print,
    on_error: OnError | None = None,
) -> dict[str, Any]:
    """Train and score every system, one after the other.

    Args:
        systems: the columns, in order; the reference is ``basic`` when present, else the first.
        recipe_path: the shared ink recipe (TOML), or None for the defaults.
        splits: ``(train, dev, test)`` labelled utterances; dev may be empty (the last epoch's
            model is then kept).
        epochs: training epochs of every system.
        out_dir: one run folder per system (``out_dir/<name>``) and a shared feature cache
            (``out_dir/features``).
        overrides: ``table.field=value`` for every system, before its own.
        on_error: called with each line of the splits that cannot be used, a known gap of the
            corpus (:class:`lstmrec.features.errors.CorpusGap`) included, which is then left
            out (or it raises); None: training raises at the first, a test line is logged and
            left out.

    Returns:
        ``{"reference", "epochs", "systems": {name: row}}``; each row as :func:`run_system`
        makes it, with its overrides, and ``vs_reference`` (:func:`paired`) for the others.
    """
    out_dir = Path(out_dir)
    names = [s.name for s in systems]
    reference = REFERENCE if REFERENCE in names else names[0]
    recipes = {s.name: system_recipe(recipe_path, s, epochs=epochs, overrides=overrides)
               for s in systems}  # fmt: skip
    rows, reports = {}, {}
    train_utts, dev_utts, test_utts = splits
    for system in systems:
        log(f"{system.name}: {' '.join(system.overrides) or 'the recipe as it is'}")
        rows[system.name], reports[system.name] = run_system(
            recipes[system.name],
            train_utts,
            dev_utts,
            test_utts,
            out_dir=out_dir / system.name,
            cache_dir=out_dir / "features",
            log=lambda m, n=system.name: log(f"{n}: {m}"),
            on_error=on_error,
        )
        rows[system.name]["overrides"] = list(system.overrides)
    for name in names:
        if name != reference:
            rows[name]["vs_reference"] = paired(reports[reference], reports[name])
    return {"reference": reference, "epochs": epochs, "systems": rows}


def _interval(row: dict, key: str) -> str:
    ci = row.get(f"{key}_ci95") or []
    return f"{row[key]:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else f"{row[key]:.1f}"


def _versus(row: dict, key: str) -> str:
    vs = row.get("vs_reference")
    if vs is None:
        return "(reference)"
    if "error" in vs:
        return "not paired"
    c = vs[key]
    lo, hi = c["difference_ci"]
    return f"{c['difference']:+.1f} [{lo:+.1f}, {hi:+.1f}] p={c['matched_pairs_p']:.2g}"


TABLE_COLUMNS = (
    "system", "features", "dim", "frames/line", "feat ms/line", "s/epoch", "epochs",
    "dev CER %", "CER % [95 % CI]", "WER % [95 % CI]", "ΔCER vs ref", "ΔWER vs ref",
)  # fmt: skip


def results_table(results: dict[str, Any], *, markdown: bool = False) -> str:
    """The side-by-side table of :func:`compare_ink_features`' results: aligned text, or a
    Markdown table. Differences are in points, the system minus the reference, with their
    95 % paired-bootstrap interval and the matched-pairs p-value."""
    rows = []
    for name, r in results["systems"].items():
        dev = "-" if r.get("dev_cer") is None else f"{r['dev_cer']:.1f}"
        rows.append([
            name, r["feature_set"], str(r["dim"]), f"{r['frames_per_line']:.0f}",
            f"{r['feature_ms_per_line']:.1f}", f"{r['seconds_per_epoch']:.1f}",
            f"{r['best_epoch']}/{r['epochs']}", dev, _interval(r, "cer"), _interval(r, "wer"),
            _versus(r, "cer"), _versus(r, "wer"),
        ])  # fmt: skip
    if markdown:
        lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
        return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)]) + "\n"
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(TABLE_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [list(TABLE_COLUMNS), *rows]]  # fmt: skip
    return "\n".join(lines) + "\n"
