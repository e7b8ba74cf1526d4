"""How often the holdout analysis's 95 % intervals cover the truth, by simulation.

    uv run python bench/bench_experiments.py [--runs 2000] [--resamples 1000]

Simulated experiments with a known truth: conversion p_c in control and 1.5 x p_c in treatment,
spend per buyer lognormal (the same in both arms), members per arm chosen so that control has
about 10 ... 200 converters. For each setting it counts how often each interval misses the true
value below and above: the relative conversion lift (symmetric delta-method interval, the one the
analysis used to report, against the Katz log interval it reports now), the relative spend lift
(symmetric delta method against the log-ratio interval and the bootstrap), and Welch's interval of
the difference in spend per member. Writes bench/results/experiments.json; the figures back the
default of activation.experiment_analysis.MIN_CONVERTERS_PER_ARM.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from activation import experiment_stats as st

RESULTS = Path(__file__).parent / "results" / "experiments.json"
P_CONTROL = 0.02
LIFT = 1.5
CONTROL_CONVERTERS = (10, 20, 30, 50, 100, 200)
SIGMAS = (1.0, 1.5)


def _symmetric(ratio: float, relative_variance: float, z: float) -> tuple[float, float]:
    """The delta-method interval of a ratio, symmetric around it (what the analysis reported)."""
    half = z * ratio * math.sqrt(relative_variance)
    return ratio - 1 - half, ratio - 1 + half


def simulate(converters: int, sigma: float, runs: int, resamples: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n = round(converters / P_CONTROL)
    z = st.z_value(0.95)
    spend_mean = math.exp(sigma**2 / 2)
    truth = {"ratio": LIFT - 1, "difference": (LIFT - 1) * P_CONTROL * spend_mean}
    misses: dict[str, list[int]] = {}

    def count(name: str, interval: tuple[float, float], true: float) -> None:
        below, above = misses.setdefault(name, [0, 0])
        misses[name] = [below + (interval[1] < true), above + (interval[0] > true)]

    for _ in range(runs):
        t, c = (
            st.ArmSample(n=n, buyer_spend=rng.lognormal(0.0, sigma, rng.binomial(n, p)))
            for p in (LIFT * P_CONTROL, P_CONTROL)
        )
        if c.converters == 0:
            continue
        p_t, p_c = t.conversion_rate, c.conversion_rate
        count(
            "conversion_lift_symmetric",
            _symmetric(p_t / p_c, (1 - p_t) / (n * p_t) + (1 - p_c) / (n * p_c), z),
            truth["ratio"],
        )
        count("conversion_lift_katz", st.conversion_lift(t, c, 0.95)[1], truth["ratio"])
        m_t, m_c = t.spend_per_member, c.spend_per_member
        relative = t.member_variance / (n * m_t**2) + c.member_variance / (n * m_c**2)
        count("spend_lift_symmetric", _symmetric(m_t / m_c, relative, z), truth["ratio"])
        count("spend_lift_log_ratio", st.spend_lifts(t, c, z)["revenue_lift_ci_log"], truth["ratio"])
        count(
            "spend_difference_welch",
            st.welch_interval(t, c, 0.95)["revenue_diff_ci_welch"],
            truth["difference"],
        )
        if resamples:
            for method in st.BOOTSTRAP_METHODS:
                boot = st.bootstrap_spend(
                    t, c, 0.95, resamples=resamples, seed=int(rng.integers(2**31)), method=method
                )
                count(f"spend_lift_bootstrap_{method}", boot["revenue_lift_ci_bootstrap"], truth["ratio"])
                count(
                    f"spend_difference_bootstrap_{method}",
                    boot["revenue_diff_ci_bootstrap"],
                    truth["difference"],
                )
    return {
        name: {"coverage": round(1 - (below + above) / runs, 4), "misses_below": below, "misses_above": above}
        for name, (below, above) in misses.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per run (0: none)")
    parser.add_argument("--seed", type=int, default=20260630)
    args = parser.parse_args()
    settings = []
    for sigma in SIGMAS:
        for converters in CONTROL_CONVERTERS:
            figures = simulate(converters, sigma, args.runs, args.resamples, args.seed)
            settings.append({"control_converters": converters, "spend_sigma": sigma, "intervals": figures})
            shown = ", ".join(f"{k} {v['coverage']:.3f}" for k, v in figures.items())
            print(f"sigma {sigma} control converters {converters:>4}: {shown}", flush=True)
    RESULTS.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": platform.platform(),
                "load_average": os.getloadavg(),
                "runs": args.runs,
                "bootstrap_resamples": args.resamples,
                "p_control": P_CONTROL,
                "lift": LIFT,
                "settings": settings,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
