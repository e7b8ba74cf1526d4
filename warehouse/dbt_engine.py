"""The dbt-duckdb plugin that gives dbt's connection the project's engine settings (memory limit,
threads, spill directory), from the one function every Python connection uses as well, so that a
bare `dbt build`, Dagster's dbt steps and the Python steps never disagree (profiles.yml lists it)."""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from warehouse import context


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        path = self.creds.path if self.creds is not None else ""
        warehouse = context.resolve_path(path) if path and path != ":memory:" else None
        context.apply_engine_settings(conn, warehouse)
