"""dbt's saved parse is reused against another warehouse file, and only when the path is all that
differs (warehouse/partial_parse.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.dbt_cli import run_dbt
from warehouse import partial_parse
from warehouse.context import PROJECT_DIR

PROFILE = [
    ("database", "warehouse"),
    ("path", "/runs/a/warehouse.duckdb"),
    ("schema", "main"),
    ("settings", {"timezone": "UTC"}),
]


def _with(info, **changes):
    return [(key, changes.get(key, value)) for key, value in info]


def _saved_parse(folder: Path, info) -> bytes:
    """A stand-in for dbt's msgpack: the profile hash inside other bytes, as dbt saves it."""
    folder.mkdir(parents=True, exist_ok=True)
    content = b"\x85manifest...profile_hash\xd9\x40" + partial_parse.profile_hash(info).encode() + b"..."
    (folder / partial_parse.PARTIAL_PARSE).write_bytes(content)
    assert partial_parse.note(folder, info)
    return content


def test_a_parse_made_for_another_warehouse_file_is_stamped_for_this_one(tmp_path):
    saved = _saved_parse(tmp_path / "shared", PROFILE)
    here = _with(PROFILE, path="/runs/b/warehouse.duckdb")
    done = partial_parse.seed(tmp_path / "shared", tmp_path / "b", here)
    assert done == "reused the parse made for /runs/a/warehouse.duckdb"
    stamped = (tmp_path / "b" / partial_parse.PARTIAL_PARSE).read_bytes()
    assert stamped == saved.replace(
        partial_parse.profile_hash(PROFILE).encode(), partial_parse.profile_hash(here).encode()
    )


@pytest.mark.parametrize(
    "change",
    [{"database": "other"}, {"settings": {"timezone": "Europe/Paris"}}, {"schema": "analytics"}],
    ids=["database", "settings", "schema"],
)
def test_a_parse_made_for_a_profile_that_differs_beyond_the_path_is_left_to_dbt(tmp_path, change):
    saved = _saved_parse(tmp_path / "shared", PROFILE)
    here = _with(PROFILE, path="/runs/b/warehouse.duckdb", **change)
    done = partial_parse.seed(tmp_path / "shared", tmp_path / "b", here)
    assert done == "copied a parse made for another profile: dbt parses again"
    assert (tmp_path / "b" / partial_parse.PARTIAL_PARSE).read_bytes() == saved


def test_a_note_older_than_the_parse_beside_it_is_not_believed(tmp_path):
    """A plain `dbt parse` saved a parse for another profile after the note was written."""
    _saved_parse(tmp_path / "shared", PROFILE)
    other = _with(PROFILE, database="other", path="/runs/c/other.duckdb")
    resaved = b"\x85manifest..." + partial_parse.profile_hash(other).encode()
    (tmp_path / "shared" / partial_parse.PARTIAL_PARSE).write_bytes(resaved)
    here = _with(PROFILE, path="/runs/b/warehouse.duckdb")
    done = partial_parse.seed(tmp_path / "shared", tmp_path / "b", here)
    assert done == "copied a parse made for another profile: dbt parses again"
    assert (tmp_path / "b" / partial_parse.PARTIAL_PARSE).read_bytes() == resaved


def test_keep_makes_a_commands_parse_and_note_the_ones_later_commands_are_seeded_from(tmp_path):
    _saved_parse(tmp_path / "shared", PROFILE)
    here = _with(PROFILE, path="/runs/b/warehouse.duckdb")
    partial_parse.seed(tmp_path / "shared", tmp_path / "b", here)
    partial_parse.keep(tmp_path / "b", tmp_path / "shared")
    note = json.loads((tmp_path / "shared" / partial_parse.PROFILE_NOTE).read_text())
    assert note == {"checksum": partial_parse.profile_hash(here), "path": "/runs/b/warehouse.duckdb"}


@pytest.mark.slow
def test_dbt_reuses_the_parse_for_another_file_and_parses_again_for_another_database(tmp_path):
    """The real thing: dbt's own check accepts the stamped parse (no "Unable to do partial parsing")
    and still parses again when the database name, derived from the file's name, differs. Each
    command is seeded from the one before."""
    seen, previous = {}, None
    for name in ("a/warehouse.duckdb", "b/warehouse.duckdb", "c/other.duckdb"):
        warehouse = tmp_path / name
        target = warehouse.parent / "target"
        env = {"AW_WAREHOUSE_PATH": str(warehouse)}
        if previous is not None:
            info = partial_parse.connection_info(PROJECT_DIR, PROJECT_DIR, {**os.environ, **env})
            partial_parse.seed(previous, target, info)
        parsed = run_dbt("parse", target_path=target, env=env)
        assert parsed.returncode == 0, parsed.stdout[-3000:]
        manifest = json.loads((target / "manifest.json").read_text())
        databases = {node["database"] for node in manifest["nodes"].values()}
        seen[name] = ("Unable to do partial parsing" in parsed.stdout, databases)
        previous = target
    assert seen["b/warehouse.duckdb"] == (False, {"warehouse"})
    assert seen["c/other.duckdb"] == (True, {"other"})
