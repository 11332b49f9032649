"""Feature-extraction throughput: in-process loop vs the Beam DirectRunner with 1 and N workers.

    python scripts/bench_beam_features.py --data data/timit-demo --repeat 4 --workers 2

Every utterance of ``--data`` (all splits) is featurised ``--repeat`` times under distinct ids
(so nothing is served from a cache), with a fresh cache folder per run. Reports utterances/s,
audio seconds per second and the ratio to the in-process loop, all from one invocation. An ink
corpus (an IAM-OnDB tree) gets the default ink features; its known gaps (lines without ink) are
skipped and counted in one line. Bad input ends in one line and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from lstmrec.cli.common import EXIT_BAD_INPUT, Failures
from lstmrec.corpora.splits import load_corpus
from lstmrec.features.audio import FeatureConfig
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.features.ink import InkFeatureConfig
from lstmrec.features.inkfiles import INK_EXTENSIONS
from lstmrec.featurize import compute_features
from lstmrec.jobs.pipelines import beam_features, pipeline_options


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="corpus folder or JSONL manifest")
    parser.add_argument("--repeat", type=int, default=4, help="copies of each utterance")
    parser.add_argument("--workers", type=int, default=2, help="DirectRunner processes to try")
    args = parser.parse_args(argv)

    failures = Failures(strict=True)  # known gaps are listed once; any other bad input stops
    try:
        require_at_least({"--repeat": (args.repeat, 1), "--workers": (args.workers, 1)})
        base = load_corpus(args.data, on_error=failures)
        failures.report_gaps()
        _bench(base, args.repeat, args.workers)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def _bench(base: list, repeat: int, workers: int) -> None:
    """Time the three runs on ``repeat`` copies of the utterances ``base`` and print them."""
    utts = [dataclasses.replace(u, id=f"{u.id}_{k}") for k in range(repeat) for u in base]
    audio_s = sum(u.duration or 0.0 for u in utts)
    ink = all(Path(u.path).suffix.lower() in INK_EXTENSIONS for u in utts)
    config = InkFeatureConfig() if ink else FeatureConfig()
    runs = {
        "in-process loop": lambda d: compute_features(utts, config, cache_dir=d),
        "Beam, 1 worker": lambda d: beam_features(
            utts, config, cache_dir=d, options=pipeline_options("DirectRunner")
        ),
        f"Beam, {workers} workers": lambda d: beam_features(
            utts,
            config,
            cache_dir=d,
            options=pipeline_options("DirectRunner", num_workers=workers),
        ),
    }
    print(f"{len(utts)} ink lines" if ink else f"{len(utts)} utterances, {audio_s:.1f} s of audio")
    reference = None
    for name, run in runs.items():
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.perf_counter()
            run(cache)
            seconds = time.perf_counter() - t0
        reference = reference or seconds
        audio = "" if ink else f"{audio_s / seconds:6.1f} audio s/s  "
        print(
            f"{name:>18}: {seconds:6.1f} s  {len(utts) / seconds:6.1f} utt/s  "
            f"{audio}({reference / seconds:.2f}x the loop)"
        )


if __name__ == "__main__":
    sys.exit(main())
