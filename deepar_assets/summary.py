"""Print where the last run left the model, and how to look at it (`make run` ends with this)."""

from __future__ import annotations

import dagster as dg


def main() -> int:
    instance = dg.DagsterInstance.get()
    event = instance.get_latest_materialization_event(dg.AssetKey("best_model"))
    if event is None or event.asset_materialization is None:
        print("best_model has not been materialized in this Dagster home yet.")
        return 1
    metadata = event.asset_materialization.metadata
    print()
    print(f"model:     {metadata['model_uri'].value}")
    print(f"objective: {metadata['objective_metric'].value} = {metadata['objective_value'].value:.5f} (test channel)")
    for name in ("validation:mean_wQuantileLoss", "validation:RMSE"):
        if name in metadata:
            naive = metadata.get(f"seasonal_naive {name}")
            extra = f" (seasonal naive {naive.value:.5g})" if naive is not None else ""
            print(f"{name}: {metadata[name].value:.5g}{extra}")
    print("UI:        make ui, then open http://127.0.0.1:3000")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
