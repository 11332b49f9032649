"""Streaming transcription: forward-only models, the incremental NumPy engine, streaming
features and decoding, ``transcribe --stream`` and the latency bench's arithmetic.

The forward models are checked against Keras on every cell with random weights; the streaming
pieces against their whole-utterance counterparts (features bit for bit on real TIMIT audio
cut at random, logits to float32 round-off, tokens exactly); the command line against
``transcribe --beam 0`` with a tiny forward model trained in this session.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import contextlib
import io
import json
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from helpers import REPO, TEST_FILE, one_line, random_model, run, shared_data, train_args

from lstmrec.bench.stream import StreamTiming, lookahead_s, reference_latency_s, time_stream
from lstmrec.bundle import load_bundle
from lstmrec.cli.main import main
from lstmrec.cli.stream import _print_phone as print_phone
from lstmrec.config import load_recipe
from lstmrec.features.audio import FeatureConfig, extract, load_audio
from lstmrec.features.audiostream import raw_pcm_source, wav_stream_source
from lstmrec.features.errors import DataError
from lstmrec.features.stream import FeatureStream, ready_samples
from lstmrec.inference.stream import paced
from lstmrec.inference.transcribe import TimedPhone
from lstmrec.models.cells import CELLS
from lstmrec.models.decoding import Token, greedy_decode
from lstmrec.models.numpy_blstm import UnsupportedModel, load_numpy_model
from lstmrec.models.numpy_stream import GreedyStream, IncrementalModel, is_causal

TOL = 1e-5
OLD_BIDI = REPO / "tests" / "data" / "bundles-0.1" / "speech"  # a bidirectional bundle
SAMPLE = "timit-sample"


def sample_wav(speaker: str = "DR1/FVMH0", utt: str = "SA1") -> str:
    return str(shared_data(SAMPLE) / "TIMIT" / "TRAIN" / speaker / f"{utt}.WAV")


def chunks(n: int, rng, high: int):
    """Random cut points of ``range(n)``: ``(start, stop)`` pieces of 1 to ``high`` items."""
    start = 0
    while start < n:
        stop = min(n, start + int(rng.integers(1, high + 1)))
        yield start, stop
        start = stop


# ---------------------------------------------------------------------------------------------
# Forward-only models: Keras, the NumPy engine, the incremental engine


@pytest.mark.parametrize("cell", CELLS)
def test_forward_model_numpy_and_incremental_match_keras(cell, tmp_path):
    model = random_model(cell, direction="forward", seed=len(cell) + 7)
    assert [layer.name for layer in model.layers if "forward" in layer.name] == [
        "forward_1",
        "forward_2",
    ]
    model.save(tmp_path / "model.keras")
    engine = load_numpy_model(tmp_path / "model.keras")
    assert is_causal(engine)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 16, 7)).astype(np.float32)
    lengths = np.array([16, 5, 1], dtype=np.int32)
    x[np.arange(16)[None, :] >= lengths[:, None]] = 0.0
    want = np.asarray(model.predict_on_batch([x, lengths]))
    got = engine.predict_on_batch([x, lengths])
    for b, n in enumerate(lengths):
        assert np.abs(got[b, :n] - want[b, :n]).max() < TOL, (cell, b)
    # Causal: what follows frame 8 does not change the logits up to it.
    changed = x.copy()
    changed[0, 9:] = rng.normal(size=(7, 7))
    later = np.asarray(model.predict_on_batch([changed, lengths]))
    assert np.abs(later[0, :9] - want[0, :9]).max() < TOL
    assert np.abs(later[0, 9:] - want[0, 9:]).max() > 1e-3
    # Fed in random pieces, the state carried over: the whole-utterance logits.
    for trial in range(3):
        stream = IncrementalModel(engine)
        pieces = [stream(x[0, a:b]) for a, b in chunks(16, rng, 5)]
        assert np.abs(np.concatenate(pieces) - got[0]).max() < TOL, (cell, trial)
    assert np.ptp(got[0], axis=0).max() > 0.1  # the logits move: the recurrence is there


def test_bidirectional_model_does_not_stream():
    bidi = load_bundle(OLD_BIDI, engine="numpy").model
    assert not is_causal(bidi)
    with pytest.raises(UnsupportedModel, match="bidirectional model cannot stream"):
        IncrementalModel(bidi)


def test_direction_in_the_recipe():
    assert load_recipe(None).model.direction == "bidirectional"
    assert load_recipe(None, ['model.direction="forward"']).model.direction == "forward"
    with pytest.raises(DataError, match="direction='sideways' must be"):
        load_recipe(None, ["model.direction=sideways"])
    with pytest.raises(DataError, match="direction='forward' needs kind='ctc'"):
        load_recipe(None, ["model.direction=forward", "model.kind=transducer"])
    from lstmrec.config import DIRECTIONS
    from lstmrec.models.blstm import DIRECTIONS as MODEL_DIRECTIONS

    assert DIRECTIONS == MODEL_DIRECTIONS


# ---------------------------------------------------------------------------------------------
# Best-path decoding as the logits arrive


def test_greedy_stream_hand_computed():
    # best path: a a - a b b - -  (a=1, b=2): tokens a [0,3), a [3,4), b at 4, ending its run
    best = [1, 1, 0, 1, 2, 2, 0, 0]
    logits = np.eye(3)[best]
    stream = GreedyStream()
    out = stream.push(logits[:3]) + stream.push(logits[3:5])
    assert out == [Token(1, 0, 3), Token(1, 3, 4)]  # the second a is final once b starts
    assert stream.push(logits[5:]) == []
    assert stream.finish() == [Token(2, 4, 6)]


def test_greedy_stream_equals_greedy_decode():
    rng = np.random.default_rng(3)
    for _ in range(20):
        path = rng.integers(0, 4, size=60)
        path[rng.random(60) < 0.5] = 0
        logits = rng.normal(size=(60, 4)) + 5 * np.eye(4)[path]
        stream = GreedyStream()
        got = [t for a, b in chunks(60, rng, 7) for t in stream.push(logits[a:b])]
        assert got + stream.finish() == greedy_decode(logits)


# ---------------------------------------------------------------------------------------------
# Streaming features


@pytest.mark.shared_data(SAMPLE)
@pytest.mark.parametrize(
    "config",
    [FeatureConfig(), FeatureConfig(kind="mfcc", delta_width=3), FeatureConfig(stack=3)],
    ids=["fbank", "mfcc", "stack3"],
)
def test_feature_stream_is_the_whole_file_bit_for_bit(config):
    signal = load_audio(sample_wav(), sample_rate=config.sample_rate)
    want = extract(signal, config)
    rng = np.random.default_rng(5)
    for high in (40, 700, 5000):
        stream = FeatureStream(config)
        got = [stream.push(signal[a:b]) for a, b in chunks(len(signal), rng, high)]
        got = np.concatenate([*got, stream.finish()])
        assert got.dtype == np.float32 and np.array_equal(got, want), high


@pytest.mark.shared_data(SAMPLE)
def test_feature_stream_gives_each_frame_as_soon_as_its_audio_is_in():
    config = FeatureConfig(stack=2)  # window 400, hop 160, deltas 2 x 2, pairs of frames
    assert ready_samples(0, config) == (0 + 1 + 4) * 160 + 400
    signal = load_audio(sample_wav(utt="SA2"))
    for row in (0, 7, 50):
        need = ready_samples(row, config)
        stream = FeatureStream(config)
        stream.push(signal[: need - 1])
        assert stream.frames_out == row  # one sample short: row `row` is not out
        stream.push(signal[need - 1 : need])
        assert stream.frames_out == row + 1


def test_feature_stream_of_too_little_audio():
    stream = FeatureStream(FeatureConfig())
    assert stream.push(np.zeros(399, np.float32)).shape == (0, 123)
    assert stream.finish().shape == (0, 123)


# ---------------------------------------------------------------------------------------------
# Audio as it arrives


class Trickle(io.RawIOBase):
    """A stream that gives at most a few bytes a read, like a pipe from a recorder."""

    def __init__(self, data: bytes, seed: int = 0) -> None:
        self.data, self.pos, self.rng = data, 0, np.random.default_rng(seed)

    def readable(self):
        return True

    def read1(self, n=-1):
        k = min(int(self.rng.integers(1, 37)), n if n > 0 else 36)
        out = self.data[self.pos : self.pos + k]
        self.pos += len(out)
        return out

    read = read1


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "PCM_U8", "FLOAT", "DOUBLE"])
def test_wav_stream_gives_the_samples_libsndfile_reads(subtype):
    rng = np.random.default_rng(4)
    x = np.clip(rng.normal(size=(3001, 2)) * 0.3, -1, 1)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="WAV", subtype=subtype)
    want = sf.read(io.BytesIO(buf.getvalue()), dtype="float32")[0].mean(axis=1, dtype=np.float32)
    source = wav_stream_source(Trickle(buf.getvalue()))
    assert source.sample_rate == 16000 and source.channels == 2
    assert np.array_equal(np.concatenate(list(source.blocks())), want)


def test_raw_pcm_and_bad_wav_streams():
    pcm = np.array([0, 1, -1, 32767, -32768], dtype="<i2")
    got = np.concatenate(list(raw_pcm_source(Trickle(pcm.tobytes() + b"\x07"), sample_rate=8000)
                              .blocks()))  # fmt: skip
    assert got.tolist() == [0.0, 2**-15, -(2**-15), 32767 / 32768, -1.0]  # odd byte dropped
    for data, reason in [
        (b"", "the stream is empty"),
        (b"RIFX\x00\x00\x00\x00WAVE", "not a RIFF WAV stream"),
        (b"RIFF\x24\x00", "ends in its RIFF header"),
        (b"RIFF\x24\x00\x00\x00WAVEdata\x00\x00\x00\x00", "without a 'fmt ' chunk"),
    ]:
        with pytest.raises(DataError, match=reason):
            list(wav_stream_source(io.BytesIO(data)).blocks())


def test_paced_releases_each_block_once_recorded():
    now, released = [100.0], []

    def sleep(seconds):
        assert seconds > 0
        now[0] += seconds

    blocks = [np.zeros(n, np.float32) for n in (1600, 800, 3200)]  # 0.1, 0.05, 0.2 s at 16 kHz
    for _ in paced(blocks, 16000, clock=lambda: now[0], sleep=sleep):
        released.append(round(now[0] - 100.0, 6))
        now[0] += 0.01  # the work on a block takes 10 ms
    assert released == [0.1, 0.15, 0.35]


# ---------------------------------------------------------------------------------------------
# A tiny forward model trained in this session, and the command line


@pytest.fixture(scope="module")
def forward_model(tmp_path_factory, speech_corpus):
    out = tmp_path_factory.mktemp("forward") / "run"
    args = train_args(
        speech_corpus["root"],
        out,
        "--set",
        'model.direction="forward"',
        test_list=speech_corpus["test_list"],
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main([str(a) for a in args]) == 0
    return out / "model"


def test_trained_forward_bundle(forward_model):
    bundle = load_bundle(forward_model, engine="keras")
    assert bundle.summary["recipe"]["model"]["direction"] == "forward"
    names = [type(layer).__name__ for layer in bundle.model.layers]
    assert "LengthAwareForward" in names and "LengthAwareBidirectional" not in names
    assert is_causal(load_bundle(forward_model, engine="numpy").model)


def held_out(speech_corpus) -> str:
    return str(speech_corpus["test_dir"] / f"{TEST_FILE}.WAV")


@pytest.mark.shared_data(SAMPLE)
def test_stream_equals_greedy_transcribe(forward_model, speech_corpus, capsys):
    for path in (held_out(speech_corpus), sample_wav("DR4/MAEB0", "SI1411")):
        ctm = ["--format", "ctm", "--ctm-silence", "keep", "--model", forward_model, path]
        rc, want, err = run(capsys, "transcribe", "--beam", "0", *ctm)
        assert rc == 0, err
        rc, got, err = run(capsys, "transcribe", "--stream", "--no-realtime", *ctm)
        assert rc == 0, err
        assert got == want and len(want.splitlines()) > 3, path  # the model says something
        _, text, _ = run(capsys, "transcribe", "--beam", "0", "--model", forward_model, path)
        _, lines, _ = run(capsys, "transcribe", "--stream", "--no-realtime", "--model",
                          forward_model, "--chunk-ms", "37", path)  # fmt: skip
        phones = [line.split()[2] for line in lines.splitlines()]
        assert text.split()[1:] == phones
        _, js, _ = run(capsys, "transcribe", "--beam", "0", "--format", "json", "--model",
                       forward_model, path)  # fmt: skip
        _, jl, _ = run(capsys, "transcribe", "--stream", "--no-realtime", "--format", "json",
                       "--model", forward_model, path)  # fmt: skip
        assert json.loads(js)["phones"] == [json.loads(line) for line in jl.splitlines()]
        # The text lines' times too: each boundary falls on a half millisecond.
        timed = [{"phone": p, "start": float(a), "end": float(b)}
                 for a, b, p in map(str.split, lines.splitlines())]  # fmt: skip
        assert timed == json.loads(js)["phones"]


@pytest.mark.parametrize(
    ("seconds", "rounded"),
    [
        ((0.3775, 0.6275), (0.378, 0.628)),
        ((0.0265, 1.9275), (0.027, 1.928)),
        ((0.0005, 0.0015), (0.001, 0.002)),
    ],
)
def test_stream_outputs_round_times_alike(seconds, rounded, capsys):
    """Text, JSON and CTM lines of one phone on half milliseconds: one rounding (half up)."""
    phone = TimedPhone("sil", *seconds)
    transcriber = SimpleNamespace(seconds=2.0, unit="phones")
    printed = {}
    for fmt in ("text", "json", "ctm"):
        args = SimpleNamespace(format=fmt, ctm_silence="keep")
        print_phone(phone, args, "x", transcriber)
        printed[fmt] = capsys.readouterr().out.split()
    start, end = rounded
    assert printed["text"] == [f"{start:.3f}", f"{end:.3f}", "sil"]
    assert json.loads(" ".join(printed["json"])) == {"phone": "sil", "start": start, "end": end}
    assert printed["ctm"] == ["x", "1", f"{start:.3f}", f"{end - start:.3f}", "sil"]


def stream_stdin(model, data: bytes, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lstmrec", "transcribe", "--stream", "--model", str(model),
         "--format", "ctm", "--ctm-silence", "keep", *extra, "-"],
        input=data, capture_output=True, cwd=REPO, timeout=300,
    )  # fmt: skip


def test_stream_from_stdin_wav_and_raw(forward_model, speech_corpus, capsys):
    path = held_out(speech_corpus)
    pcm, rate = sf.read(path, dtype="int16")
    wav = io.BytesIO()
    sf.write(wav, pcm, rate, format="WAV", subtype="PCM_16")
    rc, want, err = run(capsys, "transcribe", "--beam", "0", "--format", "ctm", "--ctm-silence",
                        "keep", "--model", forward_model, path)  # fmt: skip
    want = want.replace(f"{TEST_FILE}.WAV", "stdin")
    got = stream_stdin(forward_model, wav.getvalue())
    assert got.returncode == 0, got.stderr
    assert got.stdout.decode() == want
    raw = stream_stdin(forward_model, pcm.astype("<i2").tobytes(), "--rate", str(rate))
    assert raw.returncode == 0 and raw.stdout.decode() == want
    bad = stream_stdin(forward_model, b"not audio at all")
    assert bad.returncode == 2
    assert one_line(bad.stderr.decode()) == (
        "lstmrec: -: not a RIFF WAV stream; give --rate for raw 16-bit PCM"
    )


def test_stream_refusals(forward_model, speech_corpus, capsys, tmp_path):
    path = held_out(speech_corpus)
    rc, out, err = run(capsys, "transcribe", "--stream", "--model", OLD_BIDI, path)
    assert rc == 2 and out == ""
    assert "a bidirectional model cannot stream" in one_line(err)
    for extra, reason in [
        (["--beam", "8"], "cannot be combined with --beam > 1"),
        (["--engine", "keras"], "cannot be combined with --engine keras"),
        ([path], "takes one input (a file or -), not 2"),
        (["--rate", "16000"], "--rate is for raw PCM on standard input"),
        (["--chunk-ms", "0"], "--chunk-ms 0 must be a positive number of milliseconds"),
        (["--chunk-ms", "nan"], "--chunk-ms nan must be a positive number of milliseconds"),
        (["--chunk-ms", "inf"], "--chunk-ms inf must be a positive number of milliseconds"),
    ]:
        rc, _, err = run(capsys, "transcribe", "--stream", "--model", forward_model, *extra, path)
        assert rc == 2 and reason in one_line(err), extra
    rc, _, err = run(capsys, "transcribe", "--stream", "--model", forward_model, tmp_path / "x.wav")
    assert rc == 2 and one_line(err).endswith("x.wav: no such file")
    # a block longer than the file is the whole file at once
    huge = ["--no-realtime", "--chunk-ms", "1e308", "--model", forward_model, path]
    rc, out, err = run(capsys, "transcribe", "--stream", *huge)
    assert rc == 0 and out, err
    fast = tmp_path / "8k.wav"
    sf.write(fast, np.zeros(8000, np.int16), 8000)
    rc, _, err = run(capsys, "transcribe", "--stream", "--model", forward_model, fast)
    assert rc == 2 and "8000 Hz is not the model's 16000 Hz" in one_line(err)


def test_the_docs_name_every_flag_stream_refuses():
    from lstmrec.cli.main import build_parser
    from lstmrec.cli.stream import _check_args

    docs = " ".join((REPO / "docs" / "streaming.md").read_text().split())
    given = {"beam": 8, "nbest": 2, "lm": "x.arpa", "lexicon": "x.txt", "plot": "x.png",
             "data": "x", "runner": "direct", "output": "x.jsonl", "engine": "keras",
             "lm_weight": 1.0, "insertion_bonus": 1.0}  # fmt: skip
    for name, value in given.items():
        args = build_parser().parse_args(["transcribe", "--stream", "x.wav"])
        setattr(args, name, value)
        with pytest.raises(DataError) as caught:
            _check_args(args)
        assert f"`--{name.replace('_', '-')}" in docs, caught.value.reason


def test_python_streaming_takes_samples_as_transcribe_does(forward_model):
    from lstmrec.inference.stream import StreamingTranscriber

    bundle = load_bundle(forward_model, engine="numpy")
    pcm = (sf.read(sample_wav(), dtype="int16")[0][:16000]).astype(np.int16)  # 1 s

    def phones(samples) -> list:
        stream = StreamingTranscriber(bundle)
        return stream.push(samples) + stream.finish()

    want = phones(pcm.astype(np.float32) / 32768)
    assert want and phones(pcm) == want  # integer PCM is scaled, as model.transcribe does
    assert phones(np.stack([pcm, pcm], axis=1)) == want  # channels averaged, not interleaved
    for bad, reason in [
        (np.full(800, np.nan, np.float32), "<array>: audio contains NaN or infinite samples"),
        (np.zeros((800, 2, 2), np.float32), "samples of shape (800, 2, 2): not (N,)"),
    ]:
        with pytest.raises(DataError, match=re.escape(reason)):
            StreamingTranscriber(bundle).push(bad)


def test_the_latency_bench_takes_a_shipped_models_name(tmp_path):
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(8000, np.int16), 16000)
    bench = [sys.executable, str(REPO / "scripts" / "bench_stream.py"), "--model", "en-phones"]
    done = subprocess.run([*bench, str(wav)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert "a bidirectional model cannot stream" in one_line(done.stderr)  # found, then refused


# ---------------------------------------------------------------------------------------------
# The latency bench's arithmetic (no timing: compute time is taken as zero)


def test_bench_latency_without_compute_is_the_lookahead(forward_model, speech_corpus):
    bundle = load_bundle(forward_model, engine="numpy")
    lead = lookahead_s(bundle)
    assert lead == pytest.approx((4 * 160 + 200 + 80) / 16000)  # deltas 2 x 2, half a window
    timing = time_stream(bundle, held_out(speech_corpus), chunk_ms=20, clock=lambda: 0.0)
    live = [x for x, end in zip(timing.span_latency_s, timing.at_end, strict=True) if not end]
    assert len(live) > 3 and timing.compute_s == 0.0
    # Printed once the features that show the next phone's start are complete: never before,
    # and at most one 20 ms block later.
    assert min(live) >= lead - 1e-9 and max(live) < lead + 0.020 + 1e-9
    assert all(x >= -1e-9 for x in timing.span_latency_s)


def test_reference_latency_aligns_phones():
    phones = [TimedPhone(p, s, e) for p, s, e in [("sil", 0, 0.1), ("k", 0.1, 0.2),
              ("ae", 0.2, 0.3), ("t", 0.3, 0.4)]]  # fmt: skip
    timing = StreamTiming(0.5, 0.0, phones, [0.15, 0.25, 0.36, 0.5], [False] * 3 + [True])
    # reference h# k q ae d: h# folds to sil, q is dropped; t against d is a substitution
    ref = ["h#", "k", "q", "ae", "d"]
    times = [(0, 0.08), (0.08, 0.2), (0.2, 0.22), (0.22, 0.3), (0.3, 0.41)]
    assert reference_latency_s(timing, ref, times) == pytest.approx([0.07, 0.05, 0.06])
