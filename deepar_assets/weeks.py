"""Print the partition range of the configured source's weeks, as ``first...last``.

``make run`` passes it to ``dagster asset materialize --partition-range`` so the bulk history
loads as one single-run backfill.
"""

from __future__ import annotations

from deepar_assets.resources.source import SalesSource


def source_week_range() -> tuple[str, str]:
    raw = SalesSource().load()
    dates = raw.sales["Date"]
    return f"{dates.min():%Y-%m-%d}", f"{dates.max():%Y-%m-%d}"


def main() -> int:
    first, last = source_week_range()
    print(f"{first}...{last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
