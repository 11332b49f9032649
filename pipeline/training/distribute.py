"""Training on several devices or hosts with the engines Keras already has.

``[training] distribution`` picks one:

- ``"none"``: one device (the default).
- ``"mirrored"``: ``tf.distribute.MirroredStrategy``, every GPU of this host (TensorFlow backend).
- ``"multi_worker"``: ``tf.distribute.MultiWorkerMirroredStrategy``; the hosts and this process's
  role come from the ``TF_CONFIG`` environment variable (TensorFlow backend).
- ``"data_parallel"``: ``keras.distribution.DataParallel`` over every local device (JAX backend).

``training.batch_size`` is always the global batch: each step's batch is split across the
replicas and their gradients are summed, so a step sees the same utterances as on one device.
Only the chief of a multi-worker run writes into the run folder; the other workers write their
checkpoints into a temporary folder that is removed at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lstmrec.features.errors import DataError

_TF_ONLY = ("mirrored", "multi_worker")


@dataclasses.dataclass
class Distribution:
    """The chosen strategy and this process's role in it."""

    name: str
    strategy: Any = None  # a tf.distribute.Strategy, or None
    is_chief: bool = True
    devices: int = 1  # devices keras.distribution shards batches over (JAX data_parallel)

    @property
    def num_replicas(self) -> int:
        return self.devices if self.strategy is None else int(self.strategy.num_replicas_in_sync)

    def scope(self) -> contextlib.AbstractContextManager:
        """Where the model and optimizer must be created (variables mirrored on every replica)."""
        return contextlib.nullcontext() if self.strategy is None else self.strategy.scope()


def make_distribution(name: str) -> Distribution:
    """Set up distribution ``name`` (see the module docstring) for the active Keras backend.

    Raises :class:`DataError` when the backend cannot run it, or ``TF_CONFIG`` is missing or
    malformed for ``"multi_worker"``.
    """
    import keras

    backend = keras.backend.backend()
    if name == "none":
        return Distribution(name)
    if name in _TF_ONLY and backend != "tensorflow":
        raise DataError(
            f"training.distribution={name!r} needs the TensorFlow backend (KERAS_BACKEND is "
            f"{backend!r}); use 'data_parallel' on JAX"
        )
    if name == "data_parallel":
        if backend != "jax":
            raise DataError(
                "training.distribution='data_parallel' needs the JAX backend; "
                "use 'mirrored' or 'multi_worker' on TensorFlow"
            )
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return Distribution(name, devices=len(devices))
    import tensorflow as tf

    if name == "mirrored":
        # Every GPU; without one, every logical CPU device (one unless configured otherwise),
        # which is how it is tested on a CPU-only host.
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return Distribution(name, tf.distribute.MirroredStrategy([d.name for d in devices]))
    return Distribution(
        name, tf.distribute.MultiWorkerMirroredStrategy(), is_chief=_is_chief(_tf_config())
    )


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise DataError(
            "training.distribution='multi_worker' needs TF_CONFIG "
            '(e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}})'
        )
    try:
        config = json.loads(raw)
        config["cluster"], config["task"]["type"], config["task"]["index"]  # noqa: B018
    except (ValueError, KeyError, TypeError):
        raise DataError(
            f"TF_CONFIG is not JSON with 'cluster' and 'task' {{type, index}}: {raw!r:.200}"
        ) from None
    return config


def _is_chief(config: dict) -> bool:
    """The chief writes bundles: task "chief", or worker 0 of a cluster without a chief."""
    task = config["task"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and int(task["index"]) == 0 and "chief" not in config["cluster"]


@contextlib.contextmanager
def write_dir(out_dir: Path, dist: Distribution, *, resume: bool):
    """The folder this process writes its run into: ``out_dir`` on the chief, else a temporary
    folder (seeded with the chief's checkpoint when resuming) removed afterwards."""
    if dist.is_chief:
        yield out_dir
        return
    tmp = Path(tempfile.mkdtemp(prefix="lstmrec-worker-"))
    try:
        if resume and (out_dir / "checkpoint").is_dir():
            shutil.copytree(out_dir / "checkpoint", tmp / "checkpoint")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def distributed_input(dataset_of, dist: Distribution):
    """``fit`` input for ``dist``: ``dataset_of(first, local, replicas)`` is a ``tf.data``
    dataset giving, for each global batch in turn, the shares of replicas ``first`` ..
    ``first + local - 1`` (of ``replicas``).

    Each process feeds its local replicas in turn (``distribute_datasets_from_function``), so a
    global batch is cut the same way on one host and across hosts and every worker runs the same
    number of steps (``tf.data`` auto-sharding would deal whole batches to workers instead).
    """
    import tensorflow as tf

    replicas = dist.num_replicas

    def dataset_fn(ctx: tf.distribute.InputContext):
        local = replicas // ctx.num_input_pipelines
        ds = dataset_of(ctx.input_pipeline_id * local, local, replicas)
        opts = tf.data.Options()
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return ds.with_options(opts)

    return dist.strategy.distribute_datasets_from_function(dataset_fn)
