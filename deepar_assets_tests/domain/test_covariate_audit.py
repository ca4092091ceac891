"""Every time-varying feature is audited against the training channel (up to T - 2h), and its
scaling statistics come from there only: the markdowns that appear for the first time after a
history cut before them (issue #14's 2011-10-28 case) reach the network clipped to what it saw,
or dropped, or are refused, as the spec declares, and every finding is reported."""

import numpy as np
import pandas as pd
import pytest

from deepar_assets.domain.covariate_audit import CONSTANT, OUTSIDE, audit, training_end
from deepar_assets.domain.encoding import Encoding, encode
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import load_spec
from deepar_assets.domain.synthetic import MARKDOWN_START, SyntheticSpec, generate_frames
from deepar_assets.errors import EncodingError
from deepar_assets_tests.domain.raw_samples import frames_to_raw, with_covariate, with_spec_changes
from deepar_assets_tests.domain.test_encoding_properties import small_spec, small_target

SPEC = load_spec("synthetic")
MARKDOWNS = [f"MarkDown{k}" for k in range(1, 6)]
# 56 weeks from 2011-01-07 with h = 13: the training channel ends 30 weeks in (early August),
# months before the markdowns start (2011-11-11), which then appear in the test and validation
# windows only, as with Walmart's history cut at 2011-10-28.
SYNTHETIC = SyntheticSpec(n_stores=3, n_depts=4, n_weeks=56, n_future_weeks=13, seed=0, start="2011-01-07")


def raw_with(spec=SPEC) -> RawData:
    return frames_to_raw(generate_frames(SYNTHETIC), spec)


def findings(encoded) -> dict[str, dict]:
    return {f["feature"]: f for f in encoded.encoding.audit}


def test_markdowns_first_seen_after_the_training_channel_are_clipped_to_what_it_showed():
    encoded = encode(raw_with())
    end = training_end(encoded.n_history, SPEC.prediction_length)
    assert encoded.periods[end - 1] < pd.Timestamp(MARKDOWN_START)
    found = findings(encoded)
    for name in [*MARKDOWNS, "AnyMarkDown"]:
        assert found[name]["finding"] == CONSTANT and found[name]["action"] == "clip", found[name]
        assert found[name]["later_max"] > found[name]["training_max"]
        assert pd.Timestamp(found[name]["first_period"]) >= pd.Timestamp(MARKDOWN_START)
        row = encoded.features[:, encoded.feature_names.index(name), :]
        assert (row == row[0, 0]).all(), f"{name}: constant in training, so constant everywhere once clipped"
    # Covariates the training channel covers are not reported (IsHoliday: 0/1 in both).
    assert "IsHoliday" not in found


def test_dropped_features_leave_dynamic_feat_and_are_reported():
    spec = SPEC
    for name in MARKDOWNS:
        spec = with_covariate(spec, name, outside_training="drop")
    derived = [{**d.model_dump(mode="json"), "outside_training": "drop"} for d in spec.derived]
    spec = with_spec_changes(spec, derived=derived)
    encoded = encode(raw_with(spec))
    assert not set(MARKDOWNS + ["AnyMarkDown"]) & set(encoded.feature_names)
    assert encoded.features.shape[1] == len(encoded.feature_names) == len(encoded.encoding.dynamic_feat)
    assert "Temperature" in encoded.feature_names
    assert {n: f["action"] for n, f in findings(encoded).items() if n in MARKDOWNS} == dict.fromkeys(MARKDOWNS, "drop")


def test_refuse_names_the_feature_the_period_and_the_ranges():
    spec = with_covariate(SPEC, "MarkDown1", outside_training="refuse")
    with pytest.raises(EncodingError) as info:
        encode(raw_with(spec))
    message = str(info.value)
    assert "feature MarkDown1: constant 0 in the training channel" in message
    assert "from 2011-11-11" in message and "outside_training: clip, drop or keep" in message


def _rising(rule: str):
    spec = small_spec(
        target={**small_spec().target.model_dump(mode="json"), "covariates": ["price"]},
        covariates={"price": {"fill": "ffill", "scale": "standard", "outside_training": rule}},
    )
    target = small_target(20)
    target["price"] = target["day"].dt.day.astype(np.float64)  # 1 … 20: rises past its training range
    return encode(RawData(spec=spec, target=target))


def test_a_covariate_rising_past_its_training_range_is_clipped_at_its_training_maximum():
    encoded, kept = _rising("clip"), _rising("keep")
    end = training_end(encoded.n_history, 3)  # 20 days, h = 3: the training channel is the first 14
    assert end == 14
    clipped, raw = encoded.feature("price"), kept.feature("price")
    np.testing.assert_array_equal(clipped[:, :end], raw[:, :end])
    assert clipped[:, end:].max() == pytest.approx(raw[:, :end].max())
    assert raw[:, end:].max() > raw[:, :end].max()
    [finding] = encoded.encoding.audit
    assert finding["finding"] == OUTSIDE and finding["training_max"] == 14 and finding["later_max"] == 20
    assert finding["periods"] == 6 and finding["first_period"] == "2024-01-15"  # days 15 … 20
    assert [f["action"] for f in kept.encoding.audit] == ["keep"]


def test_scaling_statistics_do_not_see_the_test_and_validation_windows():
    """The leakage test of the scaling: changing every value after T - 2h changes no statistic."""
    raw = raw_with()
    encoded = encode(raw)
    end = encoded.periods[training_end(encoded.n_history, SPEC.prediction_length)]
    features = raw.related["features"].copy()
    later = features["Date"] >= end
    features.loc[later, "Temperature"] += 40.0
    features.loc[later, "Fuel_Price"] *= 3
    changed = encode(RawData(spec=raw.spec, target=raw.target, related={"features": features}, metadata=raw.metadata))
    for name in ("Temperature", "Fuel_Price"):
        assert changed.encoding.feature(name) == encoded.encoding.feature(name)
    assert findings(changed)["Temperature"]["finding"] == OUTSIDE


def test_the_audit_travels_with_the_encoding():
    encoded = encode(raw_with())
    assert Encoding.from_json(encoded.encoding.to_json()).audit == encoded.encoding.audit


def test_audit_leaves_covered_values_alone_and_refuses_an_unknown_rule():
    periods = pd.date_range("2024-01-01", periods=6, freq="D")
    matrix = np.array([[1.0, 3.0, 2.0, 2.5, 1.5, 3.0]])
    values, finding = audit("x", matrix, 3, 6, periods, "D", "clip")
    assert finding is None and values is matrix
    with pytest.raises(EncodingError, match="outside_training must be one of"):
        audit("x", matrix, 3, 6, periods, "D", "ignore")


def test_a_window_after_an_earlier_origin_is_clipped_to_what_the_history_before_it_showed():
    """A model retrained before a past window saw less than the training channel: the markdowns
    that start inside that window reach it clipped to their earlier range (zero)."""
    from deepar_assets.domain.covariate_audit import clip_window, feature_rules

    longer = SyntheticSpec(n_stores=3, n_depts=4, n_weeks=100, n_future_weeks=13, seed=0, start="2011-01-07")
    spec = with_covariate(SPEC, "Temperature", outside_training="keep")
    encoded = encode(frames_to_raw(generate_frames(longer), spec))  # its training channel holds markdowns
    assert "MarkDown1" not in findings(encoded)
    rules = feature_rules(encoded.encoding)
    names = encoded.feature_names
    assert rules[names.index("MarkDown1")] == "clip" and rules[names.index("Temperature")] == "keep"
    assert rules[names.index("AnyMarkDown")] == "clip"
    start = encoded.periods.get_loc(pd.Timestamp(MARKDOWN_START))
    records = list(encoded.records(np.arange(encoded.n_series), start + 4))  # the window: 4 periods from the start
    clipped, rows = clip_window(records, 4, rules)
    assert names.index("MarkDown1") in rows and names.index("Temperature") not in rows
    for before, after in zip(records, clipped, strict=True):
        features = np.asarray(after["dynamic_feat"])
        original = np.asarray(before["dynamic_feat"])
        markdown = names.index("MarkDown1")
        assert (features[markdown, -4:] == original[markdown, 0]).all()  # constant before: constant in the window
        np.testing.assert_array_equal(features[:, :-4], original[:, :-4])  # the history is untouched
        np.testing.assert_array_equal(after["target"], before["target"])
