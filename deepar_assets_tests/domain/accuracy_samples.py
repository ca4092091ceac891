"""A tiny case of two vintages over two series, weekly, with one holiday week, shared by the
accuracy tests of the domain and of the storage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepar_assets.constants import QUANTILES
from deepar_assets.domain import accuracy as acc

QCOLS = [f"p{round(q * 100)}" for q in QUANTILES]
P = [pd.Timestamp("2024-01-05") + pd.Timedelta(weeks=k) for k in range(4)]  # weekly periods


def forecast(rows: list[tuple]) -> pd.DataFrame:
    """A vintage's forecast table: (Store, period, horizon, mean, band half-width) per row; every
    quantile is the mean except p10 = mean - band and p90 = mean + band."""
    frame = pd.DataFrame(rows, columns=["Store", "Date", "horizon", "mean", "band"])
    for column in QCOLS:
        frame[column] = frame["mean"]
    frame["p10"] = frame["mean"] - frame["band"]
    frame["p90"] = frame["mean"] + frame["band"]
    return frame.drop(columns="band").assign(Type="A")


def vintage(origin: pd.Timestamp, periods: list[pd.Timestamp], model: str = "m1") -> acc.Vintage:
    return acc.Vintage(
        vintage_id=f"{origin:%Y-%m-%d}/{model}/run",
        dataset="tiny",
        model_id=model,
        origin=f"{origin:%Y-%m-%d}",
        periods=tuple(f"{p:%Y-%m-%d}" for p in periods),
        data_version="v",
        created="2024-01-01T00:00:00+00:00",
    )


# Two series, actuals at P[1] and P[2] (P[3] has not happened yet); P[2] is a holiday (weight 5).
KEYS = pd.DataFrame({"Store": [1, 2], "Type": ["A", "B"]})
HISTORY = pd.DatetimeIndex(P[:3])
TARGET = np.array([[50.0, 100.0, 200.0], [np.nan, 10.0, 20.0]])


def weights(dates: pd.DatetimeIndex) -> np.ndarray:
    return np.where(pd.DatetimeIndex(dates) == P[2], 5.0, 1.0)


def actuals_for(wanted):
    return acc.actuals_frame(KEYS, HISTORY, TARGET, wanted, "Date", weights)


V1 = vintage(P[0], [P[1], P[2]])
F1 = forecast([(1, P[1], 1, 110.0, 20.0), (2, P[1], 1, 10.0, 1.0), (1, P[2], 2, 150.0, 20.0), (2, P[2], 2, 30.0, 5.0)])
V2 = vintage(P[1], [P[2], P[3]])
F2 = forecast([(1, P[2], 1, 190.0, 20.0), (2, P[2], 1, 16.0, 5.0), (1, P[3], 2, 0.0, 1.0), (2, P[3], 2, 0.0, 1.0)])
