"""Which engine trains: the local one (default) or SageMaker."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

import dagster as dg
from pydantic import Field

from deepar_assets.engines.base import TrainingEngine
from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.paths import deepar_home
from deepar_assets.storage.base import ObjectStore


class Backend(StrEnum):
    local = "local"
    sagemaker = "sagemaker"


BACKENDS = tuple(b.value for b in Backend)


class TrainingResource(dg.ConfigurableResource):
    """The training backend behind ``tuning_run`` and ``best_model``."""

    backend: Backend | None = Field(
        default=None, description="local (GluonTS + Optuna on this machine) or sagemaker. Unset: $DEEPAR_BACKEND, else local."
    )
    work_dir: str | None = Field(
        default=None,
        description="Scratch space for training (checkpoints, temporary model files); default <deepar home>/work.",
    )

    def resolved_backend(self) -> str:
        backend = (self.backend.value if self.backend else None) or os.environ.get("DEEPAR_BACKEND") or "local"
        if backend not in BACKENDS:
            raise ConfigurationError(f"DEEPAR_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}")
        return backend

    def engine(self, store: ObjectStore) -> TrainingEngine:
        backend = self.resolved_backend()
        if backend == "sagemaker":
            raise ConfigurationError("the sagemaker backend is not built yet (issue 7); use DEEPAR_BACKEND=local")
        from deepar_assets.engines.local import LocalEngine

        work = Path(self.work_dir) if self.work_dir else deepar_home() / "work"
        return LocalEngine(store, work)
