"""``lstmrec serve``'s JSON API through Starlette's ASGI test client, on real data: a TIMIT
sample file and the session's tiny speech and ink bundles. Each answer must equal what the
library (``transcribe_signal``, ``recognize_strokes``) and the command line give for the same
input, and match the OpenAPI document; every refusal is a 4xx ``{"error": ...}`` naming the
reason, after which the server still answers; the command itself fails in one line."""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # the fixtures train through Keras

import base64
import io
import json
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import urllib.request

import jsonschema
import numpy as np
import pytest
import referencing
import soundfile as sf
from helpers import REPO, one_line, run, shared_data
from starlette.testclient import TestClient

from lstmrec.bundle import load_bundle
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.features.inkpage import typical_height
from lstmrec.inference.recognize import recognize_strokes
from lstmrec.inference.transcribe import transcribe_signal
from lstmrec.serve.app import create_app
from lstmrec.serve.inputs import Limits, parse_strokes, upload_name
from lstmrec.serve.openapi import openapi_document
from lstmrec.serve.server import running
from lstmrec.targets import SPACE

WAV = "timit-sample/TIMIT/TRAIN/DR2/FAEM0/SX312.WAV"  # NIST SPHERE, 16 kHz, 16 bit
ERROR_KEYS = {"error"}


@pytest.fixture(scope="module")
def wav():
    return shared_data(WAV)


@pytest.fixture(scope="module")
def ink_line(ink_run):
    """A held-out writer's line file of the tiny ink model's corpus, and its strokes."""
    corpus, _ = ink_run
    path = sorted((corpus / "lineStrokes" / "w02").rglob("*.xml"))[0]
    return path, read_ink_file(path)[0].strokes


@pytest.fixture(scope="module")
def client(speech_model, ink_run):
    app = create_app(speech=speech_model["bundle"], ink=ink_run[1])
    with TestClient(app) as c:
        yield c


def _validate(body: dict, schema: str) -> None:
    """``body`` against a schema of the server's OpenAPI document (JSON Schema 2020-12), which
    must name every field of it."""
    doc = openapi_document(Limits())
    unnamed = set(body) - set(doc["components"]["schemas"][schema]["properties"])
    assert not unnamed, f"{schema} does not name {unnamed}"
    resource = referencing.Resource.from_contents(
        doc, default_specification=referencing.jsonschema.DRAFT202012
    )
    registry = referencing.Registry().with_resource("urn:openapi", resource)
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"urn:openapi#/components/schemas/{schema}"}, registry=registry
    )
    validator.validate(body)


def _error(response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS and isinstance(body["error"], str)
    for word in words:
        assert word in body["error"], body["error"]
    _validate(body, "Error")
    return body["error"]


def _wav_bytes(seconds: float, rate: int = 16000) -> bytes:
    """A RIFF WAV of a 440 Hz tone, 16-bit mono."""
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Speech


def test_transcribe_equals_the_library_and_the_command(client, speech_model, wav, capsys):
    data = wav.read_bytes()
    got = client.post("/v1/transcribe", files={"file": ("SX312.WAV", data, "audio/x-wav")})
    assert got.status_code == 200, got.text
    bundle = load_bundle(speech_model["bundle"], engine="numpy")
    signal, rate = sf.read(wav, dtype="float32")
    expected = transcribe_signal(bundle, signal, rate, name="SX312.WAV").to_dict()
    assert got.json() == expected
    assert expected["duration"] == pytest.approx(len(signal) / 16000, abs=1e-4)
    _validate(got.json(), "Transcript")
    # The raw body, named by ?name=, gives the same answer.
    raw = client.post("/v1/transcribe?name=SX312.WAV", content=data)
    assert raw.json() == expected
    # And the command line on the file: the same phones and times.
    rc, out, err = run(
        capsys, "transcribe", "--model", speech_model["bundle"], wav, "--format", "json"
    )
    assert rc == 0, err
    cli = json.loads(out)
    assert {k: v for k, v in cli.items() if k not in ("id", "file")} == {
        k: v for k, v in expected.items() if k not in ("id", "file")
    }


def test_transcribe_with_the_shipped_model_gives_phones(wav):
    client = TestClient(create_app(speech="en-phones"))
    got = client.post("/v1/transcribe", files={"file": ("a.wav", wav.read_bytes())}).json()
    signal, rate = sf.read(wav, dtype="float32")
    bundle = load_bundle(client.app.state.models["speech"].path, engine="numpy")
    assert got == transcribe_signal(bundle, signal, rate, name="a.wav").to_dict()
    assert len(got["phones"]) > 10  # a real model hears a sentence's phones


def test_picture_is_the_png_and_nothing_stays_on_disk(client, wav, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a temporary folder goes
    files = {"file": ("SX312.WAV", wav.read_bytes())}
    plain = client.post("/v1/transcribe", files=files).json()
    with_picture = client.post("/v1/transcribe?picture=true", files=files).json()
    png = base64.b64decode(with_picture.pop("picture_png"))
    assert with_picture == plain
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (1200, 700)  # plot_transcription: 12 x 7 inches at 100 dpi
    assert list(tmp_path.iterdir()) == []  # the upload and picture were removed


def test_a_large_multipart_upload_stays_in_memory(client, monkeypatch):
    """Starlette spools a file over 1 MB to a temporary file; the server's parser does not."""

    def no_files(*args, **kwargs):
        raise AssertionError("an upload was written to a temporary file")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_files)
    data = _wav_bytes(50.0)  # 1.6 MB
    got = client.post("/v1/transcribe", files={"file": ("tone.wav", data)})
    assert got.status_code == 200, got.text
    assert got.json()["duration"] == pytest.approx(50.0)


def test_transcribe_refusals(client, wav):
    post = client.post
    _error(post("/v1/transcribe", content=b""), 400, "empty")
    _error(
        post("/v1/transcribe?name=x.wav", content=b"RIFF not really"),
        400,
        "x.wav",
        "not an audio file",
    )
    _error(post("/v1/transcribe", files={"file": ("n.wav", b"\x00" * 1000)}), 400, "n.wav")
    fields_only = b'--B\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--B--\r\n'
    multipart = {"Content-Type": "multipart/form-data; boundary=B"}
    _error(post("/v1/transcribe", content=fields_only, headers=multipart), 400, "one audio file")
    two = [("file", ("a.wav", b"1")), ("file", ("b.wav", b"2"))]
    _error(post("/v1/transcribe", files=two), 400, "Too many files")
    _error(
        post("/v1/transcribe", content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}),
        400,
        "multipart",
    )
    _error(post("/v1/transcribe", content=_wav_bytes(60.5)), 413, "60.5 s", "60 s")
    big = b"\x00" * (Limits().upload_bytes + 1)
    _error(post("/v1/transcribe", content=big), 413, "over the limit of 10485760")
    _error(post("/v1/transcribe", files={"file": ("big.wav", big)}), 413, "big.wav")
    _error(client.get("/v1/transcribe"), 405)
    _error(client.get("/v1/nothing"), 404)
    # A WAV header without samples: what the command line says of such a file.
    empty = _wav_bytes(0.0)
    assert _error(post("/v1/transcribe", content=empty), 400) == "upload: empty audio (0 samples)"


def test_picture_takes_true_or_false_only(client):
    tone = _wav_bytes(1.0)
    for value, picture in (("true", True), ("ON", True), ("1", True), ("false", False),
                           ("0", False), ("", False)):  # fmt: skip
        got = client.post(f"/v1/transcribe?picture={value}", content=tone)
        assert got.status_code == 200 and ("picture_png" in got.json()) == picture, value
    for value in ("maybe", "2", "truee"):
        error = _error(client.post(f"/v1/transcribe?picture={value}", content=tone), 400)
        assert error.startswith(f"?picture={value}: must be true or false"), error


@pytest.mark.parametrize(
    ("sent", "name"),
    [
        ("SX312.WAV", "SX312.WAV"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\my talk (1).wav", "my_talk__1_.wav"),
        ("..", "upload"),
        ("", "upload"),
        (None, "upload"),
        ("a" * 150 + ".wav", "a" * 96 + ".wav"),
    ],
)
def test_upload_names_never_leave_the_name(sent, name):
    assert upload_name(sent) == name


def test_limits_are_the_ones_given(speech_model, wav):
    client = TestClient(
        create_app(
            speech=speech_model["bundle"], limits=Limits(upload_bytes=200_000, audio_seconds=1.0)
        )
    )
    data = wav.read_bytes()  # 3.8 s, 122 kB
    _error(client.post("/v1/transcribe", content=data), 413, "3.8 s", "limit of 1 s")
    short = _wav_bytes(0.9)
    assert client.post("/v1/transcribe", content=short).status_code == 200
    _error(client.post("/v1/transcribe", content=b"\x00" * 200_001), 413, "200000")
    limits = client.get("/v1/models").json()["limits"]
    assert limits["upload_bytes"] == 200_000 and limits["audio_seconds"] == 1.0


# ---------------------------------------------------------------------------------------------
# Ink


def _strokes_json(strokes) -> list:
    return [[[float(v) for v in p] for p in s] for s in strokes]


def test_recognize_equals_the_library_and_the_command(client, ink_run, ink_line, capsys):
    path, strokes = ink_line
    got = client.post("/v1/recognize", json={"strokes": _strokes_json(strokes), "name": "line"})
    assert got.status_code == 200, got.text
    bundle = load_bundle(ink_run[1], engine="numpy")
    expected = recognize_strokes(bundle, strokes, name="line").to_dict()
    assert got.json() == expected
    _validate(got.json(), "Recognition")
    rc, out, err = run(capsys, "recognize", "--model", ink_run[1], path, "--format", "json")
    assert rc == 0, err
    cli = json.loads(out)
    assert (cli["text"], cli["chars"]) == (expected["text"], expected["chars"])
    # Points without times ([x, y] or t null) are ink too, as in the JSON ink files.
    xy = [[p[:2] for p in s] for s in _strokes_json(strokes)]
    untimed = [[[*p, None] for p in s] for s in xy]
    assert (
        client.post("/v1/recognize", json={"strokes": xy}).json()
        == client.post("/v1/recognize", json={"strokes": untimed}).json()
    )


def test_a_page_of_two_lines_answers_its_lines(client, ink_run, ink_line):
    _, strokes = ink_line
    drop = 2.5 * typical_height(strokes)  # the second line well below the first
    page = [*strokes, *(s + [0, drop, 0] for s in strokes)]
    got = client.post("/v1/recognize", json={"strokes": _strokes_json(page), "name": "page"})
    assert got.status_code == 200, got.text
    bundle = load_bundle(ink_run[1], engine="numpy")
    assert got.json() == recognize_strokes(bundle, page, name="page").to_dict()
    assert len(got.json()["lines"]) == 2
    _validate(got.json(), "Recognition")


def test_recognize_answers_the_nbest_its_models_decoding_keeps(ink_run, ink_line, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(ink_run[1], model)
    summary = json.loads((model / "summary.json").read_text())
    summary.setdefault("recipe", {})["decoding"] = {"beam": 8, "nbest": 3}
    (model / "summary.json").write_text(json.dumps(summary))
    _, strokes = ink_line
    with TestClient(create_app(ink=model)) as c:
        got = c.post("/v1/recognize", json={"strokes": _strokes_json(strokes)})
    assert got.status_code == 200, got.text
    assert len(got.json()["nbest"]) > 1
    _validate(got.json(), "Recognition")


def test_stroke_times_in_milliseconds_are_read_as_seconds_as_in_ink_files():
    ms = {"strokes": [[[0, 0, 1000], [1, 2, 1016], [3, 3, 1033]], [[5, 5, 1100], [6, 5, None]]]}
    strokes, name = parse_strokes(json.dumps(ms).encode(), Limits())
    assert name == "strokes"
    np.testing.assert_allclose(strokes[0], [[0, 0, 1.0], [1, 2, 1.016], [3, 3, 1.033]])
    np.testing.assert_allclose(strokes[1], [[5, 5, 1.1], [6, 5, np.nan]])
    seconds = {"strokes": [[[0, 0, 0.5], [1, 2, 0.516]]], "name": "s"}
    strokes, _ = parse_strokes(json.dumps(seconds).encode(), Limits())
    np.testing.assert_allclose(strokes[0][:, 2], [0.5, 0.516])


def test_recognize_refusals(client, ink_run, speech_model):
    def post(body):
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return client.post("/v1/recognize", content=content)

    _error(post(b"{not json"), 400, "not JSON")
    _error(post(b"\xff\xfe\x00"), 400, "not JSON")
    _error(post(b"[" * 100_000 + b"]" * 100_000), 400, "not JSON")
    _error(post([1, 2]), 400, "strokes")
    _error(post({"strokes": "abc"}), 400, "strokes")
    _error(post({"strokes": [[[1]]]}), 400, "[x, y] or [x, y, t]")
    _error(post({"strokes": [[1, 2]]}), 400, "lists of points")
    _error(post({"strokes": [[[True, False, 0], [6, 5, 0.01]]]}), 400, "true is not a number")
    _error(post({"strokes": [[["1", "2"], ["5", "6"]]]}), 400, '"1" is not a number')
    _error(post({"strokes": [[[0, 0, 0]]]}), 400, "single point")
    _error(post({"strokes": [[]]}), 400, "no points")
    _error(post(b'{"strokes": [[[NaN, 1], [2, 3]]]}'), 400, "NaN")
    _error(post({"strokes": [[[0, 0], [1, 1]]], "name": 3}), 400, "name")
    small = TestClient(create_app(ink=ink_run[1], limits=Limits(ink_bytes=200, ink_points=5)))
    many = {"strokes": [[[i, i] for i in range(6)]]}
    _error(small.post("/v1/recognize", json=many), 413, "6 pen points", "limit of 5")
    wide = {"strokes": [[[1000.123456 + i, 1.0] for i in range(4)]] * 4}
    _error(small.post("/v1/recognize", json=wide), 413, "limit of 200")
    speech_only = TestClient(create_app(speech=speech_model["bundle"]))
    _error(speech_only.post("/v1/recognize", json=many), 404, "no ink model", "--ink")
    ink_only = TestClient(create_app(ink=ink_run[1]))
    _error(ink_only.post("/v1/transcribe", content=b"x"), 404, "no speech model", "--speech")


# ---------------------------------------------------------------------------------------------
# The server as a whole


def test_models_health_page_and_openapi(client, speech_model):
    models = client.get("/v1/models").json()
    _validate(models, "Models")
    assert models["speech"]["path"] == str(speech_model["bundle"])
    assert (models["speech"]["unit"], models["ink"]["unit"]) == ("phones", "chars")
    assert models["ink"]["modality"] == "ink" and SPACE in models["ink"]["symbols"]
    assert client.get("/healthz").json() == {
        "status": "ok",
        "models": {"speech": True, "ink": True},
    }
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for ref in ("/app.js", "/style.css"):
        assert f'"{ref}"' in page.text and client.get(ref).status_code == 200
    assert "http" not in page.text.replace('href="/openapi.json"', "").split("<body>")[0]
    doc = client.get("/openapi.json").json()
    assert doc == openapi_document(Limits())
    routes = {r.path for r in client.app.routes} - {"/", "/app.js", "/style.css", "/openapi.json"}
    assert set(doc["paths"]) == routes
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_shipped_card_in_models():
    models = TestClient(create_app(speech="en-phones")).get("/v1/models").json()
    assert models["ink"] is None
    assert models["speech"]["card"]["name"] == "en-phones" and models["speech"]["kind"] == "ctc"


def test_a_real_server_survives_bad_input(speech_model, wav):
    """uvicorn on 127.0.0.1: garbage on the socket, a cut-off upload and bad audio, then a good
    request still gets its transcript."""
    app = create_app(speech=speech_model["bundle"])
    with running(app) as url:
        host, port = url.removeprefix("http://").split(":")
        for raw in (
            b"GARBAGE\r\n\r\n",
            b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nRIFF",
        ):
            with socket.create_connection((host, int(port)), timeout=10) as s:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
                s.recv(1000)
        bad = urllib.request.Request(f"{url}/v1/transcribe", data=b"\x01" * 5000, method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(bad, timeout=30)
        assert e.value.code == 400 and "not an audio file" in json.load(e.value)["error"]
        good = urllib.request.Request(
            f"{url}/v1/transcribe?name=SX312.WAV", data=wav.read_bytes(), method="POST"
        )
        with urllib.request.urlopen(good, timeout=60) as r:
            got = json.load(r)
    signal, rate = sf.read(wav, dtype="float32")
    bundle = load_bundle(speech_model["bundle"], engine="numpy")
    assert got == transcribe_signal(bundle, signal, rate, name="SX312.WAV").to_dict()


def test_command_refuses_in_one_line(capsys, ink_run, speech_model, tmp_path):
    rc, _, err = run(capsys, "serve", "--speech", tmp_path / "nothing")
    assert rc == 2 and "no model folder or shipped model named" in one_line(err)
    rc, _, err = run(capsys, "serve", "--speech", ink_run[1], "--ink", "none")
    assert rc == 2 and one_line(err) == (
        f"lstmrec: {ink_run[1]}: a handwriting model, not a speech model: serve it with --ink"
    )
    rc, _, err = run(capsys, "serve", "--speech", "none", "--ink", speech_model["bundle"])
    assert rc == 2 and one_line(err).endswith("a speech model, not a handwriting model: serve it "
                                              "with --speech")  # fmt: skip
    rc, _, err = run(capsys, "serve", "--speech", "none", "--ink", "none")
    assert rc == 2 and "no model to serve" in one_line(err)
    rc, _, err = run(capsys, "serve", "--workers", "0")
    assert rc == 2 and "--workers 0" in one_line(err)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rc, _, err = run(capsys, "serve", "--speech", speech_model["bundle"], "--port", port)
    assert rc == 2 and f"cannot listen on 127.0.0.1:{port}" in one_line(err)


def test_command_serves_until_interrupted(speech_model):
    """``python -m lstmrec serve --port 0`` in a fresh process: it names its address, answers,
    and stops with status 0 on SIGINT (Ctrl-C); the other commands never load the server."""
    command = ["serve", "--speech", str(speech_model["bundle"]), "--ink", "none", "--port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmrec", *command], cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stderr.readline()
        url = line.split("the page is at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}healthz", timeout=30) as r:
            assert json.load(r)["models"] == {"speech": True, "ink": False}
    finally:
        proc.send_signal(2)  # SIGINT
        assert proc.wait(timeout=30) == 0
        proc.stderr.close()
    code = (
        "import sys, lstmrec.cli.main as m; m.build_parser(); "
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'starlette', 'uvicorn'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
