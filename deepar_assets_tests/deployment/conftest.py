"""A real PostgreSQL server for the instance tests: the one `.ci/run` starts (its DAGSTER_PG_*
variables), else one started here from Debian's `postgresql` package; each test gets a fresh
database and a Dagster home whose dagster.yaml is deploy/dagster-postgres.yaml."""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from pathlib import Path

import pytest

from deepar_assets_tests.forecasting.conftest import grown_source  # noqa: F401 (a fixture the graph runs on)

ROOT = Path(__file__).resolve().parents[2]
PG_VARIABLES = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB")


def _ci_postgres():
    spec = importlib.util.spec_from_file_location("ci_postgres", ROOT / ".ci" / "postgres.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """DAGSTER_PG_* of a running server: CI's (.ci/run), else one started for this session."""
    if os.environ.get("DAGSTER_PG_HOST"):
        yield {name: os.environ.get(name, "") for name in PG_VARIABLES}
        return
    if not (shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))):
        pytest.skip("no PostgreSQL server: .ci/run starts one (apt-get install postgresql to run these here)")
    ci = _ci_postgres()
    folder = Path("/tmp") / f"deepar-pg-{uuid.uuid4().hex[:8]}"  # the server's user must reach it
    try:
        yield ci.start(folder)
    finally:
        ci.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def connect(variables: dict[str, str]):
    """A psycopg2 connection to the database DAGSTER_PG_* name."""
    import psycopg2

    return psycopg2.connect(
        host=variables["DAGSTER_PG_HOST"],
        port=int(variables["DAGSTER_PG_PORT"]),
        user=variables["DAGSTER_PG_USER"],
        password=variables["DAGSTER_PG_PASSWORD"] or None,
        dbname=variables["DAGSTER_PG_DB"],
    )


def fresh_database(postgres: dict[str, str]) -> dict[str, str]:
    """A new, empty database on the server: DAGSTER_PG_* pointing at it."""

    name = f"test_{uuid.uuid4().hex[:12]}"
    connection = connect(postgres)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return {**postgres, "DAGSTER_PG_DB": name}


def postgres_home(folder: Path) -> Path:
    """A Dagster home whose instance is the shipped PostgreSQL config."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy" / "dagster-postgres.yaml", folder / "dagster.yaml")
    return folder


@pytest.fixture
def pg_env(postgres, monkeypatch, tmp_path):
    """This test's own database, and DAGSTER_HOME on it (the variables set in this process)."""
    variables = fresh_database(postgres)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    home = postgres_home(tmp_path / "pg_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return variables
