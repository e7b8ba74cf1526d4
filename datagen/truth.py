"""The hidden ground truth of a block: who each contact is and what they will buy after as_of.

The pipeline never reads it; tests and benchmarks measure the models against it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from datagen.personas import PERSONA_NAMES
from datagen.simulate.plan import Plan
from datagen.tables.ids import contact_ids
from datagen.text import DAY
from datagen.vocab import CATEGORY_NAMES, COUNTRIES

CUSTOMER_SCHEMA = pa.schema(
    [
        ("contact_id", pa.string()),
        ("persona", pa.string()),
        ("signup_at", pa.timestamp("s", tz="UTC")),
        ("country", pa.string()),
        ("purchase_rate_per_year", pa.float64()),
        ("dropout_probability", pa.float64()),
        ("forced_death", pa.bool_()),
        ("death_at", pa.timestamp("s", tz="UTC")),
        ("alive_at_as_of", pa.bool_()),
        ("mean_order_value_usd", pa.float64()),
        ("discount_propensity", pa.float64()),
        ("browse_sessions_per_year", pa.float64()),
        ("cart_abandon_propensity", pa.float64()),
        ("email_open_propensity", pa.float64()),
        ("email_click_propensity", pa.float64()),
        ("unsubscribe_propensity", pa.float64()),
        ("preferred_hour", pa.int8()),
        ("preferred_weekday", pa.int8()),
        ("favourite_category", pa.string()),
        ("category_affinity", pa.list_(pa.float32())),
        ("device_preference", pa.list_(pa.float32())),
        ("n_devices", pa.int8()),
        ("email_opt_in", pa.bool_()),
        ("tracking_consent", pa.bool_()),
        ("bad_address", pa.bool_()),
        ("orders_before_as_of", pa.int32()),
        ("revenue_before_as_of", pa.float64()),
        ("last_order_at", pa.timestamp("s", tz="UTC")),
        ("orders_next_30d", pa.int32()),
        ("revenue_next_30d", pa.float64()),
        ("orders_next_90d", pa.int32()),
        ("revenue_next_90d", pa.float64()),
    ]
)
FUTURE_SCHEMA = pa.schema(
    [
        ("contact_id", pa.string()),
        ("ordered_at", pa.timestamp("s", tz="UTC")),
        ("total_usd", pa.float64()),
        ("n_lines", pa.int32()),
    ]
)


def _timestamps(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    seconds = np.asarray(seconds, dtype=np.int64)
    mask = None if valid is None else ~valid
    return pa.array(seconds, type=pa.int64(), mask=mask).cast(pa.timestamp("s", tz="UTC"))


def customer_truth(
    plan: Plan, number: np.ndarray, c: dict[str, np.ndarray], orders: dict[str, np.ndarray]
) -> pa.Table:
    """One row per contact of the block: persona, latent parameters, past orders and the future."""
    n = len(number)
    owner = orders["owner"]
    past_count = np.bincount(owner, minlength=n)
    past_revenue = np.bincount(owner, weights=orders["total"], minlength=n) / 100
    last_order = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_order, owner, orders["at"])
    future_owner, future_at, future_total = (
        orders["future_owner"],
        orders["future_at"],
        orders["future_total"],
    )
    within_30 = future_at < plan.as_of + 30 * DAY
    death = c["death_at"]
    affinity = c["category_affinity"].astype(np.float32)
    devices = c["device_preference"].astype(np.float32)
    columns = {
        "contact_id": contact_ids(number),
        "persona": pa.array(np.array(PERSONA_NAMES)[c["persona"]], pa.string()),
        "signup_at": _timestamps(c["signup_at"]),
        "country": pa.array(np.array([x[0] for x in COUNTRIES])[c["country"]], pa.string()),
        "purchase_rate_per_year": pa.array(c["purchase_rate"]),
        "dropout_probability": pa.array(c["dropout"]),
        "forced_death": pa.array(c["forced_death_at"] >= 0),
        "death_at": _timestamps(death, death >= 0),
        "alive_at_as_of": pa.array((death < 0) | (death >= plan.as_of)),
        "mean_order_value_usd": pa.array(c["mean_order_value"]),
        "discount_propensity": pa.array(c["discount_propensity"]),
        "browse_sessions_per_year": pa.array(c["browse_rate"]),
        "cart_abandon_propensity": pa.array(c["cart_abandon"]),
        "email_open_propensity": pa.array(c["email_open"]),
        "email_click_propensity": pa.array(c["email_click"]),
        "unsubscribe_propensity": pa.array(c["unsubscribe"].astype(float)),
        "preferred_hour": pa.array(c["preferred_hour"]),
        "preferred_weekday": pa.array(c["preferred_weekday"]),
        "favourite_category": pa.array(np.array(CATEGORY_NAMES)[np.argmax(affinity, axis=1)], pa.string()),
        "category_affinity": pa.FixedSizeListArray.from_arrays(
            pa.array(affinity.reshape(-1)), affinity.shape[1]
        ).cast(pa.list_(pa.float32())),
        "device_preference": pa.FixedSizeListArray.from_arrays(
            pa.array(devices.reshape(-1)), devices.shape[1]
        ).cast(pa.list_(pa.float32())),
        "n_devices": pa.array(c["n_devices"]),
        "email_opt_in": pa.array(c["email_opt_in"]),
        "tracking_consent": pa.array(c["tracking_consent"]),
        "bad_address": pa.array(c["bad_address"]),
        "orders_before_as_of": pa.array(past_count.astype(np.int32)),
        "revenue_before_as_of": pa.array(np.round(past_revenue, 2)),
        "last_order_at": _timestamps(last_order, last_order >= 0),
        "orders_next_30d": pa.array(np.bincount(future_owner[within_30], minlength=n).astype(np.int32)),
        "revenue_next_30d": pa.array(
            np.round(
                np.bincount(future_owner[within_30], weights=future_total[within_30], minlength=n) / 100, 2
            )
        ),
        "orders_next_90d": pa.array(np.bincount(future_owner, minlength=n).astype(np.int32)),
        "revenue_next_90d": pa.array(
            np.round(np.bincount(future_owner, weights=future_total, minlength=n) / 100, 2)
        ),
    }
    return pa.table(columns, schema=CUSTOMER_SCHEMA)


def future_orders(number: np.ndarray, orders: dict[str, np.ndarray]) -> pa.Table:
    """The block's simulated orders after as_of, by contact and time."""
    order = np.lexsort((orders["future_at"], orders["future_owner"]))
    return pa.table(
        {
            "contact_id": contact_ids(number[orders["future_owner"][order]]),
            "ordered_at": _timestamps(orders["future_at"][order]),
            "total_usd": pa.array(orders["future_total"][order] / 100),
            "n_lines": pa.array(orders["future_lines"][order].astype(np.int32)),
        },
        schema=FUTURE_SCHEMA,
    )
