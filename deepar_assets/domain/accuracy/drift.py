"""Drift: recent accuracy against what the backtest expected, per horizon step and per group
of series.

The judged metric is WMAE (the gate's: the spec's period weights, plain MAE without). For
each scored point the backtest of the vintage's model gives two expectations: its WMAE at that
horizon step (``expected_by_horizon``: model, horizon, WMAE) and, where the series was in the
backtest, the series' own WMAE (``expected_by_series``: model, the keys, WMAE). Recent points
are those of the last ``recent_periods`` target periods with actuals. A horizon step is
degraded when its recent WMAE exceeds the expected WMAE of the same points (each point's
expectation weighted as the point is) by more than ``tolerance``; a group of series (a value of
an id column or attribute) likewise, from the series' own expectations. Points whose model has
no backtest are counted and left out of the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deepar_assets.domain.accuracy.scores import PARTS, metrics_of, point_errors
from deepar_assets.errors import ConfigurationError


@dataclass(frozen=True)
class DriftRule:
    tolerance: float = 0.25  # degraded above (1 + tolerance) × the expected WMAE
    recent_periods: int = 4  # the last k target periods with actuals

    def __post_init__(self):
        if not (np.isfinite(self.tolerance) and self.tolerance >= 0):
            raise ConfigurationError(f"drift tolerance must be a number of 0 or more, got {self.tolerance}")
        if self.recent_periods < 1:
            raise ConfigurationError(f"drift recent_periods must be 1 or more, got {self.recent_periods}")


@dataclass
class DriftVerdict:
    passed: bool
    judged: bool  # False: nothing to compare (no actuals yet, or no backtest for these models)
    description: str
    recent_periods: list[str]
    horizons: pd.DataFrame  # horizon, points, recent WMAE, expected WMAE, ratio, degraded
    groups: pd.DataFrame  # column, value, series, recent, expected, ratio (degraded ones, worst first)
    unexpected_points: int = 0  # recent points whose model has no backtest
    degraded_horizons: list[int] = field(default_factory=list)

    @property
    def degraded(self) -> bool:
        return self.judged and not self.passed


def _recent(rows: pd.DataFrame, time: str, k: int) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    observed = rows.loc[rows["actual"].notna(), time]
    last = sorted(pd.DatetimeIndex(observed.unique()))[-k:]
    return rows[rows[time].isin(last)], last


def _with_expectations(
    parts: pd.DataFrame, by_horizon: pd.DataFrame, by_series: pd.DataFrame | None, keys: Sequence[str]
) -> pd.DataFrame:
    horizon = by_horizon[["model_id", "horizon", "WMAE"]].rename(columns={"WMAE": "expected_horizon"})
    out = parts.merge(horizon, on=["model_id", "horizon"], how="left")
    if by_series is not None and len(by_series):
        series = by_series[["model_id", *keys, "WMAE"]].rename(columns={"WMAE": "expected_series"})
        text = {c: series[c].astype(str) for c in keys}
        series = series.assign(**{f"_k_{c}": v for c, v in text.items()}).drop(columns=list(keys))
        out = out.assign(**{f"_k_{c}": out[c].astype(str) for c in keys})
        out = out.merge(series, on=["model_id", *[f"_k_{c}" for c in keys]], how="left")
        out = out.drop(columns=[f"_k_{c}" for c in keys])
    else:
        out["expected_series"] = np.nan
    return out


def _ratio(recent: pd.Series, expected: pd.Series) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, recent / expected, np.where(recent > 0, np.inf, 1.0))


def drift_verdict(
    rows: pd.DataFrame,
    expected_by_horizon: pd.DataFrame,
    expected_by_series: pd.DataFrame | None,
    time: str,
    keys: Sequence[str],
    groups: Sequence[str],
    rule: DriftRule,
    listed: int = 5,
) -> DriftVerdict:
    """The verdict on scored ``rows`` (with ``model_id``, ``horizon`` and the keys) against the
    backtest's expectations. ``groups``: the columns whose values are judged as groups of
    series (attributes and ids)."""
    empty = pd.DataFrame()
    if rows.empty:
        return DriftVerdict(True, False, "nothing to judge yet: no published forecast has actuals", [], empty, empty)
    recent, last = _recent(rows, time, rule.recent_periods)
    labels = [pd.Timestamp(t).strftime("%Y-%m-%d") for t in last]
    parts = _with_expectations(point_errors(recent), expected_by_horizon, expected_by_series, keys)
    unexpected = int(parts["expected_horizon"].isna().sum())
    judged = parts[parts["expected_horizon"].notna()]
    if judged.empty:
        models = sorted(parts["model_id"].unique())
        return DriftVerdict(
            True,
            False,
            f"cannot judge: no backtest expectation for model(s) {models}; materialize backtest_report for them",
            labels,
            empty,
            empty,
            unexpected,
        )
    judged = judged.assign(expected_weighted=judged["weight"] * judged["expected_horizon"])
    per_h = judged.groupby("horizon")[["points", "weight", "abs_error_weighted", "expected_weighted"]].sum()
    horizons = pd.DataFrame(
        {
            "points": per_h["points"].astype(np.int64),
            "recent_WMAE": per_h["abs_error_weighted"] / per_h["weight"],
            "expected_WMAE": per_h["expected_weighted"] / per_h["weight"],
        }
    )
    horizons["ratio"] = _ratio(horizons["recent_WMAE"], horizons["expected_WMAE"])
    horizons["degraded"] = horizons["ratio"] > 1 + rule.tolerance
    horizons = horizons.reset_index()
    bad_h = [int(h) for h in horizons.loc[horizons["degraded"], "horizon"]]
    bad_groups = _groups(judged, groups, rule, listed)
    window = f"the last {len(labels)} period(s) ({labels[0]}..{labels[-1]})"
    overall = float(judged["abs_error_weighted"].sum() / judged["weight"].sum())
    expected = float(judged["expected_weighted"].sum() / judged["weight"].sum())
    head = f"recent WMAE {overall:.4g} vs {expected:.4g} expected by the backtest over {window}"
    if bad_h:
        worst = horizons[horizons["degraded"]].sort_values("ratio", ascending=False)
        steps = ", ".join(f"h{int(r.horizon)} {r.ratio:.2f}×" for r in worst.itertuples())
        where = ""
        if len(bad_groups):
            where = "; worst groups: " + ", ".join(
                f"{r.column}={r.value} {r.ratio:.2f}×" for r in bad_groups.head(listed).itertuples()
            )
        description = (
            f"accuracy degraded beyond the {rule.tolerance:.0%} tolerance at horizon step(s) {steps}; {head}{where}"
        )
    else:
        description = f"within {rule.tolerance:.0%} of the backtest at every horizon step; {head}"
    if unexpected:
        description += f" ({unexpected} recent point(s) of models without a backtest left out)"
    return DriftVerdict(not bad_h, True, description, labels, horizons, bad_groups, unexpected, bad_h)


def _groups(judged: pd.DataFrame, columns: Sequence[str], rule: DriftRule, listed: int) -> pd.DataFrame:
    """Per value of each column, recent vs expected WMAE over the points of series the backtest
    scored; the degraded values, worst first (largest excess error)."""
    points = judged[judged["expected_series"].notna()]
    points = points.assign(expected_series_weighted=points["weight"] * points["expected_series"])
    frames = []
    for column in columns:
        if column not in points.columns:
            continue
        sums = points.groupby(column, dropna=False)[["weight", "abs_error_weighted", "expected_series_weighted"]].sum()
        sums = sums[sums["weight"] > 0]
        frame = pd.DataFrame(
            {
                "column": column,
                "value": sums.index.astype(str),
                "recent_WMAE": (sums["abs_error_weighted"] / sums["weight"]).to_numpy(),
                "expected_WMAE": (sums["expected_series_weighted"] / sums["weight"]).to_numpy(),
            }
        )
        frame["ratio"] = _ratio(frame["recent_WMAE"], frame["expected_WMAE"])
        frame["excess"] = frame["recent_WMAE"] - frame["expected_WMAE"]
        frames.append(frame[frame["ratio"] > 1 + rule.tolerance])
    if not frames:
        return pd.DataFrame(columns=["column", "value", "recent_WMAE", "expected_WMAE", "ratio", "excess"])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values("excess", ascending=False).head(max(listed, 1) * max(len(columns), 1)).reset_index(drop=True)


def series_above_expectation(
    rows: pd.DataFrame, expected_by_series: pd.DataFrame | None, time: str, keys: Sequence[str], rule: DriftRule
) -> pd.DataFrame:
    """Each series' recent WMAE (the last ``rule.recent_periods`` periods) beside its backtest
    WMAE, furthest above first (by the excess error; series the backtest did not score have no
    expectation and come last)."""
    columns = [*keys, "points", "recent_WMAE", "expected_WMAE", "ratio", "excess"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    recent, _ = _recent(rows, time, rule.recent_periods)
    parts = _with_expectations(
        point_errors(recent),
        pd.DataFrame(columns=["model_id", "horizon", "WMAE"]),
        expected_by_series,
        keys,
    )
    parts = parts.assign(expected_series_weighted=parts["weight"] * parts["expected_series"])
    sums = parts.groupby(list(keys), dropna=False, sort=False)[
        ["points", "weight", "abs_error_weighted", "expected_series_weighted"]
    ].sum(min_count=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame(
            {
                "points": sums["points"].astype(np.int64),
                "recent_WMAE": sums["abs_error_weighted"] / sums["weight"],
                "expected_WMAE": sums["expected_series_weighted"] / sums["weight"],
            }
        )
    out["ratio"] = _ratio(out["recent_WMAE"], out["expected_WMAE"])
    out.loc[out["expected_WMAE"].isna(), "ratio"] = np.nan
    out["excess"] = out["recent_WMAE"] - out["expected_WMAE"]
    return out.reset_index().sort_values("excess", ascending=False, na_position="last")[columns].reset_index(drop=True)


# How each metric pools over points: WMAE by the point's weight, wQuantileLoss by |actual|, bias
# by the actual, coverage by the point count (each the denominator of the metric).
_POOLED_BY = {"WMAE": "weight", "mean_wQuantileLoss": "abs_actual", "bias": "actual_sum", "coverage_80": "points"}


def compare_by_horizon(rows: pd.DataFrame, expected_by_horizon: pd.DataFrame) -> pd.DataFrame:
    """Per horizon step, each metric of ``rows`` beside what the backtest expected of the same
    points: every point's model's figure at its step, pooled as the metric pools (WMAE by weight,
    wQuantileLoss by |actual|, bias by actual, coverage by count). ``expected_*`` is NaN for a
    step whose points all come from models without a backtest."""
    parts = point_errors(rows)
    metrics_ = list(_POOLED_BY)
    expected = expected_by_horizon[["model_id", "horizon", *metrics_]].rename(
        columns={m: f"_expected_{m}" for m in metrics_}
    )
    parts = parts.merge(expected, on=["model_id", "horizon"], how="left")
    sums = parts.groupby("horizon")[list(PARTS)].sum()
    out = metrics_of(sums)
    for metric, by in _POOLED_BY.items():
        known = parts[f"_expected_{metric}"].notna()
        weighted = (parts[by] * parts[f"_expected_{metric}"]).where(known, 0.0)
        total = parts[by].where(known, 0.0)
        pooled = weighted.groupby(parts["horizon"]).sum() / total.groupby(parts["horizon"]).sum()
        out[f"expected_{metric}"] = pooled.reindex(out.index)
    columns = ["points"] + [c for m in metrics_ for c in (m, f"expected_{m}")]
    return out[columns].reset_index()
