"""Time the whole graph with a run config, as `make run` runs it (``python -m
deepar_assets.launch``, a fresh Dagster home, an empty storage folder), and print where the time
goes per asset.

    .venv/bin/python benchmarks/quick_graph.py [--dataset walmart] [--source DIR] [--config configs/quick.yaml]
    .venv/bin/python benchmarks/quick_graph.py --dataset store_item_demand

The dataset is a spec (``--dataset``, else $DEEPAR_DATASET, else walmart); its files are in
``--source``, else $DEEPAR_SOURCE, else ../shared/data/<dataset> when that exists. Without any,
it runs on the generated synthetic dataset (walmart and synthetic specs only).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=os.environ.get("DEEPAR_DATASET") or "walmart")
    parser.add_argument("--source", default=os.environ.get("DEEPAR_SOURCE"))
    parser.add_argument("--config", default=str(ROOT / "configs" / "quick.yaml"))
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's Dagster home and storage, print make run's summary"
    )
    args = parser.parse_args()
    if args.source is None:
        from deepar_assets.domain.spec import load_spec

        shipped = ROOT.parent / "shared" / "data" / load_spec(args.dataset).name
        args.source = str(shipped) if shipped.exists() else None

    work = Path(tempfile.mkdtemp(prefix="deepar-bench-"))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DEEPAR_STORAGE": str(work / "storage"),
        "DEEPAR_DATASET": args.dataset,
    }
    env.pop("DEEPAR_SOURCE", None)
    if args.source:
        env["DEEPAR_SOURCE"] = args.source
    started = time.perf_counter()
    command = [sys.executable, "-m", "deepar_assets.launch", "-c", args.config]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    total = time.perf_counter() - started
    if done.returncode:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
        return done.returncode
    gate_refused = "NOT PUBLISHED" in done.stdout

    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    from deepar_assets.summary import latest_launch

    instance = dg.DagsterInstance.get()
    run_id = latest_launch(instance)
    assert run_id is not None
    run = instance.get_run_by_id(run_id)
    assert run is not None
    partitions = (
        f"{run.tags.get('dagster/asset_partition_range_start')}...{run.tags.get('dagster/asset_partition_range_end')}"
    )
    steps: dict[str, float] = {}
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry
        if event.dagster_event and event.dagster_event.event_type_value == "STEP_SUCCESS":
            steps[event.step_key] = event.dagster_event.event_specific_data.duration_ms / 1000
    print(
        f"dataset={args.dataset} source={args.source or 'synthetic'} config={Path(args.config).name} partitions={partitions}"
    )
    for step, seconds in steps.items():
        print(f"  {step:16s} {seconds:7.1f} s")
    if gate_refused:
        print("  the gate refused the model (it did not beat seasonal naive): forecasting assets not run")
    print(
        f"steps_s={sum(steps.values()):.1f} total_s={total:.1f} (total includes start-up and loading the definitions)"
    )
    if args.keep:
        print(done.stdout[done.stdout.find("run:       ") :] if "run:       " in done.stdout else done.stdout[-3000:])
        print(f"kept: DAGSTER_HOME={home} DEEPAR_STORAGE={work / 'storage'}")
    else:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
