"""Print where the last run left the model, and how to look at it (`make run` ends with this).

With ``--run-failed`` (the materialization exited non-zero) it tells apart the one failure
that is an outcome rather than an error: the blocking check that refuses to publish a model
that does not beat seasonal naive. Then it says why and exits 0; any other failure exits 1.
"""

from __future__ import annotations

import sys

import dagster as dg

GATE = "beats_seasonal_naive"


def _gate_refusal(instance: dg.DagsterInstance) -> str | None:
    """The gate's description when the latest run failed on the gate alone, else None."""
    runs = instance.get_runs(limit=1)
    if not runs or runs[0].status != dg.DagsterRunStatus.FAILURE:
        return None
    failed_steps: set[str] = set()
    refusal = None
    for entry in instance.all_logs(runs[0].run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_FAILURE" and event.step_key:
            failed_steps.add(event.step_key)
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            if evaluation.check_name == GATE and not evaluation.passed:
                refusal = evaluation.description or "the model does not beat seasonal naive"
    if refusal and failed_steps and all(step.endswith(GATE) for step in failed_steps):
        return refusal
    return None


def _latest_metadata(instance: dg.DagsterInstance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    if event is None or event.asset_materialization is None:
        return {}
    return dict(event.asset_materialization.metadata)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    instance = dg.DagsterInstance.get()
    refusal = _gate_refusal(instance) if "--run-failed" in argv else None
    if "--run-failed" in argv and refusal is None:
        print("the run failed: its error is above (and in the UI: make ui).")
        return 1
    metadata = _latest_metadata(instance, "best_model")
    if not metadata:
        print("best_model has not been materialized in this Dagster home yet.")
        return 1
    dataset = _latest_metadata(instance, "raw_sales").get("dataset")
    print()
    if dataset is not None:
        print(f"dataset:   {dataset.value}")
    print(f"model:     {metadata['model_uri'].value}")
    print(f"objective: {metadata['objective_metric'].value} = {metadata['objective_value'].value:.5f} (test channel)")
    for name in ("validation:WMAE", "validation:mean_wQuantileLoss", "validation:RMSE", "validation:MASE"):
        if name in metadata:
            naive = metadata.get(f"seasonal naive {name}", metadata.get(f"seasonal_naive {name}"))
            extra = f" (seasonal naive {naive.value:.5g})" if naive is not None else ""
            print(f"{name}: {metadata[name].value:.5g}{extra}")
    if "validation:WMAE" in metadata:
        print("           WMAE is the MAE weighted by the spec's period weights (the plain MAE when it declares none)")
    if refusal:
        print(f"NOT PUBLISHED: {refusal}")
        print("           forecasts, backtest_report and scenario_forecasts were not run for this model;")
        print("           try a larger budget: make run CONFIG=configs/full.yaml")
    else:
        forecasts = _latest_metadata(instance, "forecasts")
        model_id = metadata.get("model_id")
        if (
            forecasts
            and model_id is not None
            and forecasts.get("model_id")
            and forecasts["model_id"].value == model_id.value
        ):
            print(f"forecasts: {forecasts['csv_uri'].value} (and .parquet beside it)")
        accuracy = _latest_metadata(instance, "forecast_accuracy")
        if accuracy and "vintages" in accuracy:
            verdict = accuracy.get("drift_verdict")
            print(
                f"accuracy:  {accuracy['vintages'].value} vintage(s) of forecasts kept, "
                f"{accuracy['scored_vintages'].value} scored on the actuals that followed"
                + (f"; {verdict.value.strip('*')}" if verdict is not None else "")
            )
    print("UI:        make ui, then open http://127.0.0.1:3000")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
