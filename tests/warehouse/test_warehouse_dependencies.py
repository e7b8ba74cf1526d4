"""The generated `-- depends_on:` blocks: committed up to date, derived from the source YAML, and
written into a model that has none yet."""

from __future__ import annotations

import shutil

from landing.contract import load_contract
from warehouse import segments
from warehouse.dependencies import (
    LANDED_BEGIN,
    LANDED_END,
    MODELS_DIR,
    checked_table_readers,
    landed_table_lines,
    landed_tables,
    refresh_checked_tables,
    write_block,
)


def test_the_committed_blocks_are_up_to_date(tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(MODELS_DIR, copy)
    assert refresh_checked_tables(copy) == [], "run `python -m warehouse.dependencies refresh`"
    catalog = copy / segments.CATALOG_MODEL.relative_to(MODELS_DIR)
    definitions = copy / segments.SEGMENTS_DIR.relative_to(MODELS_DIR)
    assert not segments.refresh_catalog(catalog, definitions), "run `make segments`"


def test_every_landed_table_is_read_by_the_quarantine_models():
    readers = {path.name: roles for path, roles in checked_table_readers().items()}
    assert readers == {
        "quarantined_rows.sql": ("base",),
        "source_reconciliation.sql": ("source", "base", "staging"),
    }
    tables = landed_tables()
    assert tables == sorted((table.source, table.table) for table in load_contract()), "the landing contract"
    lines = landed_table_lines(readers["source_reconciliation.sql"], tables)
    assert len(lines) == 3 * len(tables)
    assert "-- depends_on: {{ source('crm', 'contacts') }}" in lines
    assert "-- depends_on: {{ ref('base_crm__contacts') }}" in lines
    assert "-- depends_on: {{ ref('stg_crm__contacts') }}" in lines


def test_a_block_is_inserted_after_the_doc_comment_then_replaced(tmp_path):
    model = tmp_path / "model.sql"
    model.write_text("{#- What it is. -#}\nselect 1\n")
    assert write_block(model, LANDED_BEGIN, LANDED_END, ["-- depends_on: {{ ref('a') }}"])
    assert model.read_text() == (
        f"{{#- What it is. -#}}\n{LANDED_BEGIN}\n-- depends_on: {{{{ ref('a') }}}}\n{LANDED_END}\nselect 1\n"
    )
    assert write_block(model, LANDED_BEGIN, LANDED_END, [])
    assert model.read_text() == f"{{#- What it is. -#}}\n{LANDED_BEGIN}\n{LANDED_END}\nselect 1\n"
    assert not write_block(model, LANDED_BEGIN, LANDED_END, [])
