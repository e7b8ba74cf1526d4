"""Holdout experiments: who was held back from a campaign, which arm the others got, and what the
campaign did.

Arms are decided in SQL, once (macros/run/holdout.sql, vars holdout_salt and holdout_share, seed
campaign_arms): restricted.audience_export carries each member's holdout_arm with the bucket, share
and hash that decided it. A campaign has a control arm and either the one arm `treatment` or the
arms of its content test. This module never hashes: `holdout_assignments` takes the SQL's
assignment as it is, after a guard that fails loudly, naming the rows, when a row contradicts it
(an arm missing or malformed, a bucket or share outside [0, 1), control not exactly bucket <
share, a campaign's arms interleaved on the bucket line, two arms for one member of a campaign).
The sync engine exports every arm but control and logs every assignment
(activation.holdout_assignments).

`analyze_holdout` compares one arm with a reference arm and `analyze_arms` every other arm of a
campaign with it, Holm-adjusting the p-values across them (activation/experiment_analysis.py; the
formulas are in activation/experiment_stats.py); `analyze_campaigns` does it for every campaign
and content test whose outcome window has closed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from activation import experiment_stats as st
from activation.errors import InputError
from activation.experiment_analysis import (
    CONTROL,
    MIN_CONVERTERS_PER_ARM,
    TREATMENT,
    HoldoutAnalysis,
    analyze_arms,
    analyze_holdout,
    arm_table,
)

HOLDOUT_COLUMNS = ("holdout_arm", "holdout_bucket", "holdout_share", "holdout_hash_version")
ASSIGNMENT_COLUMNS = ["campaign_key", "customer_key", "arm", "bucket", "share", "hash_version"]
ARM_NAME = r"[a-z0-9_]+"
# rows named in a guard's error, at most
SHOWN = 5


def holdout_assignments(rows: pd.DataFrame) -> pd.DataFrame:
    """campaign_key, customer_key, arm, bucket, share, hash_version of every row with a campaign
    and a customer key, as SQL assigned them (index kept, so a caller can find the rows). Raises
    InputError naming the rows that break the assignment."""
    rows = rows[rows["campaign_key"].notna() & rows["customer_key"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=ASSIGNMENT_COLUMNS)
    missing = [c for c in HOLDOUT_COLUMNS if c not in rows.columns]
    if missing:
        raise InputError(
            f"rows with a campaign_key need the holdout columns {missing} (restricted.audience_export "
            "carries them): activation never assigns an arm itself"
        )
    out = pd.DataFrame(
        {
            "campaign_key": rows["campaign_key"].astype(str),
            "customer_key": rows["customer_key"].astype(str),
            "arm": rows["holdout_arm"].astype(object),
            "bucket": pd.to_numeric(rows["holdout_bucket"], errors="coerce").astype("float64"),
            "share": pd.to_numeric(rows["holdout_share"], errors="coerce").astype("float64"),
            "hash_version": rows["holdout_hash_version"].astype(object),
        },
        index=rows.index,
    )
    in_range = out["bucket"].between(0, 1, inclusive="left") & out["share"].between(0, 1, inclusive="left")
    named = out["arm"].astype("string").str.fullmatch(ARM_NAME).fillna(False).astype(bool)
    _refuse(
        out, ~named, "holdout_arm is missing or not an arm name (control, treatment or a content-test arm)"
    )
    _refuse(out, ~in_range, "holdout_bucket or holdout_share is missing or outside [0, 1)")
    _refuse(out, out["hash_version"].isna(), "holdout_hash_version is missing")
    _refuse(out, (out["arm"] == CONTROL) != (out["bucket"] < out["share"]), "control is not bucket < share")
    arms = out.groupby(["campaign_key", "customer_key"])["arm"].transform("nunique")
    _refuse(out, arms > 1, "one member of a campaign is in two arms")
    _refuse(out, _interleaved(out), "a campaign's arms interleave on the bucket line (each arm is one range)")
    return out


def _interleaved(assignments: pd.DataFrame) -> pd.Series:
    """Rows of an arm whose buckets are not one run on its campaign's bucket line: SQL gives each
    arm one range [bucket_from, bucket_to), so sorted by bucket a campaign's arms never alternate."""
    # by position, so a frame whose index repeats labels (several audiences concatenated) works too
    ordered = assignments.reset_index(drop=True).sort_values(["campaign_key", "bucket", "arm"], kind="stable")
    new_run = (ordered["arm"] != ordered["arm"].shift()) | (
        ordered["campaign_key"] != ordered["campaign_key"].shift()
    )
    runs = new_run.cumsum().groupby([ordered["campaign_key"], ordered["arm"]]).transform("nunique")
    return pd.Series((runs > 1).sort_index().to_numpy(), index=assignments.index)


def _refuse(assignments: pd.DataFrame, broken: pd.Series, rule: str) -> None:
    """Fail loudly when any row breaks `rule`, naming the first few of them."""
    if not broken.any():
        return
    bad = assignments[broken]
    named = ", ".join(
        f"{r.campaign_key}/{r.customer_key} (arm={r.arm}, bucket={r.bucket}, share={r.share})"
        for r in bad.head(SHOWN).itertuples(index=False)
    )
    more = f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    raise InputError(
        f"holdout assignment broken in {len(bad)} row(s) ({rule}): {named}{more}; "
        "fix restricted.audience_export (macros/run/holdout.sql), activation does not reassign"
    )


def holdout_outcomes(
    assignments: pd.DataFrame, purchases: pd.DataFrame, *, window_days: int, as_of: pd.Timestamp
) -> pd.DataFrame:
    """One row per assigned member whose window [first_assigned_at, + window_days) has closed by
    as_of: campaign_key, customer_key, arm, converted (bought in the window), revenue (spent in it).
    Purchases: customer_key, ordered_at, revenue. Members still inside their window are left out,
    so a campaign is analysed on complete outcomes only."""
    for column in ("campaign_key", "customer_key", "arm", "first_assigned_at"):
        if column not in assignments.columns:
            raise InputError(f"holdout assignments need a {column!r} column")
    window = pd.Timedelta(days=window_days)
    closed = assignments[pd.to_datetime(assignments["first_assigned_at"]) + window <= as_of].copy()
    closed["window_start"] = pd.to_datetime(closed["first_assigned_at"])
    joined = closed[["campaign_key", "customer_key", "window_start"]].merge(
        purchases[["customer_key", "ordered_at", "revenue"]], on="customer_key", how="inner"
    )
    ordered_at = pd.to_datetime(joined["ordered_at"])
    window_end = joined["window_start"] + window
    in_window = joined[(ordered_at >= joined["window_start"]) & (ordered_at < window_end)]
    spent = in_window.groupby(["campaign_key", "customer_key"])["revenue"].agg(["size", "sum"])
    outcomes = closed[["campaign_key", "customer_key", "arm"]].merge(
        spent.reset_index(), on=["campaign_key", "customer_key"], how="left"
    )
    outcomes["converted"] = outcomes["size"].fillna(0) > 0
    outcomes["revenue"] = outcomes["sum"].fillna(0.0).astype(float)
    return outcomes[["campaign_key", "customer_key", "arm", "converted", "revenue"]].reset_index(drop=True)


@dataclass
class CampaignResults:
    """The analysis of every campaign whose outcomes are in: one row per comparison of an arm with
    control (and, in a content test, with its baseline arm) per campaign, i.e. per segment; one row
    per arm of each campaign; the same comparisons per content test, its campaigns pooled; the
    member outcomes they were computed from; and every few-converter warning."""

    campaigns: pd.DataFrame
    arms: pd.DataFrame
    outcomes: pd.DataFrame
    content_tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """What a run's log shows: how many campaigns, comparisons, content tests, members with a
        closed window and warned-about arms."""
        return {
            "campaigns": int(self.campaigns["campaign_key"].nunique()) if len(self.campaigns) else 0,
            "comparisons": len(self.campaigns),
            "content_tests": int(self.content_tests["test_key"].nunique()) if len(self.content_tests) else 0,
            "members_with_closed_windows": len(self.outcomes),
            "few_converter_arms": len(self.warnings),
        }


def _comparisons(outcomes: pd.DataFrame, baseline: str | None, options: dict) -> list[HoldoutAnalysis]:
    """Every arm against control, and in a content test every other arm against its baseline arm
    (two families, each Holm-adjusted: does the e-mail work, and which version works best)."""
    present = set(outcomes["arm"])
    treated = present - {CONTROL}
    results = analyze_arms(outcomes, **options) if CONTROL in present and treated else []
    if baseline in treated and len(treated) > 1:
        results += analyze_arms(outcomes, reference=baseline, **options)
    return results


def _arm_rows(outcomes: pd.DataFrame, min_converters: int) -> list[dict]:
    return [
        arm_table(arm, st.ArmSample.from_members(rows["converted"], rows["revenue"]), min_converters)
        for arm, rows in outcomes.groupby("arm", sort=True)
    ]


def _layout(campaign_arms: pd.DataFrame | None) -> pd.DataFrame:
    """Per campaign: its segment(s), content test and baseline arm (audiences.audience_campaign_arms)."""
    columns = ["campaign_key", "segment_name", "test_key", "baseline"]
    if campaign_arms is None or campaign_arms.empty:
        return pd.DataFrame(columns=columns).set_index("campaign_key")
    baseline = campaign_arms[campaign_arms["is_baseline"].fillna(False).astype(bool)]
    layout = campaign_arms.groupby("campaign_key")[["segment_name", "test_key"]].first()
    layout["baseline"] = baseline.groupby("campaign_key")["arm"].first()
    return layout.astype(object).where(layout.notna(), None)


def analyze_campaigns(
    assignments: pd.DataFrame,
    purchases: pd.DataFrame,
    *,
    window_days: int,
    as_of: pd.Timestamp,
    confidence: float = 0.95,
    campaign_arms: pd.DataFrame | None = None,
    min_converters: int = MIN_CONVERTERS_PER_ARM,
    bootstrap_resamples: int = 0,
    bootstrap_seed: int = st.BOOTSTRAP_SEED,
    bootstrap_method: str = "percentile",
) -> CampaignResults:
    """Per campaign with members in two arms whose window has closed, and per content test (its
    campaigns pooled): the comparisons of `_comparisons` (assignments:
    activation.holdout_assignments; purchases: customer_key, ordered_at, revenue, e.g.
    audiences.audience_purchases; campaign_arms: audiences.audience_campaign_arms, which names each
    campaign's segment, content test and baseline arm)."""
    options = {
        "confidence": confidence,
        "min_converters": min_converters,
        "bootstrap_resamples": bootstrap_resamples,
        "bootstrap_seed": bootstrap_seed,
        "bootstrap_method": bootstrap_method,
    }
    outcomes = holdout_outcomes(assignments, purchases, window_days=window_days, as_of=as_of)
    layout = _layout(campaign_arms)
    summaries, arms, tests, warnings = [], [], [], []
    for campaign_key, campaign in outcomes.groupby("campaign_key"):
        info = layout.loc[campaign_key] if campaign_key in layout.index else {}
        results = _comparisons(campaign, info.get("baseline"), options)
        if not results:
            continue
        labels = {
            "campaign_key": campaign_key,
            "segment_name": info.get("segment_name"),
            "test_key": info.get("test_key"),
            "window_days": window_days,
        }
        summaries += [{**labels, **result.summary()} for result in results]
        arm_rows = _arm_rows(campaign, min_converters)
        arms += [{**labels, **row} for row in arm_rows]
        warnings += [_warning(campaign_key, row, min_converters) for row in arm_rows if row["few_converters"]]
    for test_key, members in layout[layout["test_key"].notna()].groupby("test_key"):
        pooled = outcomes[outcomes["campaign_key"].isin(members.index)]
        baselines = members["baseline"].dropna()
        results = _comparisons(pooled, baselines.iloc[0] if len(baselines) else None, options)
        if not results:
            continue
        segments = members.loc[members.index.isin(pooled["campaign_key"]), "segment_name"]
        labels = {"test_key": test_key, "segments": ", ".join(sorted(segments)), "window_days": window_days}
        tests += [{**labels, **result.summary()} for result in results]
        warnings += [
            _warning(f"test {test_key}", row, min_converters)
            for row in _arm_rows(pooled, min_converters)
            if row["few_converters"]
        ]
    return CampaignResults(
        campaigns=pd.DataFrame(summaries),
        arms=pd.DataFrame(arms),
        outcomes=outcomes,
        content_tests=pd.DataFrame(tests),
        warnings=warnings,
    )


def _warning(scope: str, arm_row: dict, min_converters: int) -> str:
    return (
        f"{scope}/{arm_row['arm']}: {arm_row['conversions']} converters, fewer than {min_converters} "
        "(min_converters): its intervals cover the truth less often than stated"
    )


__all__ = [
    "CONTROL",
    "MIN_CONVERTERS_PER_ARM",
    "TREATMENT",
    "CampaignResults",
    "HoldoutAnalysis",
    "analyze_arms",
    "analyze_campaigns",
    "analyze_holdout",
    "holdout_assignments",
    "holdout_outcomes",
]
