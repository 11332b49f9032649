"""tensorflow-datasets builders for TIMIT and TIMIT-style corpora, read from the user's copy.

``tfds.load("timit", data_dir=DIR, download_and_prepare_kwargs={"download_config":
tfds.download.DownloadConfig(manual_dir=TIMIT_COPY)})`` prepares TIMIT once, offline. A
TIMIT-style corpus (audio with ``.PHN``/``.TXT`` neighbours, one folder per speaker) is prepared
with ``tfds.builder("timit_style", config=CorpusConfig(name=..., dev_speakers=...,
test_speakers=...), data_dir=DIR)``. Utterances and labels come from :mod:`lstmrec.corpora.timit`,
splits from :mod:`lstmrec.corpora.splits` (the same readers and speaker lists as ``lstmrec
prepare``); audio is stored as 16-bit PCM arrays with their sample rate, so reading needs no audio
decoder. TFDS split names use ``_`` where lstmrec's use ``-`` (``core_test``, ``full_test``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import soundfile as sf
import tensorflow_datasets as tfds

from lstmrec.corpora.splits import select_split
from lstmrec.corpora.timit import find_corpus, find_timit
from lstmrec.phones import read_speaker_list

SPLITS = {"train": "train", "dev": "dev", "core_test": "core-test", "full_test": "full-test"}


def _features() -> tfds.features.FeaturesDict:
    return tfds.features.FeaturesDict(
        {
            "id": tfds.features.Text(),
            "speaker": tfds.features.Text(),
            # (N,) int16 PCM; its rate is in "sample_rate" (a corpus may mix rates).
            "audio": tfds.features.Audio(file_format=None, shape=(None,), dtype=np.int16),
            "sample_rate": tfds.features.Scalar(dtype=np.int32),
            "phones": tfds.features.Sequence(tfds.features.Text()),
            "phone_times": tfds.features.Tensor(shape=(None, 2), dtype=np.float32),  # seconds
            "text": tfds.features.Text(),
        }
    )


def _examples(utts):
    for utt in utts:
        samples, rate = sf.read(utt.path, dtype="int16", always_2d=True)  # (N, C) int16
        yield (
            utt.id,
            {
                "id": utt.id,
                "speaker": utt.speaker,
                "audio": samples[:, 0],  # first channel: TIMIT-style corpora are mono
                "sample_rate": rate,
                "phones": list(utt.phones or ()),
                "phone_times": np.asarray(utt.phone_times or (), np.float32).reshape(-1, 2),
                "text": utt.text or "",
            },
        )


def _split_examples(builder, utts, **lists):
    # A partial copy (a sample of TRAIN only) has empty splits, which TFDS cannot write.
    chosen = {name: select_split(utts, split, **lists) for name, split in SPLITS.items()}
    return {name: builder._generate_examples(u) for name, u in chosen.items() if u}


class Timit(tfds.core.GeneratorBasedBuilder):
    """TIMIT acoustic-phonetic corpus: 16 kHz speech with time-aligned 61-phone labels."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "61-phone labels; Kaldi train / dev / core test / full test."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="phones61", description="TIMIT 61-phone labels, no SA"),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    TIMIT is licensed by the LDC (catalog LDC93S1) and cannot be downloaded here. Pass the
    folder of your copy (the one holding TRAIN/ and TEST/, any case, SPHERE or RIFF audio) as
    manual_dir: tfds.download.DownloadConfig(manual_dir=...).
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=_features(),
            supervised_keys=("audio", "phones"),
            homepage="https://catalog.ldc.upenn.edu/LDC93S1",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return _split_examples(self, find_timit(dl_manager.manual_dir))

    def _generate_examples(self, utts):
        return _examples(utts)


@dataclasses.dataclass(eq=False)  # tfds.core.BuilderConfig is a plain (non-frozen) dataclass
class CorpusConfig(tfds.core.BuilderConfig):
    """A TIMIT-style corpus: its name, and the speaker-list files that define dev and test."""

    dev_speakers: str | None = None  # speaker-list file; None: no dev split
    test_speakers: str | None = None  # speaker-list file; None: no test splits


class TimitStyle(tfds.core.GeneratorBasedBuilder):
    """Any TIMIT-style corpus: ``<speaker>/<utt>.<audio>`` with ``.PHN`` and/or ``.TXT``."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Utterances of lstmrec.corpora.timit.find_corpus; splits by lists."}
    BUILDER_CONFIGS = [CorpusConfig(name="default", description="set dev/test speaker lists")]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Pass the corpus folder as manual_dir (tfds.download.DownloadConfig(manual_dir=...)) and the
    speaker lists in the config: CorpusConfig(name=..., dev_speakers=..., test_speakers=...).
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=_features(), supervised_keys=("audio", "phones")
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        cfg = self.builder_config
        dev = read_speaker_list(cfg.dev_speakers) if cfg.dev_speakers else None
        test = read_speaker_list(cfg.test_speakers) if cfg.test_speakers else None
        utts = find_corpus(dl_manager.manual_dir)
        return _split_examples(self, utts, dev_speakers=dev, test_speakers=test)

    def _generate_examples(self, utts):
        return _examples(utts)
