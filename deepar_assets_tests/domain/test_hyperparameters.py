import pytest

from deepar_assets.domain.hyperparameters import (
    DEFAULT_SEARCH_SPACE,
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    from_strings,
    split_fixed,
    to_sagemaker_ranges,
    to_strings,
    validate_space,
)
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
    assert strings == {"epochs": "12", "learning_rate": "0.00123", "likelihood": "student-T", "cardinality": "[45,81,3]"}
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
    assert lr == {"Name": "learning_rate", "MinValue": "0.0025", "MaxValue": "0.0045", "ScalingType": "Logarithmic"}
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
