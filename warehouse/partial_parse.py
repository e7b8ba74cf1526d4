"""dbt's saved parse of the project, reused by a dbt command against another warehouse file.

dbt saves its parse (partial_parse.msgpack) and reuses it when nothing it depends on has changed.
One of those things is a hash of the whole connection profile, the DuckDB file's path included.
Nothing in the project reads that path at parse time; the database name derived from it is a key
of its own and stays in the hash. So a step or a test against another warehouse file parsed the
whole project again for nothing: 5 to 6 s of every such dbt command, 27 times in one run of the
test suite.

`seed` copies a saved parse into a new target folder and writes beside it a note of the profile
it will be saved for. A later `seed` from that folder, for a profile that differs from the noted
one by the path alone, stamps the copy with the new profile's hash. It checks this with dbt's own
hash, recomputed with the noted path. Any other difference leaves the copy as it was and dbt parses
again: a different database name, settings or plugins, or a parse that a plain dbt command saved
after the note was written. So the worst case is the parse dbt would have done anyway, never a
manifest made for another profile."""

from __future__ import annotations

import json
import os
import pprint
import shutil
import sys
import tempfile
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path

PARTIAL_PARSE = "partial_parse.msgpack"
PROFILE_NOTE = "partial_parse.profile.json"
PATH_KEY = "path"

ConnectionInfo = list[tuple[str, object]]


def connection_info(
    project_dir: Path, profiles_dir: Path, env: Mapping[str, str], target: str | None = None
) -> ConnectionInfo:
    """The profile's connection keys and values as dbt hashes them, rendered with `env`: what a
    dbt command started with that environment would compare its saved parse against. Sets dbt's
    process-wide flags and invocation context, as dagster-dbt does before each dbt command."""
    from dbt.config.runtime import load_profile
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_invocation_context(dict(env))
    set_from_args(Namespace(profiles_dir=str(profiles_dir)), None)
    profile = load_profile(str(project_dir), {}, None, target)
    return sorted(profile.credentials.connection_info())


def profile_hash(info: ConnectionInfo) -> str:
    """dbt's hash of the profile (ManifestLoader.build_manifest_state_check)."""
    from dbt.contracts.files import FileHash

    return FileHash.from_contents(pprint.pformat(info)).checksum


def seed(source: Path, destination: Path, info: ConnectionInfo) -> str:
    """Copy source/partial_parse.msgpack into the destination folder for a dbt command with this
    profile, and note the profile there; returns what was done, for the log."""
    destination.mkdir(parents=True, exist_ok=True)
    current = _write_note(destination, info)
    saved = source / PARTIAL_PARSE
    if (destination / PARTIAL_PARSE).exists():
        return "kept the parse already there"
    if not saved.exists():
        return "no saved parse to copy"
    content = saved.read_bytes()
    if current.encode() in content:
        shutil.copy(saved, destination / PARTIAL_PARSE)
        return "copied a parse made for this profile"
    noted = _profile_note(source)
    if noted is None or PATH_KEY not in dict(info):
        shutil.copy(saved, destination / PARTIAL_PARSE)
        return "copied a parse made for another profile: dbt parses again"
    with_noted_path = [(key, noted["path"] if key == PATH_KEY else value) for key, value in info]
    old = noted["checksum"].encode()
    if profile_hash(with_noted_path) != noted["checksum"] or content.count(old) != 1:
        shutil.copy(saved, destination / PARTIAL_PARSE)
        return "copied a parse made for another profile: dbt parses again"
    _write_atomically(destination / PARTIAL_PARSE, content.replace(old, current.encode()))
    return f"reused the parse made for {noted['path']}"


def keep(parsed: Path, shared: Path) -> None:
    """Make the parse a dbt command saved in `parsed` (a folder `seed` prepared) the one later
    commands are seeded from, with its note; each file replaced in one rename, so a reader never
    sees half of one (and a parse paired with another's note is merely parsed again)."""
    if not (parsed / PARTIAL_PARSE).exists():
        return
    shared.mkdir(parents=True, exist_ok=True)
    _write_atomically(shared / PARTIAL_PARSE, (parsed / PARTIAL_PARSE).read_bytes())
    if (parsed / PROFILE_NOTE).exists():
        _write_atomically(shared / PROFILE_NOTE, (parsed / PROFILE_NOTE).read_text())


def note(folder: Path, info: ConnectionInfo) -> bool:
    """Note the profile of a parse that a plain `dbt parse` saved in `folder`, when it was made for
    this one (the Makefile's setup does, after parsing), so later commands can reuse it."""
    parse = folder / PARTIAL_PARSE
    if not parse.exists() or profile_hash(info).encode() not in parse.read_bytes():
        return False
    _write_note(folder, info)
    return True


def _write_note(folder: Path, info: ConnectionInfo) -> str:
    checksum = profile_hash(info)
    noted = {"checksum": checksum, "path": dict(info).get(PATH_KEY)}
    _write_atomically(folder / PROFILE_NOTE, json.dumps(noted))
    return checksum


def _profile_note(folder: Path) -> dict | None:
    try:
        noted = json.loads((folder / PROFILE_NOTE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(noted, dict) or not isinstance(noted.get("checksum"), str):
        return None
    return noted


def _write_atomically(path: Path, content: str | bytes) -> None:
    data = content.encode() if isinstance(content, str) else content
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}-", delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)


if __name__ == "__main__":
    # python -m warehouse.partial_parse FOLDER: note the profile of the parse dbt just saved there.
    from warehouse.context import PROJECT_DIR

    noted = note(Path(sys.argv[1]), connection_info(PROJECT_DIR, PROJECT_DIR, os.environ))
    print(f"partial parse in {sys.argv[1]}: {'noted' if noted else 'made for another profile, not noted'}")
