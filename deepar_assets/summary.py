"""Print where a run left the model, and how to look at it (`make run` ends with this).

It reports one run: the one ``make run`` launched (:mod:`deepar_assets.launch` passes its id),
never whatever ran last in the instance (a sensor's run while ``make ui`` is up). Of a failed
run it tells apart the one failure that is an outcome rather than an error: the blocking check
that refuses to publish a model that does not beat seasonal naive. Then it says why and
returns 0; any other failure returns 1. ``python -m deepar_assets.summary [--run-id ID]``
prints it again (default: the latest run ``make run`` launched).
"""

from __future__ import annotations

import argparse
import sys

import dagster as dg

GATE = "beats_seasonal_naive"


def _gate_refusal(instance: dg.DagsterInstance, run_id: str | None = None) -> str | None:
    """The gate's description when the run (default: the latest) failed on the gate alone, else None."""
    runs = instance.get_runs(dg.RunsFilter(run_ids=[run_id]) if run_id else None, limit=1)
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


def _latest_metadata(instance: dg.DagsterInstance, asset: str, run_id: str | None = None) -> dict:
    """The asset's materialization metadata from the run when it materialized it there, else
    from its latest materialization (an asset the run did not select)."""
    event = None
    if run_id is not None:
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            if entry.asset_materialization is not None and entry.asset_materialization.asset_key == dg.AssetKey(asset):
                event = entry
    if event is None:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    if event is None or event.asset_materialization is None:
        return {}
    return dict(event.asset_materialization.metadata)


def latest_launch(instance: dg.DagsterInstance) -> str | None:
    """The id of the latest run ``make run`` launched (its launcher tags it), or None."""
    from deepar_assets.launch import LAUNCHED_BY, LAUNCHED_BY_TAG

    runs = instance.get_runs(dg.RunsFilter(tags={LAUNCHED_BY_TAG: LAUNCHED_BY}), limit=1)
    return runs[0].run_id if runs else None


def report(instance: dg.DagsterInstance, run_id: str, failed: bool) -> int:
    """Prints the summary of the run ``run_id``; the exit status ``make run`` ends with."""
    refusal = _gate_refusal(instance, run_id) if failed else None
    if failed and refusal is None:
        print(f"the run {run_id} failed: its error is above (and in the UI: make ui).")
        return 1
    metadata = _latest_metadata(instance, "best_model", run_id)
    if not metadata:
        print(f"run {run_id} succeeded; best_model has not been materialized in this Dagster home yet.")
        return 0
    dataset = _latest_metadata(instance, "raw_sales", run_id).get("dataset")
    print()
    print(f"run:       {run_id}")
    if dataset is not None:
        print(f"dataset:   {dataset.value}")
    print(f"model:     {metadata['model_uri'].value}")
    print(f"objective: {metadata['objective_metric'].value} = {metadata['objective_value'].value:.5f} (test channel)")
    for name in ("validation:WMAE", "validation:mean_wQuantileLoss", "validation:RMSE", "validation:MASE"):
        if name in metadata:
            naive = metadata.get(f"seasonal naive {name}", metadata.get(f"seasonal_naive {name}"))
            extra = f" (seasonal naive {naive.value:.5g})" if naive is not None else ""
            print(f"{name}: {metadata[name].value:.5g}{extra}")
    combination = _latest_metadata(instance, "combination", run_id)
    if combination and "combination WMAE" in combination:
        print(
            f"published: {', '.join(combination['candidates'].value)} combined, "
            f"validation:WMAE {combination['combination WMAE'].value:.5g}, "
            f"mean_wQuantileLoss {combination['combination mean_wQuantileLoss'].value:.5g}, "
            f"coverage p10..p90 {combination['combination coverage_80'].value:.3g} "
            f"(levels {combination['levels'].value})"
        )
    if "validation:WMAE" in metadata:
        print("           WMAE is the MAE weighted by the spec's period weights (the plain MAE when it declares none)")
    if refusal:
        print(f"NOT PUBLISHED: {refusal}")
        print("           forecasts, backtest_report and scenario_forecasts were not run;")
        print("           try a larger budget: make run CONFIG=configs/full.yaml")
    else:
        forecasts = _latest_metadata(instance, "forecasts", run_id)
        model_id = metadata.get("model_id")
        if (
            forecasts
            and model_id is not None
            and forecasts.get("model_id")
            and forecasts["model_id"].value == model_id.value
        ):
            print(f"forecasts: {forecasts['csv_uri'].value} (and .parquet beside it)")
        backtest = _latest_metadata(instance, "backtest_report", run_id)
        if backtest and "report_uri" in backtest:
            print(f"backtest:  {backtest['report_uri'].value}")
        accuracy = _latest_metadata(instance, "forecast_accuracy", run_id)
        if accuracy and "vintages" in accuracy:
            verdict = accuracy.get("drift_verdict")
            print(
                f"accuracy:  {accuracy['vintages'].value} vintage(s) of forecasts kept, "
                f"{accuracy['scored_vintages'].value} scored on the actuals that followed"
                + (f"; {verdict.value.strip('*')}" if verdict is not None else "")
            )
    print("UI:        make ui, then open http://127.0.0.1:3000")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepar_assets.summary", description="The summary of a run.")
    parser.add_argument("--run-id", help="the run (default: the latest run make run launched)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    instance = dg.DagsterInstance.get()
    run_id = args.run_id or latest_launch(instance)
    if run_id is None:
        print("make run has not launched a run in this Dagster home yet.")
        return 1
    runs = instance.get_runs(dg.RunsFilter(run_ids=[run_id]), limit=1)
    if not runs:
        print(f"no run {run_id} in this Dagster home ({instance.root_directory}).")
        return 1
    return report(instance, run_id, failed=runs[0].status == dg.DagsterRunStatus.FAILURE)


if __name__ == "__main__":
    raise SystemExit(main())
