"""Running a scenario with a model: baseline and scenario forecasts of the series it changes,
its new series by cold start, and the tables that summarize them."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from deepar_assets.domain.encoding import EncodedSeries, Encoding
from deepar_assets.domain.forecasting.cold_start import cold_start
from deepar_assets.domain.forecasting.inputs import ForecastInputs
from deepar_assets.domain.forecasting.keys import time_column
from deepar_assets.domain.forecasting.scenarios import Scenario, apply_scenario
from deepar_assets.domain.forecasting.tables import QUANTILE_COLUMNS, forecast_frame
from deepar_assets.domain.spec import periods
from deepar_assets.errors import ConfigurationError

CHANGED = "changed"


class Predictor(Protocol):
    """What a scenario needs of a model (``engines.inference.Forecaster`` is one)."""

    engine_name: str
    batch_size: int | None

    def predict(self, records: list[dict[str, Any]], cut: int = 0) -> dict[str, np.ndarray]: ...


def _insert_after_keys(frame: pd.DataFrame, n_keys: int, kind: str, baseline: np.ndarray | float) -> pd.DataFrame:
    frame.insert(n_keys, "kind", kind)
    frame.insert(n_keys + 3, "baseline_mean", baseline)  # after kind, the period and horizon
    return frame


def run_scenario(
    scenario: Scenario,
    encoded: EncodedSeries,
    inputs: ForecastInputs,
    encoding: Encoding,
    model: Predictor,
    model_id: str,
    h: int,
) -> pd.DataFrame:
    """Baseline and scenario forecasts of the series the scenario changes, plus its new series:
    one row per (series, period) with the keys, ``kind`` (changed, or cold start and its peer
    rule), the period, ``horizon``, ``baseline_mean``, the scenario's mean and quantiles, and
    ``difference``. Both forecasts of a series use the same seed (common random numbers)."""
    scenario.validate(encoding, encoded.spec)
    time = time_column(encoding, encoded.spec)
    columns = list(inputs.keys.columns)
    changed_records, changed = apply_scenario(
        inputs.records,
        inputs.keys,
        h,
        inputs.dates,
        scenario,
        encoding,
        encoded.spec,
        allow_empty=bool(scenario.new_series),
    )
    parts = []
    idx = np.flatnonzero(changed)
    if len(idx):
        base = model.predict([inputs.records[i] for i in idx])
        what_if = model.predict([changed_records[i] for i in idx])
        frame = forecast_frame(inputs.keys.iloc[idx].reset_index(drop=True), inputs.dates, what_if, time)
        parts.append(_insert_after_keys(frame, len(columns), CHANGED, base["mean"].ravel()))
    for new in scenario.new_series_keys:
        if model.batch_size is None:
            raise ConfigurationError(
                f"scenario {scenario.name!r}: cold start batches the new series with its peers so that DeepAR takes their "
                f"level; the {model.engine_name} engine forecasts each record alone: use the local engine"
            )
        started = cold_start(
            encoded, inputs, encoding, new, h, max_peers=model.batch_size - 1, model=f"model {model_id}"
        )
        keys = pd.DataFrame([{c: started.key.get(c) for c in columns}])
        records, _ = apply_scenario(
            [started.record], keys, h, inputs.dates, scenario, encoding, encoded.spec, allow_empty=True
        )
        out = model.predict(records + [inputs.records[p] for p in started.peers])
        frame = forecast_frame(keys, inputs.dates, {k: v[:1] for k, v in out.items()}, time)
        kind = f"cold start (peers: {started.peer_rule}, {len(started.peers)} series)"
        parts.append(_insert_after_keys(frame, len(columns), kind, 0.0))
    if not parts:  # e.g. a covariate × 1.5 in periods where it is 0 everywhere
        names = [*columns, "kind", time, "horizon", "baseline_mean", "mean", *QUANTILE_COLUMNS, "difference"]
        return pd.DataFrame({c: pd.Series(dtype=float) for c in names})
    frame = pd.concat(parts, ignore_index=True)
    frame["difference"] = frame["mean"] - frame["baseline_mean"]
    return frame


def scenario_summary(
    scenario: Scenario, frame: pd.DataFrame, dates: pd.DatetimeIndex, freq: str, h: int
) -> dict[str, Any]:
    """One row of the scenarios' summary table."""
    baseline, what_if = float(frame["baseline_mean"].sum()), float(frame["mean"].sum())
    first = scenario.first_period or periods.format_period(dates[0], freq)
    last = scenario.last_period or periods.format_period(dates[-1], freq)
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "selection": scenario.describe_selection(),
        "changes": "; ".join(c.describe() for c in scenario.changes) or "-",
        "periods": f"{first}..{last}",
        "series_changed": int((frame["kind"] == CHANGED).sum() // h),
        "new_series": len(scenario.new_series),
        "baseline_total": round(baseline, 2),
        "scenario_total": round(what_if, 2),
        "difference": round(what_if - baseline, 2),
        "difference_pct": round(100 * (what_if - baseline) / abs(baseline), 3) if baseline else None,
    }


def series_differences(frames: dict[str, pd.DataFrame], key_columns: list[str]) -> pd.DataFrame:
    """Per scenario and series: baseline, scenario and difference totals over the horizon,
    largest absolute difference first."""
    rows = []
    for name, frame in frames.items():
        if not len(frame):
            continue
        grouped = frame.groupby([*key_columns, "kind"], as_index=False, dropna=False)[
            ["baseline_mean", "mean", "difference"]
        ].sum()
        grouped.insert(0, "scenario", name)
        rows.append(grouped)
    if not rows:
        return pd.DataFrame(columns=["scenario", *key_columns, "kind", "baseline_mean", "scenario_mean", "difference"])
    frame = pd.concat(rows, ignore_index=True).rename(columns={"mean": "scenario_mean"})
    return frame.reindex(frame["difference"].abs().sort_values(ascending=False).index).reset_index(drop=True)
