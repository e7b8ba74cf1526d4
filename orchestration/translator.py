"""How dbt resources appear in Dagster, driven only by dbt `meta` (never by model names):

- `meta.dagster.group` (set per folder in dbt_project.yml) is the asset group: the layer;
- `meta.owner` becomes the asset owner (`team:<owner>`);
- `meta.public: true` (public marts) tags the asset `public`;
- sources marked `meta.landing` are the landing files, keyed `landing/<source>/<table>` to match
  the landing assets; `meta.dagster.asset_key` on a source points it at a Python asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings


def landing_asset_key(source: str, table: str) -> dg.AssetKey:
    return dg.AssetKey(["landing", source, table])


class AudienceWarehouseTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        meta = {**(props.get("meta") or {}), **((props.get("config") or {}).get("meta") or {})}
        if props["resource_type"] == "source":
            if "landing" in (props.get("source_meta") or {}) and "dagster" not in meta:
                return spec.replace_attributes(
                    key=landing_asset_key(props["source_name"], props["name"]), group_name="landing"
                )
            return spec
        tags = dict(spec.tags)
        if meta.get("public"):
            tags["public"] = ""
        owner = meta.get("owner")
        return spec.replace_attributes(
            owners=[owner if "@" in owner else f"team:{owner}"] if owner else spec.owners,
            tags=tags,
            kinds={"dbt", "duckdb"},
        )
