"""What a backtest reports: scores broken down by every categorical attribute and every id
column, the best baseline, and the series where DeepAR loses to it.

A breakdown groups the window's rows by one column's value; each group is scored as a whole.
On a hierarchical dataset (e.g. aus_retail, where an industry group is the sum of its
subgroups) the aggregates are series of their own: a group by industry holds an aggregate or
its parts, never both, but the overall scores count both levels.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deepar_assets.domain.backtest.baselines import SEASONAL_NAIVE
from deepar_assets.domain.backtest.scores import DEEPAR, GATE_METRIC, per_series_wmae
from deepar_assets.domain.backtest.window import Window
from deepar_assets.errors import TrainingError


def breakdown(window: Window, by: str, metric: str = GATE_METRIC) -> pd.DataFrame:
    """Every model's ``metric`` per value of a key column (an attribute or an id), with the
    series count, the best model of the group and DeepAR's margin over the best baseline (%)."""
    records = []
    for value in sorted(window.keys[by].unique().tolist(), key=lambda v: (str(type(v)), v)):
        part = window.rows((window.keys[by] == value).to_numpy())
        if np.isnan(part.actual).all():
            continue
        scores = part.scores()[metric]
        row = {by: value, "series": part.series, **scores.to_dict()}
        baselines = scores.drop(DEEPAR, errors="ignore").dropna()
        row["best"] = str(scores.dropna().idxmin()) if scores.notna().any() else ""
        if DEEPAR in scores and len(baselines):
            best = baselines.min()
            row["deepar_vs_best_baseline_pct"] = 100.0 * (scores[DEEPAR] - best) / best if best else math.nan
        records.append(row)
    return pd.DataFrame(records)


def breakdown_columns(window: Window) -> list[str]:
    """The columns a backtest is broken down by: the categorical attributes, then the ids."""
    attributes = [c for c in window.keys.columns if c not in window.ids]
    return [*attributes, *window.ids]


def breakdowns(window: Window, metric: str = GATE_METRIC) -> dict[str, pd.DataFrame]:
    """:func:`breakdown` by each of :func:`breakdown_columns`."""
    return {column: breakdown(window, column, metric) for column in breakdown_columns(window)}


def by_origin(window: Window, metric: str = GATE_METRIC) -> pd.DataFrame:
    """Every model's scores at each origin: a row per (origin, model), with the series forecast
    there and ``metric`` as a multiple of seasonal naive's at the same origin."""
    rows = []
    for origin in sorted(set(window.origins.tolist())):
        part = window.rows(window.origins == origin)
        scores = part.scores()
        naive = float(scores.loc[SEASONAL_NAIVE, metric]) if SEASONAL_NAIVE in scores.index else math.nan
        for model, values in scores.iterrows():
            ratio = float(values[metric]) / naive if naive else math.nan
            rows.append(
                {
                    "origin": origin,
                    "model": model,
                    "series": part.series,
                    **values.to_dict(),
                    f"{metric}_vs_seasonal_naive": ratio,
                }
            )
    return pd.DataFrame(rows)


def best_baseline(overall: pd.DataFrame, metric: str = GATE_METRIC) -> str:
    baselines = overall.drop(DEEPAR, errors="ignore")[metric].dropna()
    if baselines.empty:
        raise TrainingError(f"no baseline has a finite {metric}")
    return str(baselines.idxmin())


def losers(window: Window, baseline: str) -> pd.DataFrame:
    """Series where DeepAR's WMAE (over every origin) is worse than ``baseline``'s: their ids
    and attributes, both WMAEs and DeepAR's excess in %. Worst first."""
    deepar = per_series_wmae(window.actual, window.forecasts[DEEPAR]["mean"], window.weights)
    other = per_series_wmae(window.actual, window.forecasts[baseline]["mean"], window.weights)
    observed = (~np.isnan(window.actual)).sum(axis=1)
    keys = list(window.keys.columns)
    frame = window.keys.copy()
    frame["deepar_err"] = np.nan_to_num(deepar) * observed
    frame["baseline_err"] = np.nan_to_num(other) * observed
    frame["periods"] = observed
    grouped = frame.groupby(keys, as_index=False, sort=False, dropna=False).sum()
    grouped = grouped[grouped["periods"] > 0]
    mine, theirs = f"deepar_{GATE_METRIC}", f"{baseline}_{GATE_METRIC}"
    grouped[mine] = grouped["deepar_err"] / grouped["periods"]
    grouped[theirs] = grouped["baseline_err"] / grouped["periods"]
    worse = grouped[grouped[mine] > grouped[theirs]].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        worse["excess_pct"] = np.where(worse[theirs] > 0, 100.0 * (worse[mine] / worse[theirs] - 1), np.inf)
    worse["excess"] = worse[mine] - worse[theirs]
    return worse.sort_values("excess", ascending=False)[[*keys, mine, theirs, "excess_pct"]].reset_index(drop=True)
