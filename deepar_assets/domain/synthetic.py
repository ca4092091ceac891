"""A seeded synthetic stand-in for the Kaggle "Walmart Recruiting - Store Sales Forecasting" data.

``generate_frames`` returns ``train``, ``features`` and ``stores`` tables in exactly the
competition's layout (same columns, same order, the same dtypes ``pd.read_csv`` gives for the
real files), and ``write_dataset`` writes them as ``train.csv``, ``features.csv`` and
``stores.csv`` (or ``.csv.gz``), so a new user can run the whole platform without the real data.

The data is built to be learnable but not trivial:

* every (store, dept) series has a lognormal level scaled by the store's Size and by a
  department factor (a few departments sell ~50k a week, most 1-10k);
* yearly seasonality (a smooth dept-specific cycle plus a Thanksgiving spike and a December
  peak whose strength varies by department), a mild trend and AR(1) multiplicative noise;
* holiday weeks lift sales (dept-specific), markdowns add a small positive effect and
  temperature a small dept-specific one;
* about three quarters of the store x dept pairs exist; some series open late, some close
  early and some have missing weeks (rows absent, never written as 0);
* about 0.3 % of the rows are negative (returns), mostly in small series.

Everything is drawn from ``numpy.random.default_rng`` streams spawned from the spec's seed, so
the same spec always gives the same frames (and the same bytes on disk).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# The Kaggle Walmart layout (datasets/walmart.yaml and datasets/synthetic.yaml read it).
SALES_FILE = "train"
FEATURES_FILE = "features"
STORES_FILE = "stores"
SALES_COLUMNS = ("Store", "Dept", "Date", "Weekly_Sales", "IsHoliday")
MARKDOWNS = ("MarkDown1", "MarkDown2", "MarkDown3", "MarkDown4", "MarkDown5")
FEATURES_COLUMNS = ("Store", "Date", "Temperature", "Fuel_Price", *MARKDOWNS, "CPI", "Unemployment", "IsHoliday")
STORES_COLUMNS = ("Store", "Type", "Size")

# Bump when the generator's output changes, so cached datasets are rewritten.
GENERATOR_VERSION = 1
SPEC_SIDECAR = ".spec.json"

# Markdowns only exist from this week on (as in the real features.csv).
MARKDOWN_START = dt.date(2011, 11, 11)
# CPI and Unemployment are NA in the last weeks of features.csv (13 in the real file).
CPI_NA_WEEKS = 13

_YEAR_DAYS = 365.25
_FRIDAY = 4


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. The defaults give the size of the real competition data."""

    n_stores: int = 45
    n_depts: int = 60  # department numbers are drawn from 1..99, like the real ones
    n_weeks: int = 143  # weeks of sales history (train.csv)
    n_future_weeks: int = 39  # extra weeks in features.csv only
    seed: int = 0
    start: str = "2010-02-05"  # first week, a Friday

    def __post_init__(self) -> None:
        if not 1 <= self.n_stores <= 9999:
            raise ValueError(f"SyntheticSpec.n_stores: expected 1..9999, found {self.n_stores}")
        if not 1 <= self.n_depts <= 99:
            raise ValueError(f"SyntheticSpec.n_depts: expected 1..99 (dept numbers are 1..99), found {self.n_depts}")
        if self.n_weeks < 1:
            raise ValueError(f"SyntheticSpec.n_weeks: expected at least 1, found {self.n_weeks}")
        if self.n_future_weeks < 0:
            raise ValueError(f"SyntheticSpec.n_future_weeks: expected 0 or more, found {self.n_future_weeks}")
        if self.seed < 0:
            raise ValueError(f"SyntheticSpec.seed: expected a non-negative integer, found {self.seed}")
        try:
            start = dt.date.fromisoformat(self.start)
        except (TypeError, ValueError):
            raise ValueError(f"SyntheticSpec.start: expected a date as YYYY-MM-DD, found {self.start!r}") from None
        if start.weekday() != _FRIDAY:
            raise ValueError(
                f"SyntheticSpec.start: expected a Friday (Walmart weeks end on Fridays), found {self.start}"
            )

    def to_dict(self) -> dict[str, int | str]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# Calendar


def _week_ending(day: dt.date) -> dt.date:
    """The Friday that ends the Saturday..Friday week containing ``day``."""
    return day + dt.timedelta(days=(_FRIDAY - day.weekday()) % 7)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def holiday_weeks(year: int) -> dict[str, dt.date]:
    """The Friday week-ending dates Kaggle flags as holidays in ``year``.

    Super Bowl (first Sunday of February, true 2004-2021), Labor Day (first Monday of
    September), Thanksgiving (fourth Thursday of November) and Christmas (25 December); for
    2010-2013 these are exactly the competition's dates.
    """
    return {
        "super_bowl": _week_ending(_nth_weekday(year, 2, 6, 1)),
        "labor_day": _week_ending(_nth_weekday(year, 9, 0, 1)),
        "thanksgiving": _week_ending(_nth_weekday(year, 11, 3, 4)),
        "christmas": _week_ending(dt.date(year, 12, 25)),
    }


@dataclass(frozen=True)
class _Calendar:
    dates: pd.DatetimeIndex  # all weeks: history plus future
    date_str: np.ndarray  # object array of YYYY-MM-DD
    holiday: np.ndarray  # bool, any flagged holiday
    thanksgiving: np.ndarray  # bool
    december: np.ndarray  # float 0..1, peak in the weeks before Christmas
    season: np.ndarray  # float, radians of the year
    years: np.ndarray  # float, years since start
    markdown_on: np.ndarray  # bool


def _calendar(spec: SyntheticSpec) -> _Calendar:
    total = spec.n_weeks + spec.n_future_weeks
    dates = pd.date_range(spec.start, periods=total, freq="7D")
    days = [d.date() for d in dates]
    years = range(days[0].year, days[-1].year + 1)
    by_name: dict[str, set[dt.date]] = {}
    for year in years:
        for name, day in holiday_weeks(year).items():
            by_name.setdefault(name, set()).add(day)
    flagged = set().union(*by_name.values())
    holiday = np.array([d in flagged for d in days])
    thanksgiving = np.array([d in by_name["thanksgiving"] for d in days])
    # December peak: a bump centred on the 21st of December, about a week wide.
    doy = dates.dayofyear.to_numpy().astype(float)
    peak = np.array([dt.date(d.year, 12, 21).timetuple().tm_yday for d in days], dtype=float)
    delta = doy - peak
    # Early January counts as after last December.
    delta = np.where(delta < -180, delta + _YEAR_DAYS, delta)
    december = np.exp(-0.5 * (delta / 6.0) ** 2)
    return _Calendar(
        dates=dates,
        date_str=np.array(dates.strftime("%Y-%m-%d"), dtype=object),
        holiday=holiday,
        thanksgiving=thanksgiving,
        december=december,
        season=2 * np.pi * doy / _YEAR_DAYS,
        years=np.arange(total) * 7 / _YEAR_DAYS,
        markdown_on=np.array([d >= MARKDOWN_START for d in days]),
    )


# --------------------------------------------------------------------------------------------
# Stores


def _store_types(n: int, rng: np.random.Generator) -> np.ndarray:
    """Types A/B/C in the real proportions 22/17/6 (of 45), shuffled."""
    n_a = round(n * 22 / 45)
    n_c = round(n * 6 / 45)
    n_b = n - n_a - n_c
    types = np.array(["A"] * n_a + ["B"] * n_b + ["C"] * n_c, dtype=object)
    return types[rng.permutation(n)]


def _stores(spec: SyntheticSpec, rng: np.random.Generator) -> pd.DataFrame:
    n = spec.n_stores
    types = _store_types(n, rng)
    size = np.where(
        types == "A",
        rng.uniform(150_000, 220_000, n),
        np.where(
            types == "B",
            rng.uniform(80_000, 150_000, n),
            rng.uniform(35_000, 45_000, n),
        ),
    )
    # Like the real data, a couple of A stores are small and a B store is large.
    a_idx = np.flatnonzero(types == "A")
    b_idx = np.flatnonzero(types == "B")
    if len(a_idx) >= 10:
        small = rng.choice(a_idx, 2, replace=False)
        size[small] = rng.uniform(38_000, 42_000, 2)
    if len(b_idx) >= 10:
        size[rng.choice(b_idx)] = rng.uniform(150_000, 210_000)
    return pd.DataFrame(
        {
            "Store": np.arange(1, n + 1, dtype=np.int64),
            "Type": types,
            "Size": np.round(size).astype(np.int64),
        },
        columns=list(STORES_COLUMNS),
    )


# --------------------------------------------------------------------------------------------
# Features


def _features(
    spec: SyntheticSpec, cal: _Calendar, stores: pd.DataFrame, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per-store weekly features as (n_stores, n_total_weeks) arrays, NaN where missing."""
    n = spec.n_stores
    total = len(cal.dates)
    size_rel = stores["Size"].to_numpy() / 150_000

    # Temperature (°F): coldest in late January, store climate varies.
    mean_temp = rng.uniform(38, 72, (n, 1))
    amplitude = rng.uniform(10, 24, (n, 1))
    temperature = mean_temp - amplitude * np.cos(cal.season - 2 * np.pi * 20 / _YEAR_DAYS)
    temperature = temperature + rng.normal(0, 4.5, (n, total))

    # Fuel price: a national random walk with drift, a regional offset per store.
    steps = rng.normal(0.007, 0.035, total)
    steps[0] = 0.0
    national = 2.6 + np.cumsum(steps)
    national = 2.5 + np.abs(national - 2.5)  # reflect at the floor
    national = 4.4 - np.abs(4.4 - national)  # and at the ceiling
    fuel = national[None, :] + rng.normal(0, 0.12, (n, 1)) + rng.normal(0, 0.02, (n, total))
    fuel = np.clip(fuel, 2.45, 4.5)

    # Markdowns: NA before 2011-11-11, then mostly present, scaled by store size.
    md_scale = {
        "MarkDown1": 7000,
        "MarkDown2": 2500,
        "MarkDown3": 400,
        "MarkDown4": 3000,
        "MarkDown5": 4500,
    }
    md_missing = {
        "MarkDown1": 0.05,
        "MarkDown2": 0.3,
        "MarkDown3": 0.12,
        "MarkDown4": 0.15,
        "MarkDown5": 0.02,
    }
    markdowns = {}
    store_md = rng.lognormal(0, 0.35, (n, 1)) * size_rel[:, None] ** 0.8
    for name in MARKDOWNS:
        value = md_scale[name] * store_md * rng.lognormal(0, 0.8, (n, total))
        if name == "MarkDown3":  # huge around Thanksgiving and Christmas
            value = value * np.where(cal.thanksgiving | (cal.december > 0.5), 40.0, 1.0)
        if name == "MarkDown2":  # clearance after Christmas
            value = value * (1 + 8 * np.roll(cal.december, 3))
        missing = ~cal.markdown_on[None, :] | (rng.random((n, total)) < md_missing[name])
        markdowns[name] = np.where(missing, np.nan, value)

    # CPI: two clusters like the real data (~126-140 and ~180-225), slowly rising.
    low = rng.random((n, 1)) < 0.3
    base = np.where(low, rng.uniform(126, 132, (n, 1)), rng.uniform(182, 212, (n, 1)))
    growth = rng.uniform(0.012, 0.025, (n, 1))
    wiggle = np.cumsum(rng.normal(0, 0.0006, (n, total)), axis=1)
    cpi = base * np.exp(growth * cal.years[None, :] + wiggle)

    # Unemployment (%): stepwise by quarter, slowly falling.
    quarter = (np.arange(total) // 13)[None, :]
    level = rng.uniform(4.2, 12.0, (n, 1)) * np.where(rng.random((n, 1)) < 0.1, 1.2, 1.0)
    drift = rng.uniform(-0.04, 0.0, (n, 1))
    shocks = np.cumsum(rng.normal(0, 0.03, (n, quarter.max() + 1)), axis=1)
    unemployment = level * np.exp(drift * quarter / 4 + shocks[:, quarter[0]])
    unemployment = np.clip(unemployment, 3.8, 14.3)

    na_weeks = min(CPI_NA_WEEKS, spec.n_future_weeks)
    if na_weeks:
        cpi[:, -na_weeks:] = np.nan
        unemployment[:, -na_weeks:] = np.nan

    return {
        "Temperature": temperature,
        "Fuel_Price": fuel,
        **markdowns,
        "CPI": cpi,
        "Unemployment": unemployment,
    }


def _features_frame(spec: SyntheticSpec, cal: _Calendar, values: dict[str, np.ndarray]) -> pd.DataFrame:
    n, total = spec.n_stores, len(cal.dates)
    columns: dict[str, np.ndarray] = {
        "Store": np.repeat(np.arange(1, n + 1, dtype=np.int64), total),
        "Date": np.tile(cal.date_str, n),
    }
    for name, array in values.items():
        # + 0.0 turns -0.0 into 0.0
        columns[name] = np.round(array.reshape(-1), 2) + 0.0
    columns["IsHoliday"] = np.tile(cal.holiday, n)
    return pd.DataFrame(columns, columns=list(FEATURES_COLUMNS))


# --------------------------------------------------------------------------------------------
# Sales


def _sales(
    spec: SyntheticSpec,
    cal: _Calendar,
    stores: pd.DataFrame,
    features: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> pd.DataFrame:
    n_s, n_d, n_w = spec.n_stores, spec.n_depts, spec.n_weeks
    dept_ids = np.sort(rng.choice(np.arange(1, 100), n_d, replace=False)).astype(np.int64)
    types = stores["Type"].to_numpy()
    size_rel = stores["Size"].to_numpy() / 150_000

    # Department character.
    large = rng.random(n_d) < 0.15
    dept_level = np.where(
        large,
        rng.lognormal(np.log(40_000), 0.35, n_d),
        rng.lognormal(np.log(3_500), 0.9, n_d),
    )
    seasonal_amp = rng.uniform(0.02, 0.25, n_d)
    seasonal_phase = rng.uniform(0, 2 * np.pi, n_d)
    # Many depts peak strongly at Thanksgiving and in December.
    festive = rng.random(n_d) < 0.5
    december_strength = np.where(festive, rng.uniform(0.3, 1.3, n_d), rng.uniform(0.0, 0.12, n_d))
    thanksgiving_strength = 0.5 * december_strength + rng.uniform(0.0, 0.3, n_d)
    holiday_lift = rng.normal(0.04, 0.06, n_d)
    markdown_effect = rng.uniform(0.0, 0.04, n_d)
    temperature_effect = rng.normal(0.0, 0.04, n_d)
    dept_noise = rng.uniform(0.04, 0.16, n_d)
    presence = np.where(large, rng.uniform(0.93, 1.0, n_d), rng.beta(5.0, 1.6, n_d))

    # Which store x dept pairs exist (C stores carry fewer departments).
    type_factor = np.select([types == "A", types == "B"], [1.03, 1.0], 0.8)
    exists = rng.random((n_s, n_d)) < np.clip(presence[None, :] * type_factor[:, None], 0, 1)
    # Every dept is sold somewhere and every store sells something.
    exists[rng.integers(n_s, size=n_d), np.arange(n_d)] = True
    exists[np.arange(n_s), rng.integers(n_d, size=n_s)] = True

    # Level per series.
    store_quality = rng.lognormal(0, 0.25, n_s)
    level = dept_level[None, :] * (size_rel**0.9 * store_quality)[:, None] * rng.lognormal(0, 0.45, (n_s, n_d))

    # Log-sales components, shape (stores, depts, weeks).
    season = cal.season[:n_w]
    amp = seasonal_amp[None, :] * rng.lognormal(0, 0.2, (n_s, n_d))
    log_sales = np.log(level)[:, :, None] + amp[:, :, None] * np.sin(
        season[None, None, :] + seasonal_phase[None, :, None]
    )
    log_sales += 0.3 * amp[:, :, None] * np.sin(2 * season[None, None, :] + 2 * seasonal_phase[None, :, None])
    log_sales += np.log1p(december_strength[None, :, None] * cal.december[None, None, :n_w])
    log_sales += np.log1p(thanksgiving_strength[None, :, None] * cal.thanksgiving[None, None, :n_w])
    log_sales += holiday_lift[None, :, None] * cal.holiday[None, None, :n_w]
    trend = rng.normal(0.0, 0.03, (n_s, 1)) + rng.normal(0.0, 0.04, (n_s, n_d))
    log_sales += trend[:, :, None] * cal.years[None, None, :n_w]

    # Covariate effects: markdowns (small, positive) and temperature (dept-specific sign).
    md_total = np.nansum(np.stack([features[m][:, :n_w] for m in MARKDOWNS]), axis=0)
    md_index = np.minimum(md_total / (20_000 * size_rel[:, None]), 3.0)
    log_sales += markdown_effect[None, :, None] * md_index[:, None, :]
    temp = features["Temperature"][:, :n_w]
    temp_index = (temp - temp.mean(axis=1, keepdims=True)) / 20.0
    log_sales += temperature_effect[None, :, None] * temp_index[:, None, :]

    # AR(1) multiplicative noise; small series are noisier.
    sigma = dept_noise[None, :] * rng.lognormal(0, 0.25, (n_s, n_d)) * np.where(level < 2_000, 1.8, 1.0)
    shocks = rng.normal(0.0, 1.0, (n_s, n_d, n_w)) * sigma[:, :, None]
    phi = 0.45
    noise = np.empty_like(shocks)
    noise[:, :, 0] = shocks[:, :, 0] / np.sqrt(1 - phi**2)
    for w in range(1, n_w):
        noise[:, :, w] = phi * noise[:, :, w - 1] + shocks[:, :, w]
    sales = np.exp(log_sales + noise)

    # Returns: ~0.3 % negative rows, mostly in the smallest series.
    small = level <= np.quantile(level, 0.25)
    p_negative = np.where(small, 0.011, 0.0003)[:, :, None]
    negative = rng.random((n_s, n_d, n_w)) < p_negative
    refund = -np.maximum(rng.lognormal(np.log(15.0), 1.2, (n_s, n_d, n_w)), 0.01)
    sales = np.where(negative, refund, np.maximum(sales, 0.01))

    # Series life: some open late, some close early, some miss weeks.
    week = np.arange(n_w)[None, None, :]
    start = np.zeros((n_s, n_d), dtype=np.int64)
    end = np.full((n_s, n_d), n_w, dtype=np.int64)
    late = rng.random((n_s, n_d)) < 0.06
    start[late] = rng.integers(1, max(2, int(n_w * 0.85)), late.sum())
    early = rng.random((n_s, n_d)) < 0.04
    end[early] = rng.integers(max(1, int(n_w * 0.2)), n_w, early.sum())
    # Keep at least a few weeks of every series.
    end = np.where(end - start < 4, n_w, end)
    gap_rate = np.where(
        rng.random((n_s, n_d)) < np.where(small, 0.35, 0.08),
        rng.uniform(0.02, 0.3, (n_s, n_d)),
        0.0,
    )
    gaps = rng.random((n_s, n_d, n_w)) < gap_rate[:, :, None]
    keep = exists[:, :, None] & (week >= start[:, :, None]) & (week < end[:, :, None]) & ~gaps

    s_idx, d_idx, w_idx = np.nonzero(keep)  # C order: sorted by store, dept, date
    return pd.DataFrame(
        {
            "Store": (s_idx + 1).astype(np.int64),
            "Dept": dept_ids[d_idx],
            "Date": cal.date_str[w_idx],
            "Weekly_Sales": np.round(sales[s_idx, d_idx, w_idx], 2) + 0.0,
            "IsHoliday": cal.holiday[w_idx],
        },
        columns=list(SALES_COLUMNS),
    )


# --------------------------------------------------------------------------------------------
# Public API


def generate_frames(spec: SyntheticSpec = SyntheticSpec()) -> dict[str, pd.DataFrame]:
    """Return ``{"train": ..., "features": ..., "stores": ...}`` in the Kaggle layout.

    Dtypes are those ``pd.read_csv`` gives for the written files: Store/Dept/Size int64, Date
    ``YYYY-MM-DD`` strings, floats rounded to 2 decimals with NaN where the file says NA,
    IsHoliday bool, Type str. Rows are sorted like the real files (train by Store, Dept, Date;
    features by Store, Date; stores by Store).
    """
    streams = [np.random.default_rng(child) for child in np.random.SeedSequence(spec.seed).spawn(3)]
    cal = _calendar(spec)
    stores = _stores(spec, streams[0])
    features = _features(spec, cal, stores, streams[1])
    train = _sales(spec, cal, stores, features, streams[2])
    return {
        "train": train,
        "features": _features_frame(spec, cal, features),
        "stores": stores,
    }


def _file_names(compress: bool) -> dict[str, str]:
    suffix = ".csv.gz" if compress else ".csv"
    return {
        key: name + suffix
        for key, name in (
            ("train", SALES_FILE),
            ("features", FEATURES_FILE),
            ("stores", STORES_FILE),
        )
    }


def _sidecar(spec: SyntheticSpec, compress: bool) -> dict[str, object]:
    return {
        "generator_version": GENERATOR_VERSION,
        "compress": compress,
        "spec": spec.to_dict(),
    }


def _csv_bytes(frame: pd.DataFrame, compress: bool) -> bytes:
    out = frame.copy()
    if "IsHoliday" in out:
        out["IsHoliday"] = np.where(out["IsHoliday"].to_numpy(), "TRUE", "FALSE")
    data = out.to_csv(index=False, na_rep="NA", float_format="%.2f", lineterminator="\n").encode("utf-8")
    # mtime=0 and no file name in the header: the same spec gives the same bytes.
    return gzip.compress(data, compresslevel=6, mtime=0) if compress else data


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_dataset(folder: str | Path, spec: SyntheticSpec = SyntheticSpec(), compress: bool = False) -> Path:
    """Write ``train``, ``features`` and ``stores`` (``.csv`` or ``.csv.gz``) into ``folder``.

    Each file is written under a temporary name in the same folder and moved into place with
    ``os.replace``; missing values are written as ``NA``, IsHoliday as ``TRUE``/``FALSE`` and
    floats with 2 decimals. A ``.spec.json`` sidecar records the spec; when it matches and the
    three files exist, nothing is written. The other variant of each file (``.csv.gz`` when
    writing ``.csv`` and vice versa) is removed, since a reader wants exactly one of them.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = _file_names(compress)
    others = _file_names(not compress)
    sidecar = folder / SPEC_SIDECAR
    expected = _sidecar(spec, compress)
    if all((folder / name).is_file() for name in names.values()) and not any(
        (folder / name).exists() for name in others.values()
    ):
        try:
            if json.loads(sidecar.read_text(encoding="utf-8")) == expected:
                return folder
        except (OSError, ValueError):
            pass

    # Drop the sidecar first so an interrupted write never looks complete.
    with contextlib.suppress(FileNotFoundError):
        sidecar.unlink()
    frames = generate_frames(spec)
    for key, name in names.items():
        _write_atomic(folder / name, _csv_bytes(frames[key], compress))
    for name in others.values():
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    _write_atomic(sidecar, (json.dumps(expected, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return folder
