from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from fake_esp import FakeESP
from tests.activation.helpers import fake_config, small_batches


@pytest.fixture
def fake():
    with FakeESP() as server:
        yield server


@pytest.fixture
def wh(tmp_path):
    """A real DuckDB warehouse file, on tmpfs when the machine has one: every open-write-close
    fsyncs, and on a disk that alone would double the suite's time."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and shutil.disk_usage(shm).free > 2**30):
        yield tmp_path / "warehouse.duckdb"
        return
    folder = Path(tempfile.mkdtemp(prefix="aw-activation-", dir=shm))
    try:
        yield folder / "warehouse.duckdb"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def config(fake, tmp_path):
    return fake_config(fake, tmp_path / "files")


@pytest.fixture
def small_config(config):
    """The fake's config with batches of ten, so a few dozen members make several batches."""
    return small_batches(config)
