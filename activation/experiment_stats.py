"""The statistics of one arm against a reference arm: plain functions of the arms' outcomes.

Conversion: Wald and Newcombe intervals for the difference, a pooled z-test, and the relative
lift p_t / p_c - 1 with the Katz log interval (scipy.stats.contingency.relative_risk; Katz et al.,
Biometrics 34, 1978), which, unlike a symmetric delta-method interval, never goes below -100 %
and is as skewed as the ratio is. Spend per member (revenue in the window, 0 for non-buyers):
Welch's t interval and test for the difference, and its relative lift with the interval of
log(mean_t / mean_c) from the delta method on the log scale (variance s_t^2 / (n_t mean_t^2) +
s_c^2 / (n_c mean_c^2)), exponentiated. Spend per member is conversion rate x spend per buyer, so
its ratio is the product of theirs and each factor is reported with its own log-ratio interval.

The bootstrap resamples members of each arm with replacement. A member who bought nothing adds 0,
so a resample is drawn as a binomial count of buyers followed by that many buyers drawn with
replacement: the same distribution as resampling all n members, at the cost of the buyers only
(tests/activation/test_activation_experiment_stats.py checks it against scipy.stats.bootstrap,
which would hold n x resamples values in memory)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# scipy is imported inside the functions that use it: the Dagster code location imports this module
# in every step's process, and most steps compute no statistics.

# Resamples of the bootstrap interval and its seed: 2,000 resamples put the Monte Carlo error of a
# 95 % percentile limit well under its sampling error (Efron & Tibshirani 1993, ch. 19 ask for
# 1,000 or more); the fixed seed makes a rerun reproduce the table.
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20260630
BOOTSTRAP_METHODS = ("percentile", "bca")
NAN_PAIR = (math.nan, math.nan)


@dataclass(frozen=True)
class ArmSample:
    """One arm's outcomes: its members and what each of its buyers spent in the window."""

    n: int
    buyer_spend: np.ndarray

    @classmethod
    def from_members(cls, converted, revenue) -> ArmSample:
        converted = np.asarray(converted, dtype=float) > 0
        revenue = np.nan_to_num(np.asarray(revenue, dtype=float))
        return cls(n=len(converted), buyer_spend=revenue[converted])

    @property
    def converters(self) -> int:
        return len(self.buyer_spend)

    @property
    def conversion_rate(self) -> float:
        return self.converters / self.n if self.n else math.nan

    @property
    def spend(self) -> float:
        return float(self.buyer_spend.sum())

    @property
    def spend_per_member(self) -> float:
        return self.spend / self.n if self.n else math.nan

    @property
    def spend_per_buyer(self) -> float:
        return self.spend / self.converters if self.converters else math.nan

    @property
    def member_variance(self) -> float:
        """Sample variance (ddof 1) of spend over all members, non-buyers at 0."""
        if self.n < 2:
            return math.nan
        mean = self.spend_per_member
        return max(float((self.buyer_spend**2).sum()) - self.n * mean * mean, 0.0) / (self.n - 1)

    @property
    def buyer_variance(self) -> float:
        return float(self.buyer_spend.var(ddof=1)) if self.converters > 1 else math.nan


def z_value(confidence: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of one proportion."""
    if n == 0:
        return NAN_PAIR
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (centre - half, centre + half)


def conversion_intervals(t: ArmSample, c: ArmSample, z: float) -> dict:
    """Difference in conversion (Wald, Newcombe hybrid score), pooled z-test."""
    from scipy import stats

    p_t, p_c = t.conversion_rate, c.conversion_rate
    diff = p_t - p_c
    se_wald = math.sqrt(p_t * (1 - p_t) / t.n + p_c * (1 - p_c) / c.n)
    l_t, u_t = wilson_interval(t.converters, t.n, z)
    l_c, u_c = wilson_interval(c.converters, c.n, z)
    pooled = (t.converters + c.converters) / (t.n + c.n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / t.n + 1 / c.n))
    z_stat = diff / se_pooled if se_pooled > 0 else math.nan
    return {
        "absolute_lift": diff,
        "absolute_lift_ci_wald": (diff - z * se_wald, diff + z * se_wald),
        "absolute_lift_ci_newcombe": (
            diff - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2),
            diff + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2),
        ),
        "z_statistic": z_stat,
        "p_value": float(2 * stats.norm.sf(abs(z_stat))) if se_pooled > 0 else math.nan,
    }


def conversion_lift(t: ArmSample, c: ArmSample, confidence: float) -> tuple[float, tuple[float, float]]:
    """p_t / p_c - 1 with the Katz log interval (scipy), as lifts; undefined without converters."""
    from scipy.stats.contingency import relative_risk

    if t.converters == 0 or c.converters == 0:
        return (t.conversion_rate / c.conversion_rate - 1 if c.converters else math.nan), NAN_PAIR
    result = relative_risk(t.converters, t.n, c.converters, c.n)
    ci = result.confidence_interval(confidence_level=confidence)
    return float(result.relative_risk - 1), (float(ci.low - 1), float(ci.high - 1))


def log_ratio_lift(
    mean_t: float, var_mean_t: float, mean_c: float, var_mean_c: float, z: float
) -> tuple[float, tuple[float, float]]:
    """mean_t / mean_c - 1 and the interval of log(mean_t / mean_c) (delta method on the log
    scale), exponentiated: a ratio's interval that stays above -100 %."""
    if not (mean_t > 0 and mean_c > 0):
        return (mean_t / mean_c - 1 if mean_c > 0 else math.nan), NAN_PAIR
    log_ratio = math.log(mean_t / mean_c)
    se = math.sqrt(var_mean_t / mean_t**2 + var_mean_c / mean_c**2)
    if not math.isfinite(se):
        return math.exp(log_ratio) - 1, NAN_PAIR
    return math.exp(log_ratio) - 1, (math.exp(log_ratio - z * se) - 1, math.exp(log_ratio + z * se) - 1)


def welch_interval(t: ArmSample, c: ArmSample, confidence: float) -> dict:
    """Difference in spend per member: Welch's t interval and test (unequal variances)."""
    from scipy import stats

    diff = t.spend_per_member - c.spend_per_member
    a, b = t.member_variance / t.n, c.member_variance / c.n
    se = math.sqrt(a + b) if not (math.isnan(a) or math.isnan(b)) else math.nan
    if not (se > 0):
        return {
            "revenue_diff": diff,
            "revenue_diff_ci_welch": NAN_PAIR,
            "revenue_welch_df": math.nan,
            "revenue_p_value": math.nan,
        }
    df = (a + b) ** 2 / (a**2 / (t.n - 1) + b**2 / (c.n - 1))
    t_crit = float(stats.t.ppf(0.5 + confidence / 2, df))
    return {
        "revenue_diff": diff,
        "revenue_diff_ci_welch": (diff - t_crit * se, diff + t_crit * se),
        "revenue_welch_df": df,
        "revenue_p_value": float(2 * stats.t.sf(abs(diff / se), df)),
    }


def spend_lifts(t: ArmSample, c: ArmSample, z: float) -> dict:
    """Relative lift of spend per member and of spend per buyer, each with its log-ratio interval;
    with the conversion lift they decompose it: (1 + spend) = (1 + conversion) x (1 + per buyer)."""
    per_member = log_ratio_lift(
        t.spend_per_member, t.member_variance / t.n, c.spend_per_member, c.member_variance / c.n, z
    )
    var_t = t.buyer_variance / t.converters if t.converters else math.nan
    var_c = c.buyer_variance / c.converters if c.converters else math.nan
    per_buyer = log_ratio_lift(t.spend_per_buyer, var_t, c.spend_per_buyer, var_c, z)
    return {
        "revenue_lift": per_member[0],
        "revenue_lift_ci_log": per_member[1],
        "revenue_per_buyer_lift": per_buyer[0],
        "revenue_per_buyer_lift_ci_log": per_buyer[1],
    }


def _resampled_means(rng: np.random.Generator, arm: ArmSample, resamples: int) -> np.ndarray:
    """Spend per member of `resamples` bootstrap resamples of the arm's n members."""
    if arm.converters == 0:
        return np.zeros(resamples)
    counts = rng.binomial(arm.n, arm.converters / arm.n, size=resamples)
    drawn = arm.buyer_spend[rng.integers(0, arm.converters, size=int(counts.sum()))]
    ends = np.cumsum(counts)
    totals = np.concatenate([[0.0], np.cumsum(drawn)])
    return (totals[ends] - totals[ends - counts]) / arm.n


def _acceleration(t: ArmSample, c: ArmSample, statistic: str) -> float:
    """BCa acceleration from the jackknife influence of each member (Efron & Tibshirani 1993,
    eq. 14.15, summed over both samples as scipy.stats.bootstrap does): closed form for a mean,
    first-order influence (y - mean) / mean for the log ratio."""
    num = den = 0.0
    for arm, sign in ((t, 1.0), (c, -1.0)):
        mean = arm.spend_per_member
        scale = 1.0 / mean if statistic == "log_ratio" else 1.0
        deviations = np.concatenate([arm.buyer_spend - mean, [-mean]])
        weights = np.concatenate([np.ones(arm.converters), [arm.n - arm.converters]])
        influence = sign * scale * deviations
        num += float((weights * influence**3).sum()) / arm.n**3
        den += float((weights * influence**2).sum()) / arm.n**2
    return num / (6 * den**1.5) if den > 0 else 0.0


def _limits(draws: np.ndarray, estimate: float, alpha: float, method: str, acceleration: float) -> tuple:
    from scipy.special import ndtr, ndtri

    if method == "percentile":
        return tuple(float(q) for q in np.quantile(draws, [alpha, 1 - alpha]))
    below = (draws < estimate).mean() + (draws == estimate).mean() / 2
    z0 = float(ndtri(below))
    levels = []
    for z_alpha in (float(ndtri(alpha)), -float(ndtri(alpha))):
        shifted = z0 + z_alpha
        levels.append(float(ndtr(z0 + shifted / (1 - acceleration * shifted))))
    return tuple(float(q) for q in np.quantile(draws, levels))


def bootstrap_spend(
    t: ArmSample,
    c: ArmSample,
    confidence: float,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    method: str = "percentile",
) -> dict:
    """Bootstrap intervals (percentile or BCa) of the difference in spend per member and of its
    relative lift, from the same resamples of each arm."""
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"bootstrap method must be one of {BOOTSTRAP_METHODS}, got {method!r}")
    rng = np.random.default_rng(seed)
    mean_t, mean_c = _resampled_means(rng, t, resamples), _resampled_means(rng, c, resamples)
    alpha = (1 - confidence) / 2
    estimate = t.spend_per_member - c.spend_per_member
    diff = _limits(mean_t - mean_c, estimate, alpha, method, _acceleration(t, c, "difference"))
    lift = NAN_PAIR
    if t.spend_per_member > 0 and c.spend_per_member > 0:
        usable = (mean_t > 0) & (mean_c > 0)
        log_ratio = np.log(mean_t[usable]) - np.log(mean_c[usable])
        estimate = math.log(t.spend_per_member / c.spend_per_member)
        low, high = _limits(log_ratio, estimate, alpha, method, _acceleration(t, c, "log_ratio"))
        lift = (math.exp(low) - 1, math.exp(high) - 1)
    return {"revenue_diff_ci_bootstrap": diff, "revenue_lift_ci_bootstrap": lift}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979; R's p.adjust(method = "holm")): the k-th
    smallest p times (m - k + 1), made monotone, capped at 1. NaN p-values are left out of the
    family and stay NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    known = np.flatnonzero(~np.isnan(p))
    m = len(known)
    if m == 0:
        return out
    order = known[np.argsort(p[known], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out
