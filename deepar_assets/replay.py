"""Replay the last weeks of a Kaggle-layout source into the landing zone, one week at a time,
to watch the platform ingest them.

    python -m deepar_assets.replay --weeks 8 --holdout-dir .deepar/history
    DEEPAR_SOURCE=.deepar/history make run          # the history without those 8 weeks
    DEEPAR_LANDING=.deepar/landing make ui          # the sensors are on: watch the runs
    python -m deepar_assets.replay --weeks 8 --landing .deepar/landing --pace 60

``--holdout-dir`` writes the source without its last N weeks of sales (``features.csv`` and
``stores.csv`` whole: features are known ahead of the sales). ``--landing`` (a folder or
s3://bucket/prefix) receives those N weeks as drops, oldest first, ``--pace`` seconds apart:
``YYYY-MM-DD_features.csv`` (the week's features rows; ``--no-features`` leaves them out), then
``YYYY-MM-DD_sales.csv`` (its rows of ``train.csv``), each written whole (a folder: a hidden
temporary name, then a rename). Values are passed on exactly as the source writes them.
Without ``--source``: the configured source ($DEEPAR_SOURCE, else the synthetic dataset).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepar_assets.domain.kaggle import (
    FEATURES_COLUMNS,
    FEATURES_FILE,
    SALES_COLUMNS,
    SALES_FILE,
    STORES_COLUMNS,
    STORES_FILE,
    find_file,
    read_as_text,
    read_kaggle,
)
from deepar_assets.domain.landing import FEATURES, SALES, drop_name
from deepar_assets.errors import ConfigurationError, DeepARAssetsError
from deepar_assets.storage.landing import LandingZone
from deepar_assets.storage.local import FolderStore


@dataclass
class Holdout:
    """A source split in two: the history, and the last weeks held back as drops."""

    weeks: list[str]  # the held-back weeks, oldest first (YYYY-MM-DD)
    sales: pd.DataFrame  # every sales row, as text
    features: pd.DataFrame
    stores: pd.DataFrame

    def history_sales(self) -> pd.DataFrame:
        return self.sales[~self.sales["Date"].str.strip().isin(self.weeks)]

    def week_rows(self, week: str, kind: str) -> pd.DataFrame:
        frame = self.sales if kind == SALES else self.features
        return frame[frame["Date"].str.strip() == week]


def hold_out(source: str | Path, n_weeks: int) -> Holdout:
    """Read (and validate) a Kaggle-layout folder and hold back its last ``n_weeks`` weeks."""
    if n_weeks < 1:
        raise ConfigurationError(f"--weeks {n_weeks}: expected 1 or more weeks to hold back")
    read_kaggle(source)  # the same validation as the bulk load: a bad source fails here, clearly
    sales = read_as_text(find_file(source, SALES_FILE), SALES_COLUMNS)
    weeks = sorted(sales["Date"].str.strip().unique().tolist())
    if n_weeks >= len(weeks):
        raise ConfigurationError(
            f"{source}: the source has {len(weeks)} weeks of sales; hold back fewer than that (--weeks {n_weeks})"
        )
    return Holdout(
        weeks=weeks[-n_weeks:],
        sales=sales,
        features=read_as_text(find_file(source, FEATURES_FILE), FEATURES_COLUMNS),
        stores=read_as_text(find_file(source, STORES_FILE), STORES_COLUMNS),
    )


def csv_bytes(frame: pd.DataFrame, compress: bool = False) -> bytes:
    data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return gzip.compress(data, mtime=0) if compress else data


def write_history(holdout: Holdout, folder: str | Path) -> Path:
    """The source without the held-back weeks of sales, as train.csv, features.csv and
    stores.csv in ``folder`` (each written whole; a .csv.gz left there is removed)."""
    store = FolderStore(folder)
    for name, frame in (
        (SALES_FILE, holdout.history_sales()),
        (FEATURES_FILE, holdout.features),
        (STORES_FILE, holdout.stores),
    ):
        store.put_bytes(f"{name}.csv", csv_bytes(frame))
        (store.root / f"{name}.csv.gz").unlink(missing_ok=True)
    return store.root


def drop_weeks(
    holdout: Holdout,
    zone: LandingZone,
    pace: float = 0.0,
    *,
    features: bool = True,
    compress: bool = False,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Write the held-back weeks into the landing zone, oldest first, ``pace`` seconds apart:
    the week's features drop (unless ``features`` is False), then its sales drop."""
    keys = []
    for i, week in enumerate(holdout.weeks):
        if i and pace > 0:
            sleep(pace)
        kinds = ([FEATURES] if features else []) + [SALES]
        for kind in kinds:
            rows = holdout.week_rows(week, kind)
            if not len(rows):
                continue
            key = drop_name(week, kind, compress)
            zone.put(key, csv_bytes(rows, compress))
            keys.append(key)
            log(f"dropped {zone.uri(key)} ({len(rows)} rows)")
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deepar_assets.replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", help="Kaggle-layout folder (default: $DEEPAR_SOURCE, else the synthetic dataset)")
    parser.add_argument("--weeks", type=int, default=8, help="how many of the last weeks to hold back (default 8)")
    parser.add_argument("--holdout-dir", help="write the source without those weeks here (a folder)")
    parser.add_argument("--landing", help="drop those weeks here, one at a time: a folder or s3://bucket/prefix")
    parser.add_argument("--pace", type=float, default=60.0, help="seconds between two weeks (default 60)")
    parser.add_argument("--no-features", action="store_true", help="drop sales files only")
    parser.add_argument("--compress", action="store_true", help="gzip the drops (.csv.gz)")
    args = parser.parse_args(argv)
    if not args.holdout_dir and not args.landing:
        parser.error("give --holdout-dir (write the history), --landing (drop the weeks), or both")
    from deepar_assets.resources.source import SalesSource

    try:
        source = Path(args.source) if args.source else SalesSource().folder()[0]
        holdout = hold_out(source, args.weeks)
        print(f"{source}: holding back {len(holdout.weeks)} week(s), {holdout.weeks[0]} to {holdout.weeks[-1]}")
        if args.holdout_dir:
            folder = write_history(holdout, args.holdout_dir)
            print(f"history without them written to {folder}; load it with: DEEPAR_SOURCE={folder} make run")
        if args.landing:
            zone = SalesSource(landing=args.landing).landing_zone()
            drop_weeks(holdout, zone, args.pace, features=not args.no_features, compress=args.compress)
    except DeepARAssetsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
