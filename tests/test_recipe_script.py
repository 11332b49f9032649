"""The staged recipe script runs end to end on the bundled corpus, stage by stage, and again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "timit-demo"


def run_stages(tmp_path: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, LSTMREC=str(Path(sys.executable).with_name("lstmrec")), TF_CPP_MIN_LOG_LEVEL="3"
    )
    return subprocess.run(
        [
            "bash",
            str(REPO / "scripts" / "timit.sh"),
            "--timit",
            str(DEMO / "TIMIT"),
            "--out",
            str(tmp_path / "run"),
            "--config",
            str(config),
            "--dev-speakers",
            str(tmp_path / "dev.list"),
            "--test-speakers",
            str(DEMO / "test_spk.list"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.slow
def test_timit_script_stages(tmp_path):
    if not DEMO.is_dir():
        pytest.skip(f"bundled demo corpus missing at {DEMO}")
    (tmp_path / "dev.list").write_text("fvmh0\n")
    config = tmp_path / "tiny.toml"
    config.write_text(
        "[model]\nnum_layers = 1\nunits = 8\n"
        '[training]\noptimizer = "adam"\nlearning_rate = 1e-2\nmax_epochs = 1\n'
    )
    out = tmp_path / "run"

    first = run_stages(tmp_path, config, "--stop-stage", "1")
    assert first.returncode == 0, first.stderr
    lines = {
        s: (out / "data" / f"{s}.jsonl").read_text().splitlines()
        for s in ("train", "dev", "core-test")
    }
    # 8 speakers, SA sentences dropped: 5 train, 1 dev, 2 test speakers of 8 sentences each.
    assert [len(lines[s]) for s in ("train", "dev", "core-test")] == [40, 8, 16]
    assert len(list((out / "features").glob("*.npz"))) == 2  # train and dev
    assert not (out / "model").exists()

    second = run_stages(tmp_path, config, "--stage", "2")
    assert second.returncode == 0, second.stderr
    assert len(list((out / "features").glob("*.npz"))) == 2  # the cache was reused
    report = json.loads((out / "core-test.json").read_text())
    assert set(report["per_speaker"]) == {"faem0", "madc0"}
    assert report["phone_set"] == 39 and report["reference_length"] > 500
    assert "PER" in (out / "dev.txt").read_text()

    # Run again from the start, as the script's header promises: the derived files are written
    # anew and the finished training stage resumes (nothing left to train).
    third = run_stages(tmp_path, config)
    assert third.returncode == 0, third.stderr
    assert "resuming after epoch 1" in third.stdout
    assert len(list((out / "features").glob("*.npz"))) == 2
    assert json.loads((out / "core-test.json").read_text()) == report


@pytest.mark.parametrize(
    "script, last, package",
    [("english_phones.sh", "3", "4"), ("english_ink.sh", "4", "5")],
)
def test_shipped_model_recipe_packages_only_when_asked(script, last, package):
    """The recipes of the shipped models stop after their evaluation unless --package is given:
    the package stage replaces the model shipped in the package, and only the default recipe
    may be packaged under its name."""

    def stages(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(REPO / "scripts" / script), "--dry-run", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    everything = " ".join(str(s) for s in range(int(last) + 1))
    default = stages()
    assert default.returncode == 0, default.stderr
    assert default.stdout.split("\n")[0] == f"stages: {everything}"
    asked = stages("--stop-stage", package)  # the stage alone does not package
    assert asked.stdout.startswith(f"stages: {everything}\n")
    assert "only with --package" in asked.stderr
    assert stages("--package").stdout == f"stages: {everything} {package}\n"
    assert stages("--stage", package, "--package").stdout == f"stages: {package}\n"
    other = stages("--package", "--config", "configs/english_transducer.toml")
    assert other.returncode == 2 and other.stdout == ""
    assert "--package packages" in other.stderr
