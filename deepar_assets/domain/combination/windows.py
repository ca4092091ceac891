"""Every candidate's forecast of one window, on the rows of all the series of a channel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from deepar_assets.constants import FIELD_TARGET
from deepar_assets.domain.backtest.baselines import BASELINES, baseline_forecasts, quantile_keys
from deepar_assets.domain.backtest.scores import DEEPAR
from deepar_assets.domain.backtest.window import (
    cut_record,
    rows_at,
    window_histories,
    window_periods,
    window_weights,
)
from deepar_assets.domain.combination.weights import SelectionWindow
from deepar_assets.domain.encoding import Encoding
from deepar_assets.errors import ConfigurationError

CANDIDATES = (DEEPAR, *BASELINES)
Records = list[dict[str, Any]]


def candidate_window(
    records: Sequence[dict[str, Any]],
    drop: int,
    h: int,
    encoding: Encoding,
    candidates: Sequence[str],
    deepar: Callable[[Records], dict[str, np.ndarray]] | None,
    workers: int = 1,
) -> tuple[SelectionWindow, dict[str, dict[str, int]]]:
    """Each candidate's forecast of the ``h`` periods that end ``drop`` periods before the end
    of ``records`` (a channel: every series up to the same last period), each fitted on the
    history before the window only. ``deepar(cut records)`` forecasts the last h points of the
    records it is given, with a model trained before the window. Returns the window and, per
    statistical candidate, why series fell back to seasonal naive (reason → series)."""
    unknown = [c for c in candidates if c not in CANDIDATES]
    if unknown:
        raise ConfigurationError(f"combination candidates: unknown {unknown}; choose from {list(CANDIDATES)}")
    n = len(records)
    rows = rows_at(records, drop, h)
    cut = [cut_record(records[i], drop) for i in rows]
    targets = [np.asarray(r[FIELD_TARGET], dtype=np.float64) for r in cut]
    histories = window_histories(targets, h)
    actual = np.full((n, h), np.nan)
    weights = np.ones((n, h))
    if len(rows):
        actual[rows] = np.stack([t[-h:] for t in targets])
        weights[rows] = window_weights(window_periods(cut, h, encoding.freq), encoding, h)
    forecasts: dict[str, dict[str, np.ndarray]] = {}
    fallbacks: dict[str, dict[str, int]] = {}
    reasons: dict[str, np.ndarray] = {}
    for name in candidates:
        if name == DEEPAR:
            if deepar is None:
                raise ConfigurationError("the DeepAR candidate needs a forecaster for this window")
            fitted = deepar(cut) if len(rows) else {}
        else:
            result = baseline_forecasts(histories, h, name, int(encoding.season_length), workers=workers)
            fitted = result.forecast
            if result.fallbacks:
                fallbacks[name] = result.reason_counts()
            reasons[name] = np.full(n, "", dtype=object)
            reasons[name][rows] = result.fallback_reasons(len(rows))
        full = {}
        for key in ("mean", *quantile_keys()):
            values = np.full((n, h), np.nan)
            if len(rows):
                values[rows] = np.asarray(fitted.get(key, fitted["mean"]), dtype=np.float64)
            full[key] = values
        forecasts[name] = full
    present = np.zeros(n, dtype=bool)
    present[rows] = True
    return SelectionWindow(drop, actual, weights, forecasts, present, reasons), fallbacks


WindowResult = tuple[SelectionWindow, dict[str, dict[str, int]]]


@dataclass
class PastWindows:
    """Every candidate's forecast of the windows of one channel, by ``drop`` (how many periods
    before the channel's end each window ends), fitted once and shared by the selections of
    several origins. A window's forecasts depend on that window only: every candidate is
    fitted on the history before it, whichever origin's selection asks for it."""

    records: Sequence[dict[str, Any]]
    h: int
    encoding: Encoding
    candidates: Sequence[str]
    deepar_for: Callable[[int], Callable[[Records], dict[str, np.ndarray]]] | None
    workers: int = 1
    log: Callable[[str], Any] = print
    _done: dict[int, WindowResult] = field(default_factory=dict, repr=False)

    def window(self, drop: int) -> WindowResult:
        if drop not in self._done:
            self.log(f"window ending {drop} periods before T: forecasting it with {', '.join(self.candidates)}")
            deepar = self.deepar_for(drop) if self.deepar_for is not None and DEEPAR in self.candidates else None
            self._done[drop] = candidate_window(
                self.records, drop, self.h, self.encoding, self.candidates, deepar, self.workers
            )
        return self._done[drop]

    def prepare(self, drops: Sequence[int]) -> None:
        """Train what the windows ending ``drops`` periods before the end will need, before any
        is forecast: where ``deepar_for`` has ``prefit(cut records by drop)``, DeepAR's refits
        before all of them at once (they are independent, and train side by side)."""
        prefit = getattr(self.deepar_for, "prefit", None)
        if prefit is None or DEEPAR not in self.candidates:
            return
        cuts = {
            drop: [cut_record(self.records[i], drop) for i in rows_at(self.records, drop, self.h)]
            for drop in sorted(set(drops))
            if drop not in self._done
        }
        prefit({drop: cut for drop, cut in cuts.items() if cut})

    def seen_from(self, origin: int) -> Callable[[int], WindowResult]:
        """The windows as a selection at ``origin`` periods before the end sees them: its
        window ending ``drop`` periods before its own end is this channel's ``origin + drop``
        (``records`` cut with :func:`cut_record` at ``origin``, row for row)."""

        def window(drop: int) -> WindowResult:
            found, fell = self.window(origin + drop)
            return replace(found, drop=drop), fell

        return window
