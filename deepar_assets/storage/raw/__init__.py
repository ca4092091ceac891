"""Validated raw data, stored columnar, one whole load at a time.

Layout under the store (table names are the spec's):

- ``raw/<table>/<partition key>/<sha256[:16]>.parquet``: the rows of a target or related table
  whose timestamp falls in the partition's window; related tables also have partitions after
  the target's last one (the covariates known ahead, which forecasts need);
- ``raw/metadata/<table>/<sha256[:16]>.parquet``: a metadata table (the static attributes);
- ``raw/_log/<seq>.json``: one entry per load, each holding the whole manifest (table ->
  partition -> object, rows, sha256) and where the load came from.

Objects are named by their content and never overwritten; a load is published by creating the
next log entry, last, with the store's create-only write, so a reader (who reads the latest
entry only) sees one whole load or the one before, and two loads at once both land, the second
merged over the first. Storage written before the log (``raw/<table>/<key>.parquet``,
``raw/<related>_ahead.parquet``) is imported as the first entry when it is first read.
"""

from deepar_assets.storage.raw.layout import LOG_PREFIX, METADATA_PREFIX, RAW_PREFIX, table_prefix
from deepar_assets.storage.raw.manifest import Entry, Manifest, clean, latest
from deepar_assets.storage.raw.read import (
    StoredRaw,
    read_ahead,
    read_metadata,
    read_partition,
    read_stored,
    stored_partitions,
)
from deepar_assets.storage.raw.write import Gap, check_gap, longest_new_gap, write_partitions

__all__ = [
    "LOG_PREFIX",
    "METADATA_PREFIX",
    "RAW_PREFIX",
    "Entry",
    "Gap",
    "Manifest",
    "StoredRaw",
    "check_gap",
    "clean",
    "latest",
    "longest_new_gap",
    "read_ahead",
    "read_metadata",
    "read_partition",
    "read_stored",
    "stored_partitions",
    "table_prefix",
    "write_partitions",
]
