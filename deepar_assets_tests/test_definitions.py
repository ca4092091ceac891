import os
import subprocess
import sys

import dagster as dg
import pytest

from deepar_assets.definitions import build_definitions, defs
from deepar_assets.domain.spec import spec_path
from deepar_assets.errors import SpecError

EXPECTED = ["raw_sales", "encoded_series", "s3_datasets", "tuning_run", "best_model"]


def _raw_partitions(definitions: dg.Definitions) -> dg.TimeWindowPartitionsDefinition:
    return definitions.resolve_asset_graph().get(dg.AssetKey("raw_sales")).partitions_def


def test_definitions_load_with_the_five_assets_in_lineage():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert set(EXPECTED) <= keys
    for upstream, downstream in zip(EXPECTED, EXPECTED[1:], strict=False):
        parents = {k.to_user_string() for k in graph.get(dg.AssetKey(downstream)).parent_keys}
        assert upstream in parents, f"{downstream} should depend on {upstream}"
    for key in EXPECTED:
        description = graph.get(dg.AssetKey(key)).description
        assert description and len(description) > 40, f"{key} needs a description for the UI"
    assert defs.resolve_job_def("deepar_pipeline") is not None


def test_the_synthetic_and_walmart_partitions_are_the_fridays_from_the_first_week():
    weekly = dg.WeeklyPartitionsDefinition(start_date="2010-02-05", day_offset=5, fmt="%Y-%m-%d")
    for dataset in ("synthetic", "walmart"):
        assert _raw_partitions(build_definitions(dataset, "manual")) == weekly
    assert _raw_partitions(defs) == weekly  # no DEEPAR_DATASET: the synthetic dataset


@pytest.mark.parametrize(
    "dataset, first, key, window",
    [
        # daily data in weekly partitions: the Monday that starts the week of 2013-01-01
        ("store_item_demand", "2012-12-31", "2013-01-07", ("2013-01-07", "2013-01-14")),
        ("aus_retail", "1982-04-01", "1982-05-01", ("1982-05-01", "1982-06-01")),
    ],
)
def test_partitions_follow_the_spec_and_are_known_when_the_definitions_load(dataset, first, key, window):
    partitions = _raw_partitions(build_definitions(dataset, "manual"))
    assert partitions.get_first_partition_key() == first
    assert partitions.get_partition_keys()[1] == key
    span = partitions.time_window_for_partition_key(key)
    assert (f"{span.start:%Y-%m-%d}", f"{span.end:%Y-%m-%d}") == window


def test_the_dataset_comes_from_the_environment_when_the_location_loads(monkeypatch):
    monkeypatch.setenv("DEEPAR_DATASET", "aus_retail")
    assert _raw_partitions(build_definitions(tuning_policy="manual")).get_first_partition_key() == "1982-04-01"
    assert _raw_partitions(build_definitions("walmart", "manual")).get_first_partition_key() == "2010-02-05"
    monkeypatch.delenv("DEEPAR_DATASET")
    assert _raw_partitions(build_definitions(tuning_policy="manual")).get_first_partition_key() == "2010-02-05"


def test_runs_read_the_spec_the_partitions_came_from(monkeypatch):
    monkeypatch.setenv("DEEPAR_DATASET", "store_item_demand")
    loaded = build_definitions(tuning_policy="manual")
    monkeypatch.setenv("DEEPAR_DATASET", "aus_retail")  # changed after the location loaded
    source = loaded.resources["source"]
    assert source.dataset == str(spec_path("store_item_demand"))
    assert source.spec().name == "store_item_demand"


def test_an_unknown_dataset_fails_the_load_naming_it():
    with pytest.raises(SpecError, match="'nowhere': not a shipped dataset"):
        build_definitions("nowhere", "manual")


def test_import_reads_no_settings_and_starts_no_heavy_libraries():
    """Settings are read when resources are used, not at import; torch/gluonts load lazily."""
    code = (
        "import os, sys; os.environ['DEEPAR_BACKEND'] = 'nonsense'; import deepar_assets; "
        "print(','.join(m for m in ('torch', 'gluonts', 'optuna', 'lightning', 'sagemaker') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), check=True)
    assert out.stdout.strip() == ""


def test_workspace_and_pyproject_point_at_the_package():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "workspace.yaml")) as handle:
        assert "deepar_assets" in handle.read()
    with open(os.path.join(root, "pyproject.toml")) as handle:
        assert 'module_name = "deepar_assets"' in handle.read()
