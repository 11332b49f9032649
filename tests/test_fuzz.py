"""Fuzzing every reader of user files: generated and mutated inputs give a result or a
DataError, never another exception, within ``MAX_MB`` of allocations and ``DEADLINE`` per input.

Each parser starts from a real small file (written by the project's own writers or taken from
the bundled TIMIT sample) and gets it back with bytes flipped, inserted, deleted or cut, or gets
inputs generated from scratch (JSON values, TOML overrides, manifest fields). A short run is part
of ``make test``; ``make fuzz`` (``LSTMREC_FUZZ=long``) runs many more examples per parser
(docs/robustness.md).
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import io
import json
import shutil
import tempfile
import tracemalloc
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import scipy.signal  # noqa: F401  (imported here: its seconds of import are no reader's time)
import soundfile as sf
from helpers import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmrec.bundle import load_bundle, read_bundle_meta
from lstmrec.config import load_recipe
from lstmrec.features.audio import load_audio
from lstmrec.features.errors import DataError
from lstmrec.features.ink import InkFeatureConfig, ink_features
from lstmrec.features.inkfiles import (
    InkSample,
    read_ink_file,
    write_iam_ondb_strokes,
    write_ink_json,
    write_inkml,
    write_stroke3,
)
from lstmrec.inference.lm_files import read_arpa, read_lexicon, train_ngram, write_arpa
from lstmrec.manifest import read_manifest

MAX_MB = 256  # peak Python/NumPy allocations while one input is read
DEADLINE = timedelta(seconds=10)  # per input

settings.register_profile(
    "short",
    max_examples=15,
    deadline=DEADLINE,
    database=None,  # no example folder in the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=DEADLINE,
    database=None,  # no example folder in the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("LSTMREC_FUZZ", "short")
settings.load_profile(PROFILE)

SPHERE = REPO / "data" / "timit-demo" / "TIMIT" / "TRAIN" / "DR1" / "FVMH0" / "SA1.WAV"


def result_or_data_error(fn, *args):
    """Call ``fn``; a DataError is fine, any other exception fails; so does > ``MAX_MB``."""
    tracemalloc.start()
    try:
        try:
            fn(*args)
        except DataError as e:
            assert "\n" not in str(e).strip(), f"a DataError of several lines: {e}"
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert peak < MAX_MB, f"{fn.__name__} allocated {peak:.0f} MB"


# Mutations of a seed file: flip, insert, delete bytes, or cut it; mostly near the start, where
# the headers are.
@st.composite
def mutated(draw, seed: bytes, head: int = 512):
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        limit = min(len(data), head) if draw(st.booleans()) else len(data)
        pos = draw(st.integers(0, max(0, limit - 1)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "digits"]))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == "cut":
            del data[pos:]
        else:  # a number made huge: the overflow cases
            data[pos:pos] = draw(st.sampled_from([b"9" * 400, b"1e308", b"-1e999", b"nan"]))
    return bytes(data)


def scratch(name: str, data: bytes) -> Path:
    """``data`` written to a fresh file ``name`` (removed with its folder at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="lstmrec-fuzz-"))
    path = folder / name
    path.write_bytes(data)
    return path


def cleanup(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)


def seed_bytes(writer, name: str, *args) -> bytes:
    folder = Path(tempfile.mkdtemp(prefix="lstmrec-fuzz-seed-"))
    try:
        writer(folder / name, *args)
        return (folder / name).read_bytes()
    finally:
        shutil.rmtree(folder)


# ---------------------------------------------------------------------------------------------
# Audio: WAV, FLAC, SPHERE through the loader


def _audio_seed(fmt: str) -> bytes:
    buf = io.BytesIO()
    tone = (np.sin(np.arange(800) / 5) * 0.3).astype(np.float32)
    sf.write(buf, tone, 16000, format=fmt, subtype="PCM_16")
    return buf.getvalue()


AUDIO_SEEDS = {
    "a.wav": _audio_seed("WAV"),
    "a.flac": _audio_seed("FLAC"),
    "a.sph": SPHERE.read_bytes()[:1024] + SPHERE.read_bytes()[1024:3024],
}


@pytest.mark.parametrize("name", sorted(AUDIO_SEEDS))
def test_fuzz_audio(name):
    @given(mutated(AUDIO_SEEDS[name], head=1100))
    def check(data):
        path = scratch(name, data)
        try:
            result_or_data_error(load_audio, path)
        finally:
            cleanup(path)

    check()


# ---------------------------------------------------------------------------------------------
# Ink: IAM-OnDB XML, InkML, JSON / NDJSON, stroke-3


def _strokes() -> tuple[np.ndarray, ...]:
    t = np.linspace(0, 1, 12)
    return (
        np.stack([t * 100, np.sin(t * 6) * 20 + 50, t], axis=1),
        np.stack([t * 80 + 120, np.cos(t * 5) * 25 + 50, t + 1], axis=1),
    )


SAMPLE = InkSample("a", _strokes(), "hi", "w1")
INK_SEEDS = {
    "a.xml": seed_bytes(write_iam_ondb_strokes, "a.xml", SAMPLE.strokes),
    "a.inkml": seed_bytes(write_inkml, "a.inkml", [SAMPLE]),
    "a.json": seed_bytes(write_ink_json, "a.json", [SAMPLE]),
    "a.ndjson": seed_bytes(write_ink_json, "a.ndjson", [SAMPLE, SAMPLE]),
    "a.npy": seed_bytes(write_stroke3, "a.npy", SAMPLE),
    "a.npz": seed_bytes(write_stroke3, "a.npz", SAMPLE),
}


def read_and_featurize(path: Path) -> None:
    for sample in read_ink_file(path):
        ink_features(sample.strokes, InkFeatureConfig())


@pytest.mark.parametrize("name", sorted(INK_SEEDS))
def test_fuzz_ink_files(name):
    @given(mutated(INK_SEEDS[name], head=4096))
    def check(data):
        path = scratch(name, data)
        try:
            result_or_data_error(read_and_featurize, path)
        finally:
            cleanup(path)

    check()


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=40,
)
POINTS = st.lists(
    st.lists(st.floats(allow_nan=False, width=64) | st.integers(-(10**30), 10**30), max_size=4),
    max_size=12,
)


@given(
    st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"strokes": st.lists(POINTS, max_size=4)}, optional={"text": JSON_VALUES}
        ),
    )
)
def test_fuzz_ink_json_generated(value):
    path = scratch("g.json", json.dumps(value).encode())
    try:
        result_or_data_error(read_and_featurize, path)
    finally:
        cleanup(path)


# ---------------------------------------------------------------------------------------------
# ARPA language models and lexicons

ARPA_SEED = seed_bytes(
    lambda path, model: write_arpa(model, path),
    "lm.arpa",
    train_ngram([["a", "b", "a"], ["b", "c"], ["a", "c", "c"]], 3),
)


@given(mutated(ARPA_SEED, head=len(ARPA_SEED)))
def test_fuzz_arpa(data):
    path = scratch("lm.arpa", data)
    try:
        result_or_data_error(read_arpa, path)
    finally:
        cleanup(path)


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzz_lexicon(data):
    path = scratch("words.txt", data)
    try:
        result_or_data_error(read_lexicon, path)
    finally:
        cleanup(path)


# ---------------------------------------------------------------------------------------------
# JSONL manifests and TOML recipes

MANIFEST_FIELDS = st.fixed_dictionaries(
    {"id": JSON_VALUES, "audio": JSON_VALUES},
    optional={
        k: JSON_VALUES for k in ("speaker", "phones", "phone_times", "text", "duration", "split")
    },
)


@given(st.lists(MANIFEST_FIELDS | JSON_VALUES, min_size=1, max_size=3))
def test_fuzz_manifest_generated(records):
    lines = "\n".join(json.dumps(r) for r in records) + "\n"
    path = scratch("m.jsonl", lines.encode())
    try:
        result_or_data_error(read_manifest, path)
    finally:
        cleanup(path)


RECIPE = (REPO / "configs" / "demo.toml").read_bytes()
FIELDS = [
    f"{table}.{field}"
    for table, fields in load_recipe(REPO / "configs" / "demo.toml").to_dict().items()
    for field in fields
]
TOML_VALUES = st.sampled_from(
    ["inf", "nan", "-1", "0", "1e308", "9" * 400, "2147483648", '"x"', "true", "[1, 2]", "{a=1}"]
)


@given(mutated(RECIPE, head=len(RECIPE)))
def test_fuzz_recipe_bytes(data):
    path = scratch("r.toml", data)
    try:
        result_or_data_error(load_recipe, path)
    finally:
        cleanup(path)


@given(st.lists(st.tuples(st.sampled_from(FIELDS), TOML_VALUES), min_size=1, max_size=3))
def test_fuzz_recipe_overrides(pairs):
    result_or_data_error(load_recipe, None, [f"{k}={v}" for k, v in pairs])


# ---------------------------------------------------------------------------------------------
# Bundle files: features.json, summary.json, symbols.txt, cmvn.npz


@pytest.fixture(scope="module")
def bundle_dir(speech_model):
    return speech_model["bundle"]


@pytest.mark.parametrize("name", ["features.json", "summary.json", "symbols.txt", "cmvn.npz"])
def test_fuzz_bundle_files(bundle_dir, name):
    seed = (bundle_dir / name).read_bytes()

    @given(mutated(seed, head=len(seed)))
    def check(data):
        folder = Path(tempfile.mkdtemp(prefix="lstmrec-fuzz-bundle-"))
        try:
            copy = folder / "model"
            shutil.copytree(bundle_dir, copy)
            (copy / name).write_bytes(data)
            result_or_data_error(read_bundle_meta, copy)
            result_or_data_error(lambda p: load_bundle(p, engine="numpy"), copy)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    check()
