"""best_model → combination → forecasts, backtest_report, scenario_forecasts, forecast_accuracy: what planners use, as thin
wiring over the domain (``domain/forecasting``, ``domain/backtest``) and the engines'
forecasters (``engines/inference.py``); charts and tables in ``assets/charts.py``. Also the
blocking check on combination that keeps a forecast that loses to seasonal naive from
being published. One module per asset:

- :mod:`.combination`: ``combination`` (the asset), DeepAR and statistical candidates combined on
  past windows, and the blocking gate ``beats_seasonal_naive`` on it;
- :mod:`.gate`: DeepAR's own check on best_model, and the refusal every asset below applies;
- :mod:`.forecasts`, :mod:`.backtest`, :mod:`.scenarios`: the three assets and their config;
- :mod:`.accuracy`: ``forecast_accuracy``, the vintages scored on the actuals that follow, and
  its drift check;
- :mod:`.common`: where they publish and the model's context.

Every table is keyed by the dataset spec's id columns and categorical attributes, with the
period in the spec's time column; periods are the spec's (daily, weekly, monthly …).
"""

from deepar_assets.assets.forecasting.accuracy import DRIFT_CHECK, AccuracyConfig, AccuracyReport, forecast_accuracy
from deepar_assets.assets.forecasting.backtest import BacktestConfig, BacktestReport, backtest_report
from deepar_assets.assets.forecasting.combination import (
    COMBINATION_ASSET,
    GATE_CHECK,
    Combination,
    CombinationConfig,
    beats_seasonal_naive,
    forecast_combination,
)
from deepar_assets.assets.forecasting.forecasts import ForecastConfig, ForecastSet, forecasts
from deepar_assets.assets.forecasting.gate import (
    DEEPAR_CHECK,
    deepar_beats_seasonal_naive,
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

FORECASTING_ASSETS = [forecast_combination, forecasts, backtest_report, scenario_forecasts, forecast_accuracy]
FORECASTING_CHECKS = [beats_seasonal_naive, deepar_beats_seasonal_naive]

__all__ = [
    "COMBINATION_ASSET",
    "DEEPAR_CHECK",
    "Combination",
    "CombinationConfig",
    "deepar_beats_seasonal_naive",
    "combination",
    "DRIFT_CHECK",
    "AccuracyConfig",
    "AccuracyReport",
    "forecast_accuracy",
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
