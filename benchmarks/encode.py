"""Encode a Kaggle-layout dataset end to end and compare with the two floors no encoder beats.

    .venv/bin/python benchmarks/encode.py                    # the real data (../shared/data/walmart)
    .venv/bin/python benchmarks/encode.py --scale 100        # a generated dataset 100 x larger
    .venv/bin/python benchmarks/encode.py --source DIR       # any Kaggle-layout folder

encode_s: read + validate the three files, encode, cut the channels and write all three
channels plus encoding.json (streamed to a temporary folder, hashed for the content version).
It runs in a child process, whose peak memory (max RSS) is printed.
read_s: pyarrow reading train.csv (no validation, no pandas).
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
from deepar_assets.domain.kaggle import SALES_FILE, find_file, read_kaggle  # noqa: E402

PREDICTION_LENGTH = 13


def encode_to_folder(source: str, out: str, workers: int, queue) -> None:
    """The measured work, in a child process so its peak memory is its own."""
    started = time.perf_counter()
    timings = {}
    raw = read_kaggle(source)
    timings["read_validate_s"] = time.perf_counter() - started
    rows = len(raw.sales)
    encoded = encode(raw)
    del raw
    timings["encode_s"] = time.perf_counter() - started - timings["read_validate_s"]
    split = split_channels(encoded, PREDICTION_LENGTH)
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


def read_floor(source: str) -> float:
    import pyarrow.csv as pa_csv

    path = find_file(source, SALES_FILE)
    started = time.perf_counter()
    pa_csv.read_csv(path)
    return time.perf_counter() - started


def dump_floor(source: str, chunk: int = 2000) -> float:
    """orjson on the records written, as plain Python lists (built untimed, chunk by chunk so
    the 100 x dataset fits in memory)."""
    import orjson

    encoded = encode(read_kaggle(source))
    split = split_channels(encoded, PREDICTION_LENGTH)
    seconds = 0.0
    for channel in ("train", "test", "validation"):
        members, end = split.members[channel], split.ends[channel]
        for start in range(0, len(members), chunk):
            records = [
                {
                    "start": r["start"],
                    "target": [v if v == v else "NaN" for v in r["target"].tolist()],
                    "cat": r["cat"],
                    "dynamic_feat": r["dynamic_feat"].tolist(),
                }
                for r in encoded.records(members[start : start + chunk], end)
            ]
            began = time.perf_counter()
            for record in records:
                orjson.dumps(record)
            seconds += time.perf_counter() - began
    return seconds


def generate_scaled(scale: int, folder: Path) -> Path:
    """A Kaggle-layout dataset ``scale`` x the real one: ``scale`` blocks of 45 stores (≈75
    series each, 143 weeks), renumbered, written block by block so memory stays small."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from deepar_assets.domain.synthetic import SyntheticSpec, generate_frames

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
                frame["Store"] = frame["Store"] + 45 * block
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
    parser.add_argument("--source", default=str(ROOT.parent / "shared" / "data" / "walmart"))
    parser.add_argument("--scale", type=int, default=0, help="generate a dataset this many times the real one")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "deepar-bench-data"))
    args = parser.parse_args()

    source = args.source
    if args.scale:
        began = time.perf_counter()
        source = str(generate_scaled(args.scale, Path(args.data_dir) / f"scale{args.scale}"))
        print(f"generated {source} in {time.perf_counter() - began:.0f}s (not timed below)")

    with tempfile.TemporaryDirectory(prefix="deepar-encode-") as out:
        queue = multiprocessing.get_context("fork").Queue()
        child = multiprocessing.get_context("fork").Process(target=encode_to_folder, args=(source, out, args.workers, queue))
        child.start()
        result = queue.get()
        child.join()
    read_s = min(read_floor(source) for _ in range(3))
    dump_s = dump_floor(source)
    print(
        f"source={source} workers={args.workers} rows={result['rows']} series={result['series']} "
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
