"""One arm of a campaign against a reference arm (control, or a content test's baseline arm), and
several arms against one reference with the multiplicity correction. The formulas are in
activation/experiment_stats.py; this module turns outcome rows into a HoldoutAnalysis that carries
its own warnings: an arm with fewer than MIN_CONVERTERS_PER_ARM converters is flagged, because
its intervals cover the truth less often than they state."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from activation import experiment_stats as st
from activation.errors import InputError

CONTROL = "control"
TREATMENT = "treatment"
# An arm with fewer converters than this gets a warning. Simulated 95 % intervals (1,000
# experiments per setting, lognormal spend per buyer with sigma 1, bench/bench_experiments.py):
# with 10 / 20 / 30 control converters the log-ratio interval of the spend lift covered the truth
# 90.0 / 92.9 / 93.9 % of the time and the Katz interval of the conversion lift 94.1 / 95.5 /
# 95.2 %; from 30 on both stay within about a point of 95 %. Heavier tails need the bootstrap
# (activation/README.md).
MIN_CONVERTERS_PER_ARM = 30

Interval = tuple[float, float]
# The numbers of a HoldoutAnalysis in its summary row, in this order (intervals as _low, _high).
SUMMARY_FIELDS = (
    "absolute_lift",
    "absolute_lift_ci_wald",
    "absolute_lift_ci_newcombe",
    "relative_lift",
    "relative_lift_ci_log",
    "z_statistic",
    "p_value",
    "p_value_holm",
    "revenue_diff",
    "revenue_diff_ci_welch",
    "revenue_diff_ci_bootstrap",
    "revenue_welch_df",
    "revenue_p_value",
    "revenue_p_value_holm",
    "revenue_lift",
    "revenue_lift_ci_log",
    "revenue_lift_ci_bootstrap",
    "revenue_per_buyer_lift",
    "revenue_per_buyer_lift_ci_log",
)


@dataclass
class HoldoutAnalysis:
    """One arm against a reference arm: the two arms' table, conversion and spend lifts with their
    intervals, and the warnings a reader must see before trusting them. `relative_lift` is the
    conversion factor of the decomposition (1 + revenue_lift) = (1 + relative_lift) x
    (1 + revenue_per_buyer_lift)."""

    arms: pd.DataFrame
    absolute_lift: float
    absolute_lift_ci_wald: Interval
    absolute_lift_ci_newcombe: Interval
    relative_lift: float
    relative_lift_ci_log: Interval
    z_statistic: float
    p_value: float
    revenue_diff: float
    revenue_diff_ci_welch: Interval
    revenue_welch_df: float
    revenue_p_value: float
    revenue_lift: float
    revenue_lift_ci_log: Interval
    revenue_per_buyer_lift: float
    revenue_per_buyer_lift_ci_log: Interval
    arm: str = TREATMENT
    reference_arm: str = CONTROL
    revenue_diff_ci_bootstrap: Interval = st.NAN_PAIR
    revenue_lift_ci_bootstrap: Interval = st.NAN_PAIR
    bootstrap_method: str | None = None
    bootstrap_resamples: int = 0
    p_value_holm: float = math.nan
    revenue_p_value_holm: float = math.nan
    comparisons: int = 1
    min_converters: int = MIN_CONVERTERS_PER_ARM
    confidence: float = 0.95
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if math.isnan(self.p_value_holm):
            self.p_value_holm = self.p_value
        if math.isnan(self.revenue_p_value_holm):
            self.revenue_p_value_holm = self.revenue_p_value

    @property
    def few_converters(self) -> bool:
        return bool(self.warnings)

    def summary(self) -> dict:
        """One flat row: every number, each interval as _low and _high columns."""
        out: dict = {"arm": self.arm, "reference_arm": self.reference_arm}
        for arm, prefix in ((self.arm, "arm"), (self.reference_arm, "reference")):
            row = self.arms.set_index("arm").loc[arm]
            out[f"{prefix}_members"] = int(row["n"])
            out[f"{prefix}_conversions"] = int(row["conversions"])
        for name in SUMMARY_FIELDS:
            value = getattr(self, name)
            if isinstance(value, tuple):
                out[f"{name}_low"], out[f"{name}_high"] = value
            else:
                out[name] = value
        out.update(
            bootstrap_method=self.bootstrap_method,
            bootstrap_resamples=self.bootstrap_resamples,
            comparisons=self.comparisons,
            confidence=self.confidence,
            min_converters=self.min_converters,
            few_converters=self.few_converters,
            warning="; ".join(self.warnings) or None,
            note="; ".join(self.notes) or None,
        )
        return out


def arm_table(name: str, sample: st.ArmSample, min_converters: int) -> dict:
    """One arm's row of the arms table."""
    return {
        "arm": name,
        "n": sample.n,
        "conversions": sample.converters,
        "conversion_rate": sample.conversion_rate,
        "revenue": sample.spend,
        "revenue_per_member": sample.spend_per_member,
        "revenue_per_buyer": sample.spend_per_buyer,
        "revenue_variance": sample.member_variance,
        "few_converters": sample.converters < min_converters,
    }


def analyze_holdout(
    outcomes: pd.DataFrame,
    *,
    arm_col: str = "arm",
    converted_col: str = "converted",
    revenue_col: str = "revenue",
    confidence: float = 0.95,
    arm: str = TREATMENT,
    reference: str = CONTROL,
    min_converters: int = MIN_CONVERTERS_PER_ARM,
    bootstrap_resamples: int = 0,
    bootstrap_seed: int = st.BOOTSTRAP_SEED,
    bootstrap_method: str = "percentile",
) -> HoldoutAnalysis:
    """Compare `arm` with `reference` after a campaign. One row per assigned member: its arm,
    whether it converted (bool/0-1) and its revenue in the window (0 when none). With
    bootstrap_resamples > 0, a seeded bootstrap interval of spend sits next to the analytic ones.
    Each arm with fewer than min_converters converters adds a warning."""
    for column in (arm_col, converted_col, revenue_col):
        if column not in outcomes.columns:
            raise InputError(f"holdout analysis needs a {column!r} column")
    present = set(outcomes[arm_col].dropna().unique())
    if not {arm, reference} <= present:
        raise InputError(f"holdout analysis needs arms {arm!r} and {reference!r}, found {sorted(present)}")
    unconverted = outcomes[converted_col].astype(float) <= 0
    spent = outcomes[revenue_col].fillna(0).astype(float) != 0
    if (unconverted & spent).any():
        raise InputError(
            f"holdout analysis: {int((unconverted & spent).sum())} member(s) with revenue without a "
            f"conversion ({converted_col!r} false, {revenue_col!r} not 0); spend is counted on buyers only"
        )
    samples = {
        name: st.ArmSample.from_members(
            outcomes.loc[outcomes[arm_col] == name, converted_col],
            outcomes.loc[outcomes[arm_col] == name, revenue_col],
        )
        for name in (arm, reference)
    }
    t, c = samples[arm], samples[reference]
    z = st.z_value(confidence)
    relative, relative_ci = st.conversion_lift(t, c, confidence)
    numbers = {
        **st.conversion_intervals(t, c, z),
        **st.welch_interval(t, c, confidence),
        **st.spend_lifts(t, c, z),
        "relative_lift": relative,
        "relative_lift_ci_log": relative_ci,
    }
    if bootstrap_resamples > 0:
        numbers |= st.bootstrap_spend(
            t, c, confidence, resamples=bootstrap_resamples, seed=bootstrap_seed, method=bootstrap_method
        )
    notes = []
    if c.converters == 0:
        notes.append(f"{reference} converted nobody: relative lifts undefined")
    if math.isnan(numbers["z_statistic"]):
        notes.append("no variation in conversions: z-test undefined")
    if math.isnan(numbers["revenue_p_value"]):
        notes.append("no variation in revenue: Welch test undefined")
    warnings = [
        f"{name} has {sample.converters} converters, fewer than {min_converters}: its intervals "
        "cover the truth less often than stated"
        for name, sample in samples.items()
        if sample.converters < min_converters
    ]
    return HoldoutAnalysis(
        arms=pd.DataFrame([arm_table(name, sample, min_converters) for name, sample in samples.items()]),
        arm=arm,
        reference_arm=reference,
        bootstrap_method=bootstrap_method if bootstrap_resamples > 0 else None,
        bootstrap_resamples=bootstrap_resamples,
        min_converters=min_converters,
        confidence=confidence,
        notes=notes,
        warnings=warnings,
        **numbers,
    )


def analyze_arms(
    outcomes: pd.DataFrame, *, reference: str = CONTROL, arm_col: str = "arm", **options
) -> list:
    """Every other arm against `reference` (HoldoutAnalysis each, in arm order), with p-values
    Holm-adjusted across the comparisons: when several variants are tested against one control,
    a claim that any of them works keeps its 5 % family-wise error (Holm 1979, valid whatever the
    correlation the shared control induces). `options` go to analyze_holdout."""
    arms = sorted(a for a in outcomes[arm_col].dropna().unique() if a not in (reference, CONTROL))
    if reference != CONTROL:
        outcomes = outcomes[outcomes[arm_col] != CONTROL]
    results = [
        analyze_holdout(outcomes, arm_col=arm_col, arm=a, reference=reference, **options) for a in arms
    ]
    conversion = st.holm([r.p_value for r in results])
    revenue = st.holm([r.revenue_p_value for r in results])
    for result, p_conversion, p_revenue in zip(results, conversion, revenue, strict=True):
        result.p_value_holm, result.revenue_p_value_holm = float(p_conversion), float(p_revenue)
        result.comparisons = len(results)
    return results
