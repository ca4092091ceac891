"""Where the raw weekly sales come from: a Kaggle-layout folder (or the synthetic dataset) for
the history, and the landing zone where new weeks arrive."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from deepar_assets.domain.kaggle import RawData, read_kaggle
from deepar_assets.domain.synthetic import SyntheticSpec, write_dataset
from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.paths import deepar_home
from deepar_assets.storage.landing import LandingZone


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
    landing: str | None = Field(
        default=None,
        description="The landing zone of weekly drops (YYYY-MM-DD_sales.csv[.gz], YYYY-MM-DD_features.csv[.gz]): "
        "a folder or s3://bucket/prefix. Unset: $DEEPAR_LANDING; unset too: no landing zone (the sensor skips). "
        "On S3, region, credentials and endpoint follow the usual AWS environment, as for the storage.",
    )
    landing_settle_seconds: float = Field(
        default=1.0,
        description="A drop modified less than this many seconds ago is left for the sensor's next look (its writer "
        "may not be done); 0 when every writer writes whole files (S3, or a temporary name and a rename).",
    )

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

    def landing_location(self) -> str | None:
        return self.landing or os.environ.get("DEEPAR_LANDING") or None

    def landing_zone(self) -> LandingZone:
        """The landing zone: a folder, or s3://bucket/prefix with an S3 client built as the
        storage resource builds its own (dagster-aws's S3Resource, the AWS environment)."""
        location = self.landing_location()
        if not location:
            raise ConfigurationError("no landing zone: set DEEPAR_LANDING to a folder or s3://bucket/prefix")
        if location.startswith("s3://"):
            from botocore.exceptions import BotoCoreError

            from deepar_assets.resources.storage import s3_client
            from deepar_assets.storage.s3 import S3Store, parse_s3_uri

            bucket, prefix = parse_s3_uri(location)
            try:
                client = s3_client()
            except BotoCoreError as exc:
                raise ConfigurationError(f"landing zone {location}: cannot set up the S3 client: {exc}") from exc
            return LandingZone(S3Store(client, bucket, prefix))
        if "://" in location:
            raise ConfigurationError(f"landing zone {location!r}: expected a folder or s3://bucket/prefix")
        from deepar_assets.storage.local import FolderStore

        return LandingZone(FolderStore(Path(location).expanduser()))
