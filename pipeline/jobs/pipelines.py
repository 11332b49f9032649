"""Feature extraction and batch transcription of large corpora as Apache Beam pipelines.

Beam is the engine tensorflow-datasets uses for big datasets. The DirectRunner runs here, in one
process or in several (``num_workers > 1``: ``--direct_num_workers N
--direct_running_mode multi_processing``); any other runner (Dataflow, Flink, Spark) takes its
usual pipeline options, passed through as ``KEY=VALUE``. ``apache-beam`` is an optional extra
(``pip install -e '.[beam]'``).

Features go to a sharded feature cache that training reads like the single-file one
(:func:`lstmrec.featurize.compute_features`): ``<key>.shards/shard-NNNNN-of-MMMMM.npz``, each
shard in the single-file format (features by utterance id, plus the bad files' reports).
Transcription writes one JSON object per input file, or ``{"file", "error"}`` for a bad one.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from lstmrec.bundle import load_bundle
from lstmrec.features.audio import FeatureConfig
from lstmrec.features.errors import DataError
from lstmrec.features.files import make_folder
from lstmrec.featurize import ERRORS_KEY, cache_key, compute_features, utterance_features
from lstmrec.inference.decoder import DecoderOptions, bundle_decoder
from lstmrec.inference.transcribe import transcribe_files
from lstmrec.manifest import Utterance
from lstmrec.scoring.ids import file_ids

UTTERANCES_PER_SHARD = 256  # features of one shard are held in memory by one worker
MISSING = "apache-beam is not installed; install it with: pip install -e '.[beam]'"


HARNESS_LOG_LEVEL = "default_sdk_harness_log_level"  # workers' own log lines: errors only


def require_beam():
    """The ``apache_beam`` module, or :class:`DataError` with the one line saying how to get it."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.ERROR)  # its import warns of Google Cloud clients no local run needs
    try:
        import apache_beam  # an optional extra: loaded only when a pipeline runs
    except ImportError:
        raise DataError(MISSING) from None
    finally:  # and configures the root logger doing so: the program's logging is left as it was
        root.setLevel(level)
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
    return apache_beam


def pipeline_options(runner: str, *, num_workers: int = 1, extra: Sequence[str] = ()):
    """Beam ``PipelineOptions`` for ``runner``; ``extra`` holds ``KEY=VALUE`` Beam options."""
    require_beam()
    from apache_beam.options.pipeline_options import PipelineOptions  # Beam: only when it runs

    flags = [f"--runner={runner}", f"--{HARNESS_LOG_LEVEL}=ERROR"]  # ("=INFO" to see them)
    if runner == "DirectRunner" and num_workers > 1:
        flags += [f"--direct_num_workers={num_workers}", "--direct_running_mode=multi_processing"]
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DataError(f"Beam option {item!r} must look like KEY=VALUE")
        flags.append(f"--{key.lstrip('-')}={value}")
    return PipelineOptions(flags)


def run_pipeline(beam, options, build: Callable) -> None:
    """Build a pipeline with ``build(p)`` and run it to the end. A runner that cannot be made or
    cannot run it (an unknown name, options it needs, a job server it cannot reach) is a
    :class:`DataError` with the runner's reason on one line, not a traceback."""
    from apache_beam.options.pipeline_options import StandardOptions  # Beam: only when it runs

    runner = options.view_as(StandardOptions).runner
    try:
        p = beam.Pipeline(options=options)
        build(p)
        p.run().wait_until_finish()
    except DataError:
        raise
    except (ValueError, RuntimeError, OSError) as e:
        reason = " ".join(str(e).split())
        raise DataError(f"Beam runner {runner} failed: {reason}") from None


def _featurize(utt: Utterance, config: FeatureConfig, num_shards: int):
    """``(shard, (id, features or None, error or None))`` for one utterance."""
    shard = int.from_bytes(utt.id.encode()[-4:].rjust(4, b"\0"), "big") % num_shards
    try:
        return shard, (utt.id, utterance_features(utt, config), None)
    except DataError as e:
        return shard, (utt.id, None, [e.reason, e.path])


def _write_shard(item, folder: str, num_shards: int) -> str:
    """Write one shard's ``.npz`` (the single-file cache format) through Beam's file systems."""
    from apache_beam.io.filesystems import FileSystems  # Beam: only when it runs

    shard, records = item
    feats = {utt_id: f for utt_id, f, err in records if err is None}
    errors = [err for _, _, err in records if err is not None]
    buf = io.BytesIO()
    np.savez(buf, **feats, **{ERRORS_KEY: np.array(json.dumps(errors))})
    path = FileSystems.join(folder, f"shard-{shard:05d}-of-{num_shards:05d}.npz")
    with FileSystems.create(path) as f:
        f.write(buf.getvalue())
    return path


def beam_features(
    utts: Sequence[Utterance],
    config: FeatureConfig,
    *,
    cache_dir: str | os.PathLike,
    options,
    on_error: Callable[[DataError], None] | None = None,
) -> dict[str, np.ndarray]:
    """Compute the features of ``utts`` with Beam into the sharded cache; returns them by id.

    Does nothing but read when the cache already holds this (settings, files) key. Bad files
    are recorded in the shards and passed to ``on_error`` (or raised) as
    :func:`lstmrec.featurize.compute_features` does. The shards are written to a temporary
    folder that is renamed when the pipeline has finished.
    """
    beam = require_beam()
    final = Path(cache_dir) / f"{cache_key(utts, config)}.shards"
    if not final.is_dir() and utts:
        tmp = final.with_name(f"{final.name}.tmp-{uuid.uuid4().hex[:8]}")
        make_folder(tmp.parent)  # a file named as the cache is named, not its temporary
        tmp.mkdir()
        shards = max(1, -(-len(utts) // UTTERANCES_PER_SHARD))
        try:
            run_pipeline(
                beam,
                options,
                lambda p: (
                    p
                    | "utterances" >> beam.Create(list(utts))
                    | "spread" >> beam.Reshuffle()  # Create makes one bundle: one worker
                    | "features" >> beam.Map(_featurize, config, shards)
                    | "by shard" >> beam.GroupByKey()
                    | "write" >> beam.Map(_write_shard, str(tmp), shards)
                ),
            )
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return compute_features(utts, config, cache_dir=cache_dir, on_error=on_error)


def _remove_leftovers(tmp: str) -> None:
    """Remove what an unfinished write of ``tmp`` leaves on a local disk: the file itself and
    the ``beam-temp-<name>-*`` folders Beam writes beside it."""
    folder, name = os.path.split(tmp)
    pattern = os.path.join(glob.escape(folder or "."), f"beam-temp-{glob.escape(name)}-*")
    for path in glob.glob(pattern):
        shutil.rmtree(path, ignore_errors=True)
    if os.path.isfile(tmp):
        os.remove(tmp)


class _Transcribe:
    """Beam ``DoFn`` body: loads the bundle once per worker (with ``engine``: the NumPy engine
    unless Keras is asked for) and its decoder once per worker, transcribes a batch of files,
    each named by its id in ``ids``."""

    def __init__(
        self,
        model: str,
        fold_to: int | None,
        engine: str,
        ids: dict[str, str],
        decoding: DecoderOptions | None,
        utterances: dict[str, Utterance],
    ) -> None:
        self.model, self.fold_to, self.engine, self.bundle = model, fold_to, engine, None
        self.ids, self.decoding, self.decoder = ids, decoding, None
        self.utterances = utterances

    def __call__(self, files: list[str]) -> list[str]:
        if self.bundle is None:
            self.bundle = load_bundle(self.model, engine=self.engine)
            self.decoder = bundle_decoder(self.bundle, self.decoding)
        errors: list[DataError] = []
        lines = [
            json.dumps(tr.to_dict())
            for tr in transcribe_files(
                self.bundle,
                files,
                fold_to=self.fold_to,
                decoder=self.decoder,
                on_error=errors.append,
                warn=_warn,
                ids=self.ids,
                utterances=self.utterances,
            )
        ]
        return lines + [json.dumps({"file": e.path, "error": e.reason}) for e in errors]


def _warn(message: str) -> None:
    """A worker's warning of one file (a sample rate below the model's), on its standard error
    as plain transcription prints it: this terminal's on the DirectRunner, the worker's log on
    a remote runner."""
    print(f"lstmrec: warning: {message}", file=sys.stderr)


def beam_transcribe(
    model: str,
    files: Sequence[str],
    *,
    output: str,
    options,
    fold_to: int | None = None,
    engine: str = "numpy",
    ids: dict[str, str] | None = None,
    decoding: DecoderOptions | None = None,
    utterances: dict[str, Utterance] | None = None,
) -> list[dict]:
    """Transcribe ``files`` with Beam into the JSON Lines file ``output`` (unordered).

    Each file is named by its id in ``ids`` (``{path: id}``; default: the ids of
    :func:`lstmrec.scoring.ids.file_ids` over all of ``files``, as plain transcription names
    them, whichever batch a worker is given). ``decoding``: how to decode (default: the
    bundle's recipe ``[decoding]`` settings), as ``transcribe``'s decoding flags give it.
    ``utterances``: the entries of ``files`` that are corpus utterances, not whole files (see
    :func:`lstmrec.inference.transcribe.transcribe_files`).

    Returns the error records (``{"file", "error"}``) also written there. ``output`` is written
    under a temporary name and renamed when complete.
    """
    beam = require_beam()
    from apache_beam.io.filesystems import FileSystems  # Beam: only when it runs

    if os.path.isdir(output):
        raise DataError("is a folder; name a file for the JSON Lines", output)
    ids = {**file_ids(files), **(ids or {})}
    work = _Transcribe(model, fold_to, engine, ids, decoding, utterances or {})
    tmp = f"{output}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        run_pipeline(
            beam,
            options,
            lambda p: (
                p
                | "files" >> beam.Create(list(files))
                | "spread" >> beam.Reshuffle()
                | "batches" >> beam.BatchElements(min_batch_size=1, max_batch_size=16)
                | "transcribe" >> beam.FlatMap(work)
                | "write" >> beam.io.WriteToText(tmp, num_shards=1, shard_name_template="")
            ),
        )
        FileSystems.rename([tmp], [output])
    finally:
        _remove_leftovers(tmp)
    with FileSystems.open(output) as f:
        text = f.read().decode("utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in records if "error" in r]
