"""Validated raw tables of a dataset, typed as its spec declares (plain pandas; no Dagster).

Column names are the spec's own: ``spec.ids``, ``spec.time``, ``spec.target_column``, each
related table's keys, time column and covariates, each metadata table's keys and attributes.
Types: int ids as int64 and string ids as object (str); timestamps as datetime64[ns] on the
spec's frequency grid; the target and every covariate as float64 (a bool covariate as 1.0 / 0.0,
a missing value as NaN); categorical attributes as their declared type, numeric ones as float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from deepar_assets.domain.spec import DatasetSpec


@dataclass
class RawData:
    spec: DatasetSpec
    target: pd.DataFrame  # ids…, time, target, the target table's covariates
    related: dict[str, pd.DataFrame] = field(default_factory=dict)  # table name → keys…, time, covariates
    metadata: dict[str, pd.DataFrame] = field(default_factory=dict)  # table name → keys…, attributes
    source: str = ""
    oddities: dict[str, int] = field(default_factory=dict)

    @property
    def times(self) -> pd.Series:
        return self.target[self.spec.time]

    def related_times(self) -> list[pd.Series]:
        return [frame[self.spec.related_table(name).time.column] for name, frame in self.related.items()]
