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


STUBBORN = """
import multiprocessing, signal, sys, time
from deepar_assets.engines.local import stop_processes

def trial(ignore_sigterm):
    # Both set explicitly: a runner that ignores SIGTERM passes that on to every child.
    signal.signal(signal.SIGTERM, signal.SIG_IGN if ignore_sigterm else signal.SIG_DFL)
    time.sleep(60)

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=trial, args=(ignore,), name=f"trial-{ignore}", daemon=True) for ignore in (False, True)]
    for process in processes:
        process.start()
    time.sleep(2.0)  # both are past their start-up and the stubborn one ignores SIGTERM
    started = time.monotonic()
    stop_processes(processes, print, grace_s=1.0)
    print("stopped", round(time.monotonic() - started, 1), [p.pid for p in processes], [p.exitcode for p in processes], flush=True)
"""


def test_an_interrupted_search_kills_the_trials_that_ignore_sigterm(tmp_path):
    """The interrupted path of LocalEngine.tune: a trial process that ignores SIGTERM (inherited
    from a parent that does) is killed after the grace period, and the kill is reported."""
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=45)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2, done.stdout
    assert lines[0].startswith("trial-True (pid ") and lines[0].endswith("did not stop on SIGTERM within 1 s: killed")
    _, seconds, rest = lines[1].split(" ", 2)
    pids, exitcodes = rest.split("] [")
    assert exitcodes == f"{-signal.SIGTERM}, {-signal.SIGKILL}]"  # the obedient one on SIGTERM, the other killed
    assert float(seconds) < 10
    assert not any(_alive(int(pid)) for pid in pids.strip("[").split(", "))
