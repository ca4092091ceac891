"""What names a series and a period in every table this package writes.

A forecast table is keyed by the spec's id columns (``encoding.ids``), followed by the
categorical attributes (the rest of ``encoding.cat``), with their original values (strings
included); the period column is named as the spec's time column (``spec.time``, e.g. ``Date``,
``date`` or ``Month``), holding the period's label on the spec's frequency. An encoding without
a recorded spec (made before specs existed) names it ``period``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from deepar_assets.domain.encoding import Encoding
from deepar_assets.domain.spec import DatasetSpec
from deepar_assets.errors import ConfigurationError, EncodingError

PERIOD = "period"  # the period column when the encoding records no spec


def dataset_spec(encoding: Encoding) -> DatasetSpec | None:
    """The spec an encoding was made from (``encoding.json`` records it), or None."""
    raw = encoding.spec
    if not raw:
        return None
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        raise EncodingError(f"the encoding's recorded spec is not a valid dataset spec: {exc}") from None


def time_column(encoding: Encoding, spec: DatasetSpec | None = None) -> str:
    """The name of the period column: the spec's time column."""
    spec = spec if spec is not None else dataset_spec(encoding)
    return spec.time if spec is not None else PERIOD


def key_columns(encoding: Encoding) -> list[str]:
    """Every ``cat`` name: the id columns, then the categorical attributes."""
    return [c.name for c in encoding.cat]


def id_columns(encoding: Encoding) -> list[str]:
    """The series-id columns (all ``cat`` names for an encoding that does not say)."""
    return list(encoding.ids) or key_columns(encoding)


def attribute_columns(encoding: Encoding) -> list[str]:
    ids = set(id_columns(encoding))
    return [name for name in key_columns(encoding) if name not in ids]


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value (JSON- and message-friendly)."""
    return value.item() if isinstance(value, np.generic) else value


def describe_key(key: Mapping[str, Any], columns: Sequence[str]) -> str:
    """``store 3, item 12 (category toys)``: ids, then attributes in parentheses."""
    return ", ".join(f"{c} {plain(key[c])}" for c in columns)


def find_value(encoding: Encoding, column: str, value: Any) -> tuple[bool, Any]:
    """(True, ``value`` as the encoding holds it in ``column``), matching by text when the type
    differs (``"7"`` finds the integer id 7); (False, the value) when the encoding never saw it.
    A column the encoding does not have is refused."""
    names = key_columns(encoding)
    if column not in names:
        raise ConfigurationError(f"{column!r} is not an id column or categorical attribute; choose from {names}")
    values = next(c.values for c in encoding.cat if c.name == column)
    value = plain(value)
    for known in values:
        if type(known) is type(value) and known == value:
            return True, known
    by_text = {str(v): v for v in values}
    return (True, by_text[str(value)]) if str(value) in by_text else (False, value)


def known_values(encoding: Encoding, column: str) -> str:
    values = next(c.values for c in encoding.cat if c.name == column)
    return f"{values[:20]}{' …' if len(values) > 20 else ''}"


def match_value(encoding: Encoding, column: str, value: Any, where: str) -> Any:
    """``value`` as the encoding holds it in ``column`` (see :func:`find_value`); a column or
    value the encoding does not know is refused, naming the known ones."""
    try:
        found, canonical = find_value(encoding, column, value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    if not found:
        raise ConfigurationError(
            f"{where}: {column}={canonical!r} was not seen in training; known values: {known_values(encoding, column)}"
        )
    return canonical


def rows_matching(keys: pd.DataFrame, wanted: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Positions in ``keys`` whose ``columns`` equal one of ``wanted``'s rows."""
    columns = list(columns)
    if not len(wanted) or not len(keys):
        return np.zeros(0, dtype=np.int64)
    index = pd.MultiIndex.from_frame(keys[columns].astype(object))
    return np.flatnonzero(index.isin(pd.MultiIndex.from_frame(wanted[columns].astype(object))))
