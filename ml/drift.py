"""Drift: how far today's population has moved from the one a model trained on, and what that means.

The population stability index (PSI) compares binned shares of a feature (or of the score) between
the training population (a reference profile stored with the model) and today's. The severity
rule is a business decision kept here, not in the Dagster check that shows it: a PSI of 0.1 or
more warns (worth a look), 0.25 or more fails (the model is scoring a population it never saw).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

PSI_WARN = 0.1
PSI_FAIL = 0.25
PSI_EPS = 1e-4


def drift_status(psi_values, *, warn: float = PSI_WARN, fail: float = PSI_FAIL):
    """'ok', 'warn' (PSI >= warn) or 'fail' (PSI >= fail), for one value or an array of them."""
    values = np.asarray(psi_values)
    status = np.where(values >= fail, "fail", np.where(values >= warn, "warn", "ok"))
    return str(status) if status.ndim == 0 else status


@dataclass(frozen=True)
class DriftCheck:
    """The verdict on a drift table: it passes only when every feature and the score are 'ok';
    any 'fail' makes it an error, warnings alone a warning."""

    passed: bool
    severity: str  # "error" or "warn"
    failing: tuple[str, ...]
    warning: tuple[str, ...]
    max_psi: float

    def summary(self) -> dict:
        return {
            "failing": ", ".join(self.failing) or "none",
            "warning": ", ".join(self.warning) or "none",
            "max_psi": self.max_psi,
        }


def check_drift(drift: pd.DataFrame) -> DriftCheck:
    """Judge a psi_table: which features fail, which warn, and how severe the check is."""
    failing = tuple(drift.loc[drift["status"] == "fail", "feature"])
    warning = tuple(drift.loc[drift["status"] == "warn", "feature"])
    return DriftCheck(
        passed=not failing and not warning,
        severity="error" if failing else "warn",
        failing=failing,
        warning=warning,
        max_psi=float(drift["psi"].max()) if len(drift) else 0.0,
    )


def psi(reference_share: np.ndarray, current_share: np.ndarray, eps: float = PSI_EPS) -> float:
    """Population stability index: sum (cur - ref) * ln(cur / ref), shares floored at eps."""
    r = np.maximum(np.asarray(reference_share, dtype=float), eps)
    c = np.maximum(np.asarray(current_share, dtype=float), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def reference_profile(
    df: pd.DataFrame, numeric: Sequence[str] = (), categorical: Sequence[str] = (), *, bins: int = 10
) -> dict:
    """Bin edges (reference deciles) and shares per feature; JSON-able, stored with the model so
    drift can be measured later without keeping the training data."""
    prof: dict = {"numeric": {}, "categorical": {}}
    for col in numeric:
        if col not in df.columns:
            continue
        x = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x)
        edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, bins + 1)[1:-1])) if ok.any() else np.array([])
        prof["numeric"][col] = {
            "edges": edges.tolist(),
            "shares": _numeric_shares(x, edges).tolist(),
            "n": len(x),
        }
    for col in categorical:
        if col not in df.columns:
            continue
        s = df[col].astype(object).where(df[col].notna(), "__missing__").astype(str)
        shares = s.value_counts(normalize=True).sort_index()
        prof["categorical"][col] = {"shares": {str(k): float(v) for k, v in shares.items()}, "n": len(s)}
    return prof


def _numeric_shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares per bin: (-inf, e1], (e1, e2], ..., (ek, inf), then a bin for missing values."""
    ok = np.isfinite(x)
    idx = np.searchsorted(edges, x[ok], side="left")
    counts = np.r_[np.bincount(idx, minlength=len(edges) + 1), (~ok).sum()].astype(float)
    return counts / max(len(x), 1)


def psi_table(
    profile: dict,
    current: pd.DataFrame,
    *,
    warn: float = PSI_WARN,
    fail: float = PSI_FAIL,
    eps: float = PSI_EPS,
) -> pd.DataFrame:
    """PSI per feature of `current` against a reference profile, with status ok / warn / fail
    (PSI >= warn, >= fail). A feature absent from `current` is reported as 'fail'."""
    rows = []
    for col, ref in profile.get("numeric", {}).items():
        if col not in current.columns:
            rows.append({"feature": col, "kind": "numeric", "psi": np.inf, "n_current": 0})
            continue
        x = pd.to_numeric(current[col], errors="coerce").to_numpy(dtype=float)
        cur = _numeric_shares(x, np.asarray(ref["edges"], dtype=float))
        rows.append(
            {"feature": col, "kind": "numeric", "psi": psi(ref["shares"], cur, eps), "n_current": len(x)}
        )
    for col, ref in profile.get("categorical", {}).items():
        if col not in current.columns:
            rows.append({"feature": col, "kind": "categorical", "psi": np.inf, "n_current": 0})
            continue
        s = current[col].astype(object).where(current[col].notna(), "__missing__").astype(str)
        cur = s.value_counts(normalize=True)
        cats = sorted(set(ref["shares"]) | set(cur.index))
        r = np.array([ref["shares"].get(c, 0.0) for c in cats])
        c = np.array([float(cur.get(c, 0.0)) for c in cats])
        rows.append({"feature": col, "kind": "categorical", "psi": psi(r, c, eps), "n_current": len(s)})
    out = pd.DataFrame(rows, columns=["feature", "kind", "psi", "n_current"])
    out["status"] = drift_status(out["psi"].to_numpy(), warn=warn, fail=fail)
    out["warn_threshold"] = warn
    out["fail_threshold"] = fail
    return out


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    bins: int = 10,
    warn: float = PSI_WARN,
    fail: float = PSI_FAIL,
) -> pd.DataFrame:
    """PSI table between two populations (e.g. training features vs scoring features, or
    training scores vs today's scores: pass the score column in `numeric`)."""
    prof = reference_profile(reference, numeric, categorical, bins=bins)
    return psi_table(prof, current, warn=warn, fail=fail)
