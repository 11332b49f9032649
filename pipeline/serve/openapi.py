"""The OpenAPI 3.1 document of the server's API (``GET /openapi.json``), written out by hand:
the shapes are those of :meth:`lstmrec.inference.transcribe.Transcript.to_dict` and
:meth:`lstmrec.inference.recognize.Recognition.to_dict`, and the limits those the server was
started with. ``tests/test_serve.py`` checks each answer of the API against this document."""

from __future__ import annotations

from lstmrec import __version__
from lstmrec.serve.inputs import Limits

_NUMBER = {"type": "number"}
_STRING = {"type": "string"}
_POINT = {
    "type": "array",
    "items": {"type": ["number", "null"]},
    "minItems": 2,
    "maxItems": 3,
    "description": (
        "[x, y] or [x, y, t]: x right, y down (any unit), t in seconds or milliseconds (a"
        " median step of 1 or more between points means milliseconds), or null"
    ),
}
_STROKE_INDEX = {
    "type": "array",
    "items": {"type": "integer"},
    "minItems": 2,
    "maxItems": 2,
    "description": "(stroke, point): indices into the request's strokes",
}
_TIMED = {"start": _NUMBER, "end": _NUMBER}  # seconds, rounded to the millisecond
_NBEST = {
    "type": "array",
    "description": "the N-best list, when the model's decoding keeps more than one",
    "items": {"type": "object"},
}
_TEXT_NBEST = {
    "type": "array",
    "description": "the N-best list, best first: only when the model's own decoding settings "
    "keep more than one (its recipe's [decoding] nbest > 1), for ink of one line",
    "items": {
        "type": "object",
        "required": ["text", "score", "acoustic", "lm"],
        "properties": {
            "text": _STRING,
            "score": {"type": "number", "description": "acoustic + lm_weight * lm + bonus * n"},
            "acoustic": {"type": "number", "description": "natural log of the CTC probability"},
            "lm": {"type": "number", "description": "natural log of the LM's (0 without one)"},
        },
    },
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "the reason, in words"}},
    },
    "Transcript": {
        "type": "object",
        "description": "`lstmrec transcribe --format json`: phones (a phone model) or text, "
        "words and chars (a character model), with times in seconds",
        "required": ["id", "file", "duration"],
        "additionalProperties": False,
        "properties": {
            "id": _STRING,
            "file": {"type": "string", "description": "the uploaded file's name"},
            "duration": {"type": "number", "description": "seconds"},
            "phones": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["phone", "start", "end"],
                    "properties": {"phone": _STRING, **_TIMED},
                },
            },
            "text": _STRING,
            "words": {
                "type": "array",
                "items": {"type": "object", "properties": {"word": _STRING, **_TIMED}},
            },
            "chars": {
                "type": "array",
                "items": {"type": "object", "properties": {"char": _STRING, **_TIMED}},
            },
            "nbest": _NBEST,
            "picture_png": {
                "type": "string",
                "contentEncoding": "base64",
                "contentMediaType": "image/png",
                "description": "with ?picture=true: spectrogram, CTC posteriors and phones",
            },
        },
    },
    "Strokes": {
        "type": "object",
        "required": ["strokes"],
        "properties": {
            "strokes": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "array", "minItems": 1, "items": _POINT},
            },
            "name": {"type": "string", "description": "names the result (default: strokes)"},
        },
    },
    "Recognition": {
        "type": "object",
        "description": "`lstmrec recognize --format json`: text and each character's pen points",
        "required": ["id", "file", "text", "chars"],
        "additionalProperties": False,
        "properties": {
            "id": _STRING,
            "file": {"type": "string", "description": "the request's name"},
            "text": _STRING,
            "chars": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["char", "start", "end"],
                    "properties": {"char": _STRING, "start": _STROKE_INDEX, "end": _STROKE_INDEX},
                },
            },
            "lines": {
                "type": "array",
                "items": _STRING,
                "minItems": 2,
                "description": "ink written in several lines: each line's text, in writing "
                "order (the text is theirs, a space between them)",
            },
            "nbest": _TEXT_NBEST,
        },
    },
    "Models": {
        "type": "object",
        "required": ["speech", "ink", "limits"],
        "properties": {
            "speech": {"type": ["object", "null"]},
            "ink": {"type": ["object", "null"]},
            "limits": {"type": "object"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "models"],
        "properties": {"status": {"const": "ok"}, "models": {"type": "object"}},
    },
}


def _json(ref: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _errors(*codes: int) -> dict:
    reasons = {
        400: "bad input (the reason is named)",
        404: "no model of this kind is loaded",
        413: "over a limit",
    }
    return {str(c): {"description": reasons[c], "content": _json("Error")} for c in codes}


def _transcribe(limits: Limits) -> dict:
    audio = {"type": "string", "format": "binary"}
    return {
        "summary": "Phones with times of an audio file",
        "description": f"Any file libsndfile reads (WAV, FLAC, Ogg, SPHERE, MP3), at most "
        f"{limits.upload_bytes} bytes and {limits.audio_seconds:g} s. Sent as the field `file` "
        "of a multipart form, or as the raw body (named by `?name=`).",
        "parameters": [
            {
                "name": "picture",
                "in": "query",
                "schema": {"type": "boolean", "default": False},
                "description": "add the picture of `transcribe --plot` (picture_png): true, "
                "1, yes or on; false, 0, no or off (the default); any other value is refused "
                "(400)",
            },
            {
                "name": "name",
                "in": "query",
                "schema": _STRING,
                "description": "the file's name, for a raw body",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": audio}}
                },
                "application/octet-stream": {"schema": audio},
            },
        },
        "responses": {"200": {"description": "the transcript", "content": _json("Transcript")}}
        | _errors(400, 404, 413),
    }


def openapi_document(limits: Limits) -> dict:
    """The OpenAPI 3.1 document, with ``limits`` stated in the descriptions."""
    recognize = {
        "summary": "Text of pen strokes, with each character's pen points",
        "description": f"The JSON ink of the ink files: at most {limits.ink_bytes} bytes and "
        f"{limits.ink_points} points.",
        "requestBody": {"required": True, "content": _json("Strokes")},
        "responses": {"200": {"description": "the recognition", "content": _json("Recognition")}}
        | _errors(400, 404, 413),
    }

    def get(summary: str, ref: str) -> dict:
        ok = {"200": {"description": summary, "content": _json(ref)}}
        return {"get": {"summary": summary, "responses": ok}}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lstmrec",
            "version": __version__,
            "description": "BLSTM-CTC recognition of speech (phones) and pen strokes (text).",
        },
        "paths": {
            "/v1/transcribe": {"post": _transcribe(limits)},
            "/v1/recognize": {"post": recognize},
            "/v1/models": get("The loaded models and the limits", "Models"),
            "/healthz": get("The server is up", "Health"),
        },
        "components": {"schemas": SCHEMAS},
    }
