"""The command line: options reach the generator, --sources limits what is written, errors are clear."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from datagen.__main__ import parse_args
from datagen.dirt import TABLE_DIRT
from tests.datagen.helpers import REPO

WRITTEN = [("crm", "contacts"), ("orders", "orders"), ("orders", "order_items")]


def test_sources_subset_writes_only_those_sources(tmp_path):
    out = tmp_path / "landing"
    command = [sys.executable, "-m", "datagen", "--scale", "tiny", "--contacts", "120", "--seed", "4"]
    command += ["--out", str(out), "--sources", "crm,orders", "--quiet"]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""  # --quiet
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["crm/contacts.csv", "orders/order_items.csv", "orders/orders.csv"]
    meta = json.loads((tmp_path / "ground_truth" / "meta.json").read_text())
    assert meta["sources"] == ["crm", "orders"] and set(meta["files"]) == set(written)
    written_kinds = {kind for table in WRITTEN for kind, _ in TABLE_DIRT[table]}
    assert meta["dirt_counts"] and set(meta["dirt_counts"]) <= written_kinds


def test_options_are_parsed_into_the_config(tmp_path):
    config = parse_args(
        [
            "--scale",
            "medium",
            "--seed",
            "9",
            "--out",
            str(tmp_path / "l"),
            "--as-of",
            "2025-12-31T00:00:00Z",
            "--format",
            "parquet",
            "--dirt",
            "none",
            "--dirt-rate",
            "bot_traffic=0.2",
            "--dirt-rate",
            "late_arriving=0.1",
            "--truth-out",
            str(tmp_path / "t"),
            "--sources",
            "web,crm",
        ]
    )
    assert (config.scale, config.seed, config.format, config.n_contacts) == ("medium", 9, "parquet", 100_000)
    assert config.as_of.isoformat() == "2025-12-31T00:00:00+00:00"
    assert (
        config.dirt.bot_traffic == 0.2 and config.dirt.late_arriving == 0.1 and config.dirt.duplicate_row == 0
    )
    assert config.truth_dir == tmp_path / "t" and config.sources == ("crm", "web")


@pytest.mark.parametrize(
    "arguments",
    [
        ["--dirt-rate", "no_such_kind=0.1"],
        ["--dirt-rate", "duplicate_row=2"],
        ["--sources", "crm,ledger"],
        ["--dirt-rate", "duplicate_row"],
    ],
)
def test_bad_options_are_refused(tmp_path, arguments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--out", str(tmp_path), *arguments])
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err
