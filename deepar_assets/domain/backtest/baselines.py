"""Baselines DeepAR has to beat: seasonal naive, and statsforecast's (Nixtla) statistical
models, one model per series, all with the spec's season length."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deepar_assets.constants import QUANTILES
from deepar_assets.domain.baselines import seasonal_naive
from deepar_assets.errors import ConfigurationError, TrainingError

SEASONAL_NAIVE = "seasonal_naive"
# Seasonal ETS exists in statsforecast but is slow with a long season (~0.2 s per series with a
# yearly season of weeks: ~12 min on the Kaggle data's 3,331 series), so AutoETS runs without a season; MSTL
# removes the season and forecasts the rest with AutoETS; AutoTheta tests for seasonality itself.
STATISTICAL_BASELINES = ("AutoETS", "MSTL", "AutoTheta")
BASELINES = (SEASONAL_NAIVE, *STATISTICAL_BASELINES)
_LEVELS = (20, 40, 60, 80)
PARALLEL_FROM = 200  # series: below this, worker processes cost more than they save


def quantile_keys() -> list[str]:
    return [f"p{round(q * 100)}" for q in QUANTILES]


def fill_history(history: np.ndarray) -> np.ndarray:
    """Statistical models take no gaps: missing periods inside a series are interpolated
    linearly, trailing ones carried forward; leading ones are dropped."""
    series = pd.Series(np.asarray(history, dtype=np.float64))
    observed = np.flatnonzero(series.notna().to_numpy())
    if not len(observed):
        raise TrainingError("a baseline needs at least one observed period of history")
    series = series.iloc[observed[0] :]
    return series.interpolate(limit_area="inside").ffill().to_numpy()


def _statsforecast_model(name: str, season: int):
    from statsforecast.models import MSTL, AutoETS, AutoTheta

    if name == "AutoETS":
        return AutoETS(season_length=1)
    if name == "MSTL":
        return MSTL(season_length=season, trend_forecaster=AutoETS(model="ZZN"))
    if name == "AutoTheta":
        return AutoTheta(season_length=season)
    raise ConfigurationError(f"baseline {name!r}: choose from {list(BASELINES)}")


@dataclass
class BaselineForecast:
    name: str
    forecast: dict[str, np.ndarray]
    fallbacks: list[int] = field(default_factory=list)  # series forecast by seasonal naive instead
    errors: dict[int, str] = field(default_factory=dict)  # series → why the model could not fit it

    def reason_counts(self) -> dict[str, int]:
        """Why series fell back to seasonal naive: each reason with its number of series,
        most frequent first."""
        return dict(Counter(self.errors[i] for i in self.fallbacks).most_common())

    def fallback_reasons(self, n: int) -> np.ndarray:
        """(n,) per series, why it was forecast by seasonal naive instead ("" where the model's own)."""
        out = np.full(n, "", dtype=object)
        for i in self.fallbacks:
            out[i] = self.errors.get(i, "unknown")
        return out


def baseline_forecasts(
    histories: Sequence[np.ndarray],
    h: int,
    name: str,
    season: int,
    workers: int = 1,
    all_may_fall_back: bool = False,
) -> BaselineForecast:
    """One baseline for every series, with a season of ``season`` periods (the spec's season
    length). Seasonal naive gives its point forecast as the mean, and quantiles from the series'
    own seasonal differences (:func:`naive_band`); statistical models give mean and quantiles
    from their prediction intervals. A series a statistical
    model cannot fit (too short, degenerate) gets seasonal naive instead, listed in
    ``fallbacks`` with the reason in ``errors``. A model that fits none of the series is an
    error, unless ``all_may_fall_back`` (the caller reports each fallback). ``workers`` > 1
    fits the series in that many processes (one model per series either way, so the result
    is the same)."""
    if name not in BASELINES:
        raise ConfigurationError(f"baseline {name!r}: choose from {list(BASELINES)}")
    if season < 1:
        raise ConfigurationError(f"baseline {name}: the season length must be at least 1, got {season}")
    n = len(histories)
    if workers > 1 and name != SEASONAL_NAIVE and n >= PARALLEL_FROM:
        result = _in_processes(histories, h, name, season, workers)
    else:
        result = _fit(histories, h, name, season)
    if n and len(result.fallbacks) == n and not all_may_fall_back:
        reasons = "; ".join(f"{reason} ({count} series)" for reason, count in list(result.reason_counts().items())[:3])
        raise TrainingError(
            f"baseline {name} could not fit any of the {n} series, so its scores would be seasonal naive's: {reasons}. "
            f"Leave {name} out of backtest_report's baselines, or backtest on longer histories"
        )
    return result


def _fit(histories: Sequence[np.ndarray], h: int, name: str, season: int) -> BaselineForecast:
    """:func:`baseline_forecasts` in this process, without the all-failed check."""
    n = len(histories)
    naive = np.stack([seasonal_naive(history, h, season) for history in histories]) if n else np.zeros((0, h))
    if name == SEASONAL_NAIVE:
        return BaselineForecast(name, {"mean": naive, **naive_band(histories, naive, season)})
    model = _statsforecast_model(name, season)
    out = {k: np.array(naive, copy=True) for k in ("mean", *quantile_keys())}
    result = BaselineForecast(name, out)
    for i, history in enumerate(histories):
        try:
            y = fill_history(history)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    fitted = model.forecast(y=y, h=h, level=list(_LEVELS))
            values = {"mean": fitted["mean"], **_quantiles_from_levels(fitted)}
            if not all(np.all(np.isfinite(v)) for v in values.values()):
                raise TrainingError("non-finite forecast")
        except Exception as exc:  # noqa: BLE001 - any fitting failure falls back, and is reported
            result.fallbacks.append(i)
            result.errors[i] = f"{type(exc).__name__}: {exc}"[:200]
            continue
        for key, value in values.items():
            out[key][i] = value
    return result


MIN_SEASONAL_DIFFERENCES = 4


def naive_band(histories: Sequence[np.ndarray], naive: np.ndarray, season: int) -> dict[str, np.ndarray]:
    """Seasonal naive's quantiles: its point forecast plus the empirical quantiles of the
    series' own seasonal differences y[t] - y[t - season] (the errors seasonal naive made on the
    history), so that its p10 … p90 say how far last season's value is usually off. A series
    with fewer than MIN_SEASONAL_DIFFERENCES of them keeps the point as every quantile."""
    taus = np.asarray(QUANTILES)
    out = {k: np.array(naive, copy=True) for k in quantile_keys()}
    for i, history in enumerate(histories):
        values = np.asarray(history, dtype=np.float64)
        if len(values) <= season:
            continue
        differences = values[season:] - values[:-season]
        differences = differences[np.isfinite(differences)]
        if len(differences) < MIN_SEASONAL_DIFFERENCES:
            continue
        offsets = np.quantile(differences, taus)
        for key, offset in zip(quantile_keys(), offsets, strict=True):
            out[key][i] = naive[i] + offset
    return out


def _in_processes(histories: Sequence[np.ndarray], h: int, name: str, season: int, workers: int) -> BaselineForecast:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    bounds = np.linspace(0, len(histories), workers + 1).astype(int)
    chunks = [list(histories[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    # spawn, not fork: the parent may hold torch's and Dagster's threads.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_fit, chunks, [h] * workers, [name] * workers, [season] * workers))
    merged = BaselineForecast(name, {k: np.concatenate([p.forecast[k] for p in parts]) for k in parts[0].forecast})
    for start, part in zip(bounds[:-1], parts, strict=True):
        merged.fallbacks.extend(int(start) + i for i in part.fallbacks)
        merged.errors.update({int(start) + i: e for i, e in part.errors.items()})
    return merged


def _quantiles_from_levels(fitted: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Central intervals at 20/40/60/80 % as the 0.1 … 0.9 quantiles (the median is the
    mean for these models' symmetric intervals)."""
    out = {"p50": np.asarray(fitted["mean"])}
    for level in _LEVELS:
        low, high = round(50 - level / 2), round(50 + level / 2)
        out[f"p{low}"] = np.asarray(fitted[f"lo-{level}"])
        out[f"p{high}"] = np.asarray(fitted[f"hi-{level}"])
    return out
