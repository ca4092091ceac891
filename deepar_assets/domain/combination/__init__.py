"""The published forecast as a combination of DeepAR and statistical candidates, chosen only on
past windows (plain functions; no Dagster, no engine).

- :mod:`.origins`: which past windows choose the combination of a target window (rolling
  windows before the validation window, the same window a season earlier for seasonal events),
  and when only the seasonal candidates may take part;
- :mod:`.windows`: every candidate's forecast of one past window, fitted before it;
- :mod:`.select`: the whole selection, for the validation window and the published horizon;
- :mod:`.rolling`: the combination re-chosen at earlier origins, for a rolling backtest;
- :mod:`.weights`: each candidate's loss on those windows, weights per series, segment or
  globally with shrinkage, the level chosen by leave-one-window-out, and the combination itself
  (quantile by quantile).
"""

from deepar_assets.domain.combination.origins import SEASONAL_CANDIDATES, SelectionPlan, plan
from deepar_assets.domain.combination.rolling import OriginCombination, rolling_combinations
from deepar_assets.domain.combination.select import (
    HORIZON_TARGET,
    VALIDATION_TARGET,
    Selection,
    scored_as_target,
    segmentations,
    select,
)
from deepar_assets.domain.combination.weights import (
    CUTOFFS,
    Choice,
    Scores,
    SelectionWindow,
    choose,
    combine,
    level_weights,
    loss_parts,
    widen,
    window_scores,
)
from deepar_assets.domain.combination.windows import CANDIDATES, PastWindows, candidate_window, rows_at

__all__ = [
    "CUTOFFS",
    "scored_as_target",
    "OriginCombination",
    "PastWindows",
    "rolling_combinations",
    "HORIZON_TARGET",
    "VALIDATION_TARGET",
    "Selection",
    "segmentations",
    "select",
    "CANDIDATES",
    "candidate_window",
    "rows_at",
    "SEASONAL_CANDIDATES",
    "Choice",
    "Scores",
    "SelectionPlan",
    "SelectionWindow",
    "choose",
    "combine",
    "level_weights",
    "loss_parts",
    "plan",
    "widen",
    "window_scores",
]
