"""Data-quality checks on raw weeks: plain functions returning (passed, figures)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepar_assets.domain.kaggle import RawData

NEGATIVE_SHARE_LIMIT = 0.01  # the real data has 0.30 % negative rows (returns)
THIN_WEEK_RATIO = 0.5  # a week with under half the median week's rows is suspicious


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    figures: dict[str, float | int | str] = field(default_factory=dict)


def holiday_flags_agree(raw: RawData) -> CheckOutcome:
    """IsHoliday of every sales row equals IsHoliday of its store's features row that week."""
    joined = raw.sales[["Store", "Date", "IsHoliday"]].merge(
        raw.features[["Store", "Date", "IsHoliday"]], on=["Store", "Date"], how="inner", suffixes=("", "_features")
    )
    disagree = joined["IsHoliday"] != joined["IsHoliday_features"]
    figures: dict = {"rows_compared": len(joined), "rows_disagreeing": int(disagree.sum())}
    if disagree.any():
        first = joined[disagree].iloc[0]
        figures["first_disagreement"] = f"store {first.Store}, week {first.Date:%Y-%m-%d}"
    return CheckOutcome(not disagree.any(), "holiday flags agree between sales and features", figures)


def features_for_every_store(raw: RawData) -> CheckOutcome:
    """Every week with sales has a features row for every store of stores.csv."""
    weeks = raw.sales["Date"].unique()
    stores = raw.stores["Store"].unique()
    have = raw.features[raw.features["Date"].isin(weeks)]
    expected = len(weeks) * len(stores)
    present = len(have.drop_duplicates(["Store", "Date"]))
    figures: dict = {"store_weeks_expected": expected, "store_weeks_missing": expected - present}
    return CheckOutcome(present == expected, "every week has features for every store", figures)


def row_and_series_counts(raw: RawData) -> CheckOutcome:
    """Rows and series; fails when a week holds under half the rows of the median week."""
    per_week = raw.sales.groupby("Date").size()
    median = float(np.median(per_week)) if len(per_week) else 0.0
    thin = per_week[per_week < THIN_WEEK_RATIO * median]
    figures: dict = {
        "rows": len(raw.sales),
        "series": int(len(raw.sales[["Store", "Dept"]].drop_duplicates())),
        "weeks": len(per_week),
        "median_rows_per_week": median,
        "thin_weeks": len(thin),
    }
    if len(thin):
        figures["first_thin_week"] = f"{thin.index[0]:%Y-%m-%d} ({int(thin.iloc[0])} rows)"
    return CheckOutcome(len(thin) == 0, "row and series counts, no unusually thin week", figures)


def negative_sales_share(raw: RawData, limit: float = NEGATIVE_SHARE_LIMIT) -> CheckOutcome:
    """Negative sales (returns) are legal, but more than ``limit`` of the rows is suspicious."""
    negative = int((raw.sales["Weekly_Sales"] < 0).sum())
    share = negative / max(len(raw.sales), 1)
    return CheckOutcome(
        share <= limit,
        f"share of negative sales at most {limit:.0%}",
        {"negative_rows": negative, "share": round(share, 6), "limit": limit},
    )


RAW_CHECKS = {
    "holiday_flags_agree": holiday_flags_agree,
    "features_for_every_store": features_for_every_store,
    "row_and_series_counts": row_and_series_counts,
    "negative_sales_share": negative_sales_share,
}
