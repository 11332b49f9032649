"""Training: manifest -> features -> BLSTM-CTC -> checkpoints -> model bundle.

One training loop for every recipe; recipes differ only in their config. Each epoch ends with a
checkpoint (weights, optimizer state, early-stopping state) written atomically, so ``resume=True``
continues an interrupted run from its last completed epoch with the same batches it would have
seen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from lstmrec import __version__
from lstmrec.bundle import Bundle, save_bundle
from lstmrec.config import Recipe
from lstmrec.corpora.splits import cap_utterances
from lstmrec.features.audio import apply_cmvn, cmvn_stats
from lstmrec.features.errors import DataError, report_or_raise
from lstmrec.features.files import complete_dir, recover_dir, run_lock
from lstmrec.featurize import check_ctc_fits, compute_features, default_cache_dir
from lstmrec.inference.decoder import recognize_features
from lstmrec.manifest import Utterance, corpus_hash, manifest_hash
from lstmrec.models.ctc import default_jit_compile
from lstmrec.scoring.align import Report, score
from lstmrec.targets import Targets
from lstmrec.training.augment import Augment, FreshInk
from lstmrec.training.batching import CTCBatches, fit_input
from lstmrec.training.callbacks import (
    CHECKPOINT,
    HISTORY,
    EpochMonitor,
    WeightNoise,
    best_weights,
    load_checkpoint,
    tensorboard_log,
    write_history,
)
from lstmrec.training.distribute import make_distribution, write_dir
from lstmrec.training.transducer import (
    build_trainer,
    check_init_from,
    decodable,
    pretrain_prediction,
)
from lstmrec.training.transducer import init_from as _init_from

Log = Callable[[str], None]


@dataclasses.dataclass
class PreparedSplit:
    """Utterances that passed every check, with their features and label ids."""

    utts: list[Utterance]
    feats: list[np.ndarray]  # (T_i, F) float32, not normalised
    labels: list[np.ndarray]  # (L_i,) int32 ids 1..V


def prepare_split(utts, labels, recipe, symbols, *, cache_dir, on_error, desc) -> PreparedSplit:
    """Features and label ids for ``utts`` (``labels``: ``{id: symbols}``); bad utterances go
    to ``on_error`` (or raise). CTC's frame count is checked for a CTC model only: a transducer
    emits any number of labels on one frame."""
    utts = [u for u in utts if u.id in labels]
    feats = compute_features(
        utts, recipe.features, cache_dir=cache_dir, on_error=on_error, desc=desc
    )
    out = PreparedSplit([], [], [])
    for utt in utts:
        if utt.id not in feats:
            continue
        try:
            ids = symbols.encode(labels[utt.id], source=utt.path)
            if recipe.model.kind == "ctc":
                check_ctc_fits(utt, ids, len(feats[utt.id]))
        except DataError as e:
            report_or_raise(e, on_error)
            continue
        out.utts.append(utt)
        out.feats.append(feats[utt.id])
        out.labels.append(ids)
    return out


def data_hash(utts: Sequence[Utterance]) -> str:
    """Hash of the training manifest (ids, audio paths and labels)."""
    return manifest_hash(utts)


def make_optimizer(cfg):
    clip = {k: v for k, v in (("clipnorm", cfg.clipnorm), ("clipvalue", cfg.clipvalue)) if v}
    name = cfg.optimizer.lower()
    if name == "sgd":
        return keras.optimizers.SGD(cfg.learning_rate, momentum=cfg.momentum, **clip)
    if name == "adam":
        return keras.optimizers.Adam(cfg.learning_rate, **clip)
    if name == "adamw":
        return keras.optimizers.AdamW(cfg.learning_rate, **clip)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(cfg.learning_rate, momentum=cfg.momentum, **clip)
    raise DataError(f"optimizer={cfg.optimizer!r} must be sgd, adam, adamw or rmsprop")


def epoch_learning_rate(cfg):
    """The schedule of ``[training] learning_rate_decay``: the rate of 0-based epoch ``e``."""

    def rate(epoch: int, _current=None) -> float:
        return float(cfg.learning_rate * cfg.learning_rate_decay**epoch)

    return rate


def dev_report(model, split: PreparedSplit, symbols, mean, std, fold_to) -> Report:
    """Greedy-decoded error rate of ``model`` on a prepared split."""
    tokens = recognize_features(model, split.feats, mean, std)
    refs = {u.id: symbols.decode(y) for u, y in zip(split.utts, split.labels, strict=True)}
    hyps = {
        u.id: symbols.decode([t.symbol for t in tk])
        for u, tk in zip(split.utts, tokens, strict=True)
    }
    return score(refs, hyps, speakers={u.id: u.speaker for u in split.utts}, fold_to=fold_to)


@dataclasses.dataclass
class TrainingData:
    """Everything training needs besides the model: prepared splits, targets, CMVN."""

    train: PreparedSplit
    dev: PreparedSplit | None  # None: no dev set (fixed number of epochs)
    targets: Targets  # symbol table and the phone set the dev error rate is scored on
    mean: np.ndarray  # (F,) float32, from the training features
    std: np.ndarray  # (F,) float32
    selection: dict = dataclasses.field(default_factory=dict)  # [data] max_utterances's choice


def prepare_data(recipe, train_utts, dev_utts, *, cache_dir, on_error, log=print) -> TrainingData:
    """Targets, features and CMVN statistics; bad utterances are reported once. The symbol
    table comes from every training utterance, ``[data] max_utterances`` then chooses among
    those that have targets (:func:`capped_train_utts`)."""
    targets = Targets.for_training(recipe, train_utts)
    targets.require_lexicon([*train_utts, *dev_utts])  # a lexicon that cannot be read: once
    train_seqs = targets.sequences(train_utts, on_error=on_error, log=log)
    labelled = [u for u in train_utts if u.id in train_seqs]
    if not labelled:
        raise DataError("no usable training utterances" + targets.words_only_hint(train_utts))
    train_utts, selection = capped_train_utts(recipe, labelled, log)
    dev_seqs = targets.sequences(dev_utts, on_error=on_error, log=log)
    kw = dict(recipe=recipe, symbols=targets.symbols, cache_dir=cache_dir, on_error=on_error)
    train_set = prepare_split(train_utts, train_seqs, desc="train features", **kw)
    if not train_set.utts:
        raise DataError("no usable training utterances")
    dev_set = prepare_split(dev_utts, dev_seqs, desc="dev features", **kw) if dev_utts else None
    if dev_set is not None and not dev_set.utts:
        dev_set = None
    mean, std = (a.astype(np.float32) for a in cmvn_stats(train_set.feats))
    return TrainingData(train_set, dev_set, targets, mean, std, selection)


def capped_train_utts(recipe, utts: Sequence[Utterance], log: Log) -> tuple[list, dict]:
    """The training utterances ``[data] max_utterances`` keeps of ``utts`` (those with targets:
    :func:`lstmrec.corpora.splits.cap_utterances`, seeded with ``[training] seed``), and what
    the run summary records of the choice (nothing without a cap)."""
    limit, seed = recipe.data.max_utterances, recipe.training.seed
    chosen = cap_utterances(utts, limit, seed=seed)
    if not limit:
        return chosen, {}
    if len(chosen) < len(utts):
        log(f"train: {len(chosen)} of {len(utts)} utterances (data.max_utterances = {limit})")
    return chosen, {
        "max_utterances": limit,
        "train_utterances_available": len(utts),
        "train_selection": f"the first {limit} of the split's utterances with targets, "
        f"sorted by id and shuffled with seed {seed}",
    }


def _restore(out_dir: Path, trainer, log: Log) -> dict:
    """Load the run's checkpoint into ``trainer``; returns the loop state."""
    try:
        state = load_checkpoint(
            out_dir, trainer.acoustic_model, trainer.optimizer, trainer.trainable_variables
        )
    except ValueError:  # Keras's shape-mismatch message is many lines of weight values
        raise DataError(
            "the checkpoint does not fit this recipe's model or optimizer; "
            "resume with the run's original settings",
            out_dir / "checkpoint",
        ) from None
    return state


def _fit(trainer, data: TrainingData, recipe, state: dict, evaluate, out_dir: Path, log, dist=None):
    """Run the remaining epochs (none when the run already finished or stopped early)."""
    cfg = recipe.training
    patience = cfg.patience if evaluate is not None else 0
    if state["epoch"] >= cfg.max_epochs or (patience and state["wait"] >= patience):
        return
    augment = Augment.of_recipe(recipe)
    if augment.enabled:
        log(augment.describe())
    fresh_ink = None
    if cfg.ink_augment:
        fresh_ink = FreshInk(
            data.train.utts,
            data.train.labels,
            recipe.features,
            data.mean,
            data.std,
            strokes=cfg.ink_augment_strokes,
        )
        log(fresh_ink.describe())
    batches = CTCBatches(
        [apply_cmvn(f, data.mean, data.std) for f in data.train.feats],
        data.train.labels,
        batch_size=cfg.batch_size,
        pad_multiple=cfg.pad_multiple,
        label_pad_multiple=cfg.label_pad_multiple or None,
        seed=cfg.seed,
        epoch=state["epoch"],
        augment=augment,
        fresh_ink=fresh_ink,
    )
    scalars = tensorboard_log(out_dir, log if dist is None or dist.is_chief else _silent)
    callbacks = [
        EpochMonitor(
            acoustic_model=trainer.acoustic_model,
            out_dir=out_dir,
            evaluate=evaluate,
            patience=patience,
            state=state,
            log=log,
            error_name="CER" if data.targets.unit == "chars" else "PER",
            frames=int(sum(len(f) for f in data.train.feats)),
            scalars=scalars,
        )
    ]
    if cfg.weight_noise > 0:
        callbacks.insert(0, WeightNoise(cfg.weight_noise, seed=cfg.seed))
    if cfg.learning_rate_decay != 1:
        # Set at each epoch's start from the epoch's index alone, so a resumed run trains at
        # the rate an uninterrupted one would.
        callbacks.insert(0, keras.callbacks.LearningRateScheduler(epoch_learning_rate(cfg)))
    # shuffle=False: CTCBatches orders each epoch from (seed, epoch), so a resumed run sees the
    # same batches as an uninterrupted one; Keras' own shuffling would not be reproducible.
    with warnings.catch_warnings():
        # A tf.distribute dataset made per worker has no known length, so Keras learns the
        # epoch's length from the first epoch's end and says the input "ran out of data".
        if dist is not None and dist.strategy is not None:
            warnings.filterwarnings("ignore", message="Your input ran out of data")
        try:
            trainer.fit(
                fit_input(batches, dist=dist, reduction=cfg.loss_reduction),
                epochs=cfg.max_epochs,
                initial_epoch=state["epoch"],
                callbacks=callbacks,
                verbose=0,
                shuffle=False,
            )
        finally:
            if scalars is not None:
                scalars.close()


def _silent(_line: str) -> None:
    """A log that drops its lines (workers other than the chief)."""


def _initial_state(out_dir: Path, trainer, resuming, init_from, recipe, data, log) -> dict:
    """The loop state and weights a run starts from: its checkpoint's when resuming; else
    fresh, or ``init_from``'s weights, then (transducers) the prediction network pretrained."""
    trained_on, found = data_hash(data.train.utts), corpus_hash(data.train.utts)
    if resuming:
        state = _restore(out_dir, trainer, log)
        if state.get("corpus_hash"):  # the same utterances, wherever the corpus lies now
            same = state["corpus_hash"] == found
        else:  # (older checkpoints: the paths too, or nothing)
            same = state.setdefault("data_hash", trained_on) == trained_on
        if not same:
            raise DataError(
                "the checkpoint was trained on other utterances than --data and the recipe give "
                "now (another corpus, split or max_utterances); resume with the run's own, or "
                "choose another --out",
                out_dir / CHECKPOINT,
            )
        log(f"resuming after epoch {state['epoch']} (checkpoint {out_dir / CHECKPOINT})")
        state["data_hash"], state["corpus_hash"] = trained_on, found  # (paths as they are now)
        return state
    state = {"epoch": 0, "best_error": None, "best_epoch": 0, "wait": 0, "history": []}
    state["data_hash"], state["corpus_hash"] = trained_on, found
    symbols = data.targets.symbols
    if init_from is not None:
        _init_from(trainer, init_from, recipe, symbols, log)
        state["init_from"] = str(init_from)
    if recipe.model.kind == "transducer":
        pretrain_prediction(trainer, data.train.labels, len(symbols), recipe.training, log)
    return state


def _recover(out_dir: Path, log: Log) -> None:
    """Put back the complete checkpoint and bundle a run killed while replacing them left
    beside their final names, and remove its temporaries (the caller holds the run lock)."""
    for name in ("model", CHECKPOINT):
        found = complete_dir(out_dir / name)
        if found is not None and found != out_dir / name:
            log(f"note: {out_dir / name} restored from {found.name}, left by an interrupted run")
        recover_dir(out_dir / name)
    for leftover in out_dir.glob(f".{HISTORY}.tmp-*"):  # history.csv is rewritten from the state
        if leftover.is_file() and not leftover.is_symlink():
            leftover.unlink(missing_ok=True)
    # Runs of version 0.2 wrote checkpoint.tmp (complete once state.json is in it), then
    # renamed checkpoint to checkpoint.old before renaming checkpoint.tmp into place.
    for legacy in (CHECKPOINT + ".tmp", CHECKPOINT + ".old"):
        ckpt = out_dir / CHECKPOINT
        if not ckpt.exists() and (out_dir / legacy / "state.json").is_file():
            os.replace(out_dir / legacy, ckpt)
            log(f"note: {ckpt} restored from {legacy}, left by an interrupted run")


def _start_state(out_dir: Path, resume: bool, log: Log) -> bool:
    """Decide whether to resume; refuse to overwrite a finished or running run silently."""
    has_ckpt = (out_dir / CHECKPOINT / "state.json").is_file()
    if resume and has_ckpt:
        return True
    if resume and (out_dir / "model").exists():
        raise DataError(
            "no checkpoint to resume from, but a model bundle is there; choose another --out",
            out_dir,
        )
    if has_ckpt or (out_dir / "model").exists():
        raise DataError(
            "output folder holds an earlier run; pass --resume to continue it, "
            "or choose another --out",
            out_dir,
        )
    if resume:
        log(f"no checkpoint in {out_dir}: starting from epoch 1")
    return False


def train(
    recipe: Recipe,
    train_utts: Sequence[Utterance],
    dev_utts: Sequence[Utterance] = (),
    *,
    out_dir: str | os.PathLike,
    resume: bool = False,
    cache_dir: str | os.PathLike | None = None,
    on_error: Callable[[DataError], None] | None = None,
    log: Log = print,
    init_from: str | os.PathLike | None = None,
) -> dict:
    """Train a BLSTM-CTC model (or, with ``[model] kind = "transducer"``, an RNN transducer)
    and write its bundle to ``out_dir/model``.

    Args:
        recipe: features, labels, model and optimisation settings.
        train_utts, dev_utts: labelled utterances; with no dev utterances the model of the last
            epoch is kept and there is no early stopping. With ``[data] max_utterances`` only
            that many training utterances are used (:func:`capped_train_utts`).
        out_dir: run folder: ``checkpoint/`` (each epoch, with the best epoch's weights),
            ``model/``; locked against a second run while this one writes to it.
        resume: continue from ``out_dir/checkpoint`` if present.
        cache_dir: feature cache folder (default: the shared
            :func:`lstmrec.featurize.default_cache_dir`).
        on_error: called with each bad utterance, which is then skipped; ``None`` raises.
        init_from: a bundle whose weights a new run starts from (a transducer's encoder from a
            CTC bundle's BLSTM layers: :func:`lstmrec.training.transducer.init_from`); ignored
            when resuming, since the checkpoint holds the run's own weights.

    Returns:
        The training summary stored in the bundle.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(
            "not a folder (--out names the run folder: a folder, or a new path)", out_dir
        )
    if init_from is not None and not (resume and (out_dir / CHECKPOINT / "state.json").is_file()):
        init_from = check_init_from(init_from, recipe)  # before the run folder and any feature
    # First: a multi-worker strategy must exist before TensorFlow runs anything else.
    dist = make_distribution(recipe.training.distribution)
    # One run per folder: the chief holds its lock until the bundle is written.
    lock = run_lock(out_dir, log=log) if dist.is_chief else contextlib.nullcontext()
    with lock:
        if dist.is_chief:
            _recover(out_dir, log)
        resuming = _start_state(out_dir, resume, log) if dist.is_chief else resume
        with write_dir(out_dir, dist, resume=resuming) as run_dir:
            cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
            return _train_in(
                recipe,
                train_utts,
                dev_utts,
                run_dir,
                resuming,
                cache_dir,
                on_error,
                log,
                dist,
                init_from,
            )


def _train_in(
    recipe,
    train_utts,
    dev_utts,
    out_dir: Path,
    resuming,
    cache_dir,
    on_error,
    log,
    dist,
    init_from=None,
):
    """:func:`train` in the folder this process writes to (see :func:`write_dir`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = recipe.training
    keras.utils.set_random_seed(cfg.seed)
    data = prepare_data(
        recipe, train_utts, dev_utts, cache_dir=cache_dir, on_error=on_error, log=log
    )
    train_set, dev_set, symbols = data.train, data.dev, data.targets.symbols
    frames = int(sum(len(f) for f in train_set.feats))
    log(
        f"train: {len(train_set.utts)} utterances, {frames} frames, {len(symbols) - 1} symbols"
        + (f"; dev: {len(dev_set.utts)} utterances" if dev_set else "; no dev set")
    )

    with dist.scope():  # variables and optimizer slots mirrored on every replica
        trainer = build_trainer(recipe, len(symbols), cfg.loss_reduction)
        model = trainer.acoustic_model
        trainer.compile(optimizer=make_optimizer(cfg), jit_compile=default_jit_compile())
    state = _initial_state(out_dir, trainer, resuming, init_from, recipe, data, log)
    evaluate = None
    if dev_set is not None:

        def evaluate(m):
            return dev_report(
                decodable(m), dev_set, symbols, data.mean, data.std, data.targets.fold
            )

    t0 = time.perf_counter()
    _fit(trainer, data, recipe, state, evaluate, out_dir, log, dist)
    seconds = time.perf_counter() - t0
    # A run killed between its last checkpoint and history.csv gets the missing rows here.
    write_history(out_dir, state["history"])

    model.load_weights(best_weights(out_dir))
    summary = {
        "lstmrec_version": __version__,
        "recipe": recipe.to_dict(),
        "data_hash": state["data_hash"],  # of train_set.utts, as _initial_state checked
        "split_hash": corpus_hash(train_utts),  # the whole split, before the cap and skips,
        # wherever the corpus lies
        "train_utterances": len(train_set.utts),
        **data.selection,
        "train_frames": frames,
        "dev_utterances": len(dev_set.utts) if dev_set else 0,
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "score_phone_set": data.targets.fold,
        "labels": data.targets.unit,
        "model_kind": recipe.model.kind,
        "init_from": state.get("init_from"),
        "train_seconds_this_run": round(seconds, 1),
        "distribution": cfg.distribution,
        "replicas": dist.num_replicas,
        "history": state["history"],
    }
    if evaluate is not None:
        summary["dev_error_rate"] = evaluate(model).total.error_rate

    save_bundle(
        out_dir / "model", Bundle(model, recipe.features, symbols, data.mean, data.std, summary)
    )
    if dist.is_chief:
        log(f"model bundle written to {out_dir / 'model'}")
    return summary
