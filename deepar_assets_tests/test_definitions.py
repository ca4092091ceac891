import os
import subprocess
import sys

import dagster as dg

from deepar_assets.definitions import defs

EXPECTED = ["raw_sales", "encoded_series", "s3_datasets", "tuning_run", "best_model"]


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
