"""The dataset spec: models, loading, and what a frequency means."""

from deepar_assets.domain.spec.load import DATASET_VARIABLE, load_spec, parse_spec, spec_hash, spec_path
from deepar_assets.domain.spec.models import Attribute, Covariate, DatasetSpec, MetadataTable, RelatedTable, TargetTable

__all__ = [
    "DATASET_VARIABLE",
    "Attribute",
    "Covariate",
    "DatasetSpec",
    "MetadataTable",
    "RelatedTable",
    "TargetTable",
    "load_spec",
    "parse_spec",
    "spec_hash",
    "spec_path",
]
