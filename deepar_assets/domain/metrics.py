"""Forecast accuracy metrics, as SageMaker DeepAR defines them, with weighted MAE and MASE.

All functions take arrays of shape (n_series, horizon); NaN in ``actual`` marks a period with no
observation, which is left out of every sum. A metric that cannot be computed raises; it never
returns a placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from deepar_assets.errors import TrainingError


def _observed(actual: np.ndarray, *others: np.ndarray) -> np.ndarray:
    actual = np.asarray(actual, dtype=np.float64)
    for other in others:
        if np.shape(other) != actual.shape:
            raise ValueError(f"forecast shape {np.shape(other)} differs from the actuals' shape {actual.shape}")
    mask = ~np.isnan(actual)
    if not mask.any():
        raise TrainingError("no observed value to score: every actual is missing")
    return mask


def quantile_loss(actual: np.ndarray, forecast: np.ndarray, tau: float) -> float:
    """Σ over observed points of τ·max(y − q, 0) + (1 − τ)·max(q − y, 0)."""
    mask = _observed(actual, forecast)
    y, q = np.asarray(actual)[mask], np.asarray(forecast, dtype=np.float64)[mask]
    if np.isnan(q).any():
        raise TrainingError(f"the {tau} quantile forecast contains NaN")
    diff = y - q
    return float(np.sum(np.maximum(tau * diff, (tau - 1) * diff)))


def weighted_quantile_loss(actual: np.ndarray, forecast: np.ndarray, tau: float) -> float:
    """SageMaker DeepAR's wQuantileLoss[τ] = 2·Σ QL_τ / Σ|y|."""
    mask = _observed(actual, forecast)
    denominator = float(np.sum(np.abs(np.asarray(actual)[mask])))
    if denominator == 0:
        raise TrainingError("wQuantileLoss is undefined: every observed actual is 0")
    return 2.0 * quantile_loss(actual, forecast, tau) / denominator


def mean_weighted_quantile_loss(actual: np.ndarray, quantiles: Mapping[float, np.ndarray]) -> float:
    """SageMaker DeepAR's ``mean_wQuantileLoss``: the mean of wQuantileLoss over the quantiles."""
    if not quantiles:
        raise ValueError("no quantile forecasts given")
    return float(np.mean([weighted_quantile_loss(actual, q, tau) for tau, q in quantiles.items()]))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    """SageMaker DeepAR's RMSE: sqrt of the mean squared error of the mean forecast over all
    observed (series, period) points."""
    mask = _observed(actual, forecast)
    diff = np.asarray(actual)[mask] - np.asarray(forecast, dtype=np.float64)[mask]
    if np.isnan(diff).any():
        raise TrainingError("the mean forecast contains NaN")
    return float(np.sqrt(np.mean(diff**2)))


def wmae(actual: np.ndarray, forecast: np.ndarray, weights: np.ndarray | float | None = None) -> float:
    """Weighted MAE: Σ w·|y − ŷ| / Σ w over observed points. ``weights`` broadcasts to the
    actuals' shape: one weight per period (shape (horizon,)), per point, or None (all 1, plain
    MAE). With the spec's period weights (e.g. holiday weeks × 5) this is the Kaggle WMAE."""
    mask = _observed(actual, forecast)
    shape = np.shape(actual)
    given = 1.0 if weights is None else weights
    try:
        full = np.broadcast_to(np.asarray(given, dtype=np.float64), shape)
    except ValueError:
        raise ValueError(f"weights shape {np.shape(given)} does not broadcast to the actuals' shape {shape}") from None
    if np.isnan(full[mask]).any() or (full[mask] < 0).any():
        raise TrainingError("WMAE weights must be non-negative numbers")
    w = full[mask]
    if not w.sum() > 0:
        raise TrainingError("WMAE is undefined: the observed points have zero total weight")
    errors = np.abs(np.asarray(actual, dtype=np.float64)[mask] - np.asarray(forecast, dtype=np.float64)[mask])
    if np.isnan(errors).any():
        raise TrainingError("the point forecast contains NaN")
    return float(np.sum(w * errors) / np.sum(w))


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error over observed points (WMAE with every weight 1)."""
    return wmae(actual, forecast, None)


def mase(actual: np.ndarray, forecast: np.ndarray, history: list[np.ndarray], season: int) -> float:
    """Mean absolute scaled error, aggregated over the series: the absolute errors of every
    series over the horizon, summed, divided by the same number of each series' in-sample
    seasonal naive errors (its mean absolute error at lag ``season``; lag 1 when the history is
    shorter), summed. That is Σ_i Σ_t |y_it − ŷ_it| / Σ_i n_i·s_i, with n_i the observed
    periods of series i and s_i its scale; a series whose scale is undefined or 0 is left out.

    Each series' ratio counts in proportion to its scale, not equally: a mean of per-series
    ratios would let a few near-constant series (a scale near 0) dominate it. Below 1, the
    forecast's errors are smaller than seasonal naive's in-sample errors on these series, taken
    together. ``season``: the spec's season length."""
    if int(season) < 1:
        raise ValueError(f"season must be at least 1 period, got {season}")
    season = int(season)
    actual = np.asarray(actual, dtype=np.float64)
    forecast = np.asarray(forecast, dtype=np.float64)
    _observed(actual, forecast)
    errors, scales = 0.0, 0.0
    for y, f, past in zip(actual, forecast, history, strict=True):
        mask = ~np.isnan(y)
        if not mask.any():
            continue
        past = np.asarray(past, dtype=np.float64)
        lag = season if len(past) > season else 1
        naive_errors = np.abs(past[lag:] - past[:-lag])
        scale = np.nanmean(naive_errors) if np.any(~np.isnan(naive_errors)) else np.nan
        if not np.isfinite(scale) or scale == 0:
            continue
        errors += float(np.sum(np.abs(y[mask] - f[mask])))
        scales += float(mask.sum()) * float(scale)
    if not scales:
        raise TrainingError("MASE is undefined: no series has a usable in-sample naive error")
    return errors / scales
