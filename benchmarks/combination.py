"""The published forecast's accuracy, per candidate and for the combination: the tables issue #14
asks for, read from a run's store (``benchmarks/quick_graph.py --keep`` prints where it is).

    .venv/bin/python benchmarks/combination.py --storage /tmp/deepar-bench-…/storage

Prints, on the validation window, every candidate, DeepAR alone and the combination, over all
series, over the complete ones (an observed value in every period of the history to T, as
issue #14 counts them: Walmart's 2,660 of 3,092) and over those complete in the window only
(2,814): WMAE, its ratio to seasonal naive's, mean wQuantileLoss and the coverage of the
10–90 % band; then every candidate's scores on every past window that chose the weights, the
windows' plans and the level chosen with its held-out loss. With a rolling backtest
(``configs/yearly_backtest.yaml``: backtest_report.rolling_origins 4), then every model at every
origin (all series), the combination chosen at each origin, and the yearly figures: origins where
the combination is worse than seasonal naive, its mean WMAE ratio and mean coverage.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", required=True, help="the run's DEEPAR_STORAGE folder")
    args = parser.parse_args()
    storage = Path(args.storage)

    from deepar_assets.constants import FIELD_TARGET, VALIDATION
    from deepar_assets.domain import backtest as bt
    from deepar_assets.domain.combination import HORIZON_TARGET, VALIDATION_TARGET
    from deepar_assets.engines.inference import model_dataset, model_encoding, read_channel
    from deepar_assets.storage.local import FolderStore

    combination = pickle.loads((storage / "handover" / "combination.pickle").read_bytes())
    model_id = combination.model_id
    windows_csv = storage / "combinations" / model_id / "windows.csv"
    validation = combination.validation
    rows = combination.validation_rows
    naive = validation[bt.SEASONAL_NAIVE]
    store = FolderStore(storage)  # the actuals: the validation channel of the model's dataset version
    card = json.loads((storage / "models" / model_id / "model.json").read_text())
    dataset = model_dataset(store, card)
    encoding = model_encoding(store, dataset)
    records = read_channel(store, dataset, VALIDATION)
    h = dataset.prediction_length
    window = bt.build_window([records[i] for i in rows], h, encoding, validation[bt.DEEPAR])
    actual, weights = window.actual, window.weights
    in_window = ~np.isnan(actual).any(axis=1)
    longest = max(len(r[FIELD_TARGET]) for r in records)
    complete = np.asarray(
        [len(records[i][FIELD_TARGET]) == longest and np.isfinite(records[i][FIELD_TARGET]).all() for i in rows]
    )
    print(
        f"model {model_id}: validation window, {len(rows)} series ({int(complete.sum())} complete over the "
        f"history to T, {int(in_window.sum())} in the window)"
    )
    print(f"levels: {combination.levels}; candidates: {combination.candidates}")
    lines = []
    subsets = (("all", np.ones(len(rows), dtype=bool)), ("complete", complete), ("complete_in_window", in_window))
    for subset, mask in subsets:
        histories = [window.histories[i] for i in np.flatnonzero(mask)]
        base = bt.score(actual[mask], {k: v[mask] for k, v in naive.items()}, weights[mask], histories, window.season)
        for name, forecast in validation.items():
            part = {k: v[mask] for k, v in forecast.items()}
            scores = bt.score(actual[mask], part, weights[mask], histories, window.season)
            lines.append(
                {
                    "series": subset,
                    "model": name,
                    "WMAE": round(scores["WMAE"], 1),
                    "vs_naive": round(scores["WMAE"] / base["WMAE"], 3),
                    "mean_wQuantileLoss": round(scores["mean_wQuantileLoss"], 4),
                    "coverage_p10_p90": round(scores["coverage_80"], 3),
                }
            )
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(pd.DataFrame(lines).to_string(index=False))
        for target in (VALIDATION_TARGET, HORIZON_TARGET):
            matrix = combination.weights[target]
            means = {name: round(float(matrix[:, c].mean()), 3) for c, name in enumerate(combination.candidates)}
            power = combination.powers.get(target)
            cutoff = getattr(combination, "cutoffs", {}).get(target)  # older runs chose no cutoff
            print(
                f"{target}: level {combination.levels[target]}, weights ∝ 1/loss^{power} within {cutoff} x the best, "
                f"mean weights {means}"
            )
        if windows_csv.exists():
            frame = pd.read_csv(windows_csv)
            print("every candidate on every past window (window_drop: periods before T the window ends):")
            print(frame.to_string(index=False))
        by_origin = storage / "backtests" / model_id / "by_origin.parquet"  # the CSV's figures are rounded
        if by_origin.exists():
            _rolling(pd.read_parquet(by_origin), storage / "backtests" / model_id / "selections.csv")
    return 0


def _rolling(frame: pd.DataFrame, selections_csv: Path) -> None:
    """The rolling backtest's table: every model at every origin, then the yearly figures."""
    ratio = "WMAE_vs_seasonal_naive"  # recomputed from the WMAEs
    naive = frame[frame["model"] == "seasonal_naive"].set_index("origin")["WMAE"]
    frame = frame.assign(**{ratio: frame["WMAE"] / frame["origin"].map(naive)})
    shown = frame[["origin", "model", "series", "WMAE", ratio, "mean_wQuantileLoss", "coverage_80"]].round(4)
    print(f"backtest_report: every model at each of {frame['origin'].nunique()} origins (all series)")
    print(shown.to_string(index=False))
    if selections_csv.exists():
        print("the combination chosen at each origin (weights: mean over series):")
        print(pd.read_csv(selections_csv).to_string(index=False))
    for model in ("combination", "DeepAR"):
        mine = frame[frame["model"] == model]
        if mine.empty:
            continue
        print(
            f"{model}: origins worse than seasonal naive {int((mine[ratio] > 1).sum())} of {len(mine)}, "
            f"mean WMAE ratio {mine[ratio].mean():.3f}, mean wQuantileLoss {mine['mean_wQuantileLoss'].mean():.4f}, "
            f"mean coverage of p10..p90 {mine['coverage_80'].mean():.3f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
