"""Command-line pieces for scale and speed: Apache Beam runner flags (``features`` and batch
``transcribe`` on any Beam runner) and the ``bench`` command."""

from __future__ import annotations

import argparse
import json
import sys

from lstmrec.bench.run import BACKENDS, BenchSettings, format_table, quick_settings, run_bench
from lstmrec.cli.common import Failures, format_arg
from lstmrec.features.errors import DataError
from lstmrec.jobs.pipelines import beam_transcribe, pipeline_options


def beam_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runner",
        help="run as an Apache Beam pipeline on this runner (DirectRunner here; DataflowRunner, "
        "FlinkRunner, SparkRunner with their options); needs the 'beam' extra",
    )
    p.add_argument(
        "--num-workers",
        type=int,
        default=1,
        help="DirectRunner worker processes (default: 1, in this process)",
    )
    p.add_argument(
        "--runner-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Beam pipeline option passed through, e.g. project=my-project (repeatable)",
    )


def beam_options(args):
    """The Beam pipeline options of the flags; None without ``--runner``, when the flags that
    only a pipeline reads are refused rather than left unused."""
    if not args.runner:
        if args.num_workers != 1 or args.runner_option:
            raise DataError("--num-workers and --runner-option need --runner (e.g. DirectRunner)")
        return None
    if args.num_workers < 1:
        raise DataError(f"--num-workers={args.num_workers} must be at least 1")
    return pipeline_options(args.runner, num_workers=args.num_workers, extra=args.runner_option)


def transcribe_beam(args, files: list[str], failures: Failures, decoding) -> None:
    """``transcribe --output``: a Beam pipeline writing JSON Lines, decoding with ``decoding``
    (the ``DecoderOptions`` of the decoding flags); bad files become records, each also passed
    to ``failures``."""
    if not (args.runner and args.output):
        raise DataError("--runner and --output go together")
    if args.plot or args.format == "ctm":  # flags of printed transcripts, not of the pipeline
        flag = "--plot" if args.plot else "--format ctm"
        raise DataError(f"{flag} is not written by --runner, whose --output is JSON Lines")
    errors = beam_transcribe(
        args.model,
        files,
        output=args.output,
        options=beam_options(args),
        fold_to=args.fold,
        engine=args.engine,
        ids=args.ids,
        decoding=decoding,
        utterances=args.utterances,
    )
    for record in errors:
        failures(DataError(record["error"], record["file"]))
    print(f"{len(files) - len(errors)} of {len(files)} files transcribed -> {args.output}")


def cmd_bench(args) -> int:
    chosen = {
        k: v
        for k, v in dict(
            backends=tuple(args.backends) if args.backends else None,
            steps=args.steps,
            corpus=args.corpus,
            model=args.model,
            audio=args.audio,
            layers=args.layers,
            units=args.units,
            torch=False if args.no_torch else None,
        ).items()
        if v is not None
    }
    settings = quick_settings(**chosen) if args.quick else BenchSettings(**chosen)
    result = run_bench(settings, log=lambda msg: print(f"lstmrec bench: {msg}", file=sys.stderr))
    if args.format == "json":
        print(json.dumps(result))
    else:
        print(format_table(result))
    return 0


def add_bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="training, inference, cold-start and feature speed")
    p.add_argument(
        "--quick",
        action="store_true",
        help="reduced set: one backend, 2 timed steps per network, one cold start",
    )
    p.add_argument("--steps", type=int, help="timed training steps per network (default: 10)")
    p.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        help="Keras backends to train on, each in its own process (default: tensorflow)",
    )
    p.add_argument("--corpus", help="take utterance lengths from this corpus (default: 1.5-4.5 s)")
    p.add_argument("--model", help="bundle to time inference with (default: random weights)")
    p.add_argument(
        "--audio",
        help="folder of speech files (default: data/timit-demo in the working directory, the "
        "demo corpus when run from the top folder of a repository clone)",
    )
    p.add_argument("--layers", type=int, help="BLSTM layers (default: 3)")
    p.add_argument("--units", type=int, help="units per direction (default: 250)")
    p.add_argument("--no-torch", action="store_true", help="skip the plain PyTorch reference")
    format_arg(p)
    p.set_defaults(func=cmd_bench)
