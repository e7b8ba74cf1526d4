"""What a published snapshot says about the run it came from (`main.snapshot_info`, written by
warehouse/publish.py): the landing files that run processed, whole and per source. The file-arrival
sensor reads it to tell files already processed from new ones, and which sources are new."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from warehouse.context import connect


def published_landing_fingerprint(published: Path) -> str | None:
    """The landing fingerprint of the run a snapshot was published from (None without one): the
    file-arrival sensor's proof that files were already processed."""
    return _snapshot_info(published, "landing_fingerprint")


def published_source_fingerprints(published: Path) -> dict[str, str] | None:
    """The per-source landing fingerprints of the run a snapshot was published from; None without
    a snapshot or when it predates them (the sensor then takes the full path)."""
    text = _snapshot_info(published, "landing_source_fingerprints")
    return json.loads(text) if text else None


def _snapshot_info(published: Path, column: str):
    """One column of the snapshot's snapshot_info row; None without a snapshot or the column."""
    if not published.exists():
        return None
    try:
        with connect(published, read_only=True) as snapshot:
            return snapshot.execute(f"select {column} from main.snapshot_info").fetchone()[0]
    except duckdb.Error:
        return None
