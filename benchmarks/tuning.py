"""The local engine's search on real data: speed and accuracy, as tuning_run and best_model run it.

    .venv/bin/python benchmarks/tuning.py                           # the default budget (20 trials)
    .venv/bin/python benchmarks/tuning.py --config configs/quick.yaml
    .venv/bin/python benchmarks/tuning.py --trials 4 --parallel 2   # override the budget / parallelism

It publishes the dataset of ../shared/data/walmart (or --source) to a temporary store, runs the
search with the run config's tuning_run settings, then best_model's training, validation
scoring and refit. Prints trials per minute, training batches per second, where the time
went, and the validation-window figures of the model against seasonal naive, over the series
with every week observed (2,660 in the Kaggle data) and over all series.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepar_assets.assets.config import DatasetConfig, TuningConfig  # noqa: E402
from deepar_assets.domain.encoding import encode  # noqa: E402
from deepar_assets.domain.kaggle import read_kaggle  # noqa: E402
from deepar_assets.engines.local import LocalEngine  # noqa: E402
from deepar_assets.storage.datasets import publish_dataset  # noqa: E402
from deepar_assets.storage.local import FolderStore  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=str(ROOT.parent / "shared" / "data" / "walmart"))
    parser.add_argument("--config", help="a run config (configs/*.yaml); default: tuning_run's defaults")
    parser.add_argument("--trials", type=int, help="override max_trials")
    parser.add_argument("--parallel", type=int, help="override parallel_trials")
    parser.add_argument("--skip-best", action="store_true", help="stop after the search")
    args = parser.parse_args()

    ops = (yaml.safe_load(Path(args.config).read_text()) or {}).get("ops", {}) if args.config else {}
    tuning = dict(ops.get("tuning_run", {}).get("config", {}))
    if args.trials:
        tuning["max_trials"] = args.trials
    if args.parallel is not None:
        tuning["parallel_trials"] = args.parallel
    config = TuningConfig(**tuning)
    dataset_config = DatasetConfig(**ops.get("s3_datasets", {}).get("config", {}))
    settings, space = config.settings(), config.search_space.to_space()

    with tempfile.TemporaryDirectory(prefix="deepar-tuning-") as tmp:
        store = FolderStore(Path(tmp) / "storage")
        began = time.perf_counter()
        encoded = encode(read_kaggle(args.source))
        dataset = publish_dataset(store, encoded, dataset_config.prediction_length, staging_dir=Path(tmp)).ref
        data_s = time.perf_counter() - began
        engine = LocalEngine(store, Path(tmp) / "work", study_db=Path(tmp) / "studies.db")
        print(f"settings: {settings}")
        print("space: " + ", ".join(f"{k}={v}" for k, v in space.items()))
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


if __name__ == "__main__":
    raise SystemExit(main())
