#!/usr/bin/env python
"""Latency of streaming transcription: how long after the end of its audio each phone is printed.

    .venv/bin/python scripts/bench_stream.py --model runs/english_phones_stream/model \\
        --data ../shared/data/speechocean762 --split core-test \\
        --test-speakers configs/speechocean762/test_spk.list --limit 50
    .venv/bin/python scripts/bench_stream.py --model MODEL file.wav folder/ ...

Held-out utterances (a corpus split, or files and folders) are streamed through the path of
``lstmrec transcribe --stream`` as fast as it goes, block by block (``--chunk-ms``); the clock of
a live stream is then replayed from the audio clock and the measured compute time of each block
(``lstmrec.bench.stream``). Reported, in milliseconds: the median and 95th percentile over all
phones of print time minus the end of the phone's span, split into phones printed while the audio
was arriving and those that waited for its end; where the corpus has time-aligned reference
phones (TIMIT .PHN), the same against the end of the aligned reference phone, which includes the
model's delay in emitting it; the floor set by the features' look-ahead; and the real-time
factor (compute seconds per audio second; below 1 keeps up with a live stream).
"""

from __future__ import annotations

import argparse
import json
import sys

from lstmrec.bench.stream import lookahead_s, reference_latency_s, summary, time_stream
from lstmrec.bundle import load_bundle
from lstmrec.corpora.splits import load_split
from lstmrec.features.errors import DataError
from lstmrec.inference.transcribe import expand_inputs
from lstmrec.shipped import resolve_model


def utterances(args) -> list[tuple[str, tuple | None, tuple | None]]:
    """``(path, reference phones, their times)`` of the utterances to stream."""
    out = [(path, None, None) for path in expand_inputs(args.inputs)]
    if args.data:
        split = load_split(
            args.data, args.split, test_speakers=args.test_speakers, dev_speakers=args.dev_speakers
        )
        out += [(u.path, u.phones, u.phone_times) for u in split if u.offset is None]
    return out[: args.limit] if args.limit else out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("inputs", nargs="*", help="audio files or folders")
    p.add_argument(
        "--model", required=True, help="bundle (or shipped model name) of a forward-only CTC model"
    )
    p.add_argument("--data", help="corpus whose --split to stream (with its reference phones)")
    p.add_argument("--split", default="core-test", help="split of --data (core-test)")
    p.add_argument("--test-speakers", help="speaker-list file of the test splits")
    p.add_argument("--dev-speakers", help="speaker-list file of the dev split")
    p.add_argument("--limit", type=int, default=0, help="at most this many utterances (0: all)")
    p.add_argument("--chunk-ms", type=float, default=10.0, help="audio per block, ms (10)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args()
    try:
        bundle = load_bundle(resolve_model(args.model), engine="numpy")
        utts = utterances(args)
        if not utts:
            raise DataError("no utterances: give files, folders or --data")
        timings, ref = [], []
        for path, phones, times in utts:
            timing = time_stream(bundle, path, chunk_ms=args.chunk_ms)
            timings.append(timing)
            if phones and times:
                ref += reference_latency_s(timing, phones, times)
    except DataError as e:
        print(f"bench_stream: {e}", file=sys.stderr)
        return 2
    report(args, bundle, timings, ref)
    return 0


def report(args, bundle, timings, ref) -> None:
    pairs = [pair for t in timings for pair in zip(t.span_latency_s, t.at_end, strict=True)]
    live = [x for x, at_end in pairs if not at_end]
    last = [x for x, at_end in pairs if at_end]
    audio = sum(t.audio_s for t in timings)
    compute = sum(t.compute_s for t in timings)
    result = {
        "model": args.model,
        "utterances": len(timings),
        "audio_s": round(audio, 2),
        "chunk_ms": args.chunk_ms,
        "lookahead_ms": round(1000 * lookahead_s(bundle), 1),
        "after_span_end": summary(live + last),
        "after_span_end_while_arriving": summary(live),
        "after_span_end_at_end_of_audio": summary(last),
        "after_reference_end": summary(ref),
        "real_time_factor": round(compute / audio, 4),
        "slowest_block_ms": round(1000 * max(t.slowest_block_s for t in timings), 2),
    }
    if args.format == "json":
        print(json.dumps(result))
        return
    print(
        f"{result['utterances']} utterances, {audio:.1f} s of audio, blocks of "
        f"{args.chunk_ms:g} ms; features' look-ahead {result['lookahead_ms']} ms"
    )
    for key, what in (
        ("after_span_end", "after the end of its span"),
        ("after_span_end_while_arriving", "  printed while the audio arrived"),
        ("after_span_end_at_end_of_audio", "  printed at the end of the audio"),
        ("after_reference_end", "after the aligned reference phone's end"),
    ):
        s = result[key]
        if s["phones"]:
            print(
                f"{what:44s} {s['phones']:6d} phones  median {s['median_ms']:7.1f} ms  "
                f"95th percentile {s['p95_ms']:7.1f} ms"
            )
    print(
        f"real-time factor {result['real_time_factor']:.4f} (compute s per audio s); "
        f"slowest block {result['slowest_block_ms']} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
