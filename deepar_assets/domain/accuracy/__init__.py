"""Accuracy of published forecasts on the actuals that follow them: vintages, their scores by
horizon step, period and series, and the drift verdict against what the backtest expected.

Plain functions over DataFrames; no Dagster, no storage client (the vintages and score parts
live in an object store, written and read by :mod:`deepar_assets.storage.vintages`).

- :mod:`.scores`: the metrics of a set of (series, period) points: WMAE (the spec's period
  weights), mean wQuantileLoss, bias and the coverage of the 10–90 % band, per horizon step;
- :mod:`.vintages`: one published forecast (model, last observed period T, its periods) and the
  rows of it that have actuals;
- :mod:`.drift`: recent accuracy against the backtest's expectation, per horizon step and per
  series group.
"""

from deepar_assets.domain.accuracy.drift import (
    DriftRule,
    DriftVerdict,
    compare_by_horizon,
    drift_verdict,
    series_above_expectation,
)
from deepar_assets.domain.accuracy.scores import (
    ACCURACY_METRICS,
    by_horizon,
    by_period,
    point_errors,
    series_errors,
    summarize,
)
from deepar_assets.domain.accuracy.vintages import Vintage, actuals_frame, scored_rows

__all__ = [
    "ACCURACY_METRICS",
    "DriftRule",
    "DriftVerdict",
    "Vintage",
    "actuals_frame",
    "by_horizon",
    "by_period",
    "compare_by_horizon",
    "drift_verdict",
    "point_errors",
    "scored_rows",
    "series_above_expectation",
    "series_errors",
    "summarize",
]
