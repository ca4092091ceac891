"""The embedded local engine: GluonTS's PyTorch DeepAR, tuned by Optuna.

It reads the very JSON Lines channels SageMaker would read (``cat`` → ``feat_static_cat``,
``dynamic_feat`` → ``feat_dynamic_real``, ``"NaN"`` targets → missing values), uses SageMaker
DeepAR's hyperparameter names and objective definitions, and reports its own metrics. It is
the same model family as SageMaker's DeepAR, not a bit-for-bit replica.

Heavy imports (torch, lightning, gluonts, optuna) happen inside functions, so loading the
Dagster definitions stays fast.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import math
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import (
    FIELD_CAT,
    FIELD_DYNAMIC_FEAT,
    FIELD_START,
    FIELD_TARGET,
    QUANTILES,
    TEST,
    VALIDATION,
)
from deepar_assets.domain import metrics
from deepar_assets.domain.backtest import validation_report
from deepar_assets.domain.channels import ENCODING_FILE, latest_origin, parse_jsonl
from deepar_assets.domain.cores import available_cores
from deepar_assets.domain.encoding import Encoding
from deepar_assets.domain.hyperparameters import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    SearchSpace,
    validate_space,
)
from deepar_assets.domain.spec import periods
from deepar_assets.engines.base import (
    MODEL_CARD,
    DatasetRef,
    Log,
    RegisteredModel,
    TrainingEngine,
    Trial,
    TuningResult,
    TuningSettings,
)
from deepar_assets.engines.windows import fast_deepar_estimator, held_out_loss_callback
from deepar_assets.errors import ConfigurationError, ObjectNotFoundError, TrainingError
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.versions import read_verified

PREDICTOR_DIR = "predictor"  # refit on every period up to T: the model forecasts use
EVALUATED_PREDICTOR_DIR = "evaluated_predictor"  # trained up to T - h: the model scored on validation
VALIDATION_FORECASTS = "validation_forecasts.csv"
# Forecasts a saved model has already sampled, named by what they were sampled from (sample_key):
# best_model's validation forecast, which the combination and the backtest would otherwise sample again.
SAMPLED_DIR = "sampled"
# Series per prediction batch: sampling is compute-bound, so a few hundred rows × samples per
# step amortize Python's per-batch work without thrashing the cache.
PREDICT_BATCH_SIZE = 128
STOP_GRACE_S = 10.0  # how long an interrupted search waits for its other trial processes
# Pruning: the median rule starts after this many trials, and never before this many epochs.
PRUNE_AFTER_TRIALS = 4
PRUNE_WARMUP_EPOCHS = 5
# The held-out loss a trial reports after each epoch (for pruning only) is
# computed on this many test series, the same seeded draw for every trial. On all 3,108 test
# series of the Kaggle retail data it cost a quarter of each epoch.
HELD_OUT_SERIES = 1000
# Lags reach back this far at most: a year, plus one period (SageMaker's DeepAR "automatically
# includes a lag of one year"). GluonTS's default set also reaches 2 and 3 years back, which
# lengthens every training window by two or three seasons of mostly padding (a weekly model
# on three years of history trained 100+ steps longer windows for them).
LAG_SPAN = pd.Timedelta(days=366)

_QUIET_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "gluonts", "optuna")


@contextmanager
def quiet_training() -> Iterator[None]:
    """No progress bars, model summaries or per-epoch chatter in the Dagster log."""
    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # Library-internal notices (data loader workers, LSTM dropout with one layer,
        # deprecations inside gluonts/lightning) say nothing a user of this platform can act on.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def deepar_estimator(
    dataset: DatasetRef, hp: dict[str, Any], settings: TuningSettings, n_records: int, seed: int, scratch: str
):
    """GluonTS's DeepAR estimator for SageMaker-named hyperparameters ``hp`` on ``n_records``
    series of ``dataset``: what every trial and best_model train (and benchmarks/tuning.py
    times against a bare PyTorch loop of the same network). Checkpoints go to ``scratch``."""
    batch_size = int(hp["mini_batch_size"])
    return fast_deepar_estimator(
        seed=seed,
        freq=periods.frequency(dataset.freq).alias,  # GluonTS's time features of the frequency
        prediction_length=dataset.prediction_length,
        context_length=int(hp["context_length"]),
        num_layers=int(hp["num_layers"]),
        hidden_size=int(hp["num_cells"]),
        lr=float(hp["learning_rate"]),
        dropout_rate=float(hp["dropout_rate"]),
        num_feat_dynamic_real=len(dataset.dynamic_feat),
        num_feat_static_cat=len(dataset.cardinality),
        cardinality=list(dataset.cardinality),
        embedding_dimension=[int(hp["embedding_dimension"])] * len(dataset.cardinality),
        distr_output=_distr_output(hp["likelihood"]),
        lags_seq=lags_for(dataset.freq),
        batch_size=batch_size,
        num_batches_per_epoch=batches_per_epoch(settings, n_records, batch_size),
        num_parallel_samples=settings.num_eval_samples,
        trainer_kwargs={
            "max_epochs": int(hp["epochs"]),
            "accelerator": "cpu",
            "devices": 1,
            "default_root_dir": scratch,  # GluonTS's checkpoint goes here, then away
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "num_sanity_val_steps": 0,
        },
    )


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Train with one intra-op thread: DeepAR's small recurrent kernels gain little from a
    second one, and training ran 5x slower with two whenever another process held a core."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def library_versions() -> dict[str, str]:
    names = ("deepar-assets", "gluonts", "torch", "lightning", "optuna", "numpy", "pandas", "dagster")
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _distr_output(likelihood: str):
    from gluonts.torch.distributions import BetaOutput, NegativeBinomialOutput, NormalOutput, StudentTOutput

    outputs = {
        "student-T": StudentTOutput,
        "gaussian": NormalOutput,
        "negative-binomial": NegativeBinomialOutput,
        "beta": BetaOutput,
    }
    if likelihood not in outputs:
        raise ConfigurationError(
            f"likelihood {likelihood!r} is not available in the local engine; choose from {sorted(outputs)} "
            "(deterministic-L1 exists only in SageMaker's DeepAR)"
        )
    return outputs[likelihood]()


def period_freq(freq: str) -> str:
    """The pandas *period* alias of a dataset frequency, which GluonTS's entries are indexed by
    (a month is ``M`` as a period, whether its timestamps are month starts or ends)."""
    alias = periods.frequency(freq).alias
    return "M" if alias in ("MS", "ME") else alias


def lags_for(freq: str) -> list[int]:
    """GluonTS's default lags of the frequency, up to a year (and a period) back: for weeks and
    months the recent periods and the three around a year back; for days also the same weekday
    of the last four weeks, 8 and 12 weeks back; for hours every lag GluonTS has (it stops at a
    month)."""
    from gluonts.time_feature import get_lags_for_frequency

    alias = periods.frequency(freq).alias
    offset = pd.tseries.frequencies.to_offset(alias)
    first = offset.rollforward(pd.Timestamp("2001-01-01"))
    step = (first + 100 * offset - first) / 100  # the mean length of a period
    reach = math.ceil(LAG_SPAN / step)
    return [lag for lag in get_lags_for_frequency(alias) if lag <= reach]


def to_gluonts_entries(records: list[dict[str, Any]], freq: str, cut: int = 0) -> list[dict[str, Any]]:
    """DeepAR records as GluonTS data entries; ``cut`` drops that many final target points
    (the scored window) while keeping the dynamic features that cover it. ``freq`` is the
    dataset's pandas alias; records without ``dynamic_feat`` give entries without
    ``feat_dynamic_real``."""
    freq = period_freq(freq)
    entries = []
    for record in records:
        target = record[FIELD_TARGET]
        entry = {
            "start": pd.Period(record[FIELD_START], freq=freq),
            "target": np.asarray(target[: len(target) - cut], dtype=np.float32),
            "feat_static_cat": np.asarray(record[FIELD_CAT], dtype=np.int64),
        }
        if FIELD_DYNAMIC_FEAT in record:
            entry["feat_dynamic_real"] = np.asarray(record[FIELD_DYNAMIC_FEAT], dtype=np.float32)
        entries.append(entry)
    return entries


def suggest(trial, space: SearchSpace) -> dict[str, Any]:
    """Draw one set of hyperparameters from the shared search space with Optuna."""
    chosen: dict[str, Any] = {}
    for name, rng in space.items():
        if isinstance(rng, CategoricalRange):
            chosen[name] = trial.suggest_categorical(name, list(rng.values))
            continue
        if rng.scaling == "ReverseLogarithmic":
            raise ConfigurationError(
                f"search space: {name} uses ReverseLogarithmic scaling, which the local engine does not support"
            )
        log = rng.scaling == "Logarithmic"
        if isinstance(rng, IntegerRange):
            chosen[name] = trial.suggest_int(name, rng.min_value, rng.max_value, log=log)
        elif isinstance(rng, ContinuousRange):
            chosen[name] = trial.suggest_float(name, rng.min_value, rng.max_value, log=log)
    return chosen


class LocalEngine(TrainingEngine):
    """GluonTS DeepAR on PyTorch (CPU), searched with Optuna's TPE sampler."""

    name = "local"

    def __init__(self, store: ObjectStore | None, work_dir: Path, study_db: Path | None = None):
        self._store = store  # None: a trial's or worker's engine, which trains and scores only
        self.work_dir = Path(work_dir)
        self.study_db = Path(study_db) if study_db is not None else None  # None: an in-memory study

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            raise TrainingError(
                "this LocalEngine has no store (it only trains and scores): it cannot read or write models"
            )
        return self._store

    # -- data -------------------------------------------------------------------------
    def read_channel(self, dataset: DatasetRef, channel: str) -> list[dict[str, Any]]:
        key = dataset.channels[channel]
        data = read_verified(self.store, dataset.base, key, dataset.manifest)
        if key.endswith(".gz"):
            data = gzip.decompress(data)
        return parse_jsonl(data, source=dataset.uri(f"{dataset.base}/{key}"))

    # -- training ---------------------------------------------------------------------
    def fit(
        self,
        dataset: DatasetRef,
        records: list[dict[str, Any]],
        hp: dict[str, Any],
        settings: TuningSettings,
        seed: int,
        validation: list[dict[str, Any]] | None = None,
        on_epoch: Callable[[int, float], bool] | None = None,
    ):
        """Train DeepAR with SageMaker-named hyperparameters on the given records.

        With ``validation`` records, the loss of their last prediction_length periods is computed
        after every epoch and passed to ``on_epoch(epoch, loss)``; True stops training there
        (pruning). It only watches: as without it, GluonTS keeps the epoch with the lowest
        training loss, so a trial trains exactly as best_model does."""
        import lightning.pytorch as pl

        self.work_dir.mkdir(parents=True, exist_ok=True)
        with (
            quiet_training(),
            one_torch_thread(),
            tempfile.TemporaryDirectory(dir=self.work_dir, prefix="train-") as scratch,
        ):
            pl.seed_everything(seed, workers=True, verbose=False)
            estimator = deepar_estimator(dataset, hp, settings, len(records), seed, scratch)
            if validation and on_epoch is not None:
                held_out = to_gluonts_entries(validation, dataset.freq)
                estimator.trainer_kwargs["callbacks"] = [held_out_loss_callback(estimator, held_out, on_epoch)]
            entries = to_gluonts_entries(records, dataset.freq)
            try:
                predictor = estimator.train(entries, cache_data=True)
            except Exception as exc:  # noqa: BLE001 - re-raised with the trial's context
                raise TrainingError(f"DeepAR training failed with {hp}: {type(exc).__name__}: {exc}") from exc
        predictor.batch_size = PREDICT_BATCH_SIZE
        return predictor

    def fit_many(
        self,
        dataset: DatasetRef,
        jobs: dict[Any, list[dict[str, Any]]],
        hp: dict[str, Any],
        settings: TuningSettings,
        seed: int,
        workers: int = 0,
        seeds: dict[Any, int] | None = None,
    ) -> dict[Any, Any]:
        """:meth:`fit` on each of several record sets (one model per key), up to ``workers``
        at a time (0: the cores this process may use), each in a spawned process of its own:
        training runs on one thread, so one process per core trains them side by side. Every
        model is trained as :meth:`fit` trains it, with ``seed`` or its key's ``seeds``."""
        seeds = {key: (seeds or {}).get(key, seed) for key in jobs}
        workers = min(workers or available_cores(), len(jobs))
        if workers <= 1:
            return {key: self.fit(dataset, records, hp, settings, seeds[key]) for key, records in jobs.items()}
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix="fit-many-") as scratch:
            folders = {key: Path(scratch) / f"model-{number}" for number, key in enumerate(jobs)}
            self.fit_to_folders(dataset, jobs, hp, settings, seeds, folders, workers)
            return {key: _read_predictor(folder) for key, folder in folders.items()}

    def fit_to_folders(
        self,
        dataset: DatasetRef,
        jobs: dict[Any, list[dict[str, Any]]],
        hp: dict[str, Any],
        settings: TuningSettings,
        seeds: dict[Any, int],
        folders: dict[Any, Path],
        workers: int = 0,
    ) -> None:
        """Train one model per key of ``jobs`` with its seed and serialize it into its folder:
        up to ``workers`` at a time (0: the cores this process may use) in spawned processes,
        or one after the other in this one."""
        from concurrent.futures import ProcessPoolExecutor

        workers = min(workers or available_cores(), len(jobs))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if workers <= 1:
            for key, records in jobs.items():
                _fit_to_folder(self.work_dir, dataset, records, hp, settings, seeds[key], folders[key])
            return
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # spawn: the parent may hold torch's and Dagster's threads
        with ProcessPoolExecutor(workers, mp_context=context, initializer=exit_with_parent) as pool:
            futures = {
                key: pool.submit(
                    _fit_to_folder, self.work_dir, dataset, records, hp, settings, seeds[key], folders[key]
                )
                for key, records in jobs.items()
            }
            for key, future in futures.items():
                try:
                    future.result()
                except TrainingError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a worker's failure, with what it was training
                    raise TrainingError(
                        f"training {hp} on {len(jobs[key])} series ({key}) in a worker process failed: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc

    def forecast(
        self, predictor, dataset: DatasetRef, records: list[dict[str, Any]], seed: int, cut: int
    ) -> dict[str, np.ndarray]:
        """Sample forecasts for the ``prediction_length`` periods after each record's target
        (less ``cut`` points). Returns mean and quantiles, each (n_series, h). ``predictor``:
        one predictor, or the members of an ensemble (a list), whose samples are pooled: each
        member draws its share of the samples one predictor draws, so the forecast costs
        about what one member's costs and its quantiles are those of the members' mixture."""
        import torch

        h = dataset.prediction_length
        for number, record in enumerate(records, start=1):
            needed = len(record[FIELD_TARGET]) - cut + h
            have = np.shape(record.get(FIELD_DYNAMIC_FEAT, np.zeros((1, needed))))[1]
            if dataset.dynamic_feat and have < needed:
                raise TrainingError(
                    f"series {number} (cat {record[FIELD_CAT]}): dynamic_feat covers {have} periods, but forecasting "
                    f"{h} periods after its {needed - h} target periods needs {needed} (features must be known ahead)"
                )
        members = list(predictor) if isinstance(predictor, list | tuple) else [predictor]
        with quiet_training():
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            inputs = to_gluonts_entries(records, dataset.freq, cut=cut)
            if len(members) == 1:
                samples = np.stack([f.samples for f in members[0].predict(inputs)])  # (n, samples, h)
            else:
                samples = np.concatenate([_member_samples(m, inputs, len(members)) for m in members], axis=1)
        if not np.isfinite(samples).all():
            raise TrainingError("the model produced non-finite forecast samples")
        out = {"mean": samples.mean(axis=1)}
        for tau, values in zip(QUANTILES, np.quantile(samples, QUANTILES, axis=1), strict=True):
            out[f"p{round(tau * 100)}"] = values
        return out

    @staticmethod
    def score(actual: np.ndarray, forecast: dict[str, np.ndarray]) -> dict[str, float]:
        """SageMaker DeepAR's objectives on the scored window."""
        quantiles = {tau: forecast[f"p{round(tau * 100)}"] for tau in QUANTILES}
        return {
            "test:mean_wQuantileLoss": metrics.mean_weighted_quantile_loss(actual, quantiles),
            "test:RMSE": metrics.rmse(actual, forecast["mean"]),
        }

    def evaluate(
        self, predictor, dataset: DatasetRef, records: list[dict[str, Any]], seed: int
    ) -> tuple[dict[str, float], dict[str, np.ndarray], np.ndarray]:
        h = dataset.prediction_length
        actual = np.stack([r[FIELD_TARGET][-h:] for r in records])
        forecast = self.forecast(predictor, dataset, records, seed, cut=h)
        return self.score(actual, forecast), forecast, actual

    # -- search -----------------------------------------------------------------------
    def tune(self, dataset: DatasetRef, space: SearchSpace, settings: TuningSettings, log: Log) -> TuningResult:
        """Search the space with Optuna's TPE sampler. Trials train on ``train`` and are scored
        on ``test``'s last prediction_length periods; hopeless trials are pruned on the held-out
        loss after each epoch. With a study database, the search is stored trial by trial and a
        re-run with the same data and settings resumes it instead of starting over."""
        import optuna

        validate_space(space)
        if settings.max_trials < 1:
            raise ConfigurationError(f"max_trials must be at least 1, got {settings.max_trials}")
        if settings.num_batches_per_epoch < 0:
            raise ConfigurationError(
                f"num_batches_per_epoch must be 0 (one pass over the series) or more, got {settings.num_batches_per_epoch}"
            )
        if not 0 < settings.id_fraction <= 1:
            raise ConfigurationError(f"id_fraction must be in (0, 1], got {settings.id_fraction}")
        train = self.read_channel(dataset, "train")
        test = self.read_channel(dataset, TEST)
        train, test, kept = _id_subset(train, test, settings.id_fraction, settings.seed)
        parallel = settings.parallel_trials or available_cores()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study_name = study_name_for(dataset.version, space, settings)
        study = optuna.create_study(
            study_name=study_name,
            storage=self._study_storage(),
            load_if_exists=True,
            direction="minimize",
            sampler=_sampler(settings.seed),
            pruner=_pruner(settings),
        )
        if study.user_attrs.get("id_subset") is None:
            study.set_user_attr("id_subset", kept)
        finished = [t for t in study.trials if t.state.is_finished()]
        remaining = settings.max_trials - len(finished)
        if finished:
            log(f"resuming {study_name}: {len(finished)} of {settings.max_trials} trials already done")
        started = time.monotonic()

        objective = _Objective(self.work_dir, dataset, space, settings, train, test)
        logged: set[int] = {t.number for t in finished}

        def log_finished(study: optuna.Study, *_: Any) -> None:
            """One line per finished trial, whichever process ran it, in trial order."""
            best = _best_value(study)
            for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
                if trial.number in logged or not trial.state.is_finished():
                    continue
                logged.add(trial.number)
                if trial.state == optuna.trial.TrialState.PRUNED:
                    value = f"pruned after {len(trial.intermediate_values)} epochs"
                elif trial.value is None or math.isnan(trial.value):
                    value = "failed: " + trial.user_attrs.get("error", "?")
                else:
                    value = f"{trial.value:.5f}"
                log(
                    f"trial {trial.number + 1}/{settings.max_trials} {_short(trial.params)} "
                    f"{settings.objective_metric}={value} best={best if best is None else f'{best:.5f}'} "
                    f"elapsed={time.monotonic() - started:.0f}s"
                )

        if remaining > 0:
            # Every process claims one trial at a time from a shared count: the budget is never
            # overshot, and a process whose trials were pruned early takes on more of them.
            import multiprocessing

            budget = multiprocessing.get_context("spawn").Value("i", remaining)
            workers = self._start_workers(objective, study_name, settings, budget, min(parallel, remaining) - 1)
            try:
                with quiet_training():
                    while _claim(budget):
                        study.optimize(objective, n_trials=1, callbacks=[log_finished], gc_after_trial=True)
                for worker in workers:
                    worker.join()
            finally:
                stop_processes(workers, log)  # the run was interrupted: stop the other trials too
            log_finished(study)
        trials = [_to_trial(t) for t in sorted(study.trials, key=lambda t: t.number)]
        return TuningResult(
            engine=self.name,
            objective_metric=settings.objective_metric,
            settings=settings,
            dataset=dataset,
            trials=trials,
            run_id=study_name,
            details={
                "study": study_name,
                "study_storage": str(self.study_db) if self.study_db else "in memory",
                "parallel_trials": parallel,
                "first_id_values_in_search": len(kept) if kept is not None else "all",
                "trials_pruned": sum(t.state == "PRUNED" for t in trials),
            },
        )

    def _start_workers(
        self, objective: _Objective, study_name: str, settings: TuningSettings, budget, count: int
    ) -> list:
        """Start ``count`` more processes that claim trials of the same study from ``budget``
        (spawned: a fresh interpreter each, so the GIL and torch's thread pool are their own)."""
        import multiprocessing

        if count < 1:
            return []
        if self.study_db is None:
            raise ConfigurationError("parallel_trials > 1 needs a study database (the trials share it)")
        context = multiprocessing.get_context("spawn")
        workers = []
        for index in range(count):
            worker = context.Process(
                target=_search_worker,
                args=(objective, study_name, str(self.study_db), settings.seed + 1000 * (index + 1), budget),
                name=f"deepar-trials-{index + 1}",
                daemon=True,
            )
            worker.start()
            workers.append(worker)
        return workers

    def _study_storage(self):
        import optuna

        if self.study_db is None:
            return None
        self.study_db.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # Heartbeats mark the trials of a crashed run as failed, so a resumed search does
            # not wait on them; Optuna calls the option experimental.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                f"sqlite:///{self.study_db}",
                engine_kwargs={"connect_args": {"timeout": 60}},
                heartbeat_interval=60,
                grace_period=180,
            )
        return storage

    # -- the best model -----------------------------------------------------------------
    def register_best(self, tuning: TuningResult, log: Log, members: int = 1) -> RegisteredModel:
        """Train the best trial's hyperparameters on the test channel's history (up to T − h)
        and score it on the validation window, which no trial has seen, against seasonal
        naive (with the spec's season and period weights); write the validation forecasts
        decoded to the spec's ids; then refit on every period up to T: that model is the one
        saved for forecasting. Both are recorded in the card.

        ``members`` > 1: each of the two is an ensemble of that many networks with the same
        hyperparameters and consecutive seeds (the first is the single model's), whose
        forecasts pool their samples. One training run of DeepAR varies with its seed by more
        than the candidates it is weighed against differ; the members' mixture does not."""
        best = tuning.best()
        dataset = tuning.dataset
        seed = tuning.settings.seed
        seeds = member_seeds(seed, members)
        h = dataset.prediction_length
        model_id = model_id_for(dataset.version, best.hyperparameters, seed, members)
        prefix = f"models/{model_id}"
        encoding = Encoding.from_json(read_verified(self.store, dataset.base, ENCODING_FILE, dataset.manifest))
        test = latest_origin(self.read_channel(dataset, TEST), dataset.freq)
        validation = self.read_channel(dataset, VALIDATION)

        self.work_dir.mkdir(parents=True, exist_ok=True)
        scratch_dir = tempfile.TemporaryDirectory(dir=self.work_dir, prefix="model-")
        scratch = Path(scratch_dir.name)
        workers = 1 if (tuning.settings.parallel_trials or available_cores()) == 1 else 0
        try:
            began = time.monotonic()
            jobs = {
                (which, number): (test if which == EVALUATED_PREDICTOR_DIR else validation)
                for which in (EVALUATED_PREDICTOR_DIR, PREDICTOR_DIR)
                for number in range(members)
            }
            ensemble = f" as {members} networks (seeds {seeds})" if members > 1 else ""
            log(
                f"training the best hyperparameters (trial {best.number} of {tuning.run_id}){ensemble} on the test "
                f"channel ({len(test)} series up to T - h), and refitting them on every period up to T (the "
                f"validation channel) for forecasting, "
                f"{'one at a time' if workers == 1 else 'one per core'}: {best.hyperparameters}"
            )
            self.fit_to_folders(
                dataset,
                jobs,
                best.hyperparameters,
                tuning.settings,
                {key: seeds[key[1]] for key in jobs},
                {key: scratch / member_dir(*key) for key in jobs},
                workers,
            )
            both_s = time.monotonic() - began
            evaluated = [_read_predictor(scratch / member_dir(EVALUATED_PREDICTOR_DIR, n)) for n in range(members)]
            _, forecast, actual = self.evaluate(evaluated, dataset, validation, seed)
            report = validation_report(validation, forecast, actual, encoding, h)
            log(
                "validation window: "
                + ", ".join(f"{k}={v:.4g}" for k, v in report["metrics"]["model"].items())
                + " | seasonal naive: "
                + ", ".join(f"{k}={v:.4g}" for k, v in report["metrics"]["seasonal_naive"].items())
            )
            report["frame"].to_csv(scratch / VALIDATION_FORECASTS, index=False, float_format="%.2f")
            (scratch / SAMPLED_DIR).mkdir()
            sampled: dict[str, Any] = forecast  # kept for the combination and the backtest (LocalEngine.sampled)
            np.savez(
                scratch / SAMPLED_DIR / f"{EVALUATED_PREDICTOR_DIR}-{sample_key(validation, seed, h)}.npz", **sampled
            )
            card = {
                "model_id": model_id,
                "engine": self.name,
                "model_type": "gluonts.torch.model.deepar (DeepAREstimator)",
                "data_version": dataset.version,
                "dataset_uri": dataset.uri(dataset.base),
                "trained_on": f"validation channel: every period up to T = {dataset.last_period} (the model for forecasting)",
                "dataset": encoding.dataset,
                "spec_hash": encoding.spec_hash,
                "ids": list(encoding.ids),
                "last_period": dataset.last_period,
                "prediction_length": h,
                "freq": dataset.freq,
                "cardinality": dataset.cardinality,
                "dynamic_feat": dataset.dynamic_feat,
                "hyperparameters": best.hyperparameters,
                "objective": {"name": tuning.objective_metric, "value": best.objective, "trial": best.number},
                "tuning_run": tuning.run_id,
                "evaluation": {
                    "trained_on": f"test channel (periods up to T - {h})",
                    "scored_on": f"validation window: the last {h} periods, unseen by the search",
                    "season_length": encoding.season_length,
                    "period_weights": "declared by the spec (WMAE is weighted)"
                    if encoding.weights
                    else "none (WMAE is the plain MAE)",
                    "series": report["series"],
                    "complete_series": report["complete_series"],
                    "metrics": report["metrics"],
                    "metrics_complete_series": report["metrics_complete"],
                    "forecasts": VALIDATION_FORECASTS,
                },
                "validation_metrics": {f"validation:{k}": v for k, v in report["metrics"]["model"].items()},
                "seasonal_naive_validation_metrics": {
                    f"validation:{k}": v for k, v in report["metrics"]["seasonal_naive"].items()
                },
                "seed": seed,
                "training_settings": asdict(tuning.settings),
                "members": {
                    "count": members,
                    "seeds": seeds,
                    "folders": {
                        which: [member_dir(which, n) for n in range(members)]
                        for which in (EVALUATED_PREDICTOR_DIR, PREDICTOR_DIR)
                    },
                    "forecast": "one network" if members == 1 else "the members' samples pooled (each draws its share)",
                },
                "train_seconds": {"all_models_wall": round(both_s, 1)},
                "library_versions": library_versions(),
            }
            self.store.put_folder(scratch, prefix)
            # The card goes last: a model folder without model.json is an interrupted upload.
            self.store.put_bytes(
                f"{prefix}/{MODEL_CARD}", json.dumps(card, indent=1, sort_keys=True, default=str).encode()
            )
        finally:
            scratch_dir.cleanup()
        return RegisteredModel(model_id=model_id, uri=self.store.uri(prefix), card=card)

    def sampled(
        self, model_id: str, which: str, records: list[dict[str, Any]], seed: int, cut: int
    ) -> dict[str, np.ndarray] | None:
        """The forecast the saved model ``which`` sampled from exactly these records with this
        seed and cut, when it was kept (best_model keeps its validation forecast); else None.
        Sampling is seeded per call, so it is the forecast :meth:`forecast` would give."""
        key = f"models/{model_id}/{SAMPLED_DIR}/{which}-{sample_key(records, seed, cut)}.npz"
        try:
            data = self.store.get_bytes(key)
        except ObjectNotFoundError:
            return None
        with np.load(io.BytesIO(data)) as saved:
            return {name: saved[name] for name in saved.files}

    def load(self, model_id: str, which: str = PREDICTOR_DIR):
        """Load a saved model's predictor from the store: the forecasting model (refit to T)
        by default, or ``evaluated_predictor`` (trained to T − h, the one scored). Of an
        ensemble, its first member (:meth:`load_members` loads them all)."""
        return self.load_members(model_id, which)[0]

    def load_members(self, model_id: str, which: str = PREDICTOR_DIR) -> list:
        """Every member of a saved model's ``which`` predictor, as its card lists them (one
        for a single model)."""
        card_key = f"models/{model_id}/{MODEL_CARD}"
        if not self.store.exists(card_key):
            raise TrainingError(
                f"{self.store.uri(f'models/{model_id}')} has no {MODEL_CARD}: the model was never completely saved"
            )
        card = json.loads(self.store.get_bytes(card_key))
        count = int((card.get("members") or {}).get("count", 1))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        out = []
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix="load-") as scratch:
            for number in range(count):
                folder = member_dir(which, number)
                out.append(
                    _read_predictor(self.store.get_folder(f"models/{model_id}/{folder}", Path(scratch) / folder))
                )
        return out


def _member_samples(predictor, inputs: list[dict[str, Any]], members: int) -> np.ndarray:
    """One ensemble member's samples, (n, its share, h): the share is the samples one predictor
    draws (``num_eval_samples``) divided among the ``members``, rounded up."""
    model = predictor.prediction_net.model
    drawn = model.num_parallel_samples
    model.num_parallel_samples = max(1, math.ceil(drawn / members))
    try:
        return np.stack([f.samples for f in predictor.predict(inputs)])
    finally:
        model.num_parallel_samples = drawn


def member_seeds(seed: int, members: int) -> list[int]:
    """The training seeds of an ensemble's members: the seed, then the next ones. The first
    member is the very network a single model trains."""
    if members < 1:
        raise ConfigurationError(f"members must be at least 1, got {members}")
    return [int(seed) + number for number in range(members)]


def member_dir(which: str, number: int) -> str:
    """Where member ``number`` of a saved model's ``which`` predictor lives: the first in
    ``which`` itself (as a single model), the others beside it."""
    return which if number == 0 else f"{which}-member{number}"


def sample_key(records: list[dict[str, Any]], seed: int, cut: int) -> str:
    """What a forecast is sampled from, as a digest: every record's categories, start, target
    and features, in order (a batch's samples depend on the rows before it), the seed and the cut."""
    digest = hashlib.sha256(f"{seed}:{cut}:{len(records)}".encode())
    for record in records:
        digest.update(json.dumps([record.get(FIELD_CAT), str(record.get(FIELD_START))]).encode())
        digest.update(np.ascontiguousarray(record[FIELD_TARGET], dtype=np.float64).tobytes())
        if FIELD_DYNAMIC_FEAT in record:
            digest.update(np.ascontiguousarray(record[FIELD_DYNAMIC_FEAT], dtype=np.float64).tobytes())
    return digest.hexdigest()[:32]


class _Objective:
    """One trial: draw hyperparameters, train on ``train`` with the held-out loss of a seeded
    sample of ``test`` series reported after each epoch (for pruning), then score every
    ``test`` series on its last prediction_length periods.
    Picklable, so worker processes run the very same objective."""

    def __init__(self, work_dir: Path, dataset: DatasetRef, space: SearchSpace, settings: TuningSettings, train, test):
        self.work_dir, self.dataset, self.space, self.settings = work_dir, dataset, space, settings
        self.train, self.test = train, test
        self.held_out = _held_out(test, HELD_OUT_SERIES, settings.seed)

    def __call__(self, trial) -> float:
        import optuna

        engine = LocalEngine(store=None, work_dir=self.work_dir)  # training and scoring need no store
        settings, dataset = self.settings, self.dataset
        hp = suggest(trial, self.space)
        seed = trial_seed(settings.seed, hp)
        trial.set_user_attr("seed", seed)
        trial.set_user_attr(
            "batches_per_epoch", batches_per_epoch(settings, len(self.train), int(hp["mini_batch_size"]))
        )
        pruned = []

        def report(epoch: int, loss: float) -> bool:
            trial.report(loss, epoch)
            trial.set_user_attr("epochs_run", epoch + 1)
            if settings.prune and trial.should_prune():
                pruned.append(epoch)
                return True
            return False

        watched = _prunes(settings)  # the held-out loss after each epoch only serves the pruner
        try:
            began = time.monotonic()
            predictor = engine.fit(
                dataset, self.train, hp, settings, seed, validation=self.held_out if watched else None, on_epoch=report
            )
            trial.set_user_attr("train_seconds", round(time.monotonic() - began, 2))
            if not watched:
                trial.set_user_attr("epochs_run", int(hp["epochs"]))
            if pruned:
                raise optuna.TrialPruned(f"pruned after epoch {pruned[0] + 1}")
            began = time.monotonic()
            scores, _, _ = engine.evaluate(predictor, dataset, self.test, seed)
            trial.set_user_attr("eval_seconds", round(time.monotonic() - began, 2))
        except (TrainingError, ConfigurationError) as exc:
            trial.set_user_attr("error", str(exc)[:1000])
            return math.nan  # Optuna records the trial as failed
        for name, value in scores.items():
            trial.set_user_attr(name, value)
        return scores[settings.objective_metric]


def trial_seed(seed: int, hyperparameters: dict[str, Any]) -> int:
    """A trial's training seed: the run's seed and the configuration's digest. Not the trial's
    number: with parallel trials that number goes to whichever process asks first, so the same
    configuration trained with another seed from one run to the next (measured on Walmart: the
    same configuration scored test:mean_wQuantileLoss 0.0702 in one full run and 0.0790 in
    another, and which one won the search followed)."""
    digest = hashlib.sha256(json.dumps(hyperparameters, sort_keys=True, default=str).encode()).hexdigest()
    return (int(seed) + int(digest[:7], 16)) % 2**31


def _fit_to_folder(
    work_dir: Path, dataset: DatasetRef, records, hp: dict[str, Any], settings: TuningSettings, seed: int, folder: Path
) -> None:
    """Train and serialize a predictor into ``folder`` (also the body of a worker process)."""
    predictor = LocalEngine(store=None, work_dir=work_dir).fit(dataset, records, hp, settings, seed)
    Path(folder).mkdir(parents=True, exist_ok=True)
    predictor.serialize(Path(folder))


def _read_predictor(folder: Path):
    """A predictor serialized into ``folder``, on the CPU, sampling in batches of PREDICT_BATCH_SIZE."""
    from gluonts.torch.model.predictor import PyTorchPredictor

    with quiet_training():
        predictor = PyTorchPredictor.deserialize(Path(folder), device="cpu")
    predictor.batch_size = PREDICT_BATCH_SIZE
    return predictor


def exit_with_parent(poll_s: float = 1.0) -> threading.Thread:
    """In a worker process: exit as soon as the process that started it is gone (killed by
    SIGTERM or SIGKILL, which a worker is not told of), rather than train on as an orphan. The
    parent is the one multiprocessing recorded, so a parent that died while the worker was
    still importing is noticed too."""
    import multiprocessing

    started_by = multiprocessing.parent_process()
    parent = started_by.pid if started_by is not None and started_by.pid is not None else os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    watcher = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    watcher.start()
    return watcher


def _search_worker(objective: _Objective, study_name: str, study_db: str, seed: int, budget) -> None:
    """A worker process: run trials of the shared study while the budget has any left."""
    import optuna

    exit_with_parent()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    engine = LocalEngine(store=None, work_dir=objective.work_dir, study_db=Path(study_db))
    study = optuna.load_study(
        study_name=study_name,
        storage=engine._study_storage(),
        sampler=_sampler(seed),
        pruner=_pruner(objective.settings),
    )
    with quiet_training():
        while _claim(budget):
            study.optimize(objective, n_trials=1, gc_after_trial=True)


def stop_processes(processes: list, log: Log, grace_s: float = STOP_GRACE_S) -> None:
    """Stop the processes still alive: SIGTERM, then SIGKILL to any still running after
    ``grace_s``. A process that ignores SIGTERM (its parent did, and spawned children inherit
    that: ``dagster dev`` in the background, for one) would otherwise be waited for until its
    trial ends. Each kill is logged."""
    alive = [p for p in processes if p.is_alive()]
    for process in alive:
        process.terminate()
    deadline = time.monotonic() + grace_s
    for process in alive:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log(f"{process.name} (pid {process.pid}) did not stop on SIGTERM within {grace_s:g} s: killed")
            process.kill()
            process.join()


def _claim(budget) -> bool:
    """Take one trial from the shared budget (a ``multiprocessing.Value``); False when none is left."""
    with budget.get_lock():
        if budget.value <= 0:
            return False
        budget.value -= 1
        return True


def _sampler(seed: int):
    """TPE; with trials running at once, each new draw treats the running ones as already
    scored badly (Optuna's constant liar), so parallel processes do not draw the same region."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _prunes(settings: TuningSettings) -> bool:
    """Whether the search can prune a trial: pruning is on and the search has more trials than
    the pruner waits for (a shorter one trains every trial without the held-out loss)."""
    return settings.prune and settings.max_trials > PRUNE_AFTER_TRIALS


def _pruner(settings: TuningSettings):
    import optuna

    if not _prunes(settings):
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER_TRIALS, n_warmup_steps=PRUNE_WARMUP_EPOCHS)


def batches_per_epoch(settings: TuningSettings, series: int, batch_size: int) -> int:
    """``num_batches_per_epoch``, or when it is 0 one pass over the series, as an epoch is in
    SageMaker DeepAR: the data a trial sees then does not shrink with its mini_batch_size."""
    return settings.num_batches_per_epoch or max(1, math.ceil(series / batch_size))


def _held_out(test: list[dict[str, Any]], size: int, seed: int) -> list[dict[str, Any]]:
    """A seeded draw of ``size`` test series, in file order (all of them when there are fewer)."""
    if len(test) <= size:
        return test
    keep = np.sort(np.random.default_rng(seed).choice(len(test), size=size, replace=False))
    return [test[i] for i in keep]


def _id_subset(train, test, fraction: float, seed: int):
    """The seed's tip: tune on a random share of the values of the first id column (cat
    position 0) with all their series, then train the best hyperparameters on every series.
    Returns the filtered channels and the codes kept (None: all)."""
    if fraction >= 1:
        return train, test, None
    codes = sorted({r[FIELD_CAT][0] for r in train})
    keep = set(
        np.random.default_rng(seed).choice(codes, size=max(1, round(fraction * len(codes))), replace=False).tolist()
    )
    return (
        [r for r in train if r[FIELD_CAT][0] in keep],
        [r for r in test if r[FIELD_CAT][0] in keep],
        sorted(int(c) for c in keep),
    )


def _short(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in params.items()}


def study_name_for(data_version: str, space: SearchSpace, settings: TuningSettings) -> str:
    """Same data, space and settings → same study, which a re-run resumes. The budget
    (max_trials) and the parallelism are left out: raising the budget continues the study."""
    search = {k: v for k, v in asdict(settings).items() if k not in ("max_trials", "parallel_trials")}
    fingerprint = json.dumps([repr(sorted(space.items())), search], sort_keys=True, default=str)
    return f"deepar-{data_version}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:10]}"


def model_id_for(data_version: str, hyperparameters: dict[str, Any], seed: int, members: int = 1) -> str:
    """A model's id: its data version and a digest of what trained it (the member count only
    when the model is an ensemble, so that a single model keeps the id it always had)."""
    made_of = [data_version, hyperparameters, seed] + ([members] if members > 1 else [])
    digest = hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()
    return f"deepar-{data_version[:8]}-{digest[:8]}"


def _best_value(study) -> float | None:
    try:
        return study.best_value
    except ValueError:
        return None


def _to_trial(frozen) -> Trial:
    duration = frozen.duration.total_seconds() if frozen.duration is not None else 0.0
    value = frozen.value
    failed = value is None or (isinstance(value, float) and math.isnan(value))
    state = frozen.state.name
    if state == "COMPLETE" and failed:
        state = "FAIL"
    return Trial(
        number=frozen.number + 1,  # 1-based, as the progress log counts them
        hyperparameters=dict(frozen.params),
        state=state,
        objective=None if failed else float(value),
        duration_s=round(duration, 2),
        metrics={
            k: v
            for k, v in frozen.user_attrs.items()
            if k.startswith("test:") or k.endswith("_seconds") or k in ("epochs_run", "batches_per_epoch")
        },
        error=frozen.user_attrs.get("error"),
    )
