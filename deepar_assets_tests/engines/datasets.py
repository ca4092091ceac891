"""Small dataset versions built directly as channel files (records + an Encoding), published
as ``s3_datasets`` publishes them: the engines' tests need no reader or encoder, and can take
any shape (frequency, id types, covariates or none, counts or real values)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepar_assets.constants import CHANNELS, TEST, TRAIN, VALIDATION
from deepar_assets.domain.channels import ENCODING_FILE, channel_file, content_version, records_to_jsonl
from deepar_assets.domain.encoding import CatSpec, Encoding, FeatureSpec
from deepar_assets.domain.spec import periods
from deepar_assets.domain.spec.load import load_spec
from deepar_assets.engines.base import DatasetRef
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.versions import publish


@dataclass(frozen=True)
class Shape:
    """What the generated dataset looks like."""

    spec: str  # a shipped spec: its ids, frequency, season and time column
    ids: dict[str, list]  # id column → its values (every combination is a series)
    first: str  # the first period
    length: int  # periods of history (T is the last)
    h: int
    counts: bool = False  # Poisson counts instead of real values
    dynamic_feat: int = 0  # features known h periods ahead (0: records carry none)
    ragged: int = 0  # the last series starts this many periods late
    seed: int = 0


MONTHLY = Shape(
    spec="aus_retail",
    ids={"State": ["New South Wales", "Victoria"], "Industry": ["Cafes", "Food retailing", "Pharmacies"]},
    first="2012-01-01",
    length=72,
    h=6,
    ragged=20,
)
DAILY_COUNTS = Shape(
    spec="store_item_demand",
    ids={"store": [1, 2], "item": [10, 20, 30]},
    first="2016-01-01",
    length=120,
    h=7,
    counts=True,
)


def series(shape: Shape) -> tuple[pd.DataFrame, np.ndarray, pd.DatetimeIndex]:
    """(keys, targets (n, length) with NaN before a ragged start, periods)."""
    spec = load_spec(shape.spec)
    index = pd.MultiIndex.from_product([shape.ids[name] for name in spec.ids], names=spec.ids)
    keys = index.to_frame(index=False)
    axis = pd.date_range(shape.first, periods=shape.length, freq=spec.frequency)
    rng = np.random.default_rng(shape.seed)
    t = np.arange(shape.length)
    level = rng.uniform(20, 80, size=(len(keys), 1))
    seasonal = 1 + 0.3 * np.sin(2 * np.pi * t / spec.season_length)[None, :]
    mean = level * seasonal * (1 + 0.002 * t)[None, :]
    target = rng.poisson(mean).astype(float) if shape.counts else mean + rng.normal(0, 2, mean.shape)
    if shape.ragged:
        target[-1, : shape.ragged] = np.nan
    return keys, target, axis


def publish_shape(store: ObjectStore, shape: Shape) -> DatasetRef:
    """Encode the shape's series by hand and publish train / test / validation and
    encoding.json as one dataset version, exactly as the channels are cut (validation to T,
    test to T − h, train to T − 2h; a ragged series starts at its first observation)."""
    spec = load_spec(shape.spec)
    keys, target, axis = series(shape)
    cats = [CatSpec(name, sorted(keys[name].unique().tolist())) for name in spec.ids]
    rng = np.random.default_rng(shape.seed + 1)
    feats = rng.normal(size=(len(keys), shape.dynamic_feat, shape.length + shape.h))
    encoding = Encoding(
        cat=cats,
        dynamic_feat=[FeatureSpec(f"f{k}", "zero", "standard") for k in range(shape.dynamic_feat)],
        freq=spec.frequency,
        ids=list(spec.ids),
        dataset=spec.name,
        spec=spec.model_dump(mode="json"),
        season_length=spec.season_length,
    )
    ends = {TRAIN: shape.length - 2 * shape.h, TEST: shape.length - shape.h, VALIDATION: shape.length}
    files: dict[str, bytes] = {}
    records: dict[str, int] = {}
    for channel in CHANNELS:
        lines = []
        for i, row in keys.iterrows():
            first = int(np.flatnonzero(~np.isnan(target[i]))[0])
            end = ends[channel]
            record = {
                "start": axis[first].strftime(encoding.start_format),
                "target": target[i, first:end],
                "cat": [cat.values.index(row[cat.name]) for cat in cats],
            }
            if shape.dynamic_feat:
                record["dynamic_feat"] = feats[i, :, first:end]
            lines.append(record)
        files[channel_file(channel)] = records_to_jsonl(lines)
        records[channel] = len(lines)
    files[ENCODING_FILE] = encoding.to_json()
    version = content_version(files)
    published = publish(store, "datasets", version, files)
    return DatasetRef(
        storage_uri=store.root_uri,
        base=published.prefix,
        version=version,
        manifest=published.manifest,
        channels={c: channel_file(c) for c in CHANNELS},
        records=records,
        prediction_length=shape.h,
        freq=spec.frequency,
        cardinality=encoding.cardinality,
        dynamic_feat=[f.name for f in encoding.dynamic_feat],
        last_period=periods.format_period(axis[-1], spec.frequency),
    )
