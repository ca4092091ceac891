"""Seconds from a drop landing to its new dataset version in storage, with the daemon running
as `make ui` runs it (dagster dev on 127.0.0.1; tuning excluded: manual policy).

    .venv/bin/python benchmarks/weekly_refresh.py [--stores 10 --depts 20 --weeks 100] [--timeout 240]

On a generated dataset of the synthetic spec (weekly partitions) in a temporary folder: the
history without its last partition is loaded with the Dagster CLI, dagster dev starts with a
fresh Dagster home (telemetry off) and its sensors on (they are on by default), and once both
sensors have ticked the last partition is dropped into the landing folder. Prints the seconds
until the new version's manifest.json is in storage, and where they went (the landing run, the
refresh run). Every process it starts is
stopped at the end; the temporary folder is removed unless --keep.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SENSORS = ("landing_zone_sensor", "deepar_automation")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manifests(storage: Path) -> set[str]:
    return {p.parent.name for p in (storage / "datasets").glob("*/manifest.json")}


def _sensor_ticks(instance) -> dict[str, int]:
    """How many ticks each of our sensors has recorded."""
    from dagster._core.scheduler.instigation import InstigatorType

    ticks = {}
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name in SENSORS:
            ticks[state.instigator_name] = len(
                instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=5)
            )
    return ticks


def _wait(what: str, condition, deadline: float, process: subprocess.Popen, log: Path):
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            raise RuntimeError(
                f"dagster dev exited ({process.returncode}) while waiting for {what}:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.2)
    raise TimeoutError(f"gave up waiting for {what}; dagster dev's log: {log}")


def _stop(process: subprocess.Popen) -> None:
    """Stop dagster dev and everything it started (its own process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _leftovers(work: Path) -> list[int]:
    """Processes that dagster dev started in sessions of their own (its code server), found by
    the temporary folder on their command line: nothing else has it."""
    pids = []
    if not Path("/proc").is_dir():  # not Linux: the code server stops by itself (its heartbeat)
        return pids
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if str(work).encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _stop_leftovers(work: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _leftovers(work)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        while pids and _leftovers(work) and time.monotonic() < deadline:
            time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--depts", type=int, default=20)
    parser.add_argument("--weeks", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds allowed for each wait")
    parser.add_argument(
        "--tuning-policy", default="manual", help="DEEPAR_TUNING_POLICY for dagster dev (default manual)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, storage, Dagster home)")
    args = parser.parse_args()

    from deepar_assets.domain.spec import load_spec
    from deepar_assets.domain.synthetic import SyntheticSpec, write_dataset
    from deepar_assets.replay import drop_partitions, hold_out, write_history
    from deepar_assets.storage.landing import LandingZone
    from deepar_assets.storage.local import FolderStore

    work = Path(tempfile.mkdtemp(prefix="deepar-weekly-"))
    home, storage, landing = work / "dagster_home", work / "storage", work / "landing"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    spec = SyntheticSpec(n_stores=args.stores, n_depts=args.depts, n_weeks=args.weeks, n_future_weeks=13, seed=3)
    source = write_dataset(work / "source", spec)
    holdout = hold_out(source, 1, load_spec("synthetic"))
    history = write_history(holdout, work / "history")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPAR_")}
    env.update(
        DAGSTER_HOME=str(home),
        DEEPAR_DATASET="synthetic",
        DEEPAR_SOURCE=str(history),
        DEEPAR_STORAGE=str(storage),
        DEEPAR_LANDING=str(landing),
    )
    env["DEEPAR_TUNING_POLICY"] = args.tuning_policy
    bin_dir = Path(sys.executable).parent
    partitions = subprocess.run(
        [sys.executable, "-m", "deepar_assets.weeks"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    started = time.perf_counter()
    load = subprocess.run(
        [str(bin_dir / "dagster"), "asset", "materialize", "-m", "deepar_assets"]
        + ["--select", "raw_sales,encoded_series,s3_datasets", "--partition-range", partitions],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if load.returncode:
        print(load.stdout[-3000:], load.stderr[-3000:], sep="\n")
        return load.returncode
    print(
        f"history {partitions} ({spec.n_stores} x {spec.n_depts} series) loaded in {time.perf_counter() - started:.1f} s"
    )
    before = _manifests(storage)

    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    log = work / "dagster_dev.log"
    port = _free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["env", "--default-signal=INT,TERM", str(bin_dir / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)]
            + ["-m", "deepar_assets"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole at the end
        )
    try:
        booted = time.perf_counter()
        _wait(
            "both sensors' first ticks",
            lambda: all(_sensor_ticks(instance).get(name, 0) >= 1 for name in SENSORS),
            time.monotonic() + args.timeout,
            process,
            log,
        )
        print(f"dagster dev up, both sensors ticking after {time.perf_counter() - booted:.1f} s")
        landed = time.time()
        drop_partitions(holdout, LandingZone(FolderStore(landing)), log=lambda line: None)
        new = _wait(
            "the new dataset version",
            lambda: _manifests(storage) - before,
            time.monotonic() + args.timeout,
            process,
            log,
        )
        seconds = time.time() - landed
        print(f"partition {holdout.partitions[0]} landed; new dataset version {sorted(new)[0]} after {seconds:.1f} s")
        for record in reversed(instance.get_run_records(limit=3)):
            run = record.dagster_run
            assets = ",".join(sorted(k.to_user_string() for k in run.asset_selection or [])) or run.job_name
            print(
                f"  run {run.run_id[:8]} {assets:28s} {run.status.value:8s} created +{record.create_timestamp.timestamp() - landed:5.1f} s"
                f"  started +{(record.start_time or landed) - landed:5.1f} s  ended +{(record.end_time or landed) - landed:5.1f} s"
            )
        print(f"weekly_refresh_s={seconds:.1f}")
        return 0
    finally:
        _stop(process)
        _stop_leftovers(work)
        instance.dispose()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
