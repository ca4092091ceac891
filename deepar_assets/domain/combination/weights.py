"""Weights of the candidates, per series, chosen from their losses on past windows.

The loss of a candidate on a set of points is its weighted quantile loss: the pinball loss over
the quantiles p10 … p90, each point weighted as WMAE weighs it (the spec's period weights),
over the weighted absolute actuals. It rewards a good median and a calibrated band at once,
and it is computed from additive parts (numerator and denominator per series and window), so
any grouping of series and windows is a sum.

From those parts, weights at three levels:

- **global**: one set for every series;
- **segment:<name>**: one set per value of a categorical attribute or id (e.g. per department),
  for each of them;
- **series**: one set per series.

At each level the weight of candidate c is proportional to 1 / loss_c^p, over the candidates
within ``cutoff`` × the best loss of that group (the others get 0); p and the cutoff are chosen
with the level. Segments and series are shrunk towards the global weights:
``w = (n · w_own + k · w_parent) / (n + k)``, with n the windows the group was scored on (times
its series for a segment) and k the ``shrinkage`` (in windows), so one lucky window does not
decide. The level, the power p and the cutoff are chosen by
leave-one-window-out: weights from all windows but one, the combined forecast scored on the one
left out, averaged over the windows; the lowest loss wins (global, 1/loss² and the first cutoff
when there is a single window).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from deepar_assets.constants import QUANTILES


def loss_parts(
    actual: np.ndarray, forecast: Mapping[str, np.ndarray], weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(rows,) numerator and denominator of the weighted quantile loss of each row."""
    actual = np.asarray(actual, dtype=np.float64)
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), actual.shape)
    mask = np.isfinite(actual)
    y = np.where(mask, actual, 0.0)
    w = np.where(mask, weights, 0.0)
    numerator = np.zeros(actual.shape[0])
    for tau in QUANTILES:
        q = np.asarray(forecast.get(f"p{round(tau * 100)}", forecast["mean"]), dtype=np.float64)
        diff = y - np.where(mask, q, 0.0)
        numerator += (w * 2.0 * np.maximum(tau * diff, (tau - 1) * diff)).sum(axis=1)
    denominator = (w * np.abs(y)).sum(axis=1) * len(QUANTILES)
    return numerator, denominator


@dataclass(frozen=True)
class Scores:
    """Loss parts of every candidate on the selection windows: (windows, series, candidates)
    numerators and denominators, NaN where a series has no forecast at a window."""

    candidates: list[str]
    numerator: np.ndarray
    denominator: np.ndarray

    def pooled(self, windows: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(series, candidates) numerator and denominator summed over ``windows`` (all by
        default), and (series,) the number of windows with a forecast."""
        w = list(range(self.numerator.shape[0])) if windows is None else list(windows)
        num, den = self.numerator[w], self.denominator[w]
        present = np.isfinite(num).all(axis=2)
        return (
            np.where(present[..., None], num, 0.0).sum(axis=0),
            np.where(present[..., None], den, 0.0).sum(axis=0),
            present.sum(axis=0),
        )


POWERS = (2.0, 4.0, 8.0, 32.0)  # how sharply the weights follow the loss: 1/loss^power (32: nearly the best alone)
# How far behind the best a candidate may be and keep some weight (× the best loss): a low cutoff drops
# a candidate that is poor on average though right where the others are wrong; a high one keeps it.
CUTOFFS = (1.5, 2.0, 3.0)


def _weights_from_loss(loss: np.ndarray, cutoff: float, power: float = 2.0) -> np.ndarray:
    """(groups, candidates) weights ∝ 1/loss^power among the candidates within cutoff × the
    best; rows without a finite loss get NaN."""
    loss = np.asarray(loss, dtype=np.float64)
    finite = np.where(np.isfinite(loss), loss, np.inf)
    best = finite.min(axis=1, keepdims=True) if loss.size else loss
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.isfinite(loss) & (loss <= cutoff * best)
        # ≥ 1 and ≤ cutoff where kept (no overflow at high powers); the others get no weight anyway
        ratio = np.where(keep, np.maximum(loss, 1e-12) / np.maximum(best, 1e-12), 1.0)
        raw = np.where(keep, 1.0 / ratio**power, 0.0)
        total = raw.sum(axis=1, keepdims=True)
        return np.where(total > 0, raw / total, np.nan)


def _shrink(own: np.ndarray, parent: np.ndarray, n: np.ndarray, strength: float) -> np.ndarray:
    n = np.asarray(n, dtype=np.float64)[:, None]
    own = np.where(np.isfinite(own), own, parent)
    return (n * own + strength * parent) / (n + strength)


def level_weights(
    scores: Scores,
    segments: Mapping[str, np.ndarray],
    windows: Sequence[int] | None = None,
    allowed: np.ndarray | None = None,
    shrinkage: float = 2.0,
    cutoff: float = 1.5,
    power: float = 2.0,
) -> dict[str, np.ndarray]:
    """(series, candidates) weights at each level from ``windows``: ``global``, ``segment:<name>``
    for each segmentation in ``segments`` (name → (series,) the segment of each series), and
    ``series``; both shrunk towards the global weights. ``allowed``: (candidates,) which
    candidates may take part; ``power``: weights ∝ 1/loss^power."""
    num, den, n = scores.pooled(windows)
    allowed_mask = np.ones(num.shape[1], dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    num = np.where(allowed_mask[None, :], num, np.inf)

    def loss(nu: np.ndarray, de: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(de > 0, nu / de, np.where(np.isinf(nu), np.inf, np.nan))

    global_w = _weights_from_loss(loss(num.sum(axis=0, keepdims=True), den.sum(axis=0, keepdims=True)), cutoff, power)
    if not np.isfinite(global_w).all():  # nothing scored at all: every allowed candidate equally
        global_w = (allowed_mask / allowed_mask.sum())[None, :]
    out = {"global": np.repeat(global_w, num.shape[0], axis=0)}
    finite_num = np.where(np.isfinite(num), num, 0.0)
    for name, codes in segments.items():
        _, inverse = np.unique(np.asarray(codes), return_inverse=True)
        groups = int(inverse.max()) + 1 if len(inverse) else 0
        seg_num, seg_den, seg_n = np.zeros((groups, num.shape[1])), np.zeros((groups, num.shape[1])), np.zeros(groups)
        np.add.at(seg_num, inverse, finite_num)
        np.add.at(seg_den, inverse, den)
        np.add.at(seg_n, inverse, n)
        seg_num = np.where(allowed_mask[None, :], seg_num, np.inf)
        out[f"segment:{name}"] = _shrink(
            _weights_from_loss(loss(seg_num, seg_den), cutoff, power), global_w, seg_n, shrinkage
        )[inverse]
    out["series"] = _shrink(_weights_from_loss(loss(num, den), cutoff, power), global_w, n, shrinkage)
    return out


@dataclass(frozen=True)
class Choice:
    level: str
    weights: np.ndarray  # (series, candidates), rows sum to 1
    held_out_loss: dict[str, float]  # level → mean loss of the combined forecast on the windows left out
    band_scale: float = 1.0  # the combined band's width, as a multiple of the averaged one (see band_scale)
    power: float = 2.0  # weights ∝ 1/loss^power
    cutoff: float = CUTOFFS[0]  # candidates above this multiple of the best loss get no weight


def choose(
    windows: Sequence[SelectionWindow],
    candidates: Sequence[str],
    segments: Mapping[str, np.ndarray],
    allowed: np.ndarray | None = None,
    shrinkage: float = 2.0,
    cutoffs: Sequence[float] = CUTOFFS,
    powers: Sequence[float] = POWERS,
) -> Choice:
    """The level, the sharpness (weights ∝ 1/loss^power, one of ``powers``) and the cutoff (one
    of ``cutoffs``) whose combined forecast has the lowest loss on the window left out, weights
    chosen on the others (leave-one-window-out), and those weights from every window. A
    candidate that wins every window earns nearly all the weight at a high power; candidates
    that take turns share it at a low one. ``held_out_loss``: per level, at its best power and
    cutoff. Ties go to the lower power, then the lower cutoff."""
    scores = window_scores(windows, candidates)
    held: dict[str, float] = {}
    level, power, cutoff = "global", float(powers[0]), float(cutoffs[0])
    if len(windows) > 1:
        levels = ["global", *[f"segment:{name}" for name in segments], "series"]
        tried: dict[tuple[str, float, float], float] = {}
        for p, c in [(p, c) for p in powers for c in cutoffs]:
            left_out = [
                level_weights(scores, segments, [w for w in range(len(windows)) if w != out], allowed, shrinkage, c, p)
                for out in range(len(windows))
            ]
            for name in levels:
                losses = []
                for out, window in enumerate(windows):
                    present = window.present
                    combined = combine(window.forecasts, candidates, left_out[out][name], present)
                    num, den = loss_parts(window.actual[present], combined, window.weights[present])
                    if den.sum() > 0:
                        losses.append(num.sum() / den.sum())
                tried[(name, p, c)] = float(np.mean(losses)) if losses else float("inf")
        level, power, cutoff = min(
            tried, key=lambda key: (tried[key], list(powers).index(key[1]), list(cutoffs).index(key[2]))
        )
        held = {name: min(loss for key, loss in tried.items() if key[0] == name) for name in levels}
    weights = level_weights(scores, segments, None, allowed, shrinkage, cutoff, power)[level]
    return Choice(level, weights, held, band_scale(windows, candidates, weights), power, cutoff)


BAND_SCALES = tuple(np.round(np.arange(0.5, 4.01, 0.1), 2))


def band_scale(windows: Sequence[SelectionWindow], candidates: Sequence[str], weights: np.ndarray) -> float:
    """How much wider (or narrower) the combined band should be: the factor on every quantile's
    distance from the median that gives the lowest quantile loss on the selection windows (the
    pinball loss rewards calibrated quantiles, so this calibrates the band on past windows).
    Averaging quantiles keeps the candidates' bands, and statistical models' intervals are often
    too narrow; a point forecast has none."""
    if not windows:
        return 1.0
    losses = []
    for scale in BAND_SCALES:
        num = den = 0.0
        for window in windows:
            combined = widen(combine(window.forecasts, candidates, weights, window.present), float(scale))
            n, d = loss_parts(window.actual[window.present], combined, window.weights[window.present])
            num, den = num + float(n.sum()), den + float(d.sum())
        losses.append(num / den if den > 0 else np.inf)
    return float(BAND_SCALES[int(np.argmin(losses))])


def widen(forecast: Mapping[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
    """Every quantile moved ``scale`` times its distance from the median (p50 and the mean stay)."""
    if scale == 1.0:
        return dict(forecast)
    median = forecast["p50"]
    return {k: (v if k in ("mean", "p50") else median + scale * (v - median)) for k, v in forecast.items()}


@dataclass(frozen=True)
class SelectionWindow:
    """Every candidate's forecast of one past window, on the rows of all the series: ``actual``
    and ``weights`` (series, h), NaN actuals in the rows of series without a forecast there."""

    drop: int
    actual: np.ndarray
    weights: np.ndarray
    forecasts: dict[str, dict[str, np.ndarray]]  # candidate → mean / p10 … p90, (series, h)
    present: np.ndarray  # (series,) which series have a forecast at this window
    # statistical candidate → (series,) why its forecast there is seasonal naive's ("" where its own)
    reasons: dict[str, np.ndarray] = field(default_factory=dict)


def window_scores(windows: Sequence[SelectionWindow], candidates: Sequence[str]) -> Scores:
    """Loss parts of every candidate at every window (NaN for absent series)."""
    n = len(windows[0].present) if windows else 0
    numerator = np.full((len(windows), n, len(candidates)), np.nan)
    denominator = np.full((len(windows), n, len(candidates)), np.nan)
    for w, window in enumerate(windows):
        rows = np.flatnonzero(window.present)
        for c, name in enumerate(candidates):
            forecast = {k: v[rows] for k, v in window.forecasts[name].items()}
            num, den = loss_parts(window.actual[rows], forecast, window.weights[rows])
            numerator[w, rows, c], denominator[w, rows, c] = num, den
    return Scores(list(candidates), numerator, denominator)


def combine(
    forecasts: Mapping[str, Mapping[str, np.ndarray]],
    candidates: Sequence[str],
    weights: np.ndarray,
    rows: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The combined forecast: the mean and every quantile averaged candidate by candidate with
    each row's weights (quantile averaging keeps p10 ≤ … ≤ p90). ``rows``: a mask or indices of
    the rows to combine (all by default)."""
    keys = ["mean", *[f"p{round(tau * 100)}" for tau in QUANTILES]]
    index = slice(None) if rows is None else rows
    out = {}
    for key in keys:
        total = np.zeros(0)
        for c, name in enumerate(candidates):
            forecast = forecasts[name]
            values = np.asarray(forecast.get(key, forecast["mean"]), dtype=np.float64)[index]
            w = np.asarray(weights, dtype=np.float64)[index, c][:, None]
            part = np.where(w > 0, w * values, 0.0)
            total = part if c == 0 else total + part
        out[key] = total
    return out
