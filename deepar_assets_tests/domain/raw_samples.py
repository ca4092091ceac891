"""RawData for tests, built straight from DataFrames (no files, no reader).

``synthetic_raw`` turns the synthetic generator's Walmart-layout frames into the ``RawData`` the
``synthetic`` spec describes, typed as the reader types it (timestamps as datetime64, bool
covariates as 1.0 / 0.0, ids as int64). ``with_spec_changes`` makes a variant of a spec.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import DatasetSpec, load_spec
from deepar_assets.domain.synthetic import SyntheticSpec, generate_frames


def typed_frames(frames: dict[str, pd.DataFrame], spec: DatasetSpec) -> dict[str, pd.DataFrame]:
    """Generated frames typed as the reader types them (copies)."""
    out = {}
    for name, frame in frames.items():
        frame = frame.copy()
        if "Date" in frame:
            frame["Date"] = pd.to_datetime(frame["Date"])
        for column in frame.columns:
            if frame[column].dtype == bool:
                frame[column] = frame[column].astype(np.float64)
        out[name] = frame
    out["train"] = out["train"].drop(columns=[c for c in spec.target.ignore if c in out["train"]])
    return out


def frames_to_raw(frames: dict[str, pd.DataFrame], spec: DatasetSpec | None = None) -> RawData:
    """The synthetic spec's RawData from Walmart-layout frames (train, features, stores)."""
    spec = spec or load_spec("synthetic")
    typed = typed_frames(frames, spec)
    return RawData(
        spec=spec,
        target=typed["train"],
        related={"features": typed["features"]},
        metadata={"stores": typed["stores"]},
        source="generated",
    )


def synthetic_raw(synthetic: SyntheticSpec, spec: DatasetSpec | None = None) -> RawData:
    return frames_to_raw(generate_frames(synthetic), spec)


def with_spec_changes(spec: DatasetSpec, **changes: Any) -> DatasetSpec:
    """A copy of ``spec`` with top-level fields replaced (validated again)."""
    return DatasetSpec.model_validate({**spec.model_dump(mode="json"), **changes})


def with_covariate(spec: DatasetSpec, name: str, **policy: Any) -> DatasetSpec:
    """A copy of ``spec`` with covariate ``name``'s policy changed."""
    covariates = spec.model_dump(mode="json")["covariates"]
    covariates[name] = {**covariates.get(name, {}), **policy}
    return with_spec_changes(spec, covariates=covariates)


def keeping_everything(spec: DatasetSpec) -> DatasetSpec:
    """A copy of ``spec`` whose covariates and derived features keep values outside the training
    range (``outside_training: keep``): for tests of filling and scaling as such."""
    data = spec.model_dump(mode="json")
    covariates = {
        name: {**data["covariates"].get(name, {}), "outside_training": "keep"} for name in spec.covariate_columns()
    }
    derived = [{**d, "outside_training": "keep"} for d in data["derived"]]
    return with_spec_changes(spec, covariates=covariates, derived=derived)
