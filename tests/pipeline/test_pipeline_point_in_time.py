"""At every feature cutoff the features see only what was known then. One warehouse, built through
Dagster from landing files that plant each known leak; every test reads one customer at the cutoff
2026-05-31 (as_of 2026-06-30, cutoffs every 30 days) and at as_of:

- a CRM record written after the cutoff is not backfilled: no country, no loyalty tier before it;
- an order refunded after the cutoff is still a purchase at it;
- a cancellation netted after the cutoff (the Online Retail mapping) does not shrink the order at it.
"""

from __future__ import annotations

import shutil

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from examples.online_retail.mapping import map_online_retail
from examples.online_retail.output import write_landing
from orchestration.definitions import defs
from orchestration.run_config import as_of_run_config
from tests.pipeline.helpers import (
    CONTACT_HEADER,
    ORDER_HEADER,
    contact,
    failure_messages,
    order,
    query,
    write_csv,
)

AS_OF = "2026-06-30T00:00:00"
CUTOFF = "2026-05-31 00:00:00"
FEATURES = dg.AssetKey(["marts", "customer_features"])


def _retail_export() -> pd.DataFrame:
    """Customer 99 buys ten at £2.50 on 1 April and cancels four on 10 June."""
    lines = [
        ("R1", "22423", 10, "2026-04-01 10:00:00"),
        ("CR2", "22423", -4, "2026-06-10 09:00:00"),
    ]
    return pd.DataFrame(
        {
            "InvoiceNo": [invoice for invoice, *_ in lines],
            "StockCode": [code for _, code, *_ in lines],
            "Description": "HEART T-LIGHT",
            "Quantity": [quantity for _, _, quantity, _ in lines],
            "InvoiceDate": [at for *_, at in lines],
            "UnitPrice": 2.5,
            "CustomerID": 99.0,
            "Country": "United Kingdom",
        }
    )


def _order(
    order_id: str, contact_id: str, total: str, ordered_at: str, status: str, updated_at: str
) -> list[str]:
    """One order version; updated_at blank for an order exported once."""
    row = dict(zip(ORDER_HEADER, order(order_id, contact_id, total=total), strict=True))
    row.update(ordered_at=ordered_at, status=status)
    return [*row.values(), updated_at]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("point_in_time")
    landing = root / "landing"
    header = [*ORDER_HEADER, "updated_at"]
    write_csv(
        landing / "crm" / "contacts.csv",
        CONTACT_HEADER,
        [
            # C1 buys in March; the CRM writes its first record in June.
            contact(
                "C1", "c1@example.com", updated_at="2026-06-15T00:00:00Z", country="DE", loyalty_tier="gold"
            ),
            # C2 has a record all along.
            contact(
                "C2", "c2@example.com", updated_at="2026-01-01T00:00:00Z", country="FR", loyalty_tier="bronze"
            ),
        ],
    )
    write_csv(
        landing / "orders" / "orders.csv",
        header,
        [
            _order("O1", "C1", "10.00", "2026-03-01T10:00:00Z", "completed", "2026-03-01T10:00:00Z"),
            # C2's order of 10 April, refunded on 5 June: two versions of the order.
            _order("O2", "C2", "40.00", "2026-04-10T10:00:00Z", "completed", "2026-04-10T10:00:00Z"),
            _order("O2", "C2", "40.00", "2026-04-10T10:00:00Z", "refunded", "2026-06-05T10:00:00Z"),
            _order("O3", "C2", "10.00", "2026-02-10T10:00:00Z", "completed", ""),
        ],
    )
    mapped = root / "mapped"
    write_landing(map_online_retail(_retail_export()).tables, mapped)
    for path in mapped.glob("*/*.csv"):
        target = landing / path.parent.name / f"{path.stem}_retail{path.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AW_LANDING_DIR", str(landing))
        patch.setenv("AW_WAREHOUSE_PATH", str(root / "warehouse.duckdb"))
        job = dg.define_asset_job(
            "point_in_time",
            selection=dg.AssetSelection.assets(FEATURES).upstream().required_multi_asset_neighbors(),
        )
        definitions = dg.Definitions(
            assets=list(defs.assets),
            asset_checks=list(defs.asset_checks),
            jobs=[job],
            resources=defs.resources,
        )
        resolved = definitions.resolve_job_def("point_in_time")
        result = resolved.execute_in_process(
            run_config=as_of_run_config(resolved, AS_OF), raise_on_error=False
        )
    assert result.success, failure_messages(result)
    return root / "warehouse.duckdb"


def _features(warehouse, contact_id: str) -> dict[str, dict]:
    """The customer's feature rows by cutoff date."""
    rows = query(
        warehouse,
        "select cast(features.feature_as_of as varchar), features.country, features.loyalty_tier, "
        "features.frequency_orders, features.monetary_total, features.refund_share "
        "from marts.customer_features as features "
        "inner join intermediate.int_customers_resolved as customers using (customer_key) "
        f"where customers.contact_id = '{contact_id}'",
    )
    columns = ("country", "loyalty_tier", "frequency_orders", "monetary_total", "refund_share")
    return {cutoff: dict(zip(columns, values, strict=True)) for cutoff, *values in rows}


def test_a_crm_record_written_after_the_cutoff_gives_no_country_before_it(warehouse):
    features = _features(warehouse, "C1")
    assert features[CUTOFF]["country"] is None, "the country of a record written on 15 June leaked to 31 May"
    assert features["2026-06-30 00:00:00"]["country"] == "DE"


def test_a_loyalty_tier_written_after_the_cutoff_is_not_backfilled(warehouse):
    features = _features(warehouse, "C1")
    assert features[CUTOFF]["loyalty_tier"] is None, "a tier earned later leaked to 31 May"
    assert features["2026-06-30 00:00:00"]["loyalty_tier"] == "gold"
    assert _features(warehouse, "C2")[CUTOFF]["loyalty_tier"] == "bronze"


def test_an_order_refunded_after_the_cutoff_is_a_purchase_at_it(warehouse):
    features = _features(warehouse, "C2")
    at_cutoff, at_as_of = features[CUTOFF], features["2026-06-30 00:00:00"]
    assert at_cutoff["frequency_orders"] == 2, "the refund of 5 June was known on 31 May"
    assert at_cutoff["refund_share"] == 0
    assert at_as_of["frequency_orders"] == 1
    assert at_as_of["refund_share"] == pytest.approx(0.5)
    (status,) = query(
        warehouse, "select order_status from intermediate.int_orders_attributed where order_id = 'O2'"
    )[0]
    assert status == "refunded"


def test_a_cancellation_netted_after_the_cutoff_does_not_shrink_the_order_at_it(warehouse):
    features = _features(warehouse, "99")
    at_cutoff, at_as_of = features[CUTOFF], features["2026-06-30 00:00:00"]
    assert at_cutoff["frequency_orders"] == at_as_of["frequency_orders"] == 1
    ratio = at_cutoff["monetary_total"] / at_as_of["monetary_total"]
    assert np.isclose(ratio, 25.0 / 15.0, rtol=1e-3), "the cancellation of 10 June was netted on 31 May"
