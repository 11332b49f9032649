"""A prepared TFDS dataset as a data source: ``--data tfds:NAME[/CONFIG][?data_dir=DIR]``.

Examples become :class:`ArrayUtterance` records holding their samples, so features are computed
from memory (no temporary audio files) and training keeps working from utterances as it does for
a corpus folder or a manifest.
"""

from __future__ import annotations

import dataclasses
import urllib.parse

import numpy as np
import tensorflow_datasets as tfds

from lstmrec.features.errors import DataError
from lstmrec.manifest import Utterance

PREFIX = "tfds:"


@dataclasses.dataclass(frozen=True)
class ArrayUtterance(Utterance):
    """An utterance whose audio is in memory: ``samples`` ``(N,)`` int16 at ``sample_rate`` Hz.

    ``audio`` names where it came from (``tfds:timit/phones61/train/<id>``) in messages.
    """

    samples: np.ndarray = dataclasses.field(default=None, compare=False, repr=False)
    sample_rate: int = 16000

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.pop("samples", None)
        return d


SPEECH_FEATURES = ("id", "speaker", "audio", "sample_rate", "phones", "phone_times", "text")


def load_tfds_split(spec: str, split: str) -> list[Utterance]:
    """Utterances of ``split`` (lstmrec's name, e.g. ``core-test``) from a prepared dataset.

    Reads only what ``tfds`` prepared under ``data_dir`` (never the network). Raises
    :class:`DataError` for an unknown dataset, a dataset not prepared there, or a missing split.
    The builders are registered: this module's package, imported first, imports them.
    """
    url = urllib.parse.urlsplit(spec[len(PREFIX) :])
    name = url.path.strip("/")
    data_dir = urllib.parse.parse_qs(url.query).get("data_dir", [None])[0]
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        missing = sorted(set(SPEECH_FEATURES) - set(builder.info.features.keys()))
        if missing:  # IAM-OnDB's ink, or a dataset of someone else's
            raise DataError(
                f"TFDS dataset {name!r} holds no speech (no {', '.join(missing)}): --data tfds: "
                "reads the timit and timit_style datasets; give an ink corpus as its folder",
                spec,
            )
        ds = builder.as_dataset(split=split.replace("-", "_"))
    except (tfds.core.registered.DatasetNotFoundError, AssertionError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]  # tfds adds pages of hints
        raise DataError(
            f"cannot read TFDS dataset {name!r} split {split!r}: {first}", spec
        ) from None
    utts = [_utterance(ex, f"{PREFIX}{name}/{split}") for ex in tfds.as_numpy(ds)]
    return sorted(utts, key=lambda u: u.id)  # TFDS stores examples shuffled; readers sort by id


def _utterance(ex: dict, where: str) -> ArrayUtterance:
    utt_id, rate = ex["id"].decode(), int(ex["sample_rate"])
    times = ex["phone_times"]  # (L, 2) float32 seconds
    return ArrayUtterance(
        id=utt_id,
        path=f"{where}/{utt_id}",
        speaker=ex["speaker"].decode(),
        phones=tuple(p.decode() for p in ex["phones"]) or None,
        phone_times=tuple((float(a), float(b)) for a, b in times) or None,
        text=ex["text"].decode() or None,
        duration=len(ex["audio"]) / rate,
        samples=ex["audio"],
        sample_rate=rate,
    )
