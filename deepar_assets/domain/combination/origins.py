"""Which past windows choose the combination of a target window, and which candidates may take
part.

Periods are counted as ``drop``: how many periods before T (the last observed period) a
window ends, as :func:`deepar_assets.domain.backtest.origin_records` cuts records. The
validation window ends at T (drop 0); the published forecast's horizon ends h periods after T
(drop −h).

The rule, for a target window (the validation window, or the published horizon):

1. **Rolling windows.** The ``rolling`` windows of h periods that end at the cutoff (T − h, the
   end of the test channel: nothing about the validation window chooses anything) and every h
   periods before it, as far as the history allows.
2. **Seasonal events.** When the target window holds declared special periods (the spec's
   weights, e.g. Walmart's holiday weeks) at positions in the season that no rolling window
   holds (Thanksgiving and Christmas when the rolling windows cover February to October), the
   same window one season earlier is added (and two seasons earlier where the history allows),
   so that the choice also rests on how each candidate did on those events.
3. **Scored as the target will be.** A past window's periods weigh in the loss as the target's
   periods at the same season position do: a declared special period keeps its weight (Walmart's
   holiday weeks weigh 5 in WMAE) only where the target holds a special period at that position,
   and weighs 1 elsewhere. Thanksgiving weighs 5 in a window that chooses for a horizon holding
   Thanksgiving, and 1 in one that chooses for a summer: the few special weeks of a past window
   otherwise outweigh its ordinary ones and decide, for a target that holds none of them.
4. **No such history.** When the target window needs such a window and the history is too short
   for one, only the candidates that carry the season explicitly (seasonal naive, MSTL,
   AutoTheta) take part: they copy or model last season's event; learned models that never saw
   it with a season of history behind them are the ones that fail there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

SEASONAL_CANDIDATES = ("seasonal_naive", "MSTL", "AutoTheta")


@dataclass(frozen=True)
class SelectionPlan:
    """The windows (by drop) that choose the combination for one target window, and why."""

    target_drop: int  # the target window ends this many periods before T (negative: after T)
    rolling: list[int] = field(default_factory=list)
    seasonal: list[int] = field(default_factory=list)
    seasonal_only: bool = False  # rule 4: only SEASONAL_CANDIDATES take part
    uncovered: list[int] = field(default_factory=list)  # season positions of special periods no rolling window holds
    reason: str = ""
    positions: list[int] = field(default_factory=list)  # season positions of the target's special periods (rule 3)
    season: int = 0
    n_history: int = 0  # periods of the longest series up to T

    def keeps_weight(self, drop: int, h: int) -> np.ndarray:
        """(h,) per period of the window ending ``drop`` periods before T, whether its declared
        weight counts in the loss (rule 3): only at the season positions of the target's special
        periods."""
        positions = set(self.positions)
        periods = _window_periods(self.n_history, drop, h)
        return np.asarray([self.season > 0 and (p % self.season) in positions for p in periods])

    @property
    def drops(self) -> list[int]:
        return sorted(set(self.rolling) | set(self.seasonal))


def _window_periods(n_history: int, drop: int, h: int) -> range:
    """Indexes (from the first history period) of the h periods of the window that ends
    ``drop`` periods before T."""
    return range(n_history - drop - h, n_history - drop)


def _positions(special: np.ndarray, season: int, drop: int, n_history: int, h: int) -> set[int]:
    """Season positions (period index mod season) of the special periods in the window that
    ends ``drop`` periods before T. ``special`` holds one flag per period, from the first
    history period to h periods after T."""
    return {int(p) % season for p in _window_periods(n_history, drop, h) if 0 <= p < len(special) and special[p]}


def plan(
    target_drop: int,
    n_history: int,
    h: int,
    season: int,
    special: np.ndarray,
    rolling: int,
    min_history: int,
) -> SelectionPlan:
    """The selection windows for the target window ending ``target_drop`` periods before T.

    ``special``: per period (the history's, then h past T) whether it is declared special
    (weight > 1). ``rolling``: how many rolling windows at most. ``min_history``: the periods a
    window needs before it (for the candidates to fit)."""
    cutoff = h  # the test channel's end: windows end at T - h or earlier
    usable = lambda drop: n_history - drop - h >= min_history  # noqa: E731
    rolling_drops = [cutoff + k * h for k in range(rolling) if usable(cutoff + k * h)]
    target = _positions(special, season, target_drop, n_history, h)
    held: set[int] = set()
    for drop in rolling_drops:
        held |= _positions(special, season, drop, n_history, h)
    uncovered = sorted(target - held)
    rolling_only = SelectionPlan(
        target_drop, rolling_drops, positions=sorted(target), season=season, n_history=n_history
    )
    if not uncovered:
        return replace(
            rolling_only,
            reason=(
                f"{len(rolling_drops)} rolling window(s) of {h} periods up to T - {h}"
                + ("; they hold the target's special periods" if target else "; the target holds no special period")
            ),
        )
    seasonal = [
        target_drop + k * season
        for k in (1, 2)
        if target_drop + k * season >= cutoff and usable(target_drop + k * season)
    ]
    if seasonal:
        return replace(
            rolling_only,
            seasonal=seasonal,
            uncovered=uncovered,
            reason=(
                f"the target holds special periods (season positions {uncovered}) that no rolling window holds: "
                f"the same window {len(seasonal)} season(s) earlier is added"
            ),
        )
    return replace(
        rolling_only,
        seasonal_only=True,
        uncovered=uncovered,
        reason=(
            f"the target holds special periods (season positions {uncovered}) that no rolling window holds, and the "
            "history is too short for the same window a season earlier: only the candidates that carry the season "
            f"({', '.join(SEASONAL_CANDIDATES)}) take part"
        ),
    )
