"""The dataset spec: one YAML file declares a dataset, its tables, roles, frequency and policies.

The roles follow Amazon Forecast's dataset group:

- a **target** table: one or more series-id columns, a timestamp, the target (and optionally
  covariate columns that sit in the same table);
- **related** tables: covariates keyed by a subset of the ids (none = global) plus time;
- **metadata** tables: static attributes keyed by a subset of the ids.

Everything downstream (reading, partitions, encoding, metrics, forecasts) takes the spec as
data, so a new dataset is a new spec, never new code. The models are strict: an unknown key
is an error naming it, and :meth:`DatasetSpec.check` cross-checks the columns and keys before
any data is read. Errors are :class:`~deepar_assets.errors.SpecError`, which name the field.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deepar_assets.domain.spec import periods
from deepar_assets.errors import ConfigurationError

IdType = Literal["int", "string"]
Fill = Literal["none", "zero", "ffill", "value"]
Scale = Literal["none", "standard", "log1p_standard", "robust"]
CovariateType = Literal["number", "bool"]
Calendar = Literal["day_of_week", "day_of_month", "week_of_year", "month_of_year", "hour_of_day"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")  # whole names: fullmatch


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeColumn(_Strict):
    column: str = Field(description="The timestamp column.")
    format: str = Field(
        default="%Y-%m-%d",
        description="strptime format of the timestamps (e.g. %Y-%m-%d, %d/%m/%Y, %Y-%m-%d %H:%M:%S).",
    )


class Table(_Strict):
    """What every table declares: a name and where its file is."""

    name: str = Field(description="The table's name: in messages, storage keys and landing drops.")
    file: str = Field(
        description="Path or glob relative to the source (DEEPAR_SOURCE): .csv, .csv.gz or .parquet. "
        "Without a suffix, <file>.csv, <file>.csv.gz and <file>.parquet are looked for."
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="Columns of the file that are not used (other extra columns are warned about).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r}: expected a name of letters, digits and _ starting with a letter")
        return value


class TargetTable(Table):
    name: str = "sales"
    ids: list[str] = Field(min_length=1, description="The series-id columns, e.g. [shop, sku].")
    id_types: dict[str, IdType] = Field(
        default_factory=dict, description="int or string per id column (default string)."
    )
    time: TimeColumn
    target: str = Field(description="The column to forecast.")
    covariates: list[str] = Field(
        default_factory=list, description="Covariate columns that sit in the target table itself."
    )


class RelatedTable(Table):
    keys: list[str] = Field(
        default_factory=list, description="The id columns it is keyed by (a subset of the target's ids; [] = global)."
    )
    time: TimeColumn
    covariates: list[str] = Field(min_length=1, description="Its covariate columns.")


class Attribute(_Strict):
    kind: Literal["categorical", "binned", "real"] = Field(
        default="categorical",
        description="categorical: coded 0..N-1 into cat. binned: a number cut into `bins` quantile bins, "
        "coded into cat. real: a number given to the model as a constant dynamic feature (DeepAR has no real "
        "static features), standardized.",
    )
    type: IdType = Field(default="string", description="int or string, for categorical attributes.")
    bins: int = Field(default=4, ge=2, le=100, description="Quantile bins, for kind: binned.")
    values: list[str | int] | None = Field(
        default=None, description="The allowed values, for categorical attributes (any value when unset)."
    )


class MetadataTable(Table):
    keys: list[str] = Field(min_length=1, description="The id columns it is keyed by (a subset of the ids).")
    attributes: dict[str, Attribute] = Field(min_length=1, description="Its attribute columns and their kinds.")


AnyTable = TargetTable | RelatedTable | MetadataTable
"""A table of any role."""


class Covariate(_Strict):
    type: CovariateType = Field(default="number", description="number, or bool (TRUE/FALSE, true/false, 1/0).")
    fill: Fill = Field(
        default="ffill",
        description="Missing values: none (refused), zero, ffill (carry the last value forward, the first back), "
        "value (fill_value).",
    )
    fill_value: float = Field(default=0.0, description="The value for fill: value.")
    indicator: bool = Field(default=False, description="Also give the model a 0/1 'was missing' feature.")
    scale: Scale = Field(
        default="standard",
        description="none, standard ((x - mean) / std), log1p_standard (sign·log1p|x|, then standard) or robust "
        "((x - median) / IQR). Statistics come from the training channel (the history up to T - 2h).",
    )
    known_ahead: bool = Field(
        default=True, description="Its values are known for the forecast horizon (a price plan, a holiday)."
    )
    lag_by_horizon: bool = Field(
        default=False,
        description="For a covariate not known ahead: use it lagged by the horizon (its value h periods earlier), "
        "which is always known. Without this, a covariate not known ahead is refused.",
    )
    nullable: bool = Field(default=True, description="Missing values (NA) are allowed in the files.")
    outside_training: Literal["clip", "drop", "refuse", "keep"] = Field(
        default="clip",
        description="When its values after the training channel (up to T - 2h) leave the range they had in it, or it "
        "is constant there: clip them to that range, drop the feature, refuse the encoding, or keep them. Reported "
        "either way (encoded_series' covariate_audit).",
    )


class Derived(_Strict):
    name: str
    any_present: list[str] | None = Field(default=None, description="1 when any of these columns has a value.")
    any_positive: list[str] | None = Field(default=None, description="1 when any of these columns is > 0.")
    outside_training: Literal["clip", "drop", "refuse", "keep"] = Field(
        default="clip",
        description="When its values after the training channel (up to T - 2h) leave the range they had in it, or it "
        "is constant there: clip them to that range, drop the feature, refuse the encoding, or keep them. Reported "
        "either way (encoded_series' covariate_audit).",
    )

    @model_validator(mode="after")
    def _one(self) -> Derived:
        if (self.any_present is None) == (self.any_positive is None):
            raise ValueError(f"derived feature {self.name}: give exactly one of any_present or any_positive")
        return self

    @property
    def columns(self) -> list[str]:
        return list(self.any_present or self.any_positive or [])


class Weights(_Strict):
    column: str = Field(description="A bool covariate: periods where it is true get `weight`.")
    weight: float = Field(default=1.0, gt=0, description="The weight of those periods (others: 1).")


class Evaluation(_Strict):
    season_length: int | None = Field(
        default=None, ge=1, description="Periods in a season (default from the frequency: D 7, W 52, M 12, h 24)."
    )
    prediction_length: int | None = Field(
        default=None, ge=1, description="The horizon (default from the frequency: D 28, W 13, M 12, h 48)."
    )
    weights: Weights | None = Field(
        default=None, description="Period weights for the weighted MAE (WMAE); without them it is plain MAE."
    )
    max_gap_periods: int = Field(
        default=52, ge=0, description="A new period more than this many periods after the history is refused."
    )


class SearchRange(_Strict):
    min_value: float
    max_value: float
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"


class Tuning(_Strict):
    search_space: dict[str, SearchRange | list[str]] | None = Field(
        default=None,
        description="The default search space for this dataset (SageMaker DeepAR names). Unset: centred on what "
        "the data implies (context from the season and horizon, epochs from the series count).",
    )


class DatasetSpec(_Strict):
    """A dataset, declared."""

    name: str
    description: str = ""
    frequency: str = Field(description="A pandas offset alias: D, W-FRI, W-SUN, MS, ME (M), h.")
    start: str = Field(description="The first period (YYYY-MM-DD): time partitions start here.")
    partitions: str | None = Field(
        default=None, description="The partition frequency, when coarser than the data's (e.g. W-MON for daily data)."
    )
    target: TargetTable
    related: list[RelatedTable] = Field(default_factory=list)
    metadata: list[MetadataTable] = Field(default_factory=list)
    covariates: dict[str, Covariate] = Field(default_factory=dict, description="Policy per covariate column.")
    derived: list[Derived] = Field(default_factory=list)
    calendar: list[Calendar] = Field(default_factory=list, description="Calendar features from the timestamp.")
    features: list[str] | None = Field(
        default=None,
        description="The dynamic features given to the model by default (covariates, derived, calendar, "
        "indicators as <name>_missing). Unset: all of them.",
    )
    evaluation: Evaluation = Field(default_factory=Evaluation)
    tuning: Tuning = Field(default_factory=Tuning)

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        return periods.frequency(value).alias

    @field_validator("partitions")
    @classmethod
    def _partitions(cls, value: str | None) -> str | None:
        return None if value is None else periods.frequency(value, "partitions").alias

    # -- derived facts ---------------------------------------------------------------------
    @property
    def freq(self) -> periods.Frequency:
        return periods.frequency(self.frequency)

    @property
    def partition_frequency(self) -> str:
        return self.partitions or self.frequency

    @property
    def ids(self) -> list[str]:
        return list(self.target.ids)

    @property
    def time(self) -> str:
        return self.target.time.column

    @property
    def target_column(self) -> str:
        return self.target.target

    @property
    def season_length(self) -> int:
        return self.evaluation.season_length or self.freq.season

    @property
    def prediction_length(self) -> int:
        return self.evaluation.prediction_length or self.freq.horizon

    @property
    def tables(self) -> list[AnyTable]:
        return [self.target, *self.related, *self.metadata]

    def table(self, name: str) -> AnyTable:
        for table in self.tables:
            if table.name == name:
                return table
        raise ConfigurationError(f"dataset {self.name}: no table {name!r}; it has {[t.name for t in self.tables]}")

    def related_table(self, name: str) -> RelatedTable:
        table = self.table(name)
        if not isinstance(table, RelatedTable):
            raise ConfigurationError(f"dataset {self.name}: {name!r} is not a related table")
        return table

    def covariate_columns(self) -> list[str]:
        """Every covariate column, in declaration order (target table first)."""
        out = list(self.target.covariates)
        for table in self.related:
            out += [c for c in table.covariates if c not in out]
        return out

    def covariate(self, name: str) -> Covariate:
        return self.covariates.get(name, Covariate())

    def covariate_keys(self, name: str) -> list[str]:
        """The id columns a covariate is keyed by: all ids when it sits in the target table."""
        if name in self.target.covariates:
            return self.ids
        for table in self.related:
            if name in table.covariates:
                return list(table.keys)
        raise ConfigurationError(f"dataset {self.name}: {name!r} is not a covariate column")

    def categorical_attributes(self) -> list[str]:
        return [a for t in self.metadata for a, spec in t.attributes.items() if spec.kind in ("categorical", "binned")]

    def real_attributes(self) -> list[str]:
        return [a for t in self.metadata for a, spec in t.attributes.items() if spec.kind == "real"]

    def attribute(self, name: str) -> tuple[MetadataTable, Attribute]:
        for table in self.metadata:
            if name in table.attributes:
                return table, table.attributes[name]
        raise ConfigurationError(f"dataset {self.name}: no attribute {name!r}")

    @property
    def cat_names(self) -> list[str]:
        """The ``cat`` positions: the ids, then the categorical (and binned) attributes."""
        return [*self.ids, *self.categorical_attributes()]

    def available_features(self) -> list[str]:
        """Every dynamic feature the spec can make, in a fixed order."""
        out: list[str] = []
        for name in self.covariate_columns():
            out.append(name)
            if self.covariate(name).indicator:
                out.append(f"{name}_missing")
        out += [d.name for d in self.derived]
        out += list(self.calendar)
        out += self.real_attributes()
        return out

    @property
    def default_features(self) -> list[str]:
        return list(self.features) if self.features is not None else self.available_features()

    # -- cross-checks, before any data is read ------------------------------------------------
    @model_validator(mode="after")
    def _cross_check(self) -> DatasetSpec:
        ids = self.ids
        where = "target"
        if len(set(ids)) != len(ids):
            raise ValueError(f"{where}.ids: {ids} names a column twice")
        for name in self.target.id_types:
            if name not in ids:
                raise ValueError(f"target.id_types: {name!r} is not one of the ids {ids}")
        own = [*ids, self.time, self.target_column, *self.target.covariates]
        if len(set(own)) != len(own):
            raise ValueError(f"target: a column is named twice among ids, time, target and covariates ({own})")
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError(f"table names must differ; found {names}")
        seen_cov = set(self.target.covariates)
        for i, table in enumerate(self.related):
            stray = [k for k in table.keys if k not in ids]
            if stray:
                raise ValueError(
                    f"related[{i}] ({table.name}).keys: {stray} are not series ids of the target table ({ids}); a "
                    "related table is keyed by a subset of the target's ids"
                )
            twice = [c for c in table.covariates if c in seen_cov]
            if twice:
                raise ValueError(f"related[{i}] ({table.name}).covariates: {twice} are declared in another table too")
            clash = [c for c in table.covariates if c in (*ids, self.target_column, table.time.column)]
            if clash:
                raise ValueError(f"related[{i}] ({table.name}).covariates: {clash} are key, time or target columns")
            seen_cov |= set(table.covariates)
        attributes: set[str] = set()
        for i, meta in enumerate(self.metadata):
            stray = [k for k in meta.keys if k not in ids]
            if stray:
                raise ValueError(
                    f"metadata[{i}] ({meta.name}).keys: {stray} are not series ids of the target table ({ids})"
                )
            clash = [a for a in meta.attributes if a in ids or a in attributes or a in seen_cov]
            if clash:
                raise ValueError(
                    f"metadata[{i}] ({meta.name}).attributes: {clash} clash with an id, covariate or another attribute"
                )
            attributes |= set(meta.attributes)
        covs = self.covariate_columns()
        for name in self.covariates:
            if name not in covs:
                raise ValueError(
                    f"covariates.{name}: not a covariate column of any table (the tables declare {covs}); list it "
                    "under target.covariates or a related table's covariates"
                )
        for name in covs:
            cov = self.covariate(name)
            if not cov.known_ahead and not cov.lag_by_horizon:
                raise ValueError(
                    f"covariates.{name}: known_ahead is false, and DeepAR needs every dynamic feature for the "
                    "whole forecast horizon; set lag_by_horizon: true to use it lagged by the horizon, or leave it out"
                )
            if cov.type == "bool" and cov.scale != "none":
                raise ValueError(f"covariates.{name}: a bool covariate takes scale: none")
        for d in self.derived:
            unknown = [c for c in d.columns if c not in covs]
            if unknown:
                raise ValueError(f"derived.{d.name}: {unknown} are not covariate columns ({covs})")
            if d.name in covs or d.name in attributes:
                raise ValueError(f"derived.{d.name}: the name is already a column")
        if self.evaluation.weights is not None:
            column = self.evaluation.weights.column
            if column not in covs or self.covariate(column).type != "bool":
                raise ValueError(f"evaluation.weights.column: {column!r} must be a bool covariate (covariates: {covs})")
        if self.features is not None:
            available = self.available_features()
            unknown = [f for f in self.features if f not in available]
            if unknown:
                raise ValueError(f"features: {unknown} are not features of this spec; choose from {available}")
        if self.calendar and self.freq.kind != "hour" and "hour_of_day" in self.calendar:
            raise ValueError("calendar: hour_of_day needs hourly data")
        import pandas as pd

        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.start):
                raise ValueError("expected YYYY-MM-DD")
            start = pd.Timestamp(self.start)
        except ValueError as exc:
            raise ValueError(f"start: {self.start!r} is not a date (YYYY-MM-DD): {exc}") from None
        if not periods.on_grid([start], self.frequency)[0]:
            raise ValueError(f"start: {self.start} is not a period of the frequency {self.frequency}")
        if self.partitions is not None:
            coarse = periods.frequency(self.partitions)
            order = ["hour", "day", "week", "month"]
            if order.index(coarse.kind) < order.index(self.freq.kind):
                raise ValueError(
                    f"partitions: {self.partitions} is finer than the data's frequency {self.frequency}; a partition "
                    "holds whole periods"
                )
        return self


SpecField = Annotated[str, Field(description="A dataset spec: a shipped name (walmart) or a path to a YAML file.")]
