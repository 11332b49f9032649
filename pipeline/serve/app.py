"""The Starlette application of ``lstmrec serve``: the JSON API and the page.

- ``GET /``: the page (``lstmrec/resources/web/``): pen canvas, microphone, file picker.
- ``POST /v1/transcribe``: an audio file (multipart field ``file``, or the raw body) -> phones
  with times, the JSON of ``transcribe --format json``; ``?picture=true`` adds the picture of
  ``transcribe --plot`` as base64 PNG (``picture_png``); a value other than true or false
  (:data:`TRUE`, :data:`FALSE`) is refused.
- ``POST /v1/recognize``: ``{"strokes": [[[x, y, t], ...], ...]}`` -> text with each
  character's span of pen points, the JSON of ``recognize --format json``.
- ``GET /v1/models`` (the loaded models and the limits), ``GET /healthz``, ``GET /openapi.json``
  (the OpenAPI document of all of this).

Every refusal is a 4xx answer ``{"error": "..."}`` naming the reason: 400 bad input (not audio,
bad strokes, bad form), 404 no model of that kind loaded (or no such path), 405 wrong method, 413
over a limit of :class:`lstmrec.serve.inputs.Limits`; a fault of the server's own is a 500 in
the same shape. Request bodies are read into memory up to their limit and no further; decoding
runs in worker threads (at most ``workers`` at once), so the server keeps answering while it
decodes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lstmrec.features.errors import DataError
from lstmrec.serve.inputs import (
    ROLES,
    Limits,
    Model,
    RequestError,
    load_model,
    recognize_request,
    transcribe_upload,
    upload_name,
)
from lstmrec.serve.openapi import openapi_document

WEB_DIR = Path(__file__).resolve().parents[1] / "resources" / "web"
PAGE_FILES = {  # path: (file in WEB_DIR, media type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
# The page loads nothing from elsewhere; pictures come as data: URLs, recordings as blob: URLs.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' blob:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
MULTIPART_OVERHEAD = 64 * 1024  # bytes of a multipart body besides its file: boundaries, headers
MAX_FORM_FIELD = 4096  # bytes of a form field that is not a file
TRUE = ("true", "1", "yes", "on")  # the values of a yes-or-no query parameter, any case
FALSE = ("", "false", "0", "no", "off")  # "": given without a value


def create_app(
    speech: str | os.PathLike | Model | None = None,
    ink: str | os.PathLike | Model | None = None,
    *,
    limits: Limits | None = None,
    workers: int | None = None,
) -> Starlette:
    """The application, with its models loaded once, here: ``speech`` and ``ink`` are each a
    bundle folder, a shipped model's name, a :class:`~lstmrec.serve.inputs.Model`, or None
    (no model of that kind: its endpoint answers 404). ``limits``: what a request may carry
    (default: :class:`~lstmrec.serve.inputs.Limits`). ``workers``: decodings at once (default:
    the number of CPUs). Raises :class:`DataError` for a model that cannot be used."""
    limits = limits or Limits()
    models = {}
    for role, given in zip(ROLES, (speech, ink), strict=True):
        models[role] = (
            given if isinstance(given, Model) or given is None else load_model(given, role)
        )
    app = Starlette(
        routes=[
            *(Route(path, _page, methods=["GET"]) for path in PAGE_FILES),
            Route("/healthz", _healthz, methods=["GET"]),
            Route("/openapi.json", _openapi, methods=["GET"]),
            Route("/v1/models", _models, methods=["GET"]),
            Route("/v1/transcribe", _transcribe, methods=["POST"]),
            Route("/v1/recognize", _recognize, methods=["POST"]),
        ],
        exception_handlers={
            RequestError: _request_error,
            DataError: _data_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.models = models
    app.state.limits = limits
    app.state.limiter = anyio.CapacityLimiter(workers or os.cpu_count() or 1)
    app.state.pages = {p: (WEB_DIR / f).read_bytes() for p, (f, _) in PAGE_FILES.items()}
    app.state.model_info = {r: m.to_dict() if m else None for r, m in models.items()}
    app.state.openapi = openapi_document(limits)
    return app


# ---------------------------------------------------------------------------------------------
# Endpoints


async def _page(request: Request) -> Response:
    path = request.url.path
    return Response(
        request.app.state.pages[path], media_type=PAGE_FILES[path][1], headers=PAGE_HEADERS
    )


async def _healthz(request: Request) -> JSONResponse:
    models = request.app.state.models
    return JSONResponse({"status": "ok", "models": {r: m is not None for r, m in models.items()}})


async def _openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.state.openapi)


async def _models(request: Request) -> JSONResponse:
    state = request.app.state
    return JSONResponse({**state.model_info, "limits": state.limits.to_dict()})


async def _transcribe(request: Request) -> JSONResponse:
    model = _model(request, "speech")
    picture = _yes_or_no(request, "picture")  # a bad parameter is refused before the upload
    limits = request.app.state.limits
    data, name = await _audio_upload(request, limits)
    work = functools.partial(transcribe_upload, model, data, name, limits, picture=picture)
    return JSONResponse(await _decode(request, work))


async def _recognize(request: Request) -> JSONResponse:
    model = _model(request, "ink")
    limits = request.app.state.limits
    body = await _read_body(request, limits.ink_bytes)
    work = functools.partial(recognize_request, model, body, limits)
    return JSONResponse(await _decode(request, work))


def _yes_or_no(request: Request, name: str) -> bool:
    """A yes-or-no query parameter: one of :data:`TRUE` or :data:`FALSE` (absent: no);
    :class:`DataError` (400) for any other value."""
    value = request.query_params.get(name, "")
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    choices = f"{', '.join(TRUE)}; {', '.join(FALSE[1:])}"
    raise DataError(f"?{name}={value}: must be true or false ({choices})")


def _model(request: Request, role: str) -> Model:
    model = request.app.state.models[role]
    if model is None:
        flag = "--speech" if role == "speech" else "--ink"
        raise RequestError(404, f"no {role} model is loaded (start the server with {flag} MODEL)")
    return model


async def _decode(request: Request, work):
    """``work()`` in a worker thread, at most ``workers`` at once: the event loop stays free."""
    return await anyio.to_thread.run_sync(work, limiter=request.app.state.limiter)


# ---------------------------------------------------------------------------------------------
# Request bodies, read up to their limit and no further


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, in memory; :class:`RequestError` (413) as soon as it is over
    ``limit`` bytes (by its Content-Length, else by what has arrived)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"the body of {declared} bytes is over the limit of {limit}")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"the body is over the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # nobody is left to answer; the server goes on
        raise RequestError(400, "the request body was cut off") from None
    return b"".join(chunks)


async def _audio_upload(request: Request, limits: Limits) -> tuple[bytes, str]:
    """The uploaded audio file's bytes and name: the one file of a multipart form (any field
    name; ``file`` in the documents), else the raw body, named by ``?name=``."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        body = await _read_body(request, limits.upload_bytes)
        return body, upload_name(request.query_params.get("name"))
    body = await _read_body(request, limits.upload_bytes + MULTIPART_OVERHEAD)
    form = await _parse_form(request.headers, body)
    try:
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        if len(files) != 1:
            raise DataError('expected one audio file, in the form field "file"')
        data = await files[0].read()
        name = upload_name(files[0].filename)
    finally:
        await form.close()
    if len(data) > limits.upload_bytes:
        raise RequestError(
            413, f"{name}: {len(data)} bytes, over the limit of {limits.upload_bytes}"
        )
    return data, name


class _InMemoryParser(MultiPartParser):
    """Starlette's multipart parser fed from a body already in memory, with a spool larger
    than that body: an uploaded file never rolls over to a temporary file on disk."""

    def __init__(self, headers: Headers, body: bytes) -> None:
        super().__init__(
            headers, _chunks(body), max_files=1, max_fields=8, max_part_size=MAX_FORM_FIELD
        )
        self.spool_max_size = len(body) + 1


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def _parse_form(headers: Headers, body: bytes):
    try:
        return await _InMemoryParser(headers, body).parse()
    except MultiPartException as e:
        raise DataError(f"bad multipart form: {e.message}") from None
    except KeyError:  # no Content-Type boundary parameter at all
        raise DataError("bad multipart form: no boundary") from None


# ---------------------------------------------------------------------------------------------
# Errors: one JSON shape, {"error": "..."}


async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
    return JSONResponse({"error": exc.reason}, status_code=exc.status)


async def _data_error(request: Request, exc: DataError) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """A fault of the server's own (logged by uvicorn with its traceback), in the same shape."""
    return JSONResponse({"error": f"internal error ({type(exc).__name__})"}, status_code=500)
