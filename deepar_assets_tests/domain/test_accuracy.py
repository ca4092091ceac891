"""Vintages scored on the actuals that follow them: hand-computed figures on a tiny case, the
parts' parity with the metrics module, and the drift verdict on constructed data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepar_assets.constants import QUANTILES
from deepar_assets.domain import accuracy as acc
from deepar_assets.domain import metrics
from deepar_assets.errors import ConfigurationError, EncodingError
from deepar_assets_tests.domain.accuracy_samples import F1, F2, QCOLS, V1, V2, P, actuals_for, vintage


def scored() -> pd.DataFrame:
    return pd.concat(
        [
            acc.scored_rows(V1, F1, actuals_for(list(map(pd.Timestamp, V1.periods))), ["Store"], "Date"),
            acc.scored_rows(V2, F2, actuals_for(list(map(pd.Timestamp, V2.periods))), ["Store"], "Date"),
        ],
        ignore_index=True,
    )


def test_actuals_are_the_observed_points_of_the_wanted_periods_with_their_weights():
    frame = actuals_for([P[2], P[3]])  # P[3] has no actuals yet
    assert frame[["Store", "Type", "actual", "weight"]].values.tolist() == [[1, "A", 200.0, 5.0], [2, "B", 20.0, 5.0]]
    assert actuals_for([P[0]])["Store"].tolist() == [1]  # series 2 had no value then


def test_two_overlapping_vintages_score_as_computed_by_hand():
    rows = scored()
    # V1 has both its periods; V2 only its first (P[3] has not happened): 6 points.
    assert sorted(rows.groupby("vintage_id").size().items()) == [(V1.vintage_id, 4), (V2.vintage_id, 2)]
    # The attributes are today's (series 2 is Type B now), not the forecast table's.
    assert rows.loc[rows["Store"] == 2, "Type"].unique().tolist() == ["B"]
    table = acc.by_horizon(rows).set_index("horizon")
    # Step 1: V1 at P[1] (weight 1): |100-110| = 10, |10-10| = 0; V2 at P[2] (weight 5): 10, 4.
    #   WMAE = (10 + 0 + 5*10 + 5*4) / (1 + 1 + 5 + 5) = 80 / 12.
    #   bias = ((110-100) + 0 + (190-200) + (16-20)) / (100 + 10 + 200 + 20) = -4 / 330.
    #   inside [p10, p90]: 100 in [90, 130], 10 in [9, 11], 200 in [170, 210], 20 in [11, 21]: 4 of 4.
    assert table.loc[1, "WMAE"] == pytest.approx(80 / 12)
    assert table.loc[1, "bias"] == pytest.approx(-4 / 330)
    assert table.loc[1, "coverage_80"] == 1.0
    assert table.loc[1, "points"] == 4
    # Step 2: V1 at P[2] (weight 5): |200-150| = 50, |20-30| = 10: WMAE = (250 + 50) / 10 = 30.
    #   bias = (-50 + 10) / 220; inside: 200 in [130, 170]? no; 20 in [25, 35]? no: 0.
    assert table.loc[2, "WMAE"] == pytest.approx(30.0)
    assert table.loc[2, "bias"] == pytest.approx(-40 / 220)
    assert table.loc[2, "coverage_80"] == 0.0
    # wQuantileLoss as SageMaker defines it, from the metrics module on the same points.
    step2 = rows[rows["horizon"] == 2]
    expected = metrics.mean_weighted_quantile_loss(
        step2["actual"].to_numpy(), {q: step2[c].to_numpy() for q, c in zip(QUANTILES, QCOLS, strict=True)}
    )
    assert table.loc[2, "mean_wQuantileLoss"] == pytest.approx(expected)
    # By vintage × period: three rows, one per (vintage, period), each with its step.
    per = acc.by_period(rows, ["vintage_id"], "Date")
    assert [(v, f"{d:%Y-%m-%d}", h) for v, d, h in per[["vintage_id", "Date", "horizon"]].itertuples(index=False)] == [
        (V1.vintage_id, "2024-01-12", 1),
        (V1.vintage_id, "2024-01-19", 2),
        (V2.vintage_id, "2024-01-19", 1),
    ]
    assert per["WMAE"].tolist() == pytest.approx([5.0, 30.0, 7.0])


def test_the_parts_give_the_metrics_modules_figures_on_random_points():
    rng = np.random.default_rng(3)
    n = 200
    actual = rng.gamma(2.0, 50.0, n)
    mean = actual * rng.uniform(0.7, 1.3, n)
    rows = pd.DataFrame({"actual": actual, "mean": mean, "weight": rng.choice([1.0, 5.0], n), "horizon": 1})
    for q, column in zip(QUANTILES, QCOLS, strict=True):
        rows[column] = mean * (0.6 + 0.8 * q)
    figures = acc.summarize(rows)
    assert figures["WMAE"] == pytest.approx(metrics.wmae(actual, mean, rows["weight"].to_numpy()))
    quantiles = {q: rows[c].to_numpy() for q, c in zip(QUANTILES, QCOLS, strict=True)}
    assert figures["mean_wQuantileLoss"] == pytest.approx(metrics.mean_weighted_quantile_loss(actual, quantiles))
    assert figures["bias"] == pytest.approx((mean - actual).mean() / actual.mean())
    assert figures["coverage_80"] == pytest.approx(np.mean((actual >= rows["p10"]) & (actual <= rows["p90"])))


def test_a_forecast_table_without_the_ids_or_with_gaps_is_refused_by_name():
    with pytest.raises(EncodingError, match=r"lacks the columns \['Store'\]"):
        acc.scored_rows(V1, F1.drop(columns="Store"), actuals_for([P[1]]), ["Store"], "Date")
    broken = scored().assign(p50=np.nan)
    with pytest.raises(EncodingError, match="missing forecast value"):
        acc.by_horizon(broken)


def test_a_manifest_that_is_not_one_is_refused_naming_where():
    with pytest.raises(
        EncodingError, match=r"vintages/x/vintage.json: the vintage manifest lacks \['dataset', 'model_id'"
    ):
        acc.Vintage.from_json(b'{"vintage_id": "x"}', "vintages/x/vintage.json")
    with pytest.raises(EncodingError, match="invalid JSON"):
        acc.Vintage.from_json(b'{"vintage_id": ', "v.json")
    assert acc.Vintage.from_json(V1.to_json(), "v.json") == V1


# -- drift ----------------------------------------------------------------------------------
def drift_rows(
    errors_by_horizon: dict[int, float], bump: float = 3.0, periods: int = 6, series: int = 4
) -> pd.DataFrame:
    """Scored points of one model: every series misses by the given error at each step, in
    every period; series 0 (store 0) misses ``bump`` times as much in the last 2 periods."""
    records = []
    for k in range(periods):
        for s in range(series):
            for h, error in errors_by_horizon.items():
                miss = error * (bump if (s == 0 and k >= periods - 2) else 1.0)
                records.append(
                    {"model_id": "m1", "Store": s, "Type": "A" if s < 2 else "B", "horizon": h,
                     "Date": P[0] + pd.Timedelta(weeks=k), "actual": 100.0, "mean": 100.0 + miss, "weight": 1.0}
                )  # fmt: skip
    rows = pd.DataFrame(records)
    for column in QCOLS:
        rows[column] = rows["mean"]
    return rows


EXPECTED_H = pd.DataFrame({"model_id": "m1", "horizon": [1, 2], "WMAE": [10.0, 20.0]})
EXPECTED_S = pd.DataFrame({"model_id": "m1", "Store": [0, 1, 2, 3], "Type": ["A", "A", "B", "B"], "WMAE": 15.0})
RULE = acc.DriftRule(tolerance=0.25, recent_periods=2)


def verdict(rows, expected_h=EXPECTED_H, expected_s=EXPECTED_S, rule=RULE):
    return acc.drift_verdict(rows, expected_h, expected_s, "Date", ["Store", "Type"], ["Type", "Store"], rule)


def test_accuracy_as_the_backtest_expected_passes():
    result = verdict(drift_rows({1: 10.0, 2: 20.0}, bump=1.0))
    assert result.passed and result.judged and not result.degraded
    assert result.recent_periods == ["2024-02-02", "2024-02-09"]  # the last 2 of 6 weekly periods
    assert result.horizons["ratio"].tolist() == pytest.approx([1.0, 1.0])
    assert "within 25% of the backtest at every horizon step" in result.description


def test_one_series_three_times_worse_degrades_the_steps_it_moves_and_names_its_groups():
    # Recent periods: series 0 misses 3x. Step 1: (30 + 10*3)/4 = 15 vs 10 expected: 1.5x > 1.25.
    result = verdict(drift_rows({1: 10.0, 2: 20.0}), rule=acc.DriftRule(tolerance=0.25, recent_periods=2))
    assert not result.passed and result.degraded
    assert result.degraded_horizons == [1, 2]
    horizons = result.horizons.set_index("horizon")
    assert horizons.loc[1, "recent_WMAE"] == pytest.approx(15.0) and horizons.loc[1, "ratio"] == pytest.approx(1.5)
    assert horizons.loc[2, "ratio"] == pytest.approx(1.5)
    named = {(r.column, r.value) for r in result.groups.itertuples()}
    assert ("Store", "0") in named and ("Type", "A") in named and ("Type", "B") not in named
    assert "h1 1.50×" in result.description and "Store=0" in result.description
    # Judged over all 6 periods, the excess is diluted: step 1 is (2*30 + 22*10)/24 = 11.67 vs 10, 1.17x.
    diluted = verdict(drift_rows({1: 10.0, 2: 20.0}), rule=acc.DriftRule(tolerance=0.25, recent_periods=6))
    assert diluted.passed and diluted.horizons.set_index("horizon").loc[1, "ratio"] == pytest.approx(70 / 60)
    # And a looser tolerance passes the last 2 periods.
    assert verdict(drift_rows({1: 10.0, 2: 20.0}), rule=acc.DriftRule(tolerance=0.6, recent_periods=2)).passed


def test_without_actuals_or_without_a_backtest_there_is_no_verdict_and_no_degradation():
    empty = verdict(pd.DataFrame())
    assert empty.passed and not empty.judged and "no published forecast has actuals" in empty.description
    unknown = verdict(drift_rows({1: 50.0}), expected_h=EXPECTED_H.assign(model_id="other"))
    assert not unknown.judged and not unknown.degraded
    assert "no backtest expectation for model(s) ['m1']" in unknown.description


def test_series_furthest_above_their_backtest_come_first():
    table = acc.series_above_expectation(drift_rows({1: 10.0, 2: 20.0}), EXPECTED_S, "Date", ["Store", "Type"], RULE)
    assert table["Store"].tolist()[0] == 0
    assert table.loc[0, "recent_WMAE"] == pytest.approx(45.0) and table.loc[0, "ratio"] == pytest.approx(3.0)


@pytest.mark.parametrize("kwargs", [{"tolerance": -0.1}, {"tolerance": float("nan")}, {"recent_periods": 0}])
def test_a_rule_that_cannot_judge_is_refused(kwargs):
    with pytest.raises(ConfigurationError, match="drift"):
        acc.DriftRule(**kwargs)


def test_each_figure_is_set_beside_what_the_backtest_expected_of_the_same_points():
    other = vintage(P[1], [P[2], P[3]], model="m2")  # V2's forecast, by another model
    rows = pd.concat(
        [
            acc.scored_rows(V1, F1, actuals_for([P[1], P[2]]), ["Store"], "Date"),
            acc.scored_rows(other, F2, actuals_for([P[2], P[3]]), ["Store"], "Date"),
        ],
        ignore_index=True,
    )
    expected = pd.DataFrame(
        {
            "model_id": ["m1", "m1", "m2"],
            "horizon": [1, 2, 1],
            "WMAE": [4.0, 40.0, 10.0],
            "mean_wQuantileLoss": [0.1, 0.2, 0.3],
            "bias": [0.0, -0.1, 0.05],
            "coverage_80": [0.5, 0.7, 0.9],
        }
    )
    table = acc.compare_by_horizon(rows, expected).set_index("horizon")
    # Step 1 pools m1's points at P[1] (weights 1, 1) and m2's at P[2] (weights 5, 5).
    assert table.loc[1, "expected_WMAE"] == pytest.approx((2 * 4.0 + 10 * 10.0) / 12)
    # wQuantileLoss by |actual|: m1's actuals 100 + 10, m2's 200 + 20.
    assert table.loc[1, "expected_mean_wQuantileLoss"] == pytest.approx((110 * 0.1 + 220 * 0.3) / 330)
    assert table.loc[1, "expected_bias"] == pytest.approx((110 * 0.0 + 220 * 0.05) / 330)
    assert table.loc[1, "expected_coverage_80"] == pytest.approx((2 * 0.5 + 2 * 0.9) / 4)
    # Step 2 is m1's alone; its own figures are the ones computed by hand above.
    assert table.loc[2, "expected_WMAE"] == 40.0 and table.loc[2, "WMAE"] == pytest.approx(30.0)
    # A model without a backtest: nothing to set beside it.
    alone = acc.compare_by_horizon(rows, expected[expected["model_id"] == "m2"]).set_index("horizon")
    assert np.isnan(alone.loc[2, "expected_WMAE"]) and alone.loc[1, "expected_WMAE"] == pytest.approx(10.0)
