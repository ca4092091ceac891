"""How much one DeepAR training run depends on its seed, and what pooling members buys, on a
kept run's validation window (``benchmarks/quick_graph.py --keep`` prints the storage).

    .venv/bin/python benchmarks/members.py --storage /tmp/deepar-bench-…/storage --seeds 42 43 44 45

The run's best hyperparameters are trained on its dataset version's test channel once per seed,
as best_model trains its evaluated model (two at a time, one process per core), and each network
forecasts the validation window. Printed, over all series and the complete ones: every seed
alone, then the first k seeds as an ensemble (k = 2 … all: the members draw the samples one
network draws between them and pool them, as ``best_model.members`` = k forecasts), and each of
those in the run's combination in DeepAR's place, with the run's own weights and band scale
(the weights the run chose on its past windows with its own DeepAR: what the ensemble earns
there is not re-measured here; a graph run with the ensemble measures that).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", required=True, help="the kept run's DEEPAR_STORAGE folder")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44, 45])
    args = parser.parse_args()
    storage = Path(args.storage)

    from deepar_assets.constants import TEST, VALIDATION
    from deepar_assets.domain import backtest as bt
    from deepar_assets.domain import combination as cb
    from deepar_assets.engines.base import TuningSettings
    from deepar_assets.engines.inference import model_dataset, model_encoding, read_channel
    from deepar_assets.engines.local import LocalEngine
    from deepar_assets.storage.local import FolderStore

    combination = pickle.loads((storage / "handover" / "combination.pickle").read_bytes())
    store = FolderStore(storage)
    card = json.loads((storage / "models" / combination.model_id / "model.json").read_text())
    dataset = model_dataset(store, card)
    encoding = model_encoding(store, dataset)
    h = dataset.prediction_length
    rows = combination.validation_rows
    channel = read_channel(store, dataset, VALIDATION)
    records = [channel[i] for i in rows]
    settings = TuningSettings(**card["training_settings"])
    hp = card["hyperparameters"]
    print(f"model {combination.model_id}: {hp}; {len(records)} validation series; seeds {args.seeds}", flush=True)

    with tempfile.TemporaryDirectory(prefix="deepar-members-") as scratch:
        engine = LocalEngine(store, Path(scratch))
        test = engine.read_channel(dataset, TEST)
        began = time.monotonic()
        networks = engine.fit_many(
            dataset, {seed: test for seed in args.seeds}, hp, settings, args.seeds[0], seeds={s: s for s in args.seeds}
        )
        print(f"trained {len(networks)} networks in {time.monotonic() - began:.0f} s (two at a time)", flush=True)
        forecasts = {
            f"seed {seed}": engine.forecast(networks[seed], dataset, records, seed, cut=h) for seed in args.seeds
        }
        for k in range(2, len(args.seeds) + 1):
            members = [networks[seed] for seed in args.seeds[:k]]
            forecasts[f"{k} members {args.seeds[:k]}"] = engine.forecast(
                members, dataset, records, args.seeds[0], cut=h
            )

    window = bt.build_window(records, h, encoding, combination.validation[bt.DEEPAR])
    actual, point_weights = window.actual, window.weights
    complete = ~np.isnan(actual).any(axis=1)
    weights = combination.weights[cb.VALIDATION_TARGET][rows]
    scale = combination.band_scales[cb.VALIDATION_TARGET]

    def scores(forecast: dict[str, np.ndarray]) -> str:
        parts = []
        for subset, mask in (("all", np.ones(len(rows), dtype=bool)), ("complete", complete)):
            histories = [window.histories[i] for i in np.flatnonzero(mask)]
            naive = bt.score(
                actual[mask],
                {k: v[mask] for k, v in combination.validation[bt.SEASONAL_NAIVE].items()},
                point_weights[mask],
                histories,
                window.season,
            )
            mine = bt.score(
                actual[mask], {k: v[mask] for k, v in forecast.items()}, point_weights[mask], histories, window.season
            )
            parts.append(
                f"{subset} {mine['WMAE'] / naive['WMAE']:.3f} x naive, wQL {mine['mean_wQuantileLoss']:.4f}, "
                f"coverage {mine['coverage_80']:.2f}"
            )
        return "; ".join(parts)

    print(f"{'the run (as published)':34s} DeepAR: {scores(combination.validation[bt.DEEPAR])}")
    print(f"{'':34s} combination: {scores(combination.validation['combination'])}")
    for name, forecast in forecasts.items():
        print(f"{name:34s} DeepAR: {scores(forecast)}")
        if len(combination.candidates) > 1:
            swapped = {**combination.validation, bt.DEEPAR: forecast}
            combined = cb.widen(cb.combine(swapped, combination.candidates, weights), scale)
            print(f"{'':34s} combination: {scores(combined)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
