#!/usr/bin/env python
"""Load on ``lstmrec serve``: concurrent requests, throughput, latency, and a check of every
answer against the library's result for its own input.

    .venv/bin/python scripts/bench_serve.py --ink runs/demo/ink-model
    .venv/bin/python scripts/bench_serve.py --speech en-phones --ink BUNDLE --requests 64 \\
        --concurrency 8 --audio ../shared/data/timit-sample/TIMIT/TRAIN

The server runs as ``python -m lstmrec serve`` in its own process on 127.0.0.1 (a free port;
nothing else is ever contacted). ``--requests`` requests, alternately ``POST /v1/transcribe``
(the audio files under ``--audio``, each sent as its raw bytes) and ``POST /v1/recognize``
(lines of synthetic handwriting, each a different text and writer), are sent by
``--concurrency`` client threads. Every answer must equal what ``transcribe_signal`` /
``recognize_strokes`` give for that request's input in this process (the NumPy engine); the
same inputs decoded one after another in this process are the reference the throughput is set
beside. Prints one JSON object: requests/s, p50 and p95 latency (overall and per endpoint),
the sequential library rate, their ratio, and how many answers were missing or wrong.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The reference decodes as the server (a command) does: with one BLAS thread (see
# lstmrec/cli/__init__.py), set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # the benchmark loads this machine only
MAX_REQUESTS = 1000
MAX_CONCURRENCY = 64
REQUEST_TIMEOUT_S = 300.0


def _inputs(args) -> list[dict]:
    """One dict per request: endpoint, body, content type, and the library's expected answer
    with its decoding time (the sequential reference: every input decoded one after another,
    after one warm-up call of each kind)."""
    import soundfile as sf

    from lstmrec.bundle import load_bundle
    from lstmrec.corpora.synth_ink import random_text, render_line, writer_style
    from lstmrec.features.errors import DataError
    from lstmrec.inference.recognize import recognize_strokes
    from lstmrec.inference.transcribe import AUDIO_EXTENSIONS, expand_inputs, transcribe_signal
    from lstmrec.shipped import resolve_model

    if not Path(args.audio).exists():
        raise DataError("no such file or directory", args.audio)
    files = expand_inputs([args.audio], extensions=AUDIO_EXTENSIONS)[: args.requests // 2 + 1]
    if not files:
        raise DataError("no audio files to send (pass --audio)", args.audio)
    speech = load_bundle(resolve_model(args.speech), engine="numpy")
    ink = load_bundle(resolve_model(args.ink), engine="numpy")
    rng = np.random.default_rng(7)
    out = []
    for i in range(args.requests):
        if i % 2 == 0:
            path = Path(files[(i // 2) % len(files)])
            name = f"{path.parent.name}_{path.name}"
            signal, rate = sf.read(path, dtype="float32")
            decode = functools.partial(transcribe_signal, speech, signal, rate, name=name)
            item = {"path": f"/v1/transcribe?name={name}", "body": path.read_bytes()}
            item["type"] = "application/octet-stream"
        else:
            text = random_text(rng, min_words=1, max_words=3)
            strokes = render_line(text, writer_style(100 + i), seed=i)
            name = f"line{i}"
            decode = functools.partial(recognize_strokes, ink, strokes, name=name)
            body = json.dumps({"strokes": [s.tolist() for s in strokes], "name": name}).encode()
            item = {"path": "/v1/recognize", "body": body, "type": "application/json"}
        out.append((item, decode))
    for _, decode in out[:2]:
        decode()  # warm-up
    for item, decode in out:
        start = time.perf_counter()
        item["expected"] = decode().to_dict()
        item["library_s"] = time.perf_counter() - start
    return [item for item, _ in out]


def _start_server(args) -> tuple[subprocess.Popen, str]:
    cmd = [
        sys.executable,
        "-m",
        "lstmrec",
        "serve",
        "--speech",
        args.speech,
        "--ink",
        args.ink,
        "--host",
        HOST,
        "--port",
        "0",
    ]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    if "the page is at " not in line:
        proc.kill()
        raise SystemExit(f"bench_serve: the server did not start: {line.strip()}")
    return proc, line.split("the page is at ")[1].split()[0].rstrip("/")


def _send(url: str, item: dict) -> tuple[float, dict | None, str]:
    """Latency (s), the answer (None on failure) and a failure reason."""
    request = urllib.request.Request(
        url + item["path"], data=item["body"], method="POST", headers={"Content-Type": item["type"]}
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as r:
            answer = json.load(r)
        return time.perf_counter() - start, answer, ""
    except (urllib.error.URLError, OSError, ValueError) as e:
        return time.perf_counter() - start, None, str(e)


def _percentiles(values: list[float]) -> dict:
    return {
        "p50_ms": round(1000 * float(np.percentile(values, 50)), 1),
        "p95_ms": round(1000 * float(np.percentile(values, 95)), 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--speech", default="en-phones", help="speech model (default: en-phones)")
    p.add_argument("--ink", required=True, help="handwriting model: bundle folder or name")
    p.add_argument(
        "--audio",
        default=str(REPO.parent / "shared/data/timit-sample/TIMIT/TRAIN"),
        help="folder of audio files to send (default: the TIMIT sample)",
    )
    p.add_argument("--requests", type=int, default=64, help="requests in all (default: 64)")
    p.add_argument("--concurrency", type=int, default=8, help="client threads (default: 8)")
    p.add_argument("--workers", type=int, help="the server's --workers (default: its own)")
    args = p.parse_args(argv)
    if not (2 <= args.requests <= MAX_REQUESTS and 1 <= args.concurrency <= MAX_CONCURRENCY):
        p.error(f"--requests 2..{MAX_REQUESTS}, --concurrency 1..{MAX_CONCURRENCY}")
    from lstmrec.features.errors import DataError

    try:
        items = _inputs(args)
    except DataError as e:  # a model, or the audio to send, that is not there
        print(f"bench_serve: {e}", file=sys.stderr)
        return 2
    proc, url = _start_server(args)
    try:
        for item in items[:2]:
            _send(url, item)  # warm-up, one of each kind
        with ThreadPoolExecutor(args.concurrency) as pool:
            start = time.perf_counter()
            results = list(pool.map(lambda item: _send(url, item), items))
            wall = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        proc.stderr.close()
    failed = [r[2] for r in results if r[1] is None]
    pairs = list(zip(results, items, strict=True))
    wrong = sum(r[1] is not None and r[1] != i["expected"] for r, i in pairs)
    library_s = sum(i["library_s"] for i in items)
    report = {
        "requests": len(items),
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(items) / wall, 2),
        "latency": _percentiles([r[0] for r in results]),
        "transcribe_latency": _percentiles([r[0] for r, i in pairs if "transcribe" in i["path"]]),
        "recognize_latency": _percentiles([r[0] for r, i in pairs if "recognize" in i["path"]]),
        "library_sequential_requests_per_s": round(len(items) / library_s, 2),
        "served_vs_library_ratio": round(library_s / wall, 3),
        "answered": len(items) - len(failed),
        "wrong_answers": wrong,
        "failures": failed[:5],
    }
    print(json.dumps(report, indent=2))
    return 0 if not failed and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
