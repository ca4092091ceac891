"""best_model → forecasts, backtest_report, scenario_forecasts: what planners use, as thin
wiring over the domain (``domain/forecasting``, ``domain/backtest``) and the engines'
forecasters (``engines/inference.py``); charts and tables in ``assets/charts.py``. Also the
blocking check on best_model that keeps a model that loses to seasonal naive from being
published. One module per asset:

- :mod:`.gate`: ``beats_seasonal_naive`` and the refusal every asset below applies;
- :mod:`.forecasts`, :mod:`.backtest`, :mod:`.scenarios`: the three assets and their config;
- :mod:`.common`: where they publish and the model's context.

Every table is keyed by the dataset spec's id columns and categorical attributes, with the
period in the spec's time column; periods are the spec's (daily, weekly, monthly …).
"""

from deepar_assets.assets.forecasting.backtest import BacktestConfig, BacktestReport, backtest_report
from deepar_assets.assets.forecasting.forecasts import ForecastConfig, ForecastSet, forecasts
from deepar_assets.assets.forecasting.gate import (
    GATE_CHECK,
    beats_seasonal_naive,
    require_passing_model,
    score_validation_window,
)
from deepar_assets.assets.forecasting.scenarios import (
    ScenarioConfig,
    ScenarioForecastsConfig,
    ScenarioResult,
    saved_scenarios,
    scenario_forecasts,
)

FORECASTING_ASSETS = [forecasts, backtest_report, scenario_forecasts]
FORECASTING_CHECKS = [beats_seasonal_naive]

__all__ = [
    "FORECASTING_ASSETS",
    "FORECASTING_CHECKS",
    "GATE_CHECK",
    "BacktestConfig",
    "BacktestReport",
    "ForecastConfig",
    "ForecastSet",
    "ScenarioConfig",
    "ScenarioForecastsConfig",
    "ScenarioResult",
    "backtest_report",
    "beats_seasonal_naive",
    "forecasts",
    "require_passing_model",
    "saved_scenarios",
    "scenario_forecasts",
    "score_validation_window",
]
