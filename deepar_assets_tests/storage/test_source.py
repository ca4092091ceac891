"""The source of the raw data (``SalesSource``): which spec, which folder (a folder, s3:// or the
generated synthetic dataset), and reading it as the spec declares."""

from __future__ import annotations

import gzip
import re

import pandas as pd
import pytest

from deepar_assets.domain.synthetic import SyntheticSpec, write_dataset
from deepar_assets.errors import ConfigurationError, DataValidationError
from deepar_assets.resources.source import SalesSource, download_spec_files, spec_keys
from deepar_assets.storage.local import FolderStore
from deepar_assets.weeks import partition_range
from deepar_assets_tests.storage.conftest import BUCKET, PREFIX

SMALL = SyntheticSpec(n_stores=2, n_depts=3, n_weeks=20, n_future_weeks=5, seed=1)


def synthetic_source(tmp_path, **options) -> SalesSource:
    return SalesSource(
        synthetic_dir=str(tmp_path / "synthetic"),
        synthetic_stores=SMALL.n_stores,
        synthetic_depts=SMALL.n_depts,
        synthetic_weeks=SMALL.n_weeks,
        **options,
    )


def test_the_spec_comes_from_the_field_then_deepar_dataset_then_synthetic(monkeypatch):
    assert SalesSource().spec().name == "synthetic"
    monkeypatch.setenv("DEEPAR_DATASET", "aus_retail")
    assert SalesSource().spec().name == "aus_retail"
    assert SalesSource(dataset="walmart").spec().name == "walmart"


@pytest.mark.parametrize("dataset", ["synthetic", "walmart"])
def test_without_a_source_the_synthetic_data_is_generated(tmp_path, dataset):
    source = synthetic_source(tmp_path, dataset=dataset)
    folder, kind = source.folder()
    assert kind == "synthetic" and (folder / "train.csv").is_file()
    raw = source.load()
    assert raw.spec.name == dataset
    assert raw.target["Store"].nunique() == SMALL.n_stores
    assert partition_range(raw) == ("2010-02-05", f"{pd.Timestamp('2010-02-05') + pd.Timedelta(weeks=19):%Y-%m-%d}")


def test_another_spec_without_a_source_says_to_set_deepar_source(tmp_path):
    with pytest.raises(
        ConfigurationError, match="dataset store_item_demand: no source is configured; set DEEPAR_SOURCE"
    ):
        synthetic_source(tmp_path, dataset="store_item_demand").load()


def test_a_folder_source(tmp_path, monkeypatch):
    folder = write_dataset(tmp_path / "data", SMALL)
    monkeypatch.setenv("DEEPAR_SOURCE", str(folder))
    assert SalesSource().folder() == (folder, "folder")
    assert len(SalesSource().load().target) == len(pd.read_csv(folder / "train.csv"))
    with pytest.raises(ConfigurationError, match="expected a folder or s3://bucket/prefix"):
        SalesSource(location="ftp://host/data").folder()


def test_daily_partitions_are_weekly_when_the_spec_says_so(tmp_path):
    days = pd.date_range("2013-01-01", "2013-01-20")
    frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "store": 1, "item": 1, "sales": 3})
    frame.to_csv(tmp_path / "train.csv", index=False)
    raw = SalesSource(dataset="store_item_demand", location=str(tmp_path)).load()
    assert partition_range(raw) == ("2012-12-31", "2013-01-14")  # Mondays


def test_only_the_spec_files_are_downloaded(tmp_path):
    store = FolderStore(tmp_path / "bucket")
    for key in ("train.csv", "features.csv.gz", "stores.parquet", "notes.txt", "old/train.csv", "sales/a.csv"):
        store.put_bytes(key, b"x")
    spec = SalesSource(dataset="walmart").spec()
    assert spec_keys(store, spec) == ["features.csv.gz", "stores.parquet", "train.csv"]
    glob = spec.model_copy(update={"target": spec.target.model_copy(update={"file": "sales/*.csv"})})
    assert spec_keys(store, glob) == ["features.csv.gz", "sales/a.csv", "stores.parquet"]
    folder = download_spec_files(store, glob, tmp_path / "local")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name[0] != ".") == [
        "features.csv.gz",
        "sales/a.csv",
        "stores.parquet",
    ]


def test_an_s3_source_is_downloaded_and_read_with_errors_naming_s3(tmp_path, make_s3_store):
    folder = write_dataset(tmp_path / "data", SMALL, compress=True)
    s3 = make_s3_store()
    for path in folder.glob("*.csv.gz"):
        s3.put_bytes(path.name, path.read_bytes())
    s3.put_bytes("unrelated.bin", b"\0" * 10)
    location = f"s3://{BUCKET}/{PREFIX}"
    source = synthetic_source(tmp_path, location=location)
    local, kind = source.folder()
    names = sorted(p.name for p in local.iterdir() if not p.name.startswith("."))
    assert kind == "s3" and names == ["features.csv.gz", "stores.csv.gz", "train.csv.gz"]
    raw = source.load()
    assert raw.source == location and len(raw.target) == len(pd.read_csv(folder / "train.csv.gz"))
    # A bad value of the same length (same size, new ETag): copied again, and the message names
    # the object on S3, not the local copy.
    text = gzip.decompress((folder / "train.csv.gz").read_bytes()).decode().splitlines()
    cells = text[3].split(",")
    cells[3] = "x" * len(cells[3])
    text[3] = ",".join(cells)
    data = gzip.compress(("\n".join(text) + "\n").encode(), mtime=0)
    s3.put_bytes("train.csv.gz", data)
    with pytest.raises(DataValidationError) as info:
        source.load()
    assert str(info.value).startswith(f"{location}/train.csv.gz, line 4, column Weekly_Sales: found {cells[3]!r}")


@pytest.mark.parametrize("value", ["s3:/bucket/p", "S3://bucket/p", "s3a://bucket/p", "http://host/p", "file:///tmp/p"])
def test_source_and_landing_locations_with_another_scheme_are_refused(monkeypatch, tmp_path, value):
    monkeypatch.chdir(tmp_path)
    expected = rf"{{}}={re.escape(repr(value))}: .* expected a folder or s3://bucket/prefix"
    monkeypatch.setenv("DEEPAR_SOURCE", value)
    monkeypatch.setenv("DEEPAR_LANDING", value)
    with pytest.raises(ConfigurationError, match=expected.format("DEEPAR_SOURCE")):
        SalesSource().folder()
    with pytest.raises(ConfigurationError, match=expected.format("DEEPAR_LANDING")):
        SalesSource().landing_zone()
    with pytest.raises(ConfigurationError, match=expected.format(r"resources\.source\.config\.landing")):
        SalesSource(landing=value).landing_zone()
    assert list(tmp_path.iterdir()) == []


def test_a_landing_zone_that_is_a_file_says_so(monkeypatch, tmp_path):
    (tmp_path / "landing").write_text("a file")
    monkeypatch.setenv("DEEPAR_LANDING", str(tmp_path / "landing"))
    with pytest.raises(ConfigurationError, match=r"DEEPAR_LANDING=.*landing'.* is a file, not a folder"):
        SalesSource().landing_zone()


def test_the_sensors_look_at_s3_has_tighter_limits_than_runs(aws_env, monkeypatch):
    """The landing sensor's look must end well inside Dagster's 60 s sensor evaluation timeout."""
    source = SalesSource(landing=f"s3://{BUCKET}/incoming")
    run = source.landing_zone().store.client.meta.config
    look = source.landing_zone(sensor=True).store.client.meta.config
    assert (run.connect_timeout, run.read_timeout, run.retries["total_max_attempts"]) == (10, 30, 5)
    assert (look.connect_timeout, look.read_timeout, look.retries["total_max_attempts"]) == (3, 5, 3)
    assert look.retries["total_max_attempts"] * (look.connect_timeout + look.read_timeout) < 30
    monkeypatch.setenv("DEEPAR_S3_READ_TIMEOUT", "1")
    assert source.landing_zone(sensor=True).store.client.meta.config.read_timeout == 1  # a tighter setting wins
    assert (
        SalesSource(landing=f"s3://{BUCKET}/i", read_timeout=2).landing_zone().store.client.meta.config.read_timeout
        == 2
    )
