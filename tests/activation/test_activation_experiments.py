"""Holdout experiments: the assignment SQL makes (macros/run/holdout.sql) is deterministic,
independent across campaigns and the documented hash; activation takes it as it is, refuses a row
that contradicts it, and analyses the outcomes correctly."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from activation.errors import InputError
from activation.experiments import CONTROL, TREATMENT, analyze_campaigns, analyze_holdout, holdout_assignments
from tests.activation.helpers import content_test, holdout_macros, with_holdout


def _frame(n: int, campaign: str = "spring") -> pd.DataFrame:
    return pd.DataFrame({"campaign_key": campaign, "customer_key": [f"c{i:07d}" for i in range(n)]})


def _assigned(frame: pd.DataFrame, *, salt: str, share: float) -> pd.DataFrame:
    return holdout_assignments(with_holdout(frame, share=share, salt=salt))


def test_assignment_is_stable_and_independent_of_row_order():
    frame = _frame(5000)
    first = _assigned(frame, salt="s", share=0.1)
    shuffled = _assigned(frame.sample(frac=1.0, random_state=3), salt="s", share=0.1)
    merged = first.merge(shuffled, on=["campaign_key", "customer_key"])
    assert len(merged) == 5000 and (merged["arm_x"] == merged["arm_y"]).all()
    assert (first["bucket"] >= 0).all() and (first["bucket"] < 1).all()
    other_salt = _assigned(frame, salt="t", share=0.1)
    assert (other_salt["arm"] != first["arm"]).any()


def test_control_share_is_within_tolerance():
    arms = _assigned(_frame(40_000), salt="audience-warehouse", share=0.1)
    share = (arms["arm"] == CONTROL).mean()
    sigma = math.sqrt(0.1 * 0.9 / 40_000)
    assert abs(share - 0.1) < 4 * sigma


def test_campaigns_are_independent():
    n = 40_000
    a = _assigned(_frame(n, "a"), salt="s", share=0.2)["arm"].to_numpy() == CONTROL
    b = _assigned(_frame(n, "b"), salt="s", share=0.2)["arm"].to_numpy() == CONTROL
    both = (a & b).mean()
    assert abs(both - 0.04) < 4 * math.sqrt(0.04 * 0.96 / n)


def test_the_macro_computes_the_documented_hash():
    arms = _assigned(_frame(2000, "launch-2026"), salt="pepper", share=0.25)
    documented = [
        int(hashlib.md5(f"pepper:{c}:{k}".encode()).hexdigest()[:8], 16) / 16**8
        for c, k in zip(arms["campaign_key"], arms["customer_key"], strict=True)
    ]
    assert np.abs(arms["bucket"].to_numpy() - np.array(documented)).max() < 1e-12
    assert ((arms["arm"] == CONTROL) == (np.array(documented) < 0.25)).all()
    assert set(arms["hash_version"]) == {"md5-8hex-v1"}


def test_share_must_be_a_proper_share():
    with pytest.raises(ValueError, match="holdout_share"):
        holdout_macros("s", 1.0).holdout_share()
    rows = with_holdout(_frame(10), share=0.5, salt="s").assign(holdout_share=1.0)
    with pytest.raises(InputError, match="outside"):
        holdout_assignments(rows)


def test_an_arm_that_contradicts_its_bucket_fails_loudly_naming_the_row():
    rows = with_holdout(_frame(10), share=0.5, salt="s")
    flipped = rows["holdout_arm"].map({CONTROL: TREATMENT, TREATMENT: CONTROL})
    rows.loc[3, "holdout_arm"] = flipped[3]
    with pytest.raises(InputError, match=r"1 row\(s\) \(control is not bucket < share\): spring/c0000003"):
        holdout_assignments(rows)


def test_a_campaign_row_without_an_arm_fails_loudly():
    rows = with_holdout(_frame(3), share=0.1, salt="s")
    with pytest.raises(InputError, match="holdout_arm is missing or not an arm name"):
        holdout_assignments(rows.assign(holdout_arm=[TREATMENT, None, TREATMENT]))
    with pytest.raises(InputError, match="holdout columns"):
        holdout_assignments(_frame(3))


def test_rows_without_a_campaign_are_in_no_experiment():
    assert holdout_assignments(_frame(3).assign(campaign_key=None)).empty


def _outcomes() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for arm, n, x in ((TREATMENT, 1000, 120), (CONTROL, 1000, 100)):
        converted = np.array([1] * x + [0] * (n - x))
        revenue = np.where(converted == 1, rng.gamma(2.0, 25.0, n), 0.0)
        rows.append(pd.DataFrame({"arm": arm, "converted": converted, "revenue": revenue}))
    return pd.concat(rows, ignore_index=True)


def test_analysis_matches_a_hand_computation():
    outcomes = _outcomes()
    result = analyze_holdout(outcomes)
    arms = result.arms.set_index("arm")
    assert arms.loc[TREATMENT, "n"] == 1000 and arms.loc[CONTROL, "conversions"] == 100
    assert arms.loc[TREATMENT, "conversion_rate"] == pytest.approx(0.12)
    z = 1.959963984540054
    # Wald: 0.02 ± z * sqrt(.12*.88/1000 + .10*.90/1000) = 0.02 ± z * 0.0139857
    assert result.absolute_lift == pytest.approx(0.02)
    assert result.absolute_lift_ci_wald == pytest.approx((-0.0074113, 0.0474113), abs=1e-6)
    # pooled z-test: p = 0.11, se = sqrt(.11*.89*2/1000) = 0.0139929, z = 1.42930
    assert result.z_statistic == pytest.approx(1.429300, abs=1e-5)
    assert result.p_value == pytest.approx(0.152913, abs=1e-5)
    # Katz log interval: log 1.2 ± z * sqrt(1/120 - 1/1000 + 1/100 - 1/1000)
    assert result.relative_lift == pytest.approx(0.2)
    se = math.sqrt(1 / 120 - 1 / 1000 + 1 / 100 - 1 / 1000)
    assert result.relative_lift_ci_log == pytest.approx(
        (1.2 * math.exp(-z * se) - 1, 1.2 * math.exp(z * se) - 1)
    )

    # Newcombe (method 10): Wilson limits of each arm combined
    def wilson(x, n):
        p = x / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    (lt, ut), (lc, uc) = wilson(120, 1000), wilson(100, 1000)
    low = 0.02 - math.sqrt((0.12 - lt) ** 2 + (uc - 0.10) ** 2)
    high = 0.02 + math.sqrt((ut - 0.12) ** 2 + (0.10 - lc) ** 2)
    assert result.absolute_lift_ci_newcombe == pytest.approx((low, high))
    # by hand: Wilson (0.101297, 0.141609) and (0.082908, 0.120152)
    assert result.absolute_lift_ci_newcombe == pytest.approx((-0.007494, 0.047552), abs=1e-5)
    # Welch: checked against scipy's independent implementation
    t_rev = outcomes.loc[outcomes["arm"] == TREATMENT, "revenue"]
    c_rev = outcomes.loc[outcomes["arm"] == CONTROL, "revenue"]
    welch = stats.ttest_ind(t_rev, c_rev, equal_var=False)
    assert result.revenue_diff == pytest.approx(t_rev.mean() - c_rev.mean())
    assert result.revenue_p_value == pytest.approx(welch.pvalue)
    ci = welch.confidence_interval(0.95)
    assert result.revenue_diff_ci_welch == pytest.approx((ci.low, ci.high))


def test_analysis_needs_both_arms():
    with pytest.raises(InputError):
        analyze_holdout(pd.DataFrame({"arm": [TREATMENT], "converted": [1], "revenue": [1.0]}))


def _window_fixture() -> tuple[pd.DataFrame, pd.DataFrame]:
    assignments = pd.DataFrame(
        {
            "campaign_key": ["c1", "c1", "c1", "c1"],
            "customer_key": ["bought", "bought_late", "none", "too_recent"],
            "arm": ["treatment", "control", "treatment", "control"],
            "first_assigned_at": pd.to_datetime(["2026-05-01", "2026-05-01", "2026-05-01", "2026-06-25"]),
        }
    )
    purchases = pd.DataFrame(
        {
            "customer_key": ["bought", "bought", "bought_late", "too_recent"],
            "ordered_at": pd.to_datetime(["2026-05-02", "2026-05-30", "2026-05-31", "2026-06-26"]),
            "revenue": [10.0, 5.0, 99.0, 7.0],
        }
    )
    return assignments, purchases


def test_holdout_outcomes_count_purchases_inside_each_members_closed_window_only():
    from activation.experiments import holdout_outcomes

    assignments, purchases = _window_fixture()
    outcomes = holdout_outcomes(assignments, purchases, window_days=30, as_of=pd.Timestamp("2026-06-30"))
    by_customer = outcomes.set_index("customer_key")
    assert list(by_customer.index) == ["bought", "bought_late", "none"]
    assert by_customer.loc["bought", "converted"] and by_customer.loc["bought", "revenue"] == 15.0
    assert (
        not by_customer.loc["bought_late", "converted"] and by_customer.loc["bought_late", "revenue"] == 0.0
    )
    assert not by_customer.loc["none", "converted"]


def test_each_campaign_with_both_arms_is_analysed_and_a_one_arm_campaign_is_skipped():
    rng = np.random.default_rng(11)
    n = 400
    assignments = pd.DataFrame(
        {
            "campaign_key": ["spring"] * n + ["solo"] * 20,
            "customer_key": [f"c{i}" for i in range(n)] + [f"s{i}" for i in range(20)],
            "arm": [CONTROL if i % 4 == 0 else TREATMENT for i in range(n)] + [TREATMENT] * 20,
            "first_assigned_at": pd.Timestamp("2026-04-01"),
        }
    )
    buyers = rng.choice(n, 80, replace=False)
    purchases = pd.DataFrame(
        {
            "customer_key": [f"c{i}" for i in buyers],
            "ordered_at": pd.Timestamp("2026-04-10"),
            "revenue": rng.gamma(2.0, 20.0, len(buyers)),
        }
    )
    results = analyze_campaigns(assignments, purchases, window_days=30, as_of=pd.Timestamp("2026-06-30"))
    assert list(results.campaigns["campaign_key"]) == ["spring"]
    assert len(results.outcomes) == n + 20
    spring = results.outcomes[results.outcomes["campaign_key"] == "spring"]
    expected = analyze_holdout(spring).summary()
    row = results.campaigns.iloc[0]
    assert row["window_days"] == 30
    assert row["p_value"] == pytest.approx(expected["p_value"])
    assert row["absolute_lift"] == pytest.approx(expected["absolute_lift"])
    arms = results.arms.set_index("arm")
    assert arms.loc[CONTROL, "n"] == 100 and arms.loc[TREATMENT, "n"] == 300
    assert set(results.arms["campaign_key"]) == {"spring"}


def test_no_closed_window_means_no_campaign():
    assignments, purchases = _window_fixture()
    results = analyze_campaigns(assignments, purchases, window_days=30, as_of=pd.Timestamp("2026-05-15"))
    assert results.campaigns.empty and results.arms.empty and results.outcomes.empty


def test_content_test_arms_are_taken_as_sql_named_them_and_must_each_be_one_bucket_range():
    rows = with_holdout(_frame(400), share=0.2, salt="s")
    rows["holdout_arm"] = np.select(
        [rows["holdout_bucket"] < 0.2, rows["holdout_bucket"] < 0.6], [CONTROL, "subject_a"], "subject_b"
    )
    assert set(holdout_assignments(rows)["arm"]) == {CONTROL, "subject_a", "subject_b"}
    swapped = rows.copy()
    low_b = swapped.index[swapped["holdout_arm"] == "subject_a"][0]
    swapped.loc[low_b, "holdout_arm"] = "subject_b"
    with pytest.raises(InputError, match="interleave on the bucket line"):
        holdout_assignments(swapped)
    with pytest.raises(InputError, match="not an arm name"):
        holdout_assignments(rows.assign(holdout_arm=rows["holdout_arm"].replace("subject_a", "Subject A")))


def test_a_content_test_is_analysed_per_variant_per_segment_and_pooled_with_holm():
    assignments, purchases, layout = content_test()
    results = analyze_campaigns(
        assignments,
        purchases,
        window_days=30,
        as_of=pd.Timestamp("2026-06-30"),
        campaign_arms=layout,
        min_converters=40,
    )
    per_segment = results.campaigns.set_index(["segment_name", "arm", "reference_arm"])
    assert set(per_segment.index) == {
        (segment, arm, reference)
        for segment in ("browse_abandoners", "at_risk_lapsing")
        for arm, reference in (("generic", CONTROL), ("models", CONTROL), ("models", "generic"))
    }
    assert set(results.campaigns["test_key"]) == {"picks"}
    browse = per_segment.loc["browse_abandoners"]
    # the two comparisons with control are one Holm family of 2, models against the baseline its own
    assert browse.loc[("models", CONTROL), "comparisons"] == 2
    assert browse.loc[("models", "generic"), "comparisons"] == 1
    ps = browse.xs(CONTROL, level="reference_arm")["p_value"]
    assert browse.xs(CONTROL, level="reference_arm")["p_value_holm"].max() == pytest.approx(
        max(2 * ps.min(), ps.max()) if 2 * ps.min() <= 1 else 1.0
    )
    members = results.outcomes[results.outcomes["campaign_key"] == "browse"]
    expected = analyze_holdout(members, arm="models", reference="generic", min_converters=40)
    assert browse.loc[("models", "generic"), "relative_lift"] == pytest.approx(expected.relative_lift)
    pooled = results.content_tests.set_index(["arm", "reference_arm"])
    assert pooled.loc[("models", CONTROL), "arm_members"] == int((results.outcomes["arm"] == "models").sum())
    assert pooled.loc[("models", "generic"), "relative_lift"] > 0.2
    assert set(results.content_tests["segments"]) == {"at_risk_lapsing, browse_abandoners"}
    # each segment's control converts 24 and 29 times, the pooled control 53: two warnings
    assert [w.split(":")[0] for w in results.warnings] == ["browse/control", "lapsing/control"]
    assert "24 converters, fewer than 40" in results.warnings[0]
    assert results.counts()["content_tests"] == 1 and results.counts()["comparisons"] == 6
