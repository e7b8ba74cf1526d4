from __future__ import annotations

import pytest

from tests.activation.fake_esp import FakeESP
from tests.activation.helpers import fake_config


@pytest.fixture
def fake():
    with FakeESP() as server:
        yield server


@pytest.fixture
def wh(tmp_path):
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def config(fake, tmp_path):
    return fake_config(fake, tmp_path / "files")
