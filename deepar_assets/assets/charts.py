"""Pictures for the metadata panel of Dagster's UI (PNG embedded in markdown)."""

from __future__ import annotations

import base64
import io

import dagster as dg
import pandas as pd


def line_chart(series: pd.Series, title: str, ylabel: str) -> dg.MarkdownMetadataValue:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3), dpi=80)
    axes.plot(series.index, series.to_numpy(), linewidth=1.2)
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")
