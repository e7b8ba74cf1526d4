"""The translator turns dbt metadata into Dagster asset specs, driven by `meta` only: these tests run
it on the project's real manifest, in seconds."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from orchestration.project import dbt_project
from orchestration.translator import AudienceWarehouseTranslator, landing_asset_key


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(dbt_project.manifest_path.read_text())


def _spec(manifest: dict, unique_id: str) -> dg.AssetSpec:
    return AudienceWarehouseTranslator().get_asset_spec(manifest, unique_id, dbt_project)


def _node(manifest: dict, resource_type: str, name: str) -> str:
    table = manifest["sources"] if resource_type == "source" else manifest["nodes"]
    return next(key for key, node in table.items() if node["name"] == name)


def test_a_landing_source_is_the_landing_asset_of_its_file(manifest):
    unique_id = next(
        key
        for key, node in manifest["sources"].items()
        if node["source_name"] == "crm" and node["name"] == "contacts"
    )
    spec = _spec(manifest, unique_id)
    assert spec.key == landing_asset_key("crm", "contacts")
    assert spec.group_name == "landing"


@pytest.mark.parametrize(
    ("model", "group"),
    [
        ("stg_crm__contacts", "staging"),
        ("int_customer_consent_resolved", "intermediate"),
        ("customer_rfm", "marts"),
        ("new_customers", "segments"),
        ("segment_membership", "segments"),
        ("audience_members", "audiences"),
        ("audience_export", "restricted"),
        ("erasure_tombstones", "privacy"),
        ("quarantined_rows", "quarantine"),
    ],
)
def test_a_model_lands_in_the_group_of_its_folder_meta(manifest, model, group):
    assert _spec(manifest, _node(manifest, "model", model)).group_name == group


def test_a_model_owner_in_meta_becomes_a_team_owner_and_public_marts_are_tagged(manifest):
    spec = _spec(manifest, _node(manifest, "model", "customer_profiles"))
    meta = manifest["nodes"][_node(manifest, "model", "customer_profiles")]["config"]["meta"]
    assert spec.owners == [f"team:{meta['owner']}"]
    assert "public" in spec.tags


def test_the_segment_catalog_depends_on_every_segment_through_dbt_itself(manifest):
    catalog = manifest["nodes"][_node(manifest, "model", "segment_membership")]
    segments = {key for key, node in manifest["nodes"].items() if "segment" in node.get("tags", [])}
    assert segments and segments <= set(catalog["depends_on"]["nodes"])
