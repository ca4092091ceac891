"""Tests of the synthetic Walmart dataset generator."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepar_assets.domain.synthetic import (
    CPI_NA_WEEKS,
    MARKDOWN_START,
    SPEC_SIDECAR,
    SyntheticSpec,
    generate_frames,
    holiday_weeks,
    write_dataset,
)

TRAIN_COLUMNS = ["Store", "Dept", "Date", "Weekly_Sales", "IsHoliday"]
FEATURES_COLUMNS = [
    "Store",
    "Date",
    "Temperature",
    "Fuel_Price",
    "MarkDown1",
    "MarkDown2",
    "MarkDown3",
    "MarkDown4",
    "MarkDown5",
    "CPI",
    "Unemployment",
    "IsHoliday",
]
STORES_COLUMNS = ["Store", "Type", "Size"]
MARKDOWNS = [f"MarkDown{i}" for i in range(1, 6)]

REAL_HOLIDAYS = {
    "2010-02-12", "2011-02-11", "2012-02-10", "2013-02-08",  # Super Bowl
    "2010-09-10", "2011-09-09", "2012-09-07", "2013-09-06",  # Labor Day
    "2010-11-26", "2011-11-25", "2012-11-23", "2013-11-29",  # Thanksgiving
    "2010-12-31", "2011-12-30", "2012-12-28", "2013-12-27",  # Christmas
}  # fmt: skip

SMALL = SyntheticSpec(n_stores=4, n_depts=6, n_weeks=60, n_future_weeks=13)
SEEDS = [0, 7]


@pytest.fixture(scope="module")
def default_frames() -> dict[str, pd.DataFrame]:
    return generate_frames(SyntheticSpec())


@pytest.fixture(scope="module", params=SEEDS, ids=lambda seed: f"seed{seed}")
def small(
    request: pytest.FixtureRequest,
) -> tuple[SyntheticSpec, dict[str, pd.DataFrame]]:
    spec = SyntheticSpec(n_stores=4, n_depts=6, n_weeks=60, n_future_weeks=13, seed=request.param)
    return spec, generate_frames(spec)


def _all_weeks(spec: SyntheticSpec) -> list[str]:
    dates = pd.date_range(spec.start, periods=spec.n_weeks + spec.n_future_weeks, freq="7D")
    return list(dates.strftime("%Y-%m-%d"))


# --- layout ----------------------------------------------------------------------------------


def test_columns_and_dtypes(small):
    _, frames = small
    assert set(frames) == {"train", "features", "stores"}
    assert list(frames["train"].columns) == TRAIN_COLUMNS
    assert list(frames["features"].columns) == FEATURES_COLUMNS
    assert list(frames["stores"].columns) == STORES_COLUMNS
    train, features, stores = frames["train"], frames["features"], frames["stores"]
    assert train["Store"].dtype == np.int64
    assert train["Dept"].dtype == np.int64
    assert train["Weekly_Sales"].dtype == np.float64
    assert train["IsHoliday"].dtype == bool
    assert features["IsHoliday"].dtype == bool
    assert all(features[c].dtype == np.float64 for c in FEATURES_COLUMNS[2:-1])
    assert stores["Size"].dtype == np.int64
    assert set(stores["Type"]) <= {"A", "B", "C"}
    assert all(isinstance(d, str) for d in train["Date"].head())


def test_dates_are_weekly_fridays_from_start(small):
    spec, frames = small
    weeks = _all_weeks(spec)
    features = frames["features"]
    for store, group in features.groupby("Store"):
        assert list(group["Date"]) == weeks, f"store {store}"
    parsed = pd.to_datetime(frames["train"]["Date"], format="%Y-%m-%d")
    assert (parsed.dt.dayofweek == 4).all()
    assert set(frames["train"]["Date"]) <= set(weeks[: spec.n_weeks])
    assert frames["train"]["Date"].min() == spec.start


def test_features_cover_train_and_extend(small):
    spec, frames = small
    train, features = frames["train"], frames["features"]
    assert len(features) == spec.n_stores * (spec.n_weeks + spec.n_future_weeks)
    keys = train[["Store", "Date"]].drop_duplicates()
    joined = keys.merge(features[["Store", "Date"]], on=["Store", "Date"], how="left", indicator=True)
    assert (joined["_merge"] == "both").all()
    last_train = pd.Timestamp(train["Date"].max())
    last_feature = pd.Timestamp(features["Date"].max())
    assert (last_feature - last_train).days == 7 * spec.n_future_weeks
    assert set(features["Store"]) == set(frames["stores"]["Store"]) == set(range(1, spec.n_stores + 1))


def test_holiday_flags_agree_and_are_the_real_dates(small):
    spec, frames = small
    train, features = frames["train"], frames["features"]
    joined = train.merge(features, on=["Store", "Date"], suffixes=("_train", "_features"))
    assert len(joined) == len(train)
    assert (joined["IsHoliday_train"] == joined["IsHoliday_features"]).all()
    flagged = set(features.loc[features["IsHoliday"], "Date"])
    in_range = {d for d in REAL_HOLIDAYS if d in set(_all_weeks(spec))}
    assert flagged
    assert flagged == in_range


def test_holiday_rules_reproduce_the_competition_dates():
    found = {d.isoformat() for year in range(2010, 2014) for d in holiday_weeks(year).values()}
    assert found == REAL_HOLIDAYS


def test_no_duplicate_keys_and_sorted(small):
    _, frames = small
    train = frames["train"]
    assert not train.duplicated(["Store", "Dept", "Date"]).any()
    assert not frames["features"].duplicated(["Store", "Date"]).any()
    ordered = train.sort_values(["Store", "Dept", "Date"], kind="stable")
    assert ordered.index.equals(train.index)


def test_dept_numbers_are_drawn_from_1_to_99(small):
    spec, frames = small
    depts = sorted(frames["train"]["Dept"].unique())
    assert len(depts) == spec.n_depts
    assert depts[0] >= 1
    assert depts[-1] <= 99


def test_values_are_rounded_to_cents(small):
    _, frames = small
    sales = frames["train"]["Weekly_Sales"].to_numpy()
    assert np.allclose(sales, np.round(sales, 2))
    assert not (sales == 0).any()


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_same_frames():
    first, second = generate_frames(SMALL), generate_frames(SMALL)
    for key in first:
        pd.testing.assert_frame_equal(first[key], second[key], check_exact=True)


def test_different_seed_different_frames():
    first = generate_frames(SMALL)
    other = generate_frames(SyntheticSpec(n_stores=4, n_depts=6, n_weeks=60, n_future_weeks=13, seed=1))
    assert not first["train"].equals(other["train"])
    assert not first["features"].equals(other["features"])


# --- missing values --------------------------------------------------------------------------


def test_cpi_and_unemployment_na_exactly_in_last_weeks(small):
    spec, frames = small
    weeks = _all_weeks(spec)
    na_weeks = set(weeks[-CPI_NA_WEEKS:])
    features = frames["features"]
    tail = features["Date"].isin(na_weeks)
    for column in ("CPI", "Unemployment"):
        assert features.loc[tail, column].isna().all()
        assert features.loc[~tail, column].notna().all()


def test_markdowns_na_before_start(default_frames):
    features = default_frames["features"]
    before = pd.to_datetime(features["Date"]) < pd.Timestamp(MARKDOWN_START)
    assert before.any()
    assert (~before).any()
    for column in MARKDOWNS:
        assert features.loc[before, column].isna().all(), column
        after = features.loc[~before, column]
        assert after.notna().mean() > 0.5, column  # mostly present afterwards ...
    assert features.loc[~before, MARKDOWNS].isna().to_numpy().any()  # ... with some NA


def test_small_spec_before_markdowns_has_none(small):
    _, frames = small
    # The 73 weeks end before 2011-11-11.
    assert frames["features"][MARKDOWNS].isna().all().all()


# --- realism of the default spec -------------------------------------------------------------


def test_default_spec_shape(default_frames):
    train, stores = default_frames["train"], default_frames["stores"]
    assert len(stores) == 45
    assert train["Store"].nunique() == 45
    assert 24 <= train["Dept"].nunique() <= 99
    assert stores["Type"].value_counts().to_dict() == {"A": 22, "B": 17, "C": 6}
    pairs = train.groupby(["Store", "Dept"]).ngroups
    assert 0.65 <= pairs / (45 * train["Dept"].nunique()) <= 0.85
    assert train["Date"].nunique() == 143
    assert train["Date"].max() == "2012-10-26"
    assert default_frames["features"]["Date"].max() == "2013-07-26"


def test_default_spec_has_negatives_and_gaps(default_frames):
    train = default_frames["train"]
    negative = train["Weekly_Sales"] < 0
    assert 0.0005 < negative.mean() < 0.01
    # Mostly in small series.
    series_median = train.groupby(["Store", "Dept"])["Weekly_Sales"].transform("median")
    assert series_median[negative].median() < series_median.median()

    week = (pd.to_datetime(train["Date"]) - pd.Timestamp("2010-02-05")).dt.days // 7
    span = week.groupby([train["Store"], train["Dept"]]).agg(["min", "max", "count"])
    assert ((span["max"] - span["min"] + 1) > span["count"]).any()  # gaps inside
    assert (span["min"] > 0).any()  # opened late
    assert (span["max"] < 142).any()  # closed early


def test_default_spec_levels_and_holiday_peak(default_frames):
    train = default_frames["train"]
    dept_mean = train.groupby("Dept")["Weekly_Sales"].mean()
    assert (dept_mean > 30_000).any()
    assert (dept_mean < 10_000).mean() > 0.4
    total = train.groupby("Date")["Weekly_Sales"].sum()
    assert total["2010-11-26"] > 1.2 * total["2010-11-19"]  # Thanksgiving spike
    assert total["2011-12-23"] > 1.2 * total["2011-10-28"]  # December peak


def test_default_spec_is_fast():
    begin = time.perf_counter()
    generate_frames(SyntheticSpec(seed=3))
    assert time.perf_counter() - begin < 5.0


def test_spec_validation():
    with pytest.raises(ValueError, match="Friday"):
        SyntheticSpec(start="2010-02-06")
    with pytest.raises(ValueError, match="n_depts"):
        SyntheticSpec(n_depts=100)
    with pytest.raises(ValueError, match="n_weeks"):
        SyntheticSpec(n_weeks=0)


# --- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["csv", "gz"])
def test_write_dataset_round_trips(tmp_path: Path, compress: bool):
    folder = write_dataset(tmp_path / "data", SMALL, compress=compress)
    assert folder == tmp_path / "data"
    suffix = ".csv.gz" if compress else ".csv"
    frames = generate_frames(SMALL)
    for name in ("train", "features", "stores"):
        path = folder / f"{name}{suffix}"
        assert path.is_file()
        back = pd.read_csv(path)
        pd.testing.assert_frame_equal(back, frames[name], check_exact=False, rtol=0, atol=1e-9)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [SPEC_SIDECAR, f"features{suffix}", f"stores{suffix}", f"train{suffix}"]
    )


def test_written_text_format(tmp_path: Path):
    folder = write_dataset(tmp_path, SMALL)
    train_lines = (folder / "train.csv").read_text().splitlines()
    assert train_lines[0] == "Store,Dept,Date,Weekly_Sales,IsHoliday"
    assert all(line.endswith((",TRUE", ",FALSE")) for line in train_lines[1:])
    sales = [line.split(",")[3] for line in train_lines[1:]]
    assert all(len(value.split(".")[1]) == 2 for value in sales)
    features_text = (folder / "features.csv").read_text()
    assert features_text.splitlines()[0] == ",".join(FEATURES_COLUMNS)
    assert ",NA," in features_text
    assert "nan" not in features_text.lower()
    back = pd.read_csv(folder / "features.csv")
    assert back["MarkDown1"].isna().all()


def test_write_dataset_is_idempotent_and_deterministic(tmp_path: Path):
    folder = write_dataset(tmp_path, SMALL, compress=True)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    content = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert json.loads((folder / SPEC_SIDECAR).read_text())["spec"] == {
        "n_stores": 4, "n_depts": 6, "n_weeks": 60, "n_future_weeks": 13, "seed": 0, "start": "2010-02-05"
    }  # fmt: skip

    write_dataset(tmp_path, SMALL, compress=True)  # nothing to do
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps

    other = tmp_path.parent / f"{tmp_path.name}_again"
    # Same spec, same bytes (gzip without mtime or file name).
    write_dataset(other, SMALL, compress=True)
    assert {p.name: p.read_bytes() for p in other.iterdir()} == content


def test_write_dataset_rewrites_on_new_spec_or_compression(tmp_path: Path):
    write_dataset(tmp_path, SMALL)
    before = (tmp_path / "train.csv").read_bytes()
    new_spec = SyntheticSpec(n_stores=4, n_depts=6, n_weeks=60, n_future_weeks=13, seed=5)
    write_dataset(tmp_path, new_spec)
    assert (tmp_path / "train.csv").read_bytes() != before
    assert json.loads((tmp_path / SPEC_SIDECAR).read_text())["spec"]["seed"] == 5

    # A reader wants one variant per file: the plain ones go.
    write_dataset(tmp_path, new_spec, compress=True)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([SPEC_SIDECAR, "features.csv.gz", "stores.csv.gz", "train.csv.gz"])


def test_write_dataset_rewrites_when_a_file_is_missing(tmp_path: Path):
    write_dataset(tmp_path, SMALL)
    (tmp_path / "stores.csv").unlink()
    write_dataset(tmp_path, SMALL)
    assert (tmp_path / "stores.csv").is_file()
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("dataset", ["synthetic", "walmart"])
def test_written_dataset_passes_the_spec_reader(tmp_path: Path, dataset: str):
    """The generated files read cleanly with the synthetic spec and with Walmart's, whose layout they share."""
    from deepar_assets.domain.reading import read_dataset
    from deepar_assets.domain.spec import load_spec

    frames = generate_frames(SMALL)
    raw = read_dataset(load_spec(dataset), write_dataset(tmp_path, SMALL, compress=True))
    assert len(raw.target) == len(frames["train"])
    np.testing.assert_array_equal(raw.target["Weekly_Sales"], frames["train"]["Weekly_Sales"])
    assert raw.related["features"]["Date"].max() == pd.Timestamp(dt.date(2011, 6, 24))
    assert len(raw.related["features"]) == len(frames["features"])
    assert list(raw.metadata["stores"]["Type"]) == list(frames["stores"]["Type"])
    assert raw.oddities["negative_target_rows"] == int((frames["train"]["Weekly_Sales"] < 0).sum())
