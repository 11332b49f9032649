"""The feature cache: reused across calls, invalidated by settings, and honest about bad files."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from lstmrec.cli.main import main
from lstmrec.features.audio import FeatureConfig
from lstmrec.features.errors import DataError
from lstmrec.featurize import compute_features, default_cache_dir
from lstmrec.manifest import Utterance, write_manifest


def corpus(tmp_path):
    rng = np.random.default_rng(0)
    good = tmp_path / "good.wav"
    sf.write(good, 0.1 * rng.standard_normal(8000), 16000, subtype="PCM_16")
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    return [Utterance("s_good", str(good), "s"), Utterance("s_bad", str(bad), "s")]


def test_cache_is_reused_and_keeps_reporting_bad_files(tmp_path):
    utts, config, cache = corpus(tmp_path), FeatureConfig(), tmp_path / "cache"
    first_errors, second_errors = [], []
    first = compute_features(utts, config, cache_dir=cache, on_error=first_errors.append)
    assert list(first) == ["s_good"] and first["s_good"].shape == (
        48,
        123,
    )  # 1 + (8000 - 400) // 160 frames
    assert len(list(cache.glob("*.npz"))) == 1

    second = compute_features(utts, config, cache_dir=cache, on_error=second_errors.append)
    np.testing.assert_array_equal(second["s_good"], first["s_good"])
    assert list(second) == ["s_good"]
    assert [str(e) for e in second_errors] == [str(e) for e in first_errors]
    assert len(second_errors) == 1 and "bad.wav" in str(second_errors[0])
    with pytest.raises(DataError, match="bad.wav"):
        compute_features(utts, config, cache_dir=cache)

    compute_features(utts, FeatureConfig(kind="mfcc"), cache_dir=cache, on_error=lambda e: None)
    assert len(list(cache.glob("*.npz"))) == 2  # other settings, another entry


@pytest.mark.parametrize("damage", ["cut", "text", "pickle"])
def test_a_damaged_cache_entry_is_computed_again(tmp_path, damage):
    utts, config, cache = corpus(tmp_path), FeatureConfig(), tmp_path / "cache"
    first = compute_features(utts, config, cache_dir=cache, on_error=lambda e: None)
    [entry] = cache.glob("*.npz")
    data = entry.read_bytes()
    if damage == "cut":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "text":
        entry.write_text("not an npz\n")
    else:  # an entry that holds an object array, which is never unpickled
        np.savez(entry, s_good=np.array([None], dtype=object))
    errors: list[DataError] = []
    again = compute_features(utts, config, cache_dir=cache, on_error=errors.append)
    np.testing.assert_array_equal(again["s_good"], first["s_good"])
    assert len(errors) == 1 and "bad.wav" in str(errors[0])
    assert entry.read_bytes() == data  # written anew


def test_cache_notices_new_content_behind_an_unchanged_size_and_mtime(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "a.wav"
    sf.write(path, 0.1 * rng.standard_normal(8000), 16000, subtype="PCM_16")
    utts, config, cache = [Utterance("s_a", str(path), "s")], FeatureConfig(), tmp_path / "c"
    first = compute_features(utts, config, cache_dir=cache)["s_a"]
    stat = path.stat()
    sf.write(path, 0.1 * rng.standard_normal(8000), 16000, subtype="PCM_16")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # old mtime put back
    assert path.stat().st_size == stat.st_size
    second = compute_features(utts, config, cache_dir=cache)["s_a"]
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(second, compute_features(utts, config)["s_a"])


def test_default_cache_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMREC_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("LSTMREC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "lstmrec" / "features"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "lstmrec" / "features"


@pytest.mark.parametrize("command", ["features", "train"])
def test_the_help_names_every_place_the_default_cache_is_looked_for(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse's line breaks undone
    described = text[text.index("feature cache folder (default:") :].split(")")[0]
    for place in ("$LSTMREC_CACHE_DIR", "$XDG_CACHE_HOME/lstmrec/features", "~/.cache/lstmrec"):
        assert place in described, described


def test_runs_share_the_default_cache(tmp_path, monkeypatch, capsys):
    """Two `lstmrec features` runs without --cache: the second reads the first one's entry."""
    cache = tmp_path / "shared"
    monkeypatch.setenv("LSTMREC_CACHE_DIR", str(cache))
    utts = corpus(tmp_path)[:1]
    manifest = tmp_path / "m.jsonl"
    write_manifest(utts, manifest)
    args = ["features", "--data", str(manifest), "--splits", "all"]
    assert main(args) == 0
    (entry,) = cache.glob("*.npz")
    stamp = entry.stat().st_mtime_ns
    assert main(args) == 0
    assert list(cache.glob("*.npz")) == [entry] and entry.stat().st_mtime_ns == stamp
    assert f"cached in {cache}" in capsys.readouterr().out
