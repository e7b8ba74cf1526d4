"""The independent consent check at scale: generate demo data with every kind of dirt, run the whole
pipeline through Dagster against the local fake ESPs, then ask the consent oracle
(warehouse/consent_audit.py), which reads only the landing files and fails closed, whether any file
export or any fake ESP list holds an address it forbids. Prints the figures and writes them to
bench/results/consent_<scale>.json.

    uv run python bench/bench_consent.py --scale small
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activation.config import ESP_NAMES  # noqa: E402
from fake_esp import FakeESP  # noqa: E402
from warehouse.consent_audit import exported_addresses, must_not_mail  # noqa: E402

RESULTS = Path(__file__).parent / "results"
AS_OF = "2026-06-30T00:00:00Z"


def _esp_members(fake: FakeESP, warehouse: Path) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        lists = con.execute(
            "select distinct destination, list_key from activation.sync_state where list_key <> '*'"
        ).fetchall()
    members: set[str] = set()
    for destination, name in lists:
        if destination in ESP_NAMES:
            members |= fake.list_members(destination, name)
    # Mailchimp keeps members by subscriber hash: a subscribed member of the audience is mailable
    # by any campaign sent to the whole audience, so it counts as exported.
    audience = fake.mc_members.values()
    subscribed = {member["email_address"].lower() for member in audience if member["status"] == "subscribed"}
    return members | subscribed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=("tiny", "small", "medium"))
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="consent-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    env = {
        **os.environ,
        "AW_LANDING_DIR": str(root / "landing"),
        "AW_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "AW_MODELS_DIR": str(root / "models"),
        "AW_ACTIVATION_FILE_DIR": str(root / "exports"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("AW_PUBLISHED_PATH", None)
    (root / "dagster_home").mkdir(exist_ok=True)
    shutil.copy(ROOT / "orchestration" / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    if not (root / "landing").exists():
        subprocess.run(
            [python, "-m", "datagen", "--scale", args.scale, "--seed", "7", "--as-of", AS_OF,
             "--out", str(root / "landing"), "--truth-out", str(root / "truth"), "--quiet"],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
    with FakeESP() as fake:
        started = time.perf_counter()
        run = subprocess.run(
            [python, "-m", "orchestration.run_pipeline", "--as-of", AS_OF],
            cwd=ROOT,
            env={**env, **fake.env()},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            print(run.stdout[-4000:], run.stderr[-4000:], sep="\n")
            return 1
        esp_members = _esp_members(fake, root / "warehouse.duckdb")
    files = exported_addresses(root / "exports")
    file_members = set().union(*files.values()) if files else set()
    verdict = must_not_mail(root / "landing", datetime(2026, 6, 30))
    violations = verdict.violations(file_members | esp_members)
    figures = {
        "scale": args.scale,
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "processor": platform.processor() or platform.machine(),
            "load_average": os.getloadavg(),
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pipeline_seconds": round(seconds, 1),
        "addresses_allowed_by_oracle": len(verdict.allowed),
        "addresses_forbidden_by_oracle": len(verdict.forbidden),
        "addresses_in_file_exports": len(file_members),
        "addresses_in_fake_esp_lists": len(esp_members),
        "forbidden_addresses_exported": len(violations),
        "examples": {address: sorted(reasons) for address, reasons in list(violations.items())[:10]},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"consent_{args.scale}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
