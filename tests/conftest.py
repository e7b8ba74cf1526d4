"""Every test runs in its own places: nothing reads or writes the repository's data/ folder, and no
real ESP credential from the developer's environment can reach a test."""

from __future__ import annotations

import os

import pytest

from activation.config import ENV_VARS

PATH_VARIABLES = {
    "AW_WAREHOUSE_PATH": "warehouse.duckdb",
    "AW_LANDING_DIR": "landing",
    "AW_MODELS_DIR": "models",
    "AW_PUBLISHED_PATH": "published/warehouse.duckdb",
    "AW_ACTIVATION_FILE_DIR": "exports",
}


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    root = tmp_path_factory.mktemp("environment")
    with pytest.MonkeyPatch.context() as patch:
        for name in ENV_VARS:
            if name.startswith("AW_") and name not in PATH_VARIABLES:
                patch.delenv(name, raising=False)
        for name, relative in PATH_VARIABLES.items():
            patch.setenv(name, str(root / relative))
        patch.delenv("AW_AS_OF", raising=False)
        patch.setenv("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
        yield root


SHARED_DEMO_FIXTURE = "demo_run"  # tests/pipeline/conftest.py: built once per test run


def pytest_collection_modifyitems(items):
    """Every pipeline test builds a warehouse: marked slow, so `make test-fast` leaves it out.

    Files are then ordered for the parallel run (pytest-xdist hands out whole files, in this
    order): the first file that needs the shared demo run goes first, so one worker builds it while
    the others run every file that does not need it; the files that read it come last and find it
    built."""
    for item in items:
        if item.nodeid.startswith("tests/pipeline/"):
            item.add_marker(pytest.mark.slow)
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    readers = [
        name for name, tests in files.items() if any(SHARED_DEMO_FIXTURE in t.fixturenames for t in tests)
    ]
    others = [name for name in files if name not in readers]
    order = readers[:1] + others + readers[1:]
    items[:] = [item for name in order for item in files[name]]
