"""Cutting encoded series into SageMaker DeepAR's train / test / validation channels.

With history ending at period T and prediction length h:
``validation`` holds every series up to T, ``test`` up to T − h (DeepAR scores its last h
points), ``train`` up to T − 2h. Tuning therefore never sees the validation window. A series
is left out of a channel when it cannot be used there, and the reason is counted.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import queue
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from deepar_assets.constants import CHANNELS, FIELD_DYNAMIC_FEAT, FIELD_START, FIELD_TARGET, TEST, TRAIN, VALIDATION
from deepar_assets.domain.encoding import EncodedSeries
from deepar_assets.domain.spec.periods import format_period, shift
from deepar_assets.errors import DataValidationError

ENCODING_FILE = "encoding.json"


def channel_file(channel: str) -> str:
    """The object key of a channel's data inside a dataset version."""
    return f"{channel}/data.json"


@dataclass
class ChannelSplit:
    prediction_length: int
    ends: dict[str, int]  # channel → exclusive end period index of its targets
    members: dict[str, np.ndarray]  # channel → series indices
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)  # channel → reason → count
    # Earlier evaluation origins added to test (rolling evaluation): (end, series indices).
    extra_test_origins: list[tuple[int, np.ndarray]] = field(default_factory=list)

    def record_count(self, channel: str) -> int:
        extra = sum(len(m) for _, m in self.extra_test_origins) if channel == TEST else 0
        return int(len(self.members[channel])) + extra


def split_channels(
    encoded: EncodedSeries, prediction_length: int, rolling_origins: int = 1, origin_step: int | None = None
) -> ChannelSplit:
    """Cut the channels. With ``rolling_origins`` > 1, ``test`` also holds every series cut at
    earlier ends (each ``origin_step`` periods before the last, default h), so that the objective
    averages over several forecast origins, as SageMaker's DeepAR documentation describes; and
    ``train`` then ends where the earliest of those windows starts, so that every origin is
    scored on periods the trials did not train on. The model best_model fits on ``test`` (to
    T - h) is unchanged: it fits on the latest origin's records only (:func:`latest_origin`)."""
    h = prediction_length
    if h < 1:
        raise DataValidationError(f"prediction_length must be at least 1 period, got {h}")
    if rolling_origins < 1:
        raise DataValidationError(f"rolling_origins must be at least 1, got {rolling_origins}")
    step = origin_step or h
    if step < 1:
        raise DataValidationError(f"origin_step must be at least 1 period, got {step}")
    n = encoded.n_history
    earlier = (rolling_origins - 1) * step  # periods the earliest test window starts before T - 2h
    if n - 2 * h - earlier < 2:
        raise DataValidationError(
            f"the history has {n} periods (to {format_period(encoded.last_period, encoded.encoding.freq)}); with "
            f"prediction_length={h}"
            + (f" and {rolling_origins} rolling origins {step} periods apart" if earlier else "")
            + f" the train channel would hold {n - 2 * h - earlier} periods: expected at least "
            f"{2 * h + earlier + 2} periods of history"
            + ("; use fewer origins or a smaller origin_step" if earlier else "")
        )
    ends = {TRAIN: n - 2 * h - earlier, TEST: n - h, VALIDATION: n}
    observed = ~np.isnan(encoded.target)
    first = encoded.first
    members: dict[str, np.ndarray] = {}
    excluded: dict[str, dict[str, int]] = {}

    train_ok = first < ends[TRAIN]
    members[TRAIN] = np.flatnonzero(train_ok)
    excluded[TRAIN] = _count({"no observed period before the train cut": ~train_ok})

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
                "no observed period before the scored window": ~has_context,
                "no observed period in the scored window": has_context & ~scored,
                "category value not in train": has_context & scored & ~seen,
            }
        )
    extra = []
    for k in range(1, rolling_origins):
        end = ends[TEST] - k * step
        if end - h < 1:
            raise DataValidationError(
                f"rolling origin {k + 1} of {rolling_origins} would end at period {end} of {n}: too early for a "
                f"{h}-period window with context; use fewer origins or a smaller origin_step"
            )
        ok = (first < end - h) & observed[:, end - h : end].any(axis=1) & seen
        extra.append((end, np.flatnonzero(ok)))
    return ChannelSplit(prediction_length=h, ends=ends, members=members, excluded=excluded, extra_test_origins=extra)


def latest_origin(records: list[dict[str, Any]], freq: str) -> list[dict[str, Any]]:
    """The records that end at the latest period any of them reaches: of the test channel,
    the series up to T − h. With rolling origins, the test channel also holds every series cut
    at earlier ends, there to score the trials; a model fitted on the history up to T − h is
    fitted on these only (the copies would weigh the earlier history twice and lengthen its
    epochs, so it would not train as the refit on the validation channel does)."""
    ends: list[pd.Timestamp] = []
    last_of: dict[tuple[str, int], pd.Timestamp] = {}
    for record in records:
        key = (str(record[FIELD_START]), len(record[FIELD_TARGET]))
        if key not in last_of:
            last_of[key] = shift(pd.Timestamp(key[0]), key[1] - 1, freq)
        ends.append(last_of[key])
    latest = max(ends, default=None)
    return [record for record, end in zip(records, ends, strict=True) if end == latest]


def _count(reasons: dict[str, np.ndarray]) -> dict[str, int]:
    counts = Counter({reason: int(mask.sum()) for reason, mask in reasons.items()})
    return {reason: n for reason, n in counts.items() if n}


_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


def _dump(record: dict[str, Any]) -> bytes:
    """One record as a JSON line. NumPy arrays are written natively by orjson, which writes NaN
    as ``null``; the only values that can be missing are targets (dynamic features never are),
    so a record with a missing period has each ``null`` turned into the ``"NaN"`` DeepAR expects."""
    out = dict(record)
    missing = False
    for name in (FIELD_TARGET, FIELD_DYNAMIC_FEAT):
        value = out.get(name)
        if value is None:
            continue
        value = np.ascontiguousarray(value, dtype=np.float64)
        if name == FIELD_TARGET:
            missing = bool(np.isnan(value).any())
        out[name] = value
    feats = out.get(FIELD_DYNAMIC_FEAT)
    if feats is not None and not feats.size:
        del out[FIELD_DYNAMIC_FEAT]
    line = orjson.dumps(out, option=_JSON_OPTIONS)
    return line.replace(b"null", b'"NaN"') if missing else line


def record_to_json(record: dict[str, Any]) -> bytes:
    """One JSON line as SageMaker DeepAR reads it: missing targets are the string "NaN"."""
    return _dump(record)


def records_to_jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    """JSON Lines as SageMaker DeepAR reads them."""
    return b"".join(_dump(r) for r in records)


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
    files: dict[str, bytes] = {}
    for key, end, indices in _tasks(split, chunk_size=max(encoded.n_series, 1)):
        files[key] = files.get(key, b"") + records_to_jsonl(encoded.records(indices, end))
    files[ENCODING_FILE] = encoded.encoding.to_json()
    return files


def content_version(files: dict[str, bytes]) -> str:
    """A version id that depends on the content only: same data, same version."""
    return version_from_digests({key: hashlib.sha256(data).hexdigest() for key, data in files.items()})


def version_from_digests(digests: dict[str, str]) -> str:
    """The content version from each object's sha256 (hex); equal to :func:`content_version`."""
    digest = hashlib.sha256()
    for key in sorted(digests):
        digest.update(key.encode() + b"\0" + bytes.fromhex(digests[key]))
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class WrittenFile:
    key: str
    path: Path
    size: int
    sha256: str


_SHARED: dict[str, EncodedSeries] = {}


def _share(encoded: EncodedSeries) -> None:
    """A worker's initializer: the encoded series it serializes chunks of."""
    _SHARED["encoded"] = encoded


def _serialize(task: tuple[int, np.ndarray]) -> bytes:
    end, indices = task
    return records_to_jsonl(_SHARED["encoded"].records(indices, end))


CHUNK_VALUES = 300_000
"""About this many numbers per serialized chunk: long records (daily data) come in smaller
chunks, so that worker processes share the work evenly and hand back small buffers."""


def default_chunk_size(encoded: EncodedSeries) -> int:
    """Records per chunk: CHUNK_VALUES over the numbers in a full-length record, 1 to 500."""
    per_record = len(encoded.periods) * (1 + encoded.features.shape[1])
    return max(1, min(500, CHUNK_VALUES // max(per_record, 1)))


def _tasks(split: ChannelSplit, chunk_size: int) -> list[tuple[str, int, np.ndarray]]:
    """(object key, target end, series indices) in file order, in chunks."""
    parts = [(channel_file(c), split.ends[c], split.members[c]) for c in CHANNELS]
    parts += [(channel_file(TEST), end, members) for end, members in split.extra_test_origins]
    tasks = []
    for key, end, members in parts:
        for start in range(0, max(len(members), 1), chunk_size):
            tasks.append((key, end, members[start : start + chunk_size]))
    return tasks


def write_dataset_files(
    encoded: EncodedSeries, split: ChannelSplit, folder: Path, workers: int = 1, chunk_size: int | None = None
) -> dict[str, WrittenFile]:
    """Stream each channel's JSON Lines and ``encoding.json`` into ``folder``, hashing as the
    bytes go, so memory holds a few chunks instead of whole channels. With ``workers`` > 1,
    chunks are serialized by spawned worker processes (each gets the encoded series once)
    while this process writes and hashes, in order."""
    folder = Path(folder)
    tasks = _tasks(split, chunk_size or default_chunk_size(encoded))
    handles: dict[str, Any] = {}
    digests: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    # Writing and hashing release the GIL: a thread does them while this one serializes.
    pending: queue.Queue = queue.Queue(maxsize=8)
    failure: list[BaseException] = []

    def drain() -> None:
        while (item := pending.get()) is not None:
            if failure:
                continue
            try:
                store(*item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                failure.append(exc)

    def sink(key: str, data: bytes) -> None:
        if failure:
            raise failure[0]
        pending.put((key, data))

    def store(key: str, data: bytes) -> None:
        if key not in handles:
            path = folder / key
            path.parent.mkdir(parents=True, exist_ok=True)
            handles[key] = open(path, "wb")  # noqa: SIM115 - closed below
            digests[key] = hashlib.sha256()
            sizes[key] = 0
        handles[key].write(data)
        digests[key].update(data)
        sizes[key] += len(data)

    writer = threading.Thread(target=drain, name="dataset-writer", daemon=True)
    writer.start()
    try:
        if workers > 1 and len(tasks) > 1:
            # Spawned, not forked: a fork copies whatever lock another thread of this process
            # holds at that moment (the writer above, torch's or Dagster's threads), and a
            # worker that needs it waits forever. That hung the test suite once. An executor,
            # not multiprocessing.Pool: leaving a Pool's `with` sends its workers SIGTERM and
            # waits for them, forever where the process ignores SIGTERM (and its spawned
            # workers inherit that); the executor's workers stop when told to, and a worker
            # that dies fails the write instead of hanging it.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_share, initargs=(encoded,)) as pool:
                results = pool.map(_serialize, [(end, idx) for _, end, idx in tasks])
                for (key, _, _), data in zip(tasks, results, strict=True):
                    sink(key, data)
        else:
            for key, end, indices in tasks:
                sink(key, records_to_jsonl(encoded.records(indices, end)))
        sink(ENCODING_FILE, encoded.encoding.to_json())
    finally:
        pending.put(None)
        writer.join()
        for handle in handles.values():
            handle.close()
    if failure:
        raise failure[0]
    return {key: WrittenFile(key, folder / key, sizes[key], digests[key].hexdigest()) for key in handles}
