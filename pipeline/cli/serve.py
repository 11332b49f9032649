"""The ``serve`` command: the HTTP server of :mod:`lstmrec.serve` (JSON API and web page).

Starlette and uvicorn are imported when the command runs, never by the other commands."""

from __future__ import annotations

import importlib.util
import sys

from lstmrec.features.errors import DataError
from lstmrec.serve.inputs import default_model

SERVE_MODULES = ("starlette", "uvicorn", "python_multipart")
NONE = "none"  # --speech none / --ink none: no model of that kind


def cmd_serve(args) -> int:
    missing = [m for m in SERVE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise DataError(f"serve needs {', '.join(missing)}: pip install 'lstmrec[serve]'")
    from lstmrec.serve.app import create_app
    from lstmrec.serve.server import listening_socket, serve

    if args.workers is not None and args.workers < 1:
        raise DataError(f"--workers {args.workers}: at least 1 decoding must run at once")
    speech, ink = _model_or_none(args.speech, "speech"), _model_or_none(args.ink, "ink")
    if speech is None and ink is None:
        raise DataError("no model to serve: give --speech MODEL or --ink MODEL")
    with listening_socket(args.host, args.port) as sock:  # a port in use fails before loading
        app = create_app(speech=speech, ink=ink, workers=args.workers)
        shown = "127.0.0.1" if args.host == "0.0.0.0" else args.host
        print(
            f"lstmrec serve: speech model {speech or NONE}, ink model {ink or NONE}; the page is "
            f"at http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(
                f"lstmrec serve: listening on {args.host}: reachable from other machines",
                file=sys.stderr,
            )
        try:
            serve(app, sock)
        except KeyboardInterrupt:  # uvicorn stops cleanly on Ctrl-C, then raises it again
            pass
    print("lstmrec serve: stopped", file=sys.stderr)
    return 0


def _model_or_none(value: str | None, role: str) -> str | None:
    """The model a flag names; without the flag, the role's default shipped model (None when
    it is not shipped); ``none``: None."""
    if value is None:
        return default_model(role)
    return None if value.lower() == NONE else value


def add_serve_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="HTTP server: JSON API and a web page to write with a pen or speak"
    )
    p.add_argument(
        "--speech",
        metavar="NAME|DIR",
        help="speech model: bundle folder or shipped model name (lstmrec models), or none "
        "(default: the shipped en-phones)",
    )
    p.add_argument(
        "--ink",
        metavar="NAME|DIR",
        help="handwriting model: bundle folder or shipped model name, or none (default: the "
        "shipped en-ink when there is one, else none)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 serves "
        "every network interface, a deliberate choice: see docs/serve.md)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free)")
    p.add_argument("--workers", type=int, help="decodings at once (default: the number of CPUs)")
    p.set_defaults(func=cmd_serve)
