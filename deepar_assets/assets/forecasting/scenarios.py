"""scenario_forecasts: what-if forecasts and cold start with the current model, kept by name."""

import json
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from deepar_assets.assets.charts import scenario_chart, table
from deepar_assets.assets.forecasting.combination import COMBINATION_ASSET
from deepar_assets.assets.forecasting.common import (
    FORECAST_GROUP,
    SCENARIO_FILE,
    SCENARIOS_PREFIX,
    history_periods,
    model_context,
    origin_key,
    put_frame,
)
from deepar_assets.assets.forecasting.gate import require_passing_model
from deepar_assets.domain import backtest as bt
from deepar_assets.domain import forecasting as fc
from deepar_assets.domain.encoding import EncodedSeries
from deepar_assets.domain.spec import periods
from deepar_assets.engines.base import DatasetRef, RegisteredModel
from deepar_assets.engines.inference import forecaster
from deepar_assets.errors import ConfigurationError, EncodingError
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.base import ObjectStore


class FeatureChangeConfig(dg.Config):
    feature: str = Field(
        description="A known-ahead covariate of the model, or a derived indicator, by the name the "
        "dataset spec gives it."
    )
    multiply: float | None = Field(
        default=None, description="Multiply the raw value (e.g. 1.5 for a promotion budget × 1.5)."
    )
    add: float | None = Field(
        default=None, description="Add to the raw value, in the covariate's unit (e.g. -0.5 on a price)."
    )
    set_to: float | None = Field(
        default=None, description="Set the raw value; a bool covariate or derived indicator takes 0 or 1 only."
    )


class ScenarioConfig(dg.Config):
    name: str = Field(
        description="The scenario's name: kept under scenarios/<name>/ and run again on every materialization."
    )
    description: str = Field(default="", description="What the scenario means, for the people reading it.")
    select: dict[str, list[Any]] = Field(
        default={},
        description="The series changed: id column or categorical attribute → values, e.g. {store: [1, 2], category: "
        "[toys]}; every column must match, any of its values (empty: every series).",
    )
    first_period: str | None = Field(
        default=None,
        description="First period changed, by its label on the spec's "
        "frequency, YYYY-MM-DD (unset: the first forecast period).",
    )
    last_period: str | None = Field(
        default=None, description="Last period changed, YYYY-MM-DD (unset: the last forecast period)."
    )
    changes: list[FeatureChangeConfig] = Field(
        default=[], description="Feature changes, applied in order to the selection."
    )
    new_series: list[dict[str, Any]] = Field(
        default=[],
        description="Id combinations with no history to forecast (cold start): each a value for every id column, "
        "optionally attribute values; every value must have been seen in training.",
    )

    def to_scenario(self) -> fc.Scenario:
        return fc.Scenario(
            name=self.name,
            description=self.description,
            select=self.select,
            first_period=self.first_period,
            last_period=self.last_period,
            changes=tuple(fc.FeatureChange(c.feature, c.multiply, c.add, c.set_to) for c in self.changes),
            new_series=tuple(self.new_series),
        )


class ScenarioForecastsConfig(dg.Config):
    scenarios: list[ScenarioConfig] = Field(
        default=[],
        description="Scenarios to add (or replace, by name); each is kept and forecast with the current model.",
    )
    include_saved: bool = Field(default=True, description="Also forecast every scenario kept from earlier runs.")


@dataclass
class ScenarioResult:
    scenario: fc.Scenario
    frame: pd.DataFrame = field(repr=False)  # per affected series and period: baseline and scenario
    uris: dict[str, str]
    summary: dict[str, Any]


def saved_scenarios(store: ObjectStore, replaced: frozenset[str] = frozenset()) -> dict[str, fc.Scenario]:
    """The kept scenarios, by name, but those ``replaced`` (given again in the run config)."""
    found = {}
    for key in store.list_keys(f"{SCENARIOS_PREFIX}/"):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == SCENARIO_FILE and parts[1] not in replaced:
            try:
                found[parts[1]] = fc.Scenario.from_dict(json.loads(store.get_bytes(key)))
            except (ConfigurationError, ValueError) as exc:
                raise ConfigurationError(
                    f"{store.uri(key)}: a kept scenario that cannot be read ({exc}); give it again in the run config "
                    "(it replaces the kept one), set include_saved: false, or delete the file"
                ) from None
    return found


@dg.asset(
    group_name=FORECAST_GROUP,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[COMBINATION_ASSET],  # its blocking gate decides whether anything is published
)
def scenario_forecasts(
    context: dg.AssetExecutionContext,
    config: ScenarioForecastsConfig,
    best_model: RegisteredModel,
    encoded_series: EncodedSeries,
    s3_datasets: DatasetRef,
    storage: StorageResource,
    training: TrainingResource,
) -> dg.Output[dict[str, ScenarioResult]]:
    """What-if forecasts with the current model, without retraining: each named scenario
    changes known-ahead covariates for a selection of series (by any id or attribute value) and
    periods (a price cut for one category, a holiday flag on or off, …) and/or adds id
    combinations with no history (cold start, from their categories, features and peers).
    Shown against the baseline forecast as a table and a chart. Scenarios are kept
    (`scenarios/<name>/scenario.json`) and forecast again on every materialization; results under
    `scenarios/<name>/<model id>/<T>/`. A kept scenario the current model or data can no longer
    run (its periods have passed, a feature the model lacks, …) is skipped and listed with the
    reason in ``skipped_scenarios``; the others still run. One given in this run's config
    fails the run instead."""
    require_passing_model(context)
    own = bt.gate(best_model.card)
    if bt.has_validation_scores(best_model.card) and not own.passed:
        context.log.warning(
            f"these what-ifs are DeepAR's, and DeepAR alone does not beat seasonal naive on the validation window "
            f"(the published forecast is the combination asset's): {own.description}"
        )
    ctx = model_context(best_model, s3_datasets, storage, training)
    h, spec = ctx.dataset.prediction_length, encoded_series.spec
    given = [c.to_scenario() for c in config.scenarios]
    names = [s.name for s in given]
    kept = saved_scenarios(ctx.store, frozenset(names)) if config.include_saved else {}
    scenarios = dict(kept)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigurationError(f"scenario_forecasts: scenario name(s) {duplicated} given more than once")
    for scenario in given:
        scenario.validate(ctx.encoding, spec)
        scenarios[scenario.name] = scenario
    if not scenarios:
        context.log.info("no scenario: add one in the run config (scenario_forecasts.config.scenarios)")
        return dg.Output(
            {}, metadata={"scenarios": 0, "how": "give scenarios in scenario_forecasts' run config; they are kept"}
        )
    inputs = fc.forecast_inputs(encoded_series, ctx.encoding, h)
    model = forecaster(ctx.engine, best_model, ctx.dataset, log=context.log.info)
    origin = origin_key(inputs.origin, spec.frequency)
    results: dict[str, ScenarioResult] = {}
    skipped: dict[str, str] = {}
    for name in sorted(scenarios):
        scenario = scenarios[name]
        try:
            frame = fc.run_scenario(scenario, encoded_series, inputs, ctx.encoding, model, best_model.model_id, h)
        except (ConfigurationError, EncodingError) as exc:
            if name not in kept:
                raise  # given in this run's config: the run is wrong, not the past
            skipped[name] = str(exc)
            context.log.warning(
                f"kept scenario {name} skipped: {exc}. It stays in {ctx.store.uri(f'{SCENARIOS_PREFIX}/{name}')}: give "
                "it again in the run config (with periods in the horizon) to replace it, or delete the folder"
            )
            continue
        ctx.store.put_bytes(
            f"{SCENARIOS_PREFIX}/{name}/{SCENARIO_FILE}", json.dumps(scenario.to_dict(), indent=1).encode()
        )
        uris = put_frame(
            ctx.store, f"{SCENARIOS_PREFIX}/{name}/{best_model.model_id}/{origin}", "forecasts", frame, spec.frequency
        )
        summary = fc.scenario_summary(scenario, frame, inputs.dates, spec.frequency, h)
        results[name] = ScenarioResult(scenario, frame, uris, summary)
        context.log.info(f"scenario {name}: {summary}")
    frames = {name: r.frame for name, r in results.items()}
    time = fc.time_column(ctx.encoding, spec)
    reported: dict[str, Any] = {
        "model_id": best_model.model_id,
        "last_observed_period": periods.format_period(inputs.origin, spec.frequency),
        "scenarios": len(results),
        "scenarios_skipped": len(skipped),
        "skipped_scenarios": table(pd.DataFrame({"scenario": list(skipped), "reason": list(skipped.values())})),
    }
    if not results:
        return dg.Output(
            results, metadata={**reported, "how": "every kept scenario was skipped: see skipped_scenarios"}
        )
    return dg.Output(
        results,
        metadata={
            **reported,
            "summary": table(pd.DataFrame([r.summary for r in results.values()])),
            "largest_differences": table(fc.series_differences(frames, list(inputs.keys.columns)), 20),
            "chart": scenario_chart(
                encoded_series,
                inputs,
                frames,
                {n: r.summary for n, r in results.items()},
                time,
                history_periods(0, encoded_series, h),
            ),
            "stored_under": dg.MetadataValue.path(ctx.store.uri(SCENARIOS_PREFIX)),
        },
    )
