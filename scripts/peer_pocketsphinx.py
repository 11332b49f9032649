#!/usr/bin/env python3
"""A trained speech bundle against PocketSphinx's phone recogniser, on the same utterances.

Both systems decode the same held-out utterances in one run and are scored with the project's
scorer against the same references, exactly as ``lstmrec evaluate`` scores a bundle: the
references of :meth:`lstmrec.targets.Targets.references` (hand phones, or the lexicon phones of
the bundle's recipe without silences), each hypothesis through
:meth:`lstmrec.targets.Targets.scored`, both sides folded to the bundle's scoring phone set (39
by default). The report gives each system's PER with S, D, I, its 95 % bootstrap interval,
its wall time and real-time factor, then the paired comparison of ``lstmrec compare``.

PocketSphinx runs in allphone mode: the US English acoustic model and phone trigram LM that its
package ships (``en-us``, ``en-us-phone.lm.bin``), beams of 1e-20 and LM weight 2.0, on 16 kHz
int16 samples, its feature state (cepstral mean) reset before every utterance. Its CMU phones
become TIMIT labels: lower case (every one of the 39 is a TIMIT-61 label), ``SIL`` becomes
``h#``, fillers (``+NSN+``, ``+SPN+``, ...) are dropped, and a stop or affricate becomes
TIMIT's closure and release (``T`` -> ``tcl t``, ``CH`` -> ``tcl ch``; closures fold to
``sil``), unless ``--no-closures``.

    .venv/bin/python scripts/peer_pocketsphinx.py MODEL --data DATA --split core-test \\
        [--dev-speakers F --test-speakers F --keep-sa] [--limit N] [--format text|json] \\
        [--out DIR]

Needs ``pip install -e ".[peer]"`` (pocketsphinx). Exit status 2 when an utterance was
skipped (bad audio, no labels) or on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from lstmrec.bench.threads import blas_threads
from lstmrec.bundle import load_bundle
from lstmrec.cli.common import (
    EXIT_BAD_INPUT,
    Failures,
    add_data_args,
    bundle_held_out,
    fold_arg,
    format_arg,
    quiet_arg,
    split_from_args,
    stdout_closed,
)
from lstmrec.cli.reports import report_args, report_options
from lstmrec.features.audio import load_audio, resample
from lstmrec.features.errors import DataError, report_or_raise, require_at_least
from lstmrec.features.files import check_output, write_text
from lstmrec.inference.evaluate import evaluate_bundle
from lstmrec.phones import fold
from lstmrec.progress import progress, set_quiet
from lstmrec.scoring.align import score, write_kaldi_text
from lstmrec.scoring.refs import utt2spk_lines
from lstmrec.scoring.report import (
    ReportOptions,
    compare_reports,
    comparison_text,
    confidence_interval,
)
from lstmrec.scoring.stats import Comparison
from lstmrec.shipped import resolve_model
from lstmrec.targets import Targets

SAMPLE_RATE = 16000  # Hz: the rate of PocketSphinx's en-us acoustic model
# The 39 phones of the CMU set (ARPAbet without stress); lower-cased, each is a TIMIT-61 label.
CMU_PHONES = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW "
    "V W Y Z ZH".split()
)
CMU_SILENCE = "SIL"
# TIMIT labels a stop (and an affricate) as a closure followed by its release.
CLOSURES = {"b": "bcl", "d": "dcl", "g": "gcl", "p": "pcl", "t": "tcl", "k": "kcl",
            "ch": "tcl", "jh": "dcl"}  # fmt: skip
BEAM = 1e-20  # state and phone beams, as CMU's phoneme-recognition guide sets them
LM_WEIGHT = 2.0  # phone LM weight, from the same guide
OURS, PEER = "lstmrec", "pocketsphinx"


def cmu_to_timit(
    phones: list[str] | tuple[str, ...], *, closures: bool = True, source: str | None = None
) -> list[str]:
    """PocketSphinx's CMU phones (its allphone segment words) as TIMIT-61 labels.

    Lower case; ``SIL`` -> ``h#``; fillers (``+NSN+``, ``+SPN+``, any ``+...+``) and sentence
    markers (``<s>``, ``</s>``, ``<sil>``) dropped; with ``closures`` a stop or affricate
    becomes its TIMIT closure and release (``T`` -> ``tcl t``). Any other label is a
    :class:`DataError` naming ``source``.
    """
    out = []
    for p in phones:
        if p == CMU_SILENCE:
            out.append("h#")
        elif (p.startswith("+") and p.endswith("+")) or p in ("<s>", "</s>", "<sil>"):
            continue
        elif p in CMU_PHONES:
            label = p.lower()
            if closures and label in CLOSURES:
                out.append(CLOSURES[label])
            out.append(label)
        else:
            raise DataError(f"PocketSphinx phone {p!r} has no TIMIT label", source)
    return out


def pcm16(signal: np.ndarray) -> bytes:
    """``(N,)`` float samples in [-1, 1) as little-endian int16 PCM bytes (``2 N`` bytes),
    rounded and clipped to the int16 range."""
    scaled = np.round(np.asarray(signal, dtype=np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def utterance_audio(utt) -> np.ndarray:
    """``(N,)`` float32 samples of ``utt`` at 16 kHz: its slice ``[offset, offset + duration)``
    when it has an offset, its in-memory ``samples`` (a TFDS utterance), else its whole file."""
    samples = getattr(utt, "samples", None)
    if samples is not None:
        x = np.asarray(samples)
        if np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32) / float(2 ** (8 * x.dtype.itemsize - 1))
        return resample(x, orig_sr=int(utt.sample_rate), target_sr=SAMPLE_RATE)
    if utt.offset is not None:
        return load_audio(
            utt.path, sample_rate=SAMPLE_RATE, offset=utt.offset, duration=utt.duration
        )
    return load_audio(utt.path, sample_rate=SAMPLE_RATE)


# ---------------------------------------------------------------------------------------------
# PocketSphinx


def pocketsphinx_decoder(lw: float):
    """A PocketSphinx ``Decoder`` in allphone mode with the package's en-us models, and its
    settings (a dict). :class:`DataError` when pocketsphinx or a model file is missing
    (PocketSphinx itself would fall back to a phone loop without its LM, and say so only in
    its log)."""
    try:
        import pocketsphinx
        from pocketsphinx import Config, Decoder, get_model_path
    except ImportError:
        raise DataError('not installed: pip install -e ".[peer]"', "pocketsphinx") from None
    hmm = get_model_path("en-us/en-us")
    lm = get_model_path("en-us/en-us-phone.lm.bin")
    for path in (hmm, lm):
        if not Path(path).exists():
            raise DataError("model file of the pocketsphinx package not found", path)
    settings = {"hmm": hmm, "allphone": lm, "samprate": SAMPLE_RATE, "beam": BEAM,
                "pbeam": BEAM, "lw": lw}  # fmt: skip
    config = Config(**settings, loglevel="FATAL", logfn="/dev/null")
    version = getattr(pocketsphinx, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("pocketsphinx")
    return Decoder(config), {"version": version, **settings}


def pocketsphinx_phones(decoder, pcm: bytes) -> list[str]:
    """The CMU phone segments of one utterance (``pcm``: 16 kHz int16 bytes), decoded from a
    fresh feature state so that no cepstral mean carries over from the previous utterance."""
    decoder.reinit_feat()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return [seg.word for seg in decoder.seg()]


def decode_peer(decoder, utts, targets: Targets, *, closures: bool, on_error):
    """PocketSphinx's hypotheses ``{id: TIMIT labels}`` as scored (:meth:`Targets.scored`),
    the wall seconds of reading and decoding, and the audio seconds of each decoded id."""
    hyps, seconds = {}, {}
    start = time.perf_counter()
    for utt in progress(utts, desc=PEER, unit="utt"):
        try:
            signal = utterance_audio(utt)
        except DataError as e:
            report_or_raise(e, on_error)
            continue
        phones = pocketsphinx_phones(decoder, pcm16(signal))
        labels = cmu_to_timit(phones, closures=closures, source=f"hypothesis {utt.id}")
        hyps[utt.id] = targets.scored(utt, labels)
        seconds[utt.id] = len(signal) / SAMPLE_RATE
    return hyps, time.perf_counter() - start, seconds


# ---------------------------------------------------------------------------------------------
# The run


def check_args(args) -> None:
    """Refuse bad numbers before anything is loaded (:class:`DataError`)."""
    require_at_least({"--limit": (args.limit, 1), "--threads": (args.threads, 1)})
    if not 0.0 < args.alpha < 1.0:
        raise DataError(f"--alpha must be between 0 and 1, got {args.alpha}", "command line")
    if not args.lw > 0:
        raise DataError(f"--lw must be positive, got {args.lw}", "command line")
    report_options(args)  # --bootstrap


def out_files(args) -> dict[str, Path]:
    """The files ``--out`` gets, checked before any decoding (nothing is overwritten without
    ``--force``): ``ref.txt``, ``utt2spk``, ``lstmrec.txt``, ``pocketsphinx.txt``."""
    if not args.out:
        return {}
    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise DataError("--out must be a folder", folder)
    files = {name: folder / name for name in ("ref.txt", "utt2spk", f"{OURS}.txt", f"{PEER}.txt")}
    for path in files.values():
        check_output(path, inputs=[args.data, args.model], force=args.force, flag="--out")
    return files


def speech_targets(bundle, model: Path) -> Targets:
    """The bundle's targets; :class:`DataError` unless it hears audio and writes phones."""
    targets = Targets.of_bundle(bundle)
    if targets.unit != "phones" or not targets.speech:
        raise DataError("not a speech model with phone outputs", model)
    return targets


def references(targets: Targets, utts, fold_to: int, on_error) -> dict[str, list[str]]:
    """``{id: reference}`` of the utterances that have one that folds to ``fold_to``."""
    refs = targets.references(utts, on_error=on_error)
    for uid in list(refs):
        try:
            fold(refs[uid], fold_to, source=f"reference {uid}")
        except DataError as e:
            report_or_raise(e, on_error)
            del refs[uid]
    return refs


def run(args, failures: Failures) -> tuple[dict, Comparison]:
    """Decode and score both systems (skipped utterances go to ``failures``); the result (see
    :func:`result_dict`) and the paired comparison."""
    check_args(args)
    files = out_files(args)
    model = resolve_model(args.model)
    bundle = load_bundle(model, engine="numpy")
    targets = speech_targets(bundle, model)
    decoder, settings = pocketsphinx_decoder(args.lw)
    fold_to = args.fold or targets.fold or 39
    lists_from = bundle_held_out(args, bundle)
    utts = split_from_args(args, args.split, on_error=failures)[: args.limit]
    refs = references(targets, utts, fold_to, failures)
    utts = [u for u in utts if u.id in refs]
    if not utts:
        raise DataError(f"split {args.split!r} has no usable utterances", args.data)
    limit, threads = blas_threads(args.threads)
    with limit:
        peer_hyps, peer_wall, audio = decode_peer(
            decoder, utts, targets, closures=args.closures, on_error=failures
        )
        utts = [u for u in utts if u.id in peer_hyps]
        start = time.perf_counter()
        _, our_hyps = evaluate_bundle(bundle, utts, fold_to=fold_to, on_error=failures)
        our_wall = time.perf_counter() - start
    ids = [u.id for u in utts if u.id in our_hyps]
    if not ids:
        raise DataError("no utterance was decoded by both systems", args.data)
    refs = {uid: refs[uid] for uid in ids}
    speakers = {u.id: u.speaker for u in utts if u.id in refs}
    reports = {
        name: score(refs, {uid: hyps[uid] for uid in ids}, speakers=speakers, fold_to=fold_to)
        for name, hyps in ((OURS, our_hyps), (PEER, peer_hyps))
    }
    timing = {
        OURS: (our_wall, sum(audio[u.id] for u in utts)),
        PEER: (peer_wall, sum(audio.values())),
    }
    head = {"model": str(args.model), "data": str(args.data), "split": args.split,
            "speaker_lists_from": lists_from, "limit": args.limit, "phone_set": fold_to,
            "closures": args.closures, "blas_threads": threads}  # fmt: skip
    options = report_options(args)
    comparison = compare_reports(reports[OURS], reports[PEER], options, alpha=args.alpha)
    out = result_dict(head, reports, timing, settings, comparison, options)
    texts = {"ref.txt": refs, f"{OURS}.txt": {u: our_hyps[u] for u in ids},
             f"{PEER}.txt": {u: peer_hyps[u] for u in ids}}  # fmt: skip
    write_out(files, texts, speakers)
    return out, comparison


def result_dict(
    head: dict,
    reports: dict,
    timing: dict,
    settings: dict,
    comparison: Comparison,
    options: ReportOptions,
) -> dict:
    """The JSON result: ``head``, one row per system (rates in percent, ``ci95`` its 95 %
    bootstrap interval, ``wall_s`` and ``audio_s`` in seconds, ``rtf`` = wall / audio) and the
    paired comparison (B = pocketsphinx minus A = lstmrec, in points)."""
    rows = []
    for name, report in reports.items():
        t = report.total
        wall, audio = timing[name]
        rows.append({
            "system": name,
            "error_rate": t.error_rate,
            "ci95": confidence_interval(report, options),
            "substitutions": t.substitutions,
            "deletions": t.deletions,
            "insertions": t.insertions,
            "errors": t.errors,
            "reference_length": t.reference_length,
            "num_utterances": report.num_utterances,
            "wall_s": wall,
            "audio_s": audio,
            "rtf": wall / audio if audio else None,
        })  # fmt: skip
    rows[1]["settings"] = settings
    return {**head, "systems": rows, "comparison": comparison.to_dict()}


def write_out(files: dict[str, Path], texts: dict, speakers: dict[str, str]) -> None:
    """``--out``: the references and each system's hypotheses as scored (before folding) as
    Kaldi text, and utt2spk, so that ``lstmrec compare`` gives the same comparison again."""
    if not files:
        return
    files["ref.txt"].parent.mkdir(parents=True, exist_ok=True)
    for name, mapping in texts.items():
        write_kaldi_text(mapping, files[name])
    write_text(files["utt2spk"], "".join(line + "\n" for line in utt2spk_lines(speakers)))


def text_report(out: dict, comparison: Comparison) -> str:
    """The side-by-side table, a note on the timing, then the paired comparison."""
    lines = [
        f"{out['split']} of {out['data']} (speakers split by {out['speaker_lists_from']}), "
        f"scored at {out['phone_set']} phones",
        f"{'system':<13} {'PER':>6}  {'95 % interval':<17} {'S':>5} {'D':>5} {'I':>5} "
        f"{'N':>6} {'utts':>5} {'wall s':>7} {'RTF':>7}",
    ]
    for r in out["systems"]:
        lo, hi = r["ci95"] or (float("nan"), float("nan"))
        rtf = f"{r['rtf']:7.4f}" if r["rtf"] is not None else f"{'-':>7}"
        lines.append(
            f"{r['system']:<13} {r['error_rate']:6.2f}  [{lo:6.2f}, {hi:6.2f}] "
            f"{r['substitutions']:>5} {r['deletions']:>5} {r['insertions']:>5} "
            f"{r['reference_length']:>6} {r['num_utterances']:>5} {r['wall_s']:7.2f} {rtf}"
        )
    peer = out["systems"][1]["settings"]
    threads = out["blas_threads"] or "as the environment sets"
    lines += [
        "RTF: wall seconds of reading and decoding per second of audio (loading not counted)",
        f"{OURS}: NumPy engine, the recipe's decoder, BLAS threads {threads}; {PEER} "
        f"{peer['version']}: allphone, one thread, lw {peer['lw']:g}, beams {peer['beam']:g}, "
        + ("stops as closure + release" if out["closures"] else "stops as release only"),
        "",
    ]
    return "\n".join(lines) + "\n" + comparison_text(comparison, OURS, PEER)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", help="speech bundle folder or shipped model name")
    add_data_args(p, split_default="core-test")
    p.add_argument("--limit", type=int, help="only the first N utterances of the split")
    format_arg(p)
    fold_arg(p, default_help="the model's scoring set, else 39")
    report_args(p, details=False)
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    p.add_argument("--lw", type=float, default=LM_WEIGHT, help="PocketSphinx phone LM weight")
    p.add_argument(
        "--no-closures",
        dest="closures",
        action="store_false",
        help="map a PocketSphinx stop to its release only (TIMIT labels a closure before it)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads of lstmrec's forward pass (default 1, as PocketSphinx uses one; "
        "needs threadpoolctl)",
    )
    p.add_argument("--out", help="folder for ref.txt, utt2spk and each system's hypotheses")
    p.add_argument("--force", action="store_true", help="overwrite files of --out that exist")
    quiet_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quiet:
        set_quiet()
    failures = Failures(args.strict)
    try:
        out, comparison = run(args, failures)
        if args.format == "json":
            print(json.dumps(out))
        else:
            print(text_report(out, comparison), end="")
    except BrokenPipeError:
        return stdout_closed()
    except DataError as e:
        print(f"peer_pocketsphinx: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return failures.finish()


if __name__ == "__main__":
    sys.exit(main())
