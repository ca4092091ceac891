"""raw_sales → encoded_series → s3_datasets: thin wiring over the domain functions."""


import dagster as dg

from deepar_assets.assets.config import DatasetConfig, EncodingConfig
from deepar_assets.constants import CHANNELS, DATA_GROUP
from deepar_assets.domain.encoding import EncodedSeries, encode
from deepar_assets.domain.kaggle import RawData
from deepar_assets.engines.base import DatasetRef
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.storage.datasets import publish_dataset


@dg.asset(group_name=DATA_GROUP)
def raw_sales(context: dg.AssetExecutionContext, source: SalesSource) -> dg.Output[RawData]:
    """Weekly sales per store and department, with store features and attributes, read from the
    Kaggle-layout flat files (or the generated synthetic dataset) and validated."""
    folder, kind = source.folder()
    raw = source.load()
    sales = raw.sales
    return dg.Output(
        raw,
        metadata={
            "source": dg.MetadataValue.path(str(folder)),
            "source_kind": kind,
            "rows": len(sales),
            "stores": int(sales["Store"].nunique()),
            "departments": int(sales["Dept"].nunique()),
            "series": int(len(sales[["Store", "Dept"]].drop_duplicates())),
            "first_week": f"{sales['Date'].min():%Y-%m-%d}",
            "last_week": f"{sales['Date'].max():%Y-%m-%d}",
            "feature_weeks_to": f"{raw.features['Date'].max():%Y-%m-%d}",
            **{name: value for name, value in raw.oddities.items()},
        },
    )


@dg.asset(group_name=DATA_GROUP)
def encoded_series(config: EncodingConfig, raw_sales: RawData) -> dg.Output[EncodedSeries]:
    """One DeepAR series per (Store, Dept): target with NaN for missing weeks, cat codes 0..N-1
    for Store, Dept and Type, filled and scaled dynamic features; the encoding kept beside."""
    encoded = encode(raw_sales, tuple(config.dynamic_features))
    return dg.Output(
        encoded,
        metadata={
            **encoded.stats,
            "last_week": f"{encoded.last_week:%Y-%m-%d}",
            "future_feature_weeks": encoded.future_weeks,
            "cardinality": dg.MetadataValue.json(
                {c.name: len(c.values) for c in encoded.encoding.cat}
            ),
            "dynamic_feat": dg.MetadataValue.json(
                [{"name": f.name, "fill": f.fill, "scale": f.scale} for f in encoded.encoding.dynamic_feat]
            ),
        },
    )


@dg.asset(group_name=DATA_GROUP)
def s3_datasets(
    context: dg.AssetExecutionContext,
    config: DatasetConfig,
    encoded_series: EncodedSeries,
    storage: StorageResource,
) -> dg.Output[DatasetRef]:
    """train / test / validation channels as DeepAR JSON Lines with encoding.json, under a
    content-hashed version prefix in object storage, published by a manifest written last."""
    store = storage.store()
    dataset = publish_dataset(store, encoded_series, config.prediction_length)
    ref, split = dataset.ref, dataset.split
    if dataset.published.uploaded:
        context.log.info(f"published dataset version {ref.version} at {store.uri(ref.base)}")
    else:
        context.log.info(f"dataset version {ref.version} already published; nothing uploaded")
    return dg.Output(
        ref,
        metadata={
            "version": ref.version,
            "uri": dg.MetadataValue.path(store.uri(ref.base)),
            **{f"{c}_uri": dg.MetadataValue.path(store.uri(f"{ref.base}/{ref.channels[c]}")) for c in CHANNELS},
            **{f"{c}_series": ref.records[c] for c in CHANNELS},
            **{f"{c}_bytes": dataset.sizes[ref.channels[c]] for c in CHANNELS},
            **{f"{c}_last_week": f"{encoded_series.weeks[split.ends[c] - 1]:%Y-%m-%d}" for c in CHANNELS},
            "excluded": dg.MetadataValue.json(split.excluded),
            "objects_uploaded": dataset.published.uploaded,
            "prediction_length": config.prediction_length,
        },
    )
