"""The ``transcribe`` (speech) and ``recognize`` (ink) commands: a model bundle decodes each
input file, standard input (``-``) or, with ``--data``, a corpus split; results are named by the
ids of :mod:`lstmrec.scoring.ids`."""

from __future__ import annotations

import dataclasses
import json
import sys

from lstmrec.bundle import load_bundle
from lstmrec.cli import common
from lstmrec.cli.common import Failures, engine_arg, fold_arg, format_arg, split_from_args
from lstmrec.cli.decoding import add_decoding_args, decoder_from_args
from lstmrec.cli.scale import beam_args, beam_options, transcribe_beam
from lstmrec.cli.stream import CHUNK_MS, cmd_stream
from lstmrec.corpora.splits import SPLITS
from lstmrec.features.errors import DataError
from lstmrec.features.inkfiles import INK_EXTENSIONS
from lstmrec.featurize import signal_samples
from lstmrec.inference.decoder import posteriors
from lstmrec.inference.recognize import expand_ink_inputs, recognize_files, require_ink_model
from lstmrec.inference.transcribe import (
    AUDIO_EXTENSIONS,
    expand_inputs,
    read_stdin_audio,
    require_speech_model,
    speech_unit,
    transcribe_detailed,
    transcribe_files,
    transcribe_signal_detailed,
    utterance_key,
)
from lstmrec.scoring.ids import STDIN, file_ids, safe_id
from lstmrec.scoring.plots import picture_paths, plot_transcription, require_matplotlib
from lstmrec.shipped import DEFAULT_INK, DEFAULT_SPEECH

SPLIT_DEFAULT = "core-test"  # the split of transcribe --data


def cmd_transcribe(args) -> int:
    _check_rate(args)
    _refuse_unused_flags(args)
    if args.stream:
        return cmd_stream(args)
    return _decode_files(
        args, "audio", require_speech_model, expand_inputs, _transcripts, _print_transcript
    )


def cmd_recognize(args) -> int:
    return _decode_files(
        args, "ink", require_ink_model, expand_ink_inputs, _recognitions, _print_recognition
    )


def _check_rate(args) -> None:
    """``--rate``: a positive number of Hz, for standard input; :class:`DataError` (naming no
    input: the flag is at fault) otherwise."""
    if args.rate is None:
        return
    if args.rate <= 0:
        raise DataError(f"--rate {args.rate} must be a positive number of Hz")
    if STDIN not in args.inputs:
        raise DataError("--rate is for raw PCM on standard input (-), not a file")


def _refuse_unused_flags(args) -> None:
    """Refuse (:class:`DataError` naming no input: the flags are at fault) the flags of
    transcribe whose condition is not met, so that none goes unused: the corpus flags without
    ``--data``, ``--chunk-ms`` and ``--no-realtime`` without ``--stream`` of a file."""
    no_data = not args.data
    streamed_file = args.stream and STDIN not in args.inputs
    needs = {
        "--data": {
            "--split": no_data and args.split != SPLIT_DEFAULT,
            "--keep-sa": no_data and args.keep_sa,
            "--dev-speakers": no_data and args.dev_speakers is not None,
            "--test-speakers": no_data and args.test_speakers is not None,
        },
        "--stream and a file": {
            "--chunk-ms": not streamed_file and args.chunk_ms != CHUNK_MS,
            "--no-realtime": not streamed_file and args.no_realtime,
        },
    }
    for need, flags in needs.items():
        given = [flag for flag, on in flags.items() if on]
        if given:
            verb = "is" if len(given) == 1 else "are"
            raise DataError(f"{' and '.join(given)} {verb} for {need}, which is not given")


def _decode_files(args, kind: str, require, expand, results, show) -> int:
    """What transcribe and recognize share: load the bundle, check it is a model of the
    ``kind`` of input (``require``: a wrong one is named in one line), find the input files
    (``expand``; none is an error that names the ``kind`` of file, and so is a folder of none
    among other inputs, which is skipped), make the decoder, then print each of
    ``results(args, bundle, files, decoder, failures)`` with ``show(result, args)``. With
    ``--data`` the utterances of ``--split`` are decoded too, named by their ids (``args.ids``).
    A single input file (no ``--data``) is no batch: its failure is the one line."""
    bundle = load_bundle(args.model, engine=args.engine)
    require(bundle, args.model)
    data = getattr(args, "data", None)  # recognize has no --data
    found = [(given, expand([given])) for given in args.inputs]  # a file finds itself
    files, args.ids, args.utterances = [f for _, fs in found for f in fs], None, {}
    failures = Failures(args.strict, batch=len(files) > 1 or len(found) > 1 or bool(data))
    if data:
        utts = {utterance_key(u): u for u in split_from_args(args, args.split, on_error=failures)}
        files += list(utts)
        args.ids = {**file_ids(files), **{key: safe_id(u.id) for key, u in utts.items()}}
        args.utterances = {key: u for key, u in utts.items() if key != u.path}
    if files.count(STDIN) > 1:
        raise DataError("standard input can be read once only", STDIN)
    if not files and not args.inputs and not data:
        raise DataError(f"no input: give {kind} files or folders, - (standard input) or --data")
    if not files:
        raise DataError(f"no {kind} files found", " ".join(args.inputs) or data)
    for folder in (given for given, fs in found if not fs):  # among inputs that have some
        failures(DataError(f"no {kind} files found", folder))
    decoder = decoder_from_args(args, bundle)
    for result in results(args, bundle, files, decoder, failures):
        show(result, args)
    return failures.finish()


def _transcripts(args, bundle, files: list[str], decoder, failures: Failures):
    """transcribe's transcripts in input order; with --runner none to print (the Beam pipeline
    writes them to --output); with --plot each one is drawn too."""
    if args.runner or args.output:
        speech_unit(bundle, args.fold, args.model)  # a wrong model: one line, before any worker
        transcribe_beam(args, files, failures, decoder.options)
        return []
    beam_options(args)  # without --runner: refuses --num-workers and --runner-option
    if args.plot:
        if args.utterances:
            key, utt = next(iter(args.utterances.items()))
            raise DataError(f"--plot draws whole files; utterance {utt.id} is not one", key)
        return _transcribe_and_plot(bundle, files, args, decoder, failures)
    return transcribe_files(
        bundle,
        files,
        fold_to=args.fold,
        decoder=decoder,
        on_error=failures,
        warn=_warn,
        rate=args.rate,
        ids=args.ids,
        utterances=args.utterances,
    )


def _warn(message: str) -> None:
    print(f"lstmrec: warning: {message}", file=sys.stderr)


def _transcribe_and_plot(bundle, files: list[str], args, decoder, failures: Failures):
    """transcribe --plot: one file at a time, each drawn once its transcript is printed."""
    require_matplotlib()
    ids = args.ids or file_ids(files)
    pictures = picture_paths([ids[f] for f in files], args.plot)
    pictures = common.check_pictures(args, pictures, files)
    for path, png in zip(files, pictures, strict=True):
        samples = None  # the picture reads a file's audio itself
        try:
            if path == STDIN:
                signal, rate = read_stdin_audio(rate=args.rate)
                tr, logits = transcribe_signal_detailed(
                    bundle, signal, rate, name=STDIN, fold_to=args.fold, decoder=decoder, warn=_warn
                )
                samples = signal_samples(signal, rate, bundle.features, STDIN)
            else:
                tr, logits = transcribe_detailed(
                    bundle, path, fold_to=args.fold, decoder=decoder, warn=_warn
                )
        except DataError as e:
            failures(e)
            continue
        tr = dataclasses.replace(tr, id=ids[path])
        yield tr  # printed by the caller before the picture is drawn
        plot_transcription(bundle, tr, posteriors(logits), png, samples=samples)


def _print_transcript(tr, args) -> None:
    if args.format == "json":
        print(json.dumps(tr.to_dict(), ensure_ascii=False), flush=True)
    elif args.format == "ctm":
        for line in tr.ctm_lines(silence=args.ctm_silence):
            print(line, flush=True)
    else:  # Kaldi text: <id> phone phone ... (a character model: <id> word word ...)
        print(f"{tr.utt_id} {tr.text}".rstrip(), flush=True)


def _recognitions(args, bundle, files: list[str], decoder, failures: Failures):
    return recognize_files(bundle, files, decoder=decoder, on_error=failures)


def _print_recognition(rec, args) -> None:
    if args.format == "json":
        print(json.dumps(rec.to_dict(), ensure_ascii=False), flush=True)
    else:  # Kaldi text: <id> word word ...
        print(f"{rec.id} {rec.text}".rstrip(), flush=True)


# ---------------------------------------------------------------------------------------------
# The parsers


def model_arg(p, default: str, input_suffixes) -> None:
    """``--model`` of transcribe and recognize; ``default`` (a shipped name) and the suffixes of
    input files are what :func:`lstmrec.cli.models.resolve_model_arg` needs without it."""
    p.add_argument(
        "--model",
        metavar="NAME|DIR",
        help=f"model bundle folder or shipped model name (lstmrec models) (default: {default})",
    )
    p.set_defaults(default_model=default, input_suffixes=tuple(input_suffixes))


def add_transcribe_parser(sub) -> None:
    p = sub.add_parser("transcribe", help="phone sequence of each audio file")
    model_arg(p, DEFAULT_SPEECH, AUDIO_EXTENSIONS)
    p.add_argument(
        "inputs",
        nargs="*",
        help="audio files or folders (searched recursively); - reads standard input "
        "(the old form MODEL INPUT ... still works: a bundle folder first is the model)",
    )
    p.add_argument(
        "--format",
        choices=["text", "json", "ctm"],
        default="text",
        help="output format: Kaldi text (<id> phone ...), JSON lines (with the N-best when "
        "--nbest > 1), or CTM (<id> 1 <start-s> <duration-s> <phone>, as sclite's -h ctm "
        "reads); a model that writes characters gives words: <id> word ..., JSON with text, "
        "words and chars, one CTM line per word (default: text)",
    )
    p.add_argument(
        "--ctm-silence",
        choices=["drop", "keep"],
        default="drop",
        help="CTM: leave out the silence phones sil, h#, pau, epi, or keep them (default: drop)",
    )
    p.add_argument("--rate", type=int, help="standard input is raw 16-bit mono PCM at this many Hz")
    p.add_argument(
        "--stream",
        action="store_true",
        help="print each phone (start s, end s, phone) as soon as it is final, while the audio "
        "arrives: one input, a file read at real-time pace or - (a WAV stream, or raw PCM with "
        "--rate); needs a forward-only model, decodes greedily (docs/streaming.md)",
    )
    p.add_argument(
        "--no-realtime",
        action="store_true",
        help="with --stream and a file: read it as fast as possible, not at real-time pace",
    )
    p.add_argument(
        "--chunk-ms",
        type=float,
        default=CHUNK_MS,
        help="with --stream and a file: milliseconds of audio read at a time (default: "
        f"{CHUNK_MS:g})",
    )
    p.add_argument(
        "--data", help="also transcribe a corpus split, named by utterance id (see --split)"
    )
    p.add_argument(
        "--split", default=SPLIT_DEFAULT, choices=SPLITS, help=f"with --data ({SPLIT_DEFAULT})"
    )
    p.add_argument("--keep-sa", action="store_true", help="with --data: keep TIMIT's SA sentences")
    p.add_argument("--dev-speakers", help="with --data: speaker-list file of the dev split")
    p.add_argument("--test-speakers", help="with --data: speaker-list file of the test splits")
    fold_arg(p)
    p.add_argument("--strict", action="store_true", help="stop at the first bad file")
    p.add_argument(
        "--plot",
        metavar="PATH",
        help="also draw spectrogram, CTC posteriors (a transducer's: its joint network on the "
        "best path) and phones: PATH (.png added when missing) for one file, or a folder "
        "(an existing one, or for several files) that gets <id>.png per file (the id's / "
        "as _, extension dropped)",
    )
    add_decoding_args(p)
    engine_arg(p)
    beam_args(p)
    p.add_argument(
        "--output",
        help="with --runner: JSON Lines file, one object per input file (unordered); "
        'a bad file gives {"file", "error"}',
    )
    p.set_defaults(func=cmd_transcribe)


def add_recognize_parser(sub) -> None:
    p = sub.add_parser("recognize", help="text of each ink file (on-line handwriting)")
    model_arg(p, DEFAULT_INK, INK_EXTENSIONS)
    p.add_argument(
        "inputs",
        nargs="+",
        help="ink files (IAM-OnDB .xml, .inkml, .json, .ndjson/.jsonl, stroke-3 .npy/.npz) "
        "or folders (searched recursively); - reads standard input (JSON or NDJSON ink) "
        "(the old form MODEL INPUT ... still works: a bundle folder first is the model)",
    )
    format_arg(p)
    p.add_argument("--strict", action="store_true", help="stop at the first bad file")
    add_decoding_args(p)
    engine_arg(p)
    p.set_defaults(func=cmd_recognize)
