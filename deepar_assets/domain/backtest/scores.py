"""Scores of a forecast over a window: the gate's WMAE (the MAE weighted by the spec's period
weights; plain MAE when the spec declares none), mean wQuantileLoss, RMSE, MASE with the
spec's season, and the coverage of the 80 % interval."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from deepar_assets.constants import QUANTILES
from deepar_assets.domain import metrics
from deepar_assets.errors import TrainingError

DEEPAR = "DeepAR"
METRICS = ("WMAE", "mean_wQuantileLoss", "RMSE", "MASE", "coverage_80")
# The gate: the metric a model must beat seasonal naive on. "WMAE" is the weighted MAE: with
# the spec's period weights (e.g. holiday periods × 5), and equal to the MAE without them.
GATE_METRIC = "WMAE"


def has_interval(forecast: Mapping[str, np.ndarray]) -> bool:
    return "p10" in forecast and "p90" in forecast and not np.array_equal(forecast["p10"], forecast["p90"])


def coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of observed actuals inside [low, high]."""
    actual = np.asarray(actual, dtype=np.float64)
    mask = ~np.isnan(actual)
    if not mask.any():
        raise TrainingError("no observed value to score: every actual is missing")
    inside = (actual >= low) & (actual <= high)
    return float(inside[mask].mean())


def score(
    actual: np.ndarray,
    forecast: Mapping[str, np.ndarray],
    weights: np.ndarray,
    histories: Sequence[np.ndarray],
    season: int,
) -> dict[str, float]:
    """WMAE (``weights`` per point, broadcast to ``actual``), mean wQuantileLoss, RMSE, MASE
    (in-sample naive at lag ``season``), and the coverage of the 80 % interval (p10..p90; NaN
    for a point forecast). A metric that is undefined on these rows (every actual 0, no usable
    in-sample error) is NaN."""
    point = forecast["mean"]
    quantiles = {tau: forecast.get(f"p{round(tau * 100)}", point) for tau in QUANTILES}
    values: dict[str, float] = {}
    for name, fn in (
        ("WMAE", lambda: metrics.wmae(actual, point, weights)),
        ("mean_wQuantileLoss", lambda: metrics.mean_weighted_quantile_loss(actual, quantiles)),
        ("RMSE", lambda: metrics.rmse(actual, point)),
        ("MASE", lambda: metrics.mase(actual, point, list(histories), season)),
        (
            "coverage_80",
            lambda: coverage(actual, forecast["p10"], forecast["p90"]) if has_interval(forecast) else math.nan,
        ),
    ):
        try:
            values[name] = float(fn())
        except TrainingError:
            values[name] = math.nan
    return values


def per_series_wmae(actual: np.ndarray, point: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each series' WMAE over its observed points (NaN where it has none)."""
    actual = np.asarray(actual, dtype=np.float64)
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), actual.shape)
    mask = ~np.isnan(actual)
    errors = np.where(mask, np.abs(actual - np.asarray(point, dtype=np.float64)), 0.0)
    total = np.where(mask, weights, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, (weights * errors).sum(axis=1) / total, np.nan)
