"""deepar-assets: weekly retail department sales forecast with DeepAR, as Dagster assets."""

from deepar_assets.definitions import defs

__all__ = ["defs"]
