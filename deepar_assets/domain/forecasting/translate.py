"""Records in the model's encoding.

Two encodings meet when a model forecasts. ``encoded_series`` is encoded with the *current*
data; a model was trained on the dataset version in its card, with *that* version's encoding
(``encoding.json`` beside its channels). Category codes and feature scaling can differ between
the two (a new series value shifts every code after it; a new period moves the scaling
statistics), so records are always translated into the model's encoding: categories by value,
features by unscaling with the current statistics and rescaling with the model's. A category
value the model never saw cannot be embedded: such series are reported, never forecast.
"""

from __future__ import annotations

import numpy as np

from deepar_assets.domain.encoding import EncodedSeries, Encoding, FeatureSpec
from deepar_assets.errors import EncodingError


# -- features: scaled <-> raw ----------------------------------------------------------------
def to_raw(values: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Undo a feature's scaling: ``standard`` and ``robust`` are (x − centre) / spread, with
    the centre and spread kept as ``mean`` and ``std``; ``log1p_standard`` is that of
    sign(x)·log1p(|x|)."""
    values = np.asarray(values, dtype=np.float64)
    if spec.scale == "none":
        return values
    z = values * spec.std + spec.mean
    if spec.scale == "log1p_standard":
        return np.sign(z) * np.expm1(np.abs(z))
    return z


def to_scaled(raw: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Scale raw feature values the way the encoding ``spec`` belongs to did."""
    raw = np.asarray(raw, dtype=np.float64)
    if spec.scale == "none":
        return raw
    if spec.scale == "log1p_standard":
        raw = np.sign(raw) * np.log1p(np.abs(raw))
    return (raw - spec.mean) / spec.std


def model_features(encoded: EncodedSeries, model_encoding: Encoding) -> np.ndarray:
    """``encoded.features`` (n_groups, n_feat, n_periods) with the model's feature rows, in the
    model's order and scaling. Refuses when the current encoding lacks a feature the model
    was trained with, or encodes it with another fill policy or scaling kind."""
    current = {spec.name: (row, spec) for row, spec in enumerate(encoded.encoding.dynamic_feat)}
    rows = []
    for spec in model_encoding.dynamic_feat:
        if spec.name not in current:
            raise EncodingError(
                f"the model was trained with the dynamic feature {spec.name!r}, which encoded_series no longer has "
                f"(it has {list(current)}); rematerialize encoded_series with the model's features "
                f"{[f.name for f in model_encoding.dynamic_feat]} or retrain"
            )
        row, mine = current[spec.name]
        if (mine.fill, mine.scale) != (spec.fill, spec.scale):
            raise EncodingError(
                f"dynamic feature {spec.name}: encoded_series fills/scales it {mine.fill}/{mine.scale}, the model was "
                f"trained with {spec.fill}/{spec.scale}"
            )
        values = encoded.features[:, row, :]
        if (mine.mean, mine.std) != (spec.mean, spec.std):
            values = to_scaled(to_raw(values, mine), spec)
        rows.append(values)
    if not rows:
        return np.zeros((encoded.features.shape[0], 0, encoded.features.shape[2]))
    return np.stack(rows, axis=1)


def model_codes(encoded: EncodedSeries, model_encoding: Encoding) -> tuple[np.ndarray, list[str | None]]:
    """Each series' categories as the model's codes; -1 and a reason where the model never saw
    a value (DeepAR has no embedding for it)."""
    names = [c.name for c in model_encoding.cat]
    missing = [n for n in names if n not in encoded.keys.columns]
    if missing:
        raise EncodingError(f"the model's categories {names} include {missing}, which encoded_series does not have")
    codes = np.full((encoded.n_series, len(names)), -1, dtype=np.int64)
    reasons: list[str | None] = [None] * encoded.n_series
    for k, spec in enumerate(model_encoding.cat):
        lookup = {value: code for code, value in enumerate(spec.values)}
        column = encoded.keys[spec.name].tolist()
        for i, value in enumerate(column):
            code = lookup.get(value)
            if code is None:
                unseen = f"{spec.name}={value!r}"
                reasons[i] = unseen if reasons[i] is None else f"{reasons[i]}, {unseen}"
            else:
                codes[i, k] = code
    reasons = [None if r is None else f"{r} not seen in training: DeepAR has no embedding for it" for r in reasons]
    return codes, reasons
