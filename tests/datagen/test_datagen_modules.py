"""The generator stays in modules small enough to read whole: one per source, per behaviour."""

from pathlib import Path

import datagen
from tests.module_size import long_modules_without_a_reason


def test_no_datagen_module_is_over_400_lines_without_saying_why():
    assert long_modules_without_a_reason(Path(datagen.__file__).parent) == []
