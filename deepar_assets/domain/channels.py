"""Cutting encoded series into SageMaker DeepAR's train / test / validation channels.

With history ending at week T and prediction length h:
``validation`` holds every series up to T, ``test`` up to T − h (DeepAR scores its last h
points), ``train`` up to T − 2h. Tuning therefore never sees the validation window. A series
is left out of a channel when it cannot be used there, and the reason is counted.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from deepar_assets.constants import CHANNELS, FIELD_DYNAMIC_FEAT, FIELD_TARGET, TEST, TRAIN, VALIDATION
from deepar_assets.domain.encoding import EncodedSeries
from deepar_assets.errors import DataValidationError

ENCODING_FILE = "encoding.json"


def channel_file(channel: str) -> str:
    """The object key of a channel's data inside a dataset version."""
    return f"{channel}/data.json"


@dataclass
class ChannelSplit:
    prediction_length: int
    ends: dict[str, int]  # channel → exclusive end week index of its targets
    members: dict[str, np.ndarray]  # channel → series indices
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)  # channel → reason → count


def split_channels(encoded: EncodedSeries, prediction_length: int) -> ChannelSplit:
    h = prediction_length
    if h < 1:
        raise DataValidationError(f"prediction_length must be at least 1 week, got {h}")
    n = encoded.n_history
    if n - 2 * h < 2:
        raise DataValidationError(
            f"the history has {n} weeks (to {encoded.last_week:%Y-%m-%d}); with prediction_length={h} "
            f"the train channel would hold {n - 2 * h} weeks: expected at least {2 * h + 2} weeks of history"
        )
    ends = {TRAIN: n - 2 * h, TEST: n - h, VALIDATION: n}
    observed = ~np.isnan(encoded.target)
    first = encoded.first
    members: dict[str, np.ndarray] = {}
    excluded: dict[str, dict[str, int]] = {}

    train_ok = first < ends[TRAIN]
    members[TRAIN] = np.flatnonzero(train_ok)
    excluded[TRAIN] = _count({"no observed week before the train cut": ~train_ok})

    # Every cat value of a scored channel must have been seen in train (DeepAR cannot embed
    # an unseen value).
    seen = np.ones(encoded.n_series, dtype=bool)
    for k in range(encoded.cat.shape[1]):
        seen &= np.isin(encoded.cat[:, k], encoded.cat[train_ok, k])

    for channel in (TEST, VALIDATION):
        end = ends[channel]
        has_context = first < end - h
        scored = observed[:, end - h : end].any(axis=1)
        ok = has_context & scored & seen
        members[channel] = np.flatnonzero(ok)
        excluded[channel] = _count(
            {
                "no observed week before the scored window": ~has_context,
                "no observed week in the scored window": has_context & ~scored,
                "category value not in train": has_context & scored & ~seen,
            }
        )
    return ChannelSplit(prediction_length=h, ends=ends, members=members, excluded=excluded)


def _count(reasons: dict[str, np.ndarray]) -> dict[str, int]:
    counts = Counter({reason: int(mask.sum()) for reason, mask in reasons.items()})
    return {reason: n for reason, n in counts.items() if n}


def record_to_json(record: dict[str, Any]) -> bytes:
    """One JSON line as SageMaker DeepAR reads it: missing targets are the string "NaN"."""
    target = record[FIELD_TARGET]
    values = target.tolist() if isinstance(target, np.ndarray) else list(target)
    out = dict(record)
    out[FIELD_TARGET] = [v if v == v else "NaN" for v in values]
    feats = record.get(FIELD_DYNAMIC_FEAT)
    if feats is not None:
        out[FIELD_DYNAMIC_FEAT] = feats.tolist() if isinstance(feats, np.ndarray) else feats
        if not len(out[FIELD_DYNAMIC_FEAT]):
            del out[FIELD_DYNAMIC_FEAT]
    return orjson.dumps(out) + b"\n"


def records_to_jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(record_to_json(r) for r in records)


def parse_jsonl(data: bytes, source: str = "<bytes>") -> list[dict[str, Any]]:
    """Parse JSON Lines into records with float64 NumPy targets (NaN where "NaN")."""
    records = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
            record[FIELD_TARGET] = np.asarray(
                [np.nan if v in ("NaN", None) else v for v in record[FIELD_TARGET]], dtype=np.float64
            )
            if FIELD_DYNAMIC_FEAT in record:
                record[FIELD_DYNAMIC_FEAT] = np.asarray(record[FIELD_DYNAMIC_FEAT], dtype=np.float64)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataValidationError(f"{source}, line {number}: not a DeepAR record ({exc})") from None
        records.append(record)
    return records


def build_dataset_files(encoded: EncodedSeries, split: ChannelSplit) -> dict[str, bytes]:
    """The content of one dataset version: each channel's JSON Lines and ``encoding.json``."""
    files = {
        channel_file(channel): records_to_jsonl(encoded.records(split.members[channel], split.ends[channel]))
        for channel in CHANNELS
    }
    files[ENCODING_FILE] = encoded.encoding.to_json()
    return files


def content_version(files: dict[str, bytes]) -> str:
    """A version id that depends on the content only: same data, same version."""
    digest = hashlib.sha256()
    for key in sorted(files):
        digest.update(key.encode() + b"\0" + hashlib.sha256(files[key]).digest())
    return digest.hexdigest()[:16]
