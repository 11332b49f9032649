"""Length-bucketed, padded batches for CTC training and batched inference."""

from __future__ import annotations

import keras
import numpy as np

from pipeline.padding import bucket_batches, pad_features, pad_labels


class CTCBatches(keras.utils.PyDataset):
    """Training batches ``((features, lengths), (labels, label_lengths))``, reshuffled per epoch.

    Args:
        feats: list of ``(T_i, F)`` float32 arrays (CMVN applied).
        labels: list of ``(L_i,)`` int32 symbol ids (1..V).
        batch_size: utterances per batch.
        pad_multiple: padded widths are multiples of this many frames.
        seed: shuffling seed; the order of epoch ``e`` depends only on ``(seed, e)``, so a resumed
            run sees the same batches as an uninterrupted one.
    """

    def __init__(self, feats, labels, *, batch_size, pad_multiple=1, seed=0, epoch=0, **kwargs):
        super().__init__(**kwargs)
        self.feats, self.labels = feats, labels
        self.batch_size, self.pad_multiple, self.seed = batch_size, pad_multiple, seed
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
        x, x_len = pad_features([self.feats[i] for i in idx], multiple=self.pad_multiple)
        y, y_len = pad_labels([self.labels[i] for i in idx])
        return (x, x_len), (y, y_len)

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)


def fit_input(batches: CTCBatches):
    """What to hand ``Model.fit`` for ``batches`` on the active Keras backend.

    On TensorFlow, Keras turns a ``PyDataset`` into a ``tf.data`` pipeline whose shapes it fixes
    from the first two batches, so a later batch with another padded width, label width or batch
    size fails. There the batches go through ``tf.data`` with every such dimension left open;
    the batch order still comes from :class:`CTCBatches` (one epoch per pass). Other backends
    take the ``PyDataset`` as it is.
    """
    if keras.backend.backend() != "tensorflow":
        return batches
    import tensorflow as tf

    dim = batches.feats[0].shape[1]
    signature = (
        (tf.TensorSpec((None, None, dim), tf.float32), tf.TensorSpec((None,), tf.int32)),
        (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.int32)),
    )

    def one_epoch():
        for i in range(len(batches)):
            yield batches[i]
        batches.on_epoch_end()

    dataset = tf.data.Dataset.from_generator(one_epoch, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))
