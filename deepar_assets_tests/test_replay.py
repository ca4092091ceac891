"""The replay command on a small generated source, at pace 0: the history without the last
weeks, and those weeks dropped into a landing folder one at a time."""

from __future__ import annotations

import gzip
import io

import pandas as pd
import pytest

from deepar_assets.domain.kaggle import read_kaggle
from deepar_assets.domain.landing import parse_drop_name
from deepar_assets.replay import drop_weeks, hold_out, main
from deepar_assets.storage.landing import LandingZone
from deepar_assets.storage.local import FolderStore


def _text(path) -> pd.DataFrame:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


def test_history_and_drops_add_up_to_the_source_value_for_value(small_source, tmp_path, capsys):
    history, landing = tmp_path / "history", tmp_path / "landing"
    args = ["--source", str(small_source), "--weeks", "4", "--holdout-dir", str(history), "--landing", str(landing)]
    assert main([*args, "--pace", "0"]) == 0
    source = _text(small_source / "train.csv")
    weeks = sorted(source["Date"].unique())[-4:]

    history = read_kaggle(tmp_path / "history")  # a valid Kaggle folder
    assert f"{history.sales['Date'].max():%Y-%m-%d}" < weeks[0]
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
    assert f"holding back 4 week(s), {weeks[0]} to {weeks[-1]}" in out and "DEEPAR_SOURCE=" in out


def test_weeks_are_dropped_oldest_first_at_the_pace_asked_sales_last(small_source, tmp_path):
    holdout = hold_out(small_source, 3)
    order, pauses = [], []
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    keys = drop_weeks(holdout, zone, 2.5, compress=True, log=order.append, sleep=pauses.append)
    assert keys == [f"{w}_{kind}.csv.gz" for w in holdout.weeks for kind in ("features", "sales")]
    assert pauses == [2.5, 2.5]
    assert all(parse_drop_name(k).compressed for k in keys)
    assert len(_text(tmp_path / "landing" / keys[1])) == len(holdout.week_rows(holdout.weeks[0], "sales"))
    assert not [p for p in (tmp_path / "landing").iterdir() if p.name.startswith(".")]  # no temporary files left


def test_sales_only_and_bad_requests(small_source, tmp_path, capsys):
    holdout = hold_out(small_source, 1)
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    assert drop_weeks(holdout, zone, features=False, log=lambda line: None) == [f"{holdout.weeks[0]}_sales.csv"]
    assert main(["--source", str(small_source), "--weeks", "500", "--holdout-dir", str(tmp_path / "h")]) == 2
    assert "the source has 80 weeks of sales; hold back fewer than that (--weeks 500)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--source", str(small_source), "--weeks", "2"])  # neither --holdout-dir nor --landing
