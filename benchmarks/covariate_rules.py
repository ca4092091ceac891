"""What a covariate's outside_training rule does to DeepAR alone on the validation window.

    .venv/bin/python benchmarks/covariate_rules.py --keep CPI Unemployment Fuel_Price Temperature
    .venv/bin/python benchmarks/covariate_rules.py --keep all --seed 7

Two encodings of the spec's data (``--dataset``, else walmart; files from ``--source``, else
../shared/data/<dataset>): the spec's own, and one where the ``--keep`` features (``all``: every
covariate and derived feature) keep their values outside the training channel's range instead
of the declared rule. The same hyperparameters (``--hp``, JSON; default: the full config's best
on Walmart) and seed train on each one's test channel, as best_model trains the evaluated model
(side by side, one process each), and are scored on the validation window. The first model is
also scored with the second encoding's features: that separates what the rule changes at
forecast time from what it changes in training. One line per model: WMAE and its ratio to
seasonal naive, mean wQuantileLoss, over all series and the complete ones.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The full config's best trial on the Kaggle Walmart data (seed 42): 32 epochs, context 49, 80 cells.
WALMART_BEST = {
    "epochs": 32,
    "context_length": 49,
    "num_cells": 80,
    "num_layers": 2,
    "learning_rate": 0.00440909098064096,
    "dropout_rate": 0.08235971372691539,
    "mini_batch_size": 60,
    "embedding_dimension": 7,
    "likelihood": "student-T",
}


def publish(spec_text: str, source: str, folder: Path) -> tuple[Any, list[dict[str, Any]]]:
    """The encoding's dataset version in a store under ``folder``, and what the audit decided."""
    from deepar_assets.assets.config import DatasetConfig
    from deepar_assets.domain.encoding import encode
    from deepar_assets.domain.reading import read_dataset
    from deepar_assets.domain.spec.load import parse_spec
    from deepar_assets.storage.datasets import publish_dataset
    from deepar_assets.storage.local import FolderStore

    spec = parse_spec(spec_text)
    encoded = encode(read_dataset(spec, source))
    folder.mkdir(parents=True)
    horizon = DatasetConfig().horizon(spec)
    ref = publish_dataset(FolderStore(folder / "storage"), encoded, horizon, staging_dir=folder).ref
    return ref, encoded.encoding.audit


def train_and_score(folder: str, ref, scored: dict[str, tuple[str, Any]], hp: dict, seed: int) -> dict[str, dict]:
    """Train on ``ref``'s test channel; score on each named (store folder, dataset) validation window."""
    from deepar_assets.domain.backtest import validation_report
    from deepar_assets.engines.base import TuningSettings
    from deepar_assets.engines.inference import model_encoding
    from deepar_assets.engines.local import LocalEngine
    from deepar_assets.storage.local import FolderStore

    engine = LocalEngine(FolderStore(Path(folder) / "storage"), Path(folder) / "work")
    predictor = engine.fit(ref, engine.read_channel(ref, "test"), hp, TuningSettings(seed=seed), seed)
    out = {}
    for name, (other_folder, other_ref) in scored.items():
        other = LocalEngine(FolderStore(Path(other_folder) / "storage"), Path(other_folder) / "work")
        validation = other.read_channel(other_ref, "validation")
        _, forecast, actual = engine.evaluate(predictor, other_ref, validation, seed)
        h = other_ref.prediction_length
        report = validation_report(validation, forecast, actual, model_encoding(other.store, other_ref), h)
        out[name] = {part: report[part] for part in ("metrics", "metrics_complete")}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=os.environ.get("DEEPAR_DATASET") or "walmart")
    parser.add_argument("--source", default=os.environ.get("DEEPAR_SOURCE"))
    parser.add_argument("--keep", nargs="+", required=True, help="features that keep their values ('all': every one)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--hp", help="hyperparameters as JSON (default: the full config's best on Walmart)")
    args = parser.parse_args()

    from deepar_assets.domain.spec.load import spec_path

    spec_text = spec_path(args.dataset).read_text()
    raw = yaml.safe_load(spec_text)
    source = args.source or str(ROOT.parent / "shared" / "data" / raw["name"])
    every = [*raw.get("covariates", {}), *[d["name"] for d in raw.get("derived", [])]]
    keep = every if args.keep == ["all"] else args.keep
    unknown = sorted(set(keep) - set(every))
    if unknown:
        parser.error(f"--keep: {unknown} are not covariates or derived features of {args.dataset} ({every})")
    for name, covariate in raw.get("covariates", {}).items():
        if name in keep:
            covariate["outside_training"] = "keep"
    for derived in raw.get("derived", []):
        if derived["name"] in keep:
            derived["outside_training"] = "keep"
    hp = json.loads(args.hp) if args.hp else WALMART_BEST

    with tempfile.TemporaryDirectory(prefix="deepar-rules-") as tmp:
        folders = {"declared": str(Path(tmp) / "declared"), "kept": str(Path(tmp) / "kept")}
        refs = {}
        for name, text in (("declared", spec_text), ("kept", yaml.safe_dump(raw, sort_keys=False))):
            refs[name], audit = publish(text, source, Path(folders[name]))
            print(f"{name}: " + ", ".join(f"{f['feature']} {f['action']}" for f in audit), flush=True)
        print(f"hyperparameters: {hp}, seed {args.seed}", flush=True)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=spawn) as pool:
            declared = pool.submit(
                train_and_score,
                folders["declared"],
                refs["declared"],
                {"declared": (folders["declared"], refs["declared"]), "kept": (folders["kept"], refs["kept"])},
                hp,
                args.seed,
            )
            kept = pool.submit(
                train_and_score, folders["kept"], refs["kept"], {"kept": (folders["kept"], refs["kept"])}, hp, args.seed
            )
            rows = [
                ("trained declared, forecast declared", declared.result()["declared"]),
                ("trained declared, forecast kept", declared.result()["kept"]),
                ("trained kept, forecast kept", kept.result()["kept"]),
            ]
    for label, report in rows:
        parts = []
        for part in ("metrics", "metrics_complete"):
            model, naive = report[part]["model"], report[part]["seasonal_naive"]
            parts.append(
                f"{'all' if part == 'metrics' else 'complete'}: WMAE {model['WMAE']:.1f} "
                f"({model['WMAE'] / naive['WMAE']:.3f} x naive) wQL {model['mean_wQuantileLoss']:.4f}"
            )
        print(f"{label:36s} " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
