"""Replay the last partitions of a dataset's source into the landing zone, one partition at a
time, to watch the platform ingest them.

    python -m deepar_assets.replay --partitions 8 --holdout-dir .deepar/history
    DEEPAR_SOURCE=.deepar/history make run          # the history without those 8 partitions
    DEEPAR_LANDING=.deepar/landing make ui          # the sensors are on: watch the runs
    python -m deepar_assets.replay --partitions 8 --landing .deepar/landing --pace 60

The dataset is the spec's (``--dataset``, else $DEEPAR_DATASET, else the synthetic one); its
partitions are the spec's time partitions. ``--holdout-dir`` writes the source without the
target rows of its last N partitions (the related tables and the metadata whole: covariates
are known ahead of the target). ``--landing`` (a folder or s3://bucket/prefix) receives those N
partitions as drops, oldest first, ``--pace`` seconds apart: ``<partition>_<related table>.csv``
for each related table (the partition's rows; ``--no-related`` leaves them out), then
``<partition>_<target table>.csv`` (its target rows), each written whole (a folder: a hidden
temporary name, then a rename). CSV values are passed on exactly as the source writes them; a
Parquet table is dropped as Parquet. Without ``--source``: the configured source
($DEEPAR_SOURCE, else the synthetic dataset).
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepar_assets.domain.landing import drop_name
from deepar_assets.domain.reading import layout, read_as_text, read_dataset, table_files
from deepar_assets.domain.reading.files import file_format, is_glob
from deepar_assets.domain.reading.tables import read_header
from deepar_assets.domain.spec import DatasetSpec, periods
from deepar_assets.domain.spec.models import MetadataTable
from deepar_assets.errors import ConfigurationError, DeepARAssetsError
from deepar_assets.storage.landing import LandingZone
from deepar_assets.storage.local import FolderStore


@dataclass
class SourceTable:
    """One table of the source: its rows (CSV: every column as text, exactly as written;
    Parquet: as typed), the partition of each row (None for a metadata table), and where the
    history writes it."""

    name: str
    rows: pd.DataFrame
    partition: pd.Series | None
    parquet: bool
    path: str  # relative to the history folder
    pattern: str | None = None  # the spec's glob, when it has one

    def partitions(self) -> pd.Series:
        """The partition of each row (a target or related table)."""
        if self.partition is None:
            raise ConfigurationError(f"{self.name} is a metadata table: it has no partitions")
        return self.partition


@dataclass
class Holdout:
    """A source split in two: the history, and the last partitions held back as drops."""

    spec: DatasetSpec
    partitions: list[str]  # the held-back partition keys, oldest first
    tables: dict[str, SourceTable]

    @property
    def target(self) -> str:
        return self.spec.target.name

    def history(self, table: str) -> pd.DataFrame:
        """A table without the held-back target rows (related and metadata tables whole)."""
        source = self.tables[table]
        if table != self.target:
            return source.rows
        return source.rows[~source.partitions().isin(self.partitions).to_numpy()]

    def partition_rows(self, partition: str, table: str) -> pd.DataFrame:
        """The rows of a target or related table in one partition."""
        source = self.tables[table]
        return source.rows[(source.partitions() == partition).to_numpy()]


def _history_path(folder: Path, file: str, found: list[Path], parquet: bool, table: str) -> str:
    if is_glob(file):
        return found[0].relative_to(folder).as_posix()
    if Path(file).is_absolute():
        raise ConfigurationError(
            f"{table}.file: {file} is an absolute path, so a history folder cannot stand in for it; give the spec a "
            "path relative to the source to replay it"
        )
    if any(file.lower().endswith(s) for s in (".csv", ".csv.gz", ".parquet")):
        return file
    return file + (".parquet" if parquet else ".csv")


def _read_rows(paths: list[Path], spec: DatasetSpec, table) -> tuple[pd.DataFrame, bool]:
    formats = {file_format(p) for p in paths}
    if len(formats) > 1:
        raise ConfigurationError(f"{table.name}: its files mix CSV and Parquet ({', '.join(map(str, paths))})")
    if formats == {"parquet"}:
        frames = [pq.read_table(p).to_pandas() for p in paths]
        return (frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)), True
    frames = []
    for path in paths:
        names = [n.strip().lstrip("\ufeff") for n in read_header(path, layout(spec, table))]
        frames.append(read_as_text(path, names))
    return (frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)), False


def _partitions(rows: pd.DataFrame, column: str, fmt: str, parquet: bool, spec: DatasetSpec) -> pd.Series:
    """The partition key of each row, from its timestamp."""
    values = rows[column]
    if parquet and not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        times = pd.to_datetime(values)
    else:
        times = pd.to_datetime(values.astype(str).str.strip(), format=fmt)
    unique = pd.DatetimeIndex(pd.unique(times))
    keys = pd.Series([periods.partition_key(t, spec.partition_frequency) for t in unique], index=unique)
    return pd.Series(keys.reindex(pd.DatetimeIndex(times)).to_numpy(), index=rows.index)


def hold_out(source: str | Path, n_partitions: int, spec: DatasetSpec) -> Holdout:
    """Read (and validate) a source folder of ``spec`` and hold back its last ``n_partitions``
    partitions."""
    if n_partitions < 1:
        raise ConfigurationError(f"--partitions {n_partitions}: expected 1 or more partitions to hold back")
    folder = Path(source)
    read_dataset(spec, folder)  # the same validation as the bulk load: a bad source fails here, clearly
    files = table_files(spec, folder)
    tables = {}
    for table in spec.tables:
        rows, parquet = _read_rows(files[table.name], spec, table)
        partition = None
        if not isinstance(table, MetadataTable):
            partition = _partitions(rows, table.time.column, table.time.format, parquet, spec)
        path = _history_path(folder, table.file, files[table.name], parquet, table.name)
        tables[table.name] = SourceTable(
            table.name, rows, partition, parquet, path, table.file if is_glob(table.file) else None
        )
    fmt = periods.frequency(spec.partition_frequency).key_format
    keys = sorted(tables[spec.target.name].partitions().unique(), key=lambda k: pd.to_datetime(k, format=fmt))
    if n_partitions >= len(keys):
        raise ConfigurationError(
            f"{source}: the source has {len(keys)} partitions of {spec.target.name}; hold back fewer than that "
            f"(--partitions {n_partitions})"
        )
    return Holdout(spec=spec, partitions=keys[-n_partitions:], tables=tables)


def csv_bytes(frame: pd.DataFrame, compress: bool = False) -> bytes:
    data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return gzip.compress(data, mtime=0) if compress else data


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


def _table_bytes(frame: pd.DataFrame, path: str, parquet: bool) -> bytes:
    return parquet_bytes(frame) if parquet else csv_bytes(frame, compress=path.lower().endswith(".gz"))


def write_history(holdout: Holdout, folder: str | Path) -> Path:
    """The source without the held-back target rows, each table where the spec looks for it in
    ``folder`` (written whole; the other suffixes of a name without one are removed, so the
    folder holds one file per table)."""
    store = FolderStore(folder)
    for name, table in holdout.tables.items():
        store.put_bytes(table.path, _table_bytes(holdout.history(name), table.path, table.parquet))
        spec_file = holdout.spec.table(name).file
        if table.pattern is None and not any(spec_file.lower().endswith(s) for s in (".csv", ".csv.gz", ".parquet")):
            for suffix in (".csv", ".csv.gz", ".parquet"):
                other = store.root / (spec_file + suffix)
                if other != store.root / table.path:
                    other.unlink(missing_ok=True)
        if table.pattern is not None:
            matches = sorted(p for p in store.root.glob(table.pattern) if p.is_file())
            if matches != [store.root / table.path]:
                raise ConfigurationError(
                    f"{store.root}: {table.pattern!r} ({name}.file) matches {', '.join(map(str, matches))}; write the "
                    "history into an empty folder"
                )
    return store.root


def drop_partitions(
    holdout: Holdout,
    zone: LandingZone,
    pace: float = 0.0,
    *,
    related: bool = True,
    compress: bool = False,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Write the held-back partitions into the landing zone, oldest first, ``pace`` seconds
    apart: each related table's drop of the partition (unless ``related`` is False), then the
    target table's."""
    keys = []
    tables = [t.name for t in holdout.spec.related] if related else []
    for i, partition in enumerate(holdout.partitions):
        if i and pace > 0:
            sleep(pace)
        for name in [*tables, holdout.target]:
            rows = holdout.partition_rows(partition, name)
            if not len(rows):
                continue
            parquet = holdout.tables[name].parquet
            key = drop_name(partition, name, ".parquet" if parquet else ".csv.gz" if compress else ".csv")
            zone.put(key, parquet_bytes(rows) if parquet else csv_bytes(rows, compress))
            keys.append(key)
            log(f"dropped {zone.uri(key)} ({len(rows)} rows)")
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deepar_assets.replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", help="the dataset spec: a shipped name or a YAML path (default: $DEEPAR_DATASET)")
    parser.add_argument("--source", help="the spec's files (default: $DEEPAR_SOURCE, else the synthetic dataset)")
    parser.add_argument(
        "--partitions",
        "--weeks",
        dest="partitions",
        type=int,
        default=8,
        help="how many of the last partitions to hold back (default 8)",
    )
    parser.add_argument("--holdout-dir", help="write the source without those partitions here (a folder)")
    parser.add_argument("--landing", help="drop those partitions here, one at a time: a folder or s3://bucket/prefix")
    parser.add_argument("--pace", type=float, default=60.0, help="seconds between two partitions (default 60)")
    parser.add_argument(
        "--no-related", "--no-features", dest="no_related", action="store_true", help="drop target files only"
    )
    parser.add_argument("--compress", action="store_true", help="gzip the CSV drops (.csv.gz)")
    args = parser.parse_args(argv)
    if not args.holdout_dir and not args.landing:
        parser.error("give --holdout-dir (write the history), --landing (drop the partitions), or both")
    from deepar_assets.resources.source import SalesSource

    try:
        source = SalesSource(dataset=args.dataset, location=args.source, landing=args.landing)
        spec = source.spec()
        folder = source.folder()[0]
        holdout = hold_out(folder, args.partitions, spec)
        print(
            f"{folder}: holding back {len(holdout.partitions)} partition(s) of {spec.name}, "
            f"{holdout.partitions[0]} to {holdout.partitions[-1]}"
        )
        if args.holdout_dir:
            written = write_history(holdout, args.holdout_dir)
            print(f"history without them written to {written}; load it with: DEEPAR_SOURCE={written} make run")
        if args.landing:
            drop_partitions(
                holdout, source.landing_zone(), args.pace, related=not args.no_related, compress=args.compress
            )
    except DeepARAssetsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
