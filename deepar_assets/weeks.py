"""Print the partition range covering the configured source's target periods, as ``first...last``.

``make run`` (``deepar_assets.launch``) materializes that range, so the bulk history loads as
one single-run backfill; this module prints it for Dagster's CLI (``--partition-range``). The
keys follow the spec's partition frequency (the data's own frequency unless the spec asks for
coarser partitions). The module keeps its historical name.
"""

from __future__ import annotations

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import periods
from deepar_assets.resources.source import SalesSource


def partition_range(raw: RawData) -> tuple[str, str]:
    """The first and last partition keys holding target rows."""
    times = raw.target[raw.spec.time]
    alias = raw.spec.partition_frequency
    return periods.partition_key(times.min(), alias), periods.partition_key(times.max(), alias)


def source_partition_range() -> tuple[str, str]:
    return partition_range(SalesSource().load())


def main() -> int:
    first, last = source_partition_range()
    print(f"{first}...{last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
