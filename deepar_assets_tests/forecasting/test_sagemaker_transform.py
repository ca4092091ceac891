"""Forecasting with a SageMaker model by batch transform, proven against two things (each test
says which):

- **moto HTTP**: moto's server mode on 127.0.0.1 (fixture ``aws_env``), reached by real boto3
  clients. The engine writes its input to moto's S3 and sends CreateTransformJob; the request is
  read back with DescribeTransformJob. moto's transform jobs complete at once and write
  nothing, so the DeepAR container is played by a hook on the client that, when the job is
  created, reads the job's real input from S3 and writes what DeepAR's batch transform writes
  (one JSON line per input line, in order) where SageMaker would put it.
- **Stubber**: botocore's Stubber on a real client, for a job that progresses, fails, or is
  stopped when the run is interrupted.
"""

from __future__ import annotations

import json

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber

from deepar_assets.assets.forecasting import score_validation_window
from deepar_assets.constants import FIELD_TARGET, QUANTILES
from deepar_assets.domain.encoding import encode
from deepar_assets.domain.forecasting import forecast_inputs
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec import load_spec
from deepar_assets.engines.base import RegisteredModel
from deepar_assets.engines.inference import forecaster
from deepar_assets.engines.sagemaker import (
    SageMakerEngine,
    SageMakerForecaster,
    SageMakerSettings,
    build_transform_request,
    inference_config,
    parse_transform_output,
    transform_input,
    transform_job_name,
)
from deepar_assets.errors import ConfigurationError, TrainingError
from deepar_assets.storage.datasets import publish_dataset
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.s3 import S3Store
from deepar_assets_tests.engines.sagemaker_scenarios import BUCKET, DEEPAR_US_EAST_1, PREFIX, ROLE, arn, stubbed_client

H = 4
MODEL = "deepar-0123abcd-feedbeef"


def _no_sleep(seconds: float) -> None:
    assert seconds == 0


def _settings() -> SageMakerSettings:
    return SageMakerSettings(role_arn=ROLE, poll_interval_s=0, instance_type="ml.c5.xlarge")


def _model(ref=None) -> RegisteredModel:
    """A SageMaker model's card, as register_best writes it (the parts forecasting reads)."""
    card = {
        "model_id": MODEL,
        "engine": "sagemaker",
        "data_version": ref.version if ref else "v",
        **(
            {
                "prediction_length": ref.prediction_length,
                "freq": ref.freq,
                "cardinality": ref.cardinality,
                "dynamic_feat": ref.dynamic_feat,
                "last_period": ref.last_period,
            }
            if ref
            else {}
        ),
        "sagemaker": {"model_name": MODEL},
        "training_settings": {"num_eval_samples": 50},
    }
    return RegisteredModel(MODEL, arn("model", MODEL), card)


def _line(record: dict, h: int) -> dict:
    """What the fake container answers for one record: a mean that starts at the record's last
    observed value (so each line is tied to its record) and quantiles around it."""
    target = np.asarray(record[FIELD_TARGET], dtype=float)
    last = float(target[~np.isnan(target)][-1])
    mean = [last + k for k in range(h)]
    return {"mean": mean, "quantiles": {f"{q:g}": [m + (q - 0.5) * 10 for m in mean] for q in QUANTILES}}


def expected(records: list[dict], cut: int = 0) -> np.ndarray:
    rows = []
    for record in records:
        target = np.asarray(record[FIELD_TARGET], dtype=float)[: len(record[FIELD_TARGET]) - cut]
        rows.append(float(target[~np.isnan(target)][-1]) + np.arange(H))
    return np.stack(rows)


class FakeDeepARContainer:
    """Plays DeepAR's batch transform container on a moto endpoint: after CreateTransformJob,
    reads the job's input from S3 and writes ``<S3OutputPath>/<input file>.out``."""

    def __init__(self, s3, h: int):
        self.s3, self.h, self.jobs = s3, h, []

    def attach(self, client):
        client.meta.events.register("before-parameter-build.sagemaker.CreateTransformJob", self._remember)
        client.meta.events.register("after-call.sagemaker.CreateTransformJob", self._run)
        return client

    def _remember(self, params, **kwargs):
        self.pending = dict(params)

    def _run(self, **kwargs):
        params = self.pending
        source = params["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, key = source[len("s3://") :].split("/", 1)
        lines = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
        records = [json.loads(line.replace(b'"NaN"', b"NaN")) for line in lines]
        out = b"".join(json.dumps(_line(r, self.h)).encode() + b"\n" for r in records)
        target = params["TransformOutput"]["S3OutputPath"].rstrip("/") + "/" + key.rsplit("/", 1)[1] + ".out"
        out_bucket, out_key = target[len("s3://") :].split("/", 1)
        self.s3.put_object(Bucket=out_bucket, Key=out_key, Body=out)
        self.jobs.append(params["TransformJobName"])


@pytest.fixture(scope="module")
def local_data(tmp_path_factory, small_source):
    encoded = encode(read_dataset(load_spec("synthetic"), small_source))
    store = FolderStore(tmp_path_factory.mktemp("transform_published"))
    ref = publish_dataset(store, encoded, prediction_length=H).ref
    return encoded, ref, store


@pytest.fixture
def s3(aws_env):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def moto(s3):
    """An engine on moto's SageMaker and S3 over HTTP, its model created, the container faked."""
    sm = boto3.client("sagemaker")
    sm.create_model(
        ModelName=MODEL,
        PrimaryContainer={"Image": DEEPAR_US_EAST_1, "ModelDataUrl": f"s3://{BUCKET}/{PREFIX}/models/x/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    container = FakeDeepARContainer(s3, H)
    engine = SageMakerEngine(container.attach(sm), S3Store(s3, BUCKET, PREFIX), _settings(), sleep=_no_sleep)
    return engine, container, sm


# -- pure pieces ----------------------------------------------------------------------------------
def test_the_request_is_what_deepar_batch_transform_needs():
    request = build_transform_request(MODEL, "s3://b/p/in/data.json", "s3://b/p/out/", "ml.c5.xlarge", 50, tags=[])
    assert request["BatchStrategy"] == "SingleRecord"
    assert request["TransformInput"]["SplitType"] == "Line" and request["TransformOutput"]["AssembleWith"] == "Line"
    assert request["TransformInput"]["DataSource"]["S3DataSource"] == {
        "S3DataType": "S3Prefix",
        "S3Uri": "s3://b/p/in/data.json",
    }
    assert json.loads(request["Environment"]["DEEPAR_INFERENCE_CONFIG"]) == {
        "num_samples": 50,
        "output_types": ["mean", "quantiles"],
        "quantiles": ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"],
    }
    with pytest.raises(ConfigurationError, match="batch transform reads and writes S3"):
        build_transform_request(MODEL, "/tmp/in", "s3://b/out/", "ml.c5.xlarge", 50, tags=[])
    with pytest.raises(ConfigurationError, match="num_samples must be at least 1"):
        inference_config(0)
    name = transform_job_name(MODEL, "abc")
    assert name == transform_job_name(MODEL, "abc") != transform_job_name(MODEL, "abd")
    assert transform_job_name(MODEL, "abc", attempt=3) == f"{name}-3" and len(name) <= 63


def test_transform_input_cuts_the_target_and_keeps_h_feature_periods(local_data):
    encoded, _, _ = local_data
    records = forecast_inputs(encoded, encoded.encoding, H).records[:3]
    lines = [json.loads(line.replace(b'"NaN"', b"NaN")) for line in transform_input(records, H, cut=2).splitlines()]
    for record, line in zip(records, lines, strict=True):
        assert len(line["target"]) == len(record[FIELD_TARGET]) - 2
        assert all(len(row) == len(line["target"]) + H for row in line["dynamic_feat"])
        assert line["cat"] == record["cat"] and line["start"] == record["start"]
    short = {**records[0], "dynamic_feat": np.asarray(records[0]["dynamic_feat"])[:, :-H]}
    with pytest.raises(
        ConfigurationError, match=r"record 1 \(cat .*\): dynamic_feat covers .* periods; forecasting 4 periods"
    ):
        transform_input([short], H)


def test_output_is_matched_by_order_and_refused_when_it_cannot_be():
    lines = [json.dumps({"mean": [i] * H, "quantiles": {f"{q:g}": [i + q] * H for q in QUANTILES}}) for i in range(3)]
    out = parse_transform_output("\n".join(lines).encode() + b"\n", 3, H)
    np.testing.assert_array_equal(out["mean"][:, 0], [0, 1, 2])
    np.testing.assert_allclose(out["p90"][2], [2.9] * H)
    with pytest.raises(TrainingError, match=r"has 2 forecast line\(s\) for 3 input record\(s\)"):
        parse_transform_output("\n".join(lines[:2]).encode(), 3, H, source="s3://b/out")
    broken = json.dumps({"mean": [0] * H, "quantiles": {"0.5": [0] * H}})
    with pytest.raises(TrainingError, match=r"line 1: not a DeepAR forecast with mean and quantiles"):
        parse_transform_output(broken.encode(), 1, H)
    with pytest.raises(TrainingError, match="line 2: mean has 3 values; expected 4"):
        parse_transform_output((lines[0] + "\n" + lines[1].replace("[1, 1, 1, 1]", "[1, 1, 1]")).encode(), 2, H)


# -- moto HTTP ------------------------------------------------------------------------------------
def test_forecasts_by_batch_transform_come_back_in_series_order(moto, local_data, s3):
    """moto HTTP: the engine uploads the records, creates the job (read back by
    DescribeTransformJob), and maps each output line to its series by order."""
    engine, container, sm = moto
    encoded, ref, _ = local_data
    records = forecast_inputs(encoded, encoded.encoding, H).records
    lines = []
    model = forecaster(engine, _model(), ref, log=lines.append)
    assert isinstance(model, SageMakerForecaster)
    out = model.predict(records)
    np.testing.assert_allclose(out["mean"], expected(records))
    np.testing.assert_allclose(out["p10"], expected(records) - 4.0)
    [name] = container.jobs
    job = sm.describe_transform_job(TransformJobName=name)
    assert job["ModelName"] == MODEL and job["BatchStrategy"] == "SingleRecord"
    assert job["TransformInput"]["SplitType"] == "Line" and job["TransformOutput"]["AssembleWith"] == "Line"
    assert json.loads(job["Environment"]["DEEPAR_INFERENCE_CONFIG"])["num_samples"] == 50
    assert job["TransformResources"] == {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1}
    source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source.startswith(f"s3://{BUCKET}/{PREFIX}/forecasts/sagemaker-transform/{MODEL}/")
    uploaded = s3.get_object(Bucket=BUCKET, Key=source.split("/", 3)[3])["Body"].read()
    assert uploaded == transform_input(records, H)
    assert job["TransformOutput"]["S3OutputPath"].endswith(f"/output/{name}/")
    assert any(line.startswith(f"creating SageMaker batch transform job {name}") for line in lines)
    # The same model and input again: the completed job's output is reused, nothing is created.
    again = model.predict(records)
    np.testing.assert_array_equal(again["mean"], out["mean"])
    assert container.jobs == [name] and any("reusing its output" in line for line in lines)


def test_the_gate_scores_a_sagemaker_model_on_the_validation_window(moto, local_data, s3):
    """moto HTTP: a SageMaker card has no validation scores, so the check forecasts the
    validation window by batch transform and compares with seasonal naive (here the fake
    container's last-value forecast against the data's seasonal naive)."""
    from deepar_assets_tests.engines.sagemaker_scenarios import on_s3

    engine, container, _ = moto
    _, ref, store = local_data
    on_s3(ref, store, s3)
    outcome = score_validation_window(_model(ref), engine.store, engine, print)
    assert container.jobs, "the validation window was forecast by a transform job"
    assert outcome.figures["gate_metric"] == "WMAE"
    assert {"model WMAE", "seasonal_naive WMAE", "model RMSE", "model MASE"} <= set(outcome.figures)
    assert outcome.passed == (outcome.figures["model WMAE"] < outcome.figures["seasonal_naive WMAE"])
    assert (
        "the validation window (the last 4 periods, forecast from T - 4; WMAE: periods where IsHoliday is true weigh 5)"
        in outcome.description
    )


def test_a_folder_store_is_refused_for_batch_transform(local_data, tmp_path):
    _, ref, _ = local_data
    engine = SageMakerEngine(stubbed_client(), FolderStore(tmp_path), _settings(), sleep=_no_sleep)
    with pytest.raises(ConfigurationError, match="batch transform reads its input from S3, but the storage is"):
        SageMakerForecaster(engine, _model(), ref, print)


def test_a_local_model_is_not_forecast_by_the_sagemaker_engine(local_data, tmp_path):
    _, ref, _ = local_data
    engine = SageMakerEngine(stubbed_client(), FolderStore(tmp_path), _settings(), sleep=_no_sleep)
    local = RegisteredModel("deepar-x", "/tmp/x", {"engine": "local"})
    with pytest.raises(
        ConfigurationError, match="registered by the local engine, but the training resource is the sagemaker engine"
    ):
        forecaster(engine, local, ref)


# -- Stubber --------------------------------------------------------------------------------------
def _describe(name: str, status: str, failure: str | None = None) -> dict:
    answer = {
        "TransformJobName": name,
        "TransformJobArn": arn("transform-job", name),
        "TransformJobStatus": status,
        "ModelName": MODEL,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}},
        "TransformResources": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1},
        "CreationTime": __import__("datetime").datetime(2026, 3, 2, 9, 0),
    }
    if failure:
        answer["FailureReason"] = failure
    return answer


def _stubbed_engine(sleep=_no_sleep) -> SageMakerEngine:
    return SageMakerEngine(stubbed_client(), FolderStore("/nonexistent"), _settings(), sleep=sleep)


def _missing(stub, name):
    stub.add_client_error(
        "describe_transform_job", "ValidationException", f"Could not find transform job '{arn('transform-job', name)}'."
    )


def test_a_job_is_followed_to_completion():
    """Stubber: not there → created → InProgress → Completed."""
    engine = _stubbed_engine()
    name = transform_job_name(MODEL, "d1")
    lines = []
    with Stubber(engine.client) as stub:
        _missing(stub, name)
        stub.add_response("create_transform_job", {"TransformJobArn": arn("transform-job", name)})
        stub.add_response("describe_transform_job", _describe(name, "InProgress"))
        stub.add_response("describe_transform_job", _describe(name, "Completed"))
        got, description = engine.transform(MODEL, "s3://b/in/data.json", "s3://b/out", "d1", 50, lines.append)
        stub.assert_no_pending_responses()
    assert got == name and description["TransformJobStatus"] == "Completed"
    assert [line for line in lines if line.startswith("batch transform job")] == [
        f"batch transform job {name}: InProgress",
        f"batch transform job {name}: Completed",
    ]


def test_a_failed_job_fails_with_sagemakers_reason_and_a_rerun_starts_a_new_attempt():
    """Stubber: the job fails; the next run finds it Failed and launches attempt 2."""
    engine = _stubbed_engine()
    name = transform_job_name(MODEL, "d2")
    with Stubber(engine.client) as stub:
        _missing(stub, name)
        stub.add_response("create_transform_job", {"TransformJobArn": arn("transform-job", name)})
        stub.add_response("describe_transform_job", _describe(name, "Failed", "ClientError: bad dynamic_feat length"))
        with pytest.raises(
            TrainingError, match=f"batch transform job {name} ended Failed: ClientError: bad dynamic_feat length"
        ):
            engine.transform(MODEL, "s3://b/in/data.json", "s3://b/out", "d2", 50, print)
        stub.add_response("describe_transform_job", _describe(name, "Failed", "ClientError"))
        second = transform_job_name(MODEL, "d2", attempt=2)
        _missing(stub, second)
        stub.add_response("create_transform_job", {"TransformJobArn": arn("transform-job", second)})
        stub.add_response("describe_transform_job", _describe(second, "Completed"))
        got, _ = engine.transform(MODEL, "s3://b/in/data.json", "s3://b/out", "d2", 50, print)
        stub.assert_no_pending_responses()
    assert got == second


def test_an_interrupted_run_stops_its_job():
    """Stubber: the Dagster run is interrupted while the job runs; the job is stopped."""

    def interrupted(seconds):
        raise KeyboardInterrupt

    engine = _stubbed_engine(sleep=interrupted)
    name = transform_job_name(MODEL, "d3")
    with Stubber(engine.client) as stub:
        _missing(stub, name)
        stub.add_response("create_transform_job", {"TransformJobArn": arn("transform-job", name)})
        stub.add_response("describe_transform_job", _describe(name, "InProgress"))
        stub.add_response("stop_transform_job", {}, {"TransformJobName": name})
        with pytest.raises(KeyboardInterrupt):
            engine.transform(MODEL, "s3://b/in/data.json", "s3://b/out", "d3", 50, print)
        stub.assert_no_pending_responses()
