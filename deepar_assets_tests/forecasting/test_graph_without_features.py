"""The graph up to backtest_report on a spec with no dynamic feature at all (no covariate, no
calendar feature): its records have no ``dynamic_feat`` key, and a backtest over two rolling
origins retrains the model on the histories cut at the earlier one. Issue #18, item 11: this
used to end in a bare KeyError. Real (small) training."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd

from deepar_assets.assets import PIPELINE, build_assets
from deepar_assets.assets.forecasting import FORECASTING_CHECKS
from deepar_assets.domain.spec import load_spec
from deepar_assets_tests.conftest import materialize_weeks
from deepar_assets_tests.forecasting.conftest import GOOD_TRAINING, metadata, resources

H = 7
T = "2021-06-28"  # 120 days from 2021-03-01
PLAIN_SPEC = """
name: plain_shops
description: Daily units of items in shops, and nothing known ahead.
frequency: D
start: "2021-03-01"
target:
  name: sales
  file: sales
  ids: [shop, item]
  id_types: {shop: string, item: int}
  time: {column: day}
  target: units
evaluation:
  season_length: 7
  prediction_length: 7
"""


def _sales(days: int = 120, seed: int = 3) -> pd.DataFrame:
    """Each series alternates between half and one and a half times its level, day after day,
    with noise of 5 %: seasonal naive (the same day a week earlier, an odd lag) is always in the
    other phase, off by the level, and a model that learns no more than the level beats it."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-03-01", periods=days, freq="D")
    phase = 1 + 0.5 * (-1) ** np.arange(days)
    rows = []
    for s, shop in enumerate(("east", "north", "south")):
        for item in (1, 2, 3, 4):
            level = 20.0 * (s + 1) * item
            units = level * phase + rng.normal(0, 0.05 * level, days)
            rows.append(pd.DataFrame({"shop": shop, "item": item, "day": dates, "units": np.round(units, 1)}))
    return pd.concat(rows, ignore_index=True)


def test_a_backtest_over_two_origins_without_dynamic_features(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    _sales().to_csv(folder / "sales.csv", index=False, date_format="%Y-%m-%d")
    spec_file = tmp_path / "plain_shops.yaml"
    spec_file.write_text(PLAIN_SPEC)
    graph = [*build_assets(load_spec(str(spec_file))), *FORECASTING_CHECKS]
    config = {
        "ops": {
            "s3_datasets": {"config": {"prediction_length": H}},
            "tuning_run": {"config": GOOD_TRAINING},
            "backtest_report": {"config": {"rolling_origins": 2, "baselines": []}},
        }
    }
    result = materialize_weeks(
        graph,
        "2021-03-01",
        T,
        selection=[*PIPELINE, "combination", "backtest_report"],
        resources=resources(tmp_path, folder, dataset=str(spec_file)),
        run_config=config,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    assert result.asset_value("s3_datasets").dynamic_feat == []
    meta = metadata(result, "backtest_report")
    assert meta["origins"] == ["2021-06-14", "2021-06-21"]  # T - 2h and T - h
    overall = {r.data["model"]: r.data for r in meta["overall"].records}
    # The combination is scored at both origins: re-chosen at the earlier one.
    assert set(overall) == {"DeepAR", "seasonal_naive", "combination"} and overall["DeepAR"]["WMAE"] > 0
    assert [r.data["origin"] for r in meta["selections"].records] == meta["origins"]
    assert meta["baseline_fallbacks"] == {}
