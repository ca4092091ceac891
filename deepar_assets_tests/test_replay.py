"""The replay command at pace 0: the history without the last partitions, and those partitions
dropped into a landing folder one at a time; on a small generated source of the synthetic spec
(Walmart's layout) and on sources of other shapes (daily in weekly partitions, Parquet)."""

from __future__ import annotations

import gzip
import io

import pandas as pd
import pytest

from deepar_assets.domain.landing import LandingLayout, parse_drop_name
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec import load_spec
from deepar_assets.replay import drop_partitions, hold_out, main, write_history
from deepar_assets.storage.landing import LandingZone
from deepar_assets.storage.local import FolderStore

SPEC = load_spec("synthetic")


def _text(path) -> pd.DataFrame:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


def test_history_and_drops_add_up_to_the_source_value_for_value(small_source, tmp_path, capsys):
    history, landing = tmp_path / "history", tmp_path / "landing"
    args = ["--source", str(small_source), "--partitions", "4", "--holdout-dir", str(history)]
    assert main([*args, "--landing", str(landing), "--pace", "0"]) == 0
    source = _text(small_source / "train.csv")
    weeks = sorted(source["Date"].unique())[-4:]

    history = read_dataset(SPEC, tmp_path / "history")  # a valid source of the spec
    assert f"{history.target['Date'].max():%Y-%m-%d}" < weeks[0]
    assert _text(tmp_path / "history" / "features.csv").equals(_text(small_source / "features.csv"))
    assert _text(tmp_path / "history" / "stores.csv").equals(_text(small_source / "stores.csv"))

    names = sorted(p.name for p in landing.iterdir())
    assert names == sorted(f"{w}_{kind}.csv" for w in weeks for kind in ("sales", "features"))
    dropped = pd.concat([_text(landing / f"{w}_sales.csv") for w in weeks])
    restored = pd.concat([_text(tmp_path / "history" / "train.csv"), dropped], ignore_index=True)
    key = ["Store", "Dept", "Date"]
    pd.testing.assert_frame_equal(  # every row, every value exactly as the source writes it
        restored.sort_values(key, ignore_index=True), source.sort_values(key, ignore_index=True)
    )
    features = _text(small_source / "features.csv")
    pd.testing.assert_frame_equal(
        _text(landing / f"{weeks[0]}_features.csv"), features[features["Date"] == weeks[0]].reset_index(drop=True)
    )
    out = capsys.readouterr().out
    assert f"holding back 4 partition(s) of synthetic, {weeks[0]} to {weeks[-1]}" in out and "DEEPAR_SOURCE=" in out


def test_partitions_are_dropped_oldest_first_at_the_pace_asked_target_last(small_source, tmp_path):
    holdout = hold_out(small_source, 3, SPEC)
    order, pauses = [], []
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    keys = drop_partitions(holdout, zone, 2.5, compress=True, log=order.append, sleep=pauses.append)
    assert keys == [f"{w}_{kind}.csv.gz" for w in holdout.partitions for kind in ("features", "sales")]
    assert pauses == [2.5, 2.5]
    assert all(parse_drop_name(k, LandingLayout.of(SPEC)).suffix == ".csv.gz" for k in keys)
    assert len(_text(tmp_path / "landing" / keys[1])) == len(holdout.partition_rows(holdout.partitions[0], "sales"))
    assert not [p for p in (tmp_path / "landing").iterdir() if p.name.startswith(".")]  # no temporary files left


def test_target_only_and_bad_requests(small_source, tmp_path, capsys):
    holdout = hold_out(small_source, 1, SPEC)
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    assert drop_partitions(holdout, zone, related=False, log=lambda line: None) == [
        f"{holdout.partitions[0]}_sales.csv"
    ]
    assert main(["--source", str(small_source), "--partitions", "500", "--holdout-dir", str(tmp_path / "h")]) == 2
    assert "the source has 80 partitions of sales; hold back fewer than that (--partitions 500)" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        main(["--source", str(small_source), "--partitions", "2"])  # neither --holdout-dir nor --landing


def test_a_daily_parquet_source_is_held_back_by_weekly_partitions(tmp_path):
    """store_item_demand's spec (daily, W-MON partitions) on a Parquet source: the history and
    the drops stay Parquet, and each drop holds the days of its week."""
    spec = load_spec("store_item_demand")
    days = pd.date_range("2013-01-01", "2013-02-03", freq="D")  # Tuesday to Sunday: 5 partial-to-whole weeks
    frame = pd.DataFrame(
        [(d, s, i, float((d.day + s * i) % 7)) for d in days for s in (1, 2) for i in (1, 2)],
        columns=["date", "store", "item", "sales"],
    )
    source = tmp_path / "source"
    source.mkdir()
    frame.to_parquet(source / "train.parquet", index=False)
    holdout = hold_out(source, 2, spec)
    assert holdout.partitions == ["2013-01-21", "2013-01-28"]
    history = write_history(holdout, tmp_path / "history")
    assert sorted(p.name for p in history.iterdir()) == ["train.parquet"]
    assert read_dataset(spec, history).target["date"].max() == pd.Timestamp("2013-01-20")
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    keys = drop_partitions(holdout, zone, log=lambda line: None)
    assert keys == ["2013-01-21_sales.parquet", "2013-01-28_sales.parquet"]
    week = pd.read_parquet(tmp_path / "landing" / keys[0])
    assert len(week) == 7 * 4 and week["date"].min() == pd.Timestamp("2013-01-21")
