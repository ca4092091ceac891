"""The combination's selection as plain functions: which past windows choose it, the weights per
series, segment or globally with shrinkage, the combination quantile by quantile, and no leakage
from the validation window. (The graph tests train DeepAR for real; here its place is taken by
a last-value forecast, so that the selection logic is tested on its own, deterministically.)"""

import numpy as np
import pandas as pd
import pytest

from deepar_assets.constants import QUANTILES
from deepar_assets.domain import combination as cb
from deepar_assets.domain.backtest import DEEPAR, SEASONAL_NAIVE, cut_record
from deepar_assets.domain.combination.weights import SelectionWindow, choose, combine, level_weights, window_scores
from deepar_assets.domain.encoding import CatSpec, Encoding

KEYS = ["mean", *[f"p{round(q * 100)}" for q in QUANTILES]]


def _special(n: int, h: int, at: list[int]) -> np.ndarray:
    flags = np.zeros(n + h, dtype=bool)
    flags[at] = True
    return flags


def test_rolling_windows_end_at_the_test_channel_and_step_back_by_the_horizon():
    plan = cb.plan(0, 143, 13, 52, _special(143, 13, []), rolling=3, min_history=65)
    assert plan.rolling == [13, 26, 39] and plan.seasonal == [] and not plan.seasonal_only
    assert min(plan.drops) >= 13  # nothing ends after T - h: the validation window chooses nothing


def test_a_special_period_no_rolling_window_holds_adds_the_same_window_a_season_earlier():
    # The validation window (indexes 130..142) holds a special period at season position 36
    # (index 140); the rolling windows (91..129) hold one at position 40 only (index 92).
    special = _special(143, 13, [92, 140, 144])
    validation = cb.plan(0, 143, 13, 52, special, rolling=3, min_history=65)
    assert validation.uncovered == [140 % 52] and validation.seasonal == [52]  # 104 would leave 26 periods
    assert "season" in validation.reason
    # The horizon's special period (index 144, position 40) is the one the rolling windows hold.
    horizon = cb.plan(-13, 143, 13, 52, special, rolling=3, min_history=65)
    assert horizon.seasonal == [] and horizon.uncovered == []


def test_without_a_season_of_history_only_the_seasonal_candidates_take_part():
    special = _special(70, 13, [66])
    plan = cb.plan(0, 70, 13, 52, special, rolling=2, min_history=20)
    assert plan.seasonal_only and plan.seasonal == []
    assert "only the candidates that carry the season" in plan.reason


def _window(actual: np.ndarray, forecasts: dict[str, np.ndarray], drop: int = 0) -> SelectionWindow:
    """A window where each candidate's quantiles are its point forecast ± 10 %."""
    full = {}
    for name, point in forecasts.items():
        full[name] = {k: point * (1 + 0.25 * (q - 0.5)) for k, q in zip(KEYS, (0.5, *QUANTILES), strict=True)}
    return SelectionWindow(drop, actual, np.ones_like(actual), full, np.ones(len(actual), dtype=bool))


def _two_segments(seed: int, windows: int = 3):
    """Series 0..3 (segment 0): candidate A is right; series 4..7 (segment 1): B is right."""
    rng = np.random.default_rng(seed)
    out = []
    for w in range(windows):
        actual = 100 + 10 * rng.standard_normal((8, 4))
        noise_a = np.where(np.arange(8)[:, None] < 4, 0.5, 20.0) * rng.standard_normal((8, 4))
        noise_b = np.where(np.arange(8)[:, None] < 4, 20.0, 0.5) * rng.standard_normal((8, 4))
        out.append(_window(actual, {"A": actual + noise_a, "B": actual + noise_b}, drop=13 * (w + 1)))
    return out, {"group": np.repeat([0, 1], 4)}


def test_weights_follow_each_segment_where_its_candidate_is_right():
    windows, segments = _two_segments(0)
    choice = choose(windows, ["A", "B"], segments)
    assert choice.level in ("segment:group", "series")
    assert (choice.weights[:4, 0] > 0.9).all() and (choice.weights[4:, 1] > 0.9).all()
    assert set(choice.held_out_loss) == {"global", "segment:group", "series"}
    assert choice.held_out_loss[choice.level] < choice.held_out_loss["global"]
    np.testing.assert_allclose(choice.weights.sum(axis=1), 1.0)


def test_one_window_chooses_globally_and_shrinkage_pulls_series_towards_it():
    windows, segments = _two_segments(1, windows=1)
    assert choose(windows, ["A", "B"], segments).level == "global"
    scores = window_scores(windows, ["A", "B"])
    loose = level_weights(scores, segments, shrinkage=0.0)
    tight = level_weights(scores, segments, shrinkage=1000.0)
    np.testing.assert_allclose(tight["series"], tight["global"], atol=0.01)
    assert np.abs(loose["series"] - loose["global"]).max() > 0.3


def test_a_candidate_far_behind_the_best_gets_no_weight():
    actual = np.full((2, 3), 100.0)
    window = _window(actual, {"good": actual + 1, "bad": actual + 50})
    weights = level_weights(window_scores([window], ["good", "bad"]), {}, cutoff=1.5)["global"]
    np.testing.assert_array_equal(weights[:, 1], 0.0)


def test_the_combination_averages_quantile_by_quantile_and_keeps_them_ordered():
    actual = np.full((3, 2), 100.0)
    window = _window(actual, {"A": actual * 0.9, "B": actual * 1.2})
    weights = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    combined = combine(window.forecasts, ["A", "B"], weights)
    np.testing.assert_allclose(combined["p50"][0], window.forecasts["A"]["p50"][0])
    np.testing.assert_allclose(combined["p50"][1], window.forecasts["B"]["p50"][1])
    np.testing.assert_allclose(
        combined["p90"][2], 0.5 * (window.forecasts["A"]["p90"][2] + window.forecasts["B"]["p90"][2])
    )
    stacked = np.stack([combined[f"p{round(q * 100)}"] for q in QUANTILES])
    assert (np.diff(stacked, axis=0) >= 0).all()


# -- the whole selection on records ------------------------------------------------------------------

H, SEASON, PERIODS = 4, 13, 60


def _records(seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    t = np.arange(PERIODS)
    out = []
    for store in range(3):
        for dept in range(4):
            level = 100 * (store + 1)
            seasonal = 20 * np.sin(2 * np.pi * t / SEASON) * (dept % 2)
            target = level + seasonal + rng.standard_normal(PERIODS) * (1 + 3 * (dept >= 2))
            out.append({"start": "2020-01-05 00:00:00", "target": target.tolist(), "cat": [store, dept]})
    return out


ENCODING = Encoding(
    cat=[CatSpec("store", [1, 2, 3]), CatSpec("dept", [1, 2, 3, 4])],
    dynamic_feat=[],
    freq="W-SUN",
    ids=["store", "dept"],
    season_length=SEASON,
    weights={"2021-01-24": 5.0, "2021-02-14": 5.0},
)


def _last_value(cut: list[dict]) -> dict[str, np.ndarray]:
    """A stand-in for DeepAR: the last value before the window, ± 5 % as quantiles."""
    last = np.asarray([np.asarray(r["target"], dtype=float)[-H - 1] for r in cut])[:, None] * np.ones(H)
    return {k: last * (1 + 0.1 * (q - 0.5)) for k, q in zip(KEYS, (0.5, *QUANTILES), strict=True)}


def _select(records):
    return cb.select(
        records,
        H,
        ENCODING,
        [DEEPAR, SEASONAL_NAIVE, "AutoETS"],
        lambda drop: _last_value,
        rolling=3,
        log=lambda _: None,
    )


def test_nothing_about_the_validation_window_chooses_the_weights():
    """The leakage test: the validation actuals (the last h periods) shifted, scaled and
    scrambled leave every window, level and weight as they were."""
    records = _records()
    before = _select(records)
    rng = np.random.default_rng(0)
    changed = []
    for record in records:
        target = np.asarray(record["target"], dtype=float)
        target[-H:] = target[-H:] * 3 + 1000 * rng.standard_normal(H)
        changed.append({**record, "target": target.tolist()})
    after = _select(changed)
    assert before.plans == after.plans
    for target in (cb.VALIDATION_TARGET, cb.HORIZON_TARGET):
        assert before.choices[target].level == after.choices[target].level
        np.testing.assert_array_equal(before.choices[target].weights, after.choices[target].weights)
    pd.testing.assert_frame_equal(before.window_scores, after.window_scores)
    assert before.window_scores["window_drop"].min() >= H


def test_the_selection_scores_every_candidate_on_every_window_and_weights_every_series():
    selection = _select(_records())
    assert set(selection.window_scores["candidate"]) == {DEEPAR, SEASONAL_NAIVE, "AutoETS"}
    drops = sorted(set(selection.window_scores["window_drop"]))
    assert drops == sorted(
        set(selection.plans[cb.VALIDATION_TARGET].drops) | set(selection.plans[cb.HORIZON_TARGET].drops)
    )
    for choice in selection.choices.values():
        assert choice.weights.shape == (12, 3)
        np.testing.assert_allclose(choice.weights.sum(axis=1), 1.0)


def test_candidate_windows_leave_out_series_without_history_before_the_window():
    records = _records()
    records.append({"start": "2021-01-03 00:00:00", "target": [5.0] * 8, "cat": [0, 0]})  # 8 periods only
    window, _ = cb.candidate_window(records, 2 * H, H, ENCODING, [SEASONAL_NAIVE], None)
    assert window.present[:-1].all() and not window.present[-1]
    assert np.isnan(window.forecasts[SEASONAL_NAIVE]["mean"][-1]).all()
    with pytest.raises(Exception, match="unknown"):
        cb.candidate_window(records, H, H, ENCODING, ["Prophet"], None)


def test_the_band_is_calibrated_on_the_selection_windows():
    """A candidate whose band is far too narrow (a tenth of its errors' spread) gets it widened
    on past windows; widening moves every quantile away from the median and keeps the order."""
    rng = np.random.default_rng(5)
    windows = []
    for w in range(3):
        actual = 100 + 10 * rng.standard_normal((50, 4))
        point = np.full((50, 4), 100.0)
        narrow = {k: point + 1.28 * (q - 0.5) / 0.4 * 1.0 for k, q in zip(KEYS, (0.5, *QUANTILES), strict=True)}
        windows.append(SelectionWindow(13 * (w + 1), actual, np.ones_like(actual), {"A": narrow}, np.ones(50, bool)))
    choice = choose(windows, ["A"], {})
    assert choice.band_scale > 3
    wide = cb.widen(windows[0].forecasts["A"], 2.0)
    np.testing.assert_allclose(wide["p90"] - wide["p50"], 2 * (windows[0].forecasts["A"]["p90"] - 100.0))
    np.testing.assert_array_equal(wide["mean"], windows[0].forecasts["A"]["mean"])


# -- the combination re-chosen at earlier origins (the yearly rolling backtest) ----------------------


def _rolling(records, drops, calls=None):
    def deepar_for(drop):
        if calls is not None:
            calls.append(drop)
        return _last_value

    return cb.rolling_combinations(
        records, H, ENCODING, [DEEPAR, SEASONAL_NAIVE, "AutoETS"], deepar_for, drops, rolling=3, log=lambda _: None
    )


def test_each_origin_chooses_as_the_validation_window_would_with_the_history_cut_there():
    records = _records()
    drops = [H, 2 * H, 3 * H]
    calls: list[int] = []
    origins = _rolling(records, drops, calls)
    assert [o.drop for o in origins] == drops
    for origin in origins:
        seen = [cut_record(r, origin.drop) for r in records]
        alone = cb.select(
            seen, H, ENCODING, [DEEPAR, SEASONAL_NAIVE, "AutoETS"], lambda d: _last_value, 3, log=lambda _: None
        )
        np.testing.assert_array_equal(
            origin.selection.choices[cb.VALIDATION_TARGET].weights, alone.choices[cb.VALIDATION_TARGET].weights
        )
        assert origin.selection.plans[cb.VALIDATION_TARGET] == alone.plans[cb.VALIDATION_TARGET]
        assert min(origin.selection.plans[cb.VALIDATION_TARGET].drops) == H  # relative to the origin's own end
        # the published rows: the origin's window, combined from its candidates' forecasts there
        assert origin.window.drop == origin.drop
        np.testing.assert_array_equal(origin.rows, np.arange(len(records)))
        assert origin.forecast["mean"].shape == (len(records), H)
        assert abs(sum(origin.mean_weights().values()) - 1) < 1e-9
    # a window shared by several origins (e.g. 3h: origin h's second window, origin 2h's first) is forecast once
    assert sorted(calls) == sorted(set(calls))
    assert {3 * H, 4 * H, 5 * H} <= set(calls)


def test_nothing_after_an_origin_chooses_its_combination():
    """Scrambling everything from an origin's window on (that window and every later period)
    leaves the origin's plan, level, weights and band as they were."""
    records = _records()
    drop = 2 * H
    before = _rolling(records, [drop])[0]
    rng = np.random.default_rng(1)
    changed = []
    for record in records:
        target = np.asarray(record["target"], dtype=float)
        target[-(drop + H) :] = target[-(drop + H) :] * 3 + 1000 * rng.standard_normal(drop + H)
        changed.append({**record, "target": target.tolist()})
    after = _rolling(changed, [drop])[0]
    chosen_before, chosen_after = (o.selection.choices[cb.VALIDATION_TARGET] for o in (before, after))
    assert chosen_before.level == chosen_after.level
    np.testing.assert_array_equal(chosen_before.weights, chosen_after.weights)
    assert chosen_before.band_scale == chosen_after.band_scale
    pd.testing.assert_frame_equal(before.selection.window_scores, after.selection.window_scores)
    assert not np.allclose(before.window.actual, after.window.actual)  # the origin's own window did change


class _PrefitDeepAR:
    """DeepAR's stand-in with prefit: records which windows were trained in advance and which
    were asked for afterwards."""

    def __init__(self):
        self.prefit_drops: list[list[int]] = []
        self.asked: list[int] = []

    def prefit(self, cuts):
        for drop, cut in cuts.items():
            assert all(len(c["target"]) == len(r["target"]) - drop for c, r in zip(cut, _records(), strict=True))
        self.prefit_drops.append(sorted(cuts))

    def __call__(self, drop):
        self.asked.append(drop)
        return _last_value


def test_every_window_deepar_is_asked_for_is_trained_in_advance_in_one_batch():
    """The refits before the windows are independent: select and the rolling selection hand
    all of them to prefit at once (trained side by side, one per core), before any is asked for."""
    deepar = _PrefitDeepAR()
    cb.select(_records(), H, ENCODING, [DEEPAR, SEASONAL_NAIVE], deepar, 3, log=lambda _: None)
    assert len(deepar.prefit_drops) == 1 and deepar.prefit_drops[0] == sorted(set(deepar.asked))

    rolled = _PrefitDeepAR()
    drops = [H, 2 * H, 3 * H]
    cb.rolling_combinations(
        _records(), H, ENCODING, [DEEPAR, SEASONAL_NAIVE], rolled, drops, rolling=3, log=lambda _: None
    )
    assert len(rolled.prefit_drops) == 1 and rolled.prefit_drops[0] == sorted(set(rolled.asked))
    assert set(drops) <= set(rolled.asked)  # every origin's own window, and the windows that chose it


def test_a_candidate_that_wins_every_window_gets_nearly_all_the_weight():
    """Weights ∝ 1/loss² share the weight evenly between candidates of similar loss, even when
    one wins every window with the other's errors only larger; the sharpness is chosen on the
    windows left out, as the level is, and picks a high power there."""
    rng = np.random.default_rng(11)
    windows = []
    for w in range(3):
        actual = 100 + 5 * rng.standard_normal((40, 4))
        good = actual + 2 * rng.standard_normal((40, 4))  # always closer than B
        worse = actual + 1.5 * (good - actual) + 0.5  # the same errors, larger: averaging cannot help
        windows.append(_window(actual, {"A": good, "B": worse}, drop=13 * (w + 1)))
    choice = choose(windows, ["A", "B"], {})
    assert choice.power > 2
    assert choice.weights[:, 0].mean() > 0.9
    even = level_weights(window_scores(windows, ["A", "B"]), {}, power=2.0)["global"]
    assert even[0, 0] < 0.75  # what 1/loss² alone would have given A


def test_candidates_that_take_turns_keep_shared_weights():
    """When the windows disagree about the best candidate, a sharp choice loses on the window
    left out, and the weights stay shared."""
    rng = np.random.default_rng(12)
    windows = []
    for w in range(4):
        actual = 100 + 5 * rng.standard_normal((40, 4))
        a = actual + (1.0 if w % 2 else 4.0) + rng.standard_normal((40, 4))
        b = actual - (4.0 if w % 2 else 1.0) + rng.standard_normal((40, 4))
        windows.append(_window(actual, {"A": a, "B": b}, drop=13 * (w + 1)))
    choice = choose(windows, ["A", "B"], {})
    assert choice.power == 2.0
    assert 0.3 < choice.weights[:, 0].mean() < 0.7


def test_windows_without_the_targets_special_periods_choose_no_sharp_winner():
    """When the target holds special periods that no past window holds and only the seasonal
    candidates take part, the windows still choose the level, but the weights stay 1/loss²: a
    sharp winner would rest on event-free windows alone."""
    rng = np.random.default_rng(13)
    # 30 weeks ending with the special 2021-02-14 (season position 2) in the validation window:
    # too short a history for the same window a season earlier.
    records = [
        {"start": "2020-08-02 00:00:00", "target": (100 + rng.standard_normal(30)).tolist(), "cat": [s, d]}
        for s in range(3)
        for d in range(4)
    ]
    made: dict[int, SelectionWindow] = {}

    def windows(drop: int):
        if drop not in made:  # SN wins every window, MSTL has the same errors, larger
            actual = 100 + 5 * rng.standard_normal((12, H))
            good = actual + 2 * rng.standard_normal((12, H))
            made[drop] = _window(actual, {SEASONAL_NAIVE: good, "MSTL": actual + 1.5 * (good - actual) + 0.5}, drop)
        return made[drop], {}

    candidates = [SEASONAL_NAIVE, "MSTL"]
    selection = cb.select(records, H, ENCODING, candidates, None, windows=windows, log=lambda _: None)
    plan = selection.plans[cb.VALIDATION_TARGET]
    assert plan.seasonal_only and len(plan.drops) >= 2
    chosen = selection.choices[cb.VALIDATION_TARGET]
    assert chosen.power == 2.0 and chosen.weights[:, 0].mean() < 0.8
    # Free to sharpen, the same windows would have given seasonal naive nearly everything.
    free = choose([made[d] for d in plan.drops], candidates, {})
    assert free.power > 2 and free.weights[:, 0].mean() > chosen.weights[:, 0].mean()


def test_past_windows_weigh_special_periods_only_where_the_target_holds_them():
    """A past window is scored as the target will be: a special week the target holds at the same
    season position keeps its weight, one it does not hold weighs as an ordinary week. A
    candidate that only gets the holiday week right, in windows that choose for a summer, does
    not win on that week's weight."""
    # The validation window (indexes 130..142) holds a special week at season position 36 (index
    # 140); the window ending 39 periods before T (91..103) holds one at position 40 (index 92);
    # the window a season earlier (78..90) holds position 36 at index 88.
    plan = cb.plan(0, 143, 13, 52, _special(143, 13, [88, 92, 140]), rolling=3, min_history=65)
    assert plan.positions == [36] and 52 in plan.drops
    assert not plan.keeps_weight(39, 13).any()
    assert plan.keeps_weight(52, 13).tolist() == [i == 88 - 78 for i in range(13)]

    rng = np.random.default_rng(14)
    windows = []
    for drop in (26, 39):  # each with a special week the target does not hold (its 2nd period)
        actual = 100 + 5 * rng.standard_normal((6, 13))
        actual[:, 1] += 200  # the holiday spike
        a = actual + 2 * rng.standard_normal((6, 13))  # right on ordinary weeks ...
        a[:, 1] -= 30  # ... and short of the spike
        b = actual + 8 * rng.standard_normal((6, 13))  # worse on ordinary weeks, copies the spike
        window = _window(actual, {"A": a, "B": b}, drop=drop)
        weights = np.ones_like(actual)
        weights[:, 1] = 5.0
        windows.append(SelectionWindow(drop, actual, weights, window.forecasts, window.present))
    scored = [cb.scored_as_target(w, plan, 13) for w in windows]
    assert all(w.weights.max() == 1.0 for w in scored)
    kept = np.ones((6, 13))
    kept[:, 10] = 5.0  # the same window a season earlier, with the target's own special week
    season_earlier = SelectionWindow(52, windows[0].actual, kept, windows[0].forecasts, windows[0].present)
    np.testing.assert_array_equal(cb.scored_as_target(season_earlier, plan, 13).weights, kept)
    raw, matched = choose(windows, ["A", "B"], {}), choose(scored, ["A", "B"], {})
    assert raw.weights[:, 1].mean() > 0.5 > matched.weights[:, 1].mean()


@pytest.mark.parametrize(("b_bias", "keeps_b"), [(-25.0, True), (25.0, False)])
def test_the_cutoff_is_chosen_on_the_windows_left_out(b_bias, keeps_b):
    """A candidate about twice as far off as the best one is dropped at the first cutoff (1.5).
    When its errors run opposite to the best one's, averaging them helps on every window, and
    the windows left out choose a cutoff that keeps it; when they run the same way, it stays out."""
    rng = np.random.default_rng(15)
    windows = []
    for w in range(3):
        actual = 100 + 5 * rng.standard_normal((30, 6))
        a = actual + 15.0 + 0.1 * rng.standard_normal((30, 6))
        b = actual + b_bias + 0.1 * rng.standard_normal((30, 6))
        windows.append(_window(actual, {"A": a, "B": b}, drop=13 * (w + 1)))
    choice = choose(windows, ["A", "B"], {})
    if keeps_b:
        assert choice.cutoff > cb.CUTOFFS[0] and choice.weights[:, 1].mean() > 0.1
    else:
        assert choice.cutoff == cb.CUTOFFS[0] and choice.weights[:, 1].max() == 0.0
