"""Where the raw weekly sales come from: a Kaggle-layout folder, or the synthetic dataset."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from deepar_assets.domain.kaggle import RawData, read_kaggle
from deepar_assets.domain.synthetic import SyntheticSpec, write_dataset
from deepar_assets.resources.paths import deepar_home


class SalesSource(dg.ConfigurableResource):
    """The flat files ``raw_sales`` reads."""

    location: str | None = Field(
        default=None,
        description="Folder holding train.csv, features.csv and stores.csv (each .csv or .csv.gz). "
        "Unset: $DEEPAR_SOURCE; when that is unset too, a generated synthetic dataset.",
    )
    synthetic_dir: str | None = Field(
        default=None, description="Where the synthetic dataset is generated (default <deepar home>/synthetic)."
    )
    synthetic_stores: int = Field(default=45, description="Stores in the synthetic dataset.")
    synthetic_depts: int = Field(default=60, description="Departments in the synthetic dataset.")
    synthetic_weeks: int = Field(default=143, description="Weeks of sales history in the synthetic dataset.")
    synthetic_seed: int = Field(default=0, description="Seed of the synthetic dataset.")

    def folder(self) -> tuple[Path, str]:
        """The folder to read and a description of it (``kaggle`` or ``synthetic``)."""
        location = self.location or os.environ.get("DEEPAR_SOURCE")
        if location:
            return Path(location).expanduser(), "kaggle"
        spec = SyntheticSpec(
            n_stores=self.synthetic_stores,
            n_depts=self.synthetic_depts,
            n_weeks=self.synthetic_weeks,
            seed=self.synthetic_seed,
        )
        base = Path(self.synthetic_dir) if self.synthetic_dir else deepar_home() / "synthetic"
        folder = base / f"s{spec.n_stores}-d{spec.n_depts}-w{spec.n_weeks}-seed{spec.seed}"
        return write_dataset(folder, spec), "synthetic"

    def load(self) -> RawData:
        folder, _ = self.folder()
        return read_kaggle(folder)
