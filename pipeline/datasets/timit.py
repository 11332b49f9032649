"""A tensorflow-datasets builder for TIMIT, read from the user's own LDC copy (no download).

``tfds.load("timit", data_dir=DIR, download_and_prepare_kwargs={"download_config":
tfds.download.DownloadConfig(manual_dir=TIMIT_COPY)})`` prepares it once, offline. Utterances,
splits and labels come from :mod:`pipeline.corpus` (the same readers and Kaldi speaker lists as
``lstmrec prepare``); audio is stored as 16-bit PCM arrays, so reading needs no audio decoder.
TFDS split names use ``_`` where lstmrec's use ``-`` (``core_test``, ``full_test``).
"""

from __future__ import annotations

import numpy as np
import soundfile as sf
import tensorflow_datasets as tfds

from pipeline.corpus import TIMIT_SAMPLE_RATE, find_timit, select_split

SPLITS = {"train": "train", "dev": "dev", "core_test": "core-test", "full_test": "full-test"}


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
            features=tfds.features.FeaturesDict(
                {
                    "id": tfds.features.Text(),
                    "speaker": tfds.features.Text(),
                    "audio": tfds.features.Audio(
                        file_format=None,
                        shape=(None,),
                        dtype=np.int16,
                        sample_rate=TIMIT_SAMPLE_RATE,
                    ),
                    "phones": tfds.features.Sequence(tfds.features.Text()),
                    "phone_times": tfds.features.Tensor(shape=(None, 2), dtype=np.float32),
                    "text": tfds.features.Text(),
                }
            ),
            supervised_keys=("audio", "phones"),
            homepage="https://catalog.ldc.upenn.edu/LDC93S1",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        utts = find_timit(dl_manager.manual_dir)
        # A partial copy (a sample of TRAIN only) has empty splits, which TFDS cannot write.
        chosen = {name: select_split(utts, split) for name, split in SPLITS.items()}
        return {name: self._generate_examples(u) for name, u in chosen.items() if u}

    def _generate_examples(self, utts):
        for utt in utts:
            samples, rate = sf.read(utt.audio, dtype="int16")  # (N,) int16
            if rate != TIMIT_SAMPLE_RATE:
                raise ValueError(f"{utt.audio}: {rate} Hz, expected {TIMIT_SAMPLE_RATE}")
            yield (
                utt.id,
                {
                    "id": utt.id,
                    "speaker": utt.speaker,
                    "audio": samples,
                    "phones": list(utt.phones),
                    "phone_times": np.asarray(utt.phone_times, np.float32).reshape(-1, 2),
                    "text": utt.text or "",
                },
            )
