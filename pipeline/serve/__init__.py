"""``lstmrec serve``: an HTTP server with a JSON API and a web page for pen and speech input.

- :mod:`lstmrec.serve.inputs`: what a request carries, read and checked (audio bytes, strokes
  as JSON) against the stated limits; the decoding and the transcription picture. No web
  framework here.
- :mod:`lstmrec.serve.app`: the Starlette application, :func:`lstmrec.serve.app.create_app`.
- :mod:`lstmrec.serve.openapi`: the OpenAPI document of the API, served at ``/openapi.json``.
- :mod:`lstmrec.serve.server`: running the application on uvicorn, in the foreground (the
  command) or in a thread (tests, benchmarks).

Starlette, uvicorn and python-multipart (``pip install 'lstmrec[serve]'``) are imported by
:mod:`~lstmrec.serve.app` and :mod:`~lstmrec.serve.server` only, so no other command loads them.
The page itself is ``lstmrec/resources/web/`` (HTML, JavaScript, CSS; no build step).
"""
