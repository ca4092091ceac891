"""The combination re-chosen at earlier origins, for a rolling backtest: at each origin the
selection sees only the history before it, as the published one sees only the history
before the validation window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepar_assets.domain.backtest.window import cut_record
from deepar_assets.domain.combination.select import VALIDATION_TARGET, Selection, select, selection_plans
from deepar_assets.domain.combination.weights import CUTOFFS, SelectionWindow, combine, widen
from deepar_assets.domain.combination.windows import PastWindows, Records
from deepar_assets.domain.encoding import Encoding


@dataclass
class OriginCombination:
    """The combination chosen for the window that ends ``drop`` periods before T."""

    drop: int
    selection: Selection  # chosen on windows ending at T - drop - h or earlier
    window: SelectionWindow  # every candidate's forecast of this origin's window (rows of the channel)
    rows: np.ndarray  # the channel's rows forecast there
    forecast: dict[str, np.ndarray]  # the combination's mean and quantiles on those rows

    @property
    def level(self) -> str:
        return self.selection.choices[VALIDATION_TARGET].level

    def mean_weights(self) -> dict[str, float]:
        weights = self.selection.choices[VALIDATION_TARGET].weights[self.rows]
        return {name: float(weights[:, c].mean()) for c, name in enumerate(self.selection.candidates)}


def rolling_combinations(
    records: Sequence[dict[str, Any]],
    h: int,
    encoding: Encoding,
    candidates: Sequence[str],
    deepar_for: Callable[[int], Callable[[Records], dict[str, np.ndarray]]] | None,
    drops: Sequence[int],
    rolling: int = 3,
    shrinkage: float = 2.0,
    cutoffs: Sequence[float] = CUTOFFS,
    workers: int = 1,
    log: Callable[[str], Any] = print,
) -> list[OriginCombination]:
    """For every window ending ``drop`` periods before T (``records``: the validation channel,
    every series up to T), the combination of ``candidates`` chosen as :func:`select` chooses
    the validation window's, on the records cut at that window's end: only windows that end h
    periods before it or earlier. Windows shared between origins are forecast once;
    ``deepar_for(drop)`` gives DeepAR's forecaster of the window ending ``drop`` periods
    before T, trained on the history before that window."""
    windows = PastWindows(records, h, encoding, candidates, deepar_for, workers, log)
    seen_at = {drop: [cut_record(r, drop) for r in records] for drop in drops}  # the history each origin sees
    needed = set(drops)  # every origin's own window, and the windows its selection scores
    for drop, seen in seen_at.items():
        for origin_plan in selection_plans(seen, h, encoding, rolling, (VALIDATION_TARGET,)).values():
            needed.update(drop + d for d in origin_plan.drops)
    windows.prepare(sorted(needed))
    out = []
    for drop in drops:
        log(f"origin {drop} periods before the validation window's end: choosing its combination")
        selection = select(
            seen_at[drop],
            h,
            encoding,
            candidates,
            None,
            rolling,
            shrinkage,
            cutoffs,
            workers,
            log,
            windows=windows.seen_from(drop),
            targets=(VALIDATION_TARGET,),
        )
        window, _ = windows.window(drop)
        rows = np.flatnonzero(window.present)
        choice = selection.choices[VALIDATION_TARGET]
        forecast = widen(combine(window.forecasts, candidates, choice.weights, rows), choice.band_scale)
        out.append(OriginCombination(drop, selection, window, rows, forecast))
    return out
