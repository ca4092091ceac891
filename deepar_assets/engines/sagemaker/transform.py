"""The batch transform job: forecasts of a registered SageMaker model. The records go to S3 as
JSON Lines, a transform job forecasts them, and the output lines come back in order."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from deepar_assets.constants import QUANTILES
from deepar_assets.engines.base import DatasetRef, Log
from deepar_assets.engines.inference import Forecaster
from deepar_assets.engines.sagemaker.parts import EngineParts
from deepar_assets.engines.sagemaker.requests import (
    MAX_LAUNCH_ATTEMPTS,
    NAME_PREFIX,
    UNSEEN_POLLS,
    check_name,
    digest_of,
    error_text,
    is_missing,
)
from deepar_assets.errors import ConfigurationError, TrainingError

if TYPE_CHECKING:
    from deepar_assets.engines.sagemaker.tuning import SageMakerEngine


class TransformJobs(EngineParts):
    """The batch transform half of :class:`~deepar_assets.engines.sagemaker.SageMakerEngine`."""

    # -- batch transform (forecasts) ----------------------------------------------------
    def describe_transform_job(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.describe_transform_job(TransformJobName=name)
        except ClientError as exc:
            if is_missing(exc, codes=("ResourceNotFound",), phrases=("Could not find",)):
                return None
            raise TrainingError(f"SageMaker DescribeTransformJob for {name} failed: {error_text(exc)}") from exc

    def transform(
        self, model_name: str, input_uri: str, output_base: str, digest: str, num_samples: int, log: Log
    ) -> tuple[str, dict[str, Any]]:
        """Run a batch transform of the model on the JSON Lines at ``input_uri`` (or follow the
        one an earlier run started for the same model and input; a completed one is reused).
        Returns the job's name and its final description; the output is
        ``<output_base>/<job name>/<input file>.out``."""
        for attempt in range(1, MAX_LAUNCH_ATTEMPTS + 1):
            name = transform_job_name(model_name, digest, attempt)
            existing = self.describe_transform_job(name)
            if existing is None:
                request = build_transform_request(
                    model_name,
                    input_uri,
                    f"{output_base.rstrip('/')}/{name}/",
                    self.settings.instance_type,
                    num_samples,
                    tags=[
                        {"Key": "deepar:managed-by", "Value": "deepar-assets"},
                        {"Key": "deepar:model", "Value": model_name},
                    ],
                )
                log(
                    f"creating SageMaker batch transform job {name} of model {model_name} on {self.settings.instance_type}: {input_uri}"
                )
                self._call("create_transform_job", f"transform job {name}", TransformJobName=name, **request)
                break
            status = existing["TransformJobStatus"]
            if status == "Completed":
                log(f"batch transform job {name} already completed for this model and input: reusing its output")
                return name, existing
            if status in ("Failed", "Stopped", "Stopping"):
                log(f"batch transform job {name} exists and is {status}; launching a new attempt")
                continue
            log(f"batch transform job {name} is {status}: following it")
            break
        else:
            raise TrainingError(
                f"{MAX_LAUNCH_ATTEMPTS} batch transform jobs of {model_name} on this input already failed or were stopped (the last: {name})"
            )
        return name, self.wait_transform(name, log)

    def wait_transform(self, name: str, log: Log) -> dict[str, Any]:
        """Poll a transform job until it completes; raise with SageMaker's reason when it fails;
        stop it when the wait is interrupted (the Dagster run is cancelled)."""
        finished = False
        last = None
        unseen = 0
        try:
            while True:
                description = self.describe_transform_job(name)
                if description is None:
                    unseen += 1
                    if unseen > UNSEEN_POLLS:
                        finished = True
                        raise TrainingError(f"SageMaker batch transform job {name} never became visible")
                    self.sleep(self.settings.poll_interval_s)
                    continue
                status = description["TransformJobStatus"]
                if status != last:
                    log(f"batch transform job {name}: {status}")
                    last = status
                if status == "Completed":
                    finished = True
                    return description
                if status in ("Failed", "Stopped"):
                    finished = True
                    reason = description.get("FailureReason") or "SageMaker gave no reason"
                    raise TrainingError(f"SageMaker batch transform job {name} ended {status}: {reason}")
                self.sleep(self.settings.poll_interval_s)
        except BaseException:
            if not finished:
                log(f"stopping SageMaker batch transform job {name}: the run following it was interrupted")
                try:
                    self.client.stop_transform_job(TransformJobName=name)
                except Exception as exc:  # noqa: BLE001 - the interruption is what the user must see
                    log(f"could not stop batch transform job {name} ({error_text(exc)})")
            raise


# -- batch transform: requests and output -------------------------------------------------------
TRANSFORM_PREFIX = "forecasts/sagemaker-transform"  # under the storage root: <model>/<input digest>/…
TRANSFORM_INPUT = "data.json"
MAX_TRANSFORM_NAME = 63


def inference_config(num_samples: int, quantiles: tuple[float, ...] = QUANTILES) -> str:
    """DEEPAR_INFERENCE_CONFIG: how many sample paths, and which outputs (mean and quantiles)."""
    if num_samples < 1:
        raise ConfigurationError(f"num_samples must be at least 1, got {num_samples}")
    return json.dumps(
        {"num_samples": num_samples, "output_types": ["mean", "quantiles"], "quantiles": [f"{q:g}" for q in quantiles]}
    )


def transform_job_name(model_name: str, input_digest: str, attempt: int = 1) -> str:
    """The same model and input give the same name, so a rerun follows (or reuses) the job."""
    name = f"{NAME_PREFIX}{digest_of([model_name, input_digest])[:16]}" + (f"-{attempt}" if attempt > 1 else "")
    return check_name(name, "transform job", MAX_TRANSFORM_NAME)


def build_transform_request(
    model_name: str,
    input_uri: str,
    output_uri: str,
    instance_type: str,
    num_samples: int,
    tags: list[dict[str, str]],
    instance_count: int = 1,
) -> dict[str, Any]:
    """The CreateTransformJob request (without its name) of a DeepAR model: one record per
    line in and out, in the same order (SageMaker's DeepAR documentation: SingleRecord, Line,
    Line; the defaults break DeepAR), the inference configuration in DEEPAR_INFERENCE_CONFIG."""
    if not input_uri.startswith("s3://") or not output_uri.startswith("s3://"):
        raise ConfigurationError(
            f"batch transform reads and writes S3: got input {input_uri!r} and output {output_uri!r}"
        )
    return {
        "ModelName": model_name,
        "BatchStrategy": "SingleRecord",
        "Environment": {"DEEPAR_INFERENCE_CONFIG": inference_config(num_samples)},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "application/jsonlines",
            "CompressionType": "None",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": output_uri, "Accept": "application/jsonlines", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": instance_count},
        "Tags": tags,
    }


def transform_input(records: list[dict[str, Any]], h: int, cut: int = 0) -> bytes:
    """The records as DeepAR's batch transform reads them: target less its last ``cut`` points,
    dynamic features to h periods past it."""
    from deepar_assets.constants import FIELD_DYNAMIC_FEAT, FIELD_TARGET
    from deepar_assets.domain.channels import record_to_json

    lines: list[bytes] = []
    for record in records:
        target = record[FIELD_TARGET]
        kept = len(target) - cut
        out = {**record, FIELD_TARGET: target[:kept]}
        if FIELD_DYNAMIC_FEAT in record:
            feats = record[FIELD_DYNAMIC_FEAT]
            if len(feats[0]) < kept + h:
                raise ConfigurationError(
                    f"record {len(lines) + 1} (cat {record.get('cat')}): dynamic_feat covers {len(feats[0])} periods; "
                    f"forecasting {h} periods after its {kept} target periods needs {kept + h}"
                )
            out[FIELD_DYNAMIC_FEAT] = [row[: kept + h] for row in feats]
        lines.append(record_to_json(out))
    return b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)


def parse_transform_output(
    data: bytes, n: int, h: int, quantiles: tuple[float, ...] = QUANTILES, source: str = "the output"
) -> dict[str, Any]:
    """DeepAR's batch transform output (one JSON object per line, in the input's order) as
    {"mean", "p10" … "p90"} arrays (n, h). The order is the only key back to the series, so a
    line count other than the input's is refused."""
    import numpy as np

    lines = [line for line in data.splitlines() if line.strip()]
    if len(lines) != n:
        raise TrainingError(
            f"{source} has {len(lines)} forecast line(s) for {n} input record(s): forecasts are matched to series by order, "
            "so they cannot be matched"
        )
    out = {"mean": np.empty((n, h)), **{f"p{round(q * 100)}": np.empty((n, h)) for q in quantiles}}
    for number, line in enumerate(lines, start=1):
        try:
            prediction = json.loads(line)
            rows = {
                "mean": prediction["mean"],
                **{f"p{round(q * 100)}": prediction["quantiles"][f"{q:g}"] for q in quantiles},
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise TrainingError(
                f"{source}, line {number}: not a DeepAR forecast with mean and quantiles {[f'{q:g}' for q in quantiles]} ({exc!r})"
            ) from None
        for key, values in rows.items():
            if len(values) != h:
                raise TrainingError(
                    f"{source}, line {number}: {key} has {len(values)} values; expected {h} (prediction_length)"
                )
            out[key][number - 1] = values
    if not all(np.isfinite(v).all() for v in out.values()):
        raise TrainingError(f"{source}: the forecasts contain non-finite values")
    return out


class SageMakerForecaster(Forecaster):
    """Forecasts with a registered SageMaker model by batch transform: the records go to S3 as
    JSON Lines, a transform job forecasts them, and the output lines come back in order."""

    engine_name = "sagemaker"
    batch_size = None  # each record is forecast alone (BatchStrategy=SingleRecord)

    def __init__(self, engine: SageMakerEngine, model: Any, dataset: DatasetRef, log: Log):
        if not engine.store.root_uri.startswith("s3://"):
            raise ConfigurationError(
                f"batch transform reads its input from S3, but the storage is {engine.store.root_uri!r}: set DEEPAR_STORAGE=s3://bucket/prefix"
            )
        self.engine = engine
        self.model_name = (model.card.get("sagemaker") or {}).get("model_name") or model.model_id
        self.dataset = dataset
        self.num_samples = int((model.card.get("training_settings") or {}).get("num_eval_samples", 100))
        self.log = log

    def predict(self, records: list[dict[str, Any]], cut: int = 0) -> dict[str, Any]:
        h = self.dataset.prediction_length
        body = transform_input(records, h, cut)
        digest = hashlib.sha256(body).hexdigest()[:16]
        base = f"{TRANSFORM_PREFIX}/{self.model_name}/{digest}"
        store = self.engine.store
        store.put_bytes(f"{base}/input/{TRANSFORM_INPUT}", body)
        name, _ = self.engine.transform(
            self.model_name,
            store.uri(f"{base}/input/{TRANSFORM_INPUT}"),
            store.uri(f"{base}/output"),
            digest,
            self.num_samples,
            self.log,
        )
        key = f"{base}/output/{name}/{TRANSFORM_INPUT}.out"
        return parse_transform_output(store.get_bytes(key), len(records), h, source=store.uri(key))
