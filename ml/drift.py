"""Drift: how far today's population has moved from the one a model trained on, and what that means.

The population stability index (PSI) compares binned shares of a feature (or of the score) between
the training population (a reference profile stored with the model) and today's. The severity
rule is a business decision kept here, not in the Dagster check that shows it: a PSI of 0.1 or
more warns (worth a look), 0.25 or more fails (the model is scoring a population it never saw).
"""

from __future__ import annotations

from collections import Counter
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


def _numeric_counts(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Rows per bin: (-inf, e1], (e1, e2], ..., (ek, inf), then a bin for missing values."""
    ok = np.isfinite(x)
    idx = np.searchsorted(edges, x[ok], side="left")
    return np.r_[np.bincount(idx, minlength=len(edges) + 1), (~ok).sum()].astype(float)


def _numeric_shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares per bin of _numeric_counts."""
    return _numeric_counts(x, edges) / max(len(x), 1)


class DriftCounts:
    """Binned counts of a population against a reference profile, added up batch by batch, so that
    today's population can be read in bounded batches: the shares (count / rows) and hence the PSI
    are exactly those of the whole population at once (psi_table is this with one batch)."""

    def __init__(self, profile: dict):
        self.profile = profile
        self.rows = 0
        self.numeric: dict[str, np.ndarray | None] = {col: None for col in profile.get("numeric", {})}
        self.categorical: dict[str, Counter | None] = {col: None for col in profile.get("categorical", {})}

    def add(self, current: pd.DataFrame) -> DriftCounts:
        """Count one batch of today's population (every batch with the same columns)."""
        self.rows += len(current)
        for col, ref in self.profile.get("numeric", {}).items():
            if col in current.columns:
                x = pd.to_numeric(current[col], errors="coerce").to_numpy(dtype=float)
                counts = _numeric_counts(x, np.asarray(ref["edges"], dtype=float))
                seen = self.numeric[col]
                self.numeric[col] = counts if seen is None else seen + counts
        for col in self.profile.get("categorical", {}):
            if col in current.columns:
                s = current[col].astype(object).where(current[col].notna(), "__missing__").astype(str)
                counted = Counter(s.value_counts().to_dict())
                self.categorical[col] = (self.categorical[col] or Counter()) + counted
        return self

    def table(self, *, warn: float = PSI_WARN, fail: float = PSI_FAIL, eps: float = PSI_EPS) -> pd.DataFrame:
        """PSI per feature with status ok / warn / fail (PSI >= warn, >= fail). A feature never seen
        in today's population is reported as 'fail'."""
        rows = []
        n = self.rows
        for col, ref in self.profile.get("numeric", {}).items():
            counts = self.numeric[col]
            if counts is None:
                rows.append({"feature": col, "kind": "numeric", "psi": np.inf, "n_current": 0})
                continue
            cur = counts / max(n, 1)
            value = psi(ref["shares"], cur, eps)
            rows.append({"feature": col, "kind": "numeric", "psi": value, "n_current": n})
        for col, ref in self.profile.get("categorical", {}).items():
            counted = self.categorical[col]
            if counted is None:
                rows.append({"feature": col, "kind": "categorical", "psi": np.inf, "n_current": 0})
                continue
            cats = sorted(set(ref["shares"]) | set(counted))
            r = np.array([ref["shares"].get(c, 0.0) for c in cats])
            c = np.array([counted.get(c, 0) for c in cats], dtype=np.int64) / max(n, 1)
            rows.append({"feature": col, "kind": "categorical", "psi": psi(r, c, eps), "n_current": n})
        out = pd.DataFrame(rows, columns=["feature", "kind", "psi", "n_current"])
        out["status"] = drift_status(out["psi"].to_numpy(), warn=warn, fail=fail)
        out["warn_threshold"] = warn
        out["fail_threshold"] = fail
        return out


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
    return DriftCounts(profile).add(current).table(warn=warn, fail=fail, eps=eps)


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
