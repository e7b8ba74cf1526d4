"""A backtest: the scores a warehouse built at a past as_of gave its customers, judged against what
those customers did after it, each metric next to the naive baselines a marketer would use instead.

Plain pandas and scikit-learn. The glue builds the warehouse at as_of from the full landing data,
trains and scores there, and hands this module the scores, the features and RFM scores at as_of,
and the purchases after as_of (placed in [as_of, as_of + horizon), as finally known). Three tasks:

- purchase: did the customer buy within the horizon? Model: purchase_propensity. ROC AUC, PR AUC,
  top-decile lift, and calibration where the horizon is the one the model predicts.
- churn: among customers who had bought before as_of, did they not buy within the horizon?
  Model: churn_risk. ROC AUC, PR AUC.
- value: what did they spend within the horizon? Model: predicted_clv_365d. Spearman rank
  correlation, and the share of the horizon's revenue that the top decile brought.

Baselines, scored for every task in the direction that helps them: recency (more recent buys
more), frequency, RFM score (r + f + m of customer_rfm) and historic spend (monetary_total).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# scipy and sklearn.metrics are imported in the functions that use them: the Dagster code location
# imports this module in every step's process.
from ml.features import KEY
from ml.plots import calibration_png, roc_png
from ml.propensity_metrics import deciles

MODEL = "model"
# A baseline's score: larger means "more likely to buy / more valuable".
BASELINES: dict[str, tuple[str, float]] = {
    "recency": ("recency_days", -1.0),
    "frequency": ("frequency_orders", 1.0),
    "rfm_score": ("rfm_score", 1.0),
    "historic_spend": ("monetary_total", 1.0),
}
TASK_MODEL_COLUMNS = {
    "purchase": "purchase_propensity",
    "churn": "churn_risk",
    "value": "predicted_clv_365d",
}
RESULT_COLUMNS = [
    "as_of",
    "horizon_days",
    "task",
    "scorer",
    "is_model",
    "metric",
    "value",
    "customers",
    "positives",
]


class BacktestError(ValueError):
    """The inputs cannot support an honest comparison (no outcome window, nobody scored)."""


@dataclass
class BacktestResult:
    """`table`: one row per (horizon, task, scorer, metric); `calibration`: mean predicted and
    observed purchase rate per propensity decile; `plots`: PNG bytes by name."""

    table: pd.DataFrame
    calibration: pd.DataFrame
    plots: dict[str, bytes] = field(default_factory=dict)
    context: dict = field(default_factory=dict)


def parse_horizons(text: str | Sequence[int]) -> list[int]:
    """`30,90` or [30, 90] as sorted distinct positive day counts."""
    values = [int(v) for v in (text.split(",") if isinstance(text, str) else text) if str(v).strip()]
    if not values or any(v <= 0 for v in values):
        raise BacktestError(f"horizons must be positive day counts such as 30,90; got {text!r}")
    return sorted(set(values))


def scored_population(scores: pd.DataFrame, features: pd.DataFrame, rfm: pd.DataFrame) -> pd.DataFrame:
    """One row per scored customer with the model columns and the baselines' inputs; `features` is
    the customers' row at the as_of cutoff, `rfm` customer_rfm (r_score, f_score, m_score)."""
    columns = [KEY, *[c for c in TASK_MODEL_COLUMNS.values() if c in scores.columns]]
    frame = scores[columns].merge(
        features[[KEY, "recency_days", "frequency_orders", "monetary_total"]], on=KEY, how="left"
    )
    rfm_score = rfm[[KEY]].assign(
        rfm_score=rfm[["r_score", "f_score", "m_score"]].apply(pd.to_numeric, errors="coerce").sum(axis=1)
    )
    frame = frame.merge(rfm_score, on=KEY, how="left")
    if frame.empty:
        raise BacktestError("no customer was scored at as_of")
    return frame


def outcomes(population: pd.DataFrame, purchases: pd.DataFrame, *, as_of, horizon_days: int) -> pd.DataFrame:
    """Per customer of `population`: orders and revenue in [as_of, as_of + horizon)."""
    start = pd.Timestamp(as_of)
    end = start + pd.Timedelta(days=horizon_days)
    at = pd.to_datetime(purchases["ordered_at"])
    window = purchases[(at >= start) & (at < end)]
    totals = window.groupby(KEY).agg(orders=("ordered_at", "size"), revenue=("revenue", "sum"))
    frame = population[[KEY]].merge(totals, left_on=KEY, right_index=True, how="left")
    frame["orders"] = frame["orders"].fillna(0).astype("int64")
    frame["revenue"] = frame["revenue"].fillna(0.0).astype(float)
    return frame


def _baseline_score(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The baseline's score, missing values (no purchase yet) ranked last."""
    column, sign = BASELINES[name]
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float) * sign
    floor = np.nanmin(values) - 1 if np.isfinite(values).any() else 0.0
    return np.where(np.isfinite(values), values, floor)


def _scorers(frame: pd.DataFrame, task: str) -> dict[str, np.ndarray]:
    """The model and every baseline; for churn the baselines are turned around (less likely to
    buy = more likely to churn)."""
    scorers = {}
    model_column = TASK_MODEL_COLUMNS[task]
    if model_column in frame.columns:
        model = pd.to_numeric(frame[model_column], errors="coerce").to_numpy(dtype=float)
        scorers[MODEL] = np.where(
            np.isfinite(model), model, np.nanmin(model) if np.isfinite(model).any() else 0
        )
    for name in BASELINES:
        score = _baseline_score(frame, name)
        scorers[name] = -score if task == "churn" else score
    return scorers


def top_decile_lift(y: np.ndarray, score: np.ndarray, keys: np.ndarray) -> float:
    """Response rate of the top 10 % by score over the overall rate (ties broken by key)."""
    y = np.asarray(y, dtype=float)
    if not y.any():
        return float("nan")
    top = deciles(score, keys) == 1
    return float(y[top].mean() / y.mean())


def top_decile_share(value: np.ndarray, score: np.ndarray, keys: np.ndarray) -> float:
    """Share of the total of `value` that the top 10 % by score hold."""
    total = float(np.sum(value))
    if total <= 0:
        return float("nan")
    return float(np.sum(value[deciles(score, keys) == 1]) / total)


def calibration_table(y: np.ndarray, p: np.ndarray, keys: np.ndarray) -> pd.DataFrame:
    """Mean predicted probability and observed rate per score decile (1 = top)."""
    frame = pd.DataFrame({"decile": deciles(p, keys), "predicted": p, "observed": np.asarray(y, float)})
    table = frame.groupby("decile").agg(
        customers=("observed", "size"), predicted=("predicted", "mean"), observed=("observed", "mean")
    )
    return table.reset_index()


def _binary_metrics(y: np.ndarray, score: np.ndarray, keys: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if not (0 < y.sum() < len(y)):
        return {}
    return {
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "top_decile_lift": top_decile_lift(y, score, keys),
    }


def evaluate(
    population: pd.DataFrame,
    purchases: pd.DataFrame,
    *,
    as_of,
    horizons: Sequence[int],
    model_horizon_days: int = 30,
    purchases_until=None,
) -> BacktestResult:
    """Every metric of every task, horizon and scorer. `purchases` (customer_key, ordered_at,
    revenue) are the purchases after as_of; `purchases_until` is when the landed data end: a
    horizon that reaches past it would count a partial window as "did not buy", so it is refused."""
    from scipy.stats import spearmanr
    from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

    as_of = pd.Timestamp(as_of)
    horizons = parse_horizons(horizons)
    if purchases_until is not None:
        short = [h for h in horizons if as_of + pd.Timedelta(days=h) > pd.Timestamp(purchases_until)]
        if short:
            raise BacktestError(
                f"the landed purchases end at {pd.Timestamp(purchases_until)}: horizons {short} after "
                f"as_of {as_of} reach past them (choose an earlier as_of or a shorter horizon)"
            )
    keys = population[KEY].astype(str).to_numpy()
    rows: list[dict] = []
    calibration = pd.DataFrame()
    roc_curves: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}

    def add(horizon: int, task: str, scorer: str, metrics: dict[str, float], y: np.ndarray) -> None:
        """One row per metric; `y` is the task's outcome (positives: true, or any spend)."""
        for metric, value in metrics.items():
            rows.append(
                {
                    "as_of": as_of,
                    "horizon_days": horizon,
                    "task": task,
                    "scorer": scorer,
                    "is_model": scorer == MODEL,
                    "metric": metric,
                    "value": value,
                    "customers": len(y),
                    "positives": int((np.asarray(y) > 0).sum()),
                }
            )

    buyers_before = pd.to_numeric(population["frequency_orders"], errors="coerce").fillna(0).to_numpy() > 0
    churn_keys = keys[buyers_before]
    for horizon in horizons:
        actual = outcomes(population, purchases, as_of=as_of, horizon_days=horizon)
        bought = actual["orders"].to_numpy() > 0
        both_classes = 0 < bought.sum() < len(bought)
        for scorer, score in _scorers(population, "purchase").items():
            add(horizon, "purchase", scorer, _binary_metrics(bought, score, keys), bought)
            if both_classes and (scorer == MODEL or horizon == horizons[0]):
                fpr, tpr, _ = roc_curve(bought, score)
                name = f"{horizon}d" if scorer == MODEL else f"{scorer} ({horizon}d)"
                roc_curves[name] = (fpr, tpr, roc_auc_score(bought, score))
            if scorer == MODEL and horizon == model_horizon_days:
                calibration_metrics = {
                    "brier": float(brier_score_loss(bought, score)),
                    "mean_predicted": float(np.mean(score)),
                    "observed_rate": float(bought.mean()),
                }
                add(horizon, "purchase", scorer, calibration_metrics, bought)
                calibration = calibration_table(bought, score, keys)

        churned = ~bought[buyers_before]
        for scorer, score in _scorers(population[buyers_before], "churn").items():
            metrics = _binary_metrics(churned, score, churn_keys)
            add(
                horizon,
                "churn",
                scorer,
                {m: v for m, v in metrics.items() if m != "top_decile_lift"},
                churned,
            )

        spend = actual["revenue"].to_numpy()[buyers_before]
        for scorer, score in _scorers(population[buyers_before], "value").items():
            if len(spend) > 2 and np.ptp(spend) > 0 and np.ptp(score) > 0:
                metrics = {
                    "spearman": float(spearmanr(score, spend).statistic),
                    "top_decile_revenue_share": top_decile_share(spend, score, churn_keys),
                }
                add(horizon, "value", scorer, metrics, spend)

    table = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    plots = {}
    if roc_curves:
        plots["roc"] = roc_png(roc_curves)
    if not calibration.empty:
        plots["calibration"] = calibration_png(
            {f"propensity ({model_horizon_days}d)": (calibration["predicted"], calibration["observed"])}
        )
    context = {
        "as_of": str(as_of),
        "horizons": horizons,
        "customers": len(population),
        "customers_with_purchases_before": int(buyers_before.sum()),
    }
    return BacktestResult(table, calibration, plots, context)


METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "top_decile_lift": "top-decile lift",
    "spearman": "Spearman",
    "top_decile_revenue_share": "top-decile revenue share",
}
SCORER_ORDER = [MODEL, *BASELINES]


def comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The table wide: one row per (horizon, task, metric), the model and each baseline side by
    side, and the best baseline's margin."""
    shown = table[table["metric"].isin(METRIC_LABELS)]
    wide = shown.pivot_table(
        index=["horizon_days", "task", "metric"], columns="scorer", values="value", aggfunc="first"
    )
    wide = wide[[c for c in SCORER_ORDER if c in wide.columns]].reset_index()
    baselines = [c for c in BASELINES if c in wide.columns]
    if MODEL in wide.columns and baselines:
        wide["model_minus_best_baseline"] = wide[MODEL] - wide[baselines].max(axis=1)
    order = {"purchase": 0, "churn": 1, "value": 2}
    metric_order = {m: i for i, m in enumerate(METRIC_LABELS)}
    return wide.sort_values(
        ["horizon_days", "task", "metric"],
        key=lambda s: s.map(order) if s.name == "task" else s.map(metric_order) if s.name == "metric" else s,
    ).reset_index(drop=True)


def render_markdown(result: BacktestResult, *, title: str, notes: Sequence[str] = ()) -> str:
    """The report: what was compared, the comparison table, calibration, and the notes given."""
    ctx = result.context
    lines = [
        f"# {title}",
        "",
        f"As of {ctx['as_of']}: {ctx['customers']:,} customers scored, "
        f"{ctx['customers_with_purchases_before']:,} of whom had bought before (the churn and value "
        f"population). Horizons: {', '.join(f'{h} days' for h in ctx['horizons'])}.",
        "",
    ]
    counts = result.table.drop_duplicates(["horizon_days", "task"])[
        ["horizon_days", "task", "customers", "positives"]
    ]
    lines += ["| horizon | task | customers | positives |", "|---:|---|---:|---:|"]
    lines += [
        f"| {r.horizon_days} d | {r.task} | {r.customers:,} | {r.positives:,} |" for r in counts.itertuples()
    ]
    wide = comparison(result.table)
    scorers = [c for c in SCORER_ORDER if c in wide.columns]
    header = ["horizon", "task", "metric", *scorers, "model − best baseline"]
    lines += [
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|",
    ]
    for row in wide.itertuples(index=False):
        values = row._asdict()
        cells = [f"{values['horizon_days']} d", values["task"], METRIC_LABELS[values["metric"]]]
        cells += ["" if pd.isna(values[s]) else f"{values[s]:.3f}" for s in scorers]
        margin = values.get("model_minus_best_baseline")
        cells.append("" if margin is None or pd.isna(margin) else f"{margin:+.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    if not result.calibration.empty:
        brier = result.table[(result.table["metric"] == "brier")]["value"]
        lines += [
            "",
            f"Calibration of the purchase propensity (Brier score {brier.iloc[0]:.4f}):"
            if len(brier)
            else "",
            "",
            "| decile | customers | mean predicted | observed |",
            "|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.decile} | {r.customers:,} | {r.predicted:.3f} | {r.observed:.3f} |"
            for r in result.calibration.itertuples()
        ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
