"""Encode a dataset end to end and compare with the two floors no encoder beats.

    .venv/bin/python benchmarks/encode.py                                # walmart (../shared/data/walmart)
    .venv/bin/python benchmarks/encode.py --dataset store_item_demand    # ../shared/data/store_item_demand
    .venv/bin/python benchmarks/encode.py --scale 100        # a generated Walmart-layout dataset 100 x larger
    .venv/bin/python benchmarks/encode.py --dataset NAME --source DIR    # any spec (a shipped name or a
                                                                         # YAML path) on any folder

The dataset is a spec (``--dataset``, else $DEEPAR_DATASET, else walmart); its files are in
``--source``, else $DEEPAR_SOURCE, else ../shared/data/<dataset>.
encode_s: read + validate every table of the spec, encode, cut the channels (the spec's
prediction length) and write all three channels plus encoding.json (streamed to a temporary
folder, hashed for the content version). It runs in a child process, whose peak memory (max
RSS) is printed. Each measurement runs ``--repeat`` times (default 3) and the fastest is kept,
on both sides of the ratio, so a load spike on a shared machine does not decide it.
read_s: pyarrow reading the target table's file(s) (no validation, no pandas).
dump_s: orjson serializing the very records written (prepared beforehand as Python lists).
The last line is ``encode_s=… read_s=… dump_s=… ratio=…``, ratio = encode_s / (read_s + dump_s).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepar_assets.domain.channels import split_channels, version_from_digests, write_dataset_files  # noqa: E402
from deepar_assets.domain.encoding import encode  # noqa: E402
from deepar_assets.domain.reading import read_dataset, table_files  # noqa: E402
from deepar_assets.domain.spec import DATASET_VARIABLE, DatasetSpec, load_spec  # noqa: E402

GENERATED_LAYOUT = ("walmart", "synthetic")  # --scale generates data of this layout


def encode_to_folder(spec: DatasetSpec, source: str, out: str, workers: int, queue) -> None:
    """The measured work, in a child process so its peak memory is its own; a failure is sent
    back as its traceback, so the parent does not wait for a result that never comes."""
    try:
        _encode_to_folder(spec, source, out, workers, queue)
    except BaseException:
        import traceback

        queue.put({"error": traceback.format_exc()})


def _encode_to_folder(spec: DatasetSpec, source: str, out: str, workers: int, queue) -> None:
    started = time.perf_counter()
    timings = {}
    raw = read_dataset(spec, source)
    timings["read_validate_s"] = time.perf_counter() - started
    rows = len(raw.target)
    encoded = encode(raw)
    del raw
    timings["encode_s"] = time.perf_counter() - started - timings["read_validate_s"]
    split = split_channels(encoded, spec.prediction_length)
    mark = time.perf_counter()
    written = write_dataset_files(encoded, split, Path(out), workers=workers)
    timings["write_s"] = time.perf_counter() - mark
    version = version_from_digests({k: f.sha256 for k, f in written.items()})
    total = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put(
        {
            "total": total,
            "peak_gb": peak_kb / 1024**2,
            "version": version,
            "bytes": sum(f.size for f in written.values()),
            "series": encoded.n_series,
            "rows": rows,
            "records": {c: split.record_count(c) for c in ("train", "test", "validation")},
            **timings,
        }
    )


def read_floor(spec: DatasetSpec, source: str) -> float:
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    paths = table_files(spec, source)[spec.target.name]
    started = time.perf_counter()
    for path in paths:
        if path.name.lower().endswith(".parquet"):
            pq.read_table(path)
        else:
            pa_csv.read_csv(path)
    return time.perf_counter() - started


def dump_floor(spec: DatasetSpec, source: str, chunk: int = 2000) -> float:
    """orjson on the records written, as plain Python lists (built untimed, chunk by chunk so
    the 100 x dataset fits in memory)."""
    import orjson

    encoded = encode(read_dataset(spec, source))
    split = split_channels(encoded, spec.prediction_length)
    seconds = 0.0
    for channel in ("train", "test", "validation"):
        members, end = split.members[channel], split.ends[channel]
        for start in range(0, len(members), chunk):
            records = [
                {
                    "start": r["start"],
                    "target": [v if v == v else "NaN" for v in r["target"].tolist()],
                    "cat": r["cat"],
                    **({"dynamic_feat": r["dynamic_feat"].tolist()} if r["dynamic_feat"].size else {}),
                }
                for r in encoded.records(members[start : start + chunk], end)
            ]
            began = time.perf_counter()
            for record in records:
                orjson.dumps(record)
            seconds += time.perf_counter() - began
    return seconds


def generate_scaled(spec: DatasetSpec, scale: int, folder: Path) -> Path:
    """A dataset of the generator's (Walmart) layout ``scale`` x the real one: ``scale`` blocks
    of 45 values of the spec's first id (≈75 series each, 143 periods), renumbered, written
    block by block so memory stays small."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from deepar_assets.domain.synthetic import SyntheticSpec, generate_frames

    group = spec.ids[0]
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    writers = {}
    try:
        for block in range(scale):
            frames = generate_frames(SyntheticSpec(n_stores=45, n_depts=95, seed=block))
            for name, frame in frames.items():
                frame = frame.copy()
                if group in frame:
                    frame[group] = frame[group] + 45 * block
                for column in frame.columns:
                    if frame[column].dtype == bool:
                        frame[column] = np.where(frame[column], "TRUE", "FALSE")
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if name not in writers:
                    writers[name] = pa_csv.CSVWriter(
                        folder / f"{name}.csv", table.schema, write_options=pa_csv.WriteOptions(quoting_style="none")
                    )
                writers[name].write_table(table)
    finally:
        for writer in writers.values():
            writer.close()
    # pyarrow writes missing values as empty fields; the reader accepts them as NA.
    done.write_text("ok")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--dataset",
        default=os.environ.get(DATASET_VARIABLE) or "walmart",
        help="the dataset spec: a shipped name (walmart, store_item_demand, aus_retail, ...) or a YAML path",
    )
    parser.add_argument("--source", help="its files (default: $DEEPAR_SOURCE, else ../shared/data/<dataset>)")
    parser.add_argument(
        "--scale", type=int, default=0, help="generate a Walmart-layout dataset this many times the real one"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each measurement, the fastest kept (encode_s, read_s and dump_s alike; default 3)",
    )
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "deepar-bench-data"))
    args = parser.parse_args()

    spec = load_spec(args.dataset)
    source = args.source or os.environ.get("DEEPAR_SOURCE") or str(ROOT.parent / "shared" / "data" / spec.name)
    if args.scale:
        if spec.name not in GENERATED_LAYOUT:
            parser.error(f"--scale generates the {' and '.join(GENERATED_LAYOUT)} layout, not {spec.name}'s")
        began = time.perf_counter()
        source = str(generate_scaled(spec, args.scale, Path(args.data_dir) / f"scale{args.scale}"))
        print(f"generated {source} in {time.perf_counter() - began:.0f}s (not timed below)")

    runs = []
    for _ in range(max(1, args.repeat)):
        with tempfile.TemporaryDirectory(prefix="deepar-encode-") as out:
            queue = multiprocessing.get_context("fork").Queue()
            child = multiprocessing.get_context("fork").Process(
                target=encode_to_folder, args=(spec, source, out, args.workers, queue)
            )
            child.start()
            run = queue.get()
            child.join()
        if "error" in run:
            print(run["error"], file=sys.stderr)
            return 1
        runs.append(run)
    result = min(runs, key=lambda run: run["total"])
    result["peak_gb"] = max(run["peak_gb"] for run in runs)
    read_s = min(read_floor(spec, source) for _ in range(max(1, args.repeat)))
    dump_s = min(dump_floor(spec, source) for _ in range(max(1, args.repeat)))
    print(
        f"dataset={spec.name} source={source} workers={args.workers} rows={result['rows']} series={result['series']} "
        f"records={result['records']}"
    )
    print(
        f"read_validate_s={result['read_validate_s']:.2f} encode_arrays_s={result['encode_s']:.2f} "
        f"write_channels_s={result['write_s']:.2f} bytes={result['bytes'] / 1e6:.0f}MB version={result['version']}"
    )
    print(f"peak_rss_gb={result['peak_gb']:.2f}")
    print(
        f"encode_s={result['total']:.2f} read_s={read_s:.2f} dump_s={dump_s:.2f} "
        f"ratio={result['total'] / (read_s + dump_s):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
