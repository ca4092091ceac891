"""The local engine's search on real data: speed and accuracy, as tuning_run and best_model run it.

    .venv/bin/python benchmarks/tuning.py                           # the default budget (20 trials)
    .venv/bin/python benchmarks/tuning.py --config configs/quick.yaml
    .venv/bin/python benchmarks/tuning.py --trials 4 --parallel 2   # override the budget / parallelism
    .venv/bin/python benchmarks/tuning.py --dataset aus_retail --config configs/quick.yaml

It publishes the dataset of a spec (``--dataset``, else $DEEPAR_DATASET, else walmart) from its
files (``--source``, else $DEEPAR_SOURCE, else ../shared/data/<dataset>) to a temporary store,
runs the search with the run config's tuning_run settings over the dataset's default space
(the ranges the run config gives in its place), then best_model's training, validation
scoring and refit. Prints trials per minute, training batches per second, where the time
went, the engine's training throughput against a bare-PyTorch floor of the same network and
batches measured in the same run (``ratio``), and the validation-window figures of the model against seasonal naive, over the series
with every period observed (2,660 in the Kaggle Walmart data) and over all series.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepar_assets.assets.config import DatasetConfig, TuningConfig  # noqa: E402
from deepar_assets.domain.encoding import encode  # noqa: E402
from deepar_assets.domain.hyperparameters import describe_space  # noqa: E402
from deepar_assets.domain.reading import read_dataset  # noqa: E402
from deepar_assets.domain.spec import DATASET_VARIABLE, load_spec  # noqa: E402
from deepar_assets.engines.base import search_space_for  # noqa: E402
from deepar_assets.engines.local import LocalEngine  # noqa: E402
from deepar_assets.storage.datasets import publish_dataset  # noqa: E402
from deepar_assets.storage.local import FolderStore  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=os.environ.get(DATASET_VARIABLE) or "walmart", help="the dataset spec")
    parser.add_argument("--source", help="its files (default: $DEEPAR_SOURCE, else ../shared/data/<dataset>)")
    parser.add_argument("--config", help="a run config (configs/*.yaml); default: tuning_run's defaults")
    parser.add_argument("--trials", type=int, help="override max_trials")
    parser.add_argument("--parallel", type=int, help="override parallel_trials")
    parser.add_argument("--skip-best", action="store_true", help="stop after the search")
    parser.add_argument(
        "--floor-epochs",
        type=int,
        help="epochs of the throughput comparison (default: the best trial's); 0 skips it",
    )
    args = parser.parse_args()

    ops = (yaml.safe_load(Path(args.config).read_text()) or {}).get("ops", {}) if args.config else {}
    tuning = dict(ops.get("tuning_run", {}).get("config", {}))
    if args.trials:
        tuning["max_trials"] = args.trials
    if args.parallel is not None:
        tuning["parallel_trials"] = args.parallel
    config = TuningConfig(**tuning)
    dataset_config = DatasetConfig(**ops.get("s3_datasets", {}).get("config", {}))
    settings = config.settings()
    given = config.search_space.to_space() if config.search_space is not None else {}
    spec = load_spec(args.dataset)
    source = args.source or os.environ.get("DEEPAR_SOURCE") or str(ROOT.parent / "shared" / "data" / spec.name)

    with tempfile.TemporaryDirectory(prefix="deepar-tuning-") as tmp:
        store = FolderStore(Path(tmp) / "storage")
        began = time.perf_counter()
        encoded = encode(read_dataset(spec, source))
        dataset = publish_dataset(store, encoded, dataset_config.horizon(spec), staging_dir=Path(tmp)).ref
        data_s = time.perf_counter() - began
        engine = LocalEngine(store, Path(tmp) / "work", study_db=Path(tmp) / "studies.db")
        space, origin = search_space_for(store, dataset, given)
        print(f"dataset: {spec.name} from {source}, {encoded.n_series} series, horizon {dataset.prediction_length}")
        print(f"settings: {settings}")
        print(f"space ({origin}): {describe_space(space)}")
        began = time.perf_counter()
        result = engine.tune(dataset, space, settings, lambda line: print("  " + line, flush=True))
        tune_s = time.perf_counter() - began
        trials = result.trials
        batches = sum(t.metrics.get("epochs_run", 0) * t.metrics.get("batches_per_epoch", 0) for t in trials)
        train_s = sum(t.metrics.get("train_seconds", 0.0) for t in trials)
        eval_s = sum(t.metrics.get("eval_seconds", 0.0) for t in trials)
        states = {s: sum(t.state == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL")}
        best = result.best()
        print(f"best trial {best.number}: {result.objective_metric}={best.objective:.5f} {best.hyperparameters}")
        print(
            f"trials={len(trials)} {states} tune_s={tune_s:.0f} trials_per_min={len(trials) / (tune_s / 60):.2f} "
            f"train_batches_per_s={batches / max(train_s, 1e-9):.1f} (per trial, summed over {batches} batches) "
            f"train_s={train_s:.0f} eval_s={eval_s:.0f} data_s={data_s:.1f}"
        )
        if args.floor_epochs != 0:
            throughput(engine, dataset, best.hyperparameters, settings, args.floor_epochs, Path(tmp))
        if args.skip_best:
            return 0
        began = time.perf_counter()
        model = engine.register_best(result, lambda line: print("  " + line, flush=True))
        best_s = time.perf_counter() - began
        evaluation = model.card["evaluation"]
        for label, figures in (
            (f"complete series ({evaluation['complete_series']})", evaluation["metrics_complete_series"]),
            (f"all series ({evaluation['series']})", evaluation["metrics"]),
        ):
            ours, naive = figures["model"], figures["seasonal_naive"]
            print(
                f"validation, {label}: WMAE={ours['WMAE']:.0f} (naive {naive['WMAE']:.0f}, "
                f"ratio {ours['WMAE'] / naive['WMAE']:.3f}) mean_wQuantileLoss={ours['mean_wQuantileLoss']:.4f} "
                f"(naive {naive['mean_wQuantileLoss']:.4f}) RMSE={ours['RMSE']:.0f} MASE={ours['MASE']:.3f}"
            )
        print(f"best_model_s={best_s:.0f} total_s={data_s + tune_s + best_s:.0f}")
    return 0


def throughput(engine, dataset, hp: dict, settings, epochs: int | None, tmp: Path) -> None:
    """The engine's training batches per second against a floor measured in the same run: the
    same network (GluonTS's DeepAR module for ``hp``), batch shape, inputs and one thread,
    trained in a bare PyTorch loop (forward, loss, backward, Adam step) on batches drawn once.
    The engine's figure is a whole ``fit`` as a trial runs it (one process, no pruning
    callback): GluonTS's transformation, Lightning's loop and the batches drawn as it goes."""
    import itertools

    import lightning.pytorch as pl
    import torch
    from gluonts.itertools import select

    from deepar_assets.engines.local import (
        batches_per_epoch,
        deepar_estimator,
        one_torch_thread,
        quiet_training,
        to_gluonts_entries,
    )

    records = engine.read_channel(dataset, "train")
    hp = {**hp, "epochs": epochs or int(hp["epochs"])}
    n_batches = int(hp["epochs"]) * batches_per_epoch(settings, len(records), int(hp["mini_batch_size"]))
    seed = settings.seed
    began = time.perf_counter()
    engine.fit(dataset, records, hp, settings, seed)
    engine_s = time.perf_counter() - began

    with quiet_training(), one_torch_thread():
        pl.seed_everything(seed, workers=True, verbose=False)
        estimator = deepar_estimator(dataset, hp, settings, len(records), seed, str(tmp))
        module = estimator.create_lightning_module()
        transformed = estimator.create_transformation().apply(to_gluonts_entries(records, dataset.freq), is_train=True)
        loader = estimator.create_training_data_loader(transformed, module)
        drawn = list(itertools.islice(iter(loader), min(50, len(loader))))
        optimizer = torch.optim.Adam(module.model.parameters(), lr=float(hp["learning_rate"]))
        module.train()

        def step(batch) -> None:
            loss = module.model.loss(
                **select(module.inputs, batch),
                future_observed_values=batch["future_observed_values"],
                future_target=batch["future_target"],
            ).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        for batch in drawn[:5]:  # warm-up
            step(batch)
        began = time.perf_counter()
        for batch in itertools.islice(itertools.cycle(drawn), n_batches):
            step(batch)
        floor_s = time.perf_counter() - began
    engine_rate, floor_rate = n_batches / engine_s, n_batches / floor_s
    shape = {name: tuple(value.shape) for name, value in drawn[0].items() if name in ("past_target", "future_target")}
    print(
        f"throughput ({hp['epochs']} epochs, {n_batches} batches of {hp['mini_batch_size']}, {shape}, 1 thread): "
        f"engine_batches_per_s={engine_rate:.1f} (fit {engine_s:.1f} s) floor_batches_per_s={floor_rate:.1f} "
        f"(bare PyTorch {floor_s:.1f} s) ratio={engine_rate / floor_rate:.2f}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
