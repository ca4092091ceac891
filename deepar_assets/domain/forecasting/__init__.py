"""From encoded series to forecasts a planner reads: which series a model can forecast and the
records it is given (:mod:`.inputs`, :mod:`.translate`), decoded forecast tables keyed by the
spec's ids (:mod:`.tables`, :mod:`.keys`), changes against one season earlier
(:mod:`.changes`), what-if scenarios on known-ahead features (:mod:`.scenarios`,
:mod:`.what_if`) and cold start for id combinations with no history (:mod:`.cold_start`).

Plain functions over :class:`EncodedSeries`, :class:`Encoding` and the dataset spec; no
Dagster, no engine.
"""

from deepar_assets.domain.forecasting.changes import (
    changes_vs_last_season,
    history_total,
    recent_volume,
    representative_series,
    season_of,
)
from deepar_assets.domain.forecasting.cold_start import ColdStart, cold_start, feature_keys, peer_rules
from deepar_assets.domain.forecasting.inputs import ForecastInputs, forecast_dates, forecast_inputs, with_features
from deepar_assets.domain.forecasting.keys import (
    PERIOD,
    attribute_columns,
    dataset_spec,
    describe_key,
    id_columns,
    key_columns,
    match_value,
    rows_matching,
    time_column,
)
from deepar_assets.domain.forecasting.scenarios import (
    FeatureChange,
    Scenario,
    apply_scenario,
    changeable_features,
    feature_roles,
)
from deepar_assets.domain.forecasting.tables import (
    QUANTILE_COLUMNS,
    VALUE_COLUMNS,
    check_forecast,
    date_format,
    forecast_frame,
    to_csv_bytes,
    to_parquet_bytes,
)
from deepar_assets.domain.forecasting.translate import model_codes, model_features, to_raw, to_scaled
from deepar_assets.domain.forecasting.what_if import (
    CHANGED,
    Predictor,
    run_scenario,
    scenario_summary,
    series_differences,
)

__all__ = [
    "CHANGED",
    "PERIOD",
    "QUANTILE_COLUMNS",
    "VALUE_COLUMNS",
    "ColdStart",
    "FeatureChange",
    "ForecastInputs",
    "Predictor",
    "Scenario",
    "apply_scenario",
    "attribute_columns",
    "changeable_features",
    "changes_vs_last_season",
    "check_forecast",
    "cold_start",
    "dataset_spec",
    "date_format",
    "describe_key",
    "feature_keys",
    "feature_roles",
    "forecast_dates",
    "forecast_frame",
    "forecast_inputs",
    "history_total",
    "id_columns",
    "key_columns",
    "match_value",
    "model_codes",
    "model_features",
    "peer_rules",
    "recent_volume",
    "representative_series",
    "rows_matching",
    "run_scenario",
    "scenario_summary",
    "season_of",
    "series_differences",
    "time_column",
    "to_csv_bytes",
    "to_parquet_bytes",
    "to_raw",
    "to_scaled",
    "with_features",
]
