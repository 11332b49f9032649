"""Tests for features/audio.py: readers, frame arithmetic, fbank/MFCC, deltas, CMVN.

librosa appears here only as an independent reference for the mel filters and spectrogram;
features/audio.py itself never imports it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lstmrec.features.audio import (
    FeatureConfig,
    apply_cmvn,
    audio_info,
    cmvn_stats,
    deltas,
    extract,
    extract_file,
    fbank,
    frame_center_s,
    frame_times,
    frames,
    hz_to_mel,
    load_audio,
    mel_filterbank,
    mel_to_hz,
    mfcc,
    num_frames,
    resample,
)
from lstmrec.features.errors import DataError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TIMIT_WAVS = sorted((DATA / "timit-sample" / "TIMIT" / "TRAIN").glob("DR*/*/*.WAV"))
FSDD_WAVS = sorted((DATA / "fsdd" / "recordings").glob("*.wav"))
needs_timit = pytest.mark.shared_data("timit-sample/TIMIT/TRAIN")  # skips, fails under CI=true
needs_fsdd = pytest.mark.shared_data("fsdd/recordings")

SR = 16000


def sine(freq_hz: float, *, seconds: float = 1.0, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    """Float32 ``(round(seconds * sr),)`` sine."""
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def noise(n: int, *, seed: int = 0, amp: float = 0.1) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Reading


@needs_timit
@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_sphere_and_riff_flac_give_identical_samples(tmp_path: Path, fmt: str) -> None:
    sphere = TIMIT_WAVS[0]
    pcm, sr = sf.read(sphere, dtype="int16")
    assert sf.info(sphere).format == "NIST" and sr == SR
    copy = tmp_path / f"copy.{fmt.lower()}"
    sf.write(copy, pcm, sr, format=fmt, subtype="PCM_16")
    a, b = load_audio(sphere), load_audio(copy)
    assert a.dtype == np.float32 and a.shape == (len(pcm),)
    assert np.array_equal(a, b)
    assert np.array_equal(a, pcm / np.float32(32768))  # int16 full scale -> [-1, 1)
    assert audio_info(sphere) == (len(pcm), SR, 1)


def test_stereo_is_averaged_to_mono(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-20000, 20000, size=(1000, 2), dtype=np.int16)  # (N, 2)
    path = tmp_path / "stereo.wav"
    sf.write(path, pcm, SR, subtype="PCM_16")
    assert audio_info(path) == (1000, SR, 2)
    mono = load_audio(path)
    assert mono.shape == (1000,)
    np.testing.assert_allclose(mono, pcm.astype(np.float64).mean(axis=1) / 32768, atol=1e-7)


@needs_fsdd
def test_fsdd_8k_file_resampled_to_16k_doubles_length() -> None:
    path = FSDD_WAVS[0]
    n, sr, channels = audio_info(path)
    assert (sr, channels) == (8000, 1)
    native = load_audio(path, sample_rate=8000)
    up = load_audio(path)
    assert native.shape == (n,) and up.shape == (2 * n,)
    # The 2x polyphase filter keeps the original samples (up to the filter's passband ripple).
    np.testing.assert_allclose(up[::2], native, atol=0.02)


@pytest.mark.parametrize(("orig_sr", "target_sr"), [(8000, 16000), (22050, 16000), (16000, 8000)])
def test_resample_keeps_a_sine_frequency_and_amplitude(orig_sr: int, target_sr: int) -> None:
    x = sine(440.0, seconds=1.0, sr=orig_sr)
    y = resample(x, orig_sr=orig_sr, target_sr=target_sr)
    assert y.dtype == np.float32 and len(y) == target_sr  # 1 s in, 1 s out
    spectrum = np.abs(np.fft.rfft(y))
    peak_hz = np.argmax(spectrum) * target_sr / len(y)  # 1 Hz bins
    assert peak_hz == pytest.approx(440.0, abs=1.0)
    interior = y[target_sr // 10 : -target_sr // 10]  # away from the filter's edge transients
    assert np.sqrt(2 * np.mean(interior**2)) == pytest.approx(0.5, rel=0.01)


def test_resample_same_rate_is_identity() -> None:
    x = noise(1234)
    assert np.array_equal(resample(x, orig_sr=SR, target_sr=SR), x)


# ---------------------------------------------------------------------------------------------
# Errors name the file


def test_missing_file_raises_data_error_naming_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    for fn in (load_audio, audio_info):
        with pytest.raises(DataError, match="no such file") as info:
            fn(path)
        assert str(path) in str(info.value)


def test_text_file_renamed_wav_raises_data_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.wav"
    path.write_text("this is not audio\n" * 10)
    for fn in (load_audio, audio_info):
        with pytest.raises(DataError, match="cannot read audio") as info:
            fn(path)
        assert str(path) in str(info.value)


def test_empty_wav_raises_data_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.int16), SR, subtype="PCM_16")
    with pytest.raises(DataError, match="empty audio") as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_nan_samples_raise_data_error(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    x = noise(800)
    x[100] = np.nan
    sf.write(path, x, SR, subtype="FLOAT")
    with pytest.raises(DataError, match="NaN") as info:
        load_audio(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# Frame arithmetic


@pytest.mark.parametrize(
    ("n", "expected"), [(0, 0), (399, 0), (400, 1), (559, 1), (560, 2), (16000, 98)]
)
def test_num_frames_hand_computed(n: int, expected: int) -> None:
    assert num_frames(n, win_length=400, hop_length=160) == expected


@pytest.mark.parametrize("n", [399, 400, 560, 16000, 16001])
@pytest.mark.parametrize("kind", ["fbank", "mfcc"])
def test_extract_rows_equal_num_frames(n: int, kind: str) -> None:
    config = FeatureConfig(kind=kind)
    feats = extract(noise(n), config)
    assert feats.shape == (num_frames(n, win_length=400, hop_length=160), config.dim)
    assert feats.dtype == np.float32 and np.all(np.isfinite(feats))


def test_frames_is_a_view_with_the_right_samples() -> None:
    x = np.arange(1000, dtype=np.float32)
    f = frames(x, win_length=400, hop_length=160)  # (4, 400)
    assert f.shape == (4, 400) and np.shares_memory(f, x)
    assert np.array_equal(f[3], x[480:880])  # frame t covers [t * hop, t * hop + win)
    assert frames(x[:10], win_length=400, hop_length=160).shape == (0, 400)


def test_frame_times() -> None:
    config = FeatureConfig()
    start, end = frame_times(3, config)
    np.testing.assert_allclose(start, [0.0, 0.01, 0.02])
    np.testing.assert_allclose(end, [0.025, 0.035, 0.045])
    assert isinstance(frame_center_s(2, config), float)
    assert frame_center_s(2, config) == pytest.approx(0.0325)
    np.testing.assert_allclose(frame_center_s(np.arange(3), config), (start + end) / 2)


# ---------------------------------------------------------------------------------------------
# Mel filterbank and spectra against librosa (independent reference)


@pytest.mark.parametrize(("n_mels", "fmin", "fmax"), [(40, 0.0, 8000.0), (80, 64.0, 7600.0)])
def test_mel_filterbank_matches_librosa_htk(n_mels: int, fmin: float, fmax: float) -> None:
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(sample_rate=SR, n_fft=512, n_mels=n_mels, fmin=fmin, fmax=fmax)
    ref = librosa.filters.mel(
        sr=SR, n_fft=512, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=True, norm=None
    )
    assert ours.shape == (n_mels, 257) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert not ours.flags.writeable  # cached and shared: must not be mutable


def test_mel_scale_is_htk() -> None:
    assert hz_to_mel(700.0) == pytest.approx(2595 * np.log10(2))
    np.testing.assert_allclose(mel_to_hz(hz_to_mel([0.0, 1000.0, 8000.0])), [0, 1000, 8000])


@needs_timit
def test_log_mel_matches_librosa_on_timit() -> None:
    librosa = pytest.importorskip("librosa")
    scipy_signal = pytest.importorskip("scipy.signal")
    x = load_audio(TIMIT_WAVS[0])
    config = FeatureConfig(preemphasis=0.0, energy=False, remove_dc=False, delta_order=0)
    ours = fbank(x, config)  # (T, 40)
    # librosa centres the 400-sample window in the 512-sample frame (56 zeros each side); pad
    # the signal by 56 so its frame t covers our samples [160 t, 160 t + 400).
    pad = (512 - 400) // 2
    ref = librosa.feature.melspectrogram(
        y=np.pad(x, pad),
        sr=SR,
        n_fft=512,
        hop_length=160,
        win_length=400,
        center=False,
        window=scipy_signal.get_window("hamming", 400, fftbins=False),
        power=2.0,
        n_mels=40,
        htk=True,
        norm=None,
    ).T  # (n_mels, T) -> (T, n_mels)
    assert ours.shape == ref.shape == (num_frames(len(x), win_length=400, hop_length=160), 40)
    np.testing.assert_allclose(ours, np.log(np.maximum(ref, 1e-10)), atol=1e-3)


@needs_timit
def test_mfcc_is_orthonormal_dct_of_log_mel_like_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    x = load_audio(TIMIT_WAVS[1])
    config = FeatureConfig(kind="mfcc", energy=False, delta_order=0)
    log_mel = fbank(x, dataclasses.replace(config, kind="fbank"))  # (T, 40)
    ref = librosa.feature.mfcc(S=log_mel.T, n_mfcc=13, dct_type=2, norm="ortho", lifter=0).T
    np.testing.assert_allclose(mfcc(x, config), ref, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# Properties on synthetic signals


@pytest.mark.parametrize("freq_hz", [300.0, 1000.0, 3000.0, 6000.0])
def test_sine_peaks_in_the_mel_band_containing_it(freq_hz: float) -> None:
    config = FeatureConfig(energy=False)
    log_mel = fbank(sine(freq_hz), config)  # (T, 40)
    band = int(np.argmax(log_mel.mean(axis=0)))
    weights = mel_filterbank(sample_rate=SR, n_fft=512, n_mels=40, fmin=0.0, fmax=8000.0)
    bin_ = int(round(freq_hz * 512 / SR))
    assert band == int(np.argmax(weights[:, bin_]))  # the filter weighing that bin most
    assert weights[band, bin_] > 0.5


@pytest.mark.parametrize("kind", ["fbank", "mfcc"])
def test_doubling_amplitude_adds_log4_to_log_mel_and_log_energy(kind: str) -> None:
    x = sine(500.0) + noise(SR, amp=0.05)  # noise keeps every band far above the floor
    config = FeatureConfig()
    a, b = fbank(x, config), fbank(2 * x, config)  # (T, 41): 40 log-mel + log energy
    assert a[:, -1].min() > -20
    np.testing.assert_allclose(b - a, np.log(4.0), atol=1e-4)
    if kind == "mfcc":  # log(4) on every mel band shifts only c0 = energy, not c1..c12
        m = FeatureConfig(kind="mfcc")
        ca, cb = mfcc(x, m), mfcc(2 * x, m)
        np.testing.assert_allclose(cb[:, 0] - ca[:, 0], np.log(4.0), atol=1e-4)
        np.testing.assert_allclose(cb[:, 1:], ca[:, 1:], atol=1e-3)


def test_preemphasis_of_a_constant_frame_hand_computed() -> None:
    # Kaldi's in-frame pre-emphasis, y[0] = x[0] - a x[0] and y[n] = x[n] - a x[n-1], maps a
    # constant frame of ones to a constant (1 - a): with a = 0.5 the power spectrum is scaled by
    # 0.25 in every bin, so every log-mel band moves by exactly log(0.25). Log energy is taken
    # before pre-emphasis, so it stays log(400 * 1^2).
    plain = FeatureConfig(preemphasis=0.0, remove_dc=False, window="rectangular", delta_order=0)
    ones = np.ones(400, dtype=np.float32)
    before = fbank(ones, plain)  # (1, 41)
    after = fbank(ones, dataclasses.replace(plain, preemphasis=0.5))
    np.testing.assert_allclose(after[0, :40] - before[0, :40], np.log(0.25), atol=1e-5)
    assert after[0, 40] == before[0, 40] == pytest.approx(np.log(400.0))


@pytest.mark.parametrize("freq_hz", [200.0, 4000.0])
def test_preemphasis_gain_on_a_sine(freq_hz: float) -> None:
    # |1 - a e^{-jw}|^2 = 1 - 2 a cos(w) + a^2 at w = 2 pi f / sr: -28 dB at 200 Hz, +6 dB at 4 kHz.
    x = sine(freq_hz)
    plain = fbank(x, FeatureConfig(preemphasis=0.0, energy=False))  # (T, 40)
    emph = fbank(x, FeatureConfig(preemphasis=0.97, energy=False))
    band = int(np.argmax(plain.mean(axis=0)))
    w = 2 * np.pi * freq_hz / SR
    expected = np.log(1 - 2 * 0.97 * np.cos(w) + 0.97**2)
    assert np.median(emph[:, band] - plain[:, band]) == pytest.approx(expected, abs=0.05)


def test_energy_is_last_fbank_column_and_mfcc_c0() -> None:
    x = noise(8000, seed=3)
    fb = fbank(x, FeatureConfig())
    frame0 = x[:400].astype(np.float64) - x[:400].mean()
    assert fb[0, -1] == pytest.approx(np.log(np.sum(frame0**2)), abs=1e-4)
    np.testing.assert_allclose(mfcc(x, FeatureConfig(kind="mfcc"))[:, 0], fb[:, -1], atol=1e-5)


def test_deltas_of_a_linear_ramp_are_the_slope_and_of_a_constant_zero() -> None:
    t = np.arange(20, dtype=np.float32)[:, None]  # (20, 1)
    ramp = np.concatenate([3 * t, -0.5 * t + 7], axis=1)  # (20, 2), slopes 3 and -0.5
    out = deltas(ramp, order=2, width=2)
    assert out.shape == (20, 6) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :2], ramp)
    np.testing.assert_allclose(out[2:-2, 2:4], np.tile([3.0, -0.5], (16, 1)), atol=1e-5)
    np.testing.assert_allclose(out[4:-4, 4:6], 0.0, atol=1e-5)  # delta of a constant
    const = deltas(np.full((7, 3), 5.0), order=2, width=3)
    np.testing.assert_array_equal(const[:, 3:], 0.0)
    assert deltas(np.zeros((0, 4)), order=2, width=2).shape == (0, 12)


def test_deltas_edge_replication_hand_computed() -> None:
    c = np.array([[0.0], [1.0], [4.0]])  # (3, 1); padded by edge: 0 0 | 0 1 4 | 4 4
    d = deltas(c, order=1, width=2)[:, 1]
    # t=0: (1*(1-0) + 2*(4-0)) / 10; t=1: (1*(4-0) + 2*(4-0)) / 10; t=2: (1*(4-1) + 2*(4-0)) / 10
    np.testing.assert_allclose(d, [0.9, 1.2, 1.1])


def test_dim_of_the_two_recipes() -> None:
    assert FeatureConfig().dim == 123  # (40 mels + energy) * 3
    assert FeatureConfig(kind="mfcc").dim == 39  # 13 * 3
    assert FeatureConfig(energy=False, delta_order=0).dim == 40


@needs_timit
def test_extract_file_matches_extract_of_loaded_audio() -> None:
    config = FeatureConfig(kind="mfcc")
    feats = extract_file(TIMIT_WAVS[0], config)
    assert np.array_equal(feats, extract(load_audio(TIMIT_WAVS[0]), config))
    assert feats.shape[1] == 39


# ---------------------------------------------------------------------------------------------
# CMVN


def test_cmvn_normalises_each_column() -> None:
    rng = np.random.default_rng(4)
    scale = np.array([1.0, 10.0, 1e-3, 0.0])  # last column constant: std floored, not inf
    utts = [
        (rng.standard_normal((n, 4)) * scale + [5, -3, 100, 7]).astype(np.float32)
        for n in (50, 120, 33)
    ]
    mean, std = cmvn_stats(iter(utts))  # a generator works: one pass
    assert mean.dtype == np.float64 and std.shape == (4,) and std[3] == pytest.approx(1e-5)
    normed = np.concatenate([apply_cmvn(u, mean, std) for u in utts])  # (203, 4)
    assert normed.dtype == np.float32
    np.testing.assert_allclose(normed.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(normed[:, :3].std(axis=0), 1.0, atol=1e-3)
    assert np.all(np.isfinite(normed))


def test_cmvn_rejects_no_frames_and_mismatched_widths() -> None:
    with pytest.raises(ValueError, match="no frames"):
        cmvn_stats([np.zeros((0, 3))])
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        cmvn_stats([np.zeros((2, 3)), np.zeros((2, 4))])


# ---------------------------------------------------------------------------------------------
# Configuration


def test_feature_config_round_trips_through_dict_and_json() -> None:
    config = FeatureConfig(kind="mfcc", fmin=20.0, fmax=7600.0, delta_order=1, window="povey")
    assert FeatureConfig.from_dict(config.to_dict()) == config
    assert FeatureConfig.from_dict(json.loads(json.dumps(FeatureConfig().to_dict()))) == (
        FeatureConfig()
    )
    assert (config.win_length, config.hop_length) == (400, 160)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.kind = "fbank"  # type: ignore[misc]


def test_feature_config_rejects_bad_values_and_unknown_keys() -> None:
    with pytest.raises(ValueError, match="kind='foo' must be 'fbank' or 'mfcc'"):
        FeatureConfig(kind="foo")
    with pytest.raises(ValueError, match="fmax=9000"):
        FeatureConfig(fmax=9000.0)
    with pytest.raises(ValueError, match="n_fft=256"):
        FeatureConfig(n_fft=256)
    with pytest.raises(ValueError, match="window='blackman'"):
        FeatureConfig(window="blackman")
    with pytest.raises(ValueError, match="n_melz"):
        FeatureConfig.from_dict({"n_melz": 40})
