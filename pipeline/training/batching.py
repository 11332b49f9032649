"""Length-bucketed, padded batches for CTC training and batched inference."""

from __future__ import annotations

import keras
import numpy as np

from lstmrec.padding import bucket_batches, pad_features, pad_labels
from lstmrec.training.augment import Augment, FreshInk, batch_rng, ink_rng
from lstmrec.training.distribute import distributed_input


class CTCBatches(keras.utils.PyDataset):
    """Training batches ``((features, lengths), (labels, label_lengths))``, reshuffled per epoch.

    Args:
        feats: list of ``(T_i, F)`` float32 arrays (CMVN applied).
        labels: list of ``(L_i,)`` int32 symbol ids (1..V).
        batch_size: utterances per batch.
        pad_multiple: padded widths are multiples of this many frames.
        label_pad_multiple: padded label widths are multiples of this many (None: pad_multiple).
        seed: shuffling seed; the order of epoch ``e`` depends only on ``(seed, e)``, so a resumed
            run sees the same batches as an uninterrupted one.
        augment: masks and noise for the features of each batch (training only); batch ``i`` of
            epoch ``e`` is augmented from ``(seed, e, i)`` alone, however often it is made.
        fresh_ink: ink only: each batch's features made from a new distortion of its inks'
            strokes (``feats`` stays the fallback), also from ``(seed, e, i)`` alone.
    """

    def __init__(
        self,
        feats,
        labels,
        *,
        batch_size,
        pad_multiple=1,
        label_pad_multiple=None,
        seed=0,
        epoch=0,
        augment: Augment | None = None,
        fresh_ink: FreshInk | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.feats, self.labels = feats, labels
        self.batch_size, self.pad_multiple, self.seed = batch_size, pad_multiple, seed
        self.label_pad_multiple = label_pad_multiple or pad_multiple
        self.augment = augment if augment is not None and augment.enabled else None
        self.fresh_ink = fresh_ink
        self.lengths = np.array([len(f) for f in feats])
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        rng = np.random.default_rng([self.seed, epoch])
        self.batches = bucket_batches(self.lengths, batch_size=self.batch_size, rng=rng)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index):
        idx = self.batches[index]
        feats = [self.feats[i] for i in idx]
        if self.fresh_ink is not None:
            rng = ink_rng(self.seed, self.epoch, index)
            fresh = [self.fresh_ink.features(i, rng) for i in idx]
            feats = [f if g is None else g for f, g in zip(feats, fresh, strict=True)]
        x, x_len = pad_features(feats, multiple=self.pad_multiple)
        if self.augment is not None:
            x = self.augment.apply(x, x_len, batch_rng(self.seed, self.epoch, index))
        y, y_len = pad_labels([self.labels[i] for i in idx], multiple=self.label_pad_multiple)
        return (x, x_len), (y, y_len)

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)


def replica_share(batch: tuple, replica: int, replicas: int, *, reduction: str) -> tuple:
    """The part of a global batch ``((x, x_len), (y, y_len))`` that ``replica`` trains on.

    Returns ``((x, x_len), (y, y_len), weights)`` with ``ceil(B / replicas)`` rows: replica
    ``r`` takes rows ``r, r + replicas, ...``; a replica with fewer rows repeats row 0 with
    weight 0 (Keras needs equal shares to build the model under a strategy). Real rows weigh 1
    for ``reduction="sum"`` and ``1 / B`` for ``"mean"``, so the replicas' weighted loss sums
    add up to the single-device loss (see ``models.ctc.CTCTrainer``).
    """
    (x, x_len), (y, y_len) = batch
    size = -(-len(x) // replicas)  # ceil
    rows = np.arange(replica, len(x), replicas)
    weights = np.full(size, 1.0 if reduction == "sum" else 1.0 / len(x), np.float32)
    weights[len(rows) :] = 0.0
    rows = np.concatenate([rows, np.zeros(size - len(rows), rows.dtype)])
    return (x[rows], x_len[rows]), (y[rows], y_len[rows]), weights


class ShardableBatches(keras.utils.PyDataset):
    """``batches`` with every batch padded to a multiple of ``devices`` rows, for
    ``keras.distribution.DataParallel`` (JAX), which shards the batch axis evenly.

    Items are ``((x, x_len), (y, y_len), weights)``: padding rows repeat row 0 with weight 0,
    real rows weigh as in :func:`replica_share`, so the loss equals the unpadded batch's.
    """

    def __init__(self, batches: CTCBatches, *, devices: int, reduction: str, **kwargs):
        super().__init__(**kwargs)
        self.inner, self.devices, self.reduction = batches, devices, reduction

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index):
        (x, x_len), (y, y_len), w = replica_share(self.inner[index], 0, 1, reduction=self.reduction)
        rows = np.arange(-(-len(x) // self.devices) * self.devices)  # ceil to a multiple
        rows[len(x) :] = 0
        w = np.concatenate([w, np.zeros(len(rows) - len(x), np.float32)])
        return (x[rows], x_len[rows]), (y[rows], y_len[rows]), w

    def on_epoch_end(self) -> None:
        self.inner.on_epoch_end()


def fit_input(batches: CTCBatches, *, dist=None, reduction: str = "sum"):
    """What to hand ``Model.fit`` for ``batches`` on the active Keras backend.

    On TensorFlow, Keras turns a ``PyDataset`` into a ``tf.data`` pipeline whose shapes it fixes
    from the first two batches, so a later batch with another padded width, label width or batch
    size fails. There the batches go through ``tf.data`` with every such dimension left open;
    the batch order still comes from :class:`CTCBatches` (one epoch per pass). Under a
    tf.distribute strategy (``dist``, a :class:`lstmrec.training.distribute.Distribution`) each
    batch is cut into one share per replica (:func:`replica_share`, weighted for the loss
    ``reduction``). Other backends take the ``PyDataset`` as it is; under
    ``keras.distribution.DataParallel``, which shards each batch itself, padded to a multiple
    of the device count (:class:`ShardableBatches`).
    """
    if keras.backend.backend() != "tensorflow":
        if dist is not None and dist.num_replicas > 1:
            return ShardableBatches(batches, devices=dist.num_replicas, reduction=reduction)
        return batches
    import tensorflow as tf

    dim = batches.feats[0].shape[1]
    signature = (
        (tf.TensorSpec((None, None, dim), tf.float32), tf.TensorSpec((None,), tf.int32)),
        (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.int32)),
    )

    def one_epoch(first: int = 0, local: int = 1, replicas: int = 1):
        for i in range(len(batches)):
            for r in range(first, first + local):
                if replicas == 1:
                    yield batches[i]
                else:
                    yield replica_share(batches[i], r, replicas, reduction=reduction)
        batches.on_epoch_end()

    def dataset_of(first: int = 0, local: int = 1, replicas: int = 1):
        spec = signature if replicas == 1 else (*signature, tf.TensorSpec((None,), tf.float32))
        dataset = tf.data.Dataset.from_generator(
            lambda: one_epoch(first, local, replicas), output_signature=spec
        )
        return dataset.apply(tf.data.experimental.assert_cardinality(len(batches) * local))

    if dist is None or dist.strategy is None:
        return dataset_of()
    return distributed_input(dataset_of, dist)
