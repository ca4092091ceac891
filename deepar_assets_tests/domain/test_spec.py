"""The dataset spec's validation: every mistake is a SpecError naming the field, before any data is read."""

from __future__ import annotations

import copy

import pytest
import yaml

from deepar_assets.domain.spec import DatasetSpec, load_spec, parse_spec, spec_hash, spec_path
from deepar_assets.domain.spec.load import shipped_names
from deepar_assets.errors import ConfigurationError, SpecError

BASE = {
    "name": "shop",
    "frequency": "W-FRI",
    "start": "2010-02-05",
    "target": {
        "name": "sales",
        "file": "train",
        "ids": ["Store", "Dept"],
        "id_types": {"Store": "int", "Dept": "int"},
        "time": {"column": "Date"},
        "target": "Units",
        "covariates": ["Price"],
    },
    "related": [
        {
            "name": "features",
            "file": "features",
            "keys": ["Store"],
            "time": {"column": "Date"},
            "covariates": ["Holiday", "Temperature", "Promo1", "Promo2"],
        },
    ],  # fmt: skip
    "metadata": [
        {"name": "stores", "file": "stores", "keys": ["Store"], "attributes": {"Type": {}, "Size": {"kind": "real"}}}
    ],
    "covariates": {"Holiday": {"type": "bool", "scale": "none"}, "Promo1": {"fill": "zero"}},
    "derived": [{"name": "AnyPromo", "any_positive": ["Promo1", "Promo2"]}],
    "evaluation": {"weights": {"column": "Holiday", "weight": 5}},
}


def spec_text(**changes) -> str:
    """BASE with fields replaced (``target__ids=[…]`` sets target.ids; None deletes), as YAML."""
    data = copy.deepcopy(BASE)
    for name, value in changes.items():
        node = data
        *path, last = name.split("__")
        for part in path:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return yaml.safe_dump(data, sort_keys=False)


def error(**changes) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(spec_text(**changes), where="shop.yaml")
    message = str(info.value)
    assert message.startswith("shop.yaml: "), message
    return message


def test_the_base_spec_is_valid():
    spec = parse_spec(spec_text())
    assert spec.ids == ["Store", "Dept"] and spec.time == "Date" and spec.target_column == "Units"
    assert spec.covariate_columns() == ["Price", "Holiday", "Temperature", "Promo1", "Promo2"]
    assert spec.covariate_keys("Price") == ["Store", "Dept"] and spec.covariate_keys("Holiday") == ["Store"]
    assert spec.cat_names == ["Store", "Dept", "Type"] and spec.real_attributes() == ["Size"]
    assert spec.season_length == 52 and spec.prediction_length == 13
    assert spec.freq.sagemaker == "W" and spec.partition_frequency == "W-FRI"


@pytest.mark.parametrize(
    ("changes", "parts"),
    [
        # unknown or missing fields
        ({"frequncy": "D"}, ["frequncy: unknown field"]),
        ({"target__tiem": {"column": "x"}}, ["target.tiem: unknown field"]),
        ({"covariates__Promo1__fil": "zero"}, ["covariates.Promo1.fil: unknown field"]),
        ({"target": None}, ["target: required field is missing"]),
        ({"target__target": None}, ["target.target: required field is missing"]),
        # frequency and start
        ({"frequency": "2W"}, ["frequency:", "'2W' is not a supported frequency"]),
        ({"frequency": "Q"}, ["frequency:", "not a supported frequency"]),
        ({"start": "2010-02-04"}, ["start: 2010-02-04 is not a period of the frequency W-FRI"]),
        ({"start": "Feb 5th"}, ["start:", "is not a date"]),
        ({"partitions": "D"}, ["partitions: D is finer than the data's frequency W-FRI"]),
        ({"partitions": "fortnight"}, ["partitions:", "not a supported frequency"]),
        # ids and tables
        ({"target__ids": ["Store", "Store"]}, ["target.ids:", "names a column twice"]),
        ({"target__ids": []}, ["target.ids:"]),
        ({"target__id_types": {"Shop": "int"}}, ["target.id_types: 'Shop' is not one of the ids"]),
        ({"target__id_types": {"Store": "integer"}}, ["target.id_types.Store:"]),
        ({"target__covariates": ["Units"]}, ["target: a column is named twice"]),
        ({"related__0__name": "sales"}, ["table names must differ"]),
        ({"related__0__name": "my features"}, ["related.0.name:", "letters, digits and _"]),
        ({"related__0__name": "features\n"}, ["related.0.name:", "letters, digits and _"]),  # a trailing newline
        ({"related__0__keys": ["Region"]}, ["related[0] (features).keys: ['Region'] are not series ids"]),
        (
            {"related__0__covariates": ["Price"]},
            ["related[0] (features).covariates: ['Price'] are declared in another"],
        ),
        (
            {"related__0__covariates": ["Store"]},
            ["related[0] (features).covariates: ['Store'] are key, time or target"],
        ),
        ({"related__0__covariates": []}, ["related.0.covariates:"]),
        ({"metadata__0__keys": ["Region"]}, ["metadata[0] (stores).keys: ['Region'] are not series ids"]),
        ({"metadata__0__attributes": {"Dept": {}}}, ["metadata[0] (stores).attributes: ['Dept'] clash"]),
        ({"metadata__0__attributes__Type": {"kind": "ordinal"}}, ["metadata.0.attributes.Type.kind:"]),
        ({"metadata__0__attributes__Size": {"kind": "binned", "bins": 1}}, ["metadata.0.attributes.Size.bins:"]),
        # covariate policies
        ({"covariates__Markdown": {"fill": "zero"}}, ["covariates.Markdown: not a covariate column of any table"]),
        (
            {"covariates__Temperature": {"known_ahead": False}},
            ["covariates.Temperature: known_ahead is false", "lag_by_horizon"],
        ),
        ({"covariates__Temperature": {"fill": "mean"}}, ["covariates.Temperature.fill:"]),
        ({"covariates__Temperature": {"scale": "minmax"}}, ["covariates.Temperature.scale:"]),
        ({"covariates__Holiday": {"type": "bool"}}, ["covariates.Holiday: a bool covariate takes scale: none"]),
        # derived, calendar, features, evaluation
        (
            {"derived__0__any_positive": ["Promo1", "Promo9"]},
            ["derived.AnyPromo: ['Promo9'] are not covariate columns"],
        ),
        ({"derived__0__any_present": ["Promo1"]}, ["derived feature AnyPromo: give exactly one of"]),
        ({"derived__0__name": "Promo1"}, ["derived.Promo1: the name is already a column"]),
        ({"calendar": ["hour_of_day"]}, ["calendar: hour_of_day needs hourly data"]),
        ({"calendar": ["day_of_year"]}, ["calendar.0:"]),
        ({"features": ["Price", "Weather"]}, ["features: ['Weather'] are not features of this spec"]),
        ({"evaluation__weights__column": "Temperature"}, ["evaluation.weights.column: 'Temperature' must be a bool"]),
        ({"evaluation__weights__column": "Nope"}, ["evaluation.weights.column: 'Nope' must be a bool"]),
        ({"evaluation__weights__weight": 0}, ["evaluation.weights.weight:"]),
        ({"evaluation__prediction_length": 0}, ["evaluation.prediction_length:"]),
        ({"evaluation__season_length": "weekly"}, ["evaluation.season_length:"]),
    ],
)
def test_each_mistake_names_its_field(changes, parts):
    message = error(**changes)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def test_a_covariate_not_known_ahead_may_be_lagged_by_the_horizon():
    spec = parse_spec(spec_text(covariates__Temperature={"known_ahead": False, "lag_by_horizon": True}))
    assert spec.covariate("Temperature").lag_by_horizon


def test_several_mistakes_are_reported_together():
    message = error(frequncy="D", target__tiem={"column": "x"})
    assert "frequncy: unknown field" in message and "target.tiem: unknown field" in message


def test_not_yaml_or_not_a_mapping():
    with pytest.raises(SpecError, match="x.yaml: not valid YAML"):
        parse_spec("name: [unclosed", where="x.yaml")
    with pytest.raises(SpecError, match="x.yaml: expected a mapping of fields"):
        parse_spec("- a\n- b\n", where="x.yaml")


def test_spec_errors_are_configuration_errors():
    assert issubclass(SpecError, ConfigurationError)


def test_unknown_spec_name_lists_the_shipped_ones(tmp_path):
    with pytest.raises(SpecError, match="not a shipped dataset") as info:
        load_spec("walmrt")
    for name in ("walmart", "aus_retail", "store_item_demand", "synthetic"):
        assert name in str(info.value)
    with pytest.raises(SpecError, match="no such file"):
        load_spec(str(tmp_path / "missing.yaml"))


def test_a_spec_file_of_the_user(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text(spec_text())
    assert spec_path(str(path)) == path
    assert load_spec(str(path)).name == "shop"
    path.write_text(spec_text(frequency="2W"))
    with pytest.raises(SpecError, match=f"{path}: frequency:"):
        load_spec(str(path))


@pytest.mark.parametrize("name", ["walmart", "synthetic", "aus_retail", "store_item_demand"])
def test_shipped_specs_load(name):
    assert name in shipped_names()
    spec = load_spec(name)
    assert isinstance(spec, DatasetSpec) and spec.name == name
    assert load_spec(f"datasets/{name}.yaml") == spec
    assert len(spec_hash(spec)) == 16


def test_the_hash_follows_the_content_not_the_formatting():
    text = spec_text()
    assert spec_hash(parse_spec(text)) == spec_hash(parse_spec(yaml.safe_dump(yaml.safe_load(text), indent=4)))
    assert spec_hash(parse_spec(text)) != spec_hash(parse_spec(spec_text(evaluation__weights__weight=4)))
