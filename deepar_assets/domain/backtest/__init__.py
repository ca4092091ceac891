"""Backtests: DeepAR against baselines on held-out windows, overall and broken down by every
categorical attribute and id column, the series where DeepAR loses, and the gate a model must
pass before anything publishes it.

Plain functions over arrays (n_series, h) and DeepAR records; no Dagster, no engine. A
forecast is a mapping with ``mean`` and, where the model gives an interval, ``p10`` … ``p90``.
Seasons and weights are the spec's (``encoding.season_length``, ``encoding.period_weights``).

- :mod:`.baselines`: seasonal naive and statsforecast's models;
- :mod:`.scores`: the metrics of a window;
- :mod:`.window`: a window's forecasts, actuals and weights, built from records;
- :mod:`.report`: breakdowns, the best baseline, the losers;
- :mod:`.gate`: the rule that publishes a model or refuses it;
- :mod:`.validation`: the validation-window report an engine records in a model card.
"""

from deepar_assets.domain.backtest.baselines import (
    BASELINES,
    PARALLEL_FROM,
    SEASONAL_NAIVE,
    STATISTICAL_BASELINES,
    BaselineForecast,
    baseline_forecasts,
    fill_history,
    quantile_keys,
)
from deepar_assets.domain.backtest.gate import GateOutcome, compare, gate, has_validation_scores, weighting
from deepar_assets.domain.backtest.report import (
    best_baseline,
    breakdown,
    breakdown_columns,
    breakdowns,
    by_origin,
    losers,
)
from deepar_assets.domain.backtest.scores import (
    DEEPAR,
    GATE_METRIC,
    METRICS,
    coverage,
    has_interval,
    per_series_wmae,
    score,
)
from deepar_assets.domain.backtest.validation import validation_report
from deepar_assets.domain.backtest.window import (
    Window,
    build_window,
    check_forecasts,
    cut_record,
    origin_records,
    window_histories,
    window_periods,
    window_weights,
)

__all__ = [
    "BASELINES",
    "DEEPAR",
    "GATE_METRIC",
    "METRICS",
    "PARALLEL_FROM",
    "SEASONAL_NAIVE",
    "STATISTICAL_BASELINES",
    "BaselineForecast",
    "GateOutcome",
    "Window",
    "baseline_forecasts",
    "best_baseline",
    "breakdown",
    "breakdown_columns",
    "breakdowns",
    "by_origin",
    "build_window",
    "check_forecasts",
    "compare",
    "coverage",
    "cut_record",
    "fill_history",
    "gate",
    "has_interval",
    "has_validation_scores",
    "losers",
    "origin_records",
    "per_series_wmae",
    "quantile_keys",
    "score",
    "validation_report",
    "weighting",
    "window_histories",
    "window_periods",
    "window_weights",
]
