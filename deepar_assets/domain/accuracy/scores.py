"""The metrics of a set of scored points, per horizon step, period or series.

A *rows* frame holds one scored point per row: ``actual``, ``mean``, ``p10`` … ``p90``,
``weight`` (the spec's period weight; 1.0 without declared weights) and ``horizon`` (1 … h,
the step after the forecast's origin), plus any key columns. :func:`point_errors` turns each
point into additive parts, so that any grouping's metrics are sums of them, and equal to
:mod:`deepar_assets.domain.metrics` on the same points:

- ``WMAE``: Σ w·|y − ŷ| / Σ w (plain MAE when every weight is 1);
- ``mean_wQuantileLoss``: SageMaker DeepAR's, the mean over p10 … p90 of 2·Σ QL_τ / Σ|y|;
- ``bias``: Σ (ŷ − y) / Σ y, the mean error over the mean actual (above 0: the forecast was
  too high);
- ``coverage_80``: the share of actuals inside [p10, p90] (0.8 for a calibrated band).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from deepar_assets.constants import QUANTILES
from deepar_assets.domain.forecasting.tables import QUANTILE_COLUMNS
from deepar_assets.errors import EncodingError

ACCURACY_METRICS = ("WMAE", "mean_wQuantileLoss", "bias", "coverage_80")
PARTS = ("points", "weight", "abs_error_weighted", "quantile_loss", "abs_actual", "error", "actual_sum", "inside")
REQUIRED = ("actual", "mean", *QUANTILE_COLUMNS, "weight", "horizon")


def point_errors(rows: pd.DataFrame) -> pd.DataFrame:
    """Each point's additive parts (see the module's docstring), beside its key columns. Rows
    whose actual is missing are dropped; a missing forecast value is an error."""
    missing = [c for c in REQUIRED if c not in rows.columns]
    if missing:
        raise EncodingError(f"scored rows lack the columns {missing}; expected {list(REQUIRED)}")
    rows = rows[rows["actual"].notna()]
    values = rows[["mean", *QUANTILE_COLUMNS]]
    if values.isna().to_numpy().any():
        raise EncodingError(
            f"{int(values.isna().any(axis=1).sum())} scored point(s) have a missing forecast value (mean or p10 … p90)"
        )
    y = rows["actual"].to_numpy(dtype=np.float64)
    mean = rows["mean"].to_numpy(dtype=np.float64)
    w = rows["weight"].to_numpy(dtype=np.float64)
    quantile_loss = np.zeros(len(rows))
    for tau, column in zip(QUANTILES, QUANTILE_COLUMNS, strict=True):
        diff = y - rows[column].to_numpy(dtype=np.float64)
        quantile_loss += np.maximum(tau * diff, (tau - 1) * diff)
    keys = rows.drop(columns=[c for c in REQUIRED if c != "horizon"])
    parts = pd.DataFrame(
        {
            "points": np.ones(len(rows), dtype=np.int64),
            "weight": w,
            "abs_error_weighted": w * np.abs(y - mean),
            "quantile_loss": quantile_loss,
            "abs_actual": np.abs(y),
            "error": mean - y,
            "actual_sum": y,
            "inside": ((y >= rows["p10"].to_numpy()) & (y <= rows["p90"].to_numpy())).astype(np.int64),
        },
        index=rows.index,
    )
    return pd.concat([keys, parts], axis=1)


def metrics_of(sums: pd.DataFrame) -> pd.DataFrame:
    """The metrics from summed parts (one row per group); NaN where a metric is undefined
    (zero total weight, every actual 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame(index=sums.index)
        out["points"] = sums["points"].astype(np.int64)
        out["WMAE"] = np.where(sums["weight"] > 0, sums["abs_error_weighted"] / sums["weight"], np.nan)
        out["mean_wQuantileLoss"] = np.where(
            sums["abs_actual"] > 0, 2.0 * sums["quantile_loss"] / (len(QUANTILES) * sums["abs_actual"]), np.nan
        )
        out["bias"] = np.where(sums["actual_sum"] != 0, sums["error"] / sums["actual_sum"], np.nan)
        out["coverage_80"] = np.where(sums["points"] > 0, sums["inside"] / sums["points"], np.nan)
    return out


def grouped(parts: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Summed parts and metrics per value of ``by`` (a flat frame, ``by`` first)."""
    sums = parts.groupby(list(by), sort=True, dropna=False)[list(PARTS)].sum()
    return pd.concat([metrics_of(sums), sums.drop(columns="points")], axis=1).reset_index()


def summarize(rows: pd.DataFrame) -> dict[str, float]:
    """The metrics of all the rows together."""
    parts = point_errors(rows)
    sums = parts[list(PARTS)].sum().to_frame().T
    return {k: float(v) for k, v in metrics_of(sums).iloc[0].items()}


def by_horizon(rows: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """The metrics per horizon step (and per ``extra`` columns before it, e.g. the model)."""
    return grouped(point_errors(rows), [*extra, "horizon"])


def by_period(rows: pd.DataFrame, vintage_columns: Sequence[str], time: str) -> pd.DataFrame:
    """The metrics per vintage and target period (each with its horizon step): one row per
    vintage × period."""
    return grouped(point_errors(rows), [*vintage_columns, time, "horizon"])


def series_errors(rows: pd.DataFrame, keys: Sequence[str], extra: Sequence[str] = ()) -> pd.DataFrame:
    """The metrics per series (``keys``: its ids and attributes), with the summed parts that
    pool exactly into any group of series (``abs_error_weighted`` / ``weight`` is WMAE)."""
    return grouped(point_errors(rows), [*extra, *keys])
