"""Pictures for the metadata panel of Dagster's UI (PNG embedded in markdown)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import dagster as dg
import numpy as np
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


def _png_markdown(figure, title: str) -> dg.MarkdownMetadataValue:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass
class FanPanel:
    """One panel of a fan chart: observed history, then the forecast's median and 10–90 % band
    (and, where given, a second forecast drawn as a dashed line, e.g. a scenario's baseline)."""

    title: str
    history: pd.Series  # observed weekly values, indexed by week
    dates: pd.DatetimeIndex  # the forecast weeks
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    compare: np.ndarray | None = None
    compare_label: str = ""
    label: str = "median"
    history_label: str = "history"


def fan_chart(panels: list[FanPanel], title: str) -> dg.MarkdownMetadataValue:
    """Stacked fan charts (history, median, 10–90 % band), one panel each."""
    plt = _pyplot()
    figure, axes = plt.subplots(len(panels), 1, figsize=(8, 2.4 * len(panels) + 0.4), dpi=80, squeeze=False)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        ax.plot(panel.history.index, panel.history.to_numpy(), color="#444444", linewidth=1.1, label=panel.history_label)
        ax.fill_between(panel.dates, panel.p10, panel.p90, color="#1f77b4", alpha=0.25, linewidth=0, label="10–90 %")
        ax.plot(panel.dates, panel.p50, color="#1f77b4", linewidth=1.6, label=panel.label)
        if panel.compare is not None:
            ax.plot(panel.dates, panel.compare, color="#d62728", linewidth=1.2, linestyle="--", label=panel.compare_label)
        ax.set_title(panel.title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper left", ncol=4)
    figure.suptitle(title, fontsize=11)
    figure.autofmt_xdate()
    figure.tight_layout()
    return _png_markdown(figure, title)


def grouped_bars(frame: pd.DataFrame, title: str, ylabel: str) -> dg.MarkdownMetadataValue:
    """One group of bars per row of ``frame`` (its index), one bar per column."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 3), dpi=80)
    width = 0.8 / max(1, len(frame.columns))
    positions = np.arange(len(frame.index))
    for k, column in enumerate(frame.columns):
        axes.bar(positions + k * width, frame[column].to_numpy(dtype=float), width, label=str(column))
    axes.set_xticks(positions + width * (len(frame.columns) - 1) / 2, [str(i) for i in frame.index])
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3, axis="y")
    axes.legend(fontsize=7)
    figure.tight_layout()
    return _png_markdown(figure, title)
