"""Generated datasets shared by the datagen tests (each made once per session, all small)."""

from __future__ import annotations

import pytest

from datagen import DirtConfig
from tests.datagen.helpers import clean, run


@pytest.fixture(scope="session")
def dirty(tmp_path_factory):
    """Tiny scale, default dirt, mixed formats."""
    return run(tmp_path_factory.mktemp("dirty"), scale="tiny", seed=7)


@pytest.fixture(scope="session")
def spotless(tmp_path_factory):
    """--dirt none with the same seed as `dirty`, and enough contacts to exercise every path."""
    return run(tmp_path_factory.mktemp("clean"), scale="tiny", seed=7, contacts=1500, dirt=clean())


@pytest.fixture(scope="session")
def spotless_tiny(tmp_path_factory):
    """The clean twin of `dirty`: no defects, but the same catalogue (inactive_product changes which
    product later orders buy, so it is kept at its default to compare row for row)."""
    catalogue = {"inactive_product": DirtConfig().inactive_product}
    return run(tmp_path_factory.mktemp("clean_tiny"), scale="tiny", seed=7, dirt=clean(**catalogue))
