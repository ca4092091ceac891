"""The local engine's forecasting speed on real data against a floor measured in the same run.

    .venv/bin/python benchmarks/forecast.py                       # Walmart, 100 sample paths
    .venv/bin/python benchmarks/forecast.py --dataset aus_retail --samples 200

It publishes the dataset of a spec (``--dataset``, else $DEEPAR_DATASET, else walmart) from its
files (``--source``, else $DEEPAR_SOURCE, else ../shared/data/<dataset>) to a temporary store,
trains a DeepAR network of the given shape for one short epoch (the weights do not change the
arithmetic), then forecasts every series' horizon after the validation channel's T − h as
``forecasts`` does (the engine's ``forecast``: GluonTS's predictor, its transformation, the
sampling, the quantiles). The floor is one sampling pass of the same network in bare PyTorch:
the same batches of inputs, built beforehand, through the network's forward (encoder once, then
``samples`` paths decoded step by step), with the same threads. Prints series per second for
both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepar_assets.assets.config import DatasetConfig  # noqa: E402
from deepar_assets.domain.encoding import encode  # noqa: E402
from deepar_assets.domain.reading import read_dataset  # noqa: E402
from deepar_assets.domain.spec import DATASET_VARIABLE, load_spec  # noqa: E402
from deepar_assets.engines.base import TuningSettings  # noqa: E402
from deepar_assets.engines.local import LocalEngine, to_gluonts_entries  # noqa: E402
from deepar_assets.storage.datasets import publish_dataset  # noqa: E402
from deepar_assets.storage.local import FolderStore  # noqa: E402

# The network of the quick config's best Walmart trial (seed 42).
DEFAULT_HP = {
    "epochs": 1,
    "context_length": 64,
    "num_cells": 72,
    "num_layers": 2,
    "learning_rate": 0.0037,
    "dropout_rate": 0.066,
    "mini_batch_size": 55,
    "embedding_dimension": 6,
    "likelihood": "student-T",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=os.environ.get(DATASET_VARIABLE) or "walmart", help="the dataset spec")
    parser.add_argument("--source", help="its files (default: $DEEPAR_SOURCE, else ../shared/data/<dataset>)")
    parser.add_argument("--samples", type=int, default=100, help="sample paths per series (forecasts' default: 100)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes of each; the fastest is kept")
    args = parser.parse_args()
    import numpy as np
    import torch
    from gluonts.dataset.loader import InferenceDataLoader
    from gluonts.itertools import select
    from gluonts.torch.batchify import batchify
    from gluonts.transform import SelectFields

    spec = load_spec(args.dataset)
    source = args.source or os.environ.get("DEEPAR_SOURCE") or str(ROOT.parent / "shared" / "data" / spec.name)
    with tempfile.TemporaryDirectory(prefix="deepar-forecast-") as tmp:
        store = FolderStore(Path(tmp) / "storage")
        encoded = encode(read_dataset(spec, source))
        dataset = publish_dataset(store, encoded, DatasetConfig().horizon(spec), staging_dir=Path(tmp)).ref
        engine = LocalEngine(store, Path(tmp) / "work")
        train = engine.read_channel(dataset, "train")
        settings = TuningSettings(num_batches_per_epoch=10, num_eval_samples=args.samples, seed=42)
        predictor = engine.fit(dataset, train, DEFAULT_HP, settings, seed=42)
        records = engine.read_channel(dataset, "validation")
        h = dataset.prediction_length

        engine_s = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            out = engine.forecast(predictor, dataset, records, seed=42, cut=h)
            engine_s.append(time.perf_counter() - began)
        assert out["mean"].shape == (len(records), h)

        loader = InferenceDataLoader(
            to_gluonts_entries(records, dataset.freq, cut=h),
            transform=predictor.input_transform
            + SelectFields(predictor.input_names + predictor.required_fields, allow_missing=True),
            batch_size=predictor.batch_size,
            stack_fn=lambda data: batchify(data, predictor.device),
        )
        batches = [select(predictor.input_names, batch, ignore_missing=True) for batch in loader]
        net = predictor.prediction_net
        net.eval()
        floor_s = []
        with torch.no_grad():
            for _ in range(args.repeat):
                torch.manual_seed(42)
                began = time.perf_counter()
                samples = [net(**batch) for batch in batches]
                floor_s.append(time.perf_counter() - began)
        drawn = np.concatenate([s.numpy() for s in samples])
        assert drawn.shape == (len(records), args.samples, h), drawn.shape

    n = len(records)
    engine_best, floor_best = min(engine_s), min(floor_s)
    print(
        f"dataset: {spec.name}, {n} series, horizon {h}, {args.samples} samples, batch {predictor.batch_size}, "
        f"{torch.get_num_threads()} threads, network {DEFAULT_HP['num_layers']}x{DEFAULT_HP['num_cells']} cells, "
        f"context {DEFAULT_HP['context_length']}"
    )
    print(
        f"engine_s={engine_best:.2f} engine_series_per_s={n / engine_best:.0f} "
        f"floor_s={floor_best:.2f} floor_series_per_s={n / floor_best:.0f} ratio={floor_best / engine_best:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
