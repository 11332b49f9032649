"""Test-session settings shared by every test module."""

from __future__ import annotations

import os
import shutil
import tempfile

# Training and `lstmrec features` default to a feature cache shared by all of a user's runs
# (lstmrec.featurize.default_cache_dir). Tests, and the commands they start in subprocesses,
# use a cache of their own that disappears with the session.
_CACHE = tempfile.mkdtemp(prefix="lstmrec-test-cache-")
os.environ["LSTMREC_CACHE_DIR"] = _CACHE


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE, ignore_errors=True)
