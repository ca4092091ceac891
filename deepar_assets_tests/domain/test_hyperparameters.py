import pytest
import yaml

from deepar_assets.domain.hyperparameters import (
    CENTRE_BATCH,
    DEFAULT_SEARCH_SPACE,
    STEP_BUDGET,
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    SpaceFacts,
    default_search_space,
    from_strings,
    spec_search_space,
    split_fixed,
    to_sagemaker_ranges,
    to_strings,
    validate_space,
)
from deepar_assets.domain.spec.load import load_spec, parse_spec
from deepar_assets.errors import ConfigurationError


def test_default_space_uses_sagemaker_names_and_is_valid():
    assert set(DEFAULT_SEARCH_SPACE) == {
        "epochs",
        "context_length",
        "num_cells",
        "num_layers",
        "learning_rate",
        "dropout_rate",
        "mini_batch_size",
        "embedding_dimension",
        "likelihood",
    }
    validate_space(DEFAULT_SEARCH_SPACE)


@pytest.mark.parametrize(
    "space, message",
    [
        ({"hidden_size": IntegerRange(1, 2)}, "not a tunable DeepAR hyperparameter"),
        ({"num_layers": IntegerRange(1, 9)}, "outside the values SageMaker DeepAR"),
        ({"epochs": IntegerRange(5, 2)}, "above max_value"),
        ({"learning_rate": IntegerRange(1, 2)}, "must be a ContinuousRange"),
        ({"likelihood": CategoricalRange(("poisson",))}, "subset"),
        ({"dropout_rate": ContinuousRange(0.0, 0.1, "Logarithmic")}, "above 0"),
    ],
)
def test_invalid_spaces_are_refused_with_the_reason(space, message):
    with pytest.raises(ConfigurationError, match=message):
        validate_space(space)


def test_string_round_trip():
    hp = {"epochs": 12, "learning_rate": 0.00123, "likelihood": "student-T", "cardinality": [45, 81, 3]}
    strings = to_strings(hp)
    assert strings == {
        "epochs": "12",
        "learning_rate": "0.00123",
        "likelihood": "student-T",
        "cardinality": "[45,81,3]",
    }
    back = from_strings(strings)
    assert back["epochs"] == 12 and isinstance(back["epochs"], int)
    assert back["learning_rate"] == pytest.approx(0.00123)
    with pytest.raises(ConfigurationError, match="epochs"):
        from_strings({"epochs": "many"})


def test_sagemaker_ranges():
    ranges = to_sagemaker_ranges(DEFAULT_SEARCH_SPACE)
    names = {r["Name"] for kind in ranges.values() for r in kind}
    assert names == set(DEFAULT_SEARCH_SPACE)
    lr = next(r for r in ranges["ContinuousParameterRanges"] if r["Name"] == "learning_rate")
    assert lr == {"Name": "learning_rate", "MinValue": "0.0025", "MaxValue": "0.0045", "ScalingType": "Linear"}
    assert ranges["CategoricalParameterRanges"] == [{"Name": "likelihood", "Values": ["student-T"]}]


def test_split_fixed_takes_out_values_that_are_not_ranges():
    space = {
        "epochs": IntegerRange(20, 20),
        "dropout_rate": ContinuousRange(0.1, 0.1),
        "likelihood": CategoricalRange(("gaussian",)),
        "num_cells": IntegerRange(30, 60),
        "learning_rate": ContinuousRange(1e-4, 1e-2, "Logarithmic"),
        "num_layers": IntegerRange(1, 2),
    }
    fixed, searched = split_fixed(space)
    assert fixed == {"epochs": 20, "dropout_rate": 0.1, "likelihood": "gaussian"}
    assert isinstance(fixed["epochs"], int) and isinstance(fixed["dropout_rate"], float)
    assert set(searched) == {"num_cells", "learning_rate", "num_layers"} and searched["num_cells"] is space["num_cells"]


# -- a dataset's default space ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["walmart", "synthetic"])
def test_the_measured_space_is_the_walmart_layouts_own(name):
    """The walmart (and synthetic) spec declares the measured space: whatever the series count,
    that is its default, and DEFAULT_SEARCH_SPACE still names those values."""
    for n_series in (15, 3313, 100_000):
        assert default_search_space(load_spec(name), n_series) == DEFAULT_SEARCH_SPACE


@pytest.mark.parametrize(
    "name, context",
    [("aus_retail", 12), ("store_item_demand", 28)],  # monthly: season 12 = h; daily: h 28 > season 7
)
def test_a_spec_without_a_space_gets_one_centred_on_its_data(name, context):
    spec = load_spec(name)
    assert spec.tuning.search_space is None
    space = default_search_space(spec, 152)
    validate_space(space)
    assert space != DEFAULT_SEARCH_SPACE
    assert context == max(spec.prediction_length, min(spec.season_length, 4 * spec.prediction_length))
    assert space["context_length"].min_value < context < space["context_length"].max_value
    assert space["likelihood"].values == ("student-T",)


def test_epochs_keep_the_optimizer_steps_near_the_budget():
    """More series, more batches per epoch, fewer epochs: the steps at the centre batch stay
    within the range's spread of the budget (until the epoch limits bind)."""
    facts = SpaceFacts(season_length=7, prediction_length=28)
    centres = {}
    for n_series in (150, 500, 3313, 20_000):
        epochs = default_search_space(facts, n_series)["epochs"]
        centre = (epochs.min_value + epochs.max_value) / 2
        steps = centre * -(-n_series // CENTRE_BATCH)
        assert 0.8 * STEP_BUDGET <= steps <= 1.2 * STEP_BUDGET, (n_series, epochs)
        centres[n_series] = centre
    assert list(centres.values()) == sorted(centres.values(), reverse=True)
    tiny, huge = default_search_space(facts, 3), default_search_space(facts, 10_000_000)
    assert tiny["epochs"].max_value <= 1200 and huge["epochs"].min_value >= 4
    validate_space(tiny)
    validate_space(huge)


def test_counts_may_be_negative_binomial():
    facts = SpaceFacts(season_length=7, prediction_length=28, counts=True)
    assert set(default_search_space(facts, 500)["likelihood"].values) == {"student-T", "negative-binomial"}


def test_a_spec_may_declare_part_of_its_space():
    spec = load_spec("aus_retail")
    data = spec.model_dump(mode="json")
    data["tuning"] = {"search_space": {"epochs": {"min_value": 50, "max_value": 80}, "likelihood": ["gaussian"]}}
    partial = parse_spec(yaml.safe_dump(data))
    space = default_search_space(partial, 152)
    assert space["epochs"] == IntegerRange(50, 80) and space["likelihood"] == CategoricalRange(("gaussian",))
    assert space["context_length"] == default_search_space(spec, 152)["context_length"]
    # The spec recorded in an encoding.json (its JSON dictionary) gives the same space.
    assert default_search_space(SpaceFacts.from_spec(partial.model_dump(mode="json")), 152) == space


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {"epochs": {"min_value": 2.5, "max_value": 10}},
            r"tuning.search_space.epochs.min_value: epochs is a whole number",
        ),
        ({"hidden_size": {"min_value": 1, "max_value": 2}}, r"tuning.search_space.hidden_size: not a tunable"),
        ({"num_layers": {"min_value": 1, "max_value": 9}}, r"tuning.search_space: search space: num_layers range"),
        ({"likelihood": "student-T"}, r"tuning.search_space.likelihood: expected a list"),
        ({"dropout_rate": [0.1]}, r"tuning.search_space.dropout_rate: expected \{min_value"),
    ],
)
def test_a_bad_spec_space_names_the_field(raw, message):
    with pytest.raises(ConfigurationError, match=message):
        spec_search_space(raw)


def test_a_derived_space_refuses_impossible_facts():
    with pytest.raises(ConfigurationError, match="at least one"):
        default_search_space(SpaceFacts(season_length=12, prediction_length=12), 0)
    with pytest.raises(ConfigurationError, match="must be at least 1"):
        default_search_space(SpaceFacts(season_length=0, prediction_length=12), 10)
