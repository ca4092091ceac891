"""The whole selection: the windows each target needs, every candidate's forecast of them, and
the weights of the validation window (which the gate scores) and of the published horizon."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import FIELD_CAT, FIELD_START, FIELD_TARGET, QUANTILES
from deepar_assets.domain import metrics
from deepar_assets.domain.backtest.scores import DEEPAR
from deepar_assets.domain.combination.origins import SEASONAL_CANDIDATES, SelectionPlan, plan
from deepar_assets.domain.combination.weights import CUTOFFS, POWERS, Choice, SelectionWindow, choose, loss_parts
from deepar_assets.domain.combination.windows import PastWindows, Records, WindowResult
from deepar_assets.domain.encoding import Encoding
from deepar_assets.domain.spec import periods as P
from deepar_assets.errors import TrainingError

VALIDATION_TARGET = "validation"  # the window the gate scores: the last h periods up to T
HORIZON_TARGET = "horizon"  # the published forecast: the h periods after T


@dataclass
class Selection:
    """What chose the combination, for the validation window and for the published horizon."""

    candidates: list[str]
    plans: dict[str, SelectionPlan]  # target → its windows
    choices: dict[str, Choice]  # target → level and (series, candidates) weights
    window_scores: pd.DataFrame  # one row per (window, candidate): its loss on the window
    fallbacks: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # window → candidate → reasons


def special_periods(records: Sequence[dict[str, Any]], h: int, encoding: Encoding) -> tuple[int, np.ndarray]:
    """(periods of the longest record, per period up to h after its end whether it weighs more
    than 1 in WMAE: the spec's declared special periods)."""
    longest = max(records, key=lambda r: len(r[FIELD_TARGET]))
    n = len(longest[FIELD_TARGET])
    dates = pd.date_range(pd.Timestamp(longest[FIELD_START]), periods=n + h, freq=P.normalize(encoding.freq))
    return n, np.asarray(encoding.period_weights(dates), dtype=np.float64) > 1


def segmentations(records: Sequence[dict[str, Any]], encoding: Encoding) -> dict[str, np.ndarray]:
    """Each categorical attribute or id with more than one value and fewer values than series:
    its code per record."""
    cats = np.asarray([r[FIELD_CAT] for r in records], dtype=np.int64).reshape(len(records), -1)
    out = {}
    for k, name in enumerate(encoding.cat_names):
        values = np.unique(cats[:, k])
        if 1 < len(values) < len(records):
            out[name] = cats[:, k]
    return out


def selection_plans(
    records: Sequence[dict[str, Any]],
    h: int,
    encoding: Encoding,
    rolling: int = 3,
    targets: Sequence[str] = (VALIDATION_TARGET, HORIZON_TARGET),
) -> dict[str, SelectionPlan]:
    """Each target's windows (see :func:`plan`), for ``records`` that end at T."""
    season = int(encoding.season_length)
    n_history, special = special_periods(records, h, encoding)
    target_drops = {VALIDATION_TARGET: 0, HORIZON_TARGET: -h}
    return {t: plan(target_drops[t], n_history, h, season, special, rolling, season + h) for t in targets}


def select(
    records: Sequence[dict[str, Any]],
    h: int,
    encoding: Encoding,
    candidates: Sequence[str],
    deepar_for: Callable[[int], Callable[[Records], dict[str, np.ndarray]]] | None,
    rolling: int = 3,
    shrinkage: float = 2.0,
    cutoffs: Sequence[float] = CUTOFFS,
    workers: int = 1,
    log: Callable[[str], Any] = print,
    windows: Callable[[int], WindowResult] | None = None,
    targets: Sequence[str] = (VALIDATION_TARGET, HORIZON_TARGET),
) -> Selection:
    """Choose the combination of ``candidates`` for the validation window and the horizon after
    T, on windows that end at T - h or earlier only (``records``: the validation channel, every
    series up to T). ``deepar_for(drop)`` gives the DeepAR forecaster of the window ending
    ``drop`` periods before T, trained on the history before that window. ``windows(drop)``,
    when given, supplies every candidate's forecast of a window instead (see
    :class:`PastWindows`, shared by the selections of several origins); ``targets`` limits
    the selection to some of the two targets."""
    plans = selection_plans(records, h, encoding, rolling, targets)
    drops = sorted(set().union(*(p.drops for p in plans.values())))
    if windows is None:
        past = PastWindows(records, h, encoding, candidates, deepar_for, workers, log)
        past.prepare(drops)
        windows = past.window
    chosen_windows: dict[int, SelectionWindow] = {}
    fallbacks: dict[str, dict[str, dict[str, int]]] = {}
    rows = []
    for drop in drops:
        window, fell = windows(drop)
        chosen_windows[drop] = window
        if fell:
            fallbacks[str(drop)] = fell
        present = window.present
        for name in candidates:
            forecast = {k: v[present] for k, v in window.forecasts[name].items()}
            actual, weights = window.actual[present], window.weights[present]
            num, den = loss_parts(actual, forecast, weights)
            rows.append(
                {
                    "window_drop": drop,
                    "candidate": name,
                    "series": int(present.sum()),
                    "loss": float(num.sum() / den.sum()) if den.sum() > 0 else np.nan,
                    **_metrics(actual, forecast, weights),
                }
            )
    segments = segmentations(records, encoding)
    choices = {}
    for target, target_plan in plans.items():
        allowed = np.asarray(
            [(not target_plan.seasonal_only) or name in SEASONAL_CANDIDATES for name in candidates], dtype=bool
        )
        if not allowed.any():
            allowed[:] = True
        chosen = [scored_as_target(chosen_windows[d], target_plan, h) for d in target_plan.drops]
        # Windows that hold none of the target's special periods show how the seasonal candidates
        # do on ordinary periods, not in the event: they choose the level, but not a sharp
        # winner, which would rest on event-free windows alone; the weights stay 1/loss².
        powers = POWERS[:1] if target_plan.seasonal_only else POWERS
        choices[target] = (
            choose(chosen, candidates, segments, allowed, shrinkage, cutoffs, powers)
            if chosen
            else _only_deepar(candidates, len(records))
        )
    return Selection(list(candidates), plans, choices, pd.DataFrame(rows), fallbacks)


def scored_as_target(window: SelectionWindow, target_plan: SelectionPlan, h: int) -> SelectionWindow:
    """``window`` with its periods weighted as the target's periods at the same season position
    are (see :mod:`.origins`, rule 3): a declared weight above 1 counts only where the target
    holds a special period at that position; elsewhere the period weighs 1."""
    keep = target_plan.keeps_weight(window.drop, h)
    weights = np.where(keep[None, :] | (window.weights <= 1.0), window.weights, 1.0)
    return window if np.array_equal(weights, window.weights) else replace(window, weights=weights)


def _only_deepar(candidates: Sequence[str], n: int) -> Choice:
    """No window to choose on: DeepAR alone (or the first candidate)."""
    weights = np.zeros((n, len(candidates)))
    weights[:, list(candidates).index(DEEPAR) if DEEPAR in candidates else 0] = 1.0
    return Choice("none", weights, {}, 1.0)


def _metrics(actual: np.ndarray, forecast: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, float]:
    """WMAE and mean wQuantileLoss of one candidate on one window (NaN where undefined)."""
    out = {}
    for name, compute in (
        ("WMAE", lambda: metrics.wmae(actual, forecast["mean"], weights)),
        (
            "mean_wQuantileLoss",
            lambda: metrics.mean_weighted_quantile_loss(actual, {q: forecast[f"p{round(q * 100)}"] for q in QUANTILES}),
        ),
    ):
        try:
            out[name] = float(compute())
        except TrainingError:
            out[name] = float("nan")
    return out
