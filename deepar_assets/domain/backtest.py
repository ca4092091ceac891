"""Backtests: DeepAR against baselines on held-out windows, overall and broken down, the series
where DeepAR loses, and the gate a model must pass before anything publishes it.

Plain functions over arrays (n_series, h); no Dagster, no engine. A forecast is a mapping with
``mean`` and, where the model gives an interval, ``p10`` … ``p90``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import QUANTILES
from deepar_assets.domain import metrics
from deepar_assets.domain.baselines import seasonal_naive
from deepar_assets.errors import ConfigurationError, TrainingError

SEASONAL_NAIVE = "seasonal_naive"
DEEPAR = "DeepAR"
METRICS = ("WMAE", "mean_wQuantileLoss", "RMSE", "MASE", "coverage_80")
# Statistical baselines from statsforecast (Nixtla), one model per series. Seasonal ETS with a
# 52-week season exists there but takes ~0.2 s per series (~12 min on the Kaggle data's 3,331
# series), so AutoETS runs without a season; MSTL removes the 52-week season and forecasts the
# rest with AutoETS; AutoTheta tests for seasonality itself.
STATISTICAL_BASELINES = ("AutoETS", "MSTL", "AutoTheta")
BASELINES = (SEASONAL_NAIVE, *STATISTICAL_BASELINES)
_LEVELS = (20, 40, 60, 80)
# The gate: the metric a model must beat seasonal naive on (the competition's metric).
GATE_METRIC = "WMAE"


def quantile_keys() -> list[str]:
    return [f"p{round(q * 100)}" for q in QUANTILES]


# -- baselines ----------------------------------------------------------------------------------
def fill_history(history: np.ndarray) -> np.ndarray:
    """Statistical models take no gaps: missing weeks inside a series are interpolated
    linearly, trailing ones carried forward; leading ones are dropped."""
    series = pd.Series(np.asarray(history, dtype=np.float64))
    observed = np.flatnonzero(series.notna().to_numpy())
    if not len(observed):
        raise TrainingError("a baseline needs at least one observed week of history")
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
    errors: dict[int, str] = field(default_factory=dict)


PARALLEL_FROM = 200  # series: below this, worker processes cost more than they save


def baseline_forecasts(histories: Sequence[np.ndarray], h: int, name: str, season: int = 52, workers: int = 1) -> BaselineForecast:
    """One baseline for every series. Seasonal naive gives a point forecast (every quantile is
    the point); statistical models give mean and quantiles from their prediction intervals. A
    series a statistical model cannot fit (too short, degenerate) gets seasonal naive instead,
    and is listed in ``fallbacks``. ``workers`` > 1 fits the series in that many processes
    (one model per series either way, so the result is the same)."""
    if name not in BASELINES:
        raise ConfigurationError(f"baseline {name!r}: choose from {list(BASELINES)}")
    n = len(histories)
    if workers > 1 and name != SEASONAL_NAIVE and n >= PARALLEL_FROM:
        return _in_processes(histories, h, name, season, workers)
    naive = np.stack([seasonal_naive(history, h, season) for history in histories]) if n else np.zeros((0, h))
    if name == SEASONAL_NAIVE:
        return BaselineForecast(name, {"mean": naive, **{k: naive for k in quantile_keys()}})
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


def _in_processes(histories: Sequence[np.ndarray], h: int, name: str, season: int, workers: int) -> BaselineForecast:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    bounds = np.linspace(0, len(histories), workers + 1).astype(int)
    chunks = [list(histories[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    # spawn, not fork: the parent may hold torch's and Dagster's threads.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(baseline_forecasts, chunks, [h] * workers, [name] * workers, [season] * workers))
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


# -- scores -------------------------------------------------------------------------------------
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
    actual: np.ndarray, forecast: Mapping[str, np.ndarray], holiday: np.ndarray, histories: Sequence[np.ndarray]
) -> dict[str, float]:
    """WMAE (holiday weeks × 5), mean wQuantileLoss, RMSE, MASE, and the coverage of the 80 %
    interval (p10..p90; NaN for a point forecast). A metric that is undefined on these rows
    (every actual 0, no usable in-sample error) is NaN."""
    point = forecast["mean"]
    quantiles = {tau: forecast.get(f"p{round(tau * 100)}", point) for tau in QUANTILES}
    values: dict[str, float] = {}
    for name, fn in (
        ("WMAE", lambda: metrics.wmae(actual, point, holiday)),
        ("mean_wQuantileLoss", lambda: metrics.mean_weighted_quantile_loss(actual, quantiles)),
        ("RMSE", lambda: metrics.rmse(actual, point)),
        ("MASE", lambda: metrics.mase(actual, point, list(histories))),
        ("coverage_80", lambda: coverage(actual, forecast["p10"], forecast["p90"]) if has_interval(forecast) else math.nan),
    ):
        try:
            values[name] = float(fn())
        except TrainingError:
            values[name] = math.nan
    return values


def per_series_wmae(actual: np.ndarray, point: np.ndarray, holiday: np.ndarray, weight: float = 5.0) -> np.ndarray:
    """Each series' WMAE (NaN where it has no observed week)."""
    actual = np.asarray(actual, dtype=np.float64)
    weights = np.where(np.asarray(holiday, dtype=bool), weight, 1.0)
    mask = ~np.isnan(actual)
    errors = np.where(mask, np.abs(actual - np.asarray(point, dtype=np.float64)), 0.0)
    total = np.where(mask, weights, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, (weights * errors).sum(axis=1) / total, np.nan)


@dataclass
class Window:
    """The forecasts of every model over the same (series, week) points of one or more
    origins, stacked along the series axis."""

    keys: pd.DataFrame  # Store, Dept, Type per row
    origins: np.ndarray  # (rows,) the origin (last week before the window) of each row, YYYY-MM-DD
    actual: np.ndarray
    holiday: np.ndarray
    histories: list[np.ndarray]
    forecasts: dict[str, dict[str, np.ndarray]]  # model → mean/quantiles

    def rows(self, mask: np.ndarray) -> Window:
        idx = np.flatnonzero(mask)
        return Window(
            keys=self.keys.iloc[idx].reset_index(drop=True),
            origins=self.origins[idx],
            actual=self.actual[idx],
            holiday=self.holiday[idx],
            histories=[self.histories[i] for i in idx],
            forecasts={m: {k: v[idx] for k, v in f.items()} for m, f in self.forecasts.items()},
        )

    @staticmethod
    def stack(windows: Sequence[Window]) -> Window:
        if not windows:
            raise TrainingError("no backtest window to stack")
        models = list(windows[0].forecasts)
        return Window(
            keys=pd.concat([w.keys for w in windows], ignore_index=True),
            origins=np.concatenate([w.origins for w in windows]),
            actual=np.concatenate([w.actual for w in windows]),
            holiday=np.concatenate([w.holiday for w in windows]),
            histories=[h for w in windows for h in w.histories],
            forecasts={
                m: {k: np.concatenate([w.forecasts[m][k] for w in windows]) for k in windows[0].forecasts[m]} for m in models
            },
        )

    def scores(self) -> pd.DataFrame:
        """One row per model, one column per metric."""
        return pd.DataFrame(
            [{"model": m, **score(self.actual, f, self.holiday, self.histories)} for m, f in self.forecasts.items()]
        ).set_index("model")


def breakdown(window: Window, by: str, metric: str = GATE_METRIC) -> pd.DataFrame:
    """Every model's ``metric`` per value of a key column (Type, Dept, Store), with the series
    count, the best model of the group and DeepAR's margin over the best baseline."""
    records = []
    for value in sorted(window.keys[by].unique().tolist(), key=lambda v: (str(type(v)), v)):
        part = window.rows((window.keys[by] == value).to_numpy())
        if np.isnan(part.actual).all():
            continue
        scores = part.scores()[metric]
        row = {by: value, "series": int(part.keys[["Store", "Dept"]].drop_duplicates().shape[0]), **scores.to_dict()}
        baselines = scores.drop(DEEPAR, errors="ignore").dropna()
        row["best"] = str(scores.dropna().idxmin()) if scores.notna().any() else ""
        if DEEPAR in scores and len(baselines):
            row["deepar_vs_best_baseline_pct"] = 100.0 * (scores[DEEPAR] - baselines.min()) / baselines.min() if baselines.min() else math.nan
        records.append(row)
    return pd.DataFrame(records)


def best_baseline(overall: pd.DataFrame, metric: str = GATE_METRIC) -> str:
    baselines = overall.drop(DEEPAR, errors="ignore")[metric].dropna()
    if baselines.empty:
        raise TrainingError(f"no baseline has a finite {metric}")
    return str(baselines.idxmin())


def losers(window: Window, baseline: str) -> pd.DataFrame:
    """Series where DeepAR's WMAE (over every origin) is worse than ``baseline``'s: Store,
    Dept, Type, both WMAEs and DeepAR's excess in %. Worst first."""
    deepar = per_series_wmae(window.actual, window.forecasts[DEEPAR]["mean"], window.holiday)
    other = per_series_wmae(window.actual, window.forecasts[baseline]["mean"], window.holiday)
    weights = (~np.isnan(window.actual)).sum(axis=1)
    frame = window.keys[["Store", "Dept", "Type"]].copy()
    frame["deepar_err"] = np.nan_to_num(deepar) * weights
    frame["baseline_err"] = np.nan_to_num(other) * weights
    frame["weeks"] = weights
    grouped = frame.groupby(["Store", "Dept", "Type"], as_index=False, sort=False).sum()
    grouped = grouped[grouped["weeks"] > 0]
    grouped["deepar_WMAE"] = grouped["deepar_err"] / grouped["weeks"]
    grouped[f"{baseline}_WMAE"] = grouped["baseline_err"] / grouped["weeks"]
    worse = grouped[grouped["deepar_WMAE"] > grouped[f"{baseline}_WMAE"]].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        worse["excess_pct"] = np.where(
            worse[f"{baseline}_WMAE"] > 0, 100.0 * (worse["deepar_WMAE"] / worse[f"{baseline}_WMAE"] - 1), np.inf
        )
    worse["excess"] = worse["deepar_WMAE"] - worse[f"{baseline}_WMAE"]
    columns = ["Store", "Dept", "Type", "deepar_WMAE", f"{baseline}_WMAE", "excess_pct"]
    return worse.sort_values("excess", ascending=False)[columns].reset_index(drop=True)


# -- the gate -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateOutcome:
    passed: bool
    description: str
    figures: dict[str, Any]


def has_validation_scores(card: Mapping[str, Any], metric: str = GATE_METRIC) -> bool:
    scores = (card.get("evaluation") or {}).get("metrics") or {}
    return metric in (scores.get("model") or {}) and metric in (scores.get(SEASONAL_NAIVE) or {})


def gate(card: Mapping[str, Any], metric: str = GATE_METRIC) -> GateOutcome:
    """Does the model beat seasonal naive on the validation window (``metric``, lower is
    better, strictly)? Read from the model card's validation scores."""
    model_id = card.get("model_id", "?")
    evaluation = card.get("evaluation") or {}
    scores = evaluation.get("metrics") or {}
    mine, naive = scores.get("model") or {}, scores.get(SEASONAL_NAIVE) or {}
    if metric not in mine or metric not in naive:
        return GateOutcome(
            False,
            f"model {model_id} ({card.get('engine', '?')} engine) has no {metric} of its own and of seasonal naive on the "
            "validation window in its card, so it cannot be shown to beat seasonal naive; nothing downstream publishes it",
            {"model_id": model_id},
        )
    return compare(model_id, {k: float(v) for k, v in mine.items()}, {k: float(v) for k, v in naive.items()}, evaluation.get("scored_on", "the validation window"), metric)


def compare(model_id: str, mine: Mapping[str, float], naive: Mapping[str, float], window: str, metric: str = GATE_METRIC) -> GateOutcome:
    ours, theirs = mine[metric], naive[metric]
    figures: dict[str, Any] = {"model_id": model_id, "gate_metric": metric}
    for name in sorted(set(mine) & set(naive)):
        figures[f"model {name}"] = mine[name]
        figures[f"seasonal_naive {name}"] = naive[name]
    if not (math.isfinite(ours) and math.isfinite(theirs)):
        return GateOutcome(False, f"model {model_id}: {metric} is not finite (model {ours}, seasonal naive {theirs})", figures)
    margin = 100.0 * (ours - theirs) / theirs if theirs else math.inf
    figures["margin_pct"] = round(margin, 2) if math.isfinite(margin) else margin
    if ours < theirs:
        return GateOutcome(
            True,
            f"model {model_id} beats seasonal naive on {window}: {metric} {ours:,.4g} vs {theirs:,.4g} ({margin:+.1f} %)",
            figures,
        )
    return GateOutcome(
        False,
        f"model {model_id} does not beat seasonal naive on {window}: {metric} {ours:,.4g} vs seasonal naive's "
        f"{theirs:,.4g} ({margin:+.1f} %). forecasts, backtest_report and scenario_forecasts refuse this model; "
        "retrain with a larger search or budget, or keep publishing the previous model",
        figures,
    )


def window_histories(targets: Sequence[np.ndarray], h: int) -> list[np.ndarray]:
    """The history before each record's last ``h`` weeks."""
    return [np.asarray(t, dtype=np.float64)[:-h] for t in targets]


def check_forecasts(forecasts: Mapping[str, Mapping[str, np.ndarray]], shape: tuple[int, int]) -> None:
    for model, forecast in forecasts.items():
        for key, values in forecast.items():
            if np.shape(values) != shape:
                raise TrainingError(f"{model}'s forecast {key!r} has shape {np.shape(values)}; expected {shape} (series × weeks)")
