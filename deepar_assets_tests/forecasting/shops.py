"""Small datasets of other layouts than Walmart's, built as RawData straight from DataFrames.

- ``shop_raw``: daily units of items in shops (string shop ids, int item ids), a categorical
  attribute of the item (family), known-ahead price and promo (a bool) per item and day, and
  a calendar feature; one (shop, item) combination has no history (cold start's subject).
- ``monthly_raw``: the aus_retail spec's layout (monthly, string ids, no covariates, no
  attributes), with ragged starts and one combination without history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import parse_spec

SHOP_SPEC = """
name: corner_shops
description: Daily units of a few items in a few shops (a small non-Walmart layout for tests).
frequency: D
start: "2021-03-01"
target:
  name: sales
  file: sales
  ids: [shop, item]
  id_types: {shop: string, item: int}
  time: {column: day}
  target: units
related:
  - name: prices
    file: prices
    keys: [item]
    time: {column: day}
    covariates: [price, promo]
metadata:
  - name: items
    file: items
    keys: [item]
    attributes:
      family: {kind: categorical}
covariates:
  price: {fill: ffill, scale: standard}
  promo: {type: bool, fill: zero, scale: none}
calendar: [day_of_week]
evaluation:
  season_length: 7
  prediction_length: 7
"""
SHOPS = ("east", "north", "south")
ITEMS = {1: "dairy", 2: "dairy", 3: "bakery", 4: "bakery"}
ABSENT = ("east", 4)  # the one combination without history: cold start's subject


def shop_raw(days: int = 120, ahead: int = 7, seed: int = 3, noise: float = 0.0) -> RawData:
    """``days`` of history and prices ``ahead`` days further. Units follow the item's and
    shop's level, a weekly cycle, promo days (double) and the price; ``noise``: the standard
    deviation of independent daily noise as a share of the level (0: 1 unit)."""
    spec = parse_spec(SHOP_SPEC, "corner_shops.yaml")
    rng = np.random.default_rng(seed)
    dates = pd.date_range(spec.start, periods=days + ahead, freq="D")
    prices = []
    for item in ITEMS:
        base = 1.0 + item
        price = base + 0.1 * rng.standard_normal(len(dates))
        promo = (rng.random(len(dates)) < 0.1).astype(float)
        prices.append(pd.DataFrame({"item": item, "day": dates, "price": price, "promo": promo}))
    related = pd.concat(prices, ignore_index=True)
    related["item"] = related["item"].astype(np.int64)
    rows = []
    history = dates[:days]
    for s, shop in enumerate(SHOPS):
        for item in ITEMS:
            if (shop, item) == ABSENT:
                continue
            p = related[related["item"] == item].set_index("day").loc[history]
            weekly = 1 + 0.3 * np.sin(2 * np.pi * np.arange(days) / 7)
            level = 20.0 * (s + 1) * item
            units = level * weekly * (1 + p["promo"].to_numpy()) * (6 - p["price"].to_numpy()) / 4
            units = units + rng.normal(0, noise * level if noise else 1.0, days)
            units = np.maximum(units, 0.0)  # units sold are never negative
            rows.append(pd.DataFrame({"shop": shop, "item": item, "day": history, "units": np.round(units, 1)}))
    target = pd.concat(rows, ignore_index=True)
    target["item"] = target["item"].astype(np.int64)
    target["shop"] = target["shop"].astype(object)
    items = pd.DataFrame({"item": np.array(list(ITEMS), dtype=np.int64), "family": list(ITEMS.values())})
    return RawData(spec=spec, target=target, related={"prices": related}, metadata={"items": items}, source="generated")


STATES = ("NSW", "QLD", "VIC")
INDUSTRIES = ("Cafes", "Food retailing")
MONTHLY_ABSENT = ("QLD", "Cafes")


def monthly_raw(months: int = 40, seed: int = 5) -> RawData:
    """aus_retail's layout: (State, Industry) series of monthly turnover from 2016-01, with a
    12-month season; NSW/Food starts a year later."""
    from deepar_assets.domain.spec import load_spec

    spec = load_spec("aus_retail")
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2016-01-01", periods=months, freq="MS")
    rows = []
    for s, state in enumerate(STATES):
        for k, industry in enumerate(INDUSTRIES):
            if (state, industry) == MONTHLY_ABSENT:
                continue
            level = 100.0 * (s + 1) * (k + 1)
            values = level * (1 + 0.2 * np.sin(2 * np.pi * np.arange(months) / 12)) + rng.normal(0, 2, months)
            frame = pd.DataFrame({"State": state, "Industry": industry, "Month": dates, "Turnover": values})
            rows.append(frame.iloc[12:] if (state, industry) == ("NSW", "Food retailing") else frame)
    target = pd.concat(rows, ignore_index=True)
    target[["State", "Industry"]] = target[["State", "Industry"]].astype(object)
    return RawData(spec=spec, target=target, source="generated")
