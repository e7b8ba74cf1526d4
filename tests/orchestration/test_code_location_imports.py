"""Every step process of a Dagster run loads the code location before it does anything: what the
definitions import at module level is paid once per step. scikit-learn and SciPy (about a second
and 90 MB per process, BENCHMARKS.md) are imported only by the steps that train or score. The
probe also resolves every job, as `dagster dev` does: a job that cannot resolve (a dbt selector
dagster-dbt cannot evaluate) stops the whole code location."""

from __future__ import annotations

import json
import subprocess
import sys

from warehouse.context import PROJECT_DIR

HEAVY_MODULES = ("sklearn", "scipy", "matplotlib")


def test_loading_the_definitions_imports_no_model_library():
    probe = (
        "import json, sys\n"
        "import dagster as dg\n"
        "from orchestration.definitions import defs\n"
        "dg.Definitions.validate_loadable(defs)\n"
        "for job in defs.jobs:\n"
        "    defs.resolve_job_def(job.name)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == []
