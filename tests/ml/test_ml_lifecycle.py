"""Model registry, champion/challenger rule, fingerprints and metadata."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from ml.lifecycle import ModelRegistry, data_fingerprint, promotion_decision, register_model

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Fixed:
    """A stand-in model whose holdout score is known."""

    def __init__(self, score: float):
        self.score = score


def _register(reg, score, *, i, tolerance=0.01, higher=True, comparable=None):
    frame = pd.DataFrame({"x": [i, i + 1]})
    return register_model(
        reg,
        "m",
        Fixed(score),
        challenger_score=score,
        evaluate=lambda model: model.score,
        metric_name="score",
        higher_is_better=higher,
        tolerance=tolerance,
        training_frame=frame,
        training_window={"first_cutoff": "2025-06-01", "label_window_end": "2025-12-31"},
        features={"numeric": ["x"]},
        metrics={"auc": score},
        random_state=1,
        trained_at=T0 + timedelta(days=i),
        champion_comparable=comparable,
    )


def test_first_model_becomes_champion_with_full_metadata(tmp_path):
    reg = ModelRegistry(tmp_path)
    run = _register(reg, 0.70, i=0)
    assert run["promoted"] and run["champion_version"] is None
    assert reg.champion_version("m") == run["version"]
    meta = json.loads((tmp_path / "m" / run["version"] / "metadata.json").read_text())
    for key in (
        "libraries",
        "features",
        "training_window",
        "data_fingerprint",
        "metrics",
        "random_state",
        "promoted",
    ):
        assert key in meta
    assert meta["libraries"]["scikit-learn"]
    assert run["artifact_path"].endswith("model.joblib")
    assert set(run) >= {
        "run_id",
        "model_name",
        "version",
        "trained_at",
        "data_fingerprint",
        "n_train",
        "metrics",
        "reason",
    }


def test_worse_challenger_is_rejected_and_champion_kept(tmp_path):
    reg = ModelRegistry(tmp_path)
    champ = _register(reg, 0.70, i=0)
    run = _register(reg, 0.65, i=1)
    assert not run["promoted"] and "worse" in run["reason"]
    assert run["champion_score"] == pytest.approx(0.70)
    assert reg.champion_version("m") == champ["version"]
    assert len(reg.versions("m")) == 2  # the rejected model is kept for audit
    model, _ = reg.load("m")
    assert model.score == 0.70


def test_equal_within_tolerance_or_better_challenger_is_promoted(tmp_path):
    reg = ModelRegistry(tmp_path)
    _register(reg, 0.70, i=0)
    within = _register(reg, 0.695, i=1)
    assert within["promoted"] and reg.champion_version("m") == within["version"]
    better = _register(reg, 0.80, i=2)
    assert better["promoted"] and reg.champion_version("m") == better["version"]


def test_lower_is_better_metrics(tmp_path):
    reg = ModelRegistry(tmp_path)
    _register(reg, 0.50, i=0, higher=False)
    assert not _register(reg, 0.60, i=1, higher=False)["promoted"]
    assert _register(reg, 0.505, i=2, higher=False)["promoted"]


def test_champion_that_trained_on_the_holdout_is_not_compared(tmp_path):
    reg = ModelRegistry(tmp_path)
    _register(reg, 0.90, i=0)
    run = _register(reg, 0.60, i=1, comparable=lambda meta: "it trained on the holdout")
    assert run["promoted"] and "not comparable" in run["reason"]


def test_decision_rule_edges():
    assert promotion_decision(0.5, None, tolerance=0.01)[0]
    assert promotion_decision(0.69, 0.70, tolerance=0.01)[0]
    assert not promotion_decision(0.689, 0.70, tolerance=0.01)[0]
    assert not promotion_decision(float("nan"), 0.7, tolerance=0.01)[0]


def test_sklearn_pipeline_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)), rng.random(200) > 0.5
    clf = LogisticRegression(random_state=0).fit(X, y)
    reg = ModelRegistry(tmp_path)
    run = register_model(
        reg, "clf", clf, challenger_score=0.5, evaluate=None, metric_name="auc", trained_at=T0, random_state=0
    )
    loaded, meta = reg.load("clf")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert meta["version"] == run["version"]


def test_fingerprint_ignores_row_and_column_order_but_not_content():
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert data_fingerprint(df) == data_fingerprint(df.iloc[::-1][["b", "a"]])
    assert data_fingerprint(df) != data_fingerprint(df.assign(a=[1, 2, 4]))


def test_metadata_is_strict_json_even_with_nan_metrics(tmp_path):
    reg = ModelRegistry(tmp_path)
    run = register_model(
        reg,
        "m",
        Fixed(0.5),
        challenger_score=0.5,
        evaluate=None,
        metric_name="score",
        metrics={"p_value": float("nan"), "curve": np.array([1.0, np.inf])},
        trained_at=T0,
    )
    text = (tmp_path / "m" / run["version"] / "metadata.json").read_text()
    meta = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert meta["metrics"] == {"p_value": None, "curve": [1.0, None]}
    assert json.loads(run["metrics"])["p_value"] is None
