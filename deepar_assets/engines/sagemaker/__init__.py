"""SageMaker's built-in DeepAR: a hyperparameter tuning job, then a Model (and a model package),
and batch transform for forecasts; one module per job:

- :mod:`.requests`: every request as a pure function of plain data (the settings, the image,
  the names, the cost bound, the static hyperparameters from the dataset version);
- :mod:`.tuning`: :class:`SageMakerEngine`, which launches or follows a tuning job, waits for
  it, stops it when interrupted, and reads its training jobs back as trials;
- :mod:`.registry`: the best training job as a SageMaker Model (and a model package);
- :mod:`.transform`: batch transform of a registered model (:class:`SageMakerForecaster`).

Requests are sent as they are with boto3's ``sagemaker`` client, so what goes to AWS is plain
data that tests read back from an HTTP endpoint.
"""

from deepar_assets.engines.sagemaker.requests import (
    DEEPAR_ALGORITHM,
    DEFAULT_PRICES,
    MAX_LAUNCH_ATTEMPTS,
    MAX_MODEL_NAME,
    MAX_TUNING_NAME,
    NAME_PREFIX,
    TUNING_OUTPUT,
    UNSEEN_POLLS,
    CostBound,
    SageMakerSettings,
    build_model_package_request,
    build_model_request,
    build_tuning_request,
    check_cost,
    cost_bound,
    deepar_image_uri,
    deepar_time_freq,
    fixed_and_searched,
    library_versions,
    model_name_for,
    require_s3,
    static_hyperparameters,
    tuning_job_name,
    warm_start_problems,
)
from deepar_assets.engines.sagemaker.transform import (
    MAX_TRANSFORM_NAME,
    TRANSFORM_INPUT,
    TRANSFORM_PREFIX,
    SageMakerForecaster,
    build_transform_request,
    inference_config,
    parse_transform_output,
    transform_input,
    transform_job_name,
)
from deepar_assets.engines.sagemaker.tuning import (
    WARM_START_CANDIDATES,
    Launch,
    SageMakerEngine,
    progress_line,
    to_trial,
)

__all__ = [
    "DEEPAR_ALGORITHM",
    "DEFAULT_PRICES",
    "MAX_LAUNCH_ATTEMPTS",
    "MAX_MODEL_NAME",
    "MAX_TRANSFORM_NAME",
    "MAX_TUNING_NAME",
    "NAME_PREFIX",
    "TRANSFORM_INPUT",
    "TRANSFORM_PREFIX",
    "TUNING_OUTPUT",
    "UNSEEN_POLLS",
    "WARM_START_CANDIDATES",
    "CostBound",
    "Launch",
    "SageMakerEngine",
    "SageMakerForecaster",
    "SageMakerSettings",
    "build_model_package_request",
    "build_model_request",
    "build_transform_request",
    "build_tuning_request",
    "check_cost",
    "cost_bound",
    "deepar_image_uri",
    "deepar_time_freq",
    "fixed_and_searched",
    "inference_config",
    "library_versions",
    "model_name_for",
    "parse_transform_output",
    "progress_line",
    "require_s3",
    "static_hyperparameters",
    "to_trial",
    "transform_input",
    "transform_job_name",
    "tuning_job_name",
    "warm_start_problems",
]
