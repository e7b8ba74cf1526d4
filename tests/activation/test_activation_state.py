"""The activation tables (activation/state.py, state_tables.py) on both engines: the Spark
variant (activation/state_spark.py) runs the same statements on an in-memory copy created by
`create_tables`; here its "catalog" is a DuckDB file behind the same engine interface, so the copy,
the write-back and the sync's reads (an Arrow state, the suppression pass's filtered rows) are
exercised without a Spark session (all but erased_addresses, which asks Spark SQL)."""

from __future__ import annotations

import duckdb

from activation.state_spark import SparkStateWarehouse
from activation.state_tables import TABLES
from activation.sync import SyncEngine
from tests.activation.helpers import audience, email_of, no_suppressions, suppressions
from warehouse.engine import DuckDBEngine


class _CopyOverDuckDB(SparkStateWarehouse):
    """SparkStateWarehouse whose catalog is a DuckDB file; no tombstones to look up."""

    def erased_addresses(self, emails) -> set[str]:
        return set()


def test_the_spark_state_copy_syncs_re_syncs_and_suppresses_as_the_duckdb_file_does(fake, config, tmp_path):
    catalog = tmp_path / "catalog.duckdb"
    desired = audience("mailchimp", "vip", range(20))

    def run(frame, supp):
        warehouse = _CopyOverDuckDB(DuckDBEngine(catalog))
        with SyncEngine(warehouse, config) as engine:
            results = engine.sync(frame, supp)
        warehouse.close()
        return results

    first = run(desired, no_suppressions())
    assert first[0].status == "success" and first[0].counts["creates"] == 20
    with duckdb.connect(str(catalog), read_only=True) as con:
        stored = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert set(TABLES) <= stored
        assert con.execute("SELECT count(*) FROM activation.sync_state").fetchone()[0] == 20
    again = run(desired, no_suppressions())
    assert (
        again[0].counts["unchanged"] == 20 and again[0].counts["creates"] == again[0].counts["updates"] == 0
    )
    fake.reset_log()
    supp = suppressions([(email_of(3), None, "unsubscribed")])
    withdrawn = run(desired, supp)
    assert withdrawn[0].counts["removes"] == 1 and withdrawn[0].counts["consent_removes"] == 1
    assert withdrawn[1].list_key == "*" and withdrawn[1].counts["suppressions"] == 1
    assert fake.mailchimp_member(email_of(3))["status"] == "unsubscribed"
    assert email_of(3) not in fake.list_members("mailchimp", "vip")
