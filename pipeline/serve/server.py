"""Running the application on uvicorn: in the foreground (``lstmrec serve``) or in a thread
(the browser test, ``scripts/bench_serve.py``)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from lstmrec.features.errors import DataError

DEFAULT_HOST = "127.0.0.1"  # this machine only; 0.0.0.0 (every interface) is a choice to make
DEFAULT_PORT = 8000
START_TIMEOUT_S = 30.0
BACKLOG = 2048  # connections waiting to be accepted (uvicorn's default)


def _config(app, host: str, port: int, log_level: str) -> uvicorn.Config:
    # The process's own logging stays as it is (log_config=None would leave uvicorn silent).
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False)


def listening_socket(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A socket bound to ``host:port`` (``port`` 0: a free one); :class:`DataError` naming the
    address when it cannot be had (a port in use, an address not of this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as e:
        sock.close()
        reason = getattr(e, "strerror", None) or e
        raise DataError(f"cannot listen on {host}:{port} ({reason})") from None
    sock.listen(BACKLOG)  # from here on a client waits for the server rather than being refused
    return sock


def serve(app, sock: socket.socket, *, log_level: str = "info") -> None:
    """Serve ``app`` on the bound socket ``sock`` until interrupted (Ctrl-C)."""
    host, port = sock.getsockname()[:2]
    uvicorn.Server(_config(app, host, port, log_level)).run(sockets=[sock])


@contextlib.contextmanager
def running(app, *, host: str = DEFAULT_HOST, port: int = 0, log_level="warning") -> Iterator[str]:
    """Serve ``app`` in a thread while the block runs; yields its base URL
    (``http://127.0.0.1:PORT``). ``port=0`` takes a free port. The server is stopped and its
    thread joined on the way out."""
    sock = listening_socket(host, port)
    port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, host, port, log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{f'[{host}]' if ':' in host else host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        sock.close()
