"""Holdout experiments: who was held back from a campaign, and what the campaign did.

Who is held back is decided in SQL, once (macros/run/holdout.sql, vars holdout_salt and
holdout_share): restricted.audience_export carries each member's holdout_arm with the bucket,
share and hash that decided it. This module never hashes: `holdout_assignments` takes the SQL's
assignment as it is, after a guard that fails loudly, naming the rows, when a row contradicts it
(an arm missing or unknown, a bucket or share outside [0, 1), control not exactly bucket < share,
two arms for one member of a campaign). The sync engine exports the treatment arm only and logs
every assignment (activation.holdout_assignments); `analyze_campaigns` compares the arms of every
campaign once their outcome window has closed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from activation.errors import InputError

CONTROL = "control"
TREATMENT = "treatment"
HOLDOUT_COLUMNS = ("holdout_arm", "holdout_bucket", "holdout_share", "holdout_hash_version")
ASSIGNMENT_COLUMNS = ["campaign_key", "customer_key", "arm", "bucket", "share", "hash_version"]
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
    _refuse(out, ~out["arm"].isin([CONTROL, TREATMENT]), "holdout_arm is not control or treatment")
    _refuse(out, ~in_range, "holdout_bucket or holdout_share is missing or outside [0, 1)")
    _refuse(out, out["hash_version"].isna(), "holdout_hash_version is missing")
    _refuse(out, (out["arm"] == CONTROL) != (out["bucket"] < out["share"]), "control is not bucket < share")
    arms = out.groupby(["campaign_key", "customer_key"])["arm"].transform("nunique")
    _refuse(out, arms > 1, "one member of a campaign is in both arms")
    return out


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


@dataclass
class HoldoutAnalysis:
    """The numbers of one campaign: per-arm table plus lift estimates."""

    arms: pd.DataFrame
    absolute_lift: float
    absolute_lift_ci_wald: tuple[float, float]
    absolute_lift_ci_newcombe: tuple[float, float]
    relative_lift: float
    relative_lift_ci_delta: tuple[float, float]
    z_statistic: float
    p_value: float
    revenue_diff: float
    revenue_diff_ci_welch: tuple[float, float]
    revenue_welch_df: float
    revenue_p_value: float
    confidence: float = 0.95
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "absolute_lift": self.absolute_lift,
            "absolute_lift_ci_wald": self.absolute_lift_ci_wald,
            "absolute_lift_ci_newcombe": self.absolute_lift_ci_newcombe,
            "relative_lift": self.relative_lift,
            "relative_lift_ci_delta": self.relative_lift_ci_delta,
            "z_statistic": self.z_statistic,
            "p_value": self.p_value,
            "revenue_per_member_diff": self.revenue_diff,
            "revenue_per_member_diff_ci_welch": self.revenue_diff_ci_welch,
            "revenue_welch_df": self.revenue_welch_df,
            "revenue_p_value": self.revenue_p_value,
            "confidence": self.confidence,
        }


def wilson_interval(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of one proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (centre - half, centre + half)


def analyze_holdout(
    outcomes: pd.DataFrame,
    *,
    arm_col: str = "arm",
    converted_col: str = "converted",
    revenue_col: str = "revenue",
    confidence: float = 0.95,
) -> HoldoutAnalysis:
    """Compare treatment with control after a campaign. One row per assigned member: its arm,
    whether it converted (bool/0-1) and its revenue in the window (0 when none).

    Proportions: Wald and Newcombe (hybrid Wilson score) intervals for the difference, a pooled
    two-proportion z-test, and the delta method for the relative lift p_t / p_c - 1. Revenue per
    member: Welch's t interval and test (unequal variances)."""
    from scipy import stats

    for column in (arm_col, converted_col, revenue_col):
        if column not in outcomes.columns:
            raise InputError(f"holdout analysis needs a {column!r} column")
    arms = set(outcomes[arm_col].dropna().unique())
    if not {CONTROL, TREATMENT} <= arms:
        raise InputError(f"holdout analysis needs both arms, found {sorted(arms)}")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    notes: list[str] = []
    per_arm = {}
    for arm in (TREATMENT, CONTROL):
        rows = outcomes[outcomes[arm_col] == arm]
        converted = rows[converted_col].astype(float)
        revenue = rows[revenue_col].astype(float).fillna(0.0)
        n = len(rows)
        x = int(converted.sum())
        per_arm[arm] = {
            "arm": arm,
            "n": n,
            "conversions": x,
            "conversion_rate": x / n if n else math.nan,
            "revenue": float(revenue.sum()),
            "revenue_per_member": float(revenue.mean()) if n else math.nan,
            "revenue_variance": float(revenue.var(ddof=1)) if n > 1 else math.nan,
        }
    t, c = per_arm[TREATMENT], per_arm[CONTROL]
    n_t, n_c, x_t, x_c = t["n"], c["n"], t["conversions"], c["conversions"]
    p_t, p_c = t["conversion_rate"], c["conversion_rate"]
    diff = p_t - p_c
    se_wald = math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    wald = (diff - z * se_wald, diff + z * se_wald)
    l_t, u_t = wilson_interval(x_t, n_t, z)
    l_c, u_c = wilson_interval(x_c, n_c, z)
    newcombe = (
        diff - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2),
        diff + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2),
    )
    if p_c > 0:
        relative = p_t / p_c - 1
        var_ratio = (p_t * (1 - p_t) / n_t) / p_c**2 + (p_t**2) * (p_c * (1 - p_c) / n_c) / p_c**4
        relative_ci = (relative - z * math.sqrt(var_ratio), relative + z * math.sqrt(var_ratio))
    else:
        relative, relative_ci = math.nan, (math.nan, math.nan)
        notes.append("control converted nobody: relative lift undefined")
    pooled = (x_t + x_c) / (n_t + n_c)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    if se_pooled > 0:
        z_stat = diff / se_pooled
        p_value = float(2 * stats.norm.sf(abs(z_stat)))
    else:
        z_stat, p_value = math.nan, math.nan
        notes.append("no variation in conversions: z-test undefined")
    m_t, m_c = t["revenue_per_member"], c["revenue_per_member"]
    v_t, v_c = t["revenue_variance"], c["revenue_variance"]
    rev_diff = m_t - m_c
    a, b = v_t / n_t, v_c / n_c
    se_rev = math.sqrt(a + b) if not (math.isnan(a) or math.isnan(b)) else math.nan
    if se_rev and se_rev > 0:
        welch_df = (a + b) ** 2 / (a**2 / (n_t - 1) + b**2 / (n_c - 1))
        t_crit = float(stats.t.ppf(0.5 + confidence / 2, welch_df))
        rev_ci = (rev_diff - t_crit * se_rev, rev_diff + t_crit * se_rev)
        rev_p = float(2 * stats.t.sf(abs(rev_diff / se_rev), welch_df))
    else:
        welch_df, rev_ci, rev_p = math.nan, (math.nan, math.nan), math.nan
        notes.append("no variation in revenue: Welch test undefined")
    return HoldoutAnalysis(
        arms=pd.DataFrame([t, c]),
        absolute_lift=diff,
        absolute_lift_ci_wald=wald,
        absolute_lift_ci_newcombe=newcombe,
        relative_lift=relative,
        relative_lift_ci_delta=relative_ci,
        z_statistic=z_stat,
        p_value=p_value,
        revenue_diff=rev_diff,
        revenue_diff_ci_welch=rev_ci,
        revenue_welch_df=welch_df,
        revenue_p_value=rev_p,
        confidence=confidence,
        notes=notes,
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
    """The holdout analysis of every campaign whose outcomes are in: one summary row per campaign,
    one row per arm of it, and the member outcomes they were computed from."""

    campaigns: pd.DataFrame
    arms: pd.DataFrame
    outcomes: pd.DataFrame


def analyze_campaigns(
    assignments: pd.DataFrame,
    purchases: pd.DataFrame,
    *,
    window_days: int,
    as_of: pd.Timestamp,
    confidence: float = 0.95,
) -> CampaignResults:
    """Per campaign with members in both arms whose window has closed: `analyze_holdout` of their
    outcomes (assignments: activation.holdout_assignments; purchases: customer_key, ordered_at,
    revenue, e.g. audiences.audience_purchases)."""
    outcomes = holdout_outcomes(assignments, purchases, window_days=window_days, as_of=as_of)
    summaries, arms = [], []
    for campaign_key, campaign in outcomes.groupby("campaign_key"):
        if campaign["arm"].nunique() < 2:
            continue
        analysis = analyze_holdout(campaign, confidence=confidence)
        summaries.append({"campaign_key": campaign_key, "window_days": window_days, **analysis.summary()})
        arms.append(analysis.arms.assign(campaign_key=campaign_key))
    return CampaignResults(
        campaigns=pd.DataFrame(summaries),
        arms=pd.concat(arms, ignore_index=True) if arms else pd.DataFrame(),
        outcomes=outcomes,
    )
