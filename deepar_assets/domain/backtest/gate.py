"""The gate: a model is published only if it beats seasonal naive on the validation window
(the last ``h`` periods up to T, which no trial has seen), on the gate metric: WMAE, the MAE
weighted by the spec's period weights (plain MAE when the spec declares none)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deepar_assets.domain.backtest.baselines import SEASONAL_NAIVE
from deepar_assets.domain.backtest.scores import GATE_METRIC
from deepar_assets.domain.encoding import Encoding
from deepar_assets.domain.forecasting.keys import dataset_spec


@dataclass(frozen=True)
class GateOutcome:
    passed: bool
    description: str
    figures: dict[str, Any]


def weighting(encoding: Encoding) -> str:
    """What the gate metric weighs, in words, from the spec the encoding records."""
    spec = dataset_spec(encoding)
    weights = spec.evaluation.weights if spec is not None else None
    if weights is None:
        return f"{GATE_METRIC} = MAE: the spec declares no period weights"
    return f"{GATE_METRIC}: periods where {weights.column} is true weigh {weights.weight:g}"


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
    return compare(
        model_id,
        {k: float(v) for k, v in mine.items()},
        {k: float(v) for k, v in naive.items()},
        evaluation.get("scored_on", "the validation window"),
        metric,
    )


def compare(
    model_id: str, mine: Mapping[str, float], naive: Mapping[str, float], window: str, metric: str = GATE_METRIC
) -> GateOutcome:
    ours, theirs = mine[metric], naive[metric]
    figures: dict[str, Any] = {"model_id": model_id, "gate_metric": metric}
    for name in sorted(set(mine) & set(naive)):
        figures[f"model {name}"] = mine[name]
        figures[f"seasonal_naive {name}"] = naive[name]
    if not (math.isfinite(ours) and math.isfinite(theirs)):
        return GateOutcome(
            False, f"model {model_id}: {metric} is not finite (model {ours}, seasonal naive {theirs})", figures
        )
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
