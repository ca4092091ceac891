"""The landing sensor end to end on a real Dagster instance, on the synthetic spec (Walmart's
layout: weekly partitions, drops YYYY-MM-DD_sales.csv and YYYY-MM-DD_features.csv): a drop in
the landing zone (a folder, and S3 on moto's server) → one run request for its partition → the
run ingests it → the automation conditions request encoded_series and s3_datasets → a new
dataset version."""

from __future__ import annotations

import dataclasses
import json
import time

import dagster as dg
import pytest

from deepar_assets.domain.landing import file_version, upload_version
from deepar_assets.replay import csv_bytes, drop_partitions
from deepar_assets.resources.source import SalesSource
from deepar_assets.sensors.landing import LANDING_SENSOR
from deepar_assets.storage.raw import read_stored
from deepar_assets_tests.sensors.conftest import SPEC, landing_zone_sensor, raw_sales
from deepar_assets_tests.storage.fault_proxy import FaultProxy


@pytest.fixture(params=["folder", "s3"])
def any_world(request):
    return request.getfixturevalue("world" if request.param == "folder" else "s3_world")


def drop(world, holdout, *partitions, **kwargs) -> None:
    drop_partitions(
        dataclasses.replace(holdout, partitions=list(partitions)), world.zone, log=lambda line: None, **kwargs
    )


def failure_message(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    return error.cause.message if error.cause else error.message


def snapshot(store) -> dict[str, bytes]:
    return {key: store.get_bytes(key) for key in store.list_keys("raw/")}


def test_a_new_partition_is_requested_once_ingested_and_refreshes_the_datasets(any_world, holdout):
    world, week = any_world, holdout.partitions[0]
    versions = world.dataset_versions()
    assert world.sense() == []
    drop(world, holdout, week)

    [request] = world.sense()
    files = {i.key: i for i in world.zone.listing()}
    sales, features = files[f"{week}_sales.csv"], files[f"{week}_features.csv"]
    assert request.partition_key == week
    assert request.run_key == f"{sales.key}:{upload_version(sales)}|{features.key}:{upload_version(features)}"
    if world.zone.root_uri.startswith("s3://"):
        assert file_version(sales) == f"{sales.size}:{sales.etag}"
        assert upload_version(sales) == f"{sales.size}:{sales.etag}@{sales.modified:.6f}"

    result = world.run(request)
    assert result.success
    [materialization] = result.asset_materializations_for_node("raw_sales")
    assert materialization.partition == week
    assert materialization.metadata["source_kind"].value == "landing"
    assert materialization.metadata["source"].value == world.zone.uri(sales.key)
    assert world.partitions()[-1] == week
    stored = read_stored(world.store, SPEC)
    assert int((stored.target["Date"] == week).sum()) == len(holdout.partition_rows(week, "sales"))
    assert all(c.passed for c in result.get_asset_check_evaluations())

    assert world.automate() == {"encoded_series", "s3_datasets"}
    refresh = world.refresh()
    assert refresh.success
    [new] = sorted(set(world.dataset_versions()) - set(versions))
    datasets = refresh.asset_materializations_for_node("s3_datasets")[-1].metadata
    assert datasets["version"].value == new and datasets["validation_last_period"].value == week

    # The same files seen again: no request, and nothing for the automation to do.
    assert world.sense() == []
    assert world.automate() == set()


def test_a_corrected_file_is_one_restatement(any_world, holdout):
    world, week = any_world, holdout.partitions[0]
    drop(world, holdout, week)
    [first] = world.sense()
    assert world.run(first).success
    assert world.automate() == {"encoded_series", "s3_datasets"}
    assert world.refresh().success  # what the automation sensor launches

    rows = holdout.partition_rows(week, "sales").copy()
    store_1, dept_1 = int(rows.iloc[0]["Store"]), int(rows.iloc[0]["Dept"])
    rows.iloc[0, rows.columns.get_loc("Weekly_Sales")] = "123456.78"
    world.zone.put(f"{week}_sales.csv", csv_bytes(rows))

    [restatement] = world.sense()
    assert restatement.partition_key == week and restatement.run_key != first.run_key
    assert world.run(restatement).success
    stored = read_stored(world.store, SPEC).target
    in_week = stored[stored["Date"] == week]
    assert len(in_week) == len(rows) and not stored.duplicated(["Store", "Dept", "Date"]).any()
    row = in_week[(in_week["Store"] == store_1) & (in_week["Dept"] == dept_1)]
    assert row["Weekly_Sales"].tolist() == [123456.78]
    assert world.automate() == {"encoded_series", "s3_datasets"}
    assert world.sense() == []


def test_a_malformed_file_fails_its_run_keeps_the_stored_partitions_and_is_not_retried(any_world, holdout):
    world, week = any_world, holdout.partitions[0]
    drop(world, holdout, week)
    rows = holdout.partition_rows(week, "sales").copy()
    rows.iloc[1, rows.columns.get_loc("Weekly_Sales")] = "lots"
    world.zone.put(f"{week}_sales.csv", csv_bytes(rows))
    before = snapshot(world.store)

    [request] = world.sense()
    result = world.run(request, raise_on_error=False)
    assert not result.success
    assert f"{world.zone.uri(f'{week}_sales.csv')}, line 3, column Weekly_Sales: found 'lots', expected a number" in (
        failure_message(result)
    )
    assert snapshot(world.store) == before
    assert world.sense() == []  # the same bad file is not requested again
    assert world.automate() == set()

    world.zone.put(f"{week}_sales.csv", csv_bytes(holdout.partition_rows(week, "sales")))  # the corrected upload
    [corrected] = world.sense()
    assert world.run(corrected).success
    assert world.partitions()[-1] == week


def test_a_drop_holding_another_partition_fails_naming_both(world, holdout):
    week, other = holdout.partitions[0], holdout.partitions[1]
    world.zone.put(f"{week}_sales.csv", csv_bytes(holdout.partition_rows(other, "sales")))
    before = snapshot(world.store)
    [request] = world.sense()
    result = world.run(request, raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert (
        f"{week}_sales.csv, line 2, column Date: found {other}, expected {week}: the file name says which partition"
        in message
    )
    assert snapshot(world.store) == before


def test_partitions_that_sort_earlier_but_arrive_later_are_requested(any_world, holdout):
    world = any_world
    drop(world, holdout, holdout.partitions[2])
    [last] = world.sense()
    assert last.partition_key == holdout.partitions[2] and world.run(last).success
    drop(world, holdout, holdout.partitions[0], holdout.partitions[1])
    requests = world.sense()
    assert [r.partition_key for r in requests] == holdout.partitions[:2]
    for request in requests:
        assert world.run(request).success
    assert world.partitions()[-3:] == holdout.partitions
    assert world.automate() == {"encoded_series", "s3_datasets"}  # once for the three partitions


def test_the_same_bytes_uploaded_again_to_s3_do_nothing(s3_world, holdout):
    world, week = s3_world, holdout.partitions[0]
    drop(world, holdout, week)
    assert len(world.sense()) == 1
    drop(world, holdout, week)  # a new LastModified, the same ETag
    assert world.sense() == []


def test_bad_names_are_reported_and_never_requested(world, holdout):
    world.zone.put("sales_week_43.csv", b"Store,Dept,Date,Weekly_Sales,IsHoliday\n")
    week = holdout.partitions[0]
    world.zone.put(f"{week}_features.csv", csv_bytes(holdout.partition_rows(week, "features")))
    assert world.sense() == []
    assert (
        "rejected: sales_week_43.csv: not a drop of a partition ('sales' is not a partition key as YYYY-MM-DD); "
        "expected YYYY-MM-DD_sales.csv[.gz] or YYYY-MM-DD_features.csv[.gz]"
    ) in world.skip_message
    assert f"waiting: {week}_features.csv waits for {week}_sales.csv" in world.skip_message
    assert "sales_week_43.csv" in json.loads(world.sensor_cursor)["seen"]
    assert world.sense() == []
    assert "rejected" not in world.skip_message  # said once


def test_without_a_landing_zone_the_sensor_skips_saying_why(world):
    context = dg.build_sensor_context(instance=world.instance, resources={"source": SalesSource()})
    result = landing_zone_sensor(context)
    assert "no landing zone: set DEEPAR_LANDING" in result.skip_message


def test_a_landing_run_reads_only_its_own_partition_from_its_own_zone(world, holdout, tmp_path):
    drop(world, holdout, holdout.partitions[0])
    [request] = world.sense()
    elsewhere = SalesSource(location=world.source.location, landing=str(tmp_path / "other"))
    result = dg.materialize(
        [raw_sales],
        partition_key=request.partition_key,
        tags=request.tags,
        resources={**world.resources, "source": elsewhere},
        instance=world.instance,
        raise_on_error=False,
    )
    assert f"from the landing zone {world.zone.root_uri}, but its landing zone is {tmp_path / 'other'}" in (
        failure_message(result)
    )
    wrong_week = dg.materialize(
        [raw_sales],
        partition_key=holdout.partitions[1],
        tags=request.tags,
        resources=world.resources,
        instance=world.instance,
        raise_on_error=False,
    )
    first = holdout.partitions[0]
    assert f"the run ingests the drop {first}_sales.csv of the partition {first}, but targets" in (
        failure_message(wrong_week)
    )


def test_a_week_of_a_daily_dataset_lands_as_one_partition(tmp_path):
    """store_item_demand's spec: daily rows in weekly (Monday) partitions, no related tables; a
    drop named by its Monday holds the week's seven days."""
    import numpy as np
    import pandas as pd

    from deepar_assets.assets.data import build_data_assets
    from deepar_assets.domain.spec import load_spec
    from deepar_assets.replay import hold_out, write_history
    from deepar_assets.resources.storage import StorageResource
    from deepar_assets.sensors.landing import build_landing_sensor
    from deepar_assets_tests.conftest import materialize_partitions

    spec = load_spec("store_item_demand")
    days = pd.date_range("2013-01-01", "2013-02-10", freq="D")  # Tuesday to a Sunday: the last week is whole
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        [(f"{d:%Y-%m-%d}", s, i, int(rng.poisson(20))) for d in days for s in (1, 2) for i in (7, 8)],
        columns=["date", "store", "item", "sales"],
    )
    (tmp_path / "source").mkdir()
    frame.to_csv(tmp_path / "source" / "train.csv", index=False)
    holdout = hold_out(tmp_path / "source", 1, spec)
    assert holdout.partitions == ["2013-02-04"]
    history = write_history(holdout, tmp_path / "history")
    raw, _, _ = build_data_assets(spec)
    sensor = build_landing_sensor(spec, raw)
    source = SalesSource(
        dataset="store_item_demand", location=str(history), landing=str(tmp_path / "landing"), landing_settle_seconds=0
    )
    resources = {"source": source, "storage": StorageResource(location=str(tmp_path / "storage"))}
    with dg.instance_for_test() as instance:
        loaded = materialize_partitions([raw], "2012-12-31", "2013-01-28", resources=resources, instance=instance)
        assert loaded.success
        drop_partitions(holdout, source.landing_zone(), log=lambda line: None)
        result = sensor(dg.build_sensor_context(instance=instance, resources={"source": source}))
        [request] = result.run_requests
        assert request.partition_key == "2013-02-04" and request.run_key.startswith("2013-02-04_sales.csv:")
        run = dg.materialize(
            [raw], partition_key="2013-02-04", tags=request.tags, resources=resources, instance=instance
        )
        assert run.success
        metadata = run.asset_materializations_for_node("raw_sales")[0].metadata
        assert metadata["rows"].value == 7 * 4 and metadata["last_period"].value == "2013-02-10"
    stored = read_stored(resources["storage"].store(), spec).target
    assert len(stored) == len(frame) and stored["date"].max() == pd.Timestamp("2013-02-10")


def launch(world, request: dg.RunRequest) -> dg.ExecuteInProcessResult | None:
    """What the sensor daemon does with a request: nothing when a run of this sensor already
    has its run key, else the run, tagged with the run key."""
    tags = {"dagster/run_key": request.run_key, "dagster/sensor_name": LANDING_SENSOR}
    if world.instance.get_runs(filters=dg.RunsFilter(tags=tags)):
        return None
    return world.run(
        dg.RunRequest(partition_key=request.partition_key, run_key=request.run_key, tags={**request.tags, **tags})
    )


def test_a_version_that_comes_back_on_s3_is_ingested_again(s3_world, holdout):
    """v1, v2, then v1 again: the third request had the first run's key, so the daemon skipped
    it; the zone ended with v1 and storage with v2."""
    world, week = s3_world, holdout.partitions[0]
    key = f"{week}_sales.csv"
    drop(world, holdout, week)
    v1 = world.zone.store.get_bytes(key)
    rows = holdout.partition_rows(week, "sales").copy()
    rows.iloc[0, rows.columns.get_loc("Weekly_Sales")] = "123456.78"
    totals, run_keys = [], []
    for upload in (None, csv_bytes(rows), v1):
        if upload is not None:
            time.sleep(1.05)  # S3's LastModified counts whole seconds
            world.zone.put(key, upload)
        [request] = world.sense()
        run = launch(world, request)
        assert run is not None and run.success, f"the request {request.run_key} was not run"
        stored = read_stored(world.store, SPEC).target
        totals.append(round(float(stored.loc[stored["Date"] == week, "Weekly_Sales"].sum()), 2))
        run_keys.append(request.run_key)
    assert totals[0] == totals[2] != totals[1]
    assert len(set(run_keys)) == 3
    assert world.sense() == []


def test_a_file_replaced_after_the_look_fails_its_run_and_is_requested_again(world, holdout):
    """The run used to ingest what was at the key when it ran, recording the version the
    sensor had seen."""
    week = holdout.partitions[0]
    drop(world, holdout, week)
    [request] = world.sense()
    time.sleep(0.01)
    rows = holdout.partition_rows(week, "sales").copy()
    rows.iloc[0, rows.columns.get_loc("Weekly_Sales")] = "123456.78"
    world.zone.put(f"{week}_sales.csv", csv_bytes(rows))
    failed = world.run(request, raise_on_error=False)
    assert not failed.success
    message = failure_message(failed)
    assert f"{world.zone.uri(f'{week}_sales.csv')} changed since it was listed" in message
    assert "the landing sensor requests the new version on its next look" in message
    assert week not in world.partitions()
    [again] = world.sense()
    assert again.run_key != request.run_key
    done = world.run(again)
    assert done.success
    [materialization] = done.asset_materializations_for_node("raw_sales")
    [listed] = [i for i in world.zone.listing() if i.key == f"{week}_sales.csv"]
    assert materialization.metadata["landing_files"].value[world.zone.uri(listed.key)] == file_version(listed)


def test_the_sensors_look_at_an_endpoint_that_never_answers_fails_in_seconds(aws_env, monkeypatch):
    """The look must end well inside Dagster's 60 s sensor evaluation timeout, saying why."""
    with FaultProxy(aws_env) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        monkeypatch.setenv("DEEPAR_S3_READ_TIMEOUT", "0.5")
        proxy.hang("GET", r"list-type=2", times=1000)
        source = SalesSource(landing="s3://deepar-landing/incoming", landing_settle_seconds=0)
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            landing_zone_sensor(dg.build_sensor_context(resources={"source": source}))
        assert time.monotonic() - started < 15
        assert len(proxy.seen("GET", r"list-type=2")) == 3
    messages, error = [], caught.value
    while error is not None:
        messages.append(str(error))
        error = error.__cause__
    assert any(
        "list s3://deepar-landing/incoming/: " in m and "timed out after 0.5 s × 3 attempts" in m for m in messages
    )
