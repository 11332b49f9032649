"""Recurrent cells side by side: one recipe, one seed, one parameter budget, real speech.

Each cell (``models.blstm.build_model(cell=...)``) is trained on the same utterances (TIMIT and
FSDD, both labelled in the 39-phone set) with the same recipe and seed; its units per direction
are chosen so that the whole network has about as many parameters as the LSTM network of the
recipe. Reported per cell: PER on held-out speakers, training throughput (frames/s, from
:func:`lstmrec.bench.training.time_training`) and the parameter count.

:func:`gradient_norms` shows why gated cells exist: the norm of the gradient of a loss on the
last output with respect to each input step of a long sequence (backpropagation through time),
which shrinks exponentially with distance for a plain tanh RNN (Hochreiter 1991; Bengio, Simard
& Frasconi 1994) and much more slowly for an LSTM.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lstmrec.backend import import_keras
from lstmrec.bench.training import lengths_from, time_training
from lstmrec.bundle import load_bundle
from lstmrec.config import Recipe, load_recipe
from lstmrec.corpora.fsdd import find_fsdd, select_fsdd
from lstmrec.corpora.splits import select_split
from lstmrec.corpora.timit import find_timit
from lstmrec.features.errors import DataError
from lstmrec.inference.evaluate import evaluate_bundle
from lstmrec.manifest import Utterance
from lstmrec.phones import read_speaker_list
from lstmrec.scoring.align import ErrorCounts
from lstmrec.scoring.plots import new_figure, save_png
from lstmrec.targets import symbol_table_for, utterance_labels

Log = Callable[[str], None]

CELLS = ("lstm", "peephole", "cifg", "gru", "rnn")

# The recipe every cell shares. Features at FSDD's 8 kHz: TIMIT (16 kHz) is resampled down, so
# both corpora fill the same band and no filterbank channel is empty for one of them. 39-phone
# targets: FSDD's lexicon phones are already in that set, TIMIT's 61 are folded. No dev set:
# a fixed number of epochs, so every cell gets the same number of updates.
RECIPE_OVERRIDES = (
    "features.sample_rate=8000",
    'data.dev_split=""',
    "data.phone_set=39",
    "data.score_phone_set=39",
    "model.num_layers=2",
    "model.units=128",
    'training.optimizer="adam"',
    "training.learning_rate=1e-3",
    'training.loss_reduction="mean"',
    "training.batch_size=8",
    "training.max_epochs=30",
    "training.clipnorm=5.0",
    "training.seed=1234",
)
# --quick: a few minutes on 2 CPU cores for all five cells.
QUICK_OVERRIDES = ("model.num_layers=1", "model.units=48", "training.max_epochs=8")
QUICK_PER_DIGIT = 10  # FSDD recordings per digit and speaker with --quick


def comparison_recipe(*, quick: bool = False, overrides: Sequence[str] = ()) -> Recipe:
    """The shared recipe (``RECIPE_OVERRIDES`` on the defaults), then ``QUICK_OVERRIDES``, then
    ``overrides`` (``table.field=value``, as on the command line)."""
    return load_recipe(None, [*RECIPE_OVERRIDES, *(QUICK_OVERRIDES if quick else ()), *overrides])


def comparison_data(
    *,
    timit_root: str | os.PathLike,
    timit_test_speakers: str | os.PathLike,
    fsdd_root: str | os.PathLike,
    fsdd_test_speakers: Sequence[str],
    per_digit: int | None = None,
) -> tuple[list[Utterance], dict[str, list[Utterance]]]:
    """Training utterances and test sets ``{"timit": ..., "fsdd": ...}``, disjoint in speakers.

    TIMIT: train = the TRAIN-part speakers not in ``timit_test_speakers`` (a speaker-list file),
    SA sentences included; test = those speakers without SA (as ``select_split`` makes them).
    FSDD: ``fsdd_test_speakers`` held out whole; ``per_digit`` limits recordings per digit and
    speaker (see :func:`lstmrec.corpora.fsdd.select_fsdd`). Raises :class:`DataError` for a
    missing or malformed corpus and for an empty test set.
    """
    timit = find_timit(timit_root)
    spk = read_speaker_list(timit_test_speakers)
    timit_train = select_split(timit, "train", keep_sa=True, test_speakers=spk)
    timit_test = select_split(timit, "core-test", test_speakers=spk)
    try:
        fsdd_train, fsdd_test = select_fsdd(
            find_fsdd(fsdd_root), test_speakers=fsdd_test_speakers, per_digit=per_digit
        )
    except ValueError as e:
        if isinstance(e, DataError):
            raise
        raise DataError(str(e), fsdd_root) from None
    if not timit_test:
        raise DataError(f"no TIMIT utterances of the test speakers {', '.join(spk)}", timit_root)
    return [*timit_train, *fsdd_train], {"timit": timit_test, "fsdd": fsdd_test}


def count_params(
    cell: str, units: int, *, input_dim: int, num_classes: int, num_layers: int
) -> int:
    """Trainable and non-trainable parameters of ``build_model`` with this cell and width."""
    from lstmrec.models.blstm import build_model  # Keras: loaded only to build a network

    model = build_model(
        input_dim=input_dim, num_classes=num_classes, num_layers=num_layers, units=units, cell=cell
    )
    return int(model.count_params())


def units_for_budget(
    cell: str, budget: int, *, input_dim: int, num_classes: int, num_layers: int
) -> tuple[int, int]:
    """``(units, params)``: the width per direction whose parameter count is closest to ``budget``.

    The count grows with the width, so a doubling search brackets the budget and a bisection
    finds the two widths around it; of those the closer wins (the smaller on a tie).
    """
    counts: dict[int, int] = {}

    def count(units: int) -> int:
        if units not in counts:
            counts[units] = count_params(
                cell, units, input_dim=input_dim, num_classes=num_classes, num_layers=num_layers
            )
        return counts[units]

    lo, hi = 1, 1
    while count(hi) < budget:  # afterwards count(lo) < budget <= count(hi), or hi == 1
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < budget else (lo, mid)
    best = min((lo, hi), key=lambda u: (abs(count(u) - budget), u))
    return best, count(best)


def run_cell(
    recipe: Recipe,
    cell: str,
    units: int,
    train_utts: Sequence[Utterance],
    test_sets: Mapping[str, Sequence[Utterance]],
    *,
    out_dir: Path,
    cache_dir: Path,
    bench_lengths: np.ndarray,
    bench_steps: int,
    log: Log,
) -> dict[str, Any]:
    """Train one cell, score it on every test set, time its training steps."""
    # Keras (and TensorFlow): loaded only once a cell is trained.
    from lstmrec.models.blstm import build_model
    from lstmrec.training.train import train

    recipe = dataclasses.replace(
        recipe, model=dataclasses.replace(recipe.model, cell=cell, units=units)
    )
    summary = train(
        recipe,
        train_utts,
        (),
        out_dir=out_dir,
        cache_dir=cache_dir,
        log=lambda m: log(f"{cell}: {m}"),
    )
    bundle = load_bundle(out_dir / "model")
    fold_to = recipe.data.score_phone_set
    counts = {
        name: evaluate_bundle(bundle, utts, fold_to=fold_to)[0].total
        for name, utts in test_sets.items()
    }
    total = sum(counts.values(), ErrorCounts())
    fresh = build_model(
        input_dim=recipe.features.dim,
        num_classes=len(bundle.symbols),
        num_layers=recipe.model.num_layers,
        units=units,
        cell=cell,
    )
    frames_per_s = time_training(
        fresh,
        bench_lengths,
        batch_size=recipe.training.batch_size,
        input_dim=recipe.features.dim,
        num_classes=len(bundle.symbols),
        steps=bench_steps,
    )
    return {
        "units": units,
        "params": int(bundle.model.count_params()),
        "per": round(total.error_rate, 2),
        **{f"per_{name}": round(c.error_rate, 2) for name, c in counts.items()},
        "frames_per_s": round(frames_per_s, 1),
        "train_seconds": summary["train_seconds_this_run"],
        "epochs": summary["epochs_run"],
    }


def compare_cells(
    recipe: Recipe,
    train_utts: Sequence[Utterance],
    test_sets: Mapping[str, Sequence[Utterance]],
    *,
    out_dir: str | os.PathLike,
    cells: Sequence[str] = CELLS,
    budget: int | None = None,
    bench_steps: int = 10,
    log: Log = print,
) -> dict[str, dict[str, Any]]:
    """Train and score every cell with the same recipe, seed and parameter budget.

    Args:
        recipe: shared settings; ``recipe.model.units`` sets the budget (below) and
            ``recipe.training.seed`` seeds every cell's initialisation and batch order.
        train_utts: labelled training utterances (their phones fold to ``recipe.data.phone_set``).
        test_sets: named test sets; PER is reported on their union and on each.
        out_dir: one run folder per cell (``out_dir/<cell>``, refused if it holds an earlier run)
            and a feature cache shared by all (``out_dir/features``).
        budget: parameters each network should have; default: the LSTM network's at
            ``recipe.model.units``.
        bench_steps: timed training steps for frames/s.

    Returns:
        ``{cell: {"units", "params", "per", "per_<set>", "frames_per_s", "train_seconds",
        "epochs"}}`` in the order of ``cells``; PERs in percent (39-phone folding by default).
    """
    out_dir = Path(out_dir)
    phone_set = recipe.data.phone_set
    symbols = symbol_table_for([utterance_labels(u, phone_set) for u in train_utts], phone_set)
    shape = dict(
        input_dim=recipe.features.dim, num_classes=len(symbols), num_layers=recipe.model.num_layers
    )
    if budget is None:
        budget = count_params("lstm", recipe.model.units, **shape)
    lengths = lengths_from(
        train_utts,
        hop_ms=recipe.features.hop_ms,
        count=4 * recipe.training.batch_size,
        seed=recipe.training.seed,
    )
    results = {}
    for cell in cells:
        units, params = units_for_budget(cell, budget, **shape)
        log(f"{cell}: {units} units per direction, {params:,} parameters (budget {budget:,})")
        results[cell] = run_cell(
            recipe,
            cell,
            units,
            train_utts,
            test_sets,
            out_dir=out_dir / cell,
            cache_dir=out_dir / "features",
            bench_lengths=lengths,
            bench_steps=bench_steps,
            log=log,
        )
    return results


# ---------------------------------------------------------------------------------------------
# Vanishing gradients

# Keras' own layers for the picture: the point is the cell's recurrence, not this project's
# length-aware wrapper. Keras initialises the LSTM's forget-gate bias to 1 (unit_forget_bias).
GRADIENT_LAYERS = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


def gradient_norms(
    cell: str, *, steps: int = 300, units: int = 32, input_dim: int = 16, seed: int = 0
) -> np.ndarray:
    """Norm of the gradient reaching each input step of a long sequence, at initialisation.

    One unidirectional layer (``GRADIENT_LAYERS[cell]``, ``units`` wide, seeded weights) reads a
    standard-normal input ``x`` of shape ``(1, steps, input_dim)``; the loss is the sum of its
    last step's output. Computed in float64, because float32 underflows to 0 well before the
    first step for the RNN. Needs the TensorFlow backend (``tf.GradientTape``).

    Returns:
        ``(steps,)`` float64: ``||dL/dx_t||_2`` for t = 0 .. steps-1.
    """
    keras = import_keras()  # Keras and TensorFlow: loaded only for the picture

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"gradient_norms needs the TensorFlow backend, not {keras.backend.backend()}"
        )
    if cell not in GRADIENT_LAYERS:
        raise ValueError(f"cell={cell!r}: gradient_norms supports {', '.join(GRADIENT_LAYERS)}")
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    layer = getattr(keras.layers, GRADIENT_LAYERS[cell])(units, dtype="float64")
    x = tf.constant(np.random.default_rng(seed).standard_normal((1, steps, input_dim)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x))  # layer(x): (1, units), the output after the last step
    grad = tape.gradient(loss, x)[0].numpy()  # (steps, input_dim)
    return np.linalg.norm(grad, axis=1)


def plot_gradient_norms(
    norms: Mapping[str, np.ndarray], path: str | os.PathLike, *, title: str | None = None
) -> Path:
    """Write a PNG of each curve ``norms[cell]`` (shape ``(T,)``) against t, log y-axis."""
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    for cell, curve in norms.items():
        ax.semilogy(np.arange(len(curve)), curve, label=cell.upper(), linewidth=1.5)
    steps = max(len(c) for c in norms.values())
    ax.set_xlabel(f"input step t (the loss is on the output at step {steps - 1})")
    ax.set_ylabel("gradient norm ||dL/dx_t||")
    ax.set_title(title or "Gradient reaching each time step (backpropagation through time)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return save_png(fig, path)
