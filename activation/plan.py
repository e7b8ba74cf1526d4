"""What a sync would do, decided without any I/O: the diff of one list against its sync state, the
volume guard, and the ESP-wide suppression plan. Pure functions of Arrow tables and DataFrames
(the diff is a hash join in an in-memory DuckDB, not the warehouse), so the rules can be read and
tested on their own.

Diff: an eligible member not in the state (or still pending there) is created, one whose payload
hash changed is updated, the rest are unchanged. A state member no longer eligible leaves: removed
when we added them (or they are pending), released (forgotten, left in place) otherwise. A member
who leaves for a consent reason (suppressed, erased, excluded for consent) is a consent removal,
which the volume guard never holds back."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from activation.audience import CONSENT_REASONS, PreparedAudience, SuppressionIndex
from activation.payload import as_objects
from activation.routing import ESP_WIDE, Route
from activation.state_tables import LIST_STATE_COLUMNS
from warehouse.context import connect_in_memory

# The sync state of a list as the diff reads it (Warehouse.list_context's columns): text, but for
# the two flags.
STATE_SCHEMA = pa.schema(
    [
        (name, pa.bool_() if name in ("created_by_us", "pending") else pa.string())
        for name in LIST_STATE_COLUMNS
    ]
)


@dataclass
class SyncPlan:
    """What a run would do for one list."""

    route: Route
    prepared: PreparedAudience
    creates: pd.DataFrame
    updates: pd.DataFrame
    removes: pd.DataFrame
    releases: pd.DataFrame
    unchanged: int
    consent_removes: int
    state_size: int
    shrink_share: float
    refused: bool
    guard_message: str
    known_list: tuple[str, bool] | None = None

    def counts(self) -> dict[str, int]:
        return {
            "rows_in": self.prepared.rows_in,
            "eligible": self.prepared.members.num_rows,
            "excluded": len(self.prepared.excluded),
            "creates": len(self.creates),
            "updates": len(self.updates),
            "removes": len(self.removes),
            "releases": len(self.releases),
            "unchanged": self.unchanged,
            "consent_removes": self.consent_removes,
        }

    @property
    def is_empty(self) -> bool:
        """Nothing to send: no create, update, remove or release."""
        return self.creates.empty and self.updates.empty and self.removes.empty and self.releases.empty


@dataclass(frozen=True)
class VolumeGuard:
    """A list may not lose more than `max_shrink_share` of its members, or all of them, in one run
    for reasons other than consent, once at least `min_members` would leave: small lists churn by
    nature and are not collapses."""

    max_shrink_share: float = 0.2
    min_members: int = 25

    def check(self, list_key: str, size: int, leaving: int, remaining: int) -> str:
        """Why the shrink is refused (an empty text when it is not): `size` members in the state,
        `leaving` of them for non-consent reasons, `remaining` eligible after the run."""
        share = leaving / size if size else 0.0
        collapsing = remaining == 0 or share > self.max_shrink_share
        if not (size and leaving and leaving >= self.min_members and collapsing):
            return ""
        return (
            f"volume guard: {leaving} of {size} members ({share:.1%}) would leave {list_key}, "
            f"above the {self.max_shrink_share:.0%} limit"
            + (" (the audience is empty)" if remaining == 0 else "")
        )


def _is_in(values: pd.Series, candidates: pd.Series) -> np.ndarray:
    """`values.isin(candidates)` for member keys, by Arrow's hash lookup: pandas' isin on Arrow-backed
    strings compares in a Python loop (1.2 s of an unchanged re-sync of 200,000 members). A missing
    key is in nothing."""
    found = pc.is_in(
        pa.array(values, type=pa.string(), from_pandas=True),
        value_set=pa.array(candidates.dropna(), type=pa.string(), from_pandas=True),
    )
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def _state_table(state: pa.Table | pd.DataFrame) -> pa.Table:
    """The sync state of a list as Arrow, in the columns and types the diff reads."""
    if isinstance(state, pa.Table):
        return state.select(STATE_SCHEMA.names).cast(STATE_SCHEMA)
    return pa.Table.from_pandas(state[STATE_SCHEMA.names], schema=STATE_SCHEMA, preserve_index=False)


def _frame(table: pa.Table) -> pd.DataFrame:
    """Arrow rows as a pandas frame of object columns (None when missing), as the push reads them."""
    return pd.DataFrame({name: as_objects(table.column(name)) for name in table.column_names})


def _diff(members: pa.Table, state: pa.Table) -> pa.Table:
    """Each eligible member's row number and its state row number (null when not in the state),
    in no particular order, with its change: create (not in the state, or pending there), update
    (another payload hash) or unchanged. One hash join in an in-memory DuckDB over the Arrow
    tables."""
    keyed_members = pa.table(
        {
            "member_row": pa.array(np.arange(members.num_rows), type=pa.int64()),
            "member_key": members.column("member_key"),
            "payload_hash": members.column("payload_hash"),
        }
    )
    keyed_state = pa.table(
        {
            "state_row": pa.array(np.arange(state.num_rows), type=pa.int64()),
            "member_key": state.column("member_key"),
            "payload_hash": state.column("payload_hash"),
            "pending": state.column("pending"),
        }
    )
    with connect_in_memory() as con:
        con.register("members", keyed_members)
        con.register("state", keyed_state)
        return con.execute(
            """SELECT m.member_row, s.state_row,
                      CASE WHEN s.state_row IS NULL OR coalesce(s.pending, FALSE) THEN 'create'
                           WHEN s.payload_hash IS DISTINCT FROM m.payload_hash THEN 'update'
                           ELSE 'unchanged' END AS change
               FROM members AS m LEFT JOIN state AS s ON s.member_key = m.member_key"""
        ).to_arrow_table()


def _changed(members: pa.Table, state: pa.Table, diff: pa.Table, change: str) -> pd.DataFrame:
    """The eligible members of one change with their state columns (state_customer_key,
    esp_record_id, state_hash, created_by_us, pending) and `_merge` (both: in the state)."""
    rows = diff.filter(pc.equal(diff.column("change"), change)).sort_by("member_row")
    stored = state.take(rows.column("state_row")).rename_columns(
        ["member_key", "state_customer_key", "esp_record_id", "state_hash", "created_by_us", "pending"]
    )
    frame = _frame(members.take(rows.column("member_row")))
    for name in stored.column_names[1:]:
        frame[name] = as_objects(stored.column(name))
    frame["_merge"] = as_objects(pc.if_else(pc.is_null(rows.column("state_row")), "left_only", "both"))
    return frame


def plan_list(
    route: Route,
    prepared: PreparedAudience,
    state: pa.Table | pd.DataFrame,
    suppression: SuppressionIndex,
    guard: VolumeGuard,
    *,
    force: bool = False,
    known_list: tuple[str, bool] | None = None,
) -> SyncPlan:
    """The plan of one list from its prepared audience and its sync state (member_key,
    customer_key, esp_record_id, payload_hash, created_by_us, pending; an Arrow table or a frame).
    The diff is a hash join in DuckDB; only the members that change and those who leave become
    pandas rows."""
    members = prepared.members
    stored = _state_table(state)
    diff = _diff(members, stored)
    creates = _changed(members, stored, diff, "create")
    updates = _changed(members, stored, diff, "update")
    unchanged = int(pc.sum(pc.equal(diff.column("change"), "unchanged")).as_py() or 0)
    matched = np.zeros(stored.num_rows, dtype=bool)
    matched[diff.column("state_row").drop_null().to_numpy()] = True
    leaving = _frame(stored.filter(pa.array(~matched)))
    consent = suppression.reasons(leaving["member_key"], leaving["customer_key"]).notna()
    excluded_consent = prepared.excluded[prepared.excluded["reason"].isin(CONSENT_REASONS)]
    consent |= _is_in(leaving["member_key"], excluded_consent["member_key"])
    leaving["consent"] = consent.to_numpy()
    ours = leaving["created_by_us"].astype("boolean").fillna(False).astype(bool) | leaving["pending"].astype(
        "boolean"
    ).fillna(False).astype(bool)
    non_consent = int((~leaving["consent"]).sum())
    size = stored.num_rows
    message = guard.check(route.list_key, size, non_consent, members.num_rows)
    if message and force:
        message += "; forced"
    return SyncPlan(
        route=route,
        prepared=prepared,
        creates=creates,
        updates=updates,
        removes=leaving[ours.to_numpy()],
        releases=leaving[~ours.to_numpy()],
        unchanged=unchanged,
        consent_removes=int(leaving["consent"].sum()),
        state_size=size,
        shrink_share=non_consent / size if size else 0.0,
        refused=bool(message) and not force,
        guard_message=message,
        known_list=known_list,
    )


def consent_only(plan: SyncPlan) -> SyncPlan:
    """The part of a refused plan that still goes through: the members who must not be mailed
    leave, nothing else is sent."""
    nothing = plan.creates.iloc[0:0]
    return replace(
        plan,
        creates=nothing,
        updates=nothing,
        removes=plan.removes[plan.removes["consent"].astype(bool).to_numpy()],
        releases=plan.releases[plan.releases["consent"].astype(bool).to_numpy()],
    )


def suppression_plan(state: pd.DataFrame, suppression: SuppressionIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From an ESP's state rows (any list and its ESP-wide rows; Warehouse.esp_state reads only
    those the suppression frame names and the ESP-wide rows, the only ones that matter here): one
    row per address to suppress now (consent reason, not yet acknowledged), and the suppression
    rows of people no longer suppressed, to forget."""
    state = state.assign(reason=suppression.reasons(state["member_key"], state["customer_key"]).to_numpy())
    marker = (state["list_key"] == ESP_WIDE).to_numpy()
    pending = state["pending"].astype(bool).to_numpy()
    done = set(state.loc[marker & ~pending, "member_key"])
    flagged = state[state["reason"].notna()]
    wanted = flagged[~flagged["member_key"].isin(done)].sort_values(["member_key", "list_key"], kind="stable")
    ids = wanted.dropna(subset=["esp_record_id"]).drop_duplicates("member_key").set_index("member_key")
    wanted = wanted.drop_duplicates("member_key").reset_index(drop=True)
    wanted["esp_record_id"] = wanted["member_key"].map(ids["esp_record_id"]).astype(object)
    stale = state[marker & ~state["member_key"].isin(flagged["member_key"]).to_numpy()]
    return wanted, stale
