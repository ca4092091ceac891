"""deepar_assets.domain.backtest: baselines (seasonal naive and statsforecast's models, fitted
for real, with the season given), scores with period weights, breakdowns by every attribute and
id, the series where DeepAR loses, windows and the validation report on any frequency, and the
gate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from deepar_assets.constants import QUANTILES
from deepar_assets.domain import backtest as bt
from deepar_assets.domain import combination as cb
from deepar_assets.domain import metrics
from deepar_assets.domain.baselines import seasonal_naive
from deepar_assets.domain.encoding import CatSpec, Encoding
from deepar_assets.domain.spec import load_spec
from deepar_assets.errors import TrainingError

H = 4
SEASON = 52  # the histories below have a 52-period season


def _seasonal(n: int, level: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level * (1 + 0.3 * np.sin(2 * np.pi * t / 52)) + rng.normal(0, level * 0.02, n)


def test_fill_history_interpolates_inside_carries_the_end_and_drops_the_start():
    history = np.array([np.nan, np.nan, 1.0, np.nan, 3.0, 4.0, np.nan])
    np.testing.assert_array_equal(bt.fill_history(history), [1.0, 2.0, 3.0, 4.0, 4.0])


def test_seasonal_naive_has_a_band_from_its_own_seasonal_errors():
    """Its mean is the point; its quantiles add the empirical quantiles of the series' own
    seasonal differences y[t] - y[t - season]; a series with too few of them keeps the point."""
    histories = [_seasonal(70, 1000, 1), _seasonal(SEASON + 2, 50, 2)]
    result = bt.baseline_forecasts(histories, H, bt.SEASONAL_NAIVE, SEASON)
    point = seasonal_naive(histories[0], H, SEASON)
    np.testing.assert_array_equal(result.forecast["mean"][0], point)
    differences = histories[0][SEASON:] - histories[0][:-SEASON]
    for key, tau in zip(bt.quantile_keys(), QUANTILES, strict=True):
        np.testing.assert_allclose(result.forecast[key][0], point + np.quantile(differences, tau))
        np.testing.assert_array_equal(result.forecast[key][1], result.forecast["mean"][1])  # 2 differences only
    assert bt.has_interval(result.forecast)
    stacked = np.stack([result.forecast[k][0] for k in bt.quantile_keys()])
    assert (np.diff(stacked, axis=0) >= 0).all()


@pytest.mark.parametrize("name", bt.STATISTICAL_BASELINES)
def test_statistical_baselines_fit_each_series_and_fall_back_where_they_cannot(name):
    histories = [_seasonal(120, 1000, 3), _seasonal(80, 200, 4), np.array([5.0, 6.0])]
    histories[1][[10, 11, 40]] = np.nan
    result = bt.baseline_forecasts(histories, H, name, SEASON)
    forecast = result.forecast
    assert set(forecast) == {"mean", *bt.quantile_keys()}
    assert all(v.shape == (3, H) and np.isfinite(v).all() for v in forecast.values())
    quantiles = np.stack([forecast[k] for k in bt.quantile_keys()])
    assert (np.diff(quantiles[:, :2], axis=0) >= -1e-9).all(), "quantiles must not cross"
    assert (forecast["p90"][:2] > forecast["p10"][:2]).all(), "a statistical model gives an interval"
    assert result.fallbacks == [2] and "tiny datasets" in result.errors[2]
    np.testing.assert_array_equal(forecast["mean"][2], seasonal_naive(histories[2], H, SEASON))
    # A model fitted on a level of 1000 forecasts around it.
    assert 600 < forecast["mean"][0].mean() < 1500


def test_a_baseline_that_fits_no_series_is_an_error_naming_it_and_the_reasons():
    histories = [np.array([5.0, 6.0]), np.array([np.nan, 1.0, 2.0])]
    with pytest.raises(
        TrainingError, match=r"baseline AutoETS could not fit any of the 2 series.*tiny datasets.*\(2 series\)"
    ):
        bt.baseline_forecasts(histories, H, "AutoETS", SEASON)
    allowed = bt.baseline_forecasts(histories, H, "AutoETS", SEASON, all_may_fall_back=True)
    assert allowed.fallbacks == [0, 1] and list(allowed.reason_counts().values()) == [2]
    assert bt.baseline_forecasts([], H, "AutoETS", SEASON).forecast["mean"].shape == (0, H)  # nothing to fit


def test_a_window_reports_the_series_each_baseline_could_not_fit_by_reason():
    """A series too short for the statistical models: their rows are seasonal naive's, and the
    window says so per model (series, forecasts, reasons), also once stacked over origins."""
    records = [*_monthly_records(), {"start": "2018-07-01 00:00:00", "target": np.arange(6.0) + 1, "cat": [1, 1]}]
    deepar = {"mean": np.zeros((3, H)), **{k: np.zeros((3, H)) for k in bt.quantile_keys()}}
    window = bt.build_window(records, H, _monthly_encoding(), deepar, ["AutoETS", "MSTL"])
    report = window.fallback_report()
    assert set(report) == {"AutoETS", "MSTL"}
    for name, fell in report.items():
        assert {k: v for k, v in fell.items() if k != "reasons"} == {
            "series": 1,
            "of_series": 3,
            "forecasts": 1,
            "of_forecasts": 3,
        }
        [(reason, count)] = fell["reasons"].items()
        assert count == 1 and "tiny datasets" in reason
        np.testing.assert_array_equal(window.forecasts[name]["mean"][2], window.forecasts[bt.SEASONAL_NAIVE]["mean"][2])
        assert window.fallbacks[name].tolist() == ["", "", reason]
    stacked = bt.Window.stack([window, window.rows(np.array([True, True, False]))])
    assert stacked.fallback_report()["AutoETS"] | {"reasons": None} == {
        "series": 1,
        "of_series": 3,
        "forecasts": 1,
        "of_forecasts": 5,
        "reasons": None,
    }
    assert bt.Window.stack([window.rows(np.array([True, True, False]))]).fallback_report() == {}


def test_baselines_the_combination_fitted_on_the_same_histories_are_taken_as_they_are(monkeypatch):
    """The combination's fits of a window (forecasts and each row's fallback reason) make the
    backtest's window of the same origin without fitting anything again."""
    records = [*_monthly_records(), {"start": "2018-07-01 00:00:00", "target": np.arange(6.0) + 1, "cat": [1, 1]}]
    deepar = {"mean": np.zeros((3, H)), **{k: np.zeros((3, H)) for k in bt.quantile_keys()}}
    fitted_here = bt.build_window(records, H, _monthly_encoding(), deepar, ["AutoETS", "MSTL"])
    names = [bt.SEASONAL_NAIVE, "AutoETS", "MSTL"]
    chosen, _ = cb.candidate_window(records, 0, H, _monthly_encoding(), names, None)
    rows = np.flatnonzero(chosen.present)
    handed = {n: ({k: v[rows] for k, v in chosen.forecasts[n].items()}, chosen.reasons[n][rows]) for n in names}

    def no_fitting(*args, **kwargs):
        raise AssertionError("fitted again")

    monkeypatch.setattr("deepar_assets.domain.backtest.window.baseline_forecasts", no_fitting)
    taken = bt.build_window(records, H, _monthly_encoding(), deepar, ["AutoETS", "MSTL"], fitted=handed)
    for name in names:
        for key, values in fitted_here.forecasts[name].items():
            np.testing.assert_array_equal(taken.forecasts[name][key], values)
    assert taken.fallback_report() == fitted_here.fallback_report() != {}


def test_unknown_baseline_is_refused():
    with pytest.raises(ValueError, match="baseline 'Prophet': choose from"):
        bt.baseline_forecasts([np.ones(10)], H, "Prophet", SEASON)


def test_the_season_is_the_one_given():
    """A 7-period season (daily data): seasonal naive repeats last week, and MASE scales by
    the in-sample error at lag 7."""
    history = np.tile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 4) + np.arange(28) * 0.01
    result = bt.baseline_forecasts([history], 7, bt.SEASONAL_NAIVE, 7)
    np.testing.assert_allclose(result.forecast["mean"][0], history[-7:])
    weekly = bt.score(history[None, -7:] + 1, result.forecast, 1.0, [history], season=7)
    assert weekly["MASE"] == pytest.approx(metrics.mase(history[None, -7:] + 1, result.forecast["mean"], [history], 7))
    assert weekly["WMAE"] == pytest.approx(1.0)  # no weights: the MAE


def test_score_matches_the_metric_definitions_and_counts_coverage():
    actual = np.array([[10.0, 20.0, np.nan, 40.0], [5.0, 5.0, 5.0, 5.0]])
    point = np.array([[12.0, 18.0, 30.0, 40.0], [4.0, 6.0, 5.0, 9.0]])
    weights = np.array([[1.0, 5.0, 1.0, 1.0], [1.0, 1.0, 1.0, 5.0]])
    forecast = {"mean": point, **{k: point for k in bt.quantile_keys()}}
    forecast["p10"], forecast["p90"] = point - 1.5, point + 1.5
    histories = [np.arange(60.0), np.arange(60.0) % 7]
    scores = bt.score(actual, forecast, weights, histories, SEASON)
    # (2·1 + 2·5 + 0·1) + (1 + 1 + 0 + 4·5), over the observed points' weights (7 + 8)
    assert scores["WMAE"] == pytest.approx((2 + 10 + 0 + 1 + 1 + 0 + 20) / 15)
    assert scores["WMAE"] == pytest.approx(metrics.wmae(actual, point, weights))
    assert scores["RMSE"] == pytest.approx(metrics.rmse(actual, point))
    assert scores["MASE"] == pytest.approx(metrics.mase(actual, point, histories, SEASON))
    # Inside [p - 1.5, p + 1.5], of the 7 observed weeks: series 0 week 3 (weeks 0 and 1 are 2 off),
    # series 1 weeks 0, 1 and 2 (week 3 is 4 off).
    assert scores["coverage_80"] == pytest.approx(4 / 7)
    naive = bt.score(actual, {"mean": point}, weights, histories, SEASON)
    assert math.isnan(naive["coverage_80"])
    plain = bt.score(actual, forecast, np.ones_like(actual), histories, SEASON)
    assert plain["WMAE"] == pytest.approx(metrics.mae(actual, point)) == pytest.approx((2 + 2 + 0 + 1 + 1 + 0 + 4) / 7)


def test_per_series_wmae_uses_the_period_weights():
    actual = np.array([[10.0, 10.0], [np.nan, np.nan]])
    point = np.array([[11.0, 13.0], [1.0, 1.0]])
    weights = np.array([1.0, 5.0])  # per period, broadcast over the series
    values = bt.per_series_wmae(actual, point, weights)
    assert values[0] == pytest.approx((1 * 1 + 5 * 3) / 6) and math.isnan(values[1])


def _window() -> bt.Window:
    """Three series over one window, where DeepAR is good on two and bad on the third."""
    actual = np.array([[100.0] * H, [50.0] * H, [10.0] * H])
    keys = pd.DataFrame({"Store": [1, 1, 2], "Dept": [1, 2, 1], "Type": ["A", "A", "B"]})
    deepar = actual + np.array([[1.0], [2.0], [9.0]])
    naive = actual + np.array([[20.0], [10.0], [3.0]])
    interval = {
        "p10": deepar - 5,
        "p90": deepar + 5,
        **{k: deepar for k in bt.quantile_keys() if k not in ("p10", "p90")},
    }
    return bt.Window(
        keys=keys,
        ids=["Store", "Dept"],
        origins=np.array(["2012-01-06"] * 3),
        actual=actual,
        weights=np.ones_like(actual),
        histories=[np.arange(60.0) + 1] * 3,
        forecasts={
            bt.DEEPAR: {"mean": deepar, **interval},
            bt.SEASONAL_NAIVE: {"mean": naive, **{k: naive for k in bt.quantile_keys()}},
        },
        season=SEASON,
    )


def test_losers_are_exactly_the_series_where_deepar_is_worse():
    window = _window()
    overall = window.scores()
    assert list(overall.index) == [bt.DEEPAR, bt.SEASONAL_NAIVE]
    assert bt.best_baseline(overall) == bt.SEASONAL_NAIVE
    losing = bt.losers(window, bt.SEASONAL_NAIVE)
    assert losing[["Store", "Dept", "Type"]].to_dict("records") == [{"Store": 2, "Dept": 1, "Type": "B"}]
    assert losing["deepar_WMAE"].iloc[0] == pytest.approx(9.0) and losing["seasonal_naive_WMAE"].iloc[
        0
    ] == pytest.approx(3.0)
    assert losing["excess_pct"].iloc[0] == pytest.approx(200.0)


def test_losers_pool_every_origin_of_a_series():
    first, second = _window(), _window()
    second.forecasts[bt.DEEPAR]["mean"] = second.actual.copy()  # perfect at the second origin
    second.origins = np.array(["2012-02-03"] * 3)
    stacked = bt.Window.stack([first, second])
    assert len(stacked.keys) == 6
    losing = bt.losers(stacked, bt.SEASONAL_NAIVE)
    # Series (2, 1): DeepAR 9 then 0 (4.5 on average), seasonal naive 3 and 3: still loses.
    assert losing[["Store", "Dept"]].to_dict("records") == [{"Store": 2, "Dept": 1}]
    assert losing["deepar_WMAE"].iloc[0] == pytest.approx(4.5)


def test_breakdown_by_store_type():
    frame = bt.breakdown(_window(), "Type")
    assert frame["Type"].tolist() == ["A", "B"]
    assert frame["series"].tolist() == [2, 1]
    a, b = frame.iloc[0], frame.iloc[1]
    assert a[bt.DEEPAR] == pytest.approx(1.5) and a[bt.SEASONAL_NAIVE] == pytest.approx(15.0) and a["best"] == bt.DEEPAR
    assert b["best"] == bt.SEASONAL_NAIVE and b["deepar_vs_best_baseline_pct"] == pytest.approx(200.0)


def test_breakdowns_are_by_every_attribute_then_every_id():
    frames = bt.breakdowns(_window())
    assert list(frames) == ["Type", "Store", "Dept"]
    by_store = frames["Store"].set_index("Store")
    assert by_store.loc[1, "series"] == 2 and by_store.loc[1, bt.DEEPAR] == pytest.approx(1.5)
    by_dept = frames["Dept"].set_index("Dept")
    assert by_dept.loc[1, bt.DEEPAR] == pytest.approx(5.0) and by_dept.loc[2, bt.SEASONAL_NAIVE] == pytest.approx(10.0)


def test_a_window_with_string_ids_and_no_attribute_breaks_down_by_each_id():
    window = _window()
    window.keys = pd.DataFrame({"State": ["NSW", "NSW", "VIC"], "Industry": ["Food", "Cafes", "Food"]})
    window.ids = ["State", "Industry"]
    frames = bt.breakdowns(window)
    assert list(frames) == ["State", "Industry"]
    assert frames["Industry"]["Industry"].tolist() == ["Cafes", "Food"]
    losing = bt.losers(window, bt.SEASONAL_NAIVE)
    assert losing[["State", "Industry"]].to_dict("records") == [{"State": "VIC", "Industry": "Food"}]
    assert list(losing.columns) == ["State", "Industry", "deepar_WMAE", "seasonal_naive_WMAE", "excess_pct"]


def _card(model: float, naive: float) -> dict:
    return {
        "model_id": "m1",
        "engine": "local",
        "evaluation": {
            "scored_on": "validation window: the last 4 weeks",
            "metrics": {
                "model": {"WMAE": model, "RMSE": 2 * model},
                "seasonal_naive": {"WMAE": naive, "RMSE": 2 * naive},
            },
        },
    }


def test_the_gate_passes_a_model_that_beats_seasonal_naive():
    outcome = bt.gate(_card(80.0, 100.0))
    assert outcome.passed
    assert (
        outcome.description
        == "model m1 beats seasonal naive on validation window: the last 4 weeks: WMAE 80 vs 100 (-20.0 %)"
    )
    assert outcome.figures["model WMAE"] == 80.0 and outcome.figures["seasonal_naive RMSE"] == 200.0


@pytest.mark.parametrize("model", [100.0, 130.0, float("nan")])
def test_the_gate_fails_a_model_that_does_not_beat_it_and_says_why(model):
    outcome = bt.gate(_card(model, 100.0))
    assert not outcome.passed
    if math.isnan(model):
        assert "is not finite" in outcome.description
    else:
        assert "does not beat seasonal naive" in outcome.description and "refuse this model" in outcome.description
        assert f"WMAE {model:g} vs seasonal naive's 100" in outcome.description


def test_the_gate_fails_a_card_without_validation_scores():
    outcome = bt.gate({"model_id": "sm1", "engine": "sagemaker"})
    assert not outcome.passed
    assert (
        "sm1 (sagemaker engine) has no WMAE of its own and of seasonal naive on the validation window"
        in outcome.description
    )


def test_fitting_in_processes_gives_the_same_forecasts_and_fallbacks():
    histories = [_seasonal(60 + i % 40, 100 + i, i) for i in range(bt.PARALLEL_FROM)]
    histories[7] = np.array([3.0, 4.0])
    alone = bt.baseline_forecasts(histories, H, "AutoETS", SEASON)
    pooled = bt.baseline_forecasts(histories, H, "AutoETS", SEASON, workers=2)
    for key in alone.forecast:
        np.testing.assert_allclose(pooled.forecast[key], alone.forecast[key])
    assert pooled.fallbacks == alone.fallbacks == [7]


def _monthly_encoding(weights: dict[str, float] | None = None) -> Encoding:
    """An encoding of the aus_retail spec's shape: monthly, string ids, a 12-month season."""
    spec = load_spec("aus_retail")
    return Encoding(
        cat=[CatSpec("State", ["NSW", "VIC"]), CatSpec("Industry", ["Cafes", "Food"])],
        dynamic_feat=[],
        freq=spec.frequency,
        weights=weights or {},
        ids=spec.ids,
        dataset=spec.name,
        spec=spec.model_dump(mode="json"),
        season_length=spec.season_length,
    )


def _monthly_records() -> list[dict]:
    """Two series ending 2018-12; the second starts a year later (ragged starts)."""
    a = 100 + np.arange(30.0)
    b = np.tile(np.arange(12.0), 2) + 50
    return [
        {"start": "2016-07-01 00:00:00", "target": a, "cat": [0, 1]},
        {"start": "2017-01-01 00:00:00", "target": b, "cat": [1, 0]},
    ]


def test_a_window_follows_the_frequency_and_the_season_of_the_spec():
    records = _monthly_records()
    encoding = _monthly_encoding()
    deepar = {
        "mean": np.stack([r["target"][-H:] for r in records]),
        **{k: np.zeros((2, H)) for k in bt.quantile_keys()},
    }
    window = bt.build_window(records, H, encoding, deepar)
    assert window.origins.tolist() == ["2018-08-01", "2018-08-01"]  # the month before the last 4
    assert [list(d.strftime("%Y-%m")) for d in bt.window_periods(records, H, encoding.freq)] == [
        ["2018-09", "2018-10", "2018-11", "2018-12"]
    ] * 2
    assert window.keys.to_dict("records") == [
        {"State": "NSW", "Industry": "Food"},
        {"State": "VIC", "Industry": "Cafes"},
    ]
    assert window.season == 12 and (window.weights == 1).all()
    # Seasonal naive at 12 months: series b repeats itself exactly; series a trails by 12.
    naive = window.forecasts[bt.SEASONAL_NAIVE]["mean"]
    np.testing.assert_array_equal(naive[1], records[1]["target"][-H:])
    np.testing.assert_array_equal(naive[0], records[0]["target"][-H:] - 12)
    assert window.scores().loc[bt.SEASONAL_NAIVE, "WMAE"] == pytest.approx(6.0)  # plain MAE: (12·4 + 0) / 8


def test_a_window_takes_the_period_weights_of_the_encoding():
    records = _monthly_records()
    encoding = _monthly_encoding({"2018-12-01": 3.0})
    deepar = {"mean": np.zeros((2, H)), **{k: np.zeros((2, H)) for k in bt.quantile_keys()}}
    window = bt.build_window(records, H, encoding, deepar)
    np.testing.assert_array_equal(window.weights, [[1, 1, 1, 3], [1, 1, 1, 3]])
    assert bt.weighting(encoding) == "WMAE = MAE: the spec declares no period weights"
    walmart = Encoding(cat=[], dynamic_feat=[], freq="W-FRI", spec=load_spec("synthetic").model_dump(mode="json"))
    assert bt.weighting(walmart) == "WMAE: periods where IsHoliday is true weigh 5"


def test_records_cut_for_an_earlier_origin_keep_those_with_history():
    records = [
        {"start": "2018-01-01 00:00:00", "target": np.arange(10.0), "cat": [0, 0], "dynamic_feat": np.ones((2, 14))},
        {"start": "2018-07-01 00:00:00", "target": np.r_[np.nan, np.arange(3.0)], "cat": [1, 1]},
    ]
    earlier = bt.origin_records(records, drop=2, h=H)
    assert len(earlier) == 1 and len(earlier[0]["target"]) == 8 and earlier[0]["dynamic_feat"].shape == (2, 12)
    assert bt.cut_record(records[1], 1)["target"].tolist()[1:] == [0.0, 1.0] and "dynamic_feat" not in bt.cut_record(
        records[1], 1
    )


def test_validation_report_known_answer():
    """Two series, h = 2: a perfect model, seasonal naive off by known amounts; the frame is
    keyed by the ids and attributes, the period in the spec's time column."""
    encoding = Encoding(
        cat=[CatSpec("Store", [1, 2]), CatSpec("Dept", [5]), CatSpec("Type", ["A"])],
        dynamic_feat=[],
        freq="W-FRI",
        weights={"2011-02-25": 5.0},
        ids=["Store", "Dept"],
        spec=load_spec("synthetic").model_dump(mode="json"),
        season_length=52,
    )
    weeks = 56  # 54 weeks of history + 2 scored
    a = np.arange(weeks, dtype=float) + 100
    b = np.full(weeks, 50.0)
    b[10] = np.nan  # a missing week: series b is not complete
    b[-1] = 60.0  # seasonal naive (50) is 10 short in the holiday week
    records = [
        {"start": "2010-02-05 00:00:00", "target": a, "cat": [0, 0, 0]},
        {"start": "2010-02-05 00:00:00", "target": b, "cat": [1, 0, 0]},
    ]
    actual = np.stack([a[-2:], b[-2:]])
    forecast = {"mean": actual.copy(), **{f"p{q}": actual.copy() for q in range(10, 100, 10)}}
    report = bt.validation_report(records, forecast, actual, encoding, h=2)
    assert report["series"] == 2 and report["complete_series"] == 1
    model, naive = report["metrics"]["model"], report["metrics"]["seasonal_naive"]
    assert model["WMAE"] == 0 and model["RMSE"] == 0 and model["mean_wQuantileLoss"] == 0
    # Seasonal naive: series a is 52 below (a linear trend) both weeks; series b is exact, then
    # 10 short. The second week (2011-02-25) weighs 5: WMAE = (52·1 + 52·5 + 0·1 + 10·5) / 12.
    assert naive["WMAE"] == pytest.approx((52 + 52 * 5 + 0 + 10 * 5) / 12)
    assert naive["RMSE"] == pytest.approx(np.sqrt((52**2 * 2 + 10**2) / 4))
    frame = report["frame"]
    assert list(frame.columns[:4]) == ["Store", "Dept", "Type", "Date"]
    assert frame[["Store", "Dept"]].drop_duplicates().values.tolist() == [[1, 5], [2, 5]]
    assert frame["Date"].tolist() == ["2011-02-18", "2011-02-25"] * 2
    assert report["metrics_complete"]["seasonal_naive"]["WMAE"] == pytest.approx(52.0)


def test_validation_report_without_weights_is_the_mae_on_months():
    records = _monthly_records()
    encoding = _monthly_encoding()
    actual = np.stack([r["target"][-H:] for r in records])
    forecast = {"mean": actual + 2.0, **{f"p{q}": actual + 2.0 for q in range(10, 100, 10)}}
    report = bt.validation_report(records, forecast, actual, encoding, h=H)
    assert report["metrics"]["model"]["WMAE"] == pytest.approx(2.0)
    assert report["metrics"]["seasonal_naive"]["WMAE"] == pytest.approx(6.0)
    frame = report["frame"]
    assert list(frame.columns[:3]) == ["State", "Industry", "Month"]
    assert frame["Month"].tolist()[:H] == ["2018-09-01", "2018-10-01", "2018-11-01", "2018-12-01"]


def test_the_selections_table_reads_a_combination_handed_over_by_an_older_run():
    """A combination pickled before it recorded the weights' power and cutoff (an older run's
    handover, which backtest_report may load without re-running the combination) is reported
    with the defaults those runs used, 1/loss² within 1.5 x the best, not an AttributeError."""
    import pickle
    import types

    from deepar_assets.assets.forecasting.backtest import _selections
    from deepar_assets.assets.forecasting.combination import Combination

    candidates = [bt.DEEPAR, bt.SEASONAL_NAIVE]
    current = Combination(
        model_id="m",
        candidates=candidates,
        keys=pd.DataFrame({"Store": [1, 2]}),
        weights={cb.VALIDATION_TARGET: np.array([[0.75, 0.25], [0.25, 0.75]])},
        levels={cb.VALIDATION_TARGET: "series"},
        band_scales={cb.VALIDATION_TARGET: 1.1},
        validation_rows=np.array([0, 1]),
        validation={},
        scores=pd.DataFrame(),
        powers={cb.VALIDATION_TARGET: 4.0},
        cutoffs={cb.VALIDATION_TARGET: 2.0},
    )
    older = pickle.loads(pickle.dumps(current))
    del older.__dict__["powers"], older.__dict__["cutoffs"]  # as unpickled from before those fields
    window = types.SimpleNamespace(origins=["2012-07-27"])
    for combination, power, cutoff in ((current, 4.0, 2.0), (older, 2.0, cb.CUTOFFS[0])):
        (row,) = _selections({}, [window], [0], combination).to_dict("records")
        assert (row["level"], row["loss_power"], row["loss_cutoff"]) == ("series", power, cutoff)
        assert row["weight_DeepAR"] == row["weight_seasonal_naive"] == 0.5
