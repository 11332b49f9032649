"""``lstmrec transcribe --stream``: phones printed while the audio arrives, one line each, from a
file read at real-time pace or from standard input (a WAV stream, or raw PCM with ``--rate``).
See :mod:`lstmrec.inference.stream` for when a phone is final."""

from __future__ import annotations

import json
import math
import sys

from lstmrec.bundle import load_bundle
from lstmrec.features.audiostream import FileSource, raw_pcm_source, wav_stream_source
from lstmrec.features.errors import DataError
from lstmrec.inference.stream import StreamingTranscriber, paced
from lstmrec.inference.transcribe import TimedPhone, Transcript, rounded_s
from lstmrec.scoring.ids import STDIN, file_ids
from lstmrec.targets import symbols_text

CHUNK_MS = 10.0  # audio read from a file at a time: one 10 ms frame shift
MAX_BLOCK = 2**31  # samples read at a time at most, whatever --chunk-ms asks
EXIT_INTERRUPTED = 130  # Ctrl-C: the phones so far and the last ones are printed first


def cmd_stream(args) -> int:
    """Run ``transcribe --stream``: check the flags, open the input, print phone by phone."""
    path = _check_args(args)
    bundle = load_bundle(args.model, engine="numpy")
    transcriber = StreamingTranscriber(bundle, fold_to=args.fold, source=args.model)
    if args.format == "ctm" and transcriber.unit == "chars":
        raise DataError("--stream --format ctm needs a phone model (words end after them)")
    source = _open_source(args, path)
    rate = bundle.features.sample_rate
    if source.sample_rate != rate:
        raise DataError(
            f"sample rate {source.sample_rate} Hz is not the model's {rate} Hz, and --stream "
            f"does not resample: record at {rate} Hz (arecord -r {rate}, sox ... -r {rate})",
            path,
        )
    if path == STDIN:
        blocks = source.blocks()  # as the bytes arrive
    else:
        size = min(rate * args.chunk_ms / 1000, MAX_BLOCK)  # (samples) no overflow for 1e308
        blocks = source.blocks(max(1, round(size)))
        blocks = blocks if args.no_realtime else paced(blocks, rate)
    utt_id = file_ids([path])[path]
    try:
        try:
            for block in blocks:
                for phone in transcriber.push(block):
                    _print_phone(phone, args, utt_id, transcriber)
        except KeyboardInterrupt:  # the end of a live recording: print what it holds
            for phone in transcriber.finish():
                _print_phone(phone, args, utt_id, transcriber)
            return EXIT_INTERRUPTED
        for phone in transcriber.finish():
            _print_phone(phone, args, utt_id, transcriber)
    except DataError as e:  # name the input in errors found while reading it
        raise e if e.path is not None else DataError(e.reason, path) from None
    return 0


def _check_args(args) -> str:
    """The one input of ``--stream``; :class:`DataError` for flags it cannot honour."""
    if len(args.inputs) != 1:
        raise DataError(f"--stream takes one input (a file or -), not {len(args.inputs)}")
    beam_flags = args.beam is not None and args.beam > 1
    conflicts = {
        "--beam > 1 (streaming decodes greedily)": beam_flags,
        "--nbest > 1": args.nbest is not None and args.nbest > 1,
        "--lm": args.lm,
        "--lm-weight": bool(args.lm_weight),  # 0, as the bonus's, changes nothing
        "--insertion-bonus": bool(args.insertion_bonus),
        "--lexicon": args.lexicon,
        "--plot": args.plot,
        "--data": args.data,
        "--runner": getattr(args, "runner", None),
        "--output": args.output,
        "--engine keras (streaming runs on the NumPy engine)": args.engine == "keras",
    }
    for flag, given in conflicts.items():
        if given:
            raise DataError(f"--stream cannot be combined with {flag}")
    if not (math.isfinite(args.chunk_ms) and args.chunk_ms > 0):
        raise DataError(f"--chunk-ms {args.chunk_ms:g} must be a positive number of milliseconds")
    return args.inputs[0]


def _open_source(args, path: str):
    if path != STDIN:  # --rate with a file was refused with the flags
        return FileSource(path)
    stdin = sys.stdin.buffer
    if args.rate is not None:
        return raw_pcm_source(stdin, sample_rate=args.rate, name=STDIN)
    return wav_stream_source(stdin, name=STDIN)


def _print_phone(phone: TimedPhone, args, utt_id: str, transcriber) -> None:
    """One line: ``<start s> <end s> <phone>`` (text), a JSON object, or a CTM line."""
    if args.format == "ctm":
        one = Transcript(STDIN, transcriber.seconds, [phone], id=utt_id)
        lines = one.ctm_lines(silence=args.ctm_silence)
    elif args.format == "json":
        key = "char" if transcriber.unit == "chars" else "phone"
        label = symbols_text([phone.phone]) if transcriber.unit == "chars" else phone.phone
        obj = {key: label, "start": rounded_s(phone.start), "end": rounded_s(phone.end)}
        lines = [json.dumps(obj, ensure_ascii=False)]
    else:
        lines = [f"{rounded_s(phone.start):.3f} {rounded_s(phone.end):.3f} {phone.phone}"]
    for line in lines:
        print(line, flush=True)
