"""raw_sales → encoded_series → s3_datasets: thin wiring over the domain functions."""


import dagster as dg
import numpy as np
import pandas as pd

from deepar_assets.assets.charts import line_chart
from deepar_assets.assets.config import DatasetConfig, EncodingConfig
from deepar_assets.automation import follows_new_weeks, follows_upstream
from deepar_assets.constants import CHANNELS, DATA_GROUP, FIRST_WEEK
from deepar_assets.domain.checks import RAW_CHECKS
from deepar_assets.domain.encoding import EncodedSeries, encode
from deepar_assets.domain.kaggle import RawData
from deepar_assets.domain.landing import drop_request_from_tags
from deepar_assets.engines.base import DatasetRef
from deepar_assets.errors import DataValidationError
from deepar_assets.resources.paths import deepar_home
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.storage.datasets import publish_dataset
from deepar_assets.storage.landing import read_week_drop
from deepar_assets.storage.raw import RAW_PREFIX, read_stored, write_weeks

WEEKS = dg.WeeklyPartitionsDefinition(start_date=FIRST_WEEK, day_offset=5, fmt="%Y-%m-%d")
"""Walmart weeks: one partition per Friday (day_offset 5 = Friday), keyed YYYY-MM-DD."""


@dg.asset(
    group_name=DATA_GROUP,
    partitions_def=WEEKS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[dg.AssetCheckSpec(name, asset="raw_sales", description=fn.__doc__) for name, fn in RAW_CHECKS.items()],
)
def raw_sales(context: dg.AssetExecutionContext, source: SalesSource, storage: StorageResource):
    """Weekly sales per store and department, with the week's store features and the store
    attributes: read from the Kaggle-layout flat files (or the generated synthetic dataset),
    validated, and stored as Parquet, one object per week (a week re-materialized replaces its
    rows). The bulk history loads as one single-run backfill; a new week arrives as a drop in
    the landing zone, and the run the landing sensor requests for it reads that drop."""
    weeks = pd.to_datetime(context.partition_keys)
    store = storage.store()
    drop = drop_request_from_tags(context.run.tags)
    if drop is None:  # the history: the source's files
        folder, kind = source.folder()
        where, raw, landing = str(folder), source.load(), None  # validates every file before anything is stored
    else:  # one week's drop in the landing zone
        if list(context.partition_keys) != [drop.week]:
            raise DataValidationError(
                f"the run ingests the drop {drop.sales_key} of the week {drop.week}, but targets the partition(s) "
                f"{', '.join(context.partition_keys)}; a drop is ingested by a run of its own week"
            )
        zone = source.landing_zone()
        if drop.zone and drop.zone != zone.root_uri:
            raise DataValidationError(
                f"the run ingests {drop.sales_key} from the landing zone {drop.zone}, but its landing zone is "
                f"{zone.root_uri}; DEEPAR_LANDING (or resources.source.config.landing) must be the one the sensor watches"
            )
        where, kind = zone.uri(drop.sales_key), "landing"
        raw = read_week_drop(zone, store, drop, deepar_home() / "work")
        landing = {zone.uri(key): version for key, version in drop.versions.items()}
        context.log.info(f"ingesting the drop of the week {drop.week}: {landing}")
    window = RawData(
        sales=raw.sales[raw.sales["Date"].isin(weeks)],
        features=raw.features,
        stores=raw.stores,
        source=raw.source,
    )
    written = write_weeks(store, window, weeks)
    sales = window.sales
    in_weeks = RawData(sales, raw.features[raw.features["Date"].isin(weeks)], raw.stores, raw.source)
    yield dg.MaterializeResult(
        metadata={
            "source": dg.MetadataValue.path(where),
            "source_kind": kind,
            "stored_at": dg.MetadataValue.path(store.uri(RAW_PREFIX)),
            "weeks": written["weeks"],
            "rows": len(sales),
            "stores": int(sales["Store"].nunique()),
            "departments": int(sales["Dept"].nunique()),
            "series": int(len(sales[["Store", "Dept"]].drop_duplicates())),
            "first_week": f"{weeks.min():%Y-%m-%d}",
            "last_week": f"{weeks.max():%Y-%m-%d}",
            "feature_weeks_to": f"{raw.features['Date'].max():%Y-%m-%d}",
            "negative_sales_rows": int((sales["Weekly_Sales"] < 0).sum()),
            **{name: value for name, value in raw.oddities.items() if name != "negative_sales_rows"},
            **({"landing_files": dg.MetadataValue.json(landing)} if landing else {}),
        }
    )
    for name, check in RAW_CHECKS.items():
        outcome = check(in_weeks)
        yield dg.AssetCheckResult(
            check_name=name,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=outcome.description,
            metadata=outcome.figures,
        )


@dg.asset(
    group_name=DATA_GROUP,
    deps=[raw_sales],
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=follows_new_weeks(),
)
def encoded_series(config: EncodingConfig, storage: StorageResource) -> dg.Output[EncodedSeries]:
    """One DeepAR series per (Store, Dept) over every stored week: target with NaN for missing
    weeks, cat codes 0..N-1 for Store, Dept and Type, filled and scaled dynamic features known
    ahead of the last week; the encoding (code ↔ value, fill and scaling) kept beside."""
    raw = read_stored(storage.store())
    encoded = encode(raw, tuple(config.dynamic_features))
    total = pd.Series(np.nansum(encoded.target, axis=0), index=encoded.weeks[: encoded.n_history])
    preview = [
        dg.TableRecord(
            {
                "Store": int(row.Store),
                "Dept": int(row.Dept),
                "Type": str(row.Type),
                "cat": str(encoded.cat[i].tolist()),
                "start": encoded.start_strings[encoded.first[i]],
                "weeks": int(encoded.n_history - encoded.first[i]),
                "observed": int(np.count_nonzero(~np.isnan(encoded.target[i]))),
            }
        )
        for i, row in enumerate(encoded.keys.head(10).itertuples())
    ]
    return dg.Output(
        encoded,
        metadata={
            **encoded.stats,
            "first_week": f"{encoded.weeks[0]:%Y-%m-%d}",
            "last_week": f"{encoded.last_week:%Y-%m-%d}",
            "future_feature_weeks": encoded.future_weeks,
            "cardinality": dg.MetadataValue.json({c.name: len(c.values) for c in encoded.encoding.cat}),
            "dynamic_feat": dg.MetadataValue.json(
                [{"name": f.name, "fill": f.fill, "scale": f.scale} for f in encoded.encoding.dynamic_feat]
            ),
            "preview": dg.MetadataValue.table(
                records=preview,
                schema=dg.TableSchema(
                    columns=[
                        dg.TableColumn("Store", "int"),
                        dg.TableColumn("Dept", "int"),
                        dg.TableColumn("Type", "string"),
                        dg.TableColumn("cat", "string"),
                        dg.TableColumn("start", "string"),
                        dg.TableColumn("weeks", "int"),
                        dg.TableColumn("observed", "int"),
                    ]
                ),
            ),
            "total_weekly_sales": line_chart(total, "Total weekly sales", "sales"),
        },
    )


@dg.asset(
    group_name=DATA_GROUP,
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=follows_upstream(),
)
def s3_datasets(
    context: dg.AssetExecutionContext,
    config: DatasetConfig,
    encoded_series: EncodedSeries,
    storage: StorageResource,
) -> dg.Output[DatasetRef]:
    """train / test / validation channels as DeepAR JSON Lines with encoding.json, under a
    content-hashed version prefix in object storage, published by a manifest written last."""
    store = storage.store()
    dataset = publish_dataset(
        store,
        encoded_series,
        config.prediction_length,
        compress=config.compress,
        rolling_origins=config.rolling_origins,
        origin_step=config.origin_step or None,
        staging_dir=deepar_home() / "work",
    )
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
            **store.describe(),
            "compressed": config.compress,
            **{f"{c}_uri": dg.MetadataValue.path(store.uri(f"{ref.base}/{ref.channels[c]}")) for c in CHANNELS},
            **{f"{c}_series": ref.records[c] for c in CHANNELS},
            **{f"{c}_bytes": dataset.sizes[ref.channels[c]] for c in CHANNELS},
            **{f"{c}_last_week": f"{encoded_series.weeks[split.ends[c] - 1]:%Y-%m-%d}" for c in CHANNELS},
            "excluded": dg.MetadataValue.json(split.excluded),
            "test_origins": 1 + len(split.extra_test_origins),
            "objects_uploaded": dataset.published.uploaded,
            "prediction_length": config.prediction_length,
        },
    )
