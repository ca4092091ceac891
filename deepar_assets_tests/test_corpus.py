"""The bad-input corpus (deepar_assets_tests/corpus/, described in its cases.yaml): every bad file
through the real raw_sales path and through the landing path alike.

The spec is the corpus's own (corpus/spec.yaml: 2 stores x 2 departments, weekly, a related
table and a metadata table). The good history (corpus/good/history/) is stored once per module;
each test works on a copy of that store. Its partition is the week after the history:

- the raw_sales path: a source folder with the good files of that week (corpus/good/partition/),
  the case's file in place of its table's, materialized over the partition as the bulk load is;
- the landing path: the week's good drops in a landing folder, the case's file as its table's
  drop (or, for a metadata table, beside them), one look of the landing sensor, and the run it
  requests.

Each run must fail with a DataValidationError naming the file, and change nothing stored. The
good files pass both paths (the first two tests), so each failure is the case's own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from deepar_assets.assets.data import build_data_assets
from deepar_assets.domain.spec import load_spec
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.sensors.landing import build_landing_sensor
from deepar_assets.storage.raw import stored_partitions
from deepar_assets_tests.conftest import materialize_partitions

CORPUS = Path(__file__).resolve().parent / "corpus"
SPEC_FILE = str(CORPUS / "spec.yaml")
SPEC = load_spec(SPEC_FILE)
CASES: dict[str, dict] = yaml.safe_load((CORPUS / "cases.yaml").read_text())["cases"]
HISTORY = ("2024-01-05", "2024-01-26")  # the partitions of corpus/good/history
PARTITION = "2024-02-02"  # the week of corpus/good/partition, and of every case
SUFFIXES = (".csv.gz", ".csv", ".parquet")

raw_sales = build_data_assets(SPEC)[0]
landing_zone_sensor = build_landing_sensor(SPEC, raw_sales)


def _suffix(name: str) -> str:
    return next(s for s in SUFFIXES if name.endswith(s))


def _cases(path: str) -> list[str]:
    return [name for name, case in CASES.items() if case.get("only", path) == path]


def _good(table: str) -> Path:
    """The good file of a table for the partition."""
    return CORPUS / "good" / "partition" / f"{SPEC.table(table).file}.csv"


def _source(**fields) -> SalesSource:
    return SalesSource(dataset=SPEC_FILE, **fields)


def _snapshot(storage: StorageResource) -> dict[str, bytes]:
    store = storage.store()
    return {key: store.get_bytes(key) for key in store.list_keys("")}


def _failure(result: dg.ExecuteInProcessResult):
    """The error of the run's one failed step (the user code's, not Dagster's wrapper)."""
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    return error.cause or error


def _check_refused(result: dg.ExecuteInProcessResult, name: str, files: dict[str, str]) -> None:
    assert not result.success, f"{name} was accepted"
    error = _failure(result)
    assert error.cls_name == "DataValidationError", f"{name}: {error.cls_name}: {error.message}"
    for part in CASES[name]["expect"]:
        expected = part.format(file=files[CASES[name]["table"]], **files)
        assert expected in error.message, f"{name}: {expected!r} not in {error.message!r}"


@pytest.fixture(scope="module")
def instance():
    return dg.DagsterInstance.ephemeral()


@pytest.fixture(scope="module")
def history(tmp_path_factory, instance) -> Path:
    """A store holding the good history, loaded by the raw_sales path."""
    folder = tmp_path_factory.mktemp("corpus_history") / "storage"
    resources = {
        "source": _source(location=str(CORPUS / "good" / "history")),
        "storage": StorageResource(location=str(folder)),
    }
    assert materialize_partitions([raw_sales], *HISTORY, resources=resources, instance=instance).success
    return folder


@pytest.fixture
def storage(tmp_path, history) -> StorageResource:
    """A copy of the stored history, for one test to write to."""
    shutil.copytree(history, tmp_path / "storage")
    return StorageResource(location=str(tmp_path / "storage"))


def _source_folder(folder: Path, name: str | None) -> dict[str, str]:
    """The partition's good files in ``folder``, the case's file in place of its table's; returns
    table → the path of its file."""
    folder.mkdir()
    replaced = CASES[name]["table"] if name else None
    files = {}
    for table in SPEC.tables:
        if table.name == replaced:
            path = folder / f"{table.file}{_suffix(name)}"
            shutil.copyfile(CORPUS / "cases" / name, path)
        else:
            path = folder / f"{table.file}.csv"
            shutil.copyfile(_good(table.name), path)
        files[table.name] = str(path)
    return files


def _raw_run(tmp_path: Path, storage: StorageResource, instance, name: str | None):
    files = _source_folder(tmp_path / "source", name)
    resources = {"source": _source(location=str(tmp_path / "source")), "storage": storage}
    result = materialize_partitions(
        [raw_sales], PARTITION, PARTITION, resources=resources, instance=instance, raise_on_error=False
    )
    return result, files


def _drop(tmp_path: Path, name: str | None) -> tuple[SalesSource, dict[str, str]]:
    """The partition's good drops in a landing folder, the case's file as its table's drop (a
    metadata table: beside them); returns the source and table → the URI of its file (the
    stored one for a metadata table that is not dropped)."""
    source = _source(
        location=str(CORPUS / "good" / "history"), landing=str(tmp_path / "landing"), landing_settle_seconds=0
    )
    zone = source.landing_zone()
    (tmp_path / "landing").mkdir()
    replaced = CASES[name]["table"] if name else None
    files = {table.name: f"the stored {table.name}" for table in SPEC.metadata}
    for table in [SPEC.target, *SPEC.related, *SPEC.metadata]:
        dropped = table.name in (SPEC.target.name, *(t.name for t in SPEC.related))
        if table.name == replaced:
            key = f"{PARTITION}_{table.name}{_suffix(name)}" if dropped else f"{table.name}{_suffix(name)}"
            zone.put(key, (CORPUS / "cases" / name).read_bytes())
        elif dropped:
            key = f"{PARTITION}_{table.name}.csv"
            zone.put(key, _good(table.name).read_bytes())
        else:
            continue
        files[table.name] = zone.uri(key)
    return source, files


def _landing_run(tmp_path: Path, storage: StorageResource, instance, name: str | None):
    source, files = _drop(tmp_path, name)
    sensed = landing_zone_sensor(dg.build_sensor_context(instance=instance, resources={"source": source}))
    [request] = sensed.run_requests
    assert request.partition_key == PARTITION
    result = dg.materialize(
        [raw_sales],
        partition_key=PARTITION,
        tags=request.tags,
        resources={"source": source, "storage": storage},
        instance=instance,
        raise_on_error=False,
    )
    return result, files


def test_the_good_partition_passes_the_raw_sales_path(tmp_path, storage, instance):
    result, _ = _raw_run(tmp_path, storage, instance, None)
    assert result.success
    assert stored_partitions(storage.store(), SPEC)[-1] == PARTITION


def test_the_good_drops_pass_the_landing_path(tmp_path, storage, instance):
    result, _ = _landing_run(tmp_path, storage, instance, None)
    assert result.success
    assert stored_partitions(storage.store(), SPEC)[-1] == PARTITION


def test_every_case_file_is_declared_and_every_declared_case_has_its_file():
    assert sorted(p.name for p in (CORPUS / "cases").iterdir()) == sorted(CASES)
    tables = {t.name for t in SPEC.tables}
    for name, case in CASES.items():
        assert set(case) <= {"table", "expect", "only", "why"}, name
        assert case["table"] in tables and case["expect"], name
        if "only" in case:  # a case one path alone refuses says why
            assert case["only"] == "raw" and case.get("why"), name


@pytest.mark.parametrize("name", _cases("raw"))
def test_the_raw_sales_path_refuses(name, tmp_path, storage, instance):
    before = _snapshot(storage)
    result, files = _raw_run(tmp_path, storage, instance, name)
    _check_refused(result, name, files)
    assert _snapshot(storage) == before


@pytest.mark.parametrize("name", _cases("landing"))
def test_the_landing_path_refuses(name, tmp_path, storage, instance):
    before = _snapshot(storage)
    result, files = _landing_run(tmp_path, storage, instance, name)
    _check_refused(result, name, files)
    assert _snapshot(storage) == before
    assert PARTITION not in stored_partitions(storage.store(), SPEC)
