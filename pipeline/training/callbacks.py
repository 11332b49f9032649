"""Keras callbacks of the training loop: per-epoch evaluation and checkpoints, the run's
history (``history.csv``, TensorBoard scalars), weight noise."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from lstmrec.features.files import atomic_dir, write_text
from lstmrec.progress import progress

CHECKPOINT = "checkpoint"  # directory under the run's output folder
BEST = "best.weights.h5"  # in the checkpoint: the weights of the best epoch so far
HISTORY = "history.csv"  # in the run folder: one row per epoch
TENSORBOARD = "tensorboard"  # in the run folder: TensorBoard event files
# The columns of history.csv; the keys of each epoch's entry in the loop state's history.
HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "dev_error_rate",
    "seconds",
    "learning_rate",
    "frames_per_second",
)
_SEED_STATE = "seed_generator_state"  # Keras' dropout streams: not in model.save_weights()


def rng_state(model: keras.Model) -> list[np.ndarray]:
    """The state of each random stream of ``model`` (dropout), in a stable order."""
    return [keras.ops.convert_to_numpy(v) for v in model.variables if _SEED_STATE in v.path]


def save_checkpoint(out_dir: Path, model, optimizer, state: dict, *, improved: bool) -> None:
    """Write weights, the best epoch's weights (``improved``: the current ones), optimizer
    variables, random streams and loop state to ``out_dir/checkpoint`` as one folder, swapped
    into place whole (:func:`lstmrec.features.files.atomic_dir`)."""
    final = out_dir / CHECKPOINT
    with atomic_dir(final) as tmp:
        model.save_weights(tmp / "model.weights.h5")
        if improved:
            model.save_weights(tmp / BEST)
        else:
            shutil.copyfile(best_weights(out_dir), tmp / BEST)
        variables = [keras.ops.convert_to_numpy(v) for v in optimizer.variables]
        np.savez(tmp / "optimizer.npz", *variables)
        np.savez(tmp / "rng.npz", *rng_state(model))
        (tmp / "state.json").write_text(json.dumps(state, indent=2) + "\n")


def best_weights(out_dir: Path) -> Path:
    """The best epoch's weights of a run (beside the checkpoint in runs of version 0.2)."""
    inside = out_dir / CHECKPOINT / BEST
    return inside if inside.is_file() else out_dir / BEST


def load_checkpoint(out_dir: Path, model, optimizer, trainable) -> dict:
    """Restore what :func:`save_checkpoint` wrote; returns the loop state."""
    ckpt = out_dir / CHECKPOINT
    with warnings.catch_warnings(record=True) as said:  # Keras warns before a shape mismatch
        warnings.simplefilter("always")
        model.load_weights(ckpt / "model.weights.h5")  # a mismatch raises: its warnings go
    for w in said:  # the weights fit: anything Keras said is passed on
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    optimizer.build(trainable)
    with np.load(ckpt / "optimizer.npz") as z:
        values = [z[f"arr_{i}"] for i in range(len(z.files))]
    if len(values) != len(optimizer.variables):
        raise ValueError("checkpoint optimizer state does not match the optimizer")
    for var, value in zip(optimizer.variables, values, strict=True):
        var.assign(value)
    if (ckpt / "rng.npz").is_file():  # absent in checkpoints of version 0.2
        streams = [v for v in model.variables if _SEED_STATE in v.path]
        with np.load(ckpt / "rng.npz") as z:
            values = [z[f"arr_{i}"] for i in range(len(z.files))]
        if len(values) != len(streams):
            raise ValueError("checkpoint random streams do not match the model")
        for var, value in zip(streams, values, strict=True):
            var.assign(value)
    return json.loads((ckpt / "state.json").read_text())


def history_csv(history: list[dict]) -> str:
    """The text of ``history.csv``: a header of :data:`HISTORY_COLUMNS`, then one row per epoch
    (a value an entry lacks, such as the dev error rate of a run without a dev set, is empty).

    Units: loss as the training loop reports it (the epoch's mean batch loss), dev error rate in
    percent (PER or CER), seconds of the epoch's training pass (dev decoding excluded), learning
    rate at the epoch's end, training frames per second of that pass.
    """
    rows = [",".join(HISTORY_COLUMNS)]
    for entry in history:
        cells = (entry.get(name) for name in HISTORY_COLUMNS)
        rows.append(",".join("" if v is None else repr(v) for v in cells))
    return "\n".join(rows) + "\n"


def write_history(out_dir: Path, history: list[dict]) -> None:
    """Rewrite ``out_dir/history.csv`` atomically from the whole ``history`` (the loop state's,
    which a resumed run carries on, so rows are continued, never repeated); nothing is written
    when the file already holds exactly that."""
    path = Path(out_dir) / HISTORY
    text = history_csv(history)
    try:
        if not path.is_symlink() and path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_text(path, text)


class ScalarLog:
    """Scalars of each epoch (step = epoch number) as TensorBoard event files in ``folder``.

    A resumed run adds a new event file beside the old ones; TensorBoard reads them as one run.
    """

    def __init__(self, folder: Path):
        import tensorflow as tf

        self.tf = tf
        self.writer = tf.summary.create_file_writer(str(folder))

    def write(self, step: int, scalars: dict[str, float]) -> None:
        with self.writer.as_default():
            for name, value in scalars.items():
                self.tf.summary.scalar(name, value, step=step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def tensorboard_log(out_dir: Path, log) -> ScalarLog | None:
    """A :class:`ScalarLog` writing to ``out_dir/tensorboard/`` when the ``tensorboard`` package
    is installed; otherwise ``None``, after one line saying how to turn it on."""
    folder = Path(out_dir) / TENSORBOARD
    if importlib.util.find_spec("tensorboard") is not None:
        try:
            return ScalarLog(folder)
        except ImportError:  # TensorFlow itself is missing (another Keras backend)
            pass
    log(f"TensorBoard logs off (pip install tensorboard to have them written to {folder})")
    return None


def learning_rate(optimizer) -> float | None:
    """The optimizer's current learning rate (a schedule's value at its current step), to the 7
    significant digits a float32 holds."""
    try:
        return float(f"{float(keras.ops.convert_to_numpy(optimizer.learning_rate)):.7g}")
    except (AttributeError, TypeError, ValueError):
        return None


class EpochMonitor(keras.callbacks.Callback):
    """At each epoch end: dev error rate, best weights, early stopping, checkpoint, one log line,
    ``history.csv`` and the TensorBoard scalars (``scalars``, a :class:`ScalarLog`, or ``None``).

    ``state`` (a JSON-ready dict) carries ``epoch``, ``best_error``, ``best_epoch``, ``wait`` and
    ``history`` across a resumed run. ``error_name`` names the dev error rate in the log
    (``"PER"`` or ``"CER"``); ``frames`` is the number of training frames an epoch passes over
    (``None``: no frames-per-second figure).
    """

    def __init__(
        self,
        *,
        acoustic_model,
        out_dir,
        evaluate,
        patience,
        state,
        log,
        error_name="PER",
        frames=None,
        scalars=None,
    ):
        super().__init__()
        self.acoustic_model, self.out_dir = acoustic_model, Path(out_dir)
        self.evaluate, self.patience, self.state, self.log = evaluate, patience, state, log
        self.error_name, self.frames, self.scalars = error_name, frames, scalars
        self.t0 = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()
        # A progress bar over the epoch's batches, on a terminal only and not with --quiet.
        self.bar = progress(total=self.params.get("steps"), desc=f"epoch {epoch + 1}", unit="batch")

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.2f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()
        logs = logs or {}
        seconds = time.perf_counter() - self.t0
        entry = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", float("nan"))),
            "seconds": round(seconds, 2),
            "learning_rate": learning_rate(self.model.optimizer),
        }
        if self.frames:
            entry["frames_per_second"] = round(self.frames / max(seconds, 1e-9), 1)
        if self.evaluate is not None:
            entry["dev_error_rate"] = self.evaluate(self.acoustic_model).total.error_rate
        st = self.state
        error = entry.get("dev_error_rate", -entry["epoch"])  # no dev set: the last epoch wins
        improved = st["best_error"] is None or error < st["best_error"]
        if improved:
            st.update(best_error=error, best_epoch=epoch + 1, wait=0)
        else:
            st["wait"] += 1
        st["epoch"] = epoch + 1
        st["history"].append(entry)
        opt = self.model.optimizer
        save_checkpoint(self.out_dir, self.acoustic_model, opt, st, improved=improved)
        write_history(self.out_dir, st["history"])
        self._report(entry)
        if self.patience and st["wait"] >= self.patience:
            self.log(f"early stop: no dev improvement for {self.patience} epochs")
            self.model.stop_training = True

    def _report(self, entry: dict) -> None:
        """The epoch's log line and TensorBoard scalars."""
        dev = ""
        if "dev_error_rate" in entry:
            dev = f"  dev {self.error_name} {entry['dev_error_rate']:.2f} %"
        speed = ""
        if "frames_per_second" in entry:
            speed = f", {entry['frames_per_second']:.0f} frames/s"
        self.log(
            f"epoch {entry['epoch']}: loss {entry['loss']:.3f}{dev}  "
            f"({entry['seconds']:.1f} s{speed})"
        )
        if self.scalars is not None:
            scalars = {"loss": entry["loss"]}
            if "dev_error_rate" in entry:
                scalars[f"dev_{self.error_name}"] = entry["dev_error_rate"]
            if entry.get("learning_rate") is not None:
                scalars["learning_rate"] = entry["learning_rate"]
            self.scalars.write(entry["epoch"], scalars)


class WeightNoise(keras.callbacks.Callback):
    """Gaussian weight noise (Graves 2011): gradients are taken at ``w + n``, updates land on ``w``.

    Before each batch, noise ``n ~ N(0, sigma^2)`` is added to every trainable weight; after the
    update the same ``n`` is subtracted again, so the clean weights receive exactly the update
    computed at the noisy ones. The noise of epoch ``e`` depends only on ``(seed, e)``, so a
    resumed run draws the same noise as an uninterrupted one.
    """

    def __init__(self, sigma: float, *, seed: int = 0):
        super().__init__()
        self.sigma, self.seed = sigma, seed
        self.rng = np.random.default_rng([seed, 0])
        self.noise: list[np.ndarray] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.rng = np.random.default_rng([self.seed, epoch])

    def on_train_batch_begin(self, batch, logs=None):
        weights = self.model.trainable_weights
        self.noise = [self.rng.normal(0.0, self.sigma, w.shape).astype(w.dtype) for w in weights]
        for w, n in zip(weights, self.noise, strict=True):
            w.assign(w + n)

    def on_train_batch_end(self, batch, logs=None):
        for w, n in zip(self.model.trainable_weights, self.noise, strict=True):
            w.assign(w - n)
        self.noise = []
