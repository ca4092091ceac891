"""raw_sales → encoded_series → s3_datasets: thin wiring over the domain functions, built for
a dataset spec (its time partitions are part of the definitions)."""

import warnings

import dagster as dg
import numpy as np
import pandas as pd

from deepar_assets.assets.charts import line_chart
from deepar_assets.assets.charts import table as metadata_table
from deepar_assets.assets.config import DatasetConfig, EncodingConfig, RawSalesConfig
from deepar_assets.automation import follows_new_partitions, follows_upstream
from deepar_assets.constants import CHANNELS, DATA_GROUP
from deepar_assets.domain.checks import RAW_CHECKS
from deepar_assets.domain.covariate_audit import Finding
from deepar_assets.domain.encoding import EncodedSeries, encode
from deepar_assets.domain.landing import LandingLayout, drop_request_from_tags, rows_in_partitions
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import DatasetSpec, periods, spec_hash
from deepar_assets.engines.base import DatasetRef
from deepar_assets.errors import ConfigurationError, DataValidationError
from deepar_assets.resources.paths import deepar_home
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.storage.datasets import publish_dataset
from deepar_assets.storage.landing import read_partition_drop
from deepar_assets.storage.raw import RAW_PREFIX, StoredRaw, read_stored, write_partitions

RAW_SALES = "raw_sales"
ENCODED_SERIES = "encoded_series"
S3_DATASETS = "s3_datasets"


def raw_partitions(spec: DatasetSpec) -> dg.TimeWindowPartitionsDefinition:
    """The spec's time partitions: one window per period of its partition frequency (its own
    frequency unless it asks for a coarser one), from the window holding its first period,
    keyed by the window's start (e.g. ``YYYY-MM-DD``)."""
    freq = periods.frequency(spec.partition_frequency)
    start = periods.partition_start(pd.Timestamp(spec.start), spec.partition_frequency)
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=freq.cron, start=start.strftime(freq.key_format), fmt=freq.key_format
    )


def same_spec(built: DatasetSpec, read: DatasetSpec) -> None:
    """The run's source must read the spec the definitions (and their partitions) came from."""
    if spec_hash(built) != spec_hash(read):
        raise ConfigurationError(
            f"the source reads the dataset spec {read.name} ({spec_hash(read)}), but the code location was loaded "
            f"with {built.name} ({spec_hash(built)}); set resources.source.config.dataset to the same spec as "
            "DEEPAR_DATASET, or reload the code location after changing the spec"
        )


def _series(frame: pd.DataFrame, ids: list[str]) -> int:
    return int(len(frame[ids].drop_duplicates())) if len(frame) else 0


def _period(stamp, spec: DatasetSpec) -> str:
    return periods.format_period(pd.Timestamp(stamp), spec.frequency)


def _read_drop(context: dg.AssetExecutionContext, source: SalesSource, store, spec: DatasetSpec, drop):
    if list(context.partition_keys) != [drop.partition]:
        raise DataValidationError(
            f"the run ingests the drop {drop.target_key} of the partition {drop.partition}, but targets the "
            f"partition(s) {', '.join(context.partition_keys)}; a drop is ingested by a run of its own partition"
        )
    zone = source.landing_zone()
    if drop.zone and drop.zone != zone.root_uri:
        raise DataValidationError(
            f"the run ingests {drop.target_key} from the landing zone {drop.zone}, but its landing zone is "
            f"{zone.root_uri}; DEEPAR_LANDING (or resources.source.config.landing) must be the one the sensor watches"
        )
    stored = StoredRaw(store, spec)  # what the drop is completed with; its changes are merged at the commit
    # Each file in the version the sensor saw, or an error: what is ingested is what is recorded.
    raw = read_partition_drop(zone.pinned(drop.versions), stored, spec, drop, deepar_home() / "work")
    landing = {zone.uri(key): version for key, version in drop.versions.items()}
    context.log.info(f"ingesting the drop of the partition {drop.partition}: {landing}")
    if zone.cleaned:
        context.log.info(f"removed {len(zone.cleaned)} stale local copies of drops that interrupted runs left")
    return zone.uri(drop.target_key), raw, landing, stored


def _raw_metadata(spec: DatasetSpec, raw: RawData, window: RawData, keys: list[str]) -> dict:
    target = window.target
    metadata = {
        "dataset": spec.name,
        "partitions": len(keys),
        "rows": len(target),
        "series": _series(target, spec.ids),
        "id_values": dg.MetadataValue.json({c: int(target[c].nunique()) for c in spec.ids}),
        "first_partition": keys[0],
        "last_partition": keys[-1],
    }
    if len(target):
        metadata["first_period"] = _period(target[spec.time].min(), spec)
        metadata["last_period"] = _period(target[spec.time].max(), spec)
    for table in spec.related:
        frame = raw.related.get(table.name)
        if frame is not None and len(frame):
            metadata[f"{table.name}_known_to"] = _period(frame[table.time.column].max(), spec)
    metadata.update({name: value for name, value in raw.oddities.items() if name not in metadata})
    return metadata


def _write_metadata(context: dg.AssetExecutionContext, written: dict) -> dict:
    """What the commit says: the log entry, the empty partitions (a warning), the cleanup (a
    warning when it failed: the load is stored, and the next commit cleans up again)."""
    empty = written["empty_partitions"]
    if empty:
        context.log.warning(
            f"{len(empty)} partition(s) have no target rows in the source and are stored empty (missing values "
            f"for their periods): {', '.join(empty[:10])}{' …' if len(empty) > 10 else ''}"
        )
    metadata = {
        "commit": dg.MetadataValue.path(written["commit"]),
        "empty_partitions": dg.MetadataValue.json(empty),
    }
    if "cleaned" in written:
        cleaned = written["cleaned"]
        metadata["cleaned"] = dg.MetadataValue.json(cleaned)
        if cleaned["objects_deleted"]:
            context.log.info(f"removed {cleaned['objects_deleted']} raw object(s) no commit uses (interrupted loads)")
    if "cleanup_failed" in written:
        context.log.warning(f"the load is stored, but cleaning up old raw objects failed: {written['cleanup_failed']}")
        metadata["cleanup_failed"] = written["cleanup_failed"]
    return metadata


def build_raw_sales(spec: DatasetSpec) -> dg.AssetsDefinition:
    layout = LandingLayout.of(spec)
    ids = ", ".join(spec.ids)

    @dg.asset(
        name=RAW_SALES,
        group_name=DATA_GROUP,
        partitions_def=raw_partitions(spec),
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[
            dg.AssetCheckSpec(name, asset=RAW_SALES, description=fn.__doc__) for name, fn in RAW_CHECKS.items()
        ],
        description=(
            f"The {spec.name} dataset's {spec.target_column} per ({ids}) and period, with its covariates and "
            "attributes: read from the flat files its spec declares (or the generated synthetic dataset), "
            f"validated, and stored as Parquet, one object per table and {spec.partition_frequency} partition, "
            "each load published whole by one log entry written last (a partition re-materialized replaces its "
            "rows; readers see one whole load or the one before). A period with no rows inside the source's range is "
            "stored empty and reported; a load far from the stored history is refused unless the run config sets "
            "allow_gap. The bulk history loads as one single-run backfill; "
            "a new period arrives as a drop in the landing zone, and the run the landing sensor requests for it "
            "reads that drop."
        ),
    )
    def raw_sales(
        context: dg.AssetExecutionContext, config: RawSalesConfig, source: SalesSource, storage: StorageResource
    ):
        same_spec(spec, source.spec())
        keys = list(context.partition_keys)
        store = storage.store()
        drop = drop_request_from_tags(context.run.tags, layout)
        landing = over = None
        if drop is None:  # the history: the source's files, every one validated before anything is stored
            folder, kind = source.folder()
            raw = source.load()
            where = raw.source or str(folder)  # an s3:// source is named as such, not by its local copy
        else:  # one partition's drop in the landing zone
            kind = "landing"
            where, raw, landing, stored = _read_drop(context, source, store, spec, drop)
            over = stored.manifest
        # Every partition is checked before anything is written; the load is published whole, last.
        written = write_partitions(
            store,
            raw,
            keys,
            over=over,  # a drop: only what it changes in the stored related rows is merged
            allow_gap=config.allow_gap,
            load={"kind": kind, "source": where, "run_id": context.run_id, **({"landing": landing} if landing else {})},
        )
        window = rows_in_partitions(raw, keys)
        yield dg.MaterializeResult(
            metadata={
                "source": dg.MetadataValue.path(where),
                "source_kind": kind,
                "stored_at": dg.MetadataValue.path(store.uri(RAW_PREFIX)),
                **_raw_metadata(spec, raw, window, keys),
                **({"landing_files": dg.MetadataValue.json(landing)} if landing else {}),
                **_write_metadata(context, written),
            }
        )
        for name, check in RAW_CHECKS.items():
            outcome = check(window)
            yield dg.AssetCheckResult(
                check_name=name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.WARN,
                description=outcome.description,
                metadata=outcome.figures,
            )

    return raw_sales


def _preview(encoded: EncodedSeries) -> dg.TableMetadataValue:
    names = [c.name for c in encoded.encoding.cat]
    kinds = {
        name: "int" if pd.api.types.is_integer_dtype(encoded.keys[name]) else "string"
        for name in names
        if name in encoded.keys
    }
    records = []
    for i in range(min(10, encoded.n_series)):
        row = encoded.keys.iloc[i]
        values = {name: (int(row[name]) if kinds[name] == "int" else str(row[name])) for name in kinds}
        records.append(
            dg.TableRecord(
                {
                    **values,
                    "cat": str(encoded.cat[i].tolist()),
                    "start": encoded.start_strings[encoded.first[i]],
                    "periods": int(encoded.n_history - encoded.first[i]),
                    "observed": int(np.count_nonzero(~np.isnan(encoded.target[i]))),
                }
            )
        )
    columns = [dg.TableColumn(name, kind) for name, kind in kinds.items()]
    columns += [
        dg.TableColumn("cat", "string"),
        dg.TableColumn("start", "string"),
        dg.TableColumn("periods", "int"),
        dg.TableColumn("observed", "int"),
    ]
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=columns))


def build_encoded_series(spec: DatasetSpec) -> dg.AssetsDefinition:
    ids = ", ".join(spec.ids)

    @dg.asset(
        name=ENCODED_SERIES,
        group_name=DATA_GROUP,
        deps=[RAW_SALES],
        backfill_policy=dg.BackfillPolicy.single_run(),
        automation_condition=follows_new_partitions(),
        description=(
            f"One DeepAR series per ({ids}) over every stored period: target with NaN for missing periods, cat "
            "codes 0..N-1 for the ids and the categorical attributes, dynamic features filled and scaled as the "
            "spec declares and known ahead of the last period; the encoding (code ↔ value, fill and scaling, the "
            "spec) kept beside. Scaling statistics come from the training channel (up to T - 2h), and every feature "
            "whose later values that channel does not cover is clipped, dropped or refused as the spec declares "
            "(outside_training), listed in covariate_audit."
        ),
    )
    def encoded_series(
        context: dg.AssetExecutionContext, config: EncodingConfig, storage: StorageResource
    ) -> dg.Output[EncodedSeries]:
        raw = read_stored(storage.store(), spec)
        encoded = encode(raw, config.features())
        findings = [Finding(**f) for f in encoded.encoding.audit]
        for finding in findings:
            context.log.warning(finding.text())
        history = encoded.periods[: encoded.n_history]
        total = pd.Series(np.nansum(encoded.target, axis=0), index=history)
        return dg.Output(
            encoded,
            metadata={
                **encoded.stats,
                "dataset": spec.name,
                "first_period": _period(encoded.periods[0], spec),
                "last_period": _period(encoded.last_period, spec),
                "future_feature_periods": encoded.future_periods,
                "cardinality": dg.MetadataValue.json({c.name: len(c.values) for c in encoded.encoding.cat}),
                "dynamic_feat": dg.MetadataValue.json(
                    [{"name": f.name, "fill": f.fill, "scale": f.scale} for f in encoded.encoding.dynamic_feat]
                ),
                "covariate_audit": metadata_table(
                    pd.DataFrame([f.to_dict() for f in findings], columns=list(Finding.__dataclass_fields__))
                ),
                "features_clipped": sum(f.action == "clip" for f in findings),
                "features_dropped": dg.MetadataValue.json([f.feature for f in findings if f.action == "drop"]),
                "preview": _preview(encoded),
                "total_target": line_chart(total, f"Total {spec.target_column} per period", spec.target_column),
            },
        )

    return encoded_series


def build_s3_datasets(spec: DatasetSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=S3_DATASETS,
        group_name=DATA_GROUP,
        backfill_policy=dg.BackfillPolicy.single_run(),
        automation_condition=follows_upstream(),
        description=(
            "train / test / validation channels as DeepAR JSON Lines with encoding.json, under a content-hashed "
            f"version prefix in object storage, published by a manifest written last; the horizon is the spec's "
            f"({spec.prediction_length} periods) unless the run config sets one."
        ),
    )
    def s3_datasets(
        context: dg.AssetExecutionContext,
        config: DatasetConfig,
        encoded_series: EncodedSeries,
        storage: StorageResource,
    ) -> dg.Output[DatasetRef]:
        store = storage.store()
        horizon = config.horizon(encoded_series.spec)
        dataset = publish_dataset(
            store,
            encoded_series,
            horizon,
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
        if "failed" in dataset.cleaned:
            context.log.warning(f"cleaning up what interrupted publishes left failed: {dataset.cleaned['failed']}")
        last = {c: _period(encoded_series.periods[split.ends[c] - 1], encoded_series.spec) for c in CHANNELS}
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
                **{f"{c}_last_period": last[c] for c in CHANNELS},
                "excluded": dg.MetadataValue.json(split.excluded),
                "test_origins": 1 + len(split.extra_test_origins),
                "objects_uploaded": dataset.published.uploaded,
                "cleaned": dg.MetadataValue.json(dataset.cleaned),  # what interrupted publishes left
                "prediction_length": horizon,
            },
        )

    return s3_datasets


def build_data_assets(spec: DatasetSpec) -> list[dg.AssetsDefinition]:
    """raw_sales (partitioned by the spec), encoded_series and s3_datasets."""
    with warnings.catch_warnings():
        # backfill_policy (a partition range as one run) is marked beta: saying so at every build is noise.
        warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
        return [build_raw_sales(spec), build_encoded_series(spec), build_s3_datasets(spec)]
