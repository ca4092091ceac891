"""Names shared across the package: asset groups, record fields, channel names."""

# Asset groups (shown in the Dagster UI).
DATA_GROUP = "data"
TRAINING_GROUP = "training"
# The Dagster pool of the heavy steps (tuning_run, best_model, combination, backtest_report): the shipped
# instance config (deploy/dagster.yaml) gives each pool one slot, so on a 2-core machine one of
# them runs at a time and uses every core; the data refresh (raw_sales, encoded_series,
# s3_datasets, forecasts) is in no pool and never waits behind it.
TRAINING_POOL = "deepar-training"

# DeepAR JSON Lines record fields, as SageMaker's DeepAR reads them.
FIELD_START = "start"
FIELD_TARGET = "target"
FIELD_CAT = "cat"
FIELD_DYNAMIC_FEAT = "dynamic_feat"

# Channels, as SageMaker names them.
TRAIN = "train"
TEST = "test"
VALIDATION = "validation"
CHANNELS = (TRAIN, TEST, VALIDATION)

# The quantiles SageMaker DeepAR scores by default (test_quantiles).
QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
