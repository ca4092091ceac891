"""The object store datasets and models go to."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.paths import deepar_home
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.local import FolderStore


class StorageResource(dg.ConfigurableResource):
    """Datasets and models: a local folder (the default) or s3://bucket/prefix."""

    location: str | None = Field(
        default=None,
        description="A folder or s3://bucket/prefix. Unset: $DEEPAR_STORAGE, else <deepar home>/storage "
        "(<deepar home> is $DAGSTER_HOME/deepar, or ./.deepar without a Dagster home).",
    )

    def resolved_location(self) -> str:
        return self.location or os.environ.get("DEEPAR_STORAGE") or str(deepar_home() / "storage")

    def store(self) -> ObjectStore:
        location = self.resolved_location()
        if location.startswith("s3://"):
            raise ConfigurationError(
                f"storage {location}: S3 storage is not built yet (issue 5); use a local folder for DEEPAR_STORAGE"
            )
        if "://" in location:
            raise ConfigurationError(f"storage {location!r}: expected a folder or s3://bucket/prefix")
        return FolderStore(location)
