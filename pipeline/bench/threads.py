"""Thread limits shared by the peer benchmarks (``scripts/bench_ocr_peers.py``,
``scripts/peer_pocketsphinx.py``): both time our forward pass beside a peer that uses a set
number of threads, so BLAS must use the same number."""

from __future__ import annotations

import contextlib


def blas_threads(n: int | None):
    """A context that limits BLAS to ``n`` threads (threadpoolctl, when installed), and the
    limit in force (None: as the environment sets it)."""
    if n is None:
        return contextlib.nullcontext(), None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), None
    return threadpool_limits(limits=n, user_api="blas"), n
