import logging
import os
import random
from pathlib import Path

import numpy as np
import pytest

from deepar_assets.domain.synthetic import SyntheticSpec, write_dataset

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "walmart"

# A dataset small enough to train on in seconds: 3 stores × 5 departments × 80 weeks.
SMALL_SPEC = SyntheticSpec(n_stores=3, n_depts=5, n_weeks=80, n_future_weeks=13, seed=7)


@pytest.fixture(autouse=True)
def _seed(request):
    """Seed every test, and say which seed, as GluonTS's tests do."""
    seed = 1234
    random.seed(seed)
    np.random.seed(seed)
    logging.getLogger(__name__).info("test %s seeded with %d", request.node.name, seed)
    return seed


@pytest.fixture(scope="session", autouse=True)
def _isolated_session(tmp_path_factory):
    """Module- and session-scoped fixtures run before function-scoped ones: give them, too, a
    Dagster home of their own and no DEEPAR_* settings, so nothing lands in the repository."""
    with pytest.MonkeyPatch.context() as patch:
        _isolate(patch, tmp_path_factory.mktemp("session_dagster_home"))
        yield


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test reads the developer's DEEPAR_* settings or writes into the working directory."""
    _isolate(monkeypatch, tmp_path_factory.mktemp("dagster_home"))


def _isolate(patch: pytest.MonkeyPatch, home) -> None:
    """Drop every DEEPAR_* setting and point DAGSTER_HOME at ``home``, telemetry off."""
    for name in list(os.environ):
        if name.startswith("DEEPAR_"):
            patch.delenv(name)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    patch.setenv("DAGSTER_HOME", str(home))


@pytest.fixture(scope="session")
def small_source(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("small_source"), SMALL_SPEC)


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's server mode over HTTP on 127.0.0.1 (one per test session)."""
    from deepar_assets_tests.aws import moto_server

    with moto_server() as url:
        yield url


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch):
    """The usual AWS variables pointed at the moto endpoint, with fake credentials and a clean
    moto state; yields the endpoint URL."""
    from deepar_assets_tests.aws import REGION, reset

    reset(moto_endpoint)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    yield moto_endpoint


def synthetic_range(spec: SyntheticSpec) -> tuple[str, str]:
    """The first and last raw_sales partition keys of a generated synthetic dataset (the
    synthetic spec's partitions are its weeks, keyed by their Friday)."""
    import pandas as pd

    first = pd.Timestamp(spec.start)
    return f"{first:%Y-%m-%d}", f"{first + pd.Timedelta(weeks=spec.n_weeks - 1):%Y-%m-%d}"


def materialize_partitions(assets, first: str, last: str, **kwargs):
    """dagster.materialize over a range of raw_sales partitions in one run, as the CLI's
    --partition-range and a single-run backfill do."""
    import dagster as dg

    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return dg.materialize(assets, tags={**tags, **kwargs.pop("tags", {})}, **kwargs)


# The names these helpers had when every dataset was weekly.
week_range = synthetic_range
materialize_weeks = materialize_partitions
