"""Drift: the population stability index, its severity rule, and the verdict the asset check shows."""

import numpy as np
import pandas as pd

from ml.drift import PSI_FAIL, PSI_WARN, check_drift, drift_report, drift_status, psi


def _drift_table(psi_by_feature: dict[str, float]) -> pd.DataFrame:
    values = np.array(list(psi_by_feature.values()), dtype=float)
    return pd.DataFrame({"feature": list(psi_by_feature), "psi": values, "status": drift_status(values)})


def test_a_psi_of_0_1_warns_and_0_25_fails():
    assert (PSI_WARN, PSI_FAIL) == (0.1, 0.25)
    assert drift_status(0.1) == "warn"
    assert drift_status(0.25) == "fail"


def test_a_psi_just_below_a_threshold_stays_on_the_milder_side():
    assert drift_status(0.0999) == "ok"
    assert drift_status(0.2499) == "warn"


def test_a_feature_missing_today_has_an_infinite_psi_and_fails():
    assert drift_status(np.inf) == "fail"


def test_the_status_rule_works_on_a_whole_column_at_once():
    statuses = drift_status(np.array([0.0, 0.1, 0.3]))
    assert list(statuses) == ["ok", "warn", "fail"]


def test_thresholds_can_be_set_per_call():
    assert drift_status(0.15, warn=0.2, fail=0.5) == "ok"
    assert drift_status(0.15, warn=0.05, fail=0.1) == "fail"


def test_a_stable_population_passes_the_check():
    verdict = check_drift(_drift_table({"recency_days": 0.01, "purchase_propensity": 0.02}))
    assert verdict.passed
    assert verdict.summary() == {"failing": "none", "warning": "none", "max_psi": 0.02}


def test_warnings_alone_fail_the_check_as_a_warning():
    verdict = check_drift(_drift_table({"recency_days": 0.12, "tenure_days": 0.0}))
    assert not verdict.passed and verdict.severity == "warn"
    assert verdict.warning == ("recency_days",) and verdict.failing == ()


def test_any_failing_feature_makes_the_check_an_error_and_names_every_drifted_feature():
    verdict = check_drift(
        _drift_table({"recency_days": 0.3, "tenure_days": 0.12, "purchase_propensity": 0.26})
    )
    assert not verdict.passed and verdict.severity == "error"
    assert verdict.summary() == {
        "failing": "recency_days, purchase_propensity",
        "warning": "tenure_days",
        "max_psi": 0.3,
    }


def test_an_empty_drift_table_passes_with_a_max_psi_of_zero():
    verdict = check_drift(_drift_table({}))
    assert verdict.passed and verdict.max_psi == 0.0


def test_drift_tables_carry_the_thresholds_they_were_judged_by():
    ref = pd.DataFrame({"a": np.arange(100.0)})
    table = drift_report(ref, ref, numeric=["a"])
    assert list(table.columns) == [
        "feature",
        "kind",
        "psi",
        "n_current",
        "status",
        "warn_threshold",
        "fail_threshold",
    ]
    assert table.loc[0, "warn_threshold"] == PSI_WARN and table.loc[0, "fail_threshold"] == PSI_FAIL


def test_psi_is_zero_on_identical_data_and_fails_on_shifted_data():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame(
        {
            "spend": rng.lognormal(3, 1, 20_000),
            "orders": rng.poisson(1.0, 20_000).astype(float),
            "tier": rng.choice(["bronze", "silver", "gold", None], 20_000, p=[0.5, 0.3, 0.1, 0.1]),
        }
    )
    same = drift_report(ref, ref, numeric=["spend", "orders"], categorical=["tier"])
    assert (same["psi"] < 1e-9).all() and (same["status"] == "ok").all()

    resampled = ref.sample(frac=1.0, replace=True, random_state=2)
    assert (
        drift_report(ref, resampled, numeric=["spend", "orders"], categorical=["tier"])["psi"] < 0.01
    ).all()

    shifted = pd.DataFrame(
        {
            "spend": rng.lognormal(3.8, 1, 20_000),
            "orders": rng.poisson(2.5, 20_000).astype(float),
            "tier": rng.choice(["bronze", "silver", "gold", "platinum"], 20_000, p=[0.1, 0.2, 0.3, 0.4]),
        }
    )
    rep = drift_report(ref, shifted, numeric=["spend", "orders"], categorical=["tier"]).set_index("feature")
    assert (rep["psi"] > PSI_FAIL).all() and (rep["status"] == "fail").all()


def test_psi_handles_empty_bins_and_missing_features():
    assert np.isfinite(psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))
    ref = pd.DataFrame({"a": np.arange(100.0)})
    rep = drift_report(ref, pd.DataFrame({"b": [1.0]}), numeric=["a"])
    assert rep.loc[0, "status"] == "fail"
    missing_more = drift_report(ref, pd.DataFrame({"a": [np.nan] * 50 + list(range(50))}), numeric=["a"])
    assert missing_more.loc[0, "status"] == "fail"
