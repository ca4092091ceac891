"""Time the whole graph with a run config, as `make run` runs it (the Dagster CLI, a fresh
Dagster home, an empty storage folder), and print where the time goes per asset.

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
    partitions = subprocess.run(
        [sys.executable, "-m", "deepar_assets.weeks"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    command = [
        str(Path(sys.executable).parent / "dagster"),
        *("asset", "materialize", "-m", "deepar_assets", "--select", "*"),
        *("--partition-range", partitions, "-c", args.config),
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    total = time.perf_counter() - started
    gate_refused = done.returncode and "beats_seasonal_naive" in done.stderr + done.stdout
    if done.returncode and not gate_refused:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
        return done.returncode

    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    steps: dict[str, float] = {}
    for record in instance.get_records_for_run(instance.get_runs(limit=1)[0].run_id).records:
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
    print(f"steps_s={sum(steps.values()):.1f} total_s={total:.1f} (total includes process start-up per step)")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
