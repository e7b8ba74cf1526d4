"""The two probability models behind churn and CLV: BG/NBD (purchase days and dropout) and
Gamma-Gamma (spend per purchase day). Parameters, log-likelihoods, maximum likelihood fits,
predictions and simulators; all times in days. What counts as a plausible fit, the fallback and
the scores are decided in ml.btyd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import betaln, expit, gammaln, hyp2f1, logsumexp

LOG_BOUND = 12.0  # parameters are searched in log space within +-LOG_BOUND


@dataclass(frozen=True)
class BGNBDParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float


@dataclass
class FitResult:
    params: BGNBDParams | GammaGammaParams | None
    converged: bool
    message: str
    neg_log_likelihood: float
    n: int
    iterations: int


# --- BG/NBD ------------------------------------------------------------------------------------


def _compress(*cols: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows and their counts: customers with identical (x, t_x, T) share one term."""
    stacked = np.column_stack(cols)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return [uniq[:, i] for i in range(uniq.shape[1])], counts.astype(float)


def bgnbd_log_likelihood(params: BGNBDParams, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood of BG/NBD."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(invalid="ignore", divide="ignore"):
        a3 = np.where(
            x > 0,
            betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + logsumexp(np.vstack([a2, a3]), axis=0)


def _minimize(nll, x0: np.ndarray, maxiter: int) -> tuple[optimize.OptimizeResult, str]:
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(x0)
    res = optimize.minimize(nll, x0, method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter})
    if res.success:
        return res, "L-BFGS-B"
    retry = optimize.minimize(
        nll, res.x, method="Nelder-Mead", options={"maxiter": maxiter, "xatol": 1e-6, "fatol": 1e-10}
    )
    if retry.success and np.all(np.abs(retry.x) < LOG_BOUND):
        return retry, "Nelder-Mead"
    return res, "L-BFGS-B"


def fit_bgnbd(frequency, recency, T, *, maxiter: int = 2000) -> FitResult:
    """Maximum likelihood BG/NBD on (frequency, recency, T); parameters searched in log space."""
    (x, t_x, TT), w = _compress(
        np.asarray(frequency, float), np.asarray(recency, float), np.asarray(T, float)
    )
    total = w.sum()

    def nll(theta):
        p = BGNBDParams(*np.exp(theta))
        ll = bgnbd_log_likelihood(p, x, t_x, TT)
        v = -(w * ll).sum() / total
        return v if np.isfinite(v) else 1e10

    rate = max(float(np.average(x, weights=w)) / max(float(np.average(TT, weights=w)), 1.0), 1e-4)
    x0 = np.log([1.0, 1.0 / rate, 1.0, 3.0])
    res, how = _minimize(nll, x0, maxiter)
    params = BGNBDParams(*(float(v) for v in np.exp(res.x)))
    return FitResult(
        params, bool(res.success), f"{how}: {res.message}", float(res.fun) * total, int(total), int(res.nit)
    )


def bgnbd_probability_alive(params: BGNBDParams, frequency, recency, T) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = (
            np.log(a) - np.log(b + np.maximum(x, 1) - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
    return np.where(x > 0, expit(-log_ratio), 1.0)


def bgnbd_expected_purchases(params: BGNBDParams, t: float, frequency, recency, T) -> np.ndarray:
    """Expected purchase days in (T, T + t] given the customer's history (FHL 2005, eq. 10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = t / (alpha + T + t)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
        log_ratio = (
            np.log(a) - np.log(b + np.maximum(x, 1) - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        denom = 1 + np.where(x > 0, np.exp(np.minimum(log_ratio, 700)), 0.0)
        return first * second / denom


def bgnbd_population_expected(params: BGNBDParams, t: float) -> float:
    """E[X(t)] for a new customer (FHL 2005, eq. 7): used in sanity checks."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + t)
    return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z)))


def simulate_bgnbd(params: BGNBDParams, T, *, seed: int = 0) -> pd.DataFrame:
    """Simulate (frequency, recency, T) from BG/NBD: lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b),
    exponential gaps, dropout with probability p after each repeat purchase."""
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    t = np.zeros(n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        t_new = t[idx] + rng.exponential(1.0 / np.maximum(lam[idx], 1e-300))
        inside = t_new <= T[idx]
        done = idx[~inside]
        active[done] = False
        idx, t_new = idx[inside], t_new[inside]
        t[idx] = t_new
        x[idx] += 1
        t_x[idx] = t_new
        dies = rng.random(idx.size) < p[idx]
        active[idx[dies]] = False
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": T})


# --- Gamma-Gamma --------------------------------------------------------------------------------


def gamma_gamma_log_likelihood(params: GammaGammaParams, frequency, monetary) -> np.ndarray:
    p, q, v = params.p, params.q, params.v
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


def fit_gamma_gamma(frequency, monetary, *, maxiter: int = 2000) -> FitResult:
    """Maximum likelihood Gamma-Gamma on repeat customers with positive monetary value."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    ok = (x > 0) & (m > 0) & np.isfinite(m)
    x, m = x[ok], m[ok]
    if len(x) == 0:
        return FitResult(None, False, "no repeat customer with positive spend", float("nan"), 0, 0)
    n = len(x)

    def nll(theta):
        val = -gamma_gamma_log_likelihood(GammaGammaParams(*np.exp(theta)), x, m).sum() / n
        return val if np.isfinite(val) else 1e10

    x0 = np.log([1.0, 2.0, float(np.mean(m))])
    res, how = _minimize(nll, x0, maxiter)
    return FitResult(
        GammaGammaParams(*(float(v) for v in np.exp(res.x))),
        bool(res.success),
        f"{how}: {res.message}",
        float(res.fun) * n,
        n,
        int(res.nit),
    )


def gamma_gamma_expected_spend(params: GammaGammaParams, frequency, monetary) -> np.ndarray:
    """E[spend per purchase day | x, m] = p (v + x m) / (p x + q - 1)."""
    p, q, v = params.p, params.q, params.v
    x = np.asarray(frequency, dtype=float)
    m = np.where(np.asarray(frequency) > 0, np.asarray(monetary, dtype=float), 0.0)
    return p * (v + x * m) / (p * x + q - 1)


def simulate_gamma_gamma(params: GammaGammaParams, frequency, *, seed: int = 0) -> np.ndarray:
    """Mean spend of x transactions: nu ~ Gamma(q, rate v), each z ~ Gamma(p, rate nu)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=np.int64)
    nu = rng.gamma(params.q, 1.0 / params.v, len(x))
    total = rng.gamma(np.maximum(params.p * x, 1e-12), 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1), 0.0)
