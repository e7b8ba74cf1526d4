"""Baseline gates: a model is served only when it beats the naive rule a marketer would otherwise
use, on the latest fold, by a stated margin. Otherwise the baseline is served and named as such.

The business thresholds are the fields of `GateSettings`; each is a difference in the metric's
own units on the latest fold (ROC AUC points, Spearman points), not a ratio:

- `propensity_margin` (0.01): the model's ROC AUC for "buys in the next 30 days" beats every
  baseline's (order count, recency, RFM score, historic spend) by at least 0.01;
- `clv_margin` (0.02): predicted CLV ranks the holdout window's revenue (Spearman) at least 0.02
  better than historic spend;
- `churn_margin` (0.02): BG/NBD churn risk separates who did not come back (ROC AUC) at least
  0.02 better than days since the last purchase.

Why a margin and not "any improvement": a fold holds one month of one business; a model that
beats "rank by order count" by 0.001 has not shown it is worth its complexity, its drift checks
and the explanation it needs, and a baseline is easier to trust and to defend.

Degeneracy of a BG/NBD fit (ml.btyd_checks) is a separate gate with its own thresholds below:
a fit that says nobody drops out, or that gives everyone the same probability of being alive,
is not a model of churn whatever its likelihood.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Degenerate BG/NBD fits (see ml.btyd_checks):
MIN_MEAN_DROPOUT = 1e-3  # a / (a + b) below this: the fit says nobody ever drops out
MIN_ALIVE_SPREAD = 0.05  # P(alive) 90th - 10th percentile over repeat customers below this: no ranking
MAX_DEGENERATE_CHURN_AUC = 0.5  # churn AUC on the fold at or below this: no better than a coin


@dataclass(frozen=True)
class GateSettings:
    """The margins a model must win by on the latest fold to be served (see the module docstring)."""

    propensity_metric: str = "roc_auc"
    propensity_margin: float = 0.01
    clv_margin: float = 0.02
    churn_margin: float = 0.02

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GateDecision:
    """Which of a model and its baselines is served, and why (stored in the model's metadata)."""

    score: str  # what is being scored: purchase_propensity, churn_risk, predicted_clv
    metric: str
    margin: float
    model: str
    model_value: float
    baselines: dict[str, float]
    fallback: str  # what is served when the model does not pass
    passed: bool
    served: str
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def decide(
    score: str,
    *,
    metric: str,
    margin: float,
    model: str,
    model_value: float,
    baselines: dict[str, float],
    fallback: str,
) -> GateDecision:
    """Serve `model` only if its value beats the best finite baseline value by at least `margin`
    (higher is better); otherwise serve `fallback`. A model with a non-finite value never passes;
    with no finite baseline value the model passes when its own value is finite."""
    finite = {name: float(v) for name, v in baselines.items() if np.isfinite(v)}
    if not np.isfinite(model_value):
        passed, reason = False, f"{model} has no finite {metric} on the latest fold"
    elif not finite:
        passed, reason = True, f"no baseline could be measured; {model} {metric} {model_value:.4f}"
    else:
        best = max(finite, key=lambda n: (finite[n], n))
        gap = model_value - finite[best]
        passed = gap >= margin - 1e-12
        verdict = "beats" if passed else "does not beat"
        reason = (
            f"{model} {metric} {model_value:.4f} {verdict} the best baseline {best} "
            f"{finite[best]:.4f} by the margin {margin} (gap {gap:+.4f})"
        )
    return GateDecision(
        score=score,
        metric=metric,
        margin=float(margin),
        model=model,
        model_value=float(model_value),
        baselines={n: float(v) for n, v in baselines.items()},
        fallback=fallback,
        passed=bool(passed),
        served=model if passed else fallback,
        reason=reason,
    )


BEATS_BASELINE_CHECK = "served_score_beats_its_baseline"
NOT_DEGENERATE_CHECK = "bgnbd_fit_is_not_degenerate"


@dataclass(frozen=True)
class GateVerdict:
    """What an asset check shows about a training run's gates: passed, and the reasons."""

    passed: bool
    served: dict[str, str]  # score -> what is served
    reasons: list[str]

    def summary(self) -> dict:
        return {"served": self.served, "reasons": self.reasons}


def training_verdicts(model_name: str, report: dict) -> dict[str, GateVerdict]:
    """The gate checks of one training run's report (ml.propensity / ml.btyd): whether the model
    is what is served (a served baseline warns), and for BTYD whether the fit was degenerate."""
    if model_name == "propensity":
        gate = report.get("gate") or {}
        return {
            BEATS_BASELINE_CHECK: GateVerdict(
                passed=bool(gate.get("passed")),
                served={"purchase_propensity": report["chosen"]},
                reasons=[gate.get("reason", "no gate was run")],
            )
        }
    if model_name == "btyd":
        diagnostics = report.get("diagnostics") or {}
        gates = (diagnostics.get("fold") or {}).get("gates") or []
        served = {
            "predicted_clv": report["method"],
            "churn_risk": report.get("churn_method", report["method"]),
        }
        model_served = all(v == "bgnbd_gamma_gamma" for v in served.values())
        degenerate = list(diagnostics.get("degeneracy") or [])
        return {
            BEATS_BASELINE_CHECK: GateVerdict(
                passed=model_served,
                served=served,
                reasons=[g["reason"] for g in gates] or [report["reason"]],
            ),
            NOT_DEGENERATE_CHECK: GateVerdict(
                passed=not degenerate,
                served=served,
                reasons=degenerate or ["no sign of degeneracy"],
            ),
        }
    return {}
