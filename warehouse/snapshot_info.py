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
    if not published.exists():
        return None
    try:
        with connect(published, read_only=True) as snapshot:
            return snapshot.execute("select landing_fingerprint from main.snapshot_info").fetchone()[0]
    except duckdb.Error:
        return None


def published_source_fingerprints(published: Path) -> dict[str, str] | None:
    """The per-source landing fingerprints of the run a snapshot was published from; None without
    a snapshot or when it predates them (the sensor then takes the full path)."""
    if not published.exists():
        return None
    try:
        with connect(published, read_only=True) as snapshot:
            text = snapshot.execute("select landing_source_fingerprints from main.snapshot_info").fetchone()[
                0
            ]
    except duckdb.Error:
        return None
    return json.loads(text) if text else None
