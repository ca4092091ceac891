"""The audit of every time-varying feature against what training shows the network.

A network learns what a covariate means from the training channel (every series up to
T − 2h). A covariate that is constant there, or that later leaves the range it had there,
reaches the network in the test window, the validation window or the forecast horizon with
values it never saw; the network extrapolates, often wildly. Walmart's markdowns are the
example: NA (no markdown, filled with zero) before 2011-11-11, so with a history cut before
then they are all zero in training and appear for the first time in the horizon.

Each audited feature has a declared rule (``outside_training`` on its covariate or derived
feature in the spec):

- ``clip`` (the default): values after the training channel are clipped to the training range.
  A feature constant in training becomes constant everywhere, which gives the network nothing
  it did not see;
- ``drop``: the feature is left out of ``dynamic_feat``;
- ``refuse``: the encoding fails, naming the feature, the periods and the ranges;
- ``keep``: the values stay as they are (reported all the same).

Every finding is reported, whatever the rule. Plain numpy; the encoder calls it on each filled
feature before scaling (scaling is monotone, so the ranges are the same after it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from deepar_assets.domain.spec import periods as P
from deepar_assets.errors import EncodingError

Rule = Literal["clip", "drop", "refuse", "keep"]
RULES: tuple[str, ...] = ("clip", "drop", "refuse", "keep")
CONSTANT = "constant_in_training"
OUTSIDE = "outside_training_range"


@dataclass(frozen=True)
class Finding:
    """One feature whose later values the training channel does not cover."""

    feature: str
    finding: str  # CONSTANT or OUTSIDE
    action: str  # the rule applied
    training_min: float
    training_max: float
    later_min: float
    later_max: float
    periods: int  # periods after the training channel with a value outside its range
    first_period: str  # the first of them

    def text(self) -> str:
        seen = (
            f"constant {self.training_min:.6g} in the training channel"
            if self.finding == CONSTANT
            else f"within [{self.training_min:.6g}, {self.training_max:.6g}] in the training channel"
        )
        done = {
            "clip": "clipped to the training range",
            "drop": "left out of dynamic_feat",
            "refuse": "refused",
            "keep": "kept as it is (outside_training: keep)",
        }[self.action]
        return (
            f"feature {self.feature}: {seen}, but [{self.later_min:.6g}, {self.later_max:.6g}] after it, outside in "
            f"{self.periods} period(s) from {self.first_period}: {done}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def audit(
    name: str,
    matrix: np.ndarray,
    train_end: int,
    limit: int,
    periods: pd.DatetimeIndex,
    freq: str,
    rule: str,
) -> tuple[np.ndarray | None, Finding | None]:
    """Audit one feature's filled values ``matrix`` (groups × periods): the training channel is
    the periods before ``train_end``; the values up to ``limit`` (its reach) are audited after
    it. Returns the values to use (None when the rule drops the feature) and the finding (None
    when training covers every later value). ``refuse`` raises an EncodingError instead."""
    if rule not in RULES:
        raise EncodingError(f"feature {name}: outside_training must be one of {list(RULES)}, got {rule!r}")
    if not 0 < train_end < limit:
        return matrix, None
    training = matrix[:, :train_end]
    later = matrix[:, train_end:limit]
    training, later_values = training[np.isfinite(training)], later[np.isfinite(later)]
    if not training.size or not later_values.size:
        return matrix, None
    low, high = float(training.min()), float(training.max())
    tolerance = 1e-9 * max(abs(low), abs(high), 1.0)
    outside = np.isfinite(later) & ((later < low - tolerance) | (later > high + tolerance))
    if not outside.any():
        return matrix, None
    columns = np.flatnonzero(outside.any(axis=0))
    finding = Finding(
        feature=name,
        finding=CONSTANT if high - low <= tolerance else OUTSIDE,
        action=rule,
        training_min=low,
        training_max=high,
        later_min=float(later_values.min()),
        later_max=float(later_values.max()),
        periods=len(columns),
        first_period=P.format_period(periods[train_end + int(columns[0])], freq),
    )
    if rule == "refuse":
        raise EncodingError(
            f"{finding.text()}; the network would see values it never trained on. Declare outside_training: clip, "
            f"drop or keep for {name} in the spec, or encode a longer history"
        )
    if rule == "drop":
        return None, finding
    if rule == "clip":
        clipped = matrix.copy()
        clipped[:, train_end:limit] = np.clip(matrix[:, train_end:limit], low, high)
        return clipped, finding
    return matrix, finding


def training_end(n_history: int, prediction_length: int) -> int:
    """The periods of the training channel (up to T − 2h), or all the history when it is too
    short to have one (the channels then refuse it)."""
    end = n_history - 2 * prediction_length
    return end if end >= 1 else n_history


def feature_rules(encoding: Any) -> list[str]:
    """Each ``dynamic_feat`` row's rule, from the spec the encoding records: a covariate's or
    derived feature's ``outside_training``, an indicator its covariate's, and ``keep`` for
    calendar features and real attributes (always within what training saw)."""
    from deepar_assets.domain.forecasting.keys import dataset_spec

    spec = dataset_spec(encoding)
    if spec is None:
        return ["keep"] * len(encoding.dynamic_feat)
    derived = {d.name: d.outside_training for d in spec.derived}
    covariates = set(spec.covariate_columns())
    rules: list[str] = []
    for feature in encoding.dynamic_feat:
        name = feature.name
        base = (
            name[: -len("_missing")] if name.endswith("_missing") and name[: -len("_missing")] in covariates else name
        )
        if base in covariates:
            rules.append(spec.covariate(base).outside_training)
        elif name in derived:
            rules.append(derived[name])
        else:
            rules.append("keep")
    return rules


def clip_window(records: list[dict[str, Any]], h: int, rules: list[str]) -> tuple[list[dict[str, Any]], list[int]]:
    """Records whose last ``h`` periods of ``dynamic_feat`` are clipped to the range each feature
    had before them, across all the records: what a model trained on the history before a past
    window saw. The encoding's own audit is against the training channel (T − 2h); a model
    retrained at an earlier origin has seen less (Walmart's markdowns, all zero before
    2011-11-11). Features whose rule is ``keep`` are left alone; ``drop`` and ``refuse`` are
    clipped too, since a retrained model must keep the features it was built with. Returns the
    records and the rows clipped somewhere."""
    if not records or "dynamic_feat" not in records[0] or not h:
        return list(records), []
    n_feat = len(records[0]["dynamic_feat"])
    low, high = np.full(n_feat, np.inf), np.full(n_feat, -np.inf)
    for record in records:
        before = np.asarray(record["dynamic_feat"], dtype=np.float64)[:, :-h]
        if before.size:
            low, high = np.minimum(low, before.min(axis=1)), np.maximum(high, before.max(axis=1))
    active = np.asarray([rule != "keep" for rule in rules] + [False] * (n_feat - len(rules)))[:n_feat]
    active &= np.isfinite(low) & np.isfinite(high)
    out, clipped = [], np.zeros(n_feat, dtype=bool)
    for record in records:
        features = np.asarray(record["dynamic_feat"], dtype=np.float64)
        window = features[:, -h:]
        bounded = np.clip(window, low[:, None], high[:, None])
        changed = active & (bounded != window).any(axis=1)
        if changed.any():
            features = features.copy()
            features[changed, -h:] = bounded[changed]
            clipped |= changed
            record = {**record, "dynamic_feat": features}
        out.append(record)
    return out, [int(i) for i in np.flatnonzero(clipped)]
