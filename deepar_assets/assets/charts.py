"""Pictures and tables for the metadata panel of Dagster's UI (PNG embedded in markdown;
DataFrames as table metadata), and the forecasting assets' charts assembled from domain
results."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np
import pandas as pd

from deepar_assets.domain.spec import periods

if TYPE_CHECKING:  # the forecasting charts' inputs; imported where drawn, so line_chart's users need none of it
    from deepar_assets.domain.backtest import Window
    from deepar_assets.domain.encoding import EncodedSeries
    from deepar_assets.domain.forecasting import ForecastInputs


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
    history: pd.Series  # observed values, indexed by period
    dates: pd.DatetimeIndex  # the forecast periods
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
        ax.plot(
            panel.history.index, panel.history.to_numpy(), color="#444444", linewidth=1.1, label=panel.history_label
        )
        ax.fill_between(panel.dates, panel.p10, panel.p90, color="#1f77b4", alpha=0.25, linewidth=0, label="10–90 %")
        ax.plot(panel.dates, panel.p50, color="#1f77b4", linewidth=1.6, label=panel.label)
        if panel.compare is not None:
            ax.plot(
                panel.dates, panel.compare, color="#d62728", linewidth=1.2, linestyle="--", label=panel.compare_label
            )
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


# -- tables ------------------------------------------------------------------------------------
def table(frame: pd.DataFrame, limit: int | None = None, freq: str = "D") -> dg.TableMetadataValue:
    """A DataFrame as a metadata table (floats rounded, periods as text on the frequency)."""
    part = frame if limit is None else frame.head(limit)
    columns = []
    for name, dtype in part.dtypes.items():
        kind = (
            "float"
            if pd.api.types.is_float_dtype(dtype)
            else "int"
            if pd.api.types.is_integer_dtype(dtype)
            else "string"
        )
        columns.append(dg.TableColumn(str(name), kind))
    records = []
    for row in part.itertuples(index=False):
        values: dict[str, str | int | float | None] = {}
        for column, value in zip(part.columns, row, strict=True):
            if value is None:
                values[str(column)] = None
            elif isinstance(value, (float, np.floating)):
                values[str(column)] = None if not math.isfinite(value) else round(float(value), 4)
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                values[str(column)] = int(value)
            elif isinstance(value, pd.Timestamp):
                values[str(column)] = periods.format_period(value, freq)
            else:
                values[str(column)] = str(value)
        records.append(dg.TableRecord(values))
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=columns))


def plain_metadata(figures: Mapping[str, Any]) -> dict[str, Any]:
    """Figures as metadata values: non-finite floats as text, other objects as JSON."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, float) and not math.isfinite(value):
            out[key] = str(value)
        elif isinstance(value, (str, int, float, bool)):
            out[key] = value
        else:
            out[key] = dg.MetadataValue.json(value)
    return out


# -- the forecasting assets' charts ------------------------------------------------------------
def forecast_chart(
    encoded: EncodedSeries,
    inputs: ForecastInputs,
    arrays: Mapping[str, np.ndarray],
    changes: pd.DataFrame,
    count: int,
    history: int,
) -> dg.MarkdownMetadataValue:
    """The total of every forecast series, then ``count`` representative series, each after
    ``history`` periods of observed values."""
    from deepar_assets.domain.forecasting import describe_key, history_total, representative_series

    panels = [
        FanPanel(
            title=f"Total of {len(inputs.records)} series (band: sum of the series' p10 and p90, wider than the total's own)",
            history=history_total(encoded, inputs.series, history),
            dates=inputs.dates,
            p10=arrays["p10"].sum(axis=0),
            p50=arrays["p50"].sum(axis=0),
            p90=arrays["p90"].sum(axis=0),
            compare=arrays["mean"].sum(axis=0),
            compare_label="mean",
        )
    ]
    columns = list(inputs.keys.columns)
    for position in representative_series(encoded, inputs.series, count, changes):
        panels.append(
            FanPanel(
                title=describe_key(inputs.keys.iloc[position], columns),
                history=history_total(encoded, inputs.series[position], history),
                dates=inputs.dates,
                p10=arrays["p10"][position],
                p50=arrays["p50"][position],
                p90=arrays["p90"][position],
            )
        )
    origin = periods.format_period(inputs.origin, encoded.spec.frequency)
    return fan_chart(panels, f"Forecast after {origin}: median and 10–90 % band")


def bar_column(breakdowns: Mapping[str, pd.DataFrame], ids: list[str]) -> str | None:
    """The breakdown worth a bar chart: the first categorical attribute, else the id with the
    fewest values; None when every breakdown is empty or too wide (over 30 groups)."""
    attributes = [c for c in breakdowns if c not in ids and len(breakdowns[c])]
    candidates = attributes or sorted(
        (c for c in ids if c in breakdowns and len(breakdowns[c])), key=lambda c: len(breakdowns[c])
    )
    return next((c for c in candidates if len(breakdowns[c]) <= 30), None)


def backtest_chart(
    window: Window, first: Window, best: str, breakdowns: Mapping[str, pd.DataFrame], freq: str, history: int
) -> dg.MarkdownMetadataValue:
    """The total over the first window (the latest origin): history, actual, DeepAR's band and
    the best baseline; then the gate metric by the :func:`bar_column` breakdown."""
    from deepar_assets.domain import backtest as bt

    models = list(window.forecasts)
    origin = pd.Timestamp(str(first.origins[0]))
    h = first.actual.shape[1]
    dates = pd.date_range(periods.shift(origin, 1, freq), periods=h, freq=periods.normalize(freq))
    longest = max(len(x) for x in first.histories)
    padded = np.full((len(first.histories), longest), np.nan)
    for i, past in enumerate(first.histories):
        padded[i, longest - len(past) :] = past
    shown = min(longest, history)
    before = pd.date_range(end=origin, periods=shown, freq=periods.normalize(freq))
    actual = pd.Series(np.nansum(first.actual, axis=0), index=dates)
    deepar = first.forecasts[bt.DEEPAR]
    panel = FanPanel(
        title=f"Total over the window after {periods.format_period(origin, freq)}: DeepAR (band: sum of p10/p90), "
        f"{best} dashed; actual in grey",
        history=pd.concat([pd.Series(np.nansum(padded[:, -shown:], axis=0), index=before), actual]),
        dates=dates,
        p10=deepar["p10"].sum(axis=0),
        p50=deepar["p50"].sum(axis=0),
        p90=deepar["p90"].sum(axis=0),
        compare=first.forecasts[best]["mean"].sum(axis=0),
        compare_label=best,
        label="DeepAR median",
        history_label="actual",
    )
    chart = fan_chart([panel], "Backtest: the validation window")
    column = bar_column(breakdowns, window.ids)
    if column is None:
        return chart
    frame = breakdowns[column]
    bars = frame.set_index(column)[[m for m in models if m in frame.columns]]
    return dg.MetadataValue.md(
        chart.value + "\n\n" + grouped_bars(bars, f"{bt.GATE_METRIC} by {column}", bt.GATE_METRIC).value
    )


def scenario_changes(summary: Mapping[str, Any]) -> bool:
    return summary.get("changes", "-") != "-"


def scenario_chart(
    encoded: EncodedSeries,
    inputs: ForecastInputs,
    frames: Mapping[str, pd.DataFrame],
    summaries: Mapping[str, dict],
    time: str,
    history: int,
) -> dg.MarkdownMetadataValue:
    """One panel per scenario (at most 6): the total of the series it changes, scenario median
    and band against the baseline mean."""
    from deepar_assets.domain.forecasting import CHANGED, history_total, rows_matching

    ids = encoded.spec.ids
    panels = []
    for name, frame in list(frames.items())[:6]:
        summary = summaries[name]
        totals = frame.groupby(time)[["baseline_mean", "p10", "p50", "p90"]].sum().reindex(inputs.dates, fill_value=0.0)
        changed = frame[frame["kind"] == CHANGED][ids].drop_duplicates()
        rows = rows_matching(encoded.keys, changed, ids)
        panels.append(
            FanPanel(
                title=f"{name}: {summary['changes'] if scenario_changes(summary) else 'new series only'} "
                f"({summary['series_changed']} series changed, "
                f"{summary['new_series']} new) — difference {summary['difference']:+,.0f}",
                history=history_total(encoded, rows, history) if len(rows) else pd.Series(dtype=float),
                dates=inputs.dates,
                p10=totals["p10"].to_numpy(),
                p50=totals["p50"].to_numpy(),
                p90=totals["p90"].to_numpy(),
                compare=totals["baseline_mean"].to_numpy(),
                compare_label="baseline mean",
                label="scenario median",
            )
        )
    return fan_chart(panels, "Scenarios against the baseline forecast (total of the series each one changes)")


def accuracy_chart(
    by_period: pd.DataFrame,
    time: str,
    horizons: list[int],
    expected: Mapping[int, float],
    title: str,
    freq: str = "D",
) -> dg.MarkdownMetadataValue:
    """Accuracy over time: each chosen horizon step's WMAE per target period (one line per step,
    all vintages pooled per period), with the backtest's expected WMAE of that step dashed."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=80)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    shown = pd.DatetimeIndex(by_period.loc[by_period["horizon"].isin(horizons), time].unique()).sort_values()
    if len(shown):  # the periods scored, not matplotlib's margin of years around one point
        pad = max((shown[-1] - shown[0]) * 0.05, pd.Timedelta(days=3))
        axes.set_xlim(shown[0] - pad, shown[-1] + pad)
        if len(shown) <= 12:
            axes.set_xticks(list(shown), [periods.format_period(t, freq) for t in shown])
    for k, step in enumerate(horizons):
        part = by_period[by_period["horizon"] == step]
        color = colors[k % len(colors)]
        if len(part):
            sums = part.groupby(time)[["abs_error_weighted", "weight"]].sum()
            axes.plot(
                sums.index, sums["abs_error_weighted"] / sums["weight"], marker="o", color=color, label=f"h={step}"
            )
        if step in expected and math.isfinite(expected[step]):
            axes.axhline(expected[step], color=color, linestyle="--", linewidth=0.9, label=f"h={step} backtest")
    axes.set_title(title)
    axes.set_ylabel("WMAE")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    figure.autofmt_xdate()
    figure.tight_layout()
    return _png_markdown(figure, title)
