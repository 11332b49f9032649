"""CTC loss with true lengths, and a Keras model that trains an acoustic model with it."""

from __future__ import annotations

import keras
from keras import ops


def ctc_loss(labels, logits, label_lengths, logit_lengths):
    """Per-utterance CTC negative log-likelihood.

    Args:
        labels: ``(B, L)`` int32, symbol ids 1..V, padded with 0 past ``label_lengths``.
        logits: ``(B, T, V + 1)`` unnormalised scores, blank at index 0.
        label_lengths: ``(B,)`` true label lengths.
        logit_lengths: ``(B,)`` true frame lengths (never the padded width).

    Returns:
        ``(B,)`` float32 losses in nats.
    """
    return ops.ctc_loss(
        ops.cast(labels, "int32"),
        ops.cast(logits, "float32"),
        ops.cast(label_lengths, "int32"),
        ops.cast(logit_lengths, "int32"),
        mask_index=0,
    )


def default_jit_compile() -> bool | str:
    """XLA setting for training: off on TensorFlow, Keras' choice elsewhere.

    On TensorFlow the bidirectional LSTM trains faster without XLA on CPU (measured with
    ``scripts/bench_train.py --xla``: about 1,110 vs 1,340 frames/s for CTC-3l-250h with every
    padded width already compiled, and each new width costs a compilation); on JAX, turning jit
    off would run every op eagerly.
    """
    return False if keras.backend.backend() == "tensorflow" else "auto"


class SequenceTrainer(keras.Model):
    """What the CTC and transducer trainers share: the reduction of per-utterance losses, and
    what a training model of padded, variable-length batches needs under ``tf.distribute``.
    Subclasses set ``self.reduction`` ("sum" or "mean")."""

    def reduce_losses(self, losses, sample_weight=None):
        """The batch loss of ``(B,)`` per-utterance losses: their sum or mean, plus any layer
        losses."""
        if sample_weight is not None:
            # Under tf.distribute each replica gets an equal share of the global batch with
            # weights that already hold the reduction (lstmrec.training.batching.replica_share),
            # and the optimizer sums the replicas' gradients: the shares add up to the single-device
            # loss, even when the batch does not split evenly.
            loss = ops.sum(losses * ops.cast(sample_weight, losses.dtype))
        elif self.reduction == "sum":
            loss = ops.sum(losses)
        else:
            loss = ops.mean(losses)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (TensorFlow backend, under a tf.distribute strategy) builds the model by pulling
        # one batch and averaging it over replicas and workers, which needs equal shapes on
        # every worker; padded CTC batches of different lengths never have them. Nothing here
        # needs that build: the acoustic model is functional (built when made) and there are no
        # compiled losses or metrics. Only the optimizer's variables remain, made in the scope.
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        if self.optimizer is not None and not self.optimizer.built:
            with strategy.scope():
                self.optimizer.build(self.trainable_variables)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        logs = super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is not None and strategy.num_replicas_in_sync > len(
            strategy.extended.worker_devices
        ):
            # Across hosts Keras averages each logged value over replicas along axis 0, which a
            # scalar lacks; one-element vectors average to the same scalar.
            logs = {k: ops.reshape(v, (1,)) for k, v in logs.items()}
        return logs


class CTCTrainer(SequenceTrainer):
    """Wraps an acoustic model so that ``fit`` trains it with CTC.

    ``x`` is ``(features (B, T, F), lengths (B,))`` and ``y`` is ``(labels (B, L),
    label_lengths (B,))``. The loss is the sum (``reduction="sum"``: each utterance weighs as
    one on-line SGD step, as in Graves et al.) or the mean of the per-utterance CTC losses.
    This class only exists during training; bundles store the inner acoustic model.
    """

    def __init__(self, acoustic_model: keras.Model, *, reduction: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction={reduction!r} must be 'sum' or 'mean'")
        self.acoustic_model = acoustic_model
        self.reduction = reduction

    def call(self, inputs, training=False):
        return self.acoustic_model(list(inputs), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        labels, label_lengths = y
        return self.reduce_losses(ctc_loss(labels, y_pred, label_lengths, x[1]), sample_weight)
