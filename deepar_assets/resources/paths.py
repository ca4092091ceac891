"""Where the platform keeps its files when no location is configured."""

from __future__ import annotations

import os
from pathlib import Path


def deepar_home() -> Path:
    """``$DAGSTER_HOME/deepar`` when a Dagster home is set, else ``./.deepar``."""
    dagster_home = os.environ.get("DAGSTER_HOME")
    return Path(dagster_home) / "deepar" if dagster_home else Path(".deepar").resolve()
