"""Feature-extraction throughput: in-process loop vs the Beam DirectRunner with 1 and N workers.

    python scripts/bench_beam_features.py --data data/timit-demo --repeat 4 --workers 2

Every utterance of ``--data`` (all splits) is featurised ``--repeat`` times under distinct ids
(so nothing is served from a cache), with a fresh cache folder per run. Reports utterances/s,
audio seconds per second and the ratio to the in-process loop, all from one invocation.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

from lstmrec.corpora.splits import load_corpus
from lstmrec.features.audio import FeatureConfig
from lstmrec.featurize import compute_features
from lstmrec.jobs.pipelines import beam_features, pipeline_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="corpus folder or JSONL manifest")
    parser.add_argument("--repeat", type=int, default=4, help="copies of each utterance")
    parser.add_argument("--workers", type=int, default=2, help="DirectRunner processes to try")
    args = parser.parse_args()

    base = load_corpus(args.data)
    utts = [dataclasses.replace(u, id=f"{u.id}_{k}") for k in range(args.repeat) for u in base]
    audio_s = sum(u.duration or 0.0 for u in utts)
    config = FeatureConfig()
    runs = {
        "in-process loop": lambda d: compute_features(utts, config, cache_dir=d),
        "Beam, 1 worker": lambda d: beam_features(
            utts, config, cache_dir=d, options=pipeline_options("DirectRunner")
        ),
        f"Beam, {args.workers} workers": lambda d: beam_features(
            utts,
            config,
            cache_dir=d,
            options=pipeline_options("DirectRunner", num_workers=args.workers),
        ),
    }
    print(f"{len(utts)} utterances, {audio_s:.1f} s of audio")
    reference = None
    for name, run in runs.items():
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.perf_counter()
            run(cache)
            seconds = time.perf_counter() - t0
        reference = reference or seconds
        print(
            f"{name:>18}: {seconds:6.1f} s  {len(utts) / seconds:6.1f} utt/s  "
            f"{audio_s / seconds:6.1f} audio s/s  ({reference / seconds:.2f}x the loop)"
        )


if __name__ == "__main__":
    main()
