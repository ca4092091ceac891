"""A trial or refit worker ends when the process that started it is killed, rather than train on
as an orphan (a worker is not told of its parent's SIGTERM or SIGKILL)."""

import os
import signal
import subprocess
import sys
import time

PARENT = """
import multiprocessing, sys, time
from deepar_assets.engines.local import exit_with_parent

def child():
    exit_with_parent(poll_s=0.1)
    time.sleep(60)

if __name__ == "__main__":
    process = multiprocessing.get_context("spawn").Process(target=child, daemon=True)
    process.start()
    print(process.pid, flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its new parent to reap it is gone
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_worker_exits_soon_after_its_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        time.sleep(1.0)
        assert _alive(child), "the worker should run while its parent does"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the worker trained on as an orphan"
    finally:
        parent.kill()
