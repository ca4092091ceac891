"""Finding, reading and validating a dataset spec; its content hash.

``DEEPAR_DATASET`` names a spec: a shipped name (``walmart``), a shipped file
(``datasets/walmart.yaml``) or a path to a YAML file of the user's. Unset, the platform uses
the synthetic dataset's spec.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from deepar_assets.domain.spec.models import DatasetSpec
from deepar_assets.errors import SpecError

DATASET_VARIABLE = "DEEPAR_DATASET"
DEFAULT_DATASET = "synthetic"
SHIPPED = Path(__file__).resolve().parents[3] / "datasets"
"""The specs shipped in the repository (``datasets/*.yaml``)."""


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.yaml"))


def spec_path(name: str | None) -> Path:
    """The YAML file a spec name or path means."""
    text = (name or DEFAULT_DATASET).strip()
    path = Path(text).expanduser()
    if path.suffix in (".yaml", ".yml"):
        if path.is_file():
            return path
        shipped = SHIPPED / path.name
        if not path.is_absolute() and path.parent.name == "datasets" and shipped.is_file():
            return shipped
        raise SpecError(f"dataset spec {text}: no such file")
    shipped = SHIPPED / f"{text}.yaml"
    if shipped.is_file():
        return shipped
    raise SpecError(
        f"dataset spec {text!r}: not a shipped dataset ({', '.join(shipped_names())}) nor a path to a .yaml file"
    )


def parse_spec(text: str, where: str = "<spec>") -> DatasetSpec:
    """A spec from YAML text; every problem raises SpecError naming ``where`` and the field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping of fields (name, frequency, start, target, …)")
    try:
        return DatasetSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field (a typo?)"
            elif error["type"] == "missing":
                message = "required field is missing"
            problems.append(f"{field}: {message}")
        raise SpecError(f"{where}: " + "; ".join(problems)) from None


@lru_cache(maxsize=32)
def _load(path: str, mtime: float) -> DatasetSpec:
    return parse_spec(Path(path).read_text(), where=path)


def load_spec(name: str | None = None) -> DatasetSpec:
    """The spec a name or path means (None: the synthetic dataset's)."""
    path = spec_path(name)
    return _load(str(path), path.stat().st_mtime)


def spec_hash(spec: DatasetSpec) -> str:
    """A short hash of the spec's content (not of its file's formatting): part of a dataset version."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
