#!/usr/bin/env python3
"""A handwriting bundle against two OCR engines reading the same lines as scanned images.

For every line of a held-out split, in one run: the bundle recognizes the pen strokes (NumPy
engine, the recipe's decoder unless the decoding flags say otherwise); the same strokes are
drawn as a scanned line image (:mod:`lstmrec.features.inkrender`: black pen on a white page,
32 px core height, about 300 dpi), which Tesseract (one raw text line, ``--psm 13``, English)
and RapidOCR (PP-OCRv4 recognition on the whole line) read. The OCR engines see only the image: no
time stamps, stroke order or pen lifts.

All three are scored with the project's scorer against the references of ``lstmrec evaluate``
(the line's text, each character in the model's symbol table), every text through the same
normalisation (:func:`lstmrec.targets.text_symbols`: white space runs are one word gap; with
``--ignore-case`` everything in lower case): CER and WER with 95 % bootstrap intervals over
lines, seconds per line, and the paired comparison of ``lstmrec compare`` of each engine
against the bundle.

    .venv/bin/python scripts/bench_ocr_peers.py MODEL --data DATA [--split core-test] \\
        [--limit N] [--peers tesseract rapidocr] [--ignore-case] [--threads 1] \\
        [--json OUT] [--markdown OUT] [--images DIR] [--force]

Needs Debian's ``tesseract-ocr`` (with ``tesseract-ocr-eng``) and ``pip install -e
".[ocr-peer]"`` (rapidocr_onnxruntime, whose wheel holds its models). A missing
engine or bad input ends in one line and exit status 2; so does a skipped line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

import numpy as np

from lstmrec.bench.threads import blas_threads
from lstmrec.bundle import load_bundle
from lstmrec.cli.common import (
    EXIT_BAD_INPUT,
    Failures,
    add_data_args,
    bundle_held_out,
    quiet_arg,
    split_from_args,
    stdout_closed,
)
from lstmrec.cli.decoding import add_decoding_args, decoder_from_args
from lstmrec.cli.reports import report_args, report_options
from lstmrec.features import inkrender
from lstmrec.features.errors import DataError, report_or_raise, require_at_least
from lstmrec.features.files import (
    atomic_dir,
    check_output,
    same_file,
    write_bytes,
    write_json,
    write_text,
)
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.inference.evaluate import TextReport
from lstmrec.inference.recognize import recognize_strokes
from lstmrec.progress import progress, set_quiet
from lstmrec.scoring.align import score
from lstmrec.scoring.report import ReportOptions, compare_reports, confidence_interval
from lstmrec.shipped import resolve_model
from lstmrec.targets import Targets, modality, symbols_text, text_symbols, text_words

OURS, TESSERACT, RAPIDOCR = "lstmrec", "tesseract", "rapidocr"
PEERS = (TESSERACT, RAPIDOCR)
# "Raw line": the image is one text line, without Tesseract's own layout analysis. Its "single
# text line" mode (7) still runs that analysis, which finds no text at all in many slanted
# cursive lines (on the synthetic test writers: 46.7 % CER with 7, 10.7 % with 13).
TESSERACT_PSM = 13
TESSERACT_LANG = "eng"
TESSERACT_TIMEOUT_S = 120  # one line; a hung process is an error, not a stalled benchmark


# ---------------------------------------------------------------------------------------------
# The OCR engines


def find_tesseract() -> tuple[str, str]:
    """The tesseract executable and its version; :class:`DataError` when it is missing."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise DataError("not found on PATH: apt-get install tesseract-ocr", "tesseract")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    first = (out.stdout or out.stderr).splitlines()
    return exe, (first[0].split()[-1] if first else "unknown")


def tesseract_text(exe: str, png: bytes, *, psm: int, dpi: int, threads: int | None) -> str:
    """Tesseract's text of one PNG image (given on its standard input); :class:`DataError`
    with its message when it fails."""
    env = dict(os.environ)
    if threads is not None:
        env["OMP_THREAD_LIMIT"] = str(threads)  # Tesseract's OpenMP threads
    cmd = [exe, "-", "stdout", "--psm", str(psm), "-l", TESSERACT_LANG, "--dpi", str(dpi)]
    try:
        out = subprocess.run(cmd, input=png, capture_output=True, timeout=TESSERACT_TIMEOUT_S,
                             env=env)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise DataError(f"no answer in {TESSERACT_TIMEOUT_S} s", "tesseract") from None
    if out.returncode != 0:
        last = (out.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
        raise DataError(f"exit status {out.returncode}: {last}", "tesseract")
    return out.stdout.decode("utf-8", "replace")


def load_rapidocr(threads: int | None):
    """RapidOCR's engine (loaded once) and its version; :class:`DataError` when missing."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] != "rapidocr_onnxruntime":
            raise DataError(f"cannot be loaded: {e}", "rapidocr") from None
        raise DataError('not installed: pip install -e ".[ocr-peer]"', "rapidocr") from None
    except ImportError as e:  # a library it loads (OpenCV needs libGL.so.1 on Debian: libgl1)
        raise DataError(f"cannot be loaded: {e}", "rapidocr") from None
    kwargs = {} if threads is None else {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
    try:
        version = dist_version("rapidocr_onnxruntime")
    except PackageNotFoundError:
        version = "unknown"
    return RapidOCR(**kwargs), version


def rapidocr_text(engine, image: np.ndarray, *, detect: bool) -> str:
    """RapidOCR's text of a line image ``(H, W)`` uint8. Without ``detect`` the whole image is
    one line for its recognizer (as for Tesseract's ``--psm 13``); with it, the shipped detection
    and orientation models run first and the boxes are read left to right."""
    if not detect:
        found, _ = engine(image, use_det=False, use_cls=False)
        return " ".join(text for text, _score in found or [])
    found, _ = engine(image)
    boxes = sorted(found or [], key=lambda r: min(x for x, _y in r[0]))  # left to right
    return " ".join(text for _box, text, _score in boxes)


# ---------------------------------------------------------------------------------------------
# Lines, and every system on each


def normalised(text: str, *, ignore_case: bool) -> list[str]:
    """The symbols a text is scored as, the same for references and every system: white space
    runs are one :data:`SPACE` (:func:`text_symbols`), lower case with ``ignore_case``."""
    return text_symbols(text.lower() if ignore_case else text)


def held_out_lines(args, targets: Targets, failures) -> list[tuple]:
    """``(utterance, strokes, reference text)`` of the lines of the split (the first
    ``--limit``) that have a reference and one ink sample; the others go to ``failures``."""
    utts = split_from_args(args, args.split, on_error=failures)[: args.limit]
    refs = targets.references(utts, on_error=failures)
    lines = []
    for utt in utts:
        if utt.id not in refs:
            continue
        try:
            samples = read_ink_file(utt.path)
            if len(samples) != 1:
                raise DataError(f"holds {len(samples)} ink samples; a line must be one", utt.path)
        except DataError as e:
            report_or_raise(e, failures)
            continue
        lines.append((utt, samples[0].strokes, symbols_text(refs[utt.id])))
    if not lines:
        raise DataError(f"split {args.split!r} has no usable lines", args.data)
    return lines


def timed(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), wall seconds)``."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def read_line(systems: dict, utt, strokes, render: dict) -> tuple[dict, dict, np.ndarray]:
    """Every system's text of one line, its seconds, and the rendered image (its drawing
    timed as ``render``). A :class:`DataError` of any system drops the line."""
    source = utt.path
    try:
        image, render_s = timed(inkrender.render_ink, strokes, **render)
    except DataError as e:
        raise DataError(f"line {utt.id} cannot be drawn: {e.reason}", source) from None
    texts, seconds = {}, {"render": render_s}
    for name, read in systems.items():
        try:
            texts[name], seconds[name] = timed(read, strokes, image)
        except DataError as e:
            raise DataError(f"line {utt.id}: {name}: {e.reason}", source) from None
    return texts, seconds, image


def make_systems(args, bundle, peers: dict) -> dict:
    """``{name: read(strokes, image) -> text}``: the bundle on the strokes, each engine of
    ``peers`` on the image (a PNG at the renderer's resolution for Tesseract)."""
    decoder = decoder_from_args(args, bundle)
    dpi = inkrender.scan_dpi(args.core_height_px)

    def ours(strokes, image):
        return recognize_strokes(bundle, strokes, name="ink", decoder=decoder).text

    systems = {OURS: ours}
    if TESSERACT in peers:
        exe = peers[TESSERACT]["path"]

        def tesseract(strokes, image):
            png = inkrender.png_bytes(image, dpi=dpi)
            return tesseract_text(exe, png, psm=args.psm, dpi=dpi, threads=args.threads)

        systems[TESSERACT] = tesseract
    if RAPIDOCR in peers:
        engine = peers[RAPIDOCR]["engine"]
        systems[RAPIDOCR] = lambda strokes, image: rapidocr_text(
            engine, image, detect=args.rapidocr_detect
        )
    return systems


def run_lines(lines, systems: dict, render: dict, failures, images: Path | None):
    """Every system on every line: ``{system: {id: text}}`` and ``{system or "render":
    seconds summed}`` over the lines all systems read (the others go to ``failures``)."""
    texts = {name: {} for name in systems}
    seconds = dict.fromkeys([*systems, "render"], 0.0)
    for utt, strokes, _ref in progress(lines, desc="lines", unit="line"):
        try:
            found, took, image = read_line(systems, utt, strokes, render)
        except DataError as e:
            report_or_raise(e, failures)
            continue
        for name, text in found.items():
            texts[name][utt.id] = text
        for name, s in took.items():
            seconds[name] += s
        if images is not None:
            dpi = inkrender.scan_dpi(render["core_height_px"])
            write_bytes(images / f"{utt.id}.png", inkrender.png_bytes(image, dpi=dpi))
    return texts, seconds


# ---------------------------------------------------------------------------------------------
# Scoring


def score_texts(refs: dict, hyps: dict, writers: dict, *, ignore_case: bool) -> TextReport:
    """CER and WER of hypothesis texts ``{id: text}`` against reference texts, per writer,
    both normalised alike (:func:`normalised`)."""
    ref_symbols = {u: normalised(t, ignore_case=ignore_case) for u, t in refs.items()}
    hyp_symbols = {u: normalised(hyps[u], ignore_case=ignore_case) for u in refs}
    chars = score(ref_symbols, hyp_symbols, speakers=writers)
    words = score(
        {u: text_words(symbols_text(s)) for u, s in ref_symbols.items()},
        {u: text_words(symbols_text(s)) for u, s in hyp_symbols.items()},
        speakers=writers,
    )
    return TextReport(chars, words)


def score_systems(refs, texts, seconds, writers, options: ReportOptions, *, ignore_case, alpha):
    """The result's ``systems`` rows and ``comparisons`` (each peer as B against the bundle as
    A, CER and WER: B minus A in points) for the lines every system read."""
    ids = sorted(set.intersection(*(set(t) for t in texts.values())))
    if not ids:
        raise DataError("no line was read by every system", "the data")
    refs = {u: refs[u] for u in ids}
    reports = {
        name: score_texts(refs, hyps, writers, ignore_case=ignore_case)
        for name, hyps in texts.items()
    }
    rows = []
    for name, report in reports.items():
        c, w = report.chars.total, report.words.total
        rows.append({
            "system": name,
            "cer": c.error_rate,
            "cer_ci95": confidence_interval(report.chars, options),
            "wer": w.error_rate,
            "wer_ci95": confidence_interval(report.words, options),
            "char_errors": c.errors,
            "chars": c.reference_length,
            "word_errors": w.errors,
            "words": w.reference_length,
            "lines": len(ids),
            "seconds_per_line": seconds[name] / len(ids),
        })  # fmt: skip
    comparisons = {
        name: {
            unit: compare_reports(
                getattr(reports[OURS], unit), getattr(report, unit), options, alpha=alpha
            ).to_dict()
            for unit in ("chars", "words")
        }
        for name, report in reports.items()
        if name != OURS
    }
    return rows, comparisons, ids


# ---------------------------------------------------------------------------------------------
# The run


def check_args(args) -> None:
    """Refuse bad numbers before anything is loaded (:class:`DataError`)."""
    require_at_least({"--limit": (args.limit, 1), "--threads": (args.threads, 1)})
    if not 0.0 < args.alpha < 1.0:
        raise DataError(f"--alpha must be between 0 and 1, got {args.alpha}", "command line")
    for flag in ("core_height_px", "pen_width"):
        if not getattr(args, flag) > 0:
            name = "--" + flag.replace("_", "-")
            raise DataError(f"{name} must be positive, got {getattr(args, flag)}", "command line")
    if not 0 <= args.psm <= 13:
        raise DataError(f"--psm must be 0..13, got {args.psm}", "command line")
    if not args.margin >= 0:
        raise DataError(f"--margin must be at least 0, got {args.margin}", "command line")
    report_options(args)  # --bootstrap


def check_outputs(args) -> None:
    """No output is an input or another output, nor (without ``--force``) anything that
    exists."""
    inputs = [args.data, args.model]
    chosen: list[tuple[str, str]] = []
    for flag, value in (("--json", args.json), ("--markdown", args.markdown),
                        ("--images", args.images)):  # fmt: skip
        if value:
            for other_flag, other in chosen:
                if same_file(value, other):
                    raise DataError(
                        f"{other_flag} and {flag} name the same file; give each its own", value
                    )
            check_output(value, inputs=inputs, force=args.force, flag=flag)
            chosen.append((flag, value))


def load_peers(args) -> dict:
    """``{engine: settings}`` of the engines of ``--peers`` (RapidOCR's loaded engine under
    ``engine``, not in the result); :class:`DataError` for one that is missing."""
    peers = {}
    if TESSERACT in args.peers:
        exe, version = find_tesseract()
        peers[TESSERACT] = {"path": exe, "version": version, "psm": args.psm,
                            "lang": TESSERACT_LANG}  # fmt: skip
    if RAPIDOCR in args.peers:
        engine, version = load_rapidocr(args.threads)
        peers[RAPIDOCR] = {"engine": engine, "version": version,
                           "detection": args.rapidocr_detect}  # fmt: skip
    return peers


def ink_bundle(model: str):
    """The NumPy-engine bundle of ``model`` (folder or shipped name) and its targets;
    :class:`DataError` unless it reads ink and writes characters."""
    folder = resolve_model(model)
    bundle = load_bundle(folder, engine="numpy")
    targets = Targets.of_bundle(bundle)
    if modality(bundle.features) != "ink" or targets.unit != "chars":
        raise DataError("not a handwriting model (ink in, characters out)", folder)
    return bundle, targets


def run(args, failures: Failures) -> dict:
    """Read, recognize and score every line; the result (see the module docstring)."""
    check_args(args)
    check_outputs(args)
    peers = load_peers(args)  # a missing engine is said before the slow part
    bundle, targets = ink_bundle(args.model)
    lists_from = bundle_held_out(args, bundle)
    lines = held_out_lines(args, targets, failures)
    render = {"core_height_px": args.core_height_px, "pen_width": args.pen_width,
              "margin": args.margin}  # fmt: skip
    systems = make_systems(args, bundle, peers)
    limit, threads = blas_threads(args.threads)
    images = atomic_dir(args.images) if args.images else contextlib.nullcontext()
    with limit, images as folder:
        texts, seconds = run_lines(lines, systems, render, failures, folder)
    refs = {utt.id: ref for utt, _, ref in lines}
    writers = {utt.id: utt.speaker for utt, _, _ in lines}
    options = report_options(args)
    rows, comparisons, ids = score_systems(
        refs, texts, seconds, writers, options, ignore_case=args.ignore_case, alpha=args.alpha
    )

    def scored(text: str) -> str:  # a text as it is scored
        return symbols_text(normalised(text, ignore_case=args.ignore_case))

    settings = {name: {k: v for k, v in p.items() if k != "engine"} for name, p in peers.items()}
    return {
        "model": str(args.model), "data": str(args.data), "split": args.split,
        "writer_lists_from": lists_from, "limit": args.limit, "ignore_case": args.ignore_case,
        "threads": threads, "render": {**render, "dpi": inkrender.scan_dpi(args.core_height_px),
                                       "seconds_per_line": seconds["render"] / len(ids)},
        "peers": settings, "systems": rows, "comparisons": comparisons,
        "lines": [{"id": u, "writer": writers[u], **{name: scored(t[u]) for name, t in
                   {"ref": refs, **texts}.items()}} for u in ids],
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Reports


def _ci(ci: list[float], width: int = 6) -> str:
    return f"[{ci[0]:{width}.2f}, {ci[1]:{width}.2f}]" if ci else "-"


def _difference(c: dict) -> str:
    lo, hi = c["difference_ci"]
    return f"{c['difference']:+7.2f} [{lo:+7.2f}, {hi:+7.2f}]  p = {c['matched_pairs_p']:.2g}"


def text_report(out: dict) -> str:
    """The side-by-side table, how the lines were drawn, then each engine against the bundle."""
    r = out["render"]
    n = out["systems"][0]["lines"]
    lines = [
        f"{out['split']} of {out['data']}: {n} lines (writers split by "
        f"{out['writer_lists_from']}){', case ignored' if out['ignore_case'] else ''}",
        f"{'system':<10} {'CER':>6}  {'95 % CI':<16} {'WER':>6}  {'95 % CI':<16} {'s/line':>7}",
    ]
    for row in out["systems"]:
        lines.append(
            f"{row['system']:<10} {row['cer']:6.2f}  {_ci(row['cer_ci95'])} {row['wer']:6.2f}  "
            f"{_ci(row['wer_ci95'])} {row['seconds_per_line']:7.3f}"
        )
    lines += [
        f"images: {r['core_height_px']:g} px core height, pen {r['pen_width']:g} core heights, "
        f"margin {r['margin']:g}, {r['dpi']} dpi; drawing {r['seconds_per_line']:.3f} s/line "
        "(not counted above)",
    ]
    for name, peer in out["peers"].items():
        how = (f"--psm {peer['psm']} -l {peer['lang']}" if name == TESSERACT else
               "detection + orientation + recognition" if peer.get("detection") else
               "recognition of the whole line")  # fmt: skip
        lines.append(f"{name} {peer['version']}: {how}")
    lines += ["", f"paired, engine minus {OURS} in points (95 % paired bootstrap interval, "
              "matched-pairs p):"]  # fmt: skip
    for name, c in out["comparisons"].items():
        lines.append(f"{name:<10} CER {_difference(c['chars'])}")
        lines.append(f"{'':<10} WER {_difference(c['words'])}")
    return "\n".join(lines) + "\n"


def markdown_report(out: dict) -> str:
    """The table and the paired comparisons as Markdown."""
    n = out["systems"][0]["lines"]
    head = f"{n} lines of the {out['split']} split of `{out['data']}`, model `{out['model']}`"
    md = [head, "", "| system | CER % | 95 % CI | WER % | 95 % CI | s/line |",
          "|---|---:|---|---:|---|---:|"]  # fmt: skip
    for row in out["systems"]:
        cer_ci, wer_ci = (_ci(row[k], width=0) for k in ("cer_ci95", "wer_ci95"))
        md.append(
            f"| {row['system']} | {row['cer']:.2f} | {cer_ci} | {row['wer']:.2f} | {wer_ci} | "
            f"{row['seconds_per_line']:.3f} |"
        )
    md += ["", f"| engine minus {OURS} | CER points | 95 % CI | WER points | 95 % CI |",
           "|---|---:|---|---:|---|"]  # fmt: skip
    for name, c in out["comparisons"].items():
        cells = []
        for unit in ("chars", "words"):
            lo, hi = c[unit]["difference_ci"]
            cells += [f"{c[unit]['difference']:+.2f}", f"[{lo:+.2f}, {hi:+.2f}]"]
        md.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(md) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", help="handwriting bundle folder or shipped model name")
    add_data_args(p, split_default="core-test")
    p.add_argument("--limit", type=int, help="only the first N lines of the split")
    p.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS),
                   help="OCR engines to run (default: both)")  # fmt: skip
    p.add_argument("--ignore-case", action="store_true",
                   help="score every text, references included, in lower case")  # fmt: skip
    g = p.add_argument_group("the line images")
    g.add_argument("--core-height-px", type=float, default=inkrender.CORE_HEIGHT_PX,
                   help="pixels of the core height (default %(default)g: 300 dpi)")  # fmt: skip
    g.add_argument("--pen-width", type=float, default=inkrender.PEN_WIDTH,
                   help="pen width in core heights (default %(default)g)")  # fmt: skip
    g.add_argument("--margin", type=float, default=inkrender.MARGIN,
                   help="white margin in core heights (default %(default)g)")  # fmt: skip
    g.add_argument("--psm", type=int, default=TESSERACT_PSM,
                   help="Tesseract page segmentation mode (default 13: one raw text line; "
                   "7: one text line after layout analysis)")  # fmt: skip
    g.add_argument("--rapidocr-detect", action="store_true",
                   help="run RapidOCR's text detection and orientation models first (default: "
                   "its recognizer reads the whole line)")  # fmt: skip
    add_decoding_args(p, nbest=False)  # it reads the best hypothesis only
    report_args(p, details=False)
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    p.add_argument("--threads", type=int, default=1,
                   help="threads of every system: BLAS, Tesseract's OpenMP, ONNX Runtime "
                   "(default 1)")  # fmt: skip
    p.add_argument("--json", help="also write the result as JSON to this file")
    p.add_argument("--markdown", help="also write the tables as Markdown to this file")
    p.add_argument("--images", help="also keep the line images, <line id>.png, in this folder")
    p.add_argument("--force", action="store_true", help="overwrite outputs that exist")
    quiet_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quiet:
        set_quiet()
    failures = Failures(args.strict)
    try:
        out = run(args, failures)
        print(text_report(out), end="")
        if args.json:
            write_json(args.json, out)
        if args.markdown:
            write_text(args.markdown, markdown_report(out))
    except BrokenPipeError:
        return stdout_closed()
    except DataError as e:
        print(f"bench_ocr_peers: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return failures.finish()


if __name__ == "__main__":
    sys.exit(main())
