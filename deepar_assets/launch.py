"""``make run``: materialize the graph in this process and print what a person wants to read.

    python -m deepar_assets.launch [--select '*'] [--partition-range FIRST...LAST] [-c CONFIG ...]

The run executes in process (Dagster's ``execute_in_process``, the way ``dg launch`` executes
assets in a project), in the Dagster home's instance, tagged as launched here. The terminal
gets one line per asset as it starts and ends, the blocking checks' verdicts, the tuning trials
with an estimate of the time left, and at the end the summary of *this* run
(:mod:`deepar_assets.summary`). Dagster's full event stream stays in the instance: the UI
(``make ui``) shows it. The partition range defaults to the source's target periods, so the
bulk history loads as one single-run backfill.

Exit status: 0 when the run succeeded, or failed only on the gate that refuses a model that does
not beat seasonal naive (an outcome, said so); 1 on any other failure.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from typing import TextIO

import dagster as dg
import yaml

from deepar_assets.constants import TRAINING_POOL

LAUNCH_TAG = "deepar/launch"  # the launch's own id: the summary reports the run that carries it
LAUNCHED_BY_TAG = "deepar/launched_by"
LAUNCHED_BY = "make run"
QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
TRIAL = re.compile(r"^trial (\d+)/(\d+) .*elapsed=(\d+)s")


def _merge(into: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def run_config(paths: Sequence[str]) -> dict:
    """The run config files merged (the first file wins on a key set twice, as Dagster's CLI
    merges them), with Dagster's console logger quiet: the terminal gets :class:`Progress`."""
    merged: dict = {}
    for path in reversed(paths):
        with open(path) as handle:
            loaded = yaml.safe_load(handle) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(
                f"{path}: a run config is a YAML mapping (ops:, resources:, …); got {type(loaded).__name__}"
            )
        _merge(merged, loaded)
    return _merge(merged, QUIET_LOGGERS)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _first_line(text: str | None, limit: int = 300) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Progress:
    """Turns a run's event records into short lines: a step started, ended (with its time) or
    failed (with its error's first line), a check's verdict, a tuning trial with the time left."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic):
        self.out = out
        self.clock = clock
        self.started: dict[str, float] = {}

    def _print(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')}  {text}", file=self.out, flush=True)

    def event(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            self.message(entry.user_message)
            return
        step = event.step_key or ""
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = self.clock()
            self._print(f"▶ {step}")
        elif kind == "STEP_SUCCESS":
            took = self.clock() - self.started.get(step, self.clock())
            self._print(f"✓ {step} ({_duration(took)})")
        elif kind == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:  # the user's error, not Dagster's wrapper
                error = error.cause
            user = event.step_failure_data.user_failure_data
            why = user.description if user is not None and user.description else (error.message if error else "")
            self._print(f"✗ {step} failed: {_first_line(why)}")
        elif kind in ("RUN_FAILURE", "PIPELINE_FAILURE"):
            failure = event.event_specific_data
            error = getattr(failure, "error", None)
            while error is not None and error.cause is not None:
                error = error.cause
            self._print(f"✗ the run failed: {_first_line(error.message if error else entry.message)}")
        elif kind == "ENGINE_EVENT" and "blocked by limit for pool" in (entry.message or ""):
            pool = entry.message.rsplit(" ", 1)[-1]
            self._print(f"  {step or 'a step'} waits for a slot in pool {pool} (another heavy run holds it)")
        elif kind == "ASSET_CHECK_EVALUATION":
            check = event.asset_check_evaluation_data
            verdict = "passed" if check.passed else f"FAILED ({check.severity.value.lower()})"
            self._print(f"  check {check.asset_key.to_user_string()}.{check.check_name}: {verdict}")

    def message(self, text: str) -> None:
        match = TRIAL.match(text or "")
        if not match:
            return
        done, total, elapsed = (int(group) for group in match.groups())
        left = elapsed / done * (total - done) if done else 0.0
        estimate = f", about {_duration(left)} left" if done < total else ""
        self._print(f"  {text.split(' elapsed=')[0]} ({_duration(elapsed)}{estimate})")


def follow(instance: dg.DagsterInstance, launch: str, progress: Progress, stop: threading.Event) -> None:
    """Tails the event log of the run tagged ``launch`` until ``stop`` is set, then drains it.
    The drain reads the whole run again and shows what the tail did not: on PostgreSQL an event
    can commit after one with a higher id was read, so a cursor alone can step over it."""
    run_id = None
    cursor = None
    seen: set[int] = set()
    while True:
        finishing = stop.is_set()
        if run_id is None:
            runs = instance.get_run_records(dg.RunsFilter(tags={LAUNCH_TAG: launch}), limit=1)
            run_id = runs[0].dagster_run.run_id if runs else None
        if run_id is not None:
            if finishing:
                cursor = None
            while True:
                connection = instance.get_records_for_run(run_id, cursor=cursor, limit=500)
                for record in connection.records:
                    if record.storage_id not in seen:
                        seen.add(record.storage_id)
                        progress.event(record.event_log_entry)
                cursor = connection.cursor
                if not connection.has_more:
                    break
        if finishing:
            return
        stop.wait(0.5)


def ensure_pool(instance: dg.DagsterInstance, pool: str) -> None:
    """Creates the pool's limit (the instance config's default) before any run claims a slot.
    Dagster creates it on a step's first claim, and two runs claiming at once on a new instance
    race there: on PostgreSQL the loser's run fails on a duplicate key. Once it exists nothing
    races; a deployment sets it once (``dagster instance concurrency set deepar-training 1``)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits or pool in storage.get_concurrency_keys():
        return
    try:
        storage.initialize_concurrency_limit_to_default(pool)
    except Exception:
        if pool not in storage.get_concurrency_keys():  # not another process creating it at the same moment
            raise


def resolve_selection(select: str, definitions: dg.Definitions) -> set[dg.AssetKey]:
    """The asset keys of a selection in Dagster's syntax (``*``, ``a,b``, ``+forecasts``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # Dagster resolves '*' with a beta parameter
        return set(dg.AssetSelection.from_coercible(select.split(",")).resolve(definitions.resolve_asset_graph()))


def launch(
    select: str = "*",
    partition_range: str | None = None,
    configs: Sequence[str] = (),
    out: TextIO = sys.stdout,
    instance: dg.DagsterInstance | None = None,
    definitions: dg.Definitions | None = None,
) -> tuple[str, bool]:
    """Materializes the selection in process; returns the run's id and whether it succeeded."""
    from deepar_assets.definitions import PIPELINE_JOB

    if definitions is None:
        from deepar_assets.definitions import defs as definitions
    assert definitions is not None
    job = definitions.resolve_job_def(PIPELINE_JOB)
    keys = resolve_selection(select, definitions)
    launch_id = uuid.uuid4().hex
    tags = {LAUNCH_TAG: launch_id, LAUNCHED_BY_TAG: LAUNCHED_BY}
    if partition_range:
        first, sep, last = partition_range.partition("...")
        if not sep or not first or not last:
            raise SystemExit(f"--partition-range {partition_range!r}: expected FIRST...LAST (partition keys)")
        tags |= {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    instance = instance or dg.DagsterInstance.get()
    ensure_pool(instance, TRAINING_POOL)
    stop = threading.Event()
    tail = threading.Thread(target=follow, args=(instance, launch_id, Progress(out), stop), daemon=True)
    tail.start()
    try:
        result = job.execute_in_process(
            run_config=run_config(configs),
            instance=instance,
            tags=tags,
            asset_selection=sorted(keys),
            raise_on_error=False,
        )
    finally:
        stop.set()
        tail.join()
    return result.run_id, result.success


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepar_assets.launch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--select", default="*", help="asset selection (Dagster's syntax); default: the whole graph")
    parser.add_argument(
        "--partition-range",
        help="FIRST...LAST partition keys of raw_sales; default: the source's target periods (one single-run backfill)",
    )
    parser.add_argument("-c", "--config", action="append", default=[], help="run config YAML (repeatable)")
    args = parser.parse_args(argv)
    from deepar_assets import summary
    from deepar_assets.definitions import defs

    selected = resolve_selection(args.select, defs)
    partition_range = args.partition_range
    if partition_range is None and any(defs.resolve_assets_def(key).partitions_def for key in selected):
        from deepar_assets.weeks import source_partition_range

        partition_range = "...".join(source_partition_range())
    instance = dg.DagsterInstance.get()
    try:
        run_id, success = launch(args.select, partition_range, args.config, instance=instance, definitions=defs)
    except dg.DagsterInvalidConfigError as exc:  # refused before any run starts: nothing to summarize
        print(f"run config {', '.join(args.config) or '(none)'}: {exc}", file=sys.stderr)
        return 2
    return summary.report(instance, run_id, failed=not success)


if __name__ == "__main__":
    raise SystemExit(main())
