"""Where vintages and their scores live in the object store, written once and never replaced.

- ``vintages/<vintage id>/forecasts.parquet``, then ``vintages/<vintage id>/vintage.json``
  (the manifest, created only if absent: a vintage is published whole, once);
- ``accuracy/scores/<vintage id>/<period>/<n>-<digest>.parquet``: the scored points of one vintage ×
  period, the ``n``-th time that period's actuals were seen (1, then 2 … when the actuals of
  that period are restated; ``digest``: of the actuals it was scored on). Readers take the
  highest ``n``; nothing is overwritten.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pandas as pd

from deepar_assets.domain.accuracy import ACCURACY_METRICS, Vintage, scored_rows
from deepar_assets.domain.forecasting.tables import to_parquet_bytes
from deepar_assets.errors import StorageError
from deepar_assets.storage.base import ObjectStore

VINTAGES_PREFIX = "vintages"
MANIFEST = "vintage.json"
FORECAST_FILE = "forecasts.parquet"
SCORES_PREFIX = "accuracy/scores"
# What a model's backtest expects of it (backtest_report writes <backtests>/<model id>/<name>.parquet)
EXPECTED_BY_HORIZON = "expected_by_horizon"
EXPECTED_BY_SERIES = "expected_by_series"
_PART = re.compile(r"(?P<vintage>.+)/(?P<period>[^/]+)/(?P<n>[1-9][0-9]*)-(?P<digest>[0-9a-f]{16})\.parquet\Z")


def read_parquet(store: ObjectStore, key: str) -> pd.DataFrame:
    data = store.get_bytes(key)
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow's errors for a damaged file
        raise StorageError(f"{store.uri(key)}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None


def publish_vintage(store: ObjectStore, vintage: Vintage, frame: pd.DataFrame) -> str:
    """Write the vintage's forecast table, then create its manifest (the vintage exists once the
    manifest does). A vintage id already published is an error: nothing is replaced."""
    prefix = f"{VINTAGES_PREFIX}/{vintage.vintage_id}"
    if store.exists(f"{prefix}/{MANIFEST}"):
        raise StorageError(f"{store.uri(prefix)} is already published; a vintage is never overwritten")
    store.put_bytes(f"{prefix}/{FORECAST_FILE}", to_parquet_bytes(frame))
    if not store.put_if_absent(f"{prefix}/{MANIFEST}", vintage.to_json()):
        raise StorageError(
            f"{store.uri(prefix)} was published by another run meanwhile; a vintage is never overwritten"
        )
    return store.uri(prefix)


def list_vintages(store: ObjectStore) -> list[Vintage]:
    """Every published vintage (those with a manifest), oldest origin first."""
    out = []
    for key in store.list_keys(f"{VINTAGES_PREFIX}/"):
        if key.endswith(f"/{MANIFEST}"):
            vintage = Vintage.from_json(store.get_bytes(key), store.uri(key))
            expected = key[len(VINTAGES_PREFIX) + 1 : -len(MANIFEST) - 1]
            if vintage.vintage_id != expected:
                raise StorageError(
                    f"{store.uri(key)}: its vintage_id {vintage.vintage_id!r} differs from where it is stored ({expected!r})"
                )
            out.append(vintage)
    return sorted(out, key=lambda v: (v.origin, v.created, v.vintage_id))


def read_vintage(store: ObjectStore, vintage: Vintage) -> pd.DataFrame:
    return read_parquet(store, f"{VINTAGES_PREFIX}/{vintage.vintage_id}/{FORECAST_FILE}")


@dataclass(frozen=True)
class ScorePart:
    vintage_id: str
    period: str  # the target period as a key segment
    n: int
    digest: str  # of the actuals it was scored on (actuals_digest), 16 hex digits

    @property
    def key(self) -> str:
        return f"{SCORES_PREFIX}/{self.vintage_id}/{self.period}/{self.n}-{self.digest}.parquet"


def latest_parts(store: ObjectStore) -> dict[tuple[str, str], ScorePart]:
    """The latest scored part of every vintage × period."""
    latest: dict[tuple[str, str], ScorePart] = {}
    for key in store.list_keys(f"{SCORES_PREFIX}/"):
        match = _PART.match(key[len(SCORES_PREFIX) + 1 :])
        if match is None:
            continue  # not a part (e.g. a folder store's temporary file)
        part = ScorePart(match["vintage"], match["period"], int(match["n"]), match["digest"])
        known = latest.get((part.vintage_id, part.period))
        if known is None or part.n > known.n:
            latest[(part.vintage_id, part.period)] = part
    return latest


def actuals_digest(rows: pd.DataFrame, columns: list[str]) -> str:
    """A digest of the actuals (and weights) a part was scored on, to tell a restatement."""
    ordered = rows[[*columns, "actual", "weight"]].astype(str).sort_values(columns).to_csv(index=False)
    return hashlib.sha256(ordered.encode()).hexdigest()[:16]


def put_part(store: ObjectStore, part: ScorePart, rows: pd.DataFrame) -> None:
    """Create a part; one that exists already (another run scored the same actuals) is an error."""
    if not store.put_if_absent(part.key, to_parquet_bytes(rows)):
        raise StorageError(f"{store.uri(part.key)} exists already: scored by another run at the same time")


def read_parts(store: ObjectStore, parts: Iterator[ScorePart] | list[ScorePart]) -> pd.DataFrame:
    frames = [read_parquet(store, part.key) for part in parts]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@dataclass
class ScoreUpdate:
    rows: pd.DataFrame  # every vintage × period's latest scored points
    written: list[ScorePart]  # parts this call created (new actuals, or restated ones)
    restated: list[ScorePart]  # ... of which the actuals changed since they were first scored


def score_vintages(
    store: ObjectStore,
    vintages: Sequence[Vintage],
    actuals_for: Callable[[list[pd.Timestamp]], pd.DataFrame],
    ids: Sequence[str],
    time: str,
    period_key: Callable[[pd.Timestamp], str],
) -> ScoreUpdate:
    """Score every vintage on the actuals of its periods that have them (``actuals_for``: the
    observed points of those periods, keyed by ``ids``, ``time``), writing one part per vintage ×
    period whose actuals were never scored or have changed; then read every latest part."""
    latest = latest_parts(store)
    written, restated = [], []
    for vintage in vintages:
        actuals = actuals_for([pd.Timestamp(p) for p in vintage.periods])
        if actuals.empty:
            continue
        forecast: pd.DataFrame | None = None
        for stamp, group in actuals.groupby(time, sort=True):
            key = period_key(pd.Timestamp(stamp))
            digest = actuals_digest(group, [*ids, time])
            known = latest.get((vintage.vintage_id, key))
            if known is not None and known.digest == digest:
                continue
            if forecast is None:
                forecast = read_vintage(store, vintage)
            rows = scored_rows(vintage, forecast, group, ids, time)
            part = ScorePart(vintage.vintage_id, key, (known.n + 1) if known else 1, digest)
            put_part(store, part, rows)
            latest[(vintage.vintage_id, key)] = part
            written.append(part)
            if known is not None:
                restated.append(part)
    published = {v.vintage_id for v in vintages}
    parts = [p for (vid, _), p in sorted(latest.items()) if vid in published]
    return ScoreUpdate(read_parts(store, parts), written, restated)


@dataclass
class Expectations:
    by_horizon: pd.DataFrame  # model_id, horizon, the metrics
    by_series: pd.DataFrame  # model_id, the series' keys, the metrics
    missing: list[str]  # models without a backtest


def read_expectations(store: ObjectStore, backtests_prefix: str, model_ids: Sequence[str]) -> Expectations:
    """The backtest expectations of each model that has them (backtest_report's tables)."""
    horizons, series, missing = [], [], []
    for model_id in sorted(set(model_ids)):
        key = f"{backtests_prefix}/{model_id}/{EXPECTED_BY_HORIZON}.parquet"
        if not store.exists(key):
            missing.append(model_id)
            continue
        horizons.append(read_parquet(store, key).assign(model_id=model_id))
        series_key = f"{backtests_prefix}/{model_id}/{EXPECTED_BY_SERIES}.parquet"
        if store.exists(series_key):
            series.append(read_parquet(store, series_key).assign(model_id=model_id))
    empty = ["model_id", *ACCURACY_METRICS]
    by_horizon = pd.concat(horizons, ignore_index=True) if horizons else pd.DataFrame(columns=[*empty, "horizon"])
    by_series = pd.concat(series, ignore_index=True) if series else pd.DataFrame(columns=empty)
    return Expectations(by_horizon, by_series, missing)
